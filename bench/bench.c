/*
 * corun's benchmark suite: corun and the baselines that exist on a Debian
 * machine, side by side in one run, on one pinned CPU. Prints a table of
 * medians (with min and max over the trials) and ratios, and writes every
 * row to bench/results/bench.csv (or the file named by --csv).
 *
 *   corun_bench [--quick] [--trials N] [--scale X] [--csv FILE] [--only LIST]
 *
 * LIST is a comma-separated subset of: switch,park,spawn,churn,threads,
 * growth,giveback,wait,memory,capacity.
 * --quick runs every benchmark small, as a smoke test (CI); it judges
 * nothing. Timings belong here, never in the tests.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <sched.h>
#include <sys/mman.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct config cfg = { .trials = 11, .quick = 0, .scale = 1.0 };

double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

long iters(long full)
{
	double n = (double)full * cfg.scale * (cfg.quick ? 0.01 : 1.0);
	return n < 1 ? 1 : (long)n;
}

void add_sample(struct samples *s, double v)
{
	if (s->n < MAX_TRIALS)
		s->v[s->n++] = v;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double median(const struct samples *s)
{
	if (s->n == 0)
		return 0;
	double v[MAX_TRIALS];
	memcpy(v, s->v, (size_t)s->n * sizeof v[0]);
	qsort(v, (size_t)s->n, sizeof v[0], cmp_double);
	return s->n % 2 ? v[s->n / 2] : (v[s->n / 2 - 1] + v[s->n / 2]) / 2;
}

static double smin(const struct samples *s)
{
	double m = s->v[0];
	for (int i = 1; i < s->n; i++)
		if (s->v[i] < m)
			m = s->v[i];
	return m;
}

static double smax(const struct samples *s)
{
	double m = s->v[0];
	for (int i = 1; i < s->n; i++)
		if (s->v[i] > m)
			m = s->v[i];
	return m;
}

static FILE *csv;

/* A name as a CSV field: its commas become semicolons, so that every row
 * has the header's eight fields for awk -F, and spreadsheets alike. */
static const char *csv_name(const char *s)
{
	static char buf[2][128];
	static int k;
	char *b = buf[k ^= 1];
	snprintf(b, sizeof buf[0], "%s", s);
	for (char *p = b; *p; p++)
		if (*p == ',')
			*p = ';';
	return b;
}

void report(const char *bench, const char *impl, const char *param,
	    const struct samples *s, const char *unit)
{
	if (s->n == 0)
		return;
	printf("  %-9s %-34s %-10s %11.2f %11.2f %11.2f  %s\n", bench, impl, param,
	       median(s), smin(s), smax(s), unit);
	if (csv)
		fprintf(csv, "%s,%s,%s,%.3f,%.3f,%.3f,%s,%d\n", bench, csv_name(impl),
			csv_name(param), median(s), smin(s), smax(s), unit, s->n);
	fflush(stdout);
}

void note(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("  ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	fflush(stdout);
}

size_t resident_bytes(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	size_t kb = 0, v;
	if (!f)
		return 0;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "VmRSS: %zu kB", &v) == 1 || sscanf(line, "VmPTE: %zu kB", &v) == 1)
			kb += v;
	fclose(f);
	return kb * 1024;
}

long mapping_count(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	long n = 0;
	int c;
	if (!f)
		return -1;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

int in_child(void (*fn)(void *arg, void *result), void *arg, void *result, size_t size)
{
	int fds[2];
	if (pipe(fds) < 0)
		return -1;
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		close(fds[0]);
		char buf[size];
		memset(buf, 0, size);
		fn(arg, buf);
		ssize_t w = write(fds[1], buf, size);
		_exit(w == (ssize_t)size ? 0 : 1);
	}
	close(fds[1]);
	size_t got = 0;
	while (got < size) {
		ssize_t r = read(fds[0], (char *)result + got, size - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fds[0]);
	int status;
	waitpid(pid, &status, 0);
	return got == size && WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static void cpu_model(char *out, size_t len)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[256];
	snprintf(out, len, "unknown");
	if (!f)
		return;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, "model name", 10) == 0) {
			char *p = strchr(line, ':');
			if (p) {
				p += 2;
				p[strcspn(p, "\n")] = 0;
				snprintf(out, len, "%s", p);
			}
			break;
		}
	fclose(f);
}

static int wanted(const char *only, const char *what)
{
	if (!only)
		return 1;
	size_t n = strlen(what);
	for (const char *p = only; (p = strstr(p, what)); p += n)
		if ((p == only || p[-1] == ',') && (p[n] == 0 || p[n] == ','))
			return 1;
	return 0;
}

