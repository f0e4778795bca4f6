/*
 * Blocking calls offloaded (corun_blocking, corun_getaddrinfo, corun_dial):
 * results come back, from coroutines and from main (of a thread that has
 * spawned and of one that has not); callers overlap on the pool's
 * threads; a deadline or a cancel returns at once while fn finishes on its
 * thread, and its result then goes to the discard hook; the thread limit
 * queues what is beyond it; idle threads leave after the keep-alive; the
 * resolver and dial work against loopback; a child of fork starts a pool
 * of its own. Timing is never asserted, only what must hold however slow
 * the machine is: the counts of jobs running at once, and the order of
 * events that gates (semaphores) impose.
 */
#define _GNU_SOURCE
#include "helpers.h"

#include <arpa/inet.h>
#include <corun.h>
#include <dirent.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "priv.h"

/* A deadline that only keeps a broken test from hanging. */
#define PATIENCE (20000 * MS)

/* Threads of this process named "corun-pool". */
static int pool_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	CHECK(d);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char path[300], name[32] = "";
		snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
		FILE *f = fopen(path, "r");
		if (!f)
			continue; /* gone meanwhile */
		if (fgets(name, sizeof name, f) && strncmp(name, "corun-pool", 10) == 0)
			n++;
		fclose(f);
	}
	closedir(d);
	return n;
}

/* Wait (letting the others run) until *v reaches want. */
static void await_at_least(atomic_int *v, int want)
{
	int64_t end = corun_now() + PATIENCE;
	while (atomic_load(v) < want) {
		if (corun_now() > end)
			CHECK_FAIL("waited in vain for %d (at %d)", want, atomic_load(v));
		CHECK_EQ(corun_sleep(MS), 0);
	}
}

/* ---- job bodies ---- */

static void *plus_one(void *arg)
{
	return (void *)((intptr_t)arg + 1);
}

/* Jobs running now, the most seen at once, and how many started. */
static atomic_int running, most, started;

static void enter(void)
{
	atomic_fetch_add(&started, 1);
	int now = atomic_fetch_add(&running, 1) + 1;
	int m = atomic_load(&most);
	while (now > m && !atomic_compare_exchange_weak(&most, &m, now))
		;
}

static void reset_counts(void)
{
	atomic_store(&running, 0);
	atomic_store(&most, 0);
	atomic_store(&started, 0);
}

/* Sleeps 20 ms in the kernel, as a blocking call would. */
static void *nap(void *arg)
{
	enter();
	usleep(20000);
	atomic_fetch_sub(&running, 1);
	return arg;
}

/* Waits at the gate until the test opens it for one. */
static sem_t gate;

static void *gated(void *arg)
{
	enter();
	while (sem_wait(&gate) < 0)
		CHECK_EQ(errno, EINTR);
	atomic_fetch_sub(&running, 1);
	return arg;
}

/* What gated jobs left behind: the results discard got, with their arg. */
static atomic_int discarded;
static atomic_intptr_t discarded_sum;

static void *gated_malloc(void *arg)
{
	gated(NULL);
	intptr_t *r = malloc(sizeof *r);
	CHECK(r);
	*r = (intptr_t)arg;
	return r;
}

static void discard_malloc(void *result, void *arg)
{
	intptr_t *r = result;
	CHECK_EQ(*r, (intptr_t)arg);
	atomic_fetch_add(&discarded_sum, *r);
	free(r);
	atomic_fetch_add(&discarded, 1);
}

/* ---- results ---- */

static void *call_plus_one(void *arg)
{
	void *r = NULL;
	CHECK_EQ(corun_blocking(plus_one, arg, &r, PATIENCE + corun_now()), 0);
	return r;
}

static void results(void)
{
	enum { N = 16 };
	corun_t h[N];
	for (int i = 0; i < N; i++)
		h[i] = corun_go(call_plus_one, (void *)(intptr_t)(i * 10));
	for (int i = 0; i < N; i++) {
		void *r;
		CHECK_EQ(corun_join(h[i], &r), 0);
		CHECK_EQ((intptr_t)r, i * 10 + 1);
	}
	/* From main, of a thread that has spawned; a NULL result pointer. */
	void *r = NULL;
	CHECK_EQ(corun_blocking(plus_one, (void *)41, &r, -1), 0);
	CHECK_EQ((intptr_t)r, 42);
	CHECK_EQ(corun_blocking(plus_one, (void *)41, NULL, -1), 0);
}

