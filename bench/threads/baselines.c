/*
 * The cross-thread baselines corun is measured against (bench/threads/
 * run.sh), in plain C and POSIX threads, owing nothing to corun: how fast
 * one thread can tell another something when the other spins (the floor),
 * and when it sleeps in the kernel (eventfd, futex, condition variable);
 * how fast a mutex and condition variable queue moves messages; what
 * libuv's thread pool charges for a round trip; what getaddrinfo costs
 * when called directly. The two threads of each pair are pinned to two
 * CPUs (harness.c). Each subcommand prints the median of its repetitions.
 */
#define _GNU_SOURCE
#include "harness.h"

#include <errno.h>
#include <linux/futex.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#ifdef CORUN_HAVE_LIBUV
#include <uv.h>
#endif

static void fail(const char *what)
{
	perror(what);
	exit(1);
}

/* What a pair shares: sized per run, and the time side A measured. Each
 * side's flag sits on its own cache line, so that neither waits on a line
 * the other writes for other reasons. */
static struct {
	long warm, n; /* round trips (or messages) untimed, then timed */
	int64_t ns;
	_Alignas(64) _Atomic long spin;
	_Alignas(64) int fd[2]; /* eventfds: side i reads fd[i] */
	_Alignas(64) _Atomic uint32_t word[2]; /* futex words: side i waits on word[i] */
	_Alignas(64) pthread_mutex_t mu;
	pthread_cond_t cv[2];
	int turn;
	double *lat; /* spaced: wake latency of each message, ns */
} pp;

static long rounds(long full, long quick)
{
	long n = size_of(full, quick) / 2; /* sizes are one-way messages */
	return n > 0 ? n : 1;
}

/* A ping-pong measured by side A: ns per one-way message. */
static double pingpong(void *(*a)(void *), void *(*b)(void *), long n)
{
	pp.n = n;
	pp.warm = n / 10 + 1;
	run_pair(a, b, NULL);
	return (double)pp.ns / (2.0 * (double)n);
}

/* ---- spin: each side waits for its turn on one atomic (the floor) */
static void *spin_a(void *arg)
{
	(void)arg;
	int64_t t0 = 0;
	for (long i = 0; i < pp.warm + pp.n; i++) {
		if (i == pp.warm)
			t0 = now_ns();
		atomic_store_explicit(&pp.spin, 2 * i + 1, memory_order_release);
		while (atomic_load_explicit(&pp.spin, memory_order_acquire) != 2 * i + 2)
			;
	}
	pp.ns = now_ns() - t0;
	return NULL;
}

static void *spin_b(void *arg)
{
	(void)arg;
	for (long i = 0; i < pp.warm + pp.n; i++) {
		while (atomic_load_explicit(&pp.spin, memory_order_acquire) != 2 * i + 1)
			;
		atomic_store_explicit(&pp.spin, 2 * i + 2, memory_order_release);
	}
	return NULL;
}

static void spin_run(void)
{
	double v[MAX_REPS];
	int r = reps_of();
	for (int i = 0; i < r; i++) {
		atomic_store(&pp.spin, 0);
		v[i] = pingpong(spin_a, spin_b, rounds(2000000, 200000));
	}
	report("spin_pingpong", median_of(v, r), "ns/msg");
}

/* ---- eventfd: each side blocks in read() on its own eventfd */
static void ev_post(int side, uint64_t v)
{
	if (write(pp.fd[side], &v, sizeof v) != sizeof v)
		fail("eventfd write");
}

static uint64_t ev_wait(int side)
{
	uint64_t v;
	if (read(pp.fd[side], &v, sizeof v) != sizeof v)
		fail("eventfd read");
	return v;
}

static void *ev_a(void *arg)
{
	(void)arg;
	int64_t t0 = 0;
	for (long i = 0; i < pp.warm + pp.n; i++) {
		if (i == pp.warm)
			t0 = now_ns();
		ev_post(1, 1);
		ev_wait(0);
	}
	pp.ns = now_ns() - t0;
	return NULL;
}

static void *ev_b(void *arg)
{
	(void)arg;
	for (long i = 0; i < pp.warm + pp.n; i++) {
		ev_wait(1);
		ev_post(0, 1);
	}
	return NULL;
}

static void ev_open(void)
{
	for (int i = 0; i < 2; i++)
		if ((pp.fd[i] = eventfd(0, EFD_CLOEXEC)) < 0)
			fail("eventfd");
}

static void ev_close(void)
{
	close(pp.fd[0]);
	close(pp.fd[1]);
}

static void eventfd_run(void)
{
	double v[MAX_REPS];
	int r = reps_of();
	ev_open();
	for (int i = 0; i < r; i++)
		v[i] = pingpong(ev_a, ev_b, rounds(20000, 2000));
	ev_close();
	report("eventfd_pingpong", median_of(v, r) / 1000, "us/msg");
}

/* ---- futex: each side sleeps on its own word until the other sets it */
static long futex(_Atomic uint32_t *w, int op, uint32_t v)
{
	return syscall(SYS_futex, w, op, v, NULL, NULL, 0);
}

