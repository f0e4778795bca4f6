/*
 * The cross-thread benchmarks' harness: see harness.h.
 */
#define _GNU_SOURCE
#include "harness.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct harness H;

int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

long size_of(long full, long quick)
{
	if (H.n > 0)
		return H.n;
	return H.quick ? quick : full;
}

int reps_of(void)
{
	if (H.reps > 0)
		return H.reps;
	return H.quick ? 3 : 5;
}

/* The first two CPUs this process may run on: 0 and 1 on an unrestricted
 * machine, whatever taskset gave otherwise. */
static void choose_cpus(void)
{
	cpu_set_t set;
	int found = 0;
	H.cpu[0] = H.cpu[1] = 0;
	if (sched_getaffinity(0, sizeof set, &set) == 0)
		for (int c = 0; c < CPU_SETSIZE && found < 2; c++)
			if (CPU_ISSET(c, &set))
				H.cpu[found++] = c;
	if (found < 2 || H.same_cpu) {
		H.cpu[1] = H.cpu[0];
		fprintf(stderr, "note: %s: both threads on CPU %d\n",
			found < 2 ? "one CPU only" : "--same-cpu", H.cpu[0]);
	}
}

void pin(int which)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(H.cpu[which], &set);
	int err = pthread_setaffinity_np(pthread_self(), sizeof set, &set);
	if (err)
		fprintf(stderr, "note: pinning to CPU %d: %s\n", H.cpu[which], strerror(err));
}

static pthread_barrier_t start;

void start_together(void)
{
	pthread_barrier_wait(&start);
}

struct side {
	void *(*fn)(void *);
	void *arg;
	int which;
};

static void *side_main(void *p)
{
	struct side *s = p;
	pin(s->which);
	start_together();
	return s->fn(s->arg);
}

void run_pair(void *(*a)(void *), void *(*b)(void *), void *arg)
{
	struct side s[2] = { { a, arg, 0 }, { b, arg, 1 } };
	pthread_t t[2];
	if (pthread_barrier_init(&start, NULL, 2) != 0)
		abort();
	for (int i = 0; i < 2; i++) {
		int err = pthread_create(&t[i], NULL, side_main, &s[i]);
		if (err) {
			fprintf(stderr, "pthread_create: %s\n", strerror(err));
			exit(1);
		}
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&start);
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double median_of(double *v, int n)
{
	if (n <= 0)
		return 0;
	qsort(v, (size_t)n, sizeof *v, cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void report(const char *name, double value, const char *unit)
{
	int digits = value >= 1000 ? 0 : value >= 100 ? 1 : value >= 10 ? 2 : 3;
	printf("%s %.*f %s\n", name, digits, value, unit);
	fflush(stdout);
}

static void usage(const char *prog, const struct shape *shapes)
{
	fprintf(stderr, "usage: %s SUBCOMMAND [--quick] [--n N] [--reps R] [--same-cpu]\n"
			"  all  every subcommand below in turn\n", prog);
	for (const struct shape *s = shapes; s->name; s++)
		fprintf(stderr, "  %-18s %s%s\n", s->name, s->what, s->alone ? " (not in all)" : "");
}

int harness_main(int argc, char **argv, const char *prog, const struct shape *shapes)
{
	if (argc < 2) {
		usage(prog, shapes);
		return 2;
	}
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--quick")) {
			H.quick = 1;
		} else if (!strcmp(argv[i], "--same-cpu")) {
			H.same_cpu = 1;
		} else if (!strcmp(argv[i], "--n") && i + 1 < argc) {
			H.n = strtol(argv[++i], NULL, 10);
		} else if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
			H.reps = (int)strtol(argv[++i], NULL, 10);
			if (H.reps > MAX_REPS) {
				fprintf(stderr, "%s: at most %d repetitions\n", prog, MAX_REPS);
				return 2;
			}
		} else {
			usage(prog, shapes);
			return 2;
		}
	}
	choose_cpus();
	int ran = 0;
	for (const struct shape *s = shapes; s->name; s++)
		if ((!strcmp(argv[1], "all") && !s->alone) || !strcmp(argv[1], s->name)) {
			s->run();
			ran = 1;
		}
	if (!ran) {
		usage(prog, shapes);
		return 2;
	}
	return 0;
}
