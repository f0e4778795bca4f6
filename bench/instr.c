/*
 * corun_instr: one loop of one operation, nothing else, for instruction
 * counts under valgrind --tool=callgrind (bench/callgrind.sh runs it twice
 * with different counts and divides the difference). Cycle counters are
 * not available on these VMs; instruction counts are repeatable.
 *
 *   corun_instr OP N     OP: park | raw | spawn | spawn-join | main-run |
 *                            main-join | chan | chan-handoff | boost-jump |
 *                            boost-spawn | sock-rw | pipe-rw | sock-pingpong
 */
#define _GNU_SOURCE
#include <corun.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../src/arch/switch.h"

void boost_loop_jump(long n);  /* boost_loops.cpp, or no-ops in noboost_loops.c */
void boost_loop_spawn(long n);
int boost_loops_available(void);

static long n;

static void *parker(void *arg)
{
	(void)arg;
	for (long i = 0; i < n; i++)
		corun_park();
	return NULL;
}

static void *trivial(void *arg)
{
	return arg;
}

static void *spawner(void *arg)
{
	corun_attr a;
	corun_attr_init(&a);
	a.flags = CORUN_DETACHED;
	for (long i = 0; i < n; i += 64) {
		for (int k = 0; k < 64; k++)
			corun_go_attr(trivial, NULL, &a);
		corun_park();
	}
	return arg;
}

static void *joiner(void *arg)
{
	for (long i = 0; i < n; i++)
		corun_join(corun_go(trivial, NULL), NULL);
	return arg;
}

/* A send and a receive that both find the channel ready: the paths a
 * busy pipeline takes (no switch). */
static void *chan_ready(void *arg)
{
	corun_chan *ch = corun_chan_make(sizeof(long), 1);
	for (long i = 0; i < n; i++) {
		long v = i;
		corun_chan_send(ch, &v, -1);
		corun_chan_recv(ch, &v, -1);
	}
	corun_chan_free(ch);
	return arg;
}

/* An unbuffered channel between two coroutines: each message is a send
 * that waits, a receive that takes it from the waiting sender, and the
 * switches between them. */
static corun_chan *handoff;
static void *handoff_send(void *arg)
{
	for (long i = 0; i < n; i++)
		corun_chan_send(handoff, &i, -1);
	return arg;
}

static void *handoff_recv(void *arg)
{
	long v;
	for (long i = 0; i < n; i++)
		corun_chan_recv(handoff, &v, -1);
	return arg;
}

/* A byte written and read back on a descriptor pair that is always ready:
 * the calls' own path, with no wait. */
static void rw_loop(int w, int r)
{
	char c = 'x';
	for (long i = 0; i < n; i++) {
		corun_write(w, &c, 1, -1);
		corun_read(r, &c, 1, -1);
	}
}

/* Ping-pong between two coroutines over a socket pair: every read waits
 * for the other's write, through the epoll instance. */
static int pp[2];
static void *pinger(void *arg)
{
	char c = 'x';
	for (long i = 0; i < n; i++) {
		corun_write(pp[0], &c, 1, -1);
		corun_read(pp[0], &c, 1, -1);
	}
	return arg;
}

static void *ponger(void *arg)
{
	char c;
	for (long i = 0; i < n; i++) {
		corun_read(pp[1], &c, 1, -1);
		corun_write(pp[1], &c, 1, -1);
	}
	return arg;
}

static void *raw_main, *raw_co;
static void raw_body(void *arg)
{
	(void)arg;
	for (;;)
		corun__ctx_switch(&raw_co, raw_main, 0);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s park|raw|spawn|spawn-join|main-run|main-join|chan|"
				"chan-handoff|boost-jump|boost-spawn|sock-rw|pipe-rw|sock-pingpong N\n", argv[0]);
		return 2;
	}
	n = atol(argv[2]);
	const char *op = argv[1];
	if (!strcmp(op, "park")) { /* two coroutines: 2n parks */
		corun_go(parker, NULL);
		corun_go(parker, NULL);
		corun_run();
	} else if (!strcmp(op, "raw")) { /* 2n switches */
		size_t size = 64 << 10;
		char *stk = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		raw_co = corun__ctx_make(stk + size, raw_body, NULL, size);
		for (long i = 0; i < n; i++)
			corun__ctx_switch(&raw_main, raw_co, 0);
	} else if (!strcmp(op, "spawn")) {
		corun_go(spawner, NULL);
		corun_run();
	} else if (!strcmp(op, "main-run")) { /* churn with B = 1, detached */
		corun_attr a;
		corun_attr_init(&a);
		a.flags = CORUN_DETACHED;
		for (long i = 0; i < n; i++) {
			corun_go_attr(trivial, NULL, &a);
			corun_run();
		}
	} else if (!strcmp(op, "main-join")) { /* churn with B = 1, joined */
		for (long i = 0; i < n; i++)
			corun_join(corun_go(trivial, NULL), NULL);
	} else if (!strcmp(op, "spawn-join")) {
		corun_go(joiner, NULL);
		corun_run();
	} else if (!strcmp(op, "chan")) {
		corun_go(chan_ready, NULL);
		corun_run();
	} else if (!strcmp(op, "chan-handoff")) {
		handoff = corun_chan_make(sizeof(long), 0);
		corun_go(handoff_recv, NULL);
		corun_go(handoff_send, NULL);
		corun_run();
		corun_chan_free(handoff);
	} else if (!strcmp(op, "sock-rw") || !strcmp(op, "pipe-rw")) {
		int fds[2]; /* written at fds[1], read at fds[0] */
		if ((op[0] == 's' ? socketpair(AF_UNIX, SOCK_STREAM, 0, fds) : pipe(fds)) < 0)
			return 1;
		rw_loop(fds[1], fds[0]);
	} else if (!strcmp(op, "sock-pingpong")) {
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, pp) < 0)
			return 1;
		corun_go(pinger, NULL);
		corun_go(ponger, NULL);
		corun_run();
	} else if (!strcmp(op, "boost-jump") && boost_loops_available()) {
		boost_loop_jump(n); /* 2n jumps */
	} else if (!strcmp(op, "boost-spawn") && boost_loops_available()) {
		boost_loop_spawn(n);
	} else {
		fprintf(stderr, "%s: unknown or unavailable\n", op);
		return 2;
	}
	return 0;
}