static void fx_post(int side)
{
	atomic_store(&pp.word[side], 1);
	futex(&pp.word[side], FUTEX_WAKE_PRIVATE, 1);
}

static void fx_wait(int side)
{
	/* The kernel sleeps only while the word is still 0: a post between
	 * the exchange and the call makes it return at once. */
	while (atomic_exchange(&pp.word[side], 0) == 0)
		if (futex(&pp.word[side], FUTEX_WAIT_PRIVATE, 0) < 0 && errno != EAGAIN && errno != EINTR)
			fail("futex");
}

static void *fx_a(void *arg)
{
	(void)arg;
	int64_t t0 = 0;
	for (long i = 0; i < pp.warm + pp.n; i++) {
		if (i == pp.warm)
			t0 = now_ns();
		fx_post(1);
		fx_wait(0);
	}
	pp.ns = now_ns() - t0;
	return NULL;
}

static void *fx_b(void *arg)
{
	(void)arg;
	for (long i = 0; i < pp.warm + pp.n; i++) {
		fx_wait(1);
		fx_post(0);
	}
	return NULL;
}

static void futex_run(void)
{
	double v[MAX_REPS];
	int r = reps_of();
	for (int i = 0; i < r; i++) {
		atomic_store(&pp.word[0], 0);
		atomic_store(&pp.word[1], 0);
		v[i] = pingpong(fx_a, fx_b, rounds(20000, 2000));
	}
	report("futex_pingpong", median_of(v, r) / 1000, "us/msg");
}

/* ---- condition variable: one mutex, whose turn it is, a condition each */
static void *cv_a(void *arg)
{
	(void)arg;
	int64_t t0 = 0;
	pthread_mutex_lock(&pp.mu);
	for (long i = 0; i < pp.warm + pp.n; i++) {
		if (i == pp.warm)
			t0 = now_ns();
		pp.turn = 1;
		pthread_cond_signal(&pp.cv[1]);
		while (pp.turn != 0)
			pthread_cond_wait(&pp.cv[0], &pp.mu);
	}
	pthread_mutex_unlock(&pp.mu);
	pp.ns = now_ns() - t0;
	return NULL;
}

static void *cv_b(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&pp.mu);
	for (long i = 0; i < pp.warm + pp.n; i++) {
		while (pp.turn != 1)
			pthread_cond_wait(&pp.cv[1], &pp.mu);
		pp.turn = 0;
		pthread_cond_signal(&pp.cv[0]);
	}
	pthread_mutex_unlock(&pp.mu);
	return NULL;
}

static void condvar_run(void)
{
	double v[MAX_REPS];
	int r = reps_of();
	pthread_mutex_init(&pp.mu, NULL);
	pthread_cond_init(&pp.cv[0], NULL);
	pthread_cond_init(&pp.cv[1], NULL);
	for (int i = 0; i < r; i++) {
		pp.turn = 0;
		v[i] = pingpong(cv_a, cv_b, rounds(20000, 2000));
	}
	report("condvar_pingpong", median_of(v, r) / 1000, "us/msg");
}

/* ---- eventfd, 1 ms apart: the receiver is asleep when each ping comes.
 * The ping carries the time it was sent (an eventfd's counter holds 64
 * bits, and only one ping is ever pending); the receiver takes the time
 * its read returned and acknowledges, so that pings never overlap. */
static void *spaced_a(void *arg)
{
	(void)arg;
	struct timespec ms = { 0, 1000000 };
	for (long i = 0; i < pp.warm + pp.n; i++) {
		nanosleep(&ms, NULL);
		ev_post(1, (uint64_t)now_ns());
		ev_wait(0);
	}
	return NULL;
}

static void *spaced_b(void *arg)
{
	(void)arg;
	for (long i = 0; i < pp.warm + pp.n; i++) {
		int64_t sent = (int64_t)ev_wait(1);
		int64_t woke = now_ns();
		if (i >= pp.warm)
			pp.lat[i - pp.warm] = (double)(woke - sent);
		ev_post(0, 1);
	}
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
	ev_open();
	for (int i = 0; i < r; i++) {
		pp.n = n;
		pp.warm = 5;
		run_pair(spaced_a, spaced_b, NULL);
		v[i] = median_of(pp.lat, (int)n);
	}
	ev_close();
	free(pp.lat);
	report("eventfd_spaced_wake", median_of(v, r) / 1000, "us");
}

/* ---- a bounded queue under a mutex, two condition variables: one
 * producer, one consumer. Each side signals only when it moves the queue
 * off the edge the other waits at (empty, full): with one thread on each
 * side, nobody else can be waiting. */
enum { QCAP = 1024 };
static struct {
	pthread_mutex_t mu;
	pthread_cond_t not_empty, not_full;
	int64_t buf[QCAP];
	unsigned head, count;
	long n;
	int64_t t0, t1, sum;
} q;

static void *producer(void *arg)
{
	(void)arg;
	q.t0 = now_ns();
	for (int64_t v = 1; v <= q.n; v++) {
		pthread_mutex_lock(&q.mu);
		while (q.count == QCAP)
			pthread_cond_wait(&q.not_full, &q.mu);
		q.buf[(q.head + q.count) % QCAP] = v;
		if (q.count++ == 0)
			pthread_cond_signal(&q.not_empty);
		pthread_mutex_unlock(&q.mu);
	}
	return NULL;
}

