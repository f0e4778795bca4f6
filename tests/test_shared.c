/*
 * Objects shared between threads: channels, select, mutexes and wait
 * groups made with corun_*_make_shared, used by the coroutines and the
 * main contexts of several threads at once, and by plain threads that
 * never spawned. Each test checks what crossed (every message, in order
 * where order is promised), and the contract's edges across threads:
 * deadlines, cancellation, close and free from another thread, a thread
 * that exits while others still use what it made or while its coroutines
 * wait on shared objects, the errors.
 */
#include "helpers.h"
#include "priv.h"

#include <corun.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <unistd.h>

static pthread_t thread_start(void *(*fn)(void *), void *arg)
{
	pthread_t t;
	CHECK_EQ(pthread_create(&t, NULL, fn, arg), 0);
	return t;
}

static void *thread_join(pthread_t t)
{
	void *r;
	CHECK_EQ(pthread_join(t, &r), 0);
	return r;
}

/* ---- a plain thread wakes a coroutine of another runtime */

static void *recv_one(void *arg)
{
	long v = 0;
	CHECK_EQ(corun_chan_recv(arg, &v, -1), 0);
	return (void *)v;
}

static void *plain_send(void *arg)
{
	usleep(20000); /* let the receiver sleep in the kernel */
	long v = 42;
	CHECK_EQ(corun_chan_send(arg, &v, -1), 0);
	return NULL;
}

static void plain_thread_wakes(void)
{
	corun_chan *ch = corun_chan_make_shared(sizeof(long), 0);
	CHECK(ch != NULL);
	corun_t h = corun_go(recv_one, ch);
	pthread_t t = thread_start(plain_send, ch);
	void *r;
	CHECK_EQ(corun_join(h, &r), 0);
	CHECK_EQ((long)r, 42);
	thread_join(t);
	CHECK_EQ(corun_chan_free(ch), 0);
}

/* ---- ping-pong between coroutines of two threads */

enum { ROUNDS = 20000 };

struct pp {
	corun_chan *ping, *pong;
};

static void *ponger(void *arg)
{
	struct pp *p = arg;
	for (long i = 0; i < ROUNDS; i++) {
		long v;
		CHECK_EQ(corun_chan_recv(p->ping, &v, -1), 0);
		CHECK_EQ(v, i);
		v = -i;
		CHECK_EQ(corun_chan_send(p->pong, &v, -1), 0);
	}
	return NULL;
}

static void *ponger_thread(void *arg)
{
	corun_go(ponger, arg);
	CHECK_EQ(corun_run(), 0);
	return NULL;
}

static void *pinger(void *arg)
{
	struct pp *p = arg;
	for (long i = 0; i < ROUNDS; i++) {
		CHECK_EQ(corun_chan_send(p->ping, &i, -1), 0);
		long v;
		CHECK_EQ(corun_chan_recv(p->pong, &v, -1), 0);
		CHECK_EQ(v, -i);
	}
	return NULL;
}

static void ping_pong(void)
{
	for (int cap = 0; cap <= 1; cap++) {
		struct pp p = { corun_chan_make_shared(sizeof(long), (size_t)cap),
				corun_chan_make_shared(sizeof(long), (size_t)cap) };
		pthread_t t = thread_start(ponger_thread, &p);
		corun_go(pinger, &p);
		CHECK_EQ(corun_run(), 0);
		thread_join(t);
		CHECK_EQ(corun_chan_free(p.ping), 0);
		CHECK_EQ(corun_chan_free(p.pong), 0);
	}
}

/* ---- main waits on a shared channel; the sender is another thread's
 * coroutine */

static void *send_from_coroutine(void *arg)
{
	long v = 7;
	CHECK_EQ(corun_sleep(10 * MS), 0);
	CHECK_EQ(corun_chan_send(arg, &v, -1), 0);
	return NULL;
}

static void *run_sender(void *arg)
{
	corun_go(send_from_coroutine, arg);
	CHECK_EQ(corun_run(), 0);
	return NULL;
}

