/*
 * Worker groups (corun_group_*, corun_task_*): tasks spawned from one
 * thread run as coroutines of the workers' runtimes, on their threads, and
 * stay there once started; their results come back to any thread; cancel,
 * deadlines, stop (drain and cancel), an idle worker taking what a busy
 * one cannot, the errors, fork. Nothing here asserts on time: what must
 * happen first is made to by flags and channels, never by sleeping.
 */
#define _GNU_SOURCE
#include "helpers.h"
#include "priv.h"

#include <corun.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void *twice(void *arg)
{
	return (void *)((intptr_t)arg * 2);
}

static void *where(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)corun_group_worker();
}

static void *tid_of(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)gettid();
}

static void join_ok(corun_task *t, intptr_t want)
{
	void *r = (void *)-1;
	CHECK_EQ(corun_task_join(t, &r, -1), 0);
	CHECK_EQ((intptr_t)r, want);
}

/* Wait (from main or a plain thread) until *flag is set. */
static void wait_flag(atomic_int *flag)
{
	while (!atomic_load(flag))
		usleep(100);
}

/* ---- results, workers, threads */

static void results(void)
{
	enum { N = 300 };
	corun_group *g = corun_group_start(3, 0);
	CHECK(g != NULL);
	static corun_task *t[N];
	for (int i = 0; i < N; i++)
		CHECK((t[i] = corun_group_go(g, -1, twice, (void *)(intptr_t)i)) != NULL);
	for (int i = 0; i < N; i++)
		join_ok(t[i], 2 * i);
	/* A chosen worker runs it. */
	for (int round = 0; round < 20; round++)
		for (int w = 0; w < 3; w++) {
			corun_task *x = corun_group_go(g, w, where, NULL);
			CHECK(x != NULL);
			join_ok(x, w);
		}
	CHECK_EQ(corun_group_worker(), -1); /* main is no worker */
	CHECK_EQ(corun_group_stop(g, CORUN_GROUP_DRAIN), 0);
}

static void *name_of(void *arg)
{
	char *buf = arg;
	CHECK_EQ(pthread_getname_np(pthread_self(), buf, 16), 0);
	return NULL;
}

static void on_worker_threads(void)
{
	corun_group *g = corun_group_start(2, 0);
	CHECK(g != NULL);
	for (int w = 0; w < 2; w++) {
		corun_task *t = corun_group_go(g, w, tid_of, NULL);
		void *r;
		CHECK_EQ(corun_task_join(t, &r, -1), 0);
		CHECK((pid_t)(intptr_t)r != gettid());
		char name[16] = "", want[16];
		snprintf(want, sizeof want, "corun-w%d", w);
		join_ok(corun_group_go(g, w, name_of, name), 0);
		CHECK_STR_EQ(name, want);
	}
	CHECK_EQ(corun_group_stop(g, CORUN_GROUP_DRAIN), 0);
	/* 0: one worker per CPU the process may use. */
	cpu_set_t set;
	CHECK_EQ(sched_getaffinity(0, sizeof set, &set), 0);
	g = corun_group_start(0, CORUN_GROUP_PIN);
	CHECK(g != NULL);
	int n = CPU_COUNT(&set);
	join_ok(corun_group_go(g, n - 1, where, NULL), n - 1);
	CHECK_NULL_ERRNO(corun_group_go(g, n, where, NULL), EINVAL);
	CHECK_EQ(corun_group_stop(g, CORUN_GROUP_CANCEL), 0);
}

/* A started task stays on its thread across every kind of wait. */
static corun_chan *stay_ch;

static void *stays(void *arg)
{
	(void)arg;
	pid_t tid = gettid();
	int w = corun_group_worker();
	for (int i = 0; i < 5; i++) {
		CHECK_EQ(corun_park(), 0);
		CHECK_EQ(corun_sleep(100000), 0);
		CHECK_EQ(gettid(), tid);
		long v;
		CHECK_EQ(corun_chan_recv(stay_ch, &v, -1), 0); /* woken from main's thread */
		CHECK_EQ(gettid(), tid);
		CHECK_EQ(corun_group_worker(), w);
	}
	return (void *)1;
}

