/*
 * Join: results, joining from main and from coroutines, joining what has
 * already ended, detach, chains of joins, and deadlock detection.
 */
#include "helpers.h"

#include <corun.h>
#include <stdint.h>


/* ---- results come back to main, whether joined before or after the end */
static void results_to_main(void)
{
	enum { N = 100 };
	corun_t h[N];
	for (int i = 0; i < N; i++)
		CHECK((h[i] = corun_go(park_n, (void *)(intptr_t)(i % 7))) > 0);
	/* Joining the first drives the scheduler until it ends, no further
	 * than needed: some others are still unfinished afterwards. */
	void *r;
	CHECK_EQ(corun_join(h[0], &r), 0);
	CHECK_EQ((intptr_t)r, 0);
	CHECK(corun_count() > 0);
	CHECK_EQ(corun_run(), 0);
	for (int i = 1; i < N; i++) {
		CHECK_EQ(corun_join(h[i], &r), 0);
		CHECK_EQ((intptr_t)r, i % 7);
	}
	/* Stale now. */
	for (int i = 0; i < N; i++)
		CHECK_ERRNO(corun_join(h[i], &r), ESRCH);
}

/* ---- a coroutine joining parks while others run */
static int progress;

static void *ticker(void *arg)
{
	(void)arg;
	for (int i = 0; i < 10; i++) {
		progress++;
		CHECK_EQ(corun_park(), 0);
	}
	return (void *)(intptr_t)progress;
}

static void *joiner(void *arg)
{
	corun_t t = *(corun_t *)arg;
	void *r = NULL;
	CHECK_EQ(corun_join(t, &r), 0);
	CHECK_EQ((intptr_t)r, 10);
	CHECK_EQ(progress, 10);
	CHECK_ERRNO(corun_join(t, &r), ESRCH);
	return (void *)(intptr_t)77;
}

static void join_from_coroutine(void)
{
	progress = 0;
	static corun_t t;
	t = corun_go(ticker, NULL);
	corun_t j = corun_go(joiner, &t);
	CHECK(t > 0 && j > 0);
	void *r;
	CHECK_EQ(corun_join(j, &r), 0);
	CHECK_EQ((intptr_t)r, 77);
	CHECK_EQ(corun_count(), 0);
}

/* ---- a chain: each coroutine joins the next and adds one */
enum { CHAIN = 1000 };
static corun_t chain[CHAIN];

static void *link_body(void *arg)
{
	int i = (int)(intptr_t)arg;
	if (i == CHAIN - 1)
		return (void *)(intptr_t)1;
	void *r;
	CHECK_EQ(corun_join(chain[i + 1], &r), 0);
	return (void *)((intptr_t)r + 1);
}

static void join_chain(void)
{
	for (int i = 0; i < CHAIN; i++)
		chain[i] = spawn_with(link_body, (void *)(intptr_t)i, CORUN_STACK_MIN, 0);
	void *r;
	CHECK_EQ(corun_join(chain[0], &r), 0);
	CHECK_EQ((intptr_t)r, CHAIN);
	CHECK_EQ(corun_count(), 0);
}

/* ---- detach: no result, handle stale after the end */
static void detach(void)
{
	corun_t h = corun_go(park_n, (void *)(intptr_t)2);
	CHECK_EQ(corun_detach(h), 0);
	CHECK_ERRNO(corun_detach(h), EINVAL);
	CHECK_ERRNO(corun_join(h, NULL), EINVAL);
	CHECK_EQ(corun_id(h) > 0, 1); /* still alive */
	CHECK_EQ(corun_run(), 0);
	CHECK_ERRNO(corun_join(h, NULL), ESRCH);
	CHECK_ERRNO(corun_id(h), ESRCH);

	/* Detaching what has already ended drops its result now. */
	h = corun_go(ret_arg, NULL);
	corun_t keep = corun_go(ret_arg, NULL); /* keeps the runtime alive */
	CHECK_EQ(corun_run(), 0);
	CHECK_EQ(corun_detach(h), 0);
	CHECK_ERRNO(corun_join(h, NULL), ESRCH);
	CHECK_EQ(corun_join(keep, NULL), 0);

	/* Spawned detached. */
	h = spawn_with(ret_arg, NULL, 0, CORUN_DETACHED);
	CHECK_ERRNO(corun_join(h, NULL), EINVAL);
	CHECK_EQ(corun_run(), 0);
	CHECK_ERRNO(corun_id(h), ESRCH);
}