static void main_waits(void)
{
	corun_chan *ch = corun_chan_make_shared(sizeof(long), 0);
	pthread_t t = thread_start(run_sender, ch);
	long v = 0;
	CHECK_EQ(corun_chan_recv(ch, &v, -1), 0); /* main: no coroutine here */
	CHECK_EQ(v, 7);
	thread_join(t);
	corun_chan_free(ch);
}

/* ---- many producers and consumers on several threads, buffered */

enum { PRODUCERS = 4, PER_PRODUCER = 5000, THREADS = 4 };

struct mpmc {
	corun_chan *ch;
	corun_wg *producing;
	_Atomic long sum, count;
};

static void *produce(void *arg)
{
	struct mpmc *m = arg;
	for (long i = 1; i <= PER_PRODUCER; i++)
		CHECK_EQ(corun_chan_send(m->ch, &i, -1), 0);
	CHECK_EQ(corun_wg_done(m->producing), 0);
	return NULL;
}

static void *consume(void *arg)
{
	struct mpmc *m = arg;
	long v;
	while (corun_chan_recv(m->ch, &v, -1) == 0) {
		atomic_fetch_add(&m->sum, v);
		atomic_fetch_add(&m->count, 1);
	}
	CHECK_EQ(errno, EPIPE);
	return NULL;
}

static void *mpmc_thread(void *arg)
{
	corun_go(produce, arg);
	corun_go(consume, arg);
	corun_go(consume, arg);
	CHECK_EQ(corun_run(), 0);
	return NULL;
}

static void many_to_many(void)
{
	struct mpmc m = { corun_chan_make_shared(sizeof(long), 16), corun_wg_make_shared(), 0, 0 };
	CHECK_EQ(corun_wg_add(m.producing, THREADS), 0);
	pthread_t t[THREADS];
	for (int i = 0; i < THREADS; i++)
		t[i] = thread_start(mpmc_thread, &m);
	CHECK_EQ(corun_wg_wait(m.producing, -1), 0); /* main of this thread */
	CHECK_EQ(corun_chan_close(m.ch), 0);
	for (int i = 0; i < THREADS; i++)
		thread_join(t[i]);
	CHECK_EQ(m.count, (long)THREADS * PER_PRODUCER);
	CHECK_EQ(m.sum, (long)THREADS * PER_PRODUCER * (PER_PRODUCER + 1) / 2);
	CHECK_EQ(corun_chan_free(m.ch), 0);
	CHECK_EQ(corun_wg_free(m.producing), 0);
}

/* ---- select over shared and local channels */

struct sel {
	corun_chan *shared_a, *shared_b, *local;
	long got[3];
};

static void *feed_local(void *arg)
{
	struct sel *s = arg;
	for (long i = 0; i < 100; i++)
		CHECK_EQ(corun_chan_send(s->local, &i, -1), 0);
	return NULL;
}

static void *feed_shared(void *arg)
{
	struct sel *s = arg;
	for (long i = 0; i < 100; i++) {
		CHECK_EQ(corun_chan_send(s->shared_a, &i, -1), 0);
		CHECK_EQ(corun_chan_send(s->shared_b, &i, -1), 0);
	}
	return NULL;
}

static void *selecting(void *arg)
{
	struct sel *s = arg;
	long v[3];
	corun_case c[3] = {
		{ .chan = s->shared_a, .op = CORUN_RECV, .elem = &v[0] },
		{ .chan = s->local, .op = CORUN_RECV, .elem = &v[1] },
		{ .chan = s->shared_b, .op = CORUN_RECV, .elem = &v[2] },
	};
	for (int n = 0; n < 300; n++) {
		int i = corun_select(c, 3, corun_now() + 5000 * MS);
		CHECK(i >= 0 && i < 3);
		CHECK_EQ(c[i].err, 0);
		CHECK_EQ(v[i], s->got[i]); /* each channel's order kept */
		s->got[i]++;
	}
	/* Nothing left: the deadline. */
	CHECK_ERRNO(corun_select(c, 3, corun_now() + 5 * MS), ETIMEDOUT);
	CHECK_ERRNO(corun_select(c, 3, 0), ETIMEDOUT);
	return NULL;
}

