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
 *   stopper   running: calls gdb_stop_here (stop_in_coroutine)
 *   fresh     spawned after stopper ran: runnable, never started
 *
 * gdb_ids[] holds their ids (corun_id) in that order and handles[] their
 * handles, for the checks; the ids and the objects waited on are printed
 * too, for the checks of a program without debug information. Run without
 * a debugger, gdb_stop_here returns and everything is released, so the
 * program ends (exit status 0).
 */
#include "corun.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

enum { PARKER, SLEEPER, RECEIVER, JOINER, READER, GROUPED, STOPPER, FRESH, N };

int64_t gdb_ids[N];
static corun_t handles[N];
static volatile int done;
static corun_chan *chan;
static corun_wg *wg;
static int pipefd[2];

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
	corun_sleep(INT64_C(3600) * 1000000000); /* canceled at the end */
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
	printf("gdb_target: chan %p wg %p fd %d\n", (void *)chan, (void *)wg, pipefd[0]);
	fflush(stdout);
	gdb_stop_here();
	/* Undebugged: let everything end. */
	done = 1;
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
		[STOPPER] = { stop_in_coroutine, "stopper" },
	};
	if (pipe(pipefd) < 0 || !(chan = corun_chan_make(sizeof(int), 0)) || !(wg = corun_wg_make()) ||
	    corun_wg_add(wg, 1) < 0) {
		perror("setup");
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
	corun_wg_free(wg);
	return corun_shutdown() == 0 ? 0 : 1;
}
