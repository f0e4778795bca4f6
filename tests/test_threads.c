/*
 * Threads: each OS thread has its own runtime. Two threads run their own
 * coroutines at the same time without seeing each other's; a handle is
 * refused on any thread but its own; a thread that exits releases its
 * runtime, idle or with coroutines left behind: its slabs are unmapped and
 * the process has the mappings it had before (and ASan and valgrind see no
 * leak).
 */
#include "helpers.h"

#include <corun.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>

#include "priv.h" /* white box: where the runtime mapped */

enum { PER_THREAD = 1000, PARKS = 100 };

static pthread_barrier_t sync_point;
static __thread int expect_next; /* round-robin position in this thread */
static __thread long parks;

static void *body(void *arg)
{
	int id = (int)(intptr_t)arg;
	for (int i = 0; i < PARKS; i++) {
		CHECK_EQ(expect_next, id); /* strict FIFO within this thread */
		expect_next = (id + 1) % PER_THREAD;
		parks++;
		CHECK_EQ(corun_park(), 0);
	}
	return (void *)(intptr_t)(id + 1);
}

struct thread_run {
	corun_t mine;    /* one of this thread's handles, for the other */
	corun_t *theirs; /* the other thread's */
};

static void *thread_main(void *arg)
{
	struct thread_run *tr = arg;
	corun_t h[PER_THREAD];
	for (int i = 0; i < PER_THREAD; i++)
		h[i] = spawn_with(body, (void *)(intptr_t)i, CORUN_STACK_MIN, 0);
	tr->mine = h[0];
	pthread_barrier_wait(&sync_point); /* both have spawned */

	/* The other thread's handle names nothing here. */
	corun_t foreign = *tr->theirs;
	CHECK_ERRNO(corun_join(foreign, NULL), ESRCH);
	CHECK_ERRNO(corun_detach(foreign), ESRCH);
	CHECK_ERRNO(corun_id(foreign), ESRCH);
	CHECK_NULL_ERRNO(corun_name(foreign), ESRCH);
	pthread_barrier_wait(&sync_point); /* both run at once from here */

	CHECK_EQ(corun_run(), 0);
	CHECK_EQ(parks, (long)PER_THREAD * PARKS);
	for (int i = 0; i < PER_THREAD; i++) {
		void *r;
		CHECK_EQ(corun_join(h[i], &r), 0);
		CHECK_EQ((intptr_t)r, i + 1);
	}
	return NULL;
}

static void two_threads(void)
{
	pthread_t t[2];
	struct thread_run tr[2];
	tr[0].theirs = &tr[1].mine;
	tr[1].theirs = &tr[0].mine;
	CHECK_EQ(pthread_barrier_init(&sync_point, NULL, 2), 0);
	for (int i = 0; i < 2; i++)
		CHECK_EQ(pthread_create(&t[i], NULL, thread_main, &tr[i]), 0);
	for (int i = 0; i < 2; i++)
		CHECK_EQ(pthread_join(t[i], NULL), 0);
	pthread_barrier_destroy(&sync_point);
	/* This thread never spawned: it has nothing. */
	CHECK_EQ(corun_count(), 0);
	CHECK_ERRNO(corun_join(tr[0].mine, NULL), ESRCH);
}

/* ---- threads that exit release their runtime, idle or not */
/* What the thread's runtime had mapped: its slabs and its alternate signal
 * stack, recorded on the thread just before it exits. */
enum { MAX_SEEN = 64 };
static void *seen_base[MAX_SEEN];
static size_t seen_len[MAX_SEEN], nseen;

static void record_runtime(void)
{
	CHECK(corun_priv_runtime() != NULL);
	CHECK(corun_priv_slab(0, NULL, NULL) != NULL);
	nseen = 0;
	void *base;
	size_t len;
	for (size_t k = 0; (base = corun_priv_slab(k, &len, NULL)); k++) {
		CHECK(nseen < MAX_SEEN);
		seen_base[nseen] = base;
		seen_len[nseen++] = len;
	}
	void *alt = corun_priv_altstack();
	if (alt) { /* none when the thread had one of its own */
		stack_t ss;
		CHECK_EQ(sigaltstack(NULL, &ss), 0);
		CHECK_PTR_EQ(ss.ss_sp, alt);
		seen_base[nseen] = alt;
		seen_len[nseen++] = ss.ss_size;
	}
	for (size_t i = 0; i < nseen; i++)
		CHECK(is_mapped(seen_base[i]));
	/* The count sees them (neighbours may share a mapping). */
	CHECK(count_mappings_in(seen_base, seen_len, nseen) > 0);
}

