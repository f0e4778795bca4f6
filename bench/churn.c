/*
 * Churn: the shapes real programs have, not the warm loop. Each shape
 * spawns a batch of B coroutines that touch 1 KiB of stack, runs them all
 * to their end, and repeats; the time per coroutine is measured after one
 * warm-up batch (the steady state). Page faults per coroutine come from
 * getrusage; system calls per coroutine from bench/syscalls.sh (strace).
 *
 * Also here: the same churn on T threads at once (each its own runtime),
 * beside parking on T threads, to show the speed-up each gets; the cost of
 * a first-time spawn against the floor the kernel sets (a guard and a page
 * fault per new stack); and what giving stacks back costs with
 * MADV_DONTNEED against MADV_FREE.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <corun.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

static void *touch_1k(void *arg)
{
	volatile char buf[1024];
	for (unsigned i = 0; i < sizeof buf; i += 64)
		buf[i] = 1;
	return arg;
}

static long minor_faults(void)
{
	struct rusage ru;
	getrusage(RUSAGE_THREAD, &ru);
	return ru.ru_minflt;
}

/* Batches of b, detached or joined, on stacks of `stack` bytes: `total`
 * coroutines in all (whole batches). Returns ns per coroutine; adds the
 * page faults per coroutine to *faults when it is not NULL. */
static double corun_batches(long b, long total, size_t stack, int joined, double *faults)
{
	static corun_t *h;
	static long hcap;
	corun_attr a;
	corun_attr_init(&a);
	a.stack_size = stack;
	a.flags = joined ? 0 : CORUN_DETACHED;
	if (joined && hcap < b) {
		free(h);
		h = malloc((size_t)b * sizeof *h);
		hcap = b;
		if (!h)
			abort();
	}
	long batches = total / b < 1 ? 1 : total / b;
	long f0 = minor_faults();
	double t0 = now_ns();
	for (long k = 0; k < batches; k++) {
		if (joined) {
			for (long i = 0; i < b; i++)
				if ((h[i] = corun_go_attr(touch_1k, NULL, &a)) < 0)
					abort();
			for (long i = 0; i < b; i++)
				if (corun_join(h[i], NULL) < 0)
					abort();
		} else {
			for (long i = 0; i < b; i++)
				if (corun_go_attr(touch_1k, NULL, &a) < 0)
					abort();
			if (corun_run() < 0)
				abort();
		}
	}
	double t = (now_ns() - t0) / (double)(batches * b);
	if (faults)
		*faults = (double)(minor_faults() - f0) / (double)(batches * b);
	return t;
}

long churn_total(long b)
{
	long total = iters(400000);
	return total < b ? b : total;
}

void bench_corun_churn(long b, size_t stack, int joined, struct samples *out, double *faults)
{
	long total = churn_total(b);
	corun_batches(b, b, stack, joined, NULL); /* warm-up batch */
	*faults = 0;
	for (int t = 0; t < cfg.trials; t++) {
		double f;
		add_sample(out, corun_batches(b, total, stack, joined, &f));
		*faults += f / cfg.trials;
	}
	corun_trim(); /* the next shape starts from nothing warm */
}

/* ---- T threads at once, each with its own runtime ---- */
struct thread_job {
	int cpu;
	long b;            /* churn batch, or 0 for the park ring */
	pthread_barrier_t *go;
	double ops_per_s;
};

static long park_rounds;
static void *park_body(void *arg)
{
	(void)arg;
	for (long i = 0; i < park_rounds; i++)
		corun_park();
	return NULL;
}

static void *thread_job(void *p)
{
	struct thread_job *j = p;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(j->cpu, &set);
	sched_setaffinity(0, sizeof set, &set);
	if (j->b) {
		long total = churn_total(j->b);
		corun_batches(j->b, j->b, 16 << 10, 0, NULL); /* warm-up */
		pthread_barrier_wait(j->go);
		double ns = corun_batches(j->b, total, 16 << 10, 0, NULL);
		j->ops_per_s = 1e9 / ns;
	} else {
		corun_attr a;
		corun_attr_init(&a);
		a.stack_size = 16 << 10;
		a.flags = CORUN_DETACHED;
		for (int i = 0; i < 2; i++)
			corun_go_attr(park_body, NULL, &a);
		pthread_barrier_wait(j->go);
		double t0 = now_ns();
		corun_run();
		j->ops_per_s = 1e9 / ((now_ns() - t0) / (2.0 * (double)park_rounds));
	}
	corun_shutdown();
	return NULL;
}