static void ratio(const char *what, const struct samples *a, const struct samples *b)
{
	if (a->n && b->n)
		note("ratio  %-44s %6.2fx", what, median(a) / median(b));
}

static void header(const char *title)
{
	printf("\n%s\n  %-9s %-34s %-10s %11s %11s %11s\n", title, "bench", "implementation",
	       "param", "median", "min", "max");
}

int main(int argc, char **argv)
{
	const char *only = NULL, *csv_path = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick"))
			cfg.quick = 1;
		else if (!strcmp(argv[i], "--trials") && i + 1 < argc)
			cfg.trials = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--scale") && i + 1 < argc)
			cfg.scale = atof(argv[++i]);
		else if (!strcmp(argv[i], "--csv") && i + 1 < argc)
			csv_path = argv[++i];
		else if (!strcmp(argv[i], "--only") && i + 1 < argc)
			only = argv[++i];
		else {
			fprintf(stderr, "usage: %s [--quick] [--trials N] [--scale X] "
					"[--csv FILE] [--only switch,park,spawn,churn,threads,"
					"growth,giveback,wait,memory,capacity]\n",
				argv[0]);
			return 2;
		}
	}
	if (cfg.quick && cfg.trials > 3)
		cfg.trials = 3;
	if (cfg.trials < 1 || cfg.trials > MAX_TRIALS) {
		fprintf(stderr, "--trials must be 1..%d\n", MAX_TRIALS);
		return 2;
	}
	if (csv_path) {
		csv = fopen(csv_path, "w");
		if (!csv) {
			perror(csv_path);
			return 1;
		}
		fprintf(csv, "bench,impl,param,median,min,max,unit,trials\n");
	}

	/* One CPU for everything: coroutines are single-core by design, and
	 * the thread baseline then measures a real handoff on that core. */
	cpu_set_t set;
	CPU_ZERO(&set);
	int cpu = sysconf(_SC_NPROCESSORS_ONLN) > 1 ? 1 : 0;
	CPU_SET(cpu, &set);
	int pinned = sched_setaffinity(0, sizeof set, &set) == 0;
	char model[128];
	cpu_model(model, sizeof model);
	/* The date and kernel, so that a saved printout says when and where. */
	char day[16] = "?";
	time_t now = time(NULL);
	struct tm tm;
	if (gmtime_r(&now, &tm))
		strftime(day, sizeof day, "%Y-%m-%d", &tm);
	struct utsname un;
	printf("corun benchmarks, %s: %s, %ld CPUs, Linux %s, %s CPU %d; %d trials%s\n", day,
	       model, sysconf(_SC_NPROCESSORS_ONLN), uname(&un) == 0 ? un.release : "?", pinned ? "pinned to" : "NOT pinned, wanted", cpu,
	       cfg.trials, cfg.quick ? " (quick: smoke test sizes, figures mean nothing)" : "");

	if (wanted(only, "switch")) {
		struct samples raw = { 0 }, park2 = { 0 }, park2fp = { 0 }, uc = { 0 }, pt = { 0 }, bo = { 0 };
		struct samples cal = { 0 };
		header("switch: one switch, one direction (ns)");
		/* How fast this CPU runs plain code right now: on a shared VM the
		 * whole process can run slower (a busy SMT sibling on the host);
		 * this row moves with every other when it does (bench/bimodal.sh). */
		bench_calibrate(&cal);
		report("switch", "calibration: 6 independent adds", "-", &cal, "ns");
		bench_corun_switch(&raw, &park2, &park2fp);
		report("switch", "corun_park, 2 coroutines", "default", &park2, "ns");
		report("switch", "corun_park, 2 coroutines, CORUN_FPCTL", "fpctl", &park2fp, "ns");
		report("switch", "corun raw ctx switch (no scheduler)", "-", &raw, "ns");
		if (boost_available()) {
			bench_boost_switch(&bo);
			report("switch", "boost.context jump_fcontext", "-", &bo, "ns");
		} else {
			note("boost.context: not built (install libboost-context-dev and g++)");
		}
		bench_ucontext_switch(&uc);
		report("switch", "glibc swapcontext", "-", &uc, "ns");
		bench_pthread_switch(&pt);
		report("switch", "pthreads futex handoff, 1 CPU", "-", &pt, "ns");
		ratio("corun_park / boost jump_fcontext", &park2, &bo);
		ratio("corun_park (CORUN_FPCTL) / boost jump_fcontext", &park2fp, &bo);
		ratio("corun_park / swapcontext", &park2, &uc);
		ratio("corun_park / pthreads handoff", &park2, &pt);
	}
	if (wanted(only, "park")) {
		header("park at scale: N coroutines parking round robin, 16 KiB stacks (ns per park)");
		long ns[] = { 2, 100, 10000, 100000, 1000000 };
		for (unsigned i = 0; i < sizeof ns / sizeof ns[0]; i++) {
			if (cfg.quick && ns[i] > 10000)
				break;
			struct samples s = { 0 };
			char param[32];
			snprintf(param, sizeof param, "N=%ld", ns[i]);
			bench_corun_park(ns[i], 16 << 10, &s);
			report("park", "corun_park", param, &s, "ns");
		}
	}
	if (wanted(only, "spawn")) {
		struct samples j1 = { 0 }, det = { 0 }, uc = { 0 }, bo = { 0 };
		header("spawn: spawn + run to completion + reclaim, default stacks (ns)");
		bench_corun_spawn(&j1, &det);
		report("spawn", "corun_go + corun_join, one by one", "-", &j1, "ns");
		report("spawn", "corun_go detached, batches of 64", "-", &det, "ns");
		if (boost_available()) {
			bench_boost_spawn(&bo);
			report("spawn", "boost make_fcontext, pooled stack", "-", &bo, "ns");
		}
		bench_ucontext_spawn(&uc);
		report("spawn", "glibc makecontext, pooled stack", "-", &uc, "ns");
		ratio("corun (join) / boost make_fcontext", &j1, &bo);
		ratio("corun (detached) / boost make_fcontext", &det, &bo);
	}
	if (wanted(only, "churn")) {
		header("churn: batches of B coroutines touching 1 KiB, spawned, run to their end, "
		       "repeated (ns per coroutine, steady state)");
		long bs[] = { 1, 100, 1000, 10000, 100000 };
		size_t stacks[] = { 16 << 10, 2 << 20 };
		for (unsigned k = 0; k < 2; k++)
			for (unsigned i = 0; i < sizeof bs / sizeof bs[0]; i++) {
				long b = bs[i];
				if (cfg.quick && b > 1000)
					break;
				char param[32], impl[64];
				snprintf(param, sizeof param, "B=%ld", b);
				struct samples bo = { 0 }, det = { 0 }, joi = { 0 };
				double fdet, fjoi;
				const char *sz = k ? "2 MiB" : "16 KiB";
				if (boost_available()) {
					bench_boost_churn(b, stacks[k], &bo);
					snprintf(impl, sizeof impl, "boost fcontext free list, %s", sz);
					report("churn", impl, param, &bo, "ns");
				}
				bench_corun_churn(b, stacks[k], 0, &det, &fdet);
				snprintf(impl, sizeof impl, "corun detached+run, %s", sz);
				report("churn", impl, param, &det, "ns");
				bench_corun_churn(b, stacks[k], 1, &joi, &fjoi);
				snprintf(impl, sizeof impl, "corun joined, %s", sz);
				report("churn", impl, param, &joi, "ns");
				note("page faults per coroutine: detached %.4f, joined %.4f", fdet, fjoi);
				if (csv)
					fprintf(csv, "churn-faults,corun detached %s,%s,%.5f,%.5f,%.5f,faults,1\n"
						     "churn-faults,corun joined %s,%s,%.5f,%.5f,%.5f,faults,1\n",
						sz, param, fdet, fdet, fdet, sz, param, fjoi, fjoi, fjoi);
				ratio("corun detached / fcontext free list", &det, &bo);
				ratio("corun joined / fcontext free list", &joi, &bo);
			}
	}
	if (wanted(only, "threads")) {
		long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		printf("\nthreads: T threads at once, one per CPU, each its own runtime (aggregate "
		       "million operations/s, median of %d; speed-up against T = 1)\n", cfg.trials);
		/* Unpinned: each thread pins itself to its own CPU. */
		cpu_set_t all;
		CPU_ZERO(&all);
		for (long c = 0; c < ncpu; c++)
			CPU_SET(c, &all);
		sched_setaffinity(0, sizeof all, &all);
		long bs[] = { 0, 1, 1000, 100000 };
		for (unsigned i = 0; i < sizeof bs / sizeof bs[0]; i++) {
			if (cfg.quick && bs[i] > 1000)
				break;
			double one = 0;
			for (long t = 1; t <= ncpu; t = t < ncpu && 2 * t > ncpu ? ncpu : 2 * t) {
				struct samples s = { 0 };
				for (int k = 0; k < cfg.trials; k++)
					add_sample(&s, bench_threads((int)t, bs[i]) / 1e6);
				char impl[64], param[32];
				if (bs[i])
					snprintf(impl, sizeof impl, "churn detached 16 KiB, B=%ld", bs[i]);
				else
					snprintf(impl, sizeof impl, "park, 2 coroutines per thread");
				snprintf(param, sizeof param, "T=%ld", t);
				report("threads", impl, param, &s, "Mop/s");
				if (t == 1)
					one = median(&s);
				else
					note("speed-up at T=%ld: %.2fx", t, median(&s) / one);
			}
		}
		sched_setaffinity(0, sizeof set, &set);
	}
	if (wanted(only, "growth")) {
		header("growth: first-time spawns in a fresh process (each carves a new stack), "
		       "against the kernel's floor (ns per coroutine)");
		size_t stacks[] = { 16 << 10, 2 << 20 };
		for (unsigned k = 0; k < 2; k++) {
			long n = cfg.quick ? 1000 : 50000;
			struct samples c = { 0 }, f = { 0 };
			char param[32];
			snprintf(param, sizeof param, "%zu KiB", stacks[k] >> 10);
			bench_growth(n, stacks[k], &c, &f);
			report("growth", "corun first-time spawn + run", param, &c, "ns");
			report("growth", "floor: guard + fault per stack", param, &f, "ns");
			ratio("corun / floor", &c, &f);
		}
	}
	if (wanted(only, "giveback")) {
		printf("\ngiveback: 100,000 idle 16 KiB stacks (top page touched) given back with one "
		       "coalesced madvise, then touched again\n");
		printf("  %-16s %16s %18s %22s\n", "advice", "madvise ns/stack", "refault ns/stack",
		       "resident B/stack after");
		int adv[] = { MADV_DONTNEED, MADV_FREE };
		const char *name[] = { "MADV_DONTNEED", "MADV_FREE" };
		for (int k = 0; k < 2; k++) {
			struct samples m = { 0 }, r = { 0 }, l = { 0 };
			for (int t = 0; t < cfg.trials; t++) {
				double a, b, c;
				bench_give_back(cfg.quick ? 1000 : 100000, adv[k], &a, &b, &c);
				add_sample(&m, a);
				add_sample(&r, b);
				add_sample(&l, c);
			}
			printf("  %-16s %16.1f %18.1f %22.0f\n", name[k], median(&m), median(&r), median(&l));
			if (csv) {
				fprintf(csv, "giveback,%s,madvise,%.3f,%.3f,%.3f,ns,%d\n", name[k], median(&m), smin(&m), smax(&m), m.n);
				fprintf(csv, "giveback,%s,refault,%.3f,%.3f,%.3f,ns,%d\n", name[k], median(&r), smin(&r), smax(&r), r.n);
				fprintf(csv, "giveback,%s,resident after,%.1f,%.1f,%.1f,bytes,%d\n", name[k], median(&l), smin(&l), smax(&l), l.n);
			}
		}
	}
	if (wanted(only, "wait")) {
		struct samples park = { 0 }, un = { 0 }, bu = { 0 }, und = { 0 };
		header("wait: channels, select, deadlines (ns per operation)");
		bench_corun_park(2, 64 << 10, &park);
		report("wait", "corun_park, 2 coroutines", "-", &park, "ns");
		bench_chan_pingpong(0, 0, &un);
		report("wait", "channel ping-pong, unbuffered", "per message", &un, "ns");
		bench_chan_pingpong(1, 0, &bu);
		report("wait", "channel ping-pong, capacity 1", "per message", &bu, "ns");
		bench_chan_pingpong(0, 1, &und);
		report("wait", "the same, unbuffered, deadline each", "per message", &und, "ns");
		ratio("ping-pong unbuffered / park", &un, &park);
		ratio("ping-pong capacity 1 / park", &bu, &park);
		double gu = 0, gb = 0;
		if (bench_go_pingpong(&gu, &gb)) {
			struct samples g1 = { 0 }, g2 = { 0 };
			add_sample(&g1, gu);
			add_sample(&g2, gb);
			report("wait", "Go channel ping-pong, unbuffered", "GOMAXPROCS=1", &g1, "ns");
			report("wait", "Go channel ping-pong, capacity 1", "GOMAXPROCS=1", &g2, "ns");
			ratio("corun / Go, unbuffered", &un, &g1);
			ratio("corun / Go, capacity 1", &bu, &g2);
		} else {
			note("Go: not run (install golang-go)");
		}
		int ks[] = { 1, 4, 16 };
		for (unsigned i = 0; i < 3; i++) {
			struct samples s = { 0 };
			char param[32];
			snprintf(param, sizeof param, "%d channels", ks[i]);
			bench_select(ks[i], &s);
			report("wait", "select that waits, woken by a send", param, &s, "ns");
		}
		long pend[] = { 0, cfg.quick ? 10000 : 1000000 };
		for (unsigned i = 0; i < 2; i++) {
			struct samples f = { 0 }, w = { 0 }, p = { 0 };
			char param[32];
			snprintf(param, sizeof param, "%ld pending", pend[i]);
			bench_timers(pend[i], &f, &w, &p);
			report("wait", "sleep of 1 ns: armed, fired, resumed", param, &f, "ns");
			report("wait", "ping-pong, deadline armed+withdrawn", param, &w, "ns");
			report("wait", "ping-pong, no deadline", param, &p, "ns");
		}
		long n = cfg.quick ? 1000 : 10000;
		double ms = bench_idle(n, 1);
		note("idle: %ld coroutines asleep for 1 s used %.2f ms of CPU", n, ms);
		if (csv)
			fprintf(csv, "idle,corun %ld coroutines asleep 1 s,cpu,%.3f,%.3f,%.3f,ms,1\n", n,
				ms, ms, ms);
	}
	if (wanted(only, "memory")) {
		printf("\nmemory: resident bytes (VmRSS + VmPTE) per suspended coroutine, 1 KiB of stack touched\n");
		printf("  %-30s %-10s %14s %12s\n", "implementation", "N", "bytes each", "mappings");
		long ns[] = { 100000, 1000000 };
		size_t stacks[] = { 16 << 10, 2 << 20 };
		for (unsigned k = 0; k < 2; k++)
			for (unsigned i = 0; i < 2; i++) {
				long n = cfg.quick ? ns[i] / 100 : ns[i];
				struct mem_result m = bench_corun_memory(n, stacks[k]);
				char impl[64];
				snprintf(impl, sizeof impl, "corun, %zu KiB stacks", stacks[k] >> 10);
				if (!m.ok) {
					note("%s N=%ld: failed", impl, n);
					continue;
				}
				printf("  %-30s %-10ld %14.0f %12ld\n", impl, n, m.bytes_per, m.mappings);
				if (csv)
					fprintf(csv, "memory,%s,N=%ld,%.1f,%.1f,%.1f,bytes,1\n"
						     "mappings,%s,N=%ld,%ld,%ld,%ld,mappings added,1\n",
						csv_name(impl), n, m.bytes_per, m.bytes_per, m.bytes_per,
						csv_name(impl), n,
						m.mappings, m.mappings, m.mappings);
			}
		if (boost_available())
			for (unsigned i = 0; i < 2; i++) {
				long n = cfg.quick ? ns[i] / 100 : ns[i];
				double b = bench_boost_memory(n, 16 << 10);
				printf("  %-30s %-10ld %14.0f %12s\n", "boost fcontext, 16 KiB malloc", n, b, "-");
				if (csv)
					fprintf(csv, "memory,boost fcontext 16 KiB malloc (no guard),N=%ld,%.1f,%.1f,%.1f,bytes,1\n",
						n, b, b, b);
			}
	}
	if (wanted(only, "capacity")) {
		printf("\ncapacity: concurrent guarded coroutines, each run once (stop at 10 M or 16 GiB)\n");
		size_t stacks[] = { 16 << 10, 2 << 20 };
		for (unsigned k = 0; k < 2; k++) {
			long max = cfg.quick ? 20000 : 10000000;
			double gib = cfg.quick ? 0.5 : 16.0;
			struct capacity_result c = bench_corun_capacity(stacks[k], max, gib);
			note("corun, %4zu KiB stacks: %9ld coroutines, %.2f GiB; stopped by: %s",
			     stacks[k] >> 10, c.count, c.gib, c.why);
			if (csv)
				fprintf(csv, "capacity,corun %zu KiB stacks,max,%ld,%ld,%ld,coroutines,1\n",
					stacks[k] >> 10, c.count, c.count, c.count);
		}
	}
	if (csv)
		fclose(csv);
	return 0;
}
