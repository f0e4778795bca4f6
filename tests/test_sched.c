/*
 * Scheduling: FIFO round robin, spawns going to the back, park from the main
 * context (one step), corun_run again after more spawns, and the runtime's
 * lifetime (created on first spawn, kept when idle, released by
 * corun_shutdown; test_threads.c checks the release at thread exit).
 */
#include "helpers.h"

#include <corun.h>
#include <stdint.h>
#include <stdlib.h>

#include "priv.h" /* white box: is the runtime there, its slabs and tables */

static int trace[4096];
static int ntrace;

static void note(int v)
{
	CHECK(ntrace < (int)(sizeof trace / sizeof trace[0]));
	trace[ntrace++] = v;
}

/* ---- N coroutines each park K times: strictly id-ordered rounds */
struct counter { int id, parks; };

static void *counter_body(void *arg)
{
	const struct counter *c = arg;
	for (int i = 0; i < c->parks; i++) {
		note(c->id * 100 + i);
		CHECK_EQ(corun_park(), 0);
	}
	note(c->id * 100 + 99);
	return NULL;
}

static void round_robin_order(void)
{
	/* Unequal lengths: the short ones drop out, the rest keep their order. */
	static const struct counter cs[] = { { 1, 3 }, { 2, 1 }, { 3, 4 }, { 4, 0 } };
	ntrace = 0;
	for (int i = 0; i < 4; i++)
		CHECK(corun_go(counter_body, (void *)&cs[i]) > 0);
	CHECK_EQ(corun_count(), 4);
	CHECK_EQ(corun_run(), 0);
	CHECK_EQ(corun_count(), 0);
	static const int want[] = {
		100, 200, 300, 499,     /* round 1: 4 parks 0 times and ends */
		101, 299, 301,          /* 2 ends after its one park */
		102, 302,
		199, 303,
		399,
	};
	CHECK_EQ(ntrace, (int)(sizeof want / sizeof want[0]));
	for (int i = 0; i < ntrace; i++)
		CHECK_EQ(trace[i], want[i]);
}

/* ---- a spawn from a coroutine goes to the back; it does not run yet */
static void *child(void *arg)
{
	note((int)(intptr_t)arg);
	return NULL;
}

static void *spawner(void *arg)
{
	(void)arg;
	note(1);
	CHECK(corun_go(child, (void *)(intptr_t)3) > 0);
	note(2); /* the child has not run: spawning never switches */
	CHECK_EQ(corun_park(), 0);
	note(5);
	return NULL;
}

static void *bystander(void *arg)
{
	(void)arg;
	note(20);
	CHECK_EQ(corun_park(), 0);
	note(21);
	return NULL;
}

static void spawn_goes_to_back(void)
{
	ntrace = 0;
	CHECK(corun_go(spawner, NULL) > 0);
	CHECK(corun_go(bystander, NULL) > 0);
	CHECK_EQ(corun_run(), 0);
	static const int want[] = { 1, 2, 20, 3, 5, 21 };
	CHECK_EQ(ntrace, 6);
	for (int i = 0; i < 6; i++)
		CHECK_EQ(trace[i], want[i]);
}

/* ---- a lone coroutine's park returns at once */
static void lone_park(void)
{
	corun_t h = corun_go(park_n, (void *)(intptr_t)1000);
	CHECK(h > 0);
	CHECK_EQ(corun_run(), 0);
	void *r;
	CHECK_EQ(corun_join(h, &r), 0);
	CHECK_EQ((intptr_t)r, 1000);
}

/* ---- park from main steps the scheduler: each ready coroutine runs once */
static void *stepper(void *arg)
{
	int id = (int)(intptr_t)arg;
	for (int i = 0; i < 3; i++) {
		note(id * 10 + i);
		if (id == 1 && i == 0)
			CHECK(corun_go(child, (void *)(intptr_t)99) > 0);
		CHECK_EQ(corun_park(), 0);
	}
	return NULL;
}

static void park_from_main(void)
{
	fresh_runtime();
	CHECK_EQ(corun_park(), 0); /* no runtime: nothing to do */
	CHECK_EQ(corun_run(), 0);
	ntrace = 0;
	CHECK(corun_go(stepper, (void *)(intptr_t)1) > 0);
	CHECK(corun_go(stepper, (void *)(intptr_t)2) > 0);
	CHECK_EQ(corun_park(), 0);
	CHECK_EQ(ntrace, 2); /* 1 and 2 ran once; the child spawned meanwhile waits */
	CHECK_EQ(trace[0], 10);
	CHECK_EQ(trace[1], 20);
	CHECK_EQ(corun_park(), 0);
	CHECK_EQ(ntrace, 5); /* the child was queued before 1 parked: it goes first */
	CHECK_EQ(trace[2], 99);
	CHECK_EQ(trace[3], 11);
	CHECK_EQ(trace[4], 21);
	CHECK_EQ(corun_count(), 2);
	CHECK_EQ(corun_run(), 0);
	CHECK_EQ(ntrace, 7);
	CHECK_EQ(corun_count(), 0);
}

