/*
 * Channels and select: unbuffered handoffs and buffered FIFO order, senders
 * and receivers served in the order they came, close and free waking every
 * waiter, deadlines, cancellation, main as a sender and receiver, select's
 * choice (ready cases, waiting, closed channels, fairness with a fixed
 * seed), thousands of coroutines on one channel, and every error return.
 */
#define _GNU_SOURCE
#include "helpers.h"

#include <corun.h>
#include <stdint.h>

#include "priv.h" /* white box: the channel's own size, pending deadlines, select's seed */

static corun_chan *ch, *ch2;

/* ---- unbuffered: sender and receiver meet; values arrive in order */
static void *producer(void *arg)
{
	int n = (int)(intptr_t)arg;
	for (int i = 0; i < n; i++)
		CHECK_EQ(corun_chan_send(ch, &i, -1), 0);
	return NULL;
}

static void *consumer(void *arg)
{
	int n = (int)(intptr_t)arg;
	for (int i = 0; i < n; i++) {
		int v = -1;
		CHECK_EQ(corun_chan_recv(ch, &v, -1), 0);
		CHECK_EQ(v, i);
	}
	return (void *)(intptr_t)n;
}

static void unbuffered(void)
{
	ch = corun_chan_make(sizeof(int), 0);
	CHECK(ch != NULL);
	corun_t p = corun_go(producer, (void *)(intptr_t)1000);
	corun_t c = corun_go(consumer, (void *)(intptr_t)1000);
	CHECK_EQ(corun_join(p, NULL), 0);
	CHECK_EQ(corun_join(c, NULL), 0);
	/* Nothing waits: a send would block. */
	int v = 1;
	CHECK_ERRNO(corun_chan_send(ch, &v, 0), ETIMEDOUT);
	CHECK_ERRNO(corun_chan_recv(ch, &v, 0), ETIMEDOUT);
	corun_chan_free(ch);
}

/* ---- buffered: the sender runs ahead by the capacity, not more */
static int sent;
static void *counting_producer(void *arg)
{
	int n = (int)(intptr_t)arg;
	for (int i = 0; i < n; i++) {
		CHECK_EQ(corun_chan_send(ch, &i, -1), 0);
		sent++;
	}
	return NULL;
}

static void buffered(void)
{
	ch = corun_chan_make(sizeof(int), 4);
	sent = 0;
	corun_t p = corun_go(counting_producer, (void *)(intptr_t)10);
	CHECK_EQ(corun_park(), 0); /* it fills the buffer and waits */
	CHECK_EQ(sent, 4);
	for (int i = 0; i < 10; i++) {
		int v;
		CHECK_EQ(corun_chan_recv(ch, &v, -1), 0); /* from main */
		CHECK_EQ(v, i);
	}
	CHECK_EQ(corun_join(p, NULL), 0);
	CHECK_EQ(sent, 10);
	corun_chan_free(ch);
}

/* ---- waiters are served first come, first served */
static int order[8], norder;
static void *send_id(void *arg)
{
	int id = (int)(intptr_t)arg;
	CHECK_EQ(corun_chan_send(ch, &id, -1), 0);
	return NULL;
}

static void *recv_note(void *arg)
{
	(void)arg;
	int v;
	CHECK_EQ(corun_chan_recv(ch, &v, -1), 0);
	order[norder++] = v;
	return NULL;
}

static void fifo_waiters(void)
{
	ch = corun_chan_make(sizeof(int), 2);
	for (int i = 0; i < 6; i++)
		CHECK(corun_go(send_id, (void *)(intptr_t)i) > 0);
	CHECK_EQ(corun_park(), 0); /* 0 and 1 buffered, 2..5 wait in order */
	for (int i = 0; i < 6; i++) {
		int v;
		CHECK_EQ(corun_chan_recv(ch, &v, 0), 0);
		CHECK_EQ(v, i);
	}
	/* Receivers too: the first to wait gets the first element. */
	norder = 0;
	for (int i = 0; i < 3; i++)
		CHECK(corun_go(recv_note, NULL) > 0);
	CHECK_EQ(corun_park(), 0);
	for (int i = 0; i < 3; i++)
		CHECK_EQ(corun_chan_send(ch, &i, -1), 0);
	CHECK_EQ(corun_run(), 0);
	CHECK_EQ(norder, 3);
	for (int i = 0; i < 3; i++)
		CHECK_EQ(order[i], i);
	corun_chan_free(ch);
}

/* ---- close wakes everyone; receivers drain, then EPIPE */
static int piped;
static void *recv_expect_pipe(void *arg)
{
	(void)arg;
	int v;
	CHECK_ERRNO(corun_chan_recv(ch, &v, -1), EPIPE);
	piped++;
	return NULL;
}

