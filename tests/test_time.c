/*
 * Time and cancellation: the clock, sleeping from coroutines and from main,
 * deadlines firing in order (FIFO among equal ones), deadlines that fire
 * while others never stop running, join with a deadline, corun_cancel
 * waking every kind of waiter here, and a runtime whose coroutines all
 * sleep using no CPU. (Channels, select and sync have their own programs.)
 */
#define _GNU_SOURCE
#include "helpers.h"

#include <corun.h>
#include <stdint.h>
#include <sys/resource.h>

#include "priv.h" /* white box: pending deadlines */

/* ---- the clock */
static void clock_runs(void)
{
	int64_t a = corun_now();
	CHECK(a > 0);
	int64_t b = corun_now();
	CHECK(b >= a);
	CHECK_EQ(corun_sleep(2 * MS), 0); /* from main, nothing else: just waits */
	CHECK(corun_now() - b >= 2 * MS);
}

/* ---- deadlines fire in order, FIFO among equal ones */
enum { SLEEPERS = 2000 };
static int64_t base;
static int woke[SLEEPERS], nwoke;
static int64_t deadline_of[SLEEPERS];
static int late; /* a sleeper armed after the first deadline had passed */

static void *sleeper(void *arg)
{
	int i = (int)(intptr_t)arg;
	if (corun_now() >= base)
		late = 1;
	CHECK_EQ(corun_sleep_until(deadline_of[i]), 0);
	CHECK(corun_now() >= deadline_of[i]);
	woke[nwoke++] = i;
	return NULL;
}

/* Whether deadlines armed while none has passed fired in order. */
static int order_once(int64_t margin)
{
	uint32_t seed = 12345;
	for (int i = 0; i < SLEEPERS; i++)
		CHECK(corun_go(sleeper, (void *)(intptr_t)i) > 0);
	/* Far enough ahead that all have armed before the first fires: they
	 * arm when corun_run starts them. A machine too busy for that makes
	 * the run say nothing, and it is tried again with a larger margin. */
	base = corun_now() + margin;
	late = 0;
	for (int i = 0; i < SLEEPERS; i++) {
		seed = seed * 1103515245u + 12345u;
		/* 16 distinct deadlines: many ties */
		deadline_of[i] = base + (int64_t)((seed >> 16) % 16) * MS;
	}
	nwoke = 0;
	CHECK_EQ(corun_run(), 0);
	CHECK_EQ(nwoke, SLEEPERS);
	CHECK_EQ(corun_priv_timers(), 0);
	if (late)
		return 0;
	for (int k = 1; k < SLEEPERS; k++) {
		int a = woke[k - 1], b = woke[k];
		CHECK(deadline_of[a] <= deadline_of[b]);
		if (deadline_of[a] == deadline_of[b])
			CHECK(a < b); /* armed in spawn order: FIFO */
	}
	return 1;
}

static void order(void)
{
	int64_t margin = 200 * MS;
	while (!order_once(margin)) {
		CHECK(margin < 30000 * MS);
		margin *= 2;
	}
}

/* ---- immediate cases and bad arguments */
static void immediate(void)
{
	CHECK_EQ(corun_sleep_until(0), 0);
	CHECK_EQ(corun_sleep_until(1), 0);            /* long past */
	CHECK_EQ(corun_sleep(0), 0);
	CHECK_ERRNO(corun_sleep(-1), EINVAL);
	CHECK_ERRNO(corun_sleep_until(-2), EINVAL);
	CHECK_ERRNO(corun_sleep_until(INT64_MIN), EINVAL);
	/* From main, forever, with nothing that could wake it: EDEADLK. */
	CHECK_ERRNO(corun_sleep_until(-1), EDEADLK);
	CHECK_EQ(corun_priv_timers(), 0);
	CHECK_ERRNO(corun_sleep(INT64_MAX), EDEADLK); /* so far off it is never */
	CHECK_EQ(corun_priv_timers(), 0);
}

/* ---- deadlines fire while other coroutines never stop running */
static volatile int sleeper_woke;
static void *spinner(void *arg)
{
	(void)arg;
	while (!sleeper_woke)
		CHECK_EQ(corun_park(), 0);
	return NULL;
}

static void *short_sleeper(void *arg)
{
	(void)arg;
	CHECK_EQ(corun_sleep(3 * MS), 0);
	sleeper_woke = 1;
	return NULL;
}

