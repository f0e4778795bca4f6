/*
 * Wait groups and mutexes: thousands of coroutines, mutual exclusion with
 * parks inside the critical section, first-come first-served handoff,
 * deadlines, cancellation, main taking part, and every error return.
 */
#define _GNU_SOURCE
#include "helpers.h"

#include <corun.h>
#include <stdint.h>

#include "priv.h" /* white box: pending deadlines */

static corun_wg *wg;
static corun_mutex *mu;

/* ---- wait groups */
static int finished;
static void *worker(void *arg)
{
	int parks = (int)(intptr_t)arg;
	for (int i = 0; i < parks; i++)
		CHECK_EQ(corun_park(), 0);
	finished++;
	CHECK_EQ(corun_wg_done(wg), 0);
	return NULL;
}

static int waiters_done;
static void *wg_waiter(void *arg)
{
	(void)arg;
	CHECK_EQ(corun_wg_wait(wg, -1), 0);
	CHECK_EQ(finished, 2000);
	waiters_done++;
	return NULL;
}

static void *wg_canceled(void *arg)
{
	(void)arg;
	CHECK_ERRNO(corun_wg_wait(wg, -1), ECANCELED);
	return NULL;
}

static void wait_group(void)
{
	enum { N = 2000 };
	wg = corun_wg_make();
	CHECK(wg != NULL);
	CHECK_EQ(corun_wg_wait(wg, 0), 0); /* zero already */
	finished = waiters_done = 0;
	CHECK_EQ(corun_wg_add(wg, N), 0);
	for (int i = 0; i < 5; i++)
		spawn_with(wg_waiter, NULL, CORUN_STACK_MIN, CORUN_DETACHED);
	for (int i = 0; i < N; i++)
		spawn_with(worker, (void *)(intptr_t)(i % 7), CORUN_STACK_MIN, CORUN_DETACHED);
	CHECK_ERRNO(corun_wg_wait(wg, 0), ETIMEDOUT);
	CHECK_EQ(corun_park(), 0); /* the waiters are waiting now */
	CHECK_ERRNO(corun_wg_free(wg), EBUSY);
	CHECK_EQ(corun_wg_wait(wg, -1), 0); /* main too */
	CHECK_EQ(finished, N);
	CHECK_EQ(corun_run(), 0);
	CHECK_EQ(waiters_done, 5);
	/* Below zero is refused and changes nothing. */
	CHECK_ERRNO(corun_wg_done(wg), EINVAL);
	CHECK_ERRNO(corun_wg_add(wg, INT64_MIN), EINVAL);
	CHECK_EQ(corun_wg_add(wg, 1), 0);
	CHECK_ERRNO(corun_wg_add(wg, INT64_MAX), EINVAL);
	CHECK_ERRNO(corun_wg_wait(wg, corun_now() + 1 * MS), ETIMEDOUT);
	CHECK_ERRNO(corun_wg_wait(wg, -2), EINVAL);
	CHECK_ERRNO(corun_wg_wait(wg, -1), EDEADLK); /* nobody can bring it down */
	corun_t c = corun_go(wg_canceled, NULL);
	CHECK_EQ(corun_park(), 0);
	CHECK_ERRNO(corun_wg_free(wg), EBUSY);
	CHECK_EQ(corun_cancel(c), 0);
	CHECK_EQ(corun_join(c, NULL), 0);
	CHECK_EQ(corun_wg_done(wg), 0);
	CHECK_EQ(corun_priv_timers(), 0);
	CHECK_EQ(corun_wg_free(wg), 0);
	CHECK_EQ(corun_wg_free(NULL), 0);
}

/* ---- mutexes */
static int inside, total, order[64], norder;
static void *locker(void *arg)
{
	int id = (int)(intptr_t)arg;
	CHECK_EQ(corun_mutex_lock(mu, -1), 0);
	CHECK_EQ(inside, 0);
	inside = 1;
	if (norder < 64)
		order[norder++] = id;
	for (int i = 0; i < 3; i++) /* others run meanwhile, and try to lock */
		CHECK_EQ(corun_park(), 0);
	total++;
	inside = 0;
	CHECK_EQ(corun_mutex_unlock(mu), 0);
	return NULL;
}