static void *never_runs(void *arg)
{
	(void)arg;
	CHECK_FAIL("a coroutine ran after its thread exited");
	return NULL;
}

static void *leave_behind(void *arg)
{
	(void)arg;
	for (int i = 0; i < 100; i++)
		CHECK(corun_go(never_runs, NULL) > 0);
	CHECK_EQ(corun_count(), 100);
	record_runtime();
	return NULL;
}

static void *leave_deadlocked(void *arg)
{
	(void)arg;
	deadlock_here();
	CHECK_EQ(corun_count(), 2);
	record_runtime();
	return NULL;
}

static void *idle_runtime(void *arg)
{
	(void)arg;
	corun_t h = corun_go(ret_arg, NULL);
	CHECK(h > 0);
	CHECK_EQ(corun_join(h, NULL), 0); /* nothing left: the runtime stays */
	record_runtime();
	return NULL;
}

static void released_at_exit(void *(*fn)(void *))
{
	/* fn runs on a first thread too: what the process keeps for later
	 * threads (glibc's cache of thread stacks, the malloc arena the thread
	 * made, corun's process-wide signal handler) is then there before the
	 * count of all mappings below, which sees only what the runtime did. */
	on_thread(fn, NULL);
	long maps0 = count_mappings();
	nseen = 0;
	on_thread(fn, NULL);
	CHECK(nseen > 0);
	/* None of the runtime's mappings is left, under every checker. */
	CHECK_EQ(count_mappings_in(seen_base, seen_len, nseen), 0);
	/* And the process has the mappings it had before. Sanitizers and
	 * valgrind map and unmap memory of their own around a thread (their
	 * per-thread state, ASan's fake stacks), so there the total is not
	 * the runtime's alone: the count above is what holds there. */
	if (EXACT_MAPPINGS)
		CHECK_EQ(count_mappings(), maps0);
}

static void exit_releases(void)
{
	released_at_exit(idle_runtime);
	released_at_exit(leave_behind);
	released_at_exit(leave_deadlocked);
}

/* Threads that spawn a little draw few serials: the bound the header
 * states (at least 2^38 spawns less 8 per thread) holds only if a thread's
 * share of the process-wide counter grows with what it spawns. */
#define FEW_THREADS 64
/* In a thread: spawn one, run and join it; its id to *id_out if not NULL. */
static void *spawn_one(void *id_out)
{
	corun_t h = corun_go(ret_arg, NULL);
	CHECK(h > 0);
	if (id_out)
		*(int64_t *)id_out = corun_id(h);
	CHECK_EQ(corun_run(), 0);
	CHECK_EQ(corun_join(h, NULL), 0);
	return NULL;
}

static int64_t fresh_id(void)
{
	int64_t id = -1;
	on_thread(spawn_one, &id);
	return id;
}

static void serials_by_need(void)
{
	int64_t first = fresh_id();
	pthread_t t[FEW_THREADS];
	for (int i = 0; i < FEW_THREADS; i++) /* each: a runtime and one spawn */
		CHECK_EQ(pthread_create(&t[i], NULL, spawn_one, NULL), 0);
	for (int i = 0; i < FEW_THREADS; i++)
		CHECK_EQ(pthread_join(t[i], NULL), 0);
	int64_t last = fresh_id();
	/* Drawn in between: 2 per thread, so at most 2 * 2 + 16 each. */
	CHECK(last > first);
	CHECK(last - first <= (int64_t)(FEW_THREADS + 1) * (2 * 2 + 16));
}

int main(int argc, char **argv)
{
	static const struct test tests[] = { TEST(two_threads), TEST(exit_releases),
						 TEST(serials_by_need) };
	return RUN_TESTS(argc, argv, tests);
}