/* The main of a thread that never spawned (and has no runtime). */
static void *thread_main(void *arg)
{
	(void)arg;
	void *r = NULL;
	CHECK_EQ(corun_blocking(plus_one, (void *)6, &r, corun_now() + PATIENCE), 0);
	CHECK_EQ((intptr_t)r, 7);
	struct addrinfo hints = { .ai_family = AF_INET, .ai_flags = AI_NUMERICHOST };
	struct addrinfo *res;
	CHECK_EQ(corun_getaddrinfo("127.0.0.1", NULL, &hints, &res, -1), 0);
	freeaddrinfo(res);
	return (void *)1;
}

static void from_plain_thread(void)
{
	CHECK_EQ((intptr_t)on_thread(thread_main, NULL), 1);
}

/* ---- what fn finds on its thread ---- */

struct seen {
	char name[32];
	int all_blocked;
	pthread_t self;
};

static void *look_around(void *arg)
{
	struct seen *s = arg;
	pthread_getname_np(pthread_self(), s->name, sizeof s->name);
	sigset_t set;
	pthread_sigmask(SIG_BLOCK, NULL, &set);
	s->all_blocked = sigismember(&set, SIGINT) && sigismember(&set, SIGTERM) &&
			 sigismember(&set, SIGUSR1) && sigismember(&set, SIGCHLD);
	s->self = pthread_self();
	return NULL;
}

static void pool_thread_is_plain(void)
{
	struct seen s = { "", 0, pthread_self() };
	CHECK_EQ(corun_blocking(look_around, &s, NULL, -1), 0);
	CHECK_STR_EQ(s.name, "corun-pool");
	CHECK(s.all_blocked);
	CHECK(!pthread_equal(s.self, pthread_self()));
}

/* ---- overlap ---- */

static void *call_nap(void *arg)
{
	void *r = NULL;
	CHECK_EQ(corun_blocking(nap, arg, &r, -1), 0);
	CHECK_PTR_EQ(r, arg);
	return NULL;
}

static void overlap(void)
{
	enum { N = 64 };
	reset_counts();
	corun_t h[N];
	for (int i = 0; i < N; i++)
		h[i] = corun_go(call_nap, (void *)(intptr_t)i);
	for (int i = 0; i < N; i++)
		CHECK_EQ(corun_join(h[i], NULL), 0);
	CHECK_EQ(atomic_load(&started), N);
	CHECK_EQ(atomic_load(&running), 0);
	/* 20 ms each: the second starts before the first is done, on any
	 * machine that runs two threads at all. */
	CHECK(atomic_load(&most) >= 2);
}

/* ---- deadline and cancel ---- */

static void deadline(void)
{
	reset_counts();
	atomic_store(&discarded, 0);
	atomic_store(&discarded_sum, 0);
	void *r = (void *)1;
	/* fn waits at the gate, which opens only after the call returned:
	 * the call came back while fn was still running. */
	CHECK_ERRNO(corun_blocking_ex(gated_malloc, (void *)77, &r, corun_now() + 10 * MS,
				      discard_malloc),
		    ETIMEDOUT);
	CHECK_PTR_EQ(r, (void *)1); /* untouched */
	await_at_least(&started, 1);
	CHECK_EQ(atomic_load(&discarded), 0);
	CHECK_EQ(sem_post(&gate), 0);
	await_at_least(&discarded, 1);
	CHECK_EQ(atomic_load(&discarded_sum), 77);

	/* Without a hook the result is dropped (gated's is no memory). */
	CHECK_ERRNO(corun_blocking(gated, NULL, &r, corun_now() + MS), ETIMEDOUT);
	CHECK_EQ(sem_post(&gate), 0);
	await_at_least(&started, 2);
	while (atomic_load(&running)) /* the gate is shut again */
		CHECK_EQ(corun_sleep(MS), 0);

	/* Deadline 0: fn does not run. */
	int before = atomic_load(&started);
	CHECK_ERRNO(corun_blocking(gated, NULL, &r, 0), ETIMEDOUT);
	CHECK_EQ(corun_sleep(5 * MS), 0);
	CHECK_EQ(atomic_load(&started), before);
	/* A deadline already past: as any blocking call, it fires at once. */
	CHECK_ERRNO(corun_blocking(gated, NULL, &r, 1), ETIMEDOUT);
	CHECK_EQ(sem_post(&gate), 0);
	await_at_least(&started, before + 1);
	while (atomic_load(&running))
		CHECK_EQ(corun_sleep(MS), 0);
}