static void *run_feed_shared(void *arg)
{
	corun_go(feed_shared, arg);
	CHECK_EQ(corun_run(), 0);
	return NULL;
}

static void select_mixed(void)
{
	struct sel s = { corun_chan_make_shared(sizeof(long), 0),
			 corun_chan_make_shared(sizeof(long), 3), corun_chan_make(sizeof(long), 0),
			 { 0, 0, 0 } };
	pthread_t t = thread_start(run_feed_shared, &s);
	corun_go(selecting, &s);
	corun_go(feed_local, &s);
	CHECK_EQ(corun_run(), 0);
	thread_join(t);
	CHECK_EQ(s.got[0], 100);
	CHECK_EQ(s.got[1], 100);
	CHECK_EQ(s.got[2], 100);
	corun_chan_free(s.shared_a);
	corun_chan_free(s.shared_b);
	corun_chan_free(s.local);
}

/* Two threads select on the same two shared channels at once, while two
 * others send on them: each message is received exactly once. */
enum { RACE_N = 20000 };
static _Atomic long race_seen[2][RACE_N];

static void *race_select(void *arg)
{
	corun_chan **ch = arg;
	long v[2];
	corun_case c[2] = { { .chan = ch[0], .op = CORUN_RECV, .elem = &v[0] },
			    { .chan = ch[1], .op = CORUN_RECV, .elem = &v[1] } };
	for (;;) {
		int i = corun_select(c, 2, -1);
		CHECK(i == 0 || i == 1);
		if (c[i].err == EPIPE)
			return NULL;
		CHECK_EQ(c[i].err, 0);
		CHECK_EQ(atomic_fetch_add(&race_seen[i][v[i]], 1), 0);
	}
}

static void *race_send(void *arg)
{
	corun_chan *ch = arg;
	for (long i = 0; i < RACE_N; i++)
		CHECK_EQ(corun_chan_send(ch, &i, -1), 0);
	return NULL;
}

static void select_race(void)
{
	corun_chan *ch[2] = { corun_chan_make_shared(sizeof(long), 0),
			      corun_chan_make_shared(sizeof(long), 0) };
	pthread_t r1 = thread_start(race_select, ch), r2 = thread_start(race_select, ch);
	pthread_t s1 = thread_start(race_send, ch[0]), s2 = thread_start(race_send, ch[1]);
	thread_join(s1);
	thread_join(s2);
	/* Every message was taken: close one channel; each selecter wakes
	 * with EPIPE from it. */
	corun_chan_close(ch[0]);
	thread_join(r1);
	thread_join(r2);
	for (int k = 0; k < 2; k++)
		for (long i = 0; i < RACE_N; i++)
			CHECK_EQ(race_seen[k][i], 1);
	corun_chan_free(ch[0]);
	corun_chan_free(ch[1]);
}

/* ---- deadlines and cancellation on shared waits */

static void *recv_canceled(void *arg)
{
	long v;
	CHECK_ERRNO(corun_chan_recv(arg, &v, -1), ECANCELED);
	return NULL;
}

static void deadlines_and_cancel(void)
{
	corun_chan *ch = corun_chan_make_shared(sizeof(long), 0);
	long v = 1;
	int64_t t0 = corun_now();
	CHECK_ERRNO(corun_chan_recv(ch, &v, t0 + 20 * MS), ETIMEDOUT);
	CHECK(corun_now() >= t0 + 20 * MS);
	CHECK_ERRNO(corun_chan_send(ch, &v, 0), ETIMEDOUT);
	CHECK_ERRNO(corun_chan_recv(ch, &v, 0), ETIMEDOUT);
	CHECK_ERRNO(corun_chan_recv(ch, &v, -5), EINVAL);
	CHECK_ERRNO(corun_chan_send(ch, NULL, -1), EINVAL);
	(void)cancel_waiting(recv_canceled, ch);
	/* The channel is intact: a plain thread's send reaches a receiver. */
	corun_t h = corun_go(recv_one, ch);
	pthread_t t = thread_start(plain_send, ch);
	void *r;
	CHECK_EQ(corun_join(h, &r), 0);
	CHECK_EQ((long)r, 42);
	thread_join(t);
	corun_chan_free(ch);
}