static void busy_neighbours(void)
{
	sleeper_woke = 0;
	for (int i = 0; i < 3; i++)
		CHECK(corun_go(spinner, NULL) > 0);
	CHECK(corun_go(short_sleeper, NULL) > 0);
	CHECK_EQ(corun_run(), 0);
	CHECK(sleeper_woke);

	/* The same with main stepping the scheduler from its own loop. */
	sleeper_woke = 0;
	corun_t h = corun_go(short_sleeper, NULL);
	CHECK(corun_go(spinner, NULL) > 0);
	int64_t give_up = corun_now() + 10000 * MS;
	while (!sleeper_woke) {
		CHECK(corun_now() < give_up);
		CHECK_EQ(corun_park(), 0);
	}
	CHECK_EQ(corun_join(h, NULL), 0);
	CHECK_EQ(corun_run(), 0);
}

/* ---- main sleeps while coroutines work */
static int ticks;
static void *ticker(void *arg)
{
	int n = (int)(intptr_t)arg;
	for (int i = 0; i < n; i++) {
		ticks++;
		CHECK_EQ(corun_sleep(1 * MS), 0);
	}
	return NULL;
}

static void main_sleeps(void)
{
	ticks = 0;
	corun_t h = corun_go(ticker, (void *)(intptr_t)5);
	/* Main's sleep drives the ticker meanwhile: it has ticked at least once
	 * (how many times depends on how busy the machine is). */
	CHECK_EQ(corun_sleep(30 * MS), 0);
	CHECK(ticks >= 1);
	CHECK_EQ(corun_join(h, NULL), 0);
	CHECK_EQ(ticks, 5);
}

static void *nap_then_ret(void *arg)
{
	CHECK_EQ(corun_sleep(20 * MS), 0);
	return arg;
}

/* ---- join with a deadline: the joined one waits for a release that only
 * comes after the timeouts, so that no amount of machine load can end it
 * before them */
static corun_chan *release;
static void *wait_then_ret(void *arg)
{
	CHECK_EQ(corun_chan_recv(release, NULL, -1), 0);
	return arg;
}

static void *join_with_timeout(void *arg)
{
	corun_t t = *(corun_t *)arg;
	CHECK_ERRNO(corun_join_until(t, NULL, corun_now() + 1 * MS), ETIMEDOUT);
	CHECK_EQ(corun_chan_send(release, NULL, -1), 0);
	void *r;
	CHECK_EQ(corun_join_until(t, &r, corun_now() + 10000 * MS), 0);
	CHECK_EQ((intptr_t)r, 9);
	return NULL;
}

static void join_deadline(void)
{
	static corun_t t;
	release = corun_chan_make(0, 0);
	CHECK(release != NULL);
	t = corun_go(wait_then_ret, (void *)(intptr_t)9);
	CHECK_ERRNO(corun_join_until(t, NULL, 0), ETIMEDOUT);
	CHECK_ERRNO(corun_join_until(t, NULL, corun_now() + 1 * MS), ETIMEDOUT);
	corun_t j = corun_go(join_with_timeout, &t);
	CHECK_EQ(corun_join(j, NULL), 0);
	CHECK_ERRNO(corun_join(t, NULL), ESRCH); /* j took the result */
	CHECK_EQ(corun_priv_timers(), 0);
	CHECK_ERRNO(corun_join_until(-1, NULL, 0), ESRCH);
	corun_t done = corun_go(ret_arg, (void *)(intptr_t)4);
	CHECK_EQ(corun_run(), 0);
	void *r;
	CHECK_EQ(corun_join_until(done, &r, 0), 0); /* ended: no wait needed */
	CHECK_EQ((intptr_t)r, 4);
	corun_chan_free(release);
}

/* ---- cancellation */
static int cancel_seen;
static void *sleep_forever(void *arg)
{
	(void)arg;
	CHECK_ERRNO(corun_sleep_until(-1), ECANCELED);
	/* Every later blocking call fails at once... */
	CHECK_ERRNO(corun_sleep(1 * MS), ECANCELED);
	CHECK_ERRNO(corun_sleep_until(0), ECANCELED);
	/* ...but it runs on: parking still works, and it ends normally. */
	CHECK_EQ(corun_park(), 0);
	cancel_seen++;
	return (void *)(intptr_t)7;
}