static void *call_gated_malloc(void *arg)
{
	void *r = NULL;
	int rc = corun_blocking_ex(gated_malloc, arg, &r, -1, discard_malloc);
	return (void *)(intptr_t)(rc < 0 ? errno : 0);
}

static void cancel(void)
{
	reset_counts();
	atomic_store(&discarded, 0);
	atomic_store(&discarded_sum, 0);
	corun_t h = corun_go(call_gated_malloc, (void *)5);
	CHECK(h > 0);
	await_at_least(&started, 1);
	/* It waits for its job: the reason, and the public count. */
	uint64_t obj = 0;
	CHECK_EQ(corun_priv_wait_reason(h, &obj), CORUN_PRIV_WAIT_BLOCKING);
	CHECK(obj != 0);
	struct corun_stats s = { .size = sizeof s };
	CHECK_EQ(corun_stats(&s), 0);
	CHECK(s.waits_blocking >= 1);
	CHECK_EQ(corun_cancel(h), 0);
	void *err;
	CHECK_EQ(corun_join(h, &err), 0);
	CHECK_EQ((intptr_t)err, ECANCELED);
	CHECK_EQ(atomic_load(&discarded), 0); /* fn still waits at the gate */
	CHECK_EQ(sem_post(&gate), 0);
	await_at_least(&discarded, 1);
	CHECK_EQ(atomic_load(&discarded_sum), 5);

	/* Canceled before the call: fn is not run. */
	h = corun_go(call_gated_malloc, (void *)6);
	CHECK_EQ(corun_cancel(h), 0);
	CHECK_EQ(corun_join(h, &err), 0);
	CHECK_EQ((intptr_t)err, ECANCELED);
	CHECK_EQ(corun_sleep(5 * MS), 0);
	CHECK_EQ(atomic_load(&started), 1);
}

/* ---- the limit, and the keep-alive ---- */

static void *call_gated(void *arg)
{
	CHECK_EQ(corun_blocking(gated, arg, NULL, -1), 0);
	return NULL;
}

static void limit(void)
{
	reset_counts();
	CHECK_EQ(corun_blocking_config(2, 10000 * MS), 0);
	corun_t h[3];
	for (int i = 0; i < 3; i++)
		h[i] = corun_go(call_gated, NULL);
	await_at_least(&started, 2);
	/* The third waits in the queue: give it every chance to start. */
	CHECK_EQ(corun_sleep(30 * MS), 0);
	CHECK_EQ(atomic_load(&started), 2);
	CHECK_EQ(atomic_load(&running), 2);
	CHECK_EQ(sem_post(&gate), 0);
	await_at_least(&started, 3);
	CHECK_EQ(sem_post(&gate), 0);
	CHECK_EQ(sem_post(&gate), 0);
	for (int i = 0; i < 3; i++)
		CHECK_EQ(corun_join(h[i], NULL), 0);
	CHECK_EQ(atomic_load(&most), 2);

	/* A raised limit starts a thread for a job that waited for one. */
	CHECK_EQ(corun_blocking_config(1, 10000 * MS), 0);
	reset_counts();
	h[0] = corun_go(call_gated, NULL);
	h[1] = corun_go(call_gated, NULL);
	await_at_least(&started, 1);
	CHECK_EQ(corun_sleep(20 * MS), 0);
	CHECK_EQ(atomic_load(&started), 1);
	CHECK_EQ(corun_blocking_config(2, 10000 * MS), 0);
	await_at_least(&started, 2);
	CHECK_EQ(sem_post(&gate), 0);
	CHECK_EQ(sem_post(&gate), 0);
	CHECK_EQ(corun_join(h[0], NULL), 0);
	CHECK_EQ(corun_join(h[1], NULL), 0);
	CHECK_EQ(corun_blocking_config(512, 10000 * MS), 0);
}

static void keep_alive(void)
{
	CHECK_EQ(corun_blocking_config(512, 50 * MS), 0);
	overlap(); /* threads started for it */
	int64_t end = corun_now() + PATIENCE;
	while (pool_threads() > 0) {
		if (corun_now() > end)
			CHECK_FAIL("%d pool threads still there", pool_threads());
		CHECK_EQ(corun_sleep(5 * MS), 0);
	}
	/* And a job after: a thread again. */
	void *r;
	CHECK_EQ(corun_blocking(plus_one, (void *)1, &r, -1), 0);
	CHECK_EQ((intptr_t)r, 2);
	CHECK_EQ(corun_blocking_config(512, 10000 * MS), 0);
}

/* ---- argument errors ---- */