static void stays_on_thread(void)
{
	enum { N = 40 };
	corun_group *g = corun_group_start(2, 0);
	CHECK(g != NULL);
	CHECK((stay_ch = corun_chan_make_shared(sizeof(long), 0)) != NULL);
	corun_task *t[N];
	for (int i = 0; i < N; i++)
		CHECK((t[i] = corun_group_go(g, -1, stays, NULL)) != NULL);
	for (long i = 0; i < N * 5; i++)
		CHECK_EQ(corun_chan_send(stay_ch, &i, -1), 0);
	for (int i = 0; i < N; i++)
		join_ok(t[i], 1);
	CHECK_EQ(corun_group_stop(g, CORUN_GROUP_DRAIN), 0);
	CHECK_EQ(corun_chan_free(stay_ch), 0);
}

/* ---- joins */

static corun_chan *gate; /* tasks wait here until main lets them go */

static void *gated(void *arg)
{
	long v;
	if (corun_chan_recv(gate, &v, -1) < 0)
		return (void *)(intptr_t)-errno;
	return (void *)((intptr_t)arg + v);
}

static void *join_on_thread(void *arg)
{
	void *r;
	CHECK_EQ(corun_task_join(arg, &r, -1), 0); /* a plain thread: no runtime before */
	return r;
}

static void *join_in_coroutine(void *arg)
{
	void *r;
	CHECK_EQ(corun_task_join(arg, &r, -1), 0);
	return r;
}

static void *ticker(void *arg)
{
	atomic_int *ticks = arg;
	for (int i = 0; i < 20; i++) {
		atomic_fetch_add(ticks, 1);
		corun_sleep(100000);
	}
	return NULL;
}

static void joins(void)
{
	corun_group *g = corun_group_start(2, 0);
	CHECK(g != NULL);
	CHECK((gate = corun_chan_make_shared(sizeof(long), 0)) != NULL);
	/* From another thread. */
	corun_task *a = corun_group_go(g, 0, gated, (void *)10);
	pthread_t th;
	CHECK_EQ(pthread_create(&th, NULL, join_on_thread, a), 0);
	long one = 1;
	CHECK_EQ(corun_chan_send(gate, &one, -1), 0);
	void *r;
	CHECK_EQ(pthread_join(th, &r), 0);
	CHECK_EQ((intptr_t)r, 11);
	/* From a coroutine, while another coroutine of its thread runs. */
	corun_task *b = corun_group_go(g, 1, gated, (void *)20);
	atomic_int ticks = 0;
	corun_t j = corun_go(join_in_coroutine, b);
	corun_t k = corun_go(ticker, &ticks);
	CHECK_EQ(corun_park(), 0);
	CHECK_EQ(corun_chan_send(gate, &one, -1), 0);
	CHECK_EQ(corun_join(j, &r), 0);
	CHECK_EQ((intptr_t)r, 21);
	CHECK_EQ(corun_join(k, NULL), 0);
	CHECK_EQ(atomic_load(&ticks), 20);
	/* The join's wait is on record: its reason and its task. */
	corun_task *c = corun_group_go(g, 0, gated, (void *)30);
	j = corun_go(join_in_coroutine, c);
	uint64_t waits = corun_priv_waits(CORUN_PRIV_WAIT_TASK);
	CHECK_EQ(corun_park(), 0);
	uint64_t obj = 0;
	CHECK_EQ(corun_priv_wait_reason(j, &obj), CORUN_PRIV_WAIT_TASK);
	CHECK_EQ(obj, (uintptr_t)c);
	CHECK_EQ(corun_priv_waits(CORUN_PRIV_WAIT_TASK), waits + 1);
	/* A second join at the same time is refused. */
	CHECK_ERRNO(corun_task_join(c, NULL, 0), EBUSY);
	CHECK_ERRNO(corun_task_detach(c), EINVAL);
	CHECK_EQ(corun_chan_send(gate, &one, -1), 0);
	CHECK_EQ(corun_join(j, &r), 0);
	CHECK_EQ((intptr_t)r, 31);
	CHECK_EQ(corun_group_stop(g, CORUN_GROUP_DRAIN), 0);
	CHECK_EQ(corun_chan_free(gate), 0);
}