/* ---- several joiners: each gets the result; then the handle is stale */
static int joined;
static void *a_joiner(void *arg)
{
	corun_t t = *(corun_t *)arg;
	void *r;
	CHECK_ERRNO(corun_detach(t), EINVAL); /* it is being joined (or soon) */
	CHECK_EQ(corun_join(t, &r), 0);
	CHECK_EQ((intptr_t)r, 3);
	joined++;
	return NULL;
}

static void many_joiners(void)
{
	static corun_t t;
	t = corun_go(park_n, (void *)(intptr_t)3);
	joined = 0;
	enum { N = 50 };
	corun_t j[N];
	for (int i = 0; i < N; i++)
		CHECK((j[i] = corun_go(a_joiner, &t)) > 0);
	void *r;
	CHECK_EQ(corun_join(t, &r), 0); /* main is one of them */
	CHECK_EQ((intptr_t)r, 3);
	CHECK_EQ(corun_run(), 0);
	CHECK_EQ(joined, N);
	CHECK_ERRNO(corun_join(t, NULL), ESRCH);
	for (int i = 0; i < N; i++)
		CHECK_EQ(corun_join(j[i], NULL), 0);
}

/* ---- joining oneself; cycles of joins; the runtime stays usable */
static void *join_self(void *arg)
{
	(void)arg;
	CHECK_ERRNO(corun_join(corun_self(), NULL), EDEADLK);
	return (void *)(intptr_t)5;
}

static void *deadlocks_on_thread(void *arg)
{
	(void)arg;
	corun_t h = corun_go(join_self, NULL);
	void *r;
	CHECK_EQ(corun_join(h, &r), 0);
	CHECK_EQ((intptr_t)r, 5);

	static corun_t cyc[2];
	join_cycle(cyc);
	corun_t bystander = corun_go(park_n, (void *)(intptr_t)4);
	CHECK_ERRNO(corun_run(), EDEADLK);
	CHECK_EQ(corun_count(), 2); /* the bystander finished */
	CHECK_EQ(corun_join(bystander, &r), 0);
	CHECK_EQ((intptr_t)r, 4);
	CHECK_ERRNO(corun_join(cyc[0], NULL), EDEADLK); /* it waits for good */
	CHECK_ERRNO(corun_shutdown(), EBUSY);

	/* Still usable: new coroutines run, and the cycle is reported again. */
	h = corun_go(park_n, (void *)(intptr_t)2);
	CHECK_ERRNO(corun_run(), EDEADLK);
	CHECK_EQ(corun_join(h, &r), 0);
	CHECK_EQ((intptr_t)r, 2);

	/* With joins alone, a coroutine blocked for good is always in a cycle,
	 * and so already has its joiner. Block one in a sleep with no
	 * deadline, and main's join of it must fail. */
	corun_t stuck = corun_go(block_forever, NULL);
	CHECK_ERRNO(corun_join(stuck, NULL), EDEADLK);
	CHECK_EQ(corun_count(), 3);
	/* Main's join was withdrawn; a coroutine may join it too. */
	static corun_t st;
	st = stuck;
	corun_t w = corun_go(join_forever, &st);
	CHECK_ERRNO(corun_run(), EDEADLK);
	CHECK_EQ(corun_count(), 4);
	CHECK_ERRNO(corun_join(stuck, NULL), EDEADLK); /* w and main both */
	CHECK(corun_id(w) > 0);
	return NULL;
}

/* On a thread of its own: its runtime starts empty, whatever ran before,
 * and the coroutines it leaves blocked for good go with the thread instead
 * of into the tests after it. */
static void deadlocks(void)
{
	on_thread(deadlocks_on_thread, NULL);
}

int main(int argc, char **argv)
{
	static const struct test tests[] = {
		TEST(results_to_main), TEST(join_from_coroutine), TEST(join_chain),
		TEST(detach), TEST(many_joiners), TEST(deadlocks),
	};
	return RUN_TESTS(argc, argv, tests);
}
