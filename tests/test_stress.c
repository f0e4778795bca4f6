/*
 * Stress, labelled "stress" (ctest -L stress runs it alone; the sanitizer
 * and valgrind passes leave it out):
 *  - one million coroutines alive at once, each touching some of its stack
 *    and parking several times, all joined with their results;
 *  - a soak of ten million spawn/end cycles, during which resident memory
 *    must stay flat;
 *  - after a burst of a million coroutines has ended, resident memory comes
 *    back to within 16 MiB of what it was before: once the decay interval
 *    has passed and the runtime is used again, and at once after
 *    corun_trim.
 * All of it needs a million stacks in one process, which guards that take
 * mappings of their own (the mprotect fallback, qemu-user) cannot give:
 * there it is skipped, and the scale test covers as many as fit.
 */
#include "helpers.h"

#include <corun.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "priv.h" /* white box: the default decay interval */

enum { MILLION = 1000000, PARKS = 3 };

static size_t pte_bytes(void)
{
	return status_bytes("VmPTE");
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
	for (int i = 0; i < MILLION; i++)
		h[i] = spawn_with(body, (void *)(uintptr_t)i, CORUN_STACK_MIN, 0);
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

static void *soak_driver(void *arg)
{
	long cycles = (long)(intptr_t)arg;
	for (long i = 0; i < cycles; i++) {
		corun_t h = corun_go(ret_arg, (void *)(intptr_t)i);
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
	corun_t keep = corun_go(ret_arg, NULL); /* hold the runtime */
	size_t before = rss_bytes();
	d = corun_go(soak_driver, (void *)(intptr_t)10000000);
	CHECK_EQ(corun_join(d, NULL), 0);
	size_t after = rss_bytes();
	fprintf(stderr, "   resident before %zu KiB, after 10 M cycles %zu KiB\n", before >> 10,
		after >> 10);
	CHECK(after <= before + (256u << 10)); /* flat: a few pages of slack */
	CHECK_EQ(corun_join(keep, NULL), 0);
}

static corun_t bh[MILLION];

static void million_burst(void)
{
	for (int i = 0; i < MILLION; i++)
		bh[i] = spawn_with(body, (void *)(uintptr_t)i, CORUN_STACK_MIN, 0);
	CHECK_EQ(corun_run(), 0);
	for (int i = 0; i < MILLION; i++)
		CHECK_EQ(corun_join(bh[i], NULL), 0);
}

/* One small coroutine on a stack of the burst's size: the runtime in use. */
static void one_small(void)
{
	corun_t h = spawn_with(ret_arg, NULL, CORUN_STACK_MIN, 0);
	CHECK_EQ(corun_join(h, NULL), 0);
}

#define SLACK ((size_t)16 << 20)
/* A slab still in use keeps the page tables of its stacks (the kernel does
 * not free them on MADV_DONTNEED): a few MiB for the one the small
 * coroutine below keeps using; the slabs unmapped whole take theirs. */
#define PTE_SLACK ((size_t)4 << 20)

static void memory_comes_back(void)
{
	const double interval = 0.5;
	fresh_runtime(); /* no pooled stacks from before: the burst maps its own */
	memset(bh, 0, sizeof bh); /* the handle array itself is resident now */
	one_small();
	size_t before = rss_bytes(), pte_before = pte_bytes();
	CHECK_EQ(corun_set_stack_decay((int64_t)(interval * 1e9)), 0);

	million_burst();
	size_t peak = rss_bytes();
	double t0 = now_s();
	long rounds = 0;
	while (rss_bytes() > before + SLACK || pte_bytes() > pte_before + PTE_SLACK) {
		CHECK(now_s() - t0 < 60 * interval);
		one_small();
		rounds++;
		usleep(1000);
	}
	fprintf(stderr,
		"   decay: %zu MiB before, %zu MiB after the burst, %zu MiB %.2f s later "
		"(%ld spawns)\n",
		before >> 20, peak >> 20, rss_bytes() >> 20, now_s() - t0, rounds);
	CHECK(peak > before + ((size_t)1 << 30)); /* the burst really was resident */
	CHECK(now_s() - t0 >= interval);          /* not before the interval */
	/* Its slabs were unmapped whole: their page tables went too. */
	fprintf(stderr, "   page tables: %zu KiB before, %zu KiB after\n", pte_before >> 10,
		pte_bytes() >> 10);
	CHECK(pte_bytes() <= pte_before + PTE_SLACK);

	CHECK_EQ(corun_set_stack_decay(-1), 0);
	million_burst();
	CHECK(rss_bytes() > before + ((size_t)1 << 30));
	CHECK_EQ(corun_trim(), 0);
	size_t trimmed = rss_bytes();
	fprintf(stderr, "   trim: %zu MiB right after corun_trim\n", trimmed >> 20);
	CHECK(trimmed <= before + SLACK);
	CHECK(pte_bytes() <= pte_before + PTE_SLACK);
	CHECK_EQ(corun_set_stack_decay(corun_priv_decay_default()), 0);
}

int main(int argc, char **argv)
{
	static const struct test tests[] = {
		TEST(memory_comes_back), TEST(million_alive), TEST(soak),
	};
	if (guards_take_mappings(CORUN_STACK_MIN)) {
		fprintf(stderr, "skipped: guards take mappings here (mprotect fallback): "
				"a million stacks exceed vm.max_map_count\n");
		return 77;
	}
	return RUN_TESTS(argc, argv, tests);
}