static void *send_expect_pipe(void *arg)
{
	(void)arg;
	int v = 5;
	CHECK_ERRNO(corun_chan_send(ch2, &v, -1), EPIPE);
	piped++;
	return NULL;
}

static void close_wakes(void)
{
	ch = corun_chan_make(sizeof(int), 0);
	ch2 = corun_chan_make(sizeof(int), 1);
	int v = 1;
	CHECK_EQ(corun_chan_send(ch2, &v, 0), 0); /* full now */
	piped = 0;
	for (int i = 0; i < 3; i++) {
		CHECK(corun_go(recv_expect_pipe, NULL) > 0);
		CHECK(corun_go(send_expect_pipe, NULL) > 0);
	}
	CHECK_EQ(corun_park(), 0); /* all six wait */
	CHECK_EQ(corun_chan_close(ch), 0);
	CHECK_EQ(corun_chan_close(ch2), 0);
	CHECK_ERRNO(corun_chan_close(ch2), EPIPE);
	CHECK_EQ(corun_run(), 0);
	CHECK_EQ(piped, 6);
	CHECK_ERRNO(corun_chan_send(ch2, &v, -1), EPIPE);
	v = 0;
	CHECK_EQ(corun_chan_recv(ch2, &v, -1), 0); /* drains the buffered one */
	CHECK_EQ(v, 1);
	CHECK_ERRNO(corun_chan_recv(ch2, &v, -1), EPIPE);
	CHECK_ERRNO(corun_chan_recv(ch, &v, 0), EPIPE);
	corun_chan_free(ch);
	corun_chan_free(ch2);

	/* Freeing a channel with waiters closes it first. */
	ch = corun_chan_make(sizeof(int), 0);
	piped = 0;
	corun_t r = corun_go(recv_expect_pipe, NULL);
	CHECK_EQ(corun_park(), 0);
	CHECK_EQ(corun_chan_free(ch), 0);
	CHECK_EQ(corun_join(r, NULL), 0);
	CHECK_EQ(piped, 1);
	CHECK_EQ(corun_chan_free(NULL), 0);
}

/* ---- deadlines and cancellation */
static void *recv_timeout(void *arg)
{
	(void)arg;
	int v;
	CHECK_ERRNO(corun_chan_recv(ch, &v, corun_now() + 2 * MS), ETIMEDOUT);
	return NULL;
}

static void *recv_canceled(void *arg)
{
	(void)arg;
	int v;
	CHECK_ERRNO(corun_chan_recv(ch, &v, -1), ECANCELED);
	CHECK_ERRNO(corun_chan_recv(ch, &v, -1), ECANCELED); /* and from now on */
	return NULL;
}

static void *send_canceled(void *arg)
{
	(void)arg;
	int v = 1;
	CHECK_ERRNO(corun_chan_send(ch, &v, -1), ECANCELED);
	return NULL;
}

static void deadlines_and_cancel(void)
{
	ch = corun_chan_make(sizeof(int), 0);
	int v = 3;
	CHECK_ERRNO(corun_chan_recv(ch, &v, corun_now() + 1 * MS), ETIMEDOUT); /* main */
	corun_t a = corun_go(recv_timeout, NULL);
	CHECK_EQ(corun_join(a, NULL), 0);
	CHECK_EQ(corun_priv_timers(), 0);

	cancel_waiting(recv_canceled, NULL);
	/* It left the queue: nobody waits, so a send would block. */
	CHECK_ERRNO(corun_chan_send(ch, &v, 0), ETIMEDOUT);
	cancel_waiting(send_canceled, NULL);
	CHECK_ERRNO(corun_chan_recv(ch, &v, 0), ETIMEDOUT); /* its send was withdrawn */
	/* Main waiting on a channel nobody can ever send on: EDEADLK. */
	CHECK_ERRNO(corun_chan_recv(ch, &v, -1), EDEADLK);
	corun_chan_free(ch);
}

/* ---- thousands of coroutines on one channel */
static void *send_one(void *arg)
{
	int v = (int)(intptr_t)arg;
	CHECK_EQ(corun_chan_send(ch, &v, -1), 0);
	return NULL;
}

static void crowd(void)
{
	enum { N = 10000 };
	ch = corun_chan_make(sizeof(int), 16);
	for (int i = 0; i < N; i++)
		spawn_with(send_one, (void *)(intptr_t)i, CORUN_STACK_MIN, CORUN_DETACHED);
	static unsigned char seen[N];
	long sum = 0;
	for (int i = 0; i < N; i++) {
		int v;
		CHECK_EQ(corun_chan_recv(ch, &v, -1), 0);
		CHECK(v >= 0 && v < N && !seen[v]);
		seen[v] = 1;
		sum += v;
		CHECK_EQ(v, i); /* spawned in order, they send in order */
	}
	CHECK_EQ(sum, (long)N * (N - 1) / 2);
	CHECK_EQ(corun_run(), 0); /* the last ones still have to end */
	CHECK_EQ(corun_count(), 0);
	corun_chan_free(ch);
}