/* ---- close and free from another thread */

static void *close_later(void *arg)
{
	usleep(20000);
	CHECK_EQ(corun_chan_close(arg), 0);
	CHECK_ERRNO(corun_chan_close(arg), EPIPE);
	return NULL;
}

static void *recv_epipe(void *arg)
{
	long v;
	CHECK_ERRNO(corun_chan_recv(arg, &v, -1), EPIPE);
	return NULL;
}

static void *free_later(void *arg)
{
	usleep(20000);
	CHECK_EQ(corun_chan_free(arg), 0);
	return NULL;
}

static void *select_two(void *arg)
{
	corun_chan **ch = arg;
	long v[2];
	corun_case c[2] = { { .chan = ch[0], .op = CORUN_RECV, .elem = &v[0] },
			    { .chan = ch[1], .op = CORUN_RECV, .elem = &v[1] } };
	CHECK_EQ(corun_select(c, 2, -1), 0);
	CHECK_EQ(c[0].err, EPIPE); /* ch[0] was freed while we waited */
	return NULL;
}

static void close_and_free_elsewhere(void)
{
	corun_chan *ch = corun_chan_make_shared(sizeof(long), 0);
	corun_t a = corun_go(recv_epipe, ch), b = corun_go(recv_epipe, ch);
	pthread_t t = thread_start(close_later, ch);
	CHECK_EQ(corun_join(a, NULL), 0);
	CHECK_EQ(corun_join(b, NULL), 0);
	thread_join(t);
	CHECK_EQ(corun_chan_free(ch), 0);

	corun_chan *two[2] = { corun_chan_make_shared(sizeof(long), 0),
			       corun_chan_make_shared(sizeof(long), 0) };
	corun_t s = corun_go(select_two, two);
	t = thread_start(free_later, two[0]);
	CHECK_EQ(corun_join(s, NULL), 0);
	thread_join(t);
	CHECK_EQ(corun_chan_free(two[1]), 0);
}

/* ---- a buffered channel between two busy threads, small buffers and short
 * random pauses: each side meets the other queued, about to queue, and
 * neither, and every message must arrive once and in order; the watchdog
 * turns a lost wakeup (a consumer waiting on data while its producer waits
 * on room) into a failure. */

#define TIGHT_N 100000

static void pause_a_little(uint32_t *x)
{
	*x ^= *x << 13, *x ^= *x >> 17, *x ^= *x << 5;
	if (*x % 8 == 0)
		for (volatile unsigned i = *x % 2048; i > 0; i--)
			;
}

static void *tight_produce(void *arg)
{
	uint32_t x = 2463534242u;
	for (long i = 1; i <= TIGHT_N; i++) {
		CHECK_EQ(corun_chan_send(arg, &i, -1), 0);
		pause_a_little(&x);
	}
	return NULL;
}

static void *tight_produce_thread(void *arg)
{
	corun_t h = corun_go(tight_produce, arg);
	CHECK(h > 0);
	CHECK_EQ(corun_join(h, NULL), 0);
	return NULL;
}

static void *tight_consume(void *arg)
{
	uint32_t x = 88675123u;
	for (long i = 1; i <= TIGHT_N; i++) {
		long v = 0;
		CHECK_EQ(corun_chan_recv(arg, &v, -1), 0);
		CHECK_EQ(v, i); /* one producer: in order, none lost or twice */
		pause_a_little(&x);
	}
	return NULL;
}

