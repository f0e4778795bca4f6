/*
 * corun across threads, in the shapes of baselines.c and bench/go/
 * threads.go and with the same output ("name value unit"), for bench/
 * threads/run.sh to put side by side. Each of the two pinned threads
 * (harness.c) runs its own runtime: a coroutine there sends and receives on
 * shared channels, and corun_run drives it until it is done.
 *
 *   pingpong     unbuffered ping-pong, both threads otherwise idle
 *   spaced       pings 1 ms apart (corun_sleep): the receiver's runtime is
 *                asleep when each comes; median wake latency
 *   queue        producer -> consumer through a 1,024-slot shared channel
 *   busy         pingpong while 10 other coroutines on each thread park in
 *                a loop: the runtimes never sleep, so a message should need
 *                no system call (run.sh counts them under strace)
 *   blocking     a no-op corun_blocking round trip from a coroutine
 *   getaddrinfo  corun_getaddrinfo("localhost", "80")
 *   idle         two runtimes wait on shared channels with nothing sent for
 *                10 s (quick: 1 s): the process's CPU time meanwhile
 */
#define _GNU_SOURCE
#include "harness.h"

#include <corun.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

static void fail(const char *what)
{
	perror(what);
	exit(1);
}

static struct {
	corun_chan *ab, *ba; /* A -> B, B -> A */
	long warm, n;        /* untimed, then timed */
	int others;          /* coroutines per thread that park in a loop */
	int64_t ns;          /* measured by A */
	int64_t t0, t1;      /* queue: the first send, the last receive */
	int64_t sum;
	double *lat;         /* spaced: wake latency of each message, ns */
} pp;

/* Set by the thread's measuring coroutine when it is done: its parkers
 * (same thread, so no atomics) end with it. */
static __thread int done;

static void *parker(void *arg)
{
	(void)arg;
	while (!done)
		corun_park();
	return NULL;
}

/* The body of each pinned thread: the others, then fn, run to the end on
 * this thread's runtime, which is then released. */
static void run_side(corun_fn fn)
{
	done = 0;
	for (int i = 0; i < pp.others; i++)
		if (corun_go(parker, NULL) < 0)
			fail("corun_go");
	if (corun_go(fn, NULL) < 0)
		fail("corun_go");
	if (corun_run() < 0)
		fail("corun_run");
	if (corun_shutdown() < 0)
		fail("corun_shutdown");
}

static void make_pair(size_t capacity)
{
	pp.ab = corun_chan_make_shared(sizeof(int64_t), capacity);
	pp.ba = corun_chan_make_shared(sizeof(int64_t), capacity);
	if (!pp.ab || !pp.ba)
		fail("corun_chan_make_shared");
}

static void free_pair(void)
{
	if (corun_chan_free(pp.ab) < 0 || corun_chan_free(pp.ba) < 0)
		fail("corun_chan_free");
}

static void send1(corun_chan *ch, int64_t v)
{
	if (corun_chan_send(ch, &v, -1) < 0)
		fail("corun_chan_send");
}

static int64_t recv1(corun_chan *ch)
{
	int64_t v;
	if (corun_chan_recv(ch, &v, -1) < 0)
		fail("corun_chan_recv");
	return v;
}

/* ---- ping-pong */
static void *ping(void *arg)
{
	(void)arg;
	int64_t v = 0, t0 = 0;
	for (long i = 0; i < pp.warm + pp.n; i++) {
		if (i == pp.warm)
			t0 = now_ns();
		send1(pp.ab, v);
		v = recv1(pp.ba) + 1;
	}
	pp.ns = now_ns() - t0;
	done = 1;
	return NULL;
}

static void *pong(void *arg)
{
	(void)arg;
	for (long i = 0; i < pp.warm + pp.n; i++)
		send1(pp.ba, recv1(pp.ab));
	done = 1;
	return NULL;
}

static void *ping_thread(void *arg)
{
	(void)arg;
	run_side(ping);
	return NULL;
}

static void *pong_thread(void *arg)
{
	(void)arg;
	run_side(pong);
	return NULL;
}

static void pingpong_shape(const char *name, int others)
{
	double v[MAX_REPS];
	int r = reps_of();
	for (int i = 0; i < r; i++) {
		pp.n = size_of(2000000, 200000) / 2; /* sizes are one-way messages */
		if (pp.n < 1)
			pp.n = 1;
		pp.warm = pp.n / 10 + 1;
		pp.others = others;
		make_pair(0);
		run_pair(ping_thread, pong_thread, NULL);
		free_pair();
		v[i] = (double)pp.ns / (2.0 * (double)pp.n);
	}
	pp.others = 0;
	report(name, median_of(v, r), "ns/msg");
}

