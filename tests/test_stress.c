/*
 * Stress, labelled "stress" (ctest -L stress runs it alone; the sanitizer
 * and valgrind passes leave it out):
 *  - one million coroutines alive at once, each touching some of its stack
 *    and parking several times, all joined with their results;
 *  - a soak of ten million spawn/end cycles, during which resident memory
 *    must stay flat.
 */
#include "check.h"

#include <corun.h>
#include <stdint.h>
#include <stdio.h>

enum { MILLION = 1000000, PARKS = 3 };

static size_t rss_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long size, resident;
	CHECK(f != NULL);
	CHECK_EQ(fscanf(f, "%lu %lu", &size, &resident), 2);
	fclose(f);
	return resident * 4096;
}

static void *body(void *arg)
{
	volatile char touch[1536];
	for (size_t i = 0; i < sizeof touch; i += 64)
		touch[i] = (char)(uintptr_t)arg;
	for (int i = 0; i < PARKS; i++)
		CHECK_EQ(corun_park(), 0);
	return (void *)((uintptr_t)arg + (uintptr_t)(unsigned char)touch[0] -
			(uintptr_t)(unsigned char)(uintptr_t)arg);
}

static void million_alive(void)
{
	static corun_t h[MILLION];
	corun_attr a;
	CHECK_EQ(corun_attr_init(&a), 0);
	a.stack_size = CORUN_STACK_MIN;
	for (int i = 0; i < MILLION; i++)
		CHECK((h[i] = corun_go_attr(body, (void *)(uintptr_t)i, &a)) > 0);
	CHECK_EQ(corun_count(), MILLION);
	CHECK_EQ(corun_park(), 0); /* each runs once: touches its stack, parks */
	CHECK_EQ(corun_count(), MILLION);
	fprintf(stderr, "   %d alive, %.2f GiB resident\n", MILLION,
		(double)rss_bytes() / (1u << 30));
	CHECK_EQ(corun_run(), 0);
	for (int i = 0; i < MILLION; i++) {
		void *r;
		CHECK_EQ(corun_join(h[i], &r), 0);
		CHECK_EQ((uintptr_t)r, (uintptr_t)i);
	}
	CHECK_EQ(corun_count(), 0);
}

static void *nothing(void *arg)
{
	return arg;
}

static void *soak_driver(void *arg)
{
	long cycles = (long)(intptr_t)arg;
	for (long i = 0; i < cycles; i++) {
		corun_t h = corun_go(nothing, (void *)(intptr_t)i);
		void *r;
		CHECK(h > 0);
		CHECK_EQ(corun_join(h, &r), 0);
		CHECK_EQ((intptr_t)r, i);
	}
	return NULL;
}

static void soak(void)
{
	/* The driver keeps the runtime alive across both phases. */
	corun_t d = corun_go(soak_driver, (void *)(intptr_t)1000000);
	CHECK_EQ(corun_join(d, NULL), 0);
	corun_t keep = corun_go(nothing, NULL); /* hold the runtime */
	size_t before = rss_bytes();
	d = corun_go(soak_driver, (void *)(intptr_t)10000000);
	CHECK_EQ(corun_join(d, NULL), 0);
	size_t after = rss_bytes();
	fprintf(stderr, "   resident before %zu KiB, after 10 M cycles %zu KiB\n", before >> 10,
		after >> 10);
	CHECK(after <= before + (256u << 10)); /* flat: a few pages of slack */
	CHECK_EQ(corun_join(keep, NULL), 0);
}

int main(void)
{
	RUN(million_alive);
	RUN(soak);
	return 0;
}