/* ---- corun_run may be called again after more spawns */
static void run_again(void)
{
	for (int round = 0; round < 3; round++) {
		ntrace = 0;
		CHECK(corun_go(child, (void *)(intptr_t)(round + 1)) > 0);
		CHECK(corun_go(child, (void *)(intptr_t)(round + 2)) > 0);
		CHECK_EQ(corun_run(), 0);
		CHECK_EQ(ntrace, 2);
		CHECK_EQ(trace[0], round + 1);
		CHECK_EQ(trace[1], round + 2);
	}
	CHECK_EQ(corun_run(), 0); /* nothing left: returns at once */
}

/* ---- self, ids and names */
static corun_t seen_self;
static void *who(void *arg)
{
	(void)arg;
	seen_self = corun_self();
	CHECK_STR_EQ(corun_name(seen_self), "worker-7");
	return NULL;
}

static void *own_name_len(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)strlen(corun_name(corun_self()));
}

static void self_id_name(void)
{
	corun_attr a;
	CHECK_EQ(corun_attr_init(&a), 0);
	a.name = "worker-7";
	corun_t h = corun_go_attr(who, NULL, &a);
	CHECK(h > 0);
	corun_t h2 = corun_go(child, NULL);
	CHECK(h2 > 0);
	CHECK(corun_id(h) >= 1);
	CHECK(corun_id(h2) > corun_id(h)); /* increasing in spawn order */
	CHECK_STR_EQ(corun_name(h2), "");
	CHECK_STR_EQ(corun_name(h), "worker-7");
	CHECK_EQ(corun_run(), 0);
	CHECK_EQ(seen_self, h);
	CHECK(corun_id(h) >= 1); /* ended, not joined: still known */
	CHECK_NULL_ERRNO(corun_name(h), ESRCH); /* its name went with it */
	CHECK_EQ(corun_join(h, NULL), 0);
	CHECK_EQ(corun_join(h2, NULL), 0);

	/* Long names are cut, not refused. */
	static char longname[100];
	memset(longname, 'x', sizeof longname - 1);
	a.name = longname;
	h = corun_go_attr(own_name_len, NULL, &a);
	CHECK(h > 0);
	CHECK_EQ(strlen(corun_name(h)), CORUN_NAME_MAX - 1);
	CHECK_EQ(corun_run(), 0);
	void *r;
	CHECK_EQ(corun_join(h, &r), 0);
	CHECK_EQ((intptr_t)r, CORUN_NAME_MAX - 1);
}

/* ---- the runtime lives until corun_shutdown, idle or not */
static void *slab_of_self(void *arg)
{
	(void)arg;
	return corun_priv_slab(0, NULL, NULL);
}

static int handle_order(const void *a, const void *b)
{
	corun_t x = *(const corun_t *)a, y = *(const corun_t *)b;
	return (x > y) - (x < y);
}