static void pingpong_run(void)
{
	pingpong_shape("corun_pingpong", 0);
}

static void busy_run(void)
{
	pingpong_shape("corun_pingpong_busy", 10);
}

/* ---- 1 ms apart: each ping carries the time it was sent (corun_now,
 * CLOCK_MONOTONIC, the clock of now_ns); the receiver notes when it has
 * it and acknowledges, so that pings never overlap. */
static void *spaced_ping(void *arg)
{
	(void)arg;
	for (long i = 0; i < pp.warm + pp.n; i++) {
		if (corun_sleep(1000000) < 0)
			fail("corun_sleep");
		send1(pp.ab, corun_now());
		recv1(pp.ba);
	}
	return NULL;
}

static void *spaced_pong(void *arg)
{
	(void)arg;
	for (long i = 0; i < pp.warm + pp.n; i++) {
		int64_t sent = recv1(pp.ab);
		int64_t woke = corun_now();
		if (i >= pp.warm)
			pp.lat[i - pp.warm] = (double)(woke - sent);
		send1(pp.ba, 0);
	}
	return NULL;
}

static void *spaced_ping_thread(void *arg)
{
	(void)arg;
	run_side(spaced_ping);
	return NULL;
}

static void *spaced_pong_thread(void *arg)
{
	(void)arg;
	run_side(spaced_pong);
	return NULL;
}

static void spaced_run(void)
{
	double v[MAX_REPS];
	int r = reps_of();
	long n = size_of(300, 30);
	pp.lat = malloc((size_t)n * sizeof *pp.lat);
	if (!pp.lat)
		fail("malloc");
	for (int i = 0; i < r; i++) {
		pp.n = n;
		pp.warm = 5;
		make_pair(0);
		run_pair(spaced_ping_thread, spaced_pong_thread, NULL);
		free_pair();
		v[i] = median_of(pp.lat, (int)n);
	}
	free(pp.lat);
	pp.lat = NULL;
	report("corun_spaced_wake", median_of(v, r) / 1000, "us");
}

/* ---- producer -> consumer through one 1,024-slot shared channel */
static void *produce(void *arg)
{
	(void)arg;
	pp.t0 = now_ns();
	for (int64_t v = 1; v <= pp.n; v++)
		send1(pp.ab, v);
	return NULL;
}

static void *consume(void *arg)
{
	(void)arg;
	int64_t sum = 0;
	for (long i = 0; i < pp.n; i++)
		sum += recv1(pp.ab);
	pp.t1 = now_ns();
	pp.sum = sum;
	return NULL;
}

static void *produce_thread(void *arg)
{
	(void)arg;
	run_side(produce);
	return NULL;
}

static void *consume_thread(void *arg)
{
	(void)arg;
	run_side(consume);
	return NULL;
}

static void queue_run(void)
{
	double v[MAX_REPS];
	int r = reps_of();
	for (int i = 0; i < r; i++) {
		pp.n = size_of(10000000, 200000);
		pp.ab = corun_chan_make_shared(sizeof(int64_t), 1024);
		if (!pp.ab)
			fail("corun_chan_make_shared");
		run_pair(produce_thread, consume_thread, NULL);
		if (corun_chan_free(pp.ab) < 0)
			fail("corun_chan_free");
		if (pp.sum != pp.n * (pp.n + 1) / 2) {
			fprintf(stderr, "corun queue: lost messages\n");
			exit(1);
		}
		v[i] = (double)pp.n / ((double)(pp.t1 - pp.t0) / 1e9) / 1e6;
	}
	report("corun_queue", median_of(v, r), "M/s");
}

/* ---- calls on the blocking pool, from a coroutine of this thread. As in
 * baselines.c's libuv case, the pool's threads are made while this thread
 * is on the second CPU, so that (if they are made by the calling thread
 * and inherit its affinity) they run there and the caller on the first. */
static void *noop(void *arg)
{
	return arg;
}

static void *blocking_calls(void *arg)
{
	(void)arg;
	int64_t t0 = now_ns();
	for (long i = 0; i < pp.n; i++) {
		void *res;
		if (corun_blocking(noop, &pp, &res, -1) < 0)
			fail("corun_blocking");
		if (res != &pp) {
			fprintf(stderr, "corun_blocking: wrong result\n");
			exit(1);
		}
	}
	pp.ns = now_ns() - t0;
	return NULL;
}

