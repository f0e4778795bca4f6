/*
 * Scale: 100,000 coroutines alive at once, each parking several times, all
 * joined with their results, first with the smallest stacks and then with
 * the default 2 MiB ones (reserved lazily: only touched pages cost memory).
 * Where guards take mappings of their own (the mprotect fallback: kernels
 * before 6.13, and qemu-user, whose madvise installs no guard), as many as
 * the kernel's map limit allows.
 */
#include "helpers.h"

#include <corun.h>
#include <stdint.h>

enum { N = 100000, PARKS = 3 };

static size_t most_alive;

static void *body(void *arg)
{
	size_t alive = corun_count();
	if (alive > most_alive)
		most_alive = alive;
	volatile char touch[1024]; /* a little stack, as a real body would */
	touch[0] = (char)(intptr_t)arg;
	for (int i = 0; i < PARKS; i++)
		CHECK_EQ(corun_park(), 0);
	return (void *)((intptr_t)arg * 2 + touch[0] - (char)(intptr_t)arg);
}

static corun_t h[N];

static long map_limit(void)
{
	long max = 0;
	FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
	if (!f || fscanf(f, "%ld", &max) != 1)
		CHECK_FAIL("cannot read /proc/sys/vm/max_map_count");
	fclose(f);
	return max;
}

/* N, or as many as fit under the map limit when each stack costs mappings. */
static int how_many(size_t stack_size)
{
	if (!guards_take_mappings(stack_size))
		return N;
	/* Two mappings per stack (the stack and its guard), and a fifth of
	 * the limit left to the rest of the process (and to qemu's own). */
	long fit = (map_limit() * 4 / 5 - count_mappings()) / 2;
	fprintf(stderr, "   guards take mappings: %ld coroutines, not %d\n", fit, N);
	CHECK(fit > 1000);
	return fit < N ? (int)fit : N;
}

static void many(size_t stack_size)
{
	int n = how_many(stack_size); /* leaves a fresh runtime: no stacks pooled */
	most_alive = 0;
	for (int i = 0; i < n; i++)
		h[i] = spawn_with(body, (void *)(intptr_t)i, stack_size, 0);
	CHECK_EQ(corun_count(), (size_t)n);
	CHECK_EQ(corun_run(), 0);
	CHECK_EQ(most_alive, (size_t)n);
	for (int i = 0; i < n; i++) {
		void *r;
		CHECK_EQ(corun_join(h[i], &r), 0);
		CHECK_EQ((intptr_t)r, 2 * (intptr_t)i);
	}
	CHECK_EQ(corun_count(), 0);
}

static void small_stacks(void)
{
	many(CORUN_STACK_MIN);
}

static void default_stacks(void)
{
	many(CORUN_STACK_DEFAULT);
}

int main(int argc, char **argv)
{
	static const struct test tests[] = { TEST(small_stacks), TEST(default_stacks) };
	return RUN_TESTS(argc, argv, tests);
}
