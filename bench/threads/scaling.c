/*
 * Scaling over the workers of a group (corun_group_*): the same work on T
 * workers at once, T = 1, 2, then powers of two up to the CPUs this
 * process may use (at most 16), each worker pinned to its own CPU
 * (CORUN_GROUP_PIN). Aggregate throughput, and the speed-up against T = 1.
 *
 *   churn   one task per worker spawns batches of 1,000 coroutines on
 *           16 KiB stacks that touch 1 KiB of their stack, and joins them
 *           (spawn + end + join, on the worker's own runtime)
 *   park    one task per worker runs 2 coroutines that park in a loop
 *   tasks   main spawns tasks for any worker (corun_group_go) that return
 *           at once, and joins them: the cross-thread path itself, with
 *           main on a CPU beside the workers
 *
 * The tasks of churn and park start together (released by one flag once
 * all have started) and the time runs from the release to the last one's
 * end. Prints "name value unit" lines as harness.c does:
 *   <shape>_T<T> <million operations/s> Mop/s
 *   <shape>_speedup_T<T> <throughput at T / at T = 1> x
 * and churn_over_park_T<T>: churn's speed-up over park's (the issue asks
 * for at least 0.9).
 */
#define _GNU_SOURCE
#include "harness.h"

#include <corun.h>
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { BATCH = 1000, MAX_T = 16 };

static void fail(const char *what)
{
	fprintf(stderr, "%s: %s\n", what, strerror(errno));
	exit(1);
}

static struct {
	atomic_int started, go;
	long n;              /* per worker: coroutines (churn) or parks per coroutine */
	int64_t t0;
	_Atomic int64_t end; /* the last task's end */
} run;

static void start_line(void)
{
	atomic_fetch_add(&run.started, 1);
	while (!atomic_load_explicit(&run.go, memory_order_acquire))
		;
}

static void end_line(void)
{
	int64_t t = now_ns(), e = atomic_load(&run.end);
	while (t > e && !atomic_compare_exchange_weak(&run.end, &e, t))
		;
}

static void *touch_1k(void *arg)
{
	volatile char buf[1024];
	for (unsigned i = 0; i < sizeof buf; i += 64)
		buf[i] = 1;
	return arg;
}

static void *churn_task(void *arg)
{
	(void)arg;
	static __thread corun_t h[BATCH];
	corun_attr a;
	corun_attr_init(&a);
	a.stack_size = 16 << 10;
	start_line();
	for (long done = 0; done < run.n; done += BATCH) {
		for (int i = 0; i < BATCH; i++)
			if ((h[i] = corun_go_attr(touch_1k, NULL, &a)) < 0)
				fail("corun_go_attr");
		for (int i = 0; i < BATCH; i++)
			if (corun_join(h[i], NULL) < 0)
				fail("corun_join");
	}
	end_line();
	return NULL;
}

static void *parker(void *arg)
{
	long n = (long)arg;
	for (long i = 0; i < n; i++)
		corun_park();
	return NULL;
}

static void *park_task(void *arg)
{
	(void)arg;
	corun_t a = corun_go(parker, (void *)run.n), b = corun_go(parker, (void *)run.n);
	if (a < 0 || b < 0)
		fail("corun_go");
	start_line();
	corun_park(); /* both start parking: the time counts from here */
	if (corun_join(a, NULL) < 0 || corun_join(b, NULL) < 0)
		fail("corun_join");
	end_line();
	return NULL;
}