static void runtime_lifetime(void)
{
	fresh_runtime();
	long maps0 = count_mappings();
	corun_t h = corun_go(child, NULL);
	CHECK(h > 0);
	const void *rt = corun_priv_runtime();
	CHECK(rt != NULL);
	CHECK_EQ(corun_run(), 0);
	CHECK_PTR_EQ(corun_priv_runtime(), rt); /* idle: kept */
	CHECK_EQ(corun_join(h, NULL), 0);
	CHECK_PTR_EQ(corun_priv_runtime(), rt); /* nothing left at all: still kept */
	long maps1 = count_mappings();
	if (EXACT_MAPPINGS)
		CHECK(maps1 > maps0); /* at least the slab */

	/* Spawning, joining, detaching and running again on the idle runtime
	 * maps nothing and unmaps nothing: the same slab, the same count. */
	void *slab;
	for (int i = 0; i < 1000; i++) {
		h = corun_go(slab_of_self, NULL);
		CHECK_EQ(corun_join(h, &slab), 0);
		CHECK_PTR_EQ(corun_priv_runtime(), rt);
		h = corun_go(child, NULL);
		CHECK_EQ(corun_detach(h), 0);
		CHECK_EQ(corun_run(), 0);
	}
	CHECK(is_mapped(slab));
	if (EXACT_MAPPINGS)
		CHECK_EQ(count_mappings(), maps1);

	/* corun_shutdown releases it: the slab is unmapped, and the process
	 * is back to the mappings it had before the first spawn. */
	h = corun_go(child, NULL);
	CHECK_EQ(corun_run(), 0);
	CHECK_EQ(corun_shutdown(), 0); /* drops h's result */
	CHECK_PTR_EQ(corun_priv_runtime(), NULL);
	CHECK(!is_mapped(slab));
	if (EXACT_MAPPINGS)
		CHECK_EQ(count_mappings(), maps0);
	CHECK_ERRNO(corun_join(h, NULL), ESRCH);
	CHECK_EQ(corun_shutdown(), 0); /* nothing to release: fine */

	/* A new runtime never takes an old handle for one of its own, even
	 * when its slot and generation match. */
	corun_t h2 = corun_go(child, NULL);
	CHECK(h2 > 0 && h2 != h);
	CHECK_ERRNO(corun_join(h, NULL), ESRCH);
	CHECK_EQ(corun_run(), 0);
	CHECK_EQ(corun_join(h2, NULL), 0);

	/* Not even after many runtimes have come and gone on this thread:
	 * each round below creates one and shuts it down, and each new
	 * coroutine lands in slot 0 again. Every handle differs from all
	 * the others. */
	enum { ROUNDS = 70000 };
	static corun_t seen[ROUNDS + 1];
	CHECK_EQ(corun_shutdown(), 0);
	corun_t first = corun_go(ret_arg, NULL);
	CHECK_EQ(corun_join(first, NULL), 0);
	seen[0] = first;
	for (int i = 1; i <= ROUNDS; i++) {
		CHECK_EQ(corun_shutdown(), 0);
		corun_t now = corun_go(ret_arg, NULL);
		CHECK(now > 0);
		CHECK_ERRNO(corun_join(first, NULL), ESRCH);
		CHECK_EQ(corun_join(now, NULL), 0);
		seen[i] = now;
	}
	CHECK_EQ(corun_shutdown(), 0);
	CHECK_PTR_EQ(corun_priv_runtime(), NULL);
	qsort(seen, ROUNDS + 1, sizeof seen[0], handle_order);
	for (int i = 1; i <= ROUNDS; i++)
		CHECK(seen[i] != seen[i - 1]);
}

/* ---- a burst grows the handle table and the ring; they shrink back */
static void tables_shrink(void)
{
	enum { N = 20000 };
	static corun_t h[N];
	fresh_runtime(); /* the slots below are the first ones, in order */
	for (int i = 0; i < N; i++)
		CHECK((h[i] = corun_go(park_once, (void *)(intptr_t)i)) > 0);
	CHECK(corun_priv_handles_cap() >= N);
	CHECK(corun_priv_ring_cap() >= N);
	/* Keep the last one (the highest slot) alive and one result unjoined. */
	CHECK_EQ(corun_run(), 0);
	for (int i = N - 3; i >= 0; i--) /* slot 0 is freed last */
		CHECK_EQ(corun_join(h[i], NULL), 0);
	corun_t late = corun_go(park_once, (void *)(intptr_t)-1); /* in slot 0 */
	CHECK_EQ(corun_trim(), 0);
	/* Slot N-1 holds an unjoined result: the table keeps up to it. */
	CHECK(corun_priv_handles_cap() >= N);
	CHECK_EQ(corun_join(h[N - 1], NULL), 0);
	CHECK_EQ(corun_join(h[N - 2], NULL), 0);
	CHECK_EQ(corun_trim(), 0);
	/* Only `late`, in a low slot, is left: both shrink. */
	CHECK(corun_priv_handles_cap() <= 1024);
	CHECK(corun_priv_ring_cap() <= 64);
	CHECK_EQ(corun_count(), 1);
	/* Handles of slots that are gone, and of joined ones, stay stale;
	 * the one left still works, and so does everything else. */
	CHECK_ERRNO(corun_join(h[N - 1], NULL), ESRCH);
	CHECK_ERRNO(corun_join(h[5000], NULL), ESRCH);
	CHECK_ERRNO(corun_id(h[N - 2]), ESRCH);
	for (int i = 0; i < 3000; i++) /* grows again past the cut */
		CHECK((h[i] = corun_go(park_once, (void *)(intptr_t)i)) > 0);
	CHECK_ERRNO(corun_join(h[N - 1], NULL), ESRCH);
	CHECK_EQ(corun_run(), 0);
	void *r;
	CHECK_EQ(corun_join(late, &r), 0);
	CHECK_EQ((intptr_t)r, -1);
	for (int i = 0; i < 3000; i++) {
		CHECK_EQ(corun_join(h[i], &r), 0);
		CHECK_EQ((intptr_t)r, i);
	}
}

int main(int argc, char **argv)
{
	static const struct test tests[] = {
		TEST(runtime_lifetime), TEST(round_robin_order), TEST(spawn_goes_to_back),
		TEST(lone_park), TEST(park_from_main), TEST(run_again),
		TEST(self_id_name), TEST(tables_shrink),
	};
	return RUN_TESTS(argc, argv, tests);
}