static void join_deadline(void)
{
	corun_group *g = corun_group_start(1, 0);
	CHECK(g != NULL);
	CHECK((gate = corun_chan_make_shared(sizeof(long), 0)) != NULL);
	corun_task *t = corun_group_go(g, -1, gated, (void *)5);
	CHECK_ERRNO(corun_task_join(t, NULL, 0), ETIMEDOUT);
	CHECK_ERRNO(corun_task_join(t, NULL, corun_now() + 2 * MS), ETIMEDOUT);
	CHECK_ERRNO(corun_task_join(t, NULL, -2), EINVAL);
	long two = 2;
	CHECK_EQ(corun_chan_send(gate, &two, -1), 0);
	join_ok(t, 7);
	/* Joined after the stop: the task outlives its group. */
	t = corun_group_go(g, -1, twice, (void *)4);
	CHECK_EQ(corun_group_stop(g, CORUN_GROUP_DRAIN), 0);
	join_ok(t, 8);
	CHECK_EQ(corun_chan_free(gate), 0);
}

static void *self_join(void *arg)
{
	_Atomic(corun_task *) *me = arg;
	corun_task *t;
	while (!(t = atomic_load(me)))
		corun_sleep(100000);
	errno = 0;
	int r = corun_task_join(t, NULL, -1);
	return (void *)(intptr_t)(r < 0 ? errno : 0);
}

static void *stop_own(void *arg)
{
	errno = 0;
	int r = corun_group_stop(arg, CORUN_GROUP_DRAIN);
	return (void *)(intptr_t)(r < 0 ? errno : 0);
}

static void errors(void)
{
	CHECK_NULL_ERRNO(corun_group_start(1, 0x100), EINVAL);
	CHECK_NULL_ERRNO(corun_group_start(100000, 0), EINVAL);
	corun_group *g = corun_group_start(2, 0);
	CHECK(g != NULL);
	CHECK_NULL_ERRNO(corun_group_go(NULL, -1, twice, NULL), EINVAL);
	CHECK_NULL_ERRNO(corun_group_go(g, -1, NULL, NULL), EINVAL);
	CHECK_NULL_ERRNO(corun_group_go(g, -2, twice, NULL), EINVAL);
	CHECK_NULL_ERRNO(corun_group_go(g, 2, twice, NULL), EINVAL);
	CHECK_ERRNO(corun_task_join(NULL, NULL, -1), EINVAL);
	CHECK_ERRNO(corun_task_cancel(NULL), EINVAL);
	CHECK_ERRNO(corun_task_detach(NULL), EINVAL);
	CHECK_ERRNO(corun_group_stop(NULL, CORUN_GROUP_DRAIN), EINVAL);
	CHECK_ERRNO(corun_group_stop(g, 0), EINVAL);
	/* A task joining itself; one stopping its own group. */
	_Atomic(corun_task *) me = NULL;
	corun_task *t = corun_group_go(g, -1, self_join, &me);
	atomic_store(&me, t);
	join_ok(t, EDEADLK);
	join_ok(corun_group_go(g, 1, stop_own, g), EDEADLK);
	/* A detached task that has ended is freed at once (ASan: no leak);
	 * one detached before it ends, when it ends. */
	t = corun_group_go(g, -1, twice, NULL);
	join_ok(corun_group_go(g, -1, twice, (void *)1), 2);
	CHECK_EQ(corun_task_detach(t), 0);
	CHECK_EQ(corun_task_detach(corun_group_go(g, -1, twice, NULL)), 0);
	CHECK_EQ(corun_group_stop(g, CORUN_GROUP_DRAIN), 0);
}

/* ---- cancel */

static atomic_int spin_started, spin_release;

/* Holds its worker: never parks or waits until released. */
static void *spinner(void *arg)
{
	(void)arg;
	atomic_store(&spin_started, 1);
	while (!atomic_load(&spin_release))
		;
	return (void *)(intptr_t)corun_group_worker();
}