/* ---- signals: elem_size 0 */
static void *signal_me(void *arg)
{
	(void)arg;
	CHECK_EQ(corun_chan_send(ch, NULL, -1), 0);
	return NULL;
}

static void signals(void)
{
	ch = corun_chan_make(0, 0);
	corun_t s = corun_go(signal_me, NULL);
	CHECK_EQ(corun_chan_recv(ch, NULL, -1), 0);
	CHECK_EQ(corun_join(s, NULL), 0);
	corun_chan_free(ch);
}

/* ---- select */
static void *send_after(void *arg)
{
	int v = (int)(intptr_t)arg;
	CHECK_EQ(corun_sleep(1 * MS), 0);
	CHECK_EQ(corun_chan_send(ch2, &v, -1), 0);
	return NULL;
}

static void select_basic(void)
{
	ch = corun_chan_make(sizeof(int), 1);
	ch2 = corun_chan_make(sizeof(int), 0);
	int a = 0, b = 0, x = 11;
	corun_case cs[3] = {
		{ .chan = ch, .op = CORUN_RECV, .elem = &a },
		{ .chan = ch2, .op = CORUN_RECV, .elem = &b },
		{ .chan = ch, .op = CORUN_SEND, .elem = &x },
	};
	/* Only the send can go: the buffer has room. */
	CHECK_EQ(corun_select(cs, 3, 0), 2);
	CHECK_EQ(cs[2].err, 0);
	/* Now only the receive from ch can. */
	CHECK_EQ(corun_select(cs, 2, 0), 0);
	CHECK_EQ(a, 11);
	/* None can: deadline 0 fails, a later deadline waits and fails. */
	CHECK_ERRNO(corun_select(cs, 2, 0), ETIMEDOUT);
	CHECK_ERRNO(corun_select(cs, 2, corun_now() + 1 * MS), ETIMEDOUT);
	CHECK_EQ(corun_priv_timers(), 0);
	/* Waiting: the first to come wins, the other clause is withdrawn. */
	corun_t s = corun_go(send_after, (void *)(intptr_t)42);
	CHECK_EQ(corun_select(cs, 2, -1), 1);
	CHECK_EQ(b, 42);
	CHECK_EQ(corun_join(s, NULL), 0);
	CHECK_ERRNO(corun_chan_send(ch2, &x, 0), ETIMEDOUT); /* nobody left waiting */
	/* A closed channel is ready at once, with EPIPE in its case. */
	CHECK_EQ(corun_chan_close(ch2), 0);
	CHECK_EQ(corun_select(cs, 2, -1), 1);
	CHECK_EQ(cs[1].err, EPIPE);
	/* No cases: a sleep that fails with ETIMEDOUT. */
	CHECK_ERRNO(corun_select(NULL, 0, corun_now() + 1 * MS), ETIMEDOUT);
	CHECK_ERRNO(corun_select(NULL, 0, -1), EDEADLK); /* main, forever */
	corun_chan_free(ch);
	corun_chan_free(ch2);
}

/* Both always ready: with a fixed seed, each is taken about half the time. */
static void select_fair(void)
{
	enum { ROUNDS = 10000 };
	ch = corun_chan_make(sizeof(int), ROUNDS);
	ch2 = corun_chan_make(sizeof(int), ROUNDS);
	for (int i = 0; i < ROUNDS; i++) {
		CHECK_EQ(corun_chan_send(ch, &i, 0), 0);
		CHECK_EQ(corun_chan_send(ch2, &i, 0), 0);
	}
	corun_priv_select_seed(0x2545f4914f6cdd1dull); /* a fixed seed */
	int v, count[2] = { 0, 0 };
	corun_case cs[2] = { { ch, CORUN_RECV, &v, 0 }, { ch2, CORUN_RECV, &v, 0 } };
	for (int i = 0; i < ROUNDS; i++) {
		int k = corun_select(cs, 2, 0);
		CHECK(k == 0 || k == 1);
		count[k]++;
	}
	fprintf(stderr, "   %d / %d\n", count[0], count[1]);
	/* Binomial(10000, 1/2): 4,700..5,300 is more than 6 sigma wide. */
	CHECK(count[0] > 4700 && count[0] < 5300);
	corun_chan_free(ch);
	corun_chan_free(ch2);
}

static void *select_canceled(void *arg)
{
	(void)arg;
	int v;
	corun_case cs[1] = { { ch, CORUN_RECV, &v, 0 } };
	CHECK_ERRNO(corun_select(cs, 1, -1), ECANCELED);
	return NULL;
}