static void *consumer(void *arg)
{
	(void)arg;
	int64_t sum = 0;
	for (long i = 0; i < q.n; i++) {
		pthread_mutex_lock(&q.mu);
		while (q.count == 0)
			pthread_cond_wait(&q.not_empty, &q.mu);
		sum += q.buf[q.head];
		q.head = (q.head + 1) % QCAP;
		if (q.count-- == QCAP)
			pthread_cond_signal(&q.not_full);
		pthread_mutex_unlock(&q.mu);
	}
	q.t1 = now_ns();
	q.sum = sum;
	return NULL;
}

static void queue_run(void)
{
	double v[MAX_REPS];
	int r = reps_of();
	pthread_mutex_init(&q.mu, NULL);
	pthread_cond_init(&q.not_empty, NULL);
	pthread_cond_init(&q.not_full, NULL);
	for (int i = 0; i < r; i++) {
		q.n = size_of(10000000, 200000);
		q.head = q.count = 0;
		run_pair(producer, consumer, NULL);
		if (q.sum != q.n * (q.n + 1) / 2) {
			fprintf(stderr, "condvar queue: lost messages\n");
			exit(1);
		}
		v[i] = (double)q.n / ((double)(q.t1 - q.t0) / 1e9) / 1e6;
	}
	report("condvar_queue", median_of(v, r), "M/s");
}

/* ---- libuv: uv_queue_work with a no-op, the next one queued by the
 * previous one's completion, on a loop in this thread. The pool's threads
 * are made by the first uv_queue_work and take the affinity of the thread
 * that makes them: made while this thread is on the second CPU, they run
 * there, and the loop on the first. */
#ifdef CORUN_HAVE_LIBUV
static long uv_left;

static void uv_noop(uv_work_t *req)
{
	(void)req;
}

static void uv_after(uv_work_t *req, int status)
{
	if (status != 0) {
		fprintf(stderr, "uv_queue_work: %s\n", uv_strerror(status));
		exit(1);
	}
	if (--uv_left > 0 && uv_queue_work(req->loop, req, uv_noop, uv_after) != 0)
		fail("uv_queue_work");
}

static double uv_round(uv_loop_t *loop, long n)
{
	static uv_work_t req;
	uv_left = n;
	int64_t t0 = now_ns();
	if (uv_queue_work(loop, &req, uv_noop, uv_after) != 0)
		fail("uv_queue_work");
	uv_run(loop, UV_RUN_DEFAULT);
	return (double)(now_ns() - t0) / (double)n;
}

static void uv_run_bench(void)
{
	double v[MAX_REPS];
	int r = reps_of();
	uv_loop_t loop;
	if (uv_loop_init(&loop) != 0)
		fail("uv_loop_init");
	pin(1);
	uv_round(&loop, 10);
	pin(0);
	for (int i = 0; i < r; i++)
		v[i] = uv_round(&loop, size_of(10000, 500));
	uv_loop_close(&loop);
	report("uv_queue_work", median_of(v, r) / 1000, "us/rt");
}
#else
static void uv_run_bench(void)
{
	fprintf(stderr, "uv_queue_work: skipped, built without libuv (libuv1-dev)\n");
}
#endif

/* ---- getaddrinfo called directly, from one thread */
static void gai_run(void)
{
	double v[MAX_REPS];
	int r = reps_of();
	long n = size_of(2000, 200);
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	pin(0);
	for (int i = 0; i < r; i++) {
		int64_t t0 = now_ns();
		for (long k = 0; k < n; k++) {
			struct addrinfo *res;
			int err = getaddrinfo("localhost", "80", &hints, &res);
			if (err) {
				fprintf(stderr, "getaddrinfo: %s\n", gai_strerror(err));
				exit(1);
			}
			freeaddrinfo(res);
		}
		v[i] = (double)(now_ns() - t0) / (double)n;
	}
	report("getaddrinfo", median_of(v, r) / 1000, "us");
}

static const struct shape shapes[] = {
	{ "spin", spin_run, "ping-pong on one atomic, both sides spinning: ns per message", 0 },
	{ "eventfd", eventfd_run, "ping-pong, each side blocked in read() on its eventfd", 0 },
	{ "futex", futex_run, "ping-pong, each side asleep on its futex word", 0 },
	{ "condvar", condvar_run, "ping-pong under one mutex, a condition variable each", 0 },
	{ "spaced", spaced_run, "eventfd pings 1 ms apart: median wake latency", 0 },
	{ "queue", queue_run, "1,024-slot mutex+condvar queue, 1 producer, 1 consumer: M/s", 0 },
	{ "uv", uv_run_bench, "libuv uv_queue_work no-op round trip", 0 },
	{ "getaddrinfo", gai_run, "getaddrinfo(\"localhost\", \"80\") called directly", 0 },
	{ NULL, NULL, NULL, 0 },
};

int main(int argc, char **argv)
{
	return harness_main(argc, argv, "corun_threads_base", shapes);
}
