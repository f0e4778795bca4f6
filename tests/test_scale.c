/*
 * Scale: 100,000 coroutines alive at once, each parking several times, all
 * joined with their results, first with the smallest stacks and then with
 * the default 2 MiB ones (reserved lazily: only touched pages cost memory).
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

static void many(size_t stack_size)
{
	most_alive = 0;
	for (int i = 0; i < N; i++)
		h[i] = spawn_with(body, (void *)(intptr_t)i, stack_size, 0);
	CHECK_EQ(corun_count(), N);
	CHECK_EQ(corun_run(), 0);
	CHECK_EQ(most_alive, N);
	for (int i = 0; i < N; i++) {
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