static void errors(void)
{
	void *r;
	CHECK_ERRNO(corun_blocking(NULL, NULL, &r, -1), EINVAL);
	CHECK_ERRNO(corun_blocking(plus_one, NULL, &r, -2), EINVAL);
	CHECK_ERRNO(corun_blocking_ex(NULL, NULL, &r, -1, discard_malloc), EINVAL);
	CHECK_ERRNO(corun_blocking_config(0, 0), EINVAL);
	CHECK_ERRNO(corun_blocking_config(1, -2), EINVAL);
	struct addrinfo *res;
	errno = 0;
	CHECK_EQ(corun_getaddrinfo("localhost", NULL, NULL, NULL, -1), EAI_SYSTEM);
	CHECK_EQ(errno, EINVAL);
	errno = 0;
	CHECK_EQ(corun_getaddrinfo("localhost", NULL, NULL, &res, -2), EAI_SYSTEM);
	CHECK_EQ(errno, EINVAL);
	errno = 0;
	CHECK_EQ(corun_getaddrinfo("localhost", NULL, NULL, &res, 0), EAI_SYSTEM);
	CHECK_EQ(errno, ETIMEDOUT);
	CHECK_ERRNO(corun_dial(NULL, "80", -1), EINVAL);
	CHECK_ERRNO(corun_dial("localhost", NULL, -1), EINVAL);
	CHECK_ERRNO(corun_dial("localhost", "80", -2), EINVAL);
	CHECK_ERRNO(corun_dial("localhost", "80", 0), ETIMEDOUT);
}

/* ---- the resolver ---- */

static void resolver(void)
{
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res;
	CHECK_EQ(corun_getaddrinfo("localhost", "80", &hints, &res, corun_now() + PATIENCE), 0);
	int loopback = 0;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		CHECK_EQ(ai->ai_family, AF_INET);
		struct sockaddr_in *a = (struct sockaddr_in *)ai->ai_addr;
		loopback |= a->sin_addr.s_addr == htonl(INADDR_LOOPBACK) && ntohs(a->sin_port) == 80;
	}
	CHECK(loopback);
	freeaddrinfo(res);
	/* getaddrinfo's own codes come back as they are. */
	hints.ai_flags = AI_NUMERICHOST;
	CHECK_EQ(corun_getaddrinfo("not-a-number", NULL, &hints, &res, -1), EAI_NONAME);
	hints.ai_flags = 0;
	CHECK_EQ(corun_getaddrinfo("127.0.0.1", "no-such-service-xyz", &hints, &res, -1),
		 EAI_SERVICE);
	/* A deadline 1 ns away: the answer may come first (from a cache, a
	 * thread spinning for jobs); if not, ETIMEDOUT, and the answer that
	 * comes later is freed in the pool (LeakSanitizer would see it). */
	for (int i = 0; i < 20; i++) {
		errno = 0;
		int rc = corun_getaddrinfo("localhost", "80", &hints, &res, corun_now() + 1);
		if (rc == 0) {
			freeaddrinfo(res);
		} else {
			CHECK_EQ(rc, EAI_SYSTEM);
			CHECK_EQ(errno, ETIMEDOUT);
		}
	}
	CHECK_EQ(corun_sleep(20 * MS), 0); /* let the late answers be freed */
}

/* ---- dial ---- */