static void buffered_tight(void)
{
	static const size_t caps[] = { 1, 2, 16 };
	for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
		watchdog(60);
		corun_chan *ch = corun_chan_make_shared(sizeof(long), caps[c]);
		CHECK(ch != NULL);
		pthread_t t = thread_start(tight_produce_thread, ch);
		corun_t h = corun_go(tight_consume, ch);
		CHECK(h > 0);
		CHECK_EQ(corun_join(h, NULL), 0);
		thread_join(t);
		CHECK_EQ(corun_chan_free(ch), 0);
	}
	watchdog(0);
}

/* A free from another thread racing a receiver that has just queued, at
 * delays from none to a few microseconds: it must end with EPIPE, and the
 * channel's memory go exactly once (ASan, valgrind). */
static void *free_soon(void *arg)
{
	void **a = arg;
	/* Not before the receiver is inside its wait: a free racing a call
	 * that has not reached the channel yet is the caller's mistake. */
	while (corun_priv_chan_users(a[0]) == 0)
		;
	for (volatile long i = (long)(intptr_t)a[1]; i > 0; i--)
		;
	CHECK_EQ(corun_chan_free(a[0]), 0);
	return NULL;
}

static void free_racing_receive(void)
{
	watchdog(60);
	for (int i = 0; i < 2000; i++) {
		corun_chan *ch = corun_chan_make_shared(sizeof(long), 4);
		CHECK(ch != NULL);
		void *a[2] = { ch, (void *)(intptr_t)((i * 37) % 20000) };
		corun_t h = corun_go(recv_epipe, ch);
		CHECK(h > 0);
		pthread_t t = thread_start(free_soon, a);
		CHECK_EQ(corun_join(h, NULL), 0);
		thread_join(t);
	}
	watchdog(0);
}

/* ---- objects outlive the thread that made them; a thread exits while its
 * coroutines wait on shared objects */

static void *make_and_exit(void *arg)
{
	(void)arg;
	corun_chan *ch = corun_chan_make_shared(sizeof(long), 4);
	long v = 5;
	CHECK_EQ(corun_chan_send(ch, &v, -1), 0);
	return ch; /* its runtime goes with the thread */
}

static void *wait_then_leave(void *arg)
{
	/* Coroutines left waiting on shared objects when the thread exits:
	 * its release withdraws them. */
	corun_go(recv_one, arg);
	corun_go(recv_one, arg);
	CHECK_EQ(corun_park(), 0);
	return NULL;
}

static void outlive_threads(void)
{
	corun_chan *ch = thread_join(thread_start(make_and_exit, NULL));
	long v = 0;
	CHECK_EQ(corun_chan_recv(ch, &v, -1), 0);
	CHECK_EQ(v, 5);
	thread_join(thread_start(wait_then_leave, ch));
	/* Nobody waits now: a send goes to the buffer, a receive takes it. */
	v = 9;
	CHECK_EQ(corun_chan_send(ch, &v, 0), 0);
	CHECK_EQ(corun_chan_recv(ch, &v, 0), 0);
	CHECK_EQ(v, 9);
	CHECK_EQ(corun_chan_free(ch), 0);
}

/* ---- shared mutexes and wait groups */

enum { LOCKERS = 4, LOCK_ROUNDS = 2000 };

struct counter {
	corun_mutex *mu;
	corun_wg *wg;
	long value;
};

static void *lock_loop(void *arg)
{
	struct counter *c = arg;
	for (int i = 0; i < LOCK_ROUNDS; i++) {
		CHECK_EQ(corun_mutex_lock(c->mu, -1), 0);
		long v = c->value;
		if (i % 7 == 0)
			corun_park(); /* hold it across a switch */
		c->value = v + 1;
		CHECK_EQ(corun_mutex_unlock(c->mu), 0);
	}
	CHECK_EQ(corun_wg_done(c->wg), 0);
	return NULL;
}

static void *lockers(void *arg)
{
	corun_go(lock_loop, arg);
	corun_go(lock_loop, arg);
	CHECK_EQ(corun_run(), 0);
	return NULL;
}

