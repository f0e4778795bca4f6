/*
 * Memory and capacity, each measured in a child process of its own so that
 * one measurement's pages and mappings never count in another's.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <corun.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Touch 1 KiB of stack, then stay suspended for good: blocked in a sleep
 * with no deadline, as a coroutine waiting on I/O would be, so later steps
 * do not run it again. */
static void *touch_and_wait(void *arg)
{
	volatile char buf[1024];
	for (unsigned i = 0; i < sizeof buf; i += 64)
		buf[i] = 1;
	corun_sleep_until(-1);
	return arg;
}

struct mem_args {
	long n;
	size_t stack;
};

static void memory_child(void *arg, void *result)
{
	const struct mem_args *a = arg;
	struct mem_result *r = result;
	corun_attr attr;
	corun_attr_init(&attr);
	attr.stack_size = a->stack;
	/* A first coroutine creates the runtime, so its fixed cost is not
	 * charged to the N below. */
	corun_t first = corun_go_attr(touch_and_wait, NULL, &attr);
	corun_park();
	size_t before = resident_bytes();
	long maps = mapping_count();
	for (long i = 0; i < a->n; i++)
		if (corun_go_attr(touch_and_wait, NULL, &attr) < 0)
			return;
	corun_park(); /* each runs once: touches its stack and parks */
	r->bytes_per = (double)(resident_bytes() - before) / (double)a->n;
	r->mappings = mapping_count() - maps;
	r->ok = first > 0 && corun_count() == (size_t)a->n + 1;
}

struct mem_result bench_corun_memory(long n, size_t stack)
{
	struct mem_args a = { n, stack };
	struct mem_result r = { 0 };
	if (in_child(memory_child, &a, &r, sizeof r) < 0)
		r.ok = 0;
	return r;
}

struct cap_args {
	size_t stack;
	long max;
	double gib;
};

static void capacity_child(void *arg, void *result)
{
	const struct cap_args *a = arg;
	struct capacity_result *r = result;
	corun_attr attr;
	corun_attr_init(&attr);
	attr.stack_size = a->stack;
	size_t limit = (size_t)(a->gib * (double)(1ul << 30));
	size_t base = resident_bytes();
	long n = 0;
	const long batch = a->max < 500000 ? a->max / 10 + 1 : 50000;
	for (;;) {
		long target = n + batch > a->max ? a->max : n + batch;
		long got = n;
		int err = 0;
		while (got < target) {
			if (corun_go_attr(touch_and_wait, NULL, &attr) < 0) {
				err = errno;
				break;
			}
			got++;
		}
		corun_park(); /* the new ones run once and stay suspended */
		size_t used = resident_bytes() - base;
		if (used > limit) {
			/* Over the cap: report the last count that was under it. */
			snprintf(r->why, sizeof r->why, "the %.0f GiB cap", a->gib);
			break;
		}
		n = got;
		r->count = n;
		r->gib = (double)used / (double)(1ul << 30);
		if (err) {
			snprintf(r->why, sizeof r->why, "corun_go: %s", strerror(err));
			break;
		}
		if (n >= a->max) {
			snprintf(r->why, sizeof r->why, "the %ld coroutine cap", a->max);
			break;
		}
	}
}

struct capacity_result bench_corun_capacity(size_t stack, long max_count, double max_gib)
{
	struct cap_args a = { stack, max_count, max_gib };
	struct capacity_result r = { 0 };
	if (in_child(capacity_child, &a, &r, sizeof r) < 0)
		snprintf(r.why, sizeof r.why, "the child process failed");
	return r;
}