static atomic_int ran;

static void *mark_ran(void *arg)
{
	atomic_fetch_add(&ran, 1);
	return arg;
}

static void *sleep_forever(void *arg)
{
	atomic_int *started = arg;
	atomic_store(started, 1);
	errno = 0;
	int r = corun_sleep_until(-1);
	return (void *)(intptr_t)(r < 0 ? errno : 0);
}

static void cancel(void)
{
	corun_group *g = corun_group_start(1, 0);
	CHECK(g != NULL);
	/* Queued behind a worker that does not come round: never runs. */
	atomic_store(&spin_started, 0);
	atomic_store(&spin_release, 0);
	atomic_store(&ran, 0);
	corun_task *s = corun_group_go(g, 0, spinner, NULL);
	wait_flag(&spin_started);
	corun_task *q = corun_group_go(g, 0, mark_ran, NULL);
	corun_task *q2 = corun_group_go(g, -1, mark_ran, NULL);
	CHECK_EQ(corun_task_cancel(q), 0);
	CHECK_EQ(corun_task_cancel(q), 0); /* twice: the same */
	CHECK_EQ(corun_task_cancel(q2), 0);
	CHECK_ERRNO(corun_task_join(q, NULL, -1), ECANCELED);
	CHECK_ERRNO(corun_task_join(q, NULL, 0), ECANCELED); /* kept: fails so again */
	CHECK_EQ(corun_task_detach(q), 0);
	atomic_store(&spin_release, 1);
	join_ok(s, 0);
	CHECK_ERRNO(corun_task_join(q2, NULL, -1), ECANCELED);
	CHECK_EQ(corun_task_detach(q2), 0);
	/* Running, blocked: its wait ends with ECANCELED; it returns. */
	atomic_int started = 0;
	corun_task *b = corun_group_go(g, -1, sleep_forever, &started);
	wait_flag(&started);
	CHECK_EQ(corun_task_cancel(b), 0);
	join_ok(b, ECANCELED);
	/* Cancel of an ended task does nothing. */
	corun_task *e = corun_group_go(g, -1, twice, (void *)3);
	corun_task *e2 = corun_group_go(g, -1, twice, (void *)4);
	join_ok(e2, 8); /* e, spawned before on the one worker, has ended too */
	CHECK_EQ(corun_task_cancel(e), 0);
	join_ok(e, 6);
	CHECK_EQ(corun_group_stop(g, CORUN_GROUP_DRAIN), 0);
	CHECK_EQ(atomic_load(&ran), 0);
}

/* ---- stop */

struct drain {
	corun_group *g;
	atomic_int done, refused;
};

static void *slow(void *arg)
{
	struct drain *d = arg;
	corun_sleep(2 * MS);
	atomic_fetch_add(&d->done, 1);
	return NULL;
}

/* Spawns until the stop refuses it: what it spawned before is drained. */
static void *spawn_until_refused(void *arg)
{
	struct drain *d = arg;
	for (;;) {
		corun_task *t = corun_group_go(d->g, -1, slow, d);
		if (!t) {
			CHECK_EQ(errno, EPIPE);
			atomic_store(&d->refused, 1);
			break;
		}
		CHECK_EQ(corun_task_detach(t), 0);
		corun_sleep(MS / 2);
	}
	atomic_fetch_add(&d->done, 1);
	return NULL;
}

static void stop_drain(void)
{
	enum { N = 30 };
	struct drain d = { 0 };
	CHECK((d.g = corun_group_start(2, 0)) != NULL);
	corun_task *t[N];
	for (int i = 0; i < N; i++) /* more than the workers: most are queued */
		CHECK((t[i] = corun_group_go(d.g, i % 2 ? -1 : 0, slow, &d)) != NULL);
	corun_task *s = corun_group_go(d.g, -1, spawn_until_refused, &d);
	CHECK_EQ(corun_group_stop(d.g, CORUN_GROUP_DRAIN), 0);
	CHECK_EQ(atomic_load(&d.refused), 1);
	int done = atomic_load(&d.done);
	CHECK(done >= N + 1); /* every task, and those the spawner made */
	for (int i = 0; i < N; i++)
		join_ok(t[i], 0);
	join_ok(s, 0);
	CHECK_EQ(atomic_load(&d.done), done); /* nothing ran after the stop */
}