/* More cases than fit on the stack; one arrives late. */
static void *select_many(void *arg)
{
	(void)arg;
	static corun_chan *many[40];
	static corun_case cs[40];
	static int v;
	for (int i = 0; i < 40; i++) {
		many[i] = corun_chan_make(sizeof(int), 0);
		cs[i] = (corun_case){ many[i], CORUN_RECV, &v, 0 };
	}
	ch2 = many[33];
	CHECK_EQ(corun_select(cs, 40, -1), 33);
	CHECK_EQ(v, 77);
	for (int i = 0; i < 40; i++)
		corun_chan_free(many[i]);
	return NULL;
}

static void select_wait(void)
{
	ch = corun_chan_make(sizeof(int), 0);
	cancel_waiting(select_canceled, NULL);
	corun_chan_free(ch);

	corun_t m = corun_go(select_many, NULL);
	CHECK_EQ(corun_park(), 0);
	int v = 77;
	CHECK_EQ(corun_chan_send(ch2, &v, -1), 0);
	CHECK_EQ(corun_join(m, NULL), 0);
}

/* ---- errors */
static void *use_foreign(void *arg)
{
	corun_chan *c = arg;
	int v = 0;
	CHECK_ERRNO(corun_chan_send(c, &v, 0), EPERM);
	CHECK_ERRNO(corun_chan_recv(c, &v, 0), EPERM);
	CHECK_ERRNO(corun_chan_close(c), EPERM);
	corun_case cs[1] = { { c, CORUN_RECV, &v, 0 } };
	CHECK_ERRNO(corun_select(cs, 1, 0), EPERM);
	CHECK_ERRNO(corun_chan_free(c), EPERM); /* not ours: left alone */
	return NULL;
}

static void errors(void)
{
	int v = 0;
	CHECK_ERRNO(corun_chan_send(NULL, &v, 0), EINVAL);
	CHECK_ERRNO(corun_chan_recv(NULL, &v, 0), EINVAL);
	CHECK_ERRNO(corun_chan_close(NULL), EINVAL);
	CHECK_NULL_ERRNO(corun_chan_make(SIZE_MAX / 2, 4), EINVAL);
	/* The limit is PTRDIFF_MAX bytes, the channel's own included. */
	CHECK_NULL_ERRNO(corun_chan_make(SIZE_MAX, 0), EINVAL);
	CHECK_NULL_ERRNO(corun_chan_make(1, (size_t)PTRDIFF_MAX - corun_priv_chan_size() + 1),
			 EINVAL);
	CHECK_NULL_ERRNO(corun_chan_make((size_t)PTRDIFF_MAX / 4 + 1, 4), EINVAL);
	ch = corun_chan_make(sizeof(int), 1);
	CHECK_ERRNO(corun_chan_send(ch, NULL, 0), EINVAL);
	CHECK_ERRNO(corun_chan_send(ch, &v, -2), EINVAL);
	CHECK_ERRNO(corun_chan_recv(ch, &v, -2), EINVAL);
	corun_case bad[1] = { { ch, 7, &v, 0 } };
	CHECK_ERRNO(corun_select(bad, 1, 0), EINVAL);
	CHECK_ERRNO(corun_select(NULL, 1, 0), EINVAL);
	bad[0] = (corun_case){ NULL, CORUN_RECV, &v, 0 };
	CHECK_ERRNO(corun_select(bad, 1, 0), EINVAL);
	bad[0] = (corun_case){ ch, CORUN_SEND, NULL, 0 };
	CHECK_ERRNO(corun_select(bad, 1, 0), EINVAL);
	CHECK_ERRNO(corun_select(bad, 0, -2), EINVAL);
	/* Another thread's channel. */
	on_thread(use_foreign, ch);
	CHECK_EQ(corun_chan_send(ch, &v, 0), 0); /* still fine here */
	corun_chan_free(ch);
	/* A runtime shut down: its channels are nobody's now. */
	ch = corun_chan_make(sizeof(int), 1);
	CHECK_EQ(corun_shutdown(), 0);
	CHECK_ERRNO(corun_chan_send(ch, &v, 0), EPERM);
	corun_chan *fresh = corun_chan_make(sizeof(int), 1);
	CHECK_ERRNO(corun_chan_send(ch, &v, 0), EPERM); /* not the new one's either */
	corun_chan_free(fresh);
	free(ch); /* what corun_chan_free of its owner would have done */
}

int main(int argc, char **argv)
{
	static const struct test tests[] = {
		TEST(unbuffered), TEST(buffered), TEST(fifo_waiters),
		TEST(close_wakes), TEST(deadlines_and_cancel), TEST(crowd),
		TEST(signals), TEST(select_basic), TEST(select_fair),
		TEST(select_wait), TEST(errors),
	};
	return RUN_TESTS(argc, argv, tests);
}