static void mutual_exclusion(void)
{
	enum { N = 3000 };
	mu = corun_mutex_make();
	CHECK(mu != NULL);
	inside = total = norder = 0;
	for (int i = 0; i < N; i++)
		spawn_with(locker, (void *)(intptr_t)i, CORUN_STACK_MIN, CORUN_DETACHED);
	CHECK_EQ(corun_run(), 0);
	CHECK_EQ(total, N);
	/* Handed over in the order they asked. */
	for (int i = 0; i < 64; i++)
		CHECK_EQ(order[i], i);
	/* Main takes part like anyone else. */
	CHECK_EQ(corun_mutex_lock(mu, -1), 0);
	CHECK_ERRNO(corun_mutex_lock(mu, -1), EDEADLK);
	CHECK_ERRNO(corun_mutex_free(mu), EBUSY);
	corun_t h = corun_go(locker, (void *)(intptr_t)-1);
	CHECK_EQ(corun_park(), 0); /* it waits for main */
	CHECK_EQ(inside, 0);
	CHECK_EQ(corun_mutex_unlock(mu), 0);
	CHECK_ERRNO(corun_mutex_unlock(mu), EPERM); /* handed to h: not main's */
	CHECK_EQ(corun_join(h, NULL), 0);
	CHECK_ERRNO(corun_mutex_unlock(mu), EPERM); /* nobody holds it */
	CHECK_EQ(corun_mutex_free(mu), 0);
	CHECK_EQ(corun_mutex_free(NULL), 0);
}

static void *lock_timeout(void *arg)
{
	(void)arg;
	CHECK_ERRNO(corun_mutex_lock(mu, 0), ETIMEDOUT);
	CHECK_ERRNO(corun_mutex_lock(mu, corun_now() + 1 * MS), ETIMEDOUT);
	CHECK_ERRNO(corun_mutex_unlock(mu), EPERM);
	return NULL;
}

static void *lock_canceled(void *arg)
{
	(void)arg;
	CHECK_ERRNO(corun_mutex_lock(mu, -1), ECANCELED);
	return NULL;
}

static void mutex_waits(void)
{
	mu = corun_mutex_make();
	CHECK_EQ(corun_mutex_lock(mu, -1), 0);
	corun_t t = corun_go(lock_timeout, NULL);
	CHECK_EQ(corun_join(t, NULL), 0);
	cancel_waiting(lock_canceled, NULL);
	CHECK_EQ(corun_mutex_unlock(mu), 0); /* nobody waits any more */
	CHECK_EQ(corun_mutex_lock(mu, 0), 0);
	CHECK_EQ(corun_mutex_unlock(mu), 0);
	CHECK_ERRNO(corun_mutex_lock(mu, -2), EINVAL);
	CHECK_EQ(corun_mutex_free(mu), 0);
}

/* ---- a holder that ends holding it */
static int order_seen[3], nseen;

static void *lock_hold_end(void *arg)
{
	corun_mutex **m = arg;
	for (; *m; m++)
		CHECK_EQ(corun_mutex_lock(*m, -1), 0);
	corun_park(); /* the others queue up behind it */
	return NULL;  /* ends holding them */
}

static void *lock_told(void *arg)
{
	CHECK_ERRNO(corun_mutex_lock(mu, -1), EOWNERDEAD);
	order_seen[nseen++] = (int)(intptr_t)arg;
	CHECK_ERRNO(corun_mutex_lock(mu, 0), EDEADLK); /* it holds it */
	corun_park();
	CHECK_EQ(corun_mutex_unlock(mu), 0);
	return NULL;
}

static void *lock_plain(void *arg)
{
	CHECK_EQ(corun_mutex_lock(mu, -1), 0); /* only the first is told */
	order_seen[nseen++] = (int)(intptr_t)arg;
	CHECK_EQ(corun_mutex_unlock(mu), 0);
	return NULL;
}