struct canceling {
	corun_group *g;
};

/* Lets the spinner go once the stop has begun (the group refuses tasks). */
static void *release_when_stopping(void *arg)
{
	corun_group *g = arg;
	for (;;) {
		corun_task *t = corun_group_go(g, 1, twice, NULL);
		if (!t)
			break;
		CHECK_EQ(corun_task_detach(t), 0);
		usleep(200);
	}
	CHECK_EQ(errno, EPIPE);
	atomic_store(&spin_release, 1);
	return NULL;
}

static void stop_cancel(void)
{
	enum { N = 8 };
	corun_group *g = corun_group_start(2, 0);
	CHECK(g != NULL);
	atomic_store(&spin_started, 0);
	atomic_store(&spin_release, 0);
	atomic_store(&ran, 0);
	corun_task *s = corun_group_go(g, 0, spinner, NULL);
	wait_flag(&spin_started);
	/* Blocked on worker 1; queued on worker 0, behind the spinner. */
	atomic_int started[N] = { 0 };
	corun_task *b[N], *q[N];
	for (int i = 0; i < N; i++) {
		b[i] = corun_group_go(g, 1, sleep_forever, &started[i]);
		q[i] = corun_group_go(g, 0, mark_ran, NULL);
	}
	for (int i = 0; i < N; i++)
		wait_flag(&started[i]);
	pthread_t th;
	CHECK_EQ(pthread_create(&th, NULL, release_when_stopping, g), 0);
	CHECK_EQ(corun_group_stop(g, CORUN_GROUP_CANCEL), 0);
	CHECK_EQ(pthread_join(th, NULL), 0);
	join_ok(s, 0);
	for (int i = 0; i < N; i++) {
		join_ok(b[i], ECANCELED);
		CHECK_ERRNO(corun_task_join(q[i], NULL, -1), ECANCELED);
		CHECK_EQ(corun_task_detach(q[i]), 0);
	}
	CHECK_EQ(atomic_load(&ran), 0);
}

/* A stop from a coroutine lets the others of its thread run. */
static void *stopper(void *arg)
{
	CHECK_EQ(corun_group_stop(arg, CORUN_GROUP_DRAIN), 0);
	return NULL;
}

static void *wait_then_release(void *arg)
{
	(void)arg;
	long one = 1;
	CHECK_EQ(corun_chan_send(gate, &one, -1), 0);
	return NULL;
}

static void stop_from_coroutine(void)
{
	corun_group *g = corun_group_start(1, 0);
	CHECK(g != NULL);
	CHECK((gate = corun_chan_make_shared(sizeof(long), 0)) != NULL);
	corun_task *t = corun_group_go(g, -1, gated, NULL);
	corun_t a = corun_go(stopper, g);
	corun_t b = corun_go(wait_then_release, NULL); /* runs while a waits */
	CHECK_EQ(corun_join(a, NULL), 0);
	CHECK_EQ(corun_join(b, NULL), 0);
	join_ok(t, 1);
	CHECK_EQ(corun_chan_free(gate), 0);
}

/* A second stop while one is under way is refused. */
static void *stop_on_thread(void *arg)
{
	CHECK_EQ(corun_group_stop(arg, CORUN_GROUP_DRAIN), 0);
	return NULL;
}

static void stop_twice(void)
{
	corun_group *g = corun_group_start(1, 0);
	CHECK(g != NULL);
	CHECK((gate = corun_chan_make_shared(sizeof(long), 0)) != NULL);
	corun_task *t = corun_group_go(g, -1, gated, NULL);
	pthread_t th;
	CHECK_EQ(pthread_create(&th, NULL, stop_on_thread, g), 0);
	corun_task *x;
	while ((x = corun_group_go(g, -1, twice, NULL)) != NULL) {
		CHECK_EQ(corun_task_detach(x), 0);
		usleep(200);
	}
	CHECK_EQ(errno, EPIPE);
	CHECK_ERRNO(corun_group_stop(g, CORUN_GROUP_CANCEL), EALREADY);
	long one = 1;
	CHECK_EQ(corun_chan_send(gate, &one, -1), 0);
	CHECK_EQ(pthread_join(th, NULL), 0);
	join_ok(t, 1);
	CHECK_EQ(corun_chan_free(gate), 0);
}

