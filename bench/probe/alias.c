/*
 * corun_alias: does where two contexts keep their saved frames change what a
 * switch between them costs? Two contexts ping-pong with the raw switch
 * (src/arch/switch.h), their stack tops placed at every pair of cache-line
 * offsets within a page (every other line), in one process; prints the
 * mean, the best and worst pair, and the mean over pairs at the same offset
 * against pairs at different ones. A pair at the same offset modulo 4 KiB
 * makes the loads of one side's pops look like they depend on the other
 * side's pushes ("4K aliasing"): bench/results/bimodal.txt has a run.
 *
 *   corun_alias [SWITCHES]
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "../../src/arch/switch.h"

static void *ctx_main, *ctx_a, *ctx_b;
static long n;

static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static void body_a(void *arg)
{
	(void)arg;
	for (;;) {
		for (long i = 0; i < n; i++)
			corun__ctx_switch(&ctx_a, ctx_b, 0);
		corun__ctx_switch(&ctx_a, ctx_main, 0);
	}
}

static void body_b(void *arg)
{
	(void)arg;
	for (;;)
		corun__ctx_switch(&ctx_b, ctx_a, 0);
}

/* ns per switch with the tops of the two stacks `la` and `lb` lines below
 * page boundaries, 256 KiB apart. */
static double pair(char *m, int la, int lb)
{
	ctx_a = corun__ctx_make(m + (256 << 10) - la * 64, body_a, NULL, (256 << 10) - (size_t)la * 64);
	ctx_b = corun__ctx_make(m + (512 << 10) - lb * 64, body_b, NULL, (256 << 10) - (size_t)lb * 64);
	corun__ctx_switch(&ctx_main, ctx_a, 0); /* first entry, untimed */
	double t0 = now_ns();
	corun__ctx_switch(&ctx_main, ctx_a, 0);
	return (now_ns() - t0) / (2.0 * (double)n);
}

int main(int argc, char **argv)
{
	n = argc > 1 ? atol(argv[1]) : 200000;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(sysconf(_SC_NPROCESSORS_ONLN) > 1 ? 1 : 0, &set);
	sched_setaffinity(0, sizeof set, &set);
	char *m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return 1;
	double same = 0, diff = 0, best = 1e9, worst = 0;
	int nsame = 0, ndiff = 0, b1 = 0, b2 = 0, w1 = 0, w2 = 0;
	for (int la = 0; la < 64; la += 2)
		for (int lb = 0; lb < 64; lb += 2) {
			double t = pair(m, la, lb);
			if (la == lb)
				same += t, nsame++;
			else
				diff += t, ndiff++;
			if (t < best)
				best = t, b1 = la, b2 = lb;
			if (t > worst)
				worst = t, w1 = la, w2 = lb;
		}
	printf("raw switch, ns, %d placements: different offsets %.2f (mean of %d), same offset "
	       "%.2f (mean of %d); best %.2f at lines (%d,%d), worst %.2f at (%d,%d)\n",
	       nsame + ndiff, diff / ndiff, ndiff, same / nsame, nsame, best, b1, b2, worst, w1, w2);
	return 0;
}