static void *lock_unlock_end(void *arg)
{
	(void)arg;
	CHECK_EQ(corun_mutex_lock(mu, -1), 0);
	CHECK_EQ(corun_mutex_unlock(mu), 0);
	return NULL;
}

static void owner_dies(void)
{
	mu = corun_mutex_make();
	corun_mutex *other = corun_mutex_make();
	/* No one waits: it is left free, and the next taker (main) is told,
	 * and holds it; the one after is not told. */
	corun_mutex *both[] = { mu, other, NULL };
	CHECK_EQ(corun_join(corun_go(lock_hold_end, both), NULL), 0);
	CHECK_ERRNO(corun_mutex_lock(mu, 0), EOWNERDEAD);
	CHECK_ERRNO(corun_mutex_lock(mu, 0), EDEADLK);
	CHECK_EQ(corun_mutex_unlock(mu), 0);
	CHECK_EQ(corun_mutex_lock(mu, 0), 0);
	CHECK_EQ(corun_mutex_unlock(mu), 0);
	/* Every mutex it held was let go: the other can be freed at once (it
	 * is not held), and its next taker would be told too. */
	CHECK_EQ(corun_mutex_free(other), 0);

	/* Waiters: the longest one gets it, told, then the next, not told. */
	nseen = 0;
	corun_mutex *one[] = { mu, NULL };
	corun_t h = corun_go(lock_hold_end, one);
	corun_t a = corun_go(lock_told, (void *)1);
	corun_t b = corun_go(lock_plain, (void *)2);
	CHECK_EQ(corun_run(), 0);
	CHECK_EQ(corun_join(h, NULL), 0);
	CHECK_EQ(corun_join(a, NULL), 0);
	CHECK_EQ(corun_join(b, NULL), 0);
	CHECK_EQ(nseen, 2);
	CHECK_EQ(order_seen[0], 1);
	CHECK_EQ(order_seen[1], 2);

	/* One that unlocked before its end leaves nothing to tell, and a
	 * later coroutine on the same stack is not taken for it. */
	CHECK_EQ(corun_join(corun_go(lock_unlock_end, NULL), NULL), 0);
	CHECK_EQ(corun_mutex_lock(mu, 0), 0);
	CHECK_EQ(corun_mutex_unlock(mu), 0);
	CHECK_EQ(corun_mutex_free(mu), 0);
}

/* ---- errors */
static void *foreign(void *arg)
{
	(void)arg;
	CHECK_ERRNO(corun_wg_add(wg, 1), EPERM);
	CHECK_ERRNO(corun_wg_wait(wg, 0), EPERM);
	CHECK_ERRNO(corun_wg_free(wg), EPERM);
	CHECK_ERRNO(corun_mutex_lock(mu, 0), EPERM);
	CHECK_ERRNO(corun_mutex_unlock(mu), EPERM);
	CHECK_ERRNO(corun_mutex_free(mu), EPERM);
	return NULL;
}

static void errors(void)
{
	CHECK_ERRNO(corun_wg_add(NULL, 1), EINVAL);
	CHECK_ERRNO(corun_wg_done(NULL), EINVAL);
	CHECK_ERRNO(corun_wg_wait(NULL, 0), EINVAL);
	CHECK_ERRNO(corun_mutex_lock(NULL, 0), EINVAL);
	CHECK_ERRNO(corun_mutex_unlock(NULL), EINVAL);
	wg = corun_wg_make();
	mu = corun_mutex_make();
	on_thread(foreign, NULL);
	CHECK_EQ(corun_wg_free(wg), 0);
	CHECK_EQ(corun_mutex_free(mu), 0);
}

int main(int argc, char **argv)
{
	static const struct test tests[] = {
		TEST(wait_group), TEST(mutual_exclusion), TEST(mutex_waits), TEST(owner_dies),
		TEST(errors),
	};
	return RUN_TESTS(argc, argv, tests);
}
