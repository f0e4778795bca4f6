/*
 * corun's side of the suite: the switch, park at scale, spawn.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <corun.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "../src/arch/switch.h" /* the raw switch, to show the floor */

/* ---- the raw switch: main <-> one context, each from its own call site */
static void *raw_main, *raw_co;

static void raw_body(void *arg)
{
	(void)arg;
	for (;;)
		corun__ctx_switch(&raw_co, raw_main, 0);
}

static double raw_trial(long n)
{
	size_t size = 64 << 10;
	char *stk = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (stk == MAP_FAILED)
		abort();
	raw_co = corun__ctx_make(stk + size, raw_body, NULL, size);
	corun__ctx_switch(&raw_main, raw_co, 0); /* first entry, untimed */
	double t0 = now_ns();
	for (long i = 0; i < n; i++)
		corun__ctx_switch(&raw_main, raw_co, 0);
	double t = (now_ns() - t0) / (2.0 * (double)n);
	munmap(stk, size);
	return t;
}

/* ---- park at scale: coroutine 0 stamps the clock every `per` rounds */
static struct {
	long rounds, per;
	double stamp[MAX_TRIALS + 2];
} ring;

static void *ring_body(void *arg)
{
	if ((intptr_t)arg == 0) {
		long k = 0; /* no division in the loop: it would cost more than a park */
		for (long r = 0; r < ring.rounds; r += ring.per) {
			ring.stamp[k++] = now_ns();
			for (long i = 0; i < ring.per; i++)
				corun_park();
		}
		ring.stamp[k] = now_ns();
	} else {
		for (long r = 0; r < ring.rounds; r++)
			corun_park();
	}
	return NULL;
}

/* N coroutines in lockstep: one round is N parks. The first `per` rounds
 * warm up (first entry of every coroutine, page faults) and are dropped. */
static void park_ring(long n, size_t stack, unsigned flags, struct samples *out)
{
	corun_attr a;
	corun_attr_init(&a);
	a.stack_size = stack;
	a.flags = CORUN_DETACHED | flags;
	long per = iters(2000000) / n;
	ring.per = per < 1 ? 1 : per;
	ring.rounds = ring.per * (cfg.trials + 1);
	for (long i = 0; i < n; i++)
		if (corun_go_attr(ring_body, (void *)(intptr_t)i, &a) < 0) {
			perror("corun_go_attr");
			exit(1);
		}
	if (corun_run() < 0) {
		perror("corun_run");
		exit(1);
	}
	for (int t = 1; t <= cfg.trials; t++)
		add_sample(out, (ring.stamp[t + 1] - ring.stamp[t]) / (double)(ring.per * n));
}

void bench_corun_switch(struct samples *raw, struct samples *park2, struct samples *park2_fp)
{
	for (int t = 0; t < cfg.trials; t++)
		add_sample(raw, raw_trial(iters(5000000)));
	park_ring(2, 64 << 10, 0, park2);
	park_ring(2, 64 << 10, CORUN_FPCTL, park2_fp);
}

void bench_corun_park(long n, size_t stack, struct samples *out)
{
	park_ring(n, stack, 0, out);
}

/* ---- spawn + run to completion + reclaim */
static void *trivial(void *arg)
{
	return arg;
}

static struct {
	long n;
	double t;
} sp;

static void *spawn_join_driver(void *arg)
{
	(void)arg;
	double t0 = now_ns();
	for (long i = 0; i < sp.n; i++) {
		void *r;
		corun_t h = corun_go(trivial, (void *)(intptr_t)i);
		if (h < 0 || corun_join(h, &r) < 0 || r != (void *)(intptr_t)i)
			abort();
	}
	sp.t = (now_ns() - t0) / (double)sp.n;
	return NULL;
}

static void *spawn_detached_driver(void *arg)
{
	(void)arg;
	corun_attr a;
	corun_attr_init(&a);
	a.flags = CORUN_DETACHED;
	double t0 = now_ns();
	for (long i = 0; i < sp.n; i += 64) {
		for (int k = 0; k < 64; k++)
			if (corun_go_attr(trivial, NULL, &a) < 0)
				abort();
		corun_park(); /* the 64 run and end before we are back */
	}
	sp.t = (now_ns() - t0) / (double)sp.n;
	return NULL;
}

static double spawn_trial(corun_fn driver)
{
	sp.n = iters(1000000);
	corun_attr a;
	corun_attr_init(&a);
	a.flags = CORUN_DETACHED;
	if (corun_go_attr(driver, NULL, &a) < 0 || corun_run() < 0)
		abort();
	return sp.t;
}

void bench_corun_spawn(struct samples *join1, struct samples *detached)
{
	/* Keep one runtime for all trials: a coroutine that outlives them. */
	for (int t = 0; t < cfg.trials; t++)
		add_sample(join1, spawn_trial(spawn_join_driver));
	for (int t = 0; t < cfg.trials; t++)
		add_sample(detached, spawn_trial(spawn_detached_driver));
}