/* A listening socket on 127.0.0.1 and its port, as text. */
static int listener(char *port, size_t size)
{
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(s >= 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	CHECK_EQ(bind(s, (struct sockaddr *)&a, sizeof a), 0);
	socklen_t len = sizeof a;
	CHECK_EQ(getsockname(s, (struct sockaddr *)&a, &len), 0);
	CHECK_EQ(listen(s, 8), 0);
	snprintf(port, size, "%u", (unsigned)ntohs(a.sin_port));
	return s;
}

static void talk(int lsn, const char *host, const char *port)
{
	int c = corun_dial(host, port, corun_now() + PATIENCE);
	CHECK(c >= 0);
	int a = corun_accept(lsn, NULL, NULL, corun_now() + PATIENCE);
	CHECK(a >= 0);
	CHECK_EQ(corun_write(c, "ping", 4, -1), 4);
	char buf[8];
	CHECK_EQ(corun_read(a, buf, sizeof buf, corun_now() + PATIENCE), 4);
	CHECK_EQ(memcmp(buf, "ping", 4), 0);
	CHECK_EQ(corun_write(a, "pong", 4, -1), 4);
	CHECK_EQ(corun_read(c, buf, sizeof buf, corun_now() + PATIENCE), 4);
	CHECK_EQ(memcmp(buf, "pong", 4), 0);
	CHECK_EQ(corun_close(a), 0);
	CHECK_EQ(corun_close(c), 0);
}

static void dial(void)
{
	char port[16];
	int lsn = listener(port, sizeof port);
	talk(lsn, "127.0.0.1", port);
	/* localhost may name ::1 first, where nothing listens: the next
	 * address is tried. */
	talk(lsn, "localhost", port);
	CHECK_EQ(corun_close(lsn), 0);
	/* The port is free now: refused. */
	CHECK_ERRNO(corun_dial("127.0.0.1", port, corun_now() + PATIENCE), ECONNREFUSED);
	/* Names the resolver refuses without asking a server. */
	CHECK_ERRNO(corun_dial("bad host name!", "80", corun_now() + PATIENCE), ENOENT);
	CHECK_ERRNO(corun_dial("127.0.0.1", "no-such-service-xyz", -1), ENOENT);
}

/* ---- fork ---- */

static corun_t in_flight;

#ifndef UNDER_TSAN
static void *call_gated_brief(void *arg)
{
	(void)arg;
	void *r;
	int rc = corun_blocking(gated, NULL, &r, corun_now() + 300 * MS);
	return (void *)(intptr_t)(rc < 0 ? errno : 0);
}
#endif

static void child(void)
{
	/* No pool thread came along; a call starts one. */
	CHECK_EQ(pool_threads(), 0);
	void *r;
	CHECK_EQ(corun_blocking(plus_one, (void *)2, &r, corun_now() + PATIENCE), 0);
	CHECK_EQ((intptr_t)r, 3);
	CHECK(pool_threads() >= 1);
	/* The copy of the coroutine that waited for the parent's job waits
	 * until its deadline: the job is the parent's. (Not under TSan, whose
	 * record of the coroutines' switches does not survive a fork of a
	 * process with threads: it reports the copy's first run as a race.) */
	if (in_flight) {
		void *err;
		CHECK_EQ(corun_join(in_flight, &err), 0);
		CHECK_EQ((intptr_t)err, ETIMEDOUT);
	}
}

static void fork_child(void)
{
	if (!threads_after_fork()) /* the child starts pool threads */
		return;
	reset_counts();
	/* Threads that resolved names keep the resolver's state (glibc's,
	 * per thread), which the child inherits with no thread to own it: a
	 * leak to valgrind there. So the pool starts from no thread. */
	CHECK_EQ(corun_blocking_config(512, 0), 0);
	int64_t end = corun_now() + PATIENCE;
	while (pool_threads() > 0) {
		CHECK(corun_now() < end);
		CHECK_EQ(corun_sleep(MS), 0);
	}
	CHECK_EQ(corun_blocking_config(512, 10000 * MS), 0);
	CHECK_EQ(corun_blocking(plus_one, NULL, NULL, -1), 0); /* a pool thread */
	in_flight = 0;
#ifndef UNDER_TSAN
	in_flight = corun_go(call_gated_brief, NULL);
	await_at_least(&started, 1); /* running, on the parent's pool */
#endif
	in_child(child);
	if (in_flight) {
		CHECK_EQ(sem_post(&gate), 0);
		void *err;
		CHECK_EQ(corun_join(in_flight, &err), 0);
		/* In the parent it ran to its end, or the deadline came first. */
		CHECK((intptr_t)err == 0 || (intptr_t)err == ETIMEDOUT);
	}
	while (atomic_load(&running))
		CHECK_EQ(corun_sleep(MS), 0);
}

#ifdef UNDER_TSAN
/* fork_child's child starts a pool thread, which TSan refuses after a
 * fork of a process with threads unless told otherwise; only this thread
 * and its new one run in the child, so its bookkeeping stays whole. */
const char *__tsan_default_options(void);
const char *__tsan_default_options(void)
{
	return "die_after_fork=0";
}
#endif

int main(int argc, char **argv)
{
	CHECK_EQ(sem_init(&gate, 0, 0), 0);
	static const struct test tests[] = {
		TEST(results),  TEST(from_plain_thread), TEST(pool_thread_is_plain),
		TEST(overlap),  TEST(deadline),          TEST(cancel),
		TEST(limit),    TEST(keep_alive),        TEST(errors),
		TEST(resolver), TEST(dial),              TEST(fork_child),
	};
	/* Exits with pool threads idle: no hang, and nothing leaked. */
	return RUN_TESTS(argc, argv, tests);
}
