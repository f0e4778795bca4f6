/*
 * The operation budget: a coroutine whose blocking calls never have to
 * wait (it is fed faster than it works) still lets the others run, without
 * a corun_park of its own: after 128 blocking calls in a row with no wait,
 * the next yields first. The case that found it: a chat server's hub,
 * fanning each message out to its subscribers' channels without waiting,
 * dropped most of them because the subscribers never ran.
 */
#define _GNU_SOURCE
#include "helpers.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#define BUDGET 128 /* the header's figure */

/* ---- a hub fanning out to subscribers */
enum { MESSAGES = 10000, SUBS = 4, SUB_ROOM = 64 };

struct hub {
	corun_chan *in;
	corun_chan *out[SUBS];
	long dropped, received[SUBS];
};

static void *hub_loop(void *arg)
{
	struct hub *h = arg;
	long m;
	while (corun_chan_recv(h->in, &m, -1) == 0) /* always ready */
		for (int i = 0; i < SUBS; i++)
			if (corun_chan_send(h->out[i], &m, 0) < 0) { /* no waiting */
				CHECK_EQ(errno, ETIMEDOUT);
				h->dropped++;
			}
	CHECK_EQ(errno, EPIPE);
	for (int i = 0; i < SUBS; i++)
		CHECK_EQ(corun_chan_close(h->out[i]), 0);
	return NULL;
}

struct sub {
	struct hub *h;
	int i;
};

static void *sub_loop(void *arg)
{
	struct sub *s = arg;
	long m;
	while (corun_chan_recv(s->h->out[s->i], &m, -1) == 0)
		s->h->received[s->i]++;
	return NULL;
}

static void fan_out(void)
{
	struct hub h;
	memset(&h, 0, sizeof h);
	h.in = corun_chan_make(sizeof(long), MESSAGES);
	for (long m = 0; m < MESSAGES; m++)
		CHECK_EQ(corun_chan_send(h.in, &m, 0), 0);
	CHECK_EQ(corun_chan_close(h.in), 0);
	struct sub subs[SUBS];
	for (int i = 0; i < SUBS; i++) {
		h.out[i] = corun_chan_make(sizeof(long), SUB_ROOM);
		subs[i] = (struct sub){ &h, i };
		CHECK(corun_go(sub_loop, &subs[i]) > 0);
	}
	CHECK(corun_go(hub_loop, &h) > 0);
	CHECK_EQ(corun_run(), 0);
	/* Each message costs the hub SUBS + 1 calls: it yields every
	 * BUDGET / (SUBS + 1) messages, fewer than a subscriber's room. */
	CHECK_EQ(h.dropped, 0);
	for (int i = 0; i < SUBS; i++) {
		CHECK_EQ(h.received[i], MESSAGES);
		corun_chan_free(h.out[i]);
	}
	corun_chan_free(h.in);
}

/* ---- where the yield comes, exactly */
static long ticks;
static int stop_ticking;

static void *ticker(void *arg)
{
	(void)arg;
	while (!stop_ticking) {
		ticks++;
		corun_park(); /* not a blocking call: spends no budget */
	}
	return NULL;
}

/* After a wait, 127 ready calls run without a switch; the 128th yields
 * first, and the others run. */
static void *counted(void *arg)
{
	corun_chan *ch = arg;
	long v = 0;
	CHECK_EQ(corun_sleep(1 * MS), 0); /* a wait: the budget is full again */
	long before = ticks;
	for (int i = 1; i < BUDGET; i++) {
		CHECK_EQ(corun_chan_send(ch, &v, -1), 0); /* room: ready */
		CHECK_EQ(ticks, before);
	}
	CHECK_EQ(corun_chan_recv(ch, &v, -1), 0); /* the 128th */
	CHECK(ticks > before);
	stop_ticking = 1;
	return NULL;
}

static void exact(void)
{
	ticks = 0;
	stop_ticking = 0;
	corun_chan *ch = corun_chan_make(sizeof(long), BUDGET);
	corun_t t = corun_go(ticker, NULL);
	corun_t c = corun_go(counted, ch);
	CHECK_EQ(corun_join(c, NULL), 0);
	CHECK_EQ(corun_join(t, NULL), 0);
	corun_chan_free(ch);
}

/* ---- a reader of a descriptor that always has data */
static void *pipe_reader(void *arg)
{
	int fd = *(int *)arg;
	char c;
	long seen = -1; /* the read during which the ticker first ran */
	long before = ticks;
	for (long i = 0; i < 4 * BUDGET; i++) {
		CHECK_EQ(corun_read(fd, &c, 1, -1), 1);
		if (seen < 0 && ticks != before)
			seen = i;
	}
	stop_ticking = 1;
	CHECK(seen >= 0 && seen < BUDGET);
	return NULL;
}

static void reader(void)
{
	ticks = 0;
	stop_ticking = 0;
	int p[2];
	CHECK_EQ(pipe(p), 0);
	char buf[4 * BUDGET];
	memset(buf, 'x', sizeof buf);
	CHECK_EQ(write(p[1], buf, sizeof buf), (ssize_t)sizeof buf);
	corun_t r = corun_go(pipe_reader, &p[0]);
	corun_t t = corun_go(ticker, NULL);
	CHECK_EQ(corun_join(r, NULL), 0);
	CHECK_EQ(corun_join(t, NULL), 0);
	CHECK_EQ(corun_close(p[0]), 0);
	CHECK_EQ(corun_close(p[1]), 0);
}

/* ---- main receiving from a busy channel lets the coroutines run */
static void from_main(void)
{
	ticks = 0;
	stop_ticking = 0;
	corun_chan *ch = corun_chan_make(sizeof(long), 4 * BUDGET);
	for (long m = 0; m < 4 * BUDGET; m++)
		CHECK_EQ(corun_chan_send(ch, &m, 0), 0);
	corun_t t = corun_go(ticker, NULL);
	long seen = -1;
	for (long i = 0; i < 4 * BUDGET; i++) {
		long m;
		CHECK_EQ(corun_chan_recv(ch, &m, -1), 0);
		CHECK_EQ(m, i); /* the yield loses nothing, reorders nothing */
		if (seen < 0 && ticks)
			seen = i;
	}
	CHECK(seen >= 0 && seen < BUDGET + 1);
	stop_ticking = 1;
	CHECK_EQ(corun_join(t, NULL), 0);
	corun_chan_free(ch);
}

int main(int argc, char **argv)
{
	static const struct test tests[] = {
		TEST(fan_out), TEST(exact), TEST(reader), TEST(from_main),
	};
	return RUN_TESTS(argc, argv, tests);
}