/* Aggregate operations per second of T threads, each pinned to its own
 * CPU: churn with batches of b (b > 0) or parking between 2 coroutines. */
double bench_threads(int nthreads, long b)
{
	pthread_t t[nthreads];
	struct thread_job j[nthreads];
	pthread_barrier_t go;
	pthread_barrier_init(&go, NULL, (unsigned)nthreads);
	park_rounds = iters(4000000);
	for (int i = 0; i < nthreads; i++) {
		j[i] = (struct thread_job){ .cpu = i, .b = b, .go = &go };
		if (pthread_create(&t[i], NULL, thread_job, &j[i]) != 0)
			abort();
	}
	double sum = 0;
	for (int i = 0; i < nthreads; i++) {
		pthread_join(t[i], NULL);
		sum += j[i].ops_per_s;
	}
	pthread_barrier_destroy(&go);
	return sum;
}

/* ---- growth: first-time spawns, against the kernel's floor ---- */
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

struct growth_args {
	long n;
	size_t stack;
};

/* In a fresh process: n first-time spawns (each carves a new stack), run. */
static void growth_child(void *arg, void *result)
{
	const struct growth_args *g = arg;
	double *r = result;
	corun_attr a;
	corun_attr_init(&a);
	a.stack_size = g->stack;
	a.flags = CORUN_DETACHED;
	corun_go_attr(touch_1k, NULL, &a); /* the runtime itself is not growth */
	corun_run();
	double t0 = now_ns();
	for (long i = 0; i < g->n; i++)
		if (corun_go_attr(touch_1k, NULL, &a) < 0)
			abort();
	corun_run();
	r[0] = (now_ns() - t0) / (double)g->n;
}

/* The floor, in a fresh process: the same number of stacks laid out the
 * same way in one mapping, each given its guard page with one madvise
 * (mprotect where that is what corun uses) and its top page touched. */
static void floor_child(void *arg, void *result)
{
	const struct growth_args *g = arg;
	double *r = result;
	size_t page = (size_t)sysconf(_SC_PAGESIZE), slot = g->stack + page;
	int guard_madvise = getenv("CORUN_GUARD") == NULL;
	double t0 = now_ns();
	char *p = mmap(NULL, (size_t)g->n * slot, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		abort();
	madvise(p, (size_t)g->n * slot, MADV_NOHUGEPAGE);
	for (long i = 0; i < g->n; i++) {
		char *s = p + (size_t)i * slot;
		if (guard_madvise ? madvise(s, page, MADV_GUARD_INSTALL) : mprotect(s, page, PROT_NONE))
			abort();
		volatile char *top = s + slot - 1024;
		for (int k = 0; k < 1024; k += 64)
			top[k] = 1;
	}
	r[0] = (now_ns() - t0) / (double)g->n;
}

void bench_growth(long n, size_t stack, struct samples *corun, struct samples *floor)
{
	struct growth_args g = { n, stack };
	for (int t = 0; t < cfg.trials; t++) {
		double r;
		if (in_child(growth_child, &g, &r, sizeof r) == 0)
			add_sample(corun, r);
		if (in_child(floor_child, &g, &r, sizeof r) == 0)
			add_sample(floor, r);
	}
}

/* ---- giving stacks back: MADV_DONTNEED against MADV_FREE ---- */
/* n stacks of 16 KiB laid out as corun's slabs (guard, stack), each with its
 * top page touched: the cost per stack of one coalesced madvise over all of
 * them, of touching them again afterwards, and the bytes per stack still
 * counted resident after the madvise. */
void bench_give_back(long n, int advice, double *madv_ns, double *refault_ns, double *left_b)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), stack = 16 << 10, slot = stack + page;
	char *p = mmap(NULL, (size_t)n * slot, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		abort();
	madvise(p, (size_t)n * slot, MADV_NOHUGEPAGE);
	size_t base = resident_bytes();
	for (long i = 0; i < n; i++) {
		madvise(p + (size_t)i * slot, page, MADV_GUARD_INSTALL);
		p[(size_t)i * slot + slot - 64] = 1;
	}
	double t0 = now_ns();
	madvise(p + page, (size_t)n * slot - page, advice);
	*madv_ns = (now_ns() - t0) / (double)n;
	*left_b = ((double)resident_bytes() - (double)base) / (double)n;
	t0 = now_ns();
	for (long i = 0; i < n; i++)
		p[(size_t)i * slot + slot - 64] = 2;
	*refault_ns = (now_ns() - t0) / (double)n;
	munmap(p, (size_t)n * slot);
}
