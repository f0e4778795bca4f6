/*
 * The program tests/gdb/check.sh debugs: named coroutines left in distinct
 * states, then a stop at gdb_stop_here() inside one of them, where gdb
 * lists them (tools/gdb/corun-gdb.py) and writes a core file of it.
 *
 *   parker    runnable: parks in a loop (its resume point is corun_park's
 *             call site in park_loop)
 *   sleeper   waits on a deadline an hour away (sleep_long)
 *   receiver  waits in corun_chan_recv on an empty channel (recv_one)
 *   joiner    waits in corun_join for sleeper (join_sleeper)
 *   reader    waits on a pipe's read end in corun_read (read_pipe)
 *   grouped   waits in corun_wg_wait (wait_group)
 *   sender    waits in corun_chan_send on a channel nobody receives from
 *             (send_one)
 *   selector  waits in corun_select, to receive from one channel or send
 *             on another, with a deadline an hour away (select_two)
 *   locker    waits in corun_mutex_lock for a mutex main holds, with a
 *             deadline an hour away (lock_held)
 *   writer    waits in corun_write on a full pipe (write_full)
 *   either    waits in corun_wait_fd for an empty pipe's read end to be
 *             readable or writable (wait_either)
 *   forever   waits in corun_sleep_until(-1) (sleep_forever)
 *   stopper   running: calls gdb_stop_here (stop_in_coroutine)
 *   fresh     spawned after stopper ran: runnable, never started
 *
 * So every reason a coroutine waits for (src/core/co.h) has one waiting
 * for it. gdb_ids[] holds their ids (corun_id) in that order and handles[]
 * their handles, for the checks; the ids and the objects waited on are
 * printed too, for the checks of a program without debug information. Run
 * without a debugger, gdb_stop_here returns and everything is released or
 * canceled, so the program ends (exit status 0).
 */
#include "corun.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

enum {
	PARKER,
	SLEEPER,
	RECEIVER,
	JOINER,
	READER,
	GROUPED,
	SENDER,
	SELECTOR,
	LOCKER,
	WRITER,
	EITHER,
	FOREVER,
	STOPPER,
	FRESH,
	N
};

#define HOUR (INT64_C(3600) * 1000000000)

int64_t gdb_ids[N];
static corun_t handles[N];
static volatile int done;
static corun_chan *chan, *chan2, *chan3, *chan4;
static corun_wg *wg;
static corun_mutex *mu;
static int pipefd[2], fullfd[2], emptyfd[2];

__attribute__((noinline)) void gdb_stop_here(void)
{
	__asm__ volatile("" ::: "memory");
}

static void *park_loop(void *arg)
{
	(void)arg;
	while (!done)
		corun_park();
	return NULL;
}

static void *sleep_long(void *arg)
{
	(void)arg;
	corun_sleep(HOUR); /* canceled at the end */
	return NULL;
}

static void *recv_one(void *arg)
{
	(void)arg;
	int v;
	corun_chan_recv(chan, &v, -1); /* the channel is closed at the end */
	return NULL;
}

static void *join_sleeper(void *arg)
{
	(void)arg;
	corun_join(handles[SLEEPER], NULL);
	return NULL;
}

static void *read_pipe(void *arg)
{
	(void)arg;
	char c;
	corun_read(pipefd[0], &c, 1, -1); /* a byte is written at the end */
	return NULL;
}

static void *wait_group(void *arg)
{
	(void)arg;
	corun_wg_wait(wg, -1);
	return NULL;
}

static void *send_one(void *arg)
{
	(void)arg;
	int v = 1;
	corun_chan_send(chan2, &v, -1); /* canceled at the end */
	return NULL;
}

static void *select_two(void *arg)
{
	(void)arg;
	int in, out = 2;
	corun_case cases[2] = {
		{ .chan = chan3, .op = CORUN_RECV, .elem = &in },
		{ .chan = chan4, .op = CORUN_SEND, .elem = &out },
	};
	corun_select(cases, 2, corun_now() + HOUR); /* canceled at the end */
	return NULL;
}

static void *lock_held(void *arg)
{
	(void)arg;
	corun_mutex_lock(mu, corun_now() + HOUR); /* canceled at the end */
	return NULL;
}

static void *write_full(void *arg)
{
	(void)arg;
	corun_write(fullfd[1], "x", 1, -1); /* canceled at the end */
	return NULL;
}