static void mutex_across(void)
{
	struct counter c = { corun_mutex_make_shared(), corun_wg_make_shared(), 0 };
	CHECK_EQ(corun_wg_add(c.wg, 2 * LOCKERS), 0);
	pthread_t t[LOCKERS];
	for (int i = 0; i < LOCKERS; i++)
		t[i] = thread_start(lockers, &c);
	CHECK_EQ(corun_wg_wait(c.wg, -1), 0);
	for (int i = 0; i < LOCKERS; i++)
		thread_join(t[i]);
	CHECK_EQ(c.value, (long)2 * LOCKERS * LOCK_ROUNDS);
	CHECK_EQ(corun_mutex_free(c.mu), 0);
	CHECK_EQ(corun_wg_free(c.wg), 0);
}

static void *hold_and_end(void *arg)
{
	CHECK_EQ(corun_mutex_lock(arg, -1), 0);
	return NULL; /* ends holding it */
}

static void *run_hold_and_end(void *arg)
{
	corun_t h = corun_go(hold_and_end, arg);
	CHECK_EQ(corun_join(h, NULL), 0);
	return NULL;
}

static void *unlock_foreign(void *arg)
{
	CHECK_ERRNO(corun_mutex_unlock(arg), EPERM);
	return NULL;
}

static void mutex_errors(void)
{
	corun_mutex *mu = corun_mutex_make_shared();
	CHECK_EQ(corun_mutex_lock(mu, -1), 0);
	CHECK_ERRNO(corun_mutex_lock(mu, -1), EDEADLK);
	thread_join(thread_start(unlock_foreign, mu)); /* another thread's main */
	CHECK_ERRNO(corun_mutex_free(mu), EBUSY);
	CHECK_EQ(corun_mutex_unlock(mu), 0);
	CHECK_ERRNO(corun_mutex_unlock(mu), EPERM);
	/* A holder on another thread ends holding it: the next taker is told. */
	thread_join(thread_start(run_hold_and_end, mu));
	CHECK_ERRNO(corun_mutex_lock(mu, -1), EOWNERDEAD);
	CHECK_EQ(corun_mutex_unlock(mu), 0);
	CHECK_EQ(corun_mutex_lock(mu, 0), 0);
	CHECK_EQ(corun_mutex_unlock(mu), 0);
	CHECK_EQ(corun_mutex_free(mu), 0);

	corun_wg *wg = corun_wg_make_shared();
	CHECK_EQ(corun_wg_add(wg, 1), 0);
	CHECK_ERRNO(corun_wg_wait(wg, corun_now() + 5 * MS), ETIMEDOUT);
	CHECK_ERRNO(corun_wg_wait(wg, 0), ETIMEDOUT);
	CHECK_ERRNO(corun_wg_add(wg, -2), EINVAL);
	CHECK_EQ(corun_wg_done(wg), 0);
	CHECK_EQ(corun_wg_wait(wg, 0), 0);
	CHECK_EQ(corun_wg_free(wg), 0);
}

/* ---- every shared wait ends at its deadline and on cancel, with the
 * object held by another thread meanwhile */

struct held {
	corun_mutex *mu;
	corun_wg *wg;
	corun_chan *ch;
	pthread_barrier_t locked, release;
};

static void *hold_on_thread(void *arg)
{
	struct held *h = arg;
	CHECK_EQ(corun_mutex_lock(h->mu, -1), 0);
	pthread_barrier_wait(&h->locked);
	pthread_barrier_wait(&h->release);
	CHECK_EQ(corun_mutex_unlock(h->mu), 0);
	return NULL;
}

static void *lock_canceled(void *arg)
{
	CHECK_ERRNO(corun_mutex_lock(((struct held *)arg)->mu, -1), ECANCELED);
	return NULL;
}

static void *wg_canceled(void *arg)
{
	CHECK_ERRNO(corun_wg_wait(((struct held *)arg)->wg, -1), ECANCELED);
	return NULL;
}