/* ---- an idle worker takes what a busy one cannot */

static void idle_takes_any(void)
{
	enum { N = 50 };
	corun_group *g = corun_group_start(3, 0);
	CHECK(g != NULL);
	atomic_store(&spin_started, 0);
	atomic_store(&spin_release, 0);
	corun_task *s = corun_group_go(g, 0, spinner, NULL);
	wait_flag(&spin_started);
	corun_task *t[N];
	for (int i = 0; i < N; i++)
		CHECK((t[i] = corun_group_go(g, -1, where, NULL)) != NULL);
	/* All of them end while worker 0 is still held. */
	for (int i = 0; i < N; i++) {
		void *r;
		CHECK_EQ(corun_task_join(t[i], &r, -1), 0);
		CHECK((intptr_t)r == 1 || (intptr_t)r == 2);
	}
	atomic_store(&spin_release, 1);
	join_ok(s, 0);
	CHECK_EQ(corun_group_stop(g, CORUN_GROUP_DRAIN), 0);
}

/* ---- fork */

static corun_group *forked_g;
static corun_task *forked_t;

static void in_forked_child(void)
{
	CHECK_EQ(corun_group_worker(), -1);
	CHECK_NULL_ERRNO(corun_group_go(forked_g, -1, twice, NULL), EPERM);
	CHECK_ERRNO(corun_task_join(forked_t, NULL, -1), EPERM);
	CHECK_ERRNO(corun_task_cancel(forked_t), EPERM);
	CHECK_ERRNO(corun_task_detach(forked_t), EPERM);
	CHECK_ERRNO(corun_group_stop(forked_g, CORUN_GROUP_DRAIN), EPERM);
	/* A group of its own works (TSan cannot start threads in a child of
	 * a process that has several). */
#ifndef UNDER_TSAN
	if (!threads_after_fork())
		return;
	corun_group *g = corun_group_start(1, 0);
	CHECK(g != NULL);
	join_ok(corun_group_go(g, -1, twice, (void *)21), 42);
	CHECK_EQ(corun_group_stop(g, CORUN_GROUP_DRAIN), 0);
#endif
}

static void *fork_in_task(void *arg)
{
	(void)arg;
	pid_t pid = fork();
	if (pid == 0) {
		_exit(corun_group_worker() == -1 ? 0 : 1);
	}
	int st;
	CHECK_EQ(waitpid(pid, &st, 0), pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	return NULL;
}

static void fork_running(void)
{
	CHECK((forked_g = corun_group_start(2, 0)) != NULL);
	CHECK((gate = corun_chan_make_shared(sizeof(long), 0)) != NULL);
	forked_t = corun_group_go(forked_g, -1, gated, NULL);
	in_child(in_forked_child);
	join_ok(corun_group_go(forked_g, 1, fork_in_task, NULL), 0);
	/* The parent's group is untouched. */
	long one = 1;
	CHECK_EQ(corun_chan_send(gate, &one, -1), 0);
	join_ok(forked_t, 1);
	CHECK_EQ(corun_group_stop(forked_g, CORUN_GROUP_DRAIN), 0);
	CHECK_EQ(corun_chan_free(gate), 0);
}

static const struct test tests[] = {
	TEST(results),
	TEST(on_worker_threads),
	TEST(stays_on_thread),
	TEST(joins),
	TEST(join_deadline),
	TEST(errors),
	TEST(cancel),
	TEST(stop_drain),
	TEST(stop_cancel),
	TEST(stop_from_coroutine),
	TEST(stop_twice),
	TEST(idle_takes_any),
	TEST(fork_running),
};

int main(int argc, char **argv)
{
	return RUN_TESTS(argc, argv, tests);
}