/* One repetition of churn or park on T workers: operations per second. */
static double together(int t, corun_fn fn, long ops_per_worker)
{
	corun_group *g = corun_group_start((size_t)t, CORUN_GROUP_PIN);
	if (!g)
		fail("corun_group_start");
	atomic_store(&run.started, 0);
	atomic_store(&run.go, 0);
	atomic_store(&run.end, 0);
	corun_task *task[MAX_T];
	for (int i = 0; i < t; i++)
		if (!(task[i] = corun_group_go(g, i, fn, NULL)))
			fail("corun_group_go");
	while (atomic_load(&run.started) < t)
		sched_yield();
	run.t0 = now_ns();
	atomic_store_explicit(&run.go, 1, memory_order_release);
	for (int i = 0; i < t; i++)
		if (corun_task_join(task[i], NULL, -1) < 0)
			fail("corun_task_join");
	double s = (double)(atomic_load(&run.end) - run.t0) / 1e9;
	if (corun_group_stop(g, CORUN_GROUP_DRAIN) < 0)
		fail("corun_group_stop");
	return (double)t * (double)ops_per_worker / s;
}

static void *nothing(void *arg)
{
	return arg;
}

/* Tasks spawned by main for any worker and joined, in windows of 1,000. */
static double tasks_rep(int t, long n)
{
	corun_group *g = corun_group_start((size_t)t, CORUN_GROUP_PIN);
	if (!g)
		fail("corun_group_start");
	static corun_task *w[BATCH];
	int64_t t0 = now_ns();
	for (long done = 0; done < n; done += BATCH) {
		for (int i = 0; i < BATCH; i++)
			if (!(w[i] = corun_group_go(g, -1, nothing, NULL)))
				fail("corun_group_go");
		for (int i = 0; i < BATCH; i++)
			if (corun_task_join(w[i], NULL, -1) < 0)
				fail("corun_task_join");
	}
	double s = (double)(now_ns() - t0) / 1e9;
	if (corun_group_stop(g, CORUN_GROUP_DRAIN) < 0)
		fail("corun_group_stop");
	return (double)n / s;
}

/* The worker counts: 1, 2, then doubling up to the CPUs (at most MAX_T). */
static int counts(int *t)
{
	cpu_set_t set;
	int cpus = 2;
	if (sched_getaffinity(0, sizeof set, &set) == 0)
		cpus = CPU_COUNT(&set);
	int k = 0;
	for (int x = 1; x <= MAX_T && (x <= cpus || x <= 2); x *= 2)
		t[k++] = x;
	return k;
}

static double one_at[3]; /* throughput at T = 1, by shape */
static double speedup[3][8];

static void measure(int shape, const char *name)
{
	int t[8], k = counts(t), reps = reps_of();
	for (int j = 0; j < k; j++) {
		double v[MAX_REPS];
		for (int r = 0; r < reps; r++) {
			if (shape == 0) {
				run.n = size_of(1000000, 50000);
				v[r] = together(t[j], churn_task, run.n);
			} else if (shape == 1) {
				run.n = size_of(5000000, 200000);
				v[r] = together(t[j], park_task, 2 * run.n);
			} else {
				v[r] = tasks_rep(t[j], size_of(200000, 20000));
			}
		}
		double m = median_of(v, reps);
		char row[64];
		snprintf(row, sizeof row, "%s_T%d", name, t[j]);
		report(row, m / 1e6, "Mop/s");
		if (t[j] == 1) {
			one_at[shape] = m;
		} else {
			speedup[shape][j] = m / one_at[shape];
			snprintf(row, sizeof row, "%s_speedup_T%d", name, t[j]);
			report(row, speedup[shape][j], "x");
			if (shape == 1 && speedup[0][j] > 0) {
				snprintf(row, sizeof row, "churn_over_park_T%d", t[j]);
				report(row, speedup[0][j] / speedup[1][j], "x");
			}
		}
	}
}

static void churn(void)
{
	measure(0, "churn");
}

static void park(void)
{
	measure(1, "park");
}

static void tasks(void)
{
	measure(2, "tasks");
}

static const struct shape shapes[] = {
	{ "churn", churn, "spawn + end + join of 16 KiB coroutines on each worker", 0 },
	{ "park", park, "2 coroutines parking on each worker (after churn for its ratio)", 0 },
	{ "tasks", tasks, "main spawns tasks for any worker and joins them", 0 },
	{ NULL, NULL, NULL, 0 },
};

int main(int argc, char **argv)
{
	return harness_main(argc, argv, "corun_threads_scaling", shapes);
}