static void *long_sleep(void *arg)
{
	(void)arg;
	CHECK_ERRNO(corun_sleep(100000 * MS), ECANCELED);
	cancel_seen++;
	return NULL;
}

static void *join_canceled(void *arg)
{
	corun_t t = *(corun_t *)arg;
	CHECK_ERRNO(corun_join(t, NULL), ECANCELED);
	cancel_seen++;
	return NULL;
}

static void *cancel_self(void *arg)
{
	(void)arg;
	CHECK_EQ(corun_cancel(corun_self()), 0);
	CHECK_EQ(corun_park(), 0); /* not a blocking call */
	CHECK_ERRNO(corun_sleep(1 * MS), ECANCELED);
	return NULL;
}

static void cancel(void)
{
	cancel_seen = 0;
	corun_t a = corun_go(sleep_forever, NULL);
	corun_t b = corun_go(long_sleep, NULL);
	static corun_t target;
	target = corun_go(nap_then_ret, (void *)(intptr_t)2);
	corun_t c = corun_go(join_canceled, &target);
	CHECK_EQ(corun_park(), 0); /* all of them are waiting now */
	CHECK_EQ(corun_priv_timers(), 2);
	CHECK_EQ(corun_cancel(a), 0);
	CHECK_EQ(corun_cancel(a), 0); /* twice is once */
	CHECK_EQ(corun_cancel(b), 0);
	CHECK_EQ(corun_cancel(c), 0);
	CHECK_EQ(corun_priv_timers(), 1); /* b's deadline was withdrawn */
	void *r;
	CHECK_EQ(corun_join(a, &r), 0); /* a canceled coroutine is joinable */
	CHECK_EQ((intptr_t)r, 7);
	CHECK_EQ(corun_join(b, NULL), 0);
	CHECK_EQ(corun_join(c, NULL), 0);
	CHECK_EQ(cancel_seen, 3);
	CHECK_EQ(corun_join(target, &r), 0); /* c's join was withdrawn */
	CHECK_EQ((intptr_t)r, 2);

	corun_t s = corun_go(cancel_self, NULL);
	CHECK_EQ(corun_join(s, NULL), 0);
	/* Ended but not joined: nothing to cancel. Stale: ESRCH. */
	corun_t e = corun_go(ret_arg, NULL);
	CHECK_EQ(corun_run(), 0);
	CHECK_EQ(corun_cancel(e), 0);
	CHECK_EQ(corun_join(e, NULL), 0);
	CHECK_ERRNO(corun_cancel(e), ESRCH);
	CHECK_ERRNO(corun_cancel(-1), ESRCH);
	CHECK_ERRNO(corun_cancel(0), ESRCH);
	/* Canceling one that has not run yet: its first blocking call fails. */
	corun_t f = corun_go(long_sleep, NULL);
	CHECK_EQ(corun_cancel(f), 0);
	CHECK_EQ(corun_join(f, NULL), 0);
}

/* ---- all asleep: no CPU */
static void *sleep_300ms(void *arg)
{
	(void)arg;
	CHECK_EQ(corun_sleep(300 * MS), 0);
	return NULL;
}

static double cpu_seconds(void)
{
	struct rusage ru;
	CHECK_EQ(getrusage(RUSAGE_SELF, &ru), 0);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
	       ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) * 1e-6;
}

static void idle_uses_no_cpu(void)
{
	for (int i = 0; i < 1000; i++)
		spawn_with(sleep_300ms, NULL, CORUN_STACK_MIN, CORUN_DETACHED);
	CHECK_EQ(corun_park(), 0); /* all asleep now */
	double cpu = cpu_seconds();
	int64_t t0 = corun_now();
	CHECK_EQ(corun_run(), 0);
	double used = cpu_seconds() - cpu, wall = (double)(corun_now() - t0) * 1e-9;
	fprintf(stderr, "   %.3f s asleep, %.4f s of CPU\n", wall, used);
	/* Spinning would use the whole wait; sleeping in the kernel, almost
	 * none (the slack is for valgrind and sanitizers). */
	CHECK(used < wall / 4);
}

int main(int argc, char **argv)
{
	static const struct test tests[] = {
		TEST(clock_runs), TEST(order), TEST(immediate), TEST(busy_neighbours),
		TEST(main_sleeps), TEST(join_deadline), TEST(cancel), TEST(idle_uses_no_cpu),
	};
	return RUN_TESTS(argc, argv, tests);
}