static void *wait_either(void *arg)
{
	(void)arg;
	corun_wait_fd(emptyfd[0], POLLIN | POLLOUT, -1); /* canceled at the end */
	return NULL;
}

static void *sleep_forever(void *arg)
{
	(void)arg;
	corun_sleep_until(-1); /* canceled at the end */
	return NULL;
}

static void *fresh(void *arg)
{
	(void)arg;
	return NULL;
}

static corun_t spawn(corun_fn fn, const char *name, unsigned flags)
{
	corun_attr a;
	corun_attr_init(&a);
	a.name = name;
	a.flags = flags;
	a.stack_size = 64 << 10;
	corun_t h = corun_go_attr(fn, NULL, &a);
	if (h < 0) {
		perror("corun_go_attr");
		exit(1);
	}
	return h;
}

static void *stop_in_coroutine(void *arg)
{
	(void)arg;
	handles[FRESH] = spawn(fresh, "fresh", 0);
	gdb_ids[FRESH] = corun_id(handles[FRESH]);
	for (int i = 0; i < N; i++)
		printf("gdb_target: id %d = %lld\n", i, (long long)gdb_ids[i]);
	printf("gdb_target: chan %p wg %p fd %d chan2 %p chan3 %p chan4 %p mutex %p wfd %d efd %d\n",
	       (void *)chan, (void *)wg, pipefd[0], (void *)chan2, (void *)chan3, (void *)chan4,
	       (void *)mu, fullfd[1], emptyfd[0]);
	fflush(stdout);
	gdb_stop_here();
	/* Undebugged: let everything end. */
	done = 1;
	for (int i = SENDER; i <= FOREVER; i++)
		corun_cancel(handles[i]);
	corun_cancel(handles[SLEEPER]);
	corun_chan_close(chan);
	corun_wg_done(wg);
	if (write(pipefd[1], "x", 1) != 1)
		abort();
	return NULL;
}

int main(void)
{
	static const struct {
		corun_fn fn;
		const char *name;
	} what[] = {
		[PARKER] = { park_loop, "parker" },     [SLEEPER] = { sleep_long, "sleeper" },
		[RECEIVER] = { recv_one, "receiver" },  [JOINER] = { join_sleeper, "joiner" },
		[READER] = { read_pipe, "reader" },     [GROUPED] = { wait_group, "grouped" },
		[SENDER] = { send_one, "sender" },      [SELECTOR] = { select_two, "selector" },
		[LOCKER] = { lock_held, "locker" },     [WRITER] = { write_full, "writer" },
		[EITHER] = { wait_either, "either" },   [FOREVER] = { sleep_forever, "forever" },
		[STOPPER] = { stop_in_coroutine, "stopper" },
	};
	if (pipe(pipefd) < 0 || pipe(fullfd) < 0 || pipe(emptyfd) < 0 ||
	    fcntl(fullfd[1], F_SETFL, O_NONBLOCK) < 0 ||
	    !(chan = corun_chan_make(sizeof(int), 0)) || !(chan2 = corun_chan_make(sizeof(int), 0)) ||
	    !(chan3 = corun_chan_make(sizeof(int), 0)) || !(chan4 = corun_chan_make(sizeof(int), 0)) ||
	    !(wg = corun_wg_make()) || corun_wg_add(wg, 1) < 0 || !(mu = corun_mutex_make()) ||
	    corun_mutex_lock(mu, -1) < 0) {
		perror("setup");
		return 1;
	}
	/* Fill the pipe writer writes to: its write must wait. */
	static char block[4096];
	while (write(fullfd[1], block, sizeof block) > 0)
		;
	if (errno != EAGAIN) {
		perror("filling a pipe");
		return 1;
	}
	for (int i = 0; i < STOPPER + 1; i++) {
		handles[i] = spawn(what[i].fn, what[i].name, 0);
		gdb_ids[i] = corun_id(handles[i]);
	}
	if (corun_run() < 0) {
		perror("corun_run");
		return 1;
	}
	for (int i = 0; i < N; i++)
		if (i != SLEEPER && i != JOINER) /* joiner joined sleeper */
			corun_join(handles[i], NULL);
	corun_chan_free(chan);
	corun_chan_free(chan2);
	corun_chan_free(chan3);
	corun_chan_free(chan4);
	corun_wg_free(wg);
	corun_mutex_unlock(mu);
	corun_mutex_free(mu);
	return corun_shutdown() == 0 ? 0 : 1;
}