static void *gai_calls(void *arg)
{
	(void)arg;
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	int64_t t0 = now_ns();
	for (long i = 0; i < pp.n; i++) {
		struct addrinfo *res;
		if (corun_getaddrinfo("localhost", "80", &hints, &res, -1) < 0)
			fail("corun_getaddrinfo");
		freeaddrinfo(res);
	}
	pp.ns = now_ns() - t0;
	return NULL;
}

/* n calls of fn on a coroutine of this thread: ns per call. */
static double calls(corun_fn fn, long n)
{
	pp.n = n;
	if (corun_go(fn, NULL) < 0)
		fail("corun_go");
	if (corun_run() < 0)
		fail("corun_run");
	return (double)pp.ns / (double)n;
}

static void blocking_run(void)
{
	double v[MAX_REPS];
	int r = reps_of();
	pin(1);
	calls(blocking_calls, 10);
	pin(0);
	for (int i = 0; i < r; i++)
		v[i] = calls(blocking_calls, size_of(10000, 500));
	report("corun_blocking", median_of(v, r) / 1000, "us/rt");
}

static void gai_run(void)
{
	double v[MAX_REPS];
	int r = reps_of();
	pin(1);
	calls(gai_calls, 10);
	pin(0);
	for (int i = 0; i < r; i++)
		v[i] = calls(gai_calls, size_of(2000, 200));
	report("corun_getaddrinfo", median_of(v, r) / 1000, "us");
}

/* ---- idle: each runtime waits on its own shared channel for a message
 * that never comes, until main (which waits in the kernel meanwhile)
 * closes them. The CPU time counted starts once both have waited 100 ms,
 * past any spin before they sleep, and ends before the close. */
static void *idle_wait(void *arg)
{
	corun_chan *ch = *(corun_chan **)arg;
	int64_t v;
	if (corun_chan_recv(ch, &v, -1) == 0 || errno != EPIPE)
		fail("idle: corun_chan_recv, expected EPIPE");
	return NULL;
}

static void *idle_a(void *arg)
{
	(void)arg;
	if (corun_go(idle_wait, &pp.ab) < 0 || corun_run() < 0 || corun_shutdown() < 0)
		fail("idle thread A");
	return NULL;
}

static void *idle_b(void *arg)
{
	(void)arg;
	if (corun_go(idle_wait, &pp.ba) < 0 || corun_run() < 0 || corun_shutdown() < 0)
		fail("idle thread B");
	return NULL;
}

static void *idle_pair(void *arg)
{
	(void)arg;
	run_pair(idle_a, idle_b, NULL);
	return NULL;
}

static double cpu_ms(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static void sleep_s(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void idle_run(void)
{
	double secs = H.quick ? 1 : 10;
	pthread_t t;
	make_pair(0);
	if (pthread_create(&t, NULL, idle_pair, NULL) != 0)
		fail("pthread_create");
	sleep_s(0.1);
	double c0 = cpu_ms();
	sleep_s(secs);
	double c1 = cpu_ms();
	if (corun_chan_close(pp.ab) < 0 || corun_chan_close(pp.ba) < 0)
		fail("corun_chan_close");
	pthread_join(t, NULL);
	free_pair();
	fprintf(stderr, "note: idle: two runtimes waiting %.0f s\n", secs);
	report("corun_idle_cpu", c1 - c0, "ms");
}

static const struct shape shapes[] = {
	{ "pingpong", pingpong_run, "ping-pong over unbuffered shared channels: ns per message", 0 },
	{ "spaced", spaced_run, "pings 1 ms apart: median wake latency", 0 },
	{ "queue", queue_run, "1,024-slot shared channel, 1 producer, 1 consumer: M/s", 0 },
	{ "busy", busy_run, "ping-pong beside 10 parking coroutines per thread", 0 },
	{ "blocking", blocking_run, "no-op corun_blocking round trip from a coroutine", 0 },
	{ "getaddrinfo", gai_run, "corun_getaddrinfo(\"localhost\", \"80\")", 0 },
	{ "idle", idle_run, "two runtimes idle on shared channels: CPU ms over 10 s", 1 },
	{ NULL, NULL, NULL, 0 },
};

int main(int argc, char **argv)
{
	return harness_main(argc, argv, "corun_threads_bench", shapes);
}