static void *select_canceled(void *arg)
{
	struct held *h = arg;
	long v;
	corun_case c[2] = { { .chan = h->ch, .op = CORUN_RECV, .elem = &v },
			    { .chan = h->ch, .op = CORUN_SEND, .elem = &v } };
	/* Both directions on one unbuffered channel: neither can go. */
	CHECK_ERRNO(corun_select(c, 2, -1), ECANCELED);
	return NULL;
}

static void *send_canceled(void *arg)
{
	long v = 1;
	CHECK_ERRNO(corun_chan_send(((struct held *)arg)->ch, &v, -1), ECANCELED);
	return NULL;
}

static void every_wait_ends(void)
{
	struct held h = { .mu = corun_mutex_make_shared(),
			  .wg = corun_wg_make_shared(),
			  .ch = corun_chan_make_shared(sizeof(long), 0) };
	pthread_barrier_init(&h.locked, NULL, 2);
	pthread_barrier_init(&h.release, NULL, 2);
	pthread_t t = thread_start(hold_on_thread, &h);
	pthread_barrier_wait(&h.locked);
	CHECK_ERRNO(corun_mutex_lock(h.mu, 0), ETIMEDOUT);
	CHECK_ERRNO(corun_mutex_lock(h.mu, corun_now() + 5 * MS), ETIMEDOUT);
	(void)cancel_waiting(lock_canceled, &h);
	CHECK_EQ(corun_wg_add(h.wg, 1), 0);
	(void)cancel_waiting(wg_canceled, &h);
	(void)cancel_waiting(select_canceled, &h);
	(void)cancel_waiting(send_canceled, &h);
	long v;
	corun_case c[2] = { { .chan = h.ch, .op = CORUN_RECV, .elem = &v },
			    { .chan = h.ch, .op = CORUN_SEND, .elem = &v } };
	CHECK_ERRNO(corun_select(c, 2, corun_now() + 5 * MS), ETIMEDOUT);
	pthread_barrier_wait(&h.release);
	thread_join(t);
	/* Nothing is left queued: the mutex is free and takes at once. */
	CHECK_EQ(corun_mutex_lock(h.mu, 0), 0);
	CHECK_EQ(corun_mutex_unlock(h.mu), 0);
	CHECK_EQ(corun_wg_done(h.wg), 0);
	CHECK_EQ(corun_mutex_free(h.mu), 0);
	CHECK_EQ(corun_wg_free(h.wg), 0);
	CHECK_EQ(corun_chan_free(h.ch), 0);
	pthread_barrier_destroy(&h.locked);
	pthread_barrier_destroy(&h.release);
}

/* ---- the thread-local rule stays */

static void *use_foreign(void *arg)
{
	long v = 1;
	CHECK_ERRNO(corun_chan_send(arg, &v, 0), EPERM);
	corun_case c = { .chan = arg, .op = CORUN_SEND, .elem = &v };
	CHECK_ERRNO(corun_select(&c, 1, 0), EPERM);
	CHECK_ERRNO(corun_chan_free(arg), EPERM);
	return NULL;
}

static void local_stays_local(void)
{
	corun_chan *ch = corun_chan_make(sizeof(long), 1);
	thread_join(thread_start(use_foreign, ch));
	CHECK_EQ(corun_chan_free(ch), 0);
	CHECK_NULL_ERRNO(corun_chan_make_shared(SIZE_MAX, 2), EINVAL);
	CHECK_ERRNO(corun_chan_send(NULL, NULL, -1), EINVAL);
}

int main(int argc, char **argv)
{
	static const struct test tests[] = {
		TEST(plain_thread_wakes), TEST(ping_pong), TEST(main_waits),
		TEST(many_to_many), TEST(select_mixed), TEST(select_race),
		TEST(deadlines_and_cancel), TEST(close_and_free_elsewhere),
		TEST(outlive_threads), TEST(mutex_across), TEST(mutex_errors), TEST(every_wait_ends),
		TEST(local_stays_local), TEST(buffered_tight), TEST(free_racing_receive),
	};
	return RUN_TESTS(argc, argv, tests);
}
