/*
 * Failure injection (priv.h): every kind of allocation and
 * mapping the runtime makes, failed in turn. A scenario that grows every
 * structure (a burst of thousands of small stacks over several slabs, a
 * second size class, a trim that shrinks it all and a burst after it, a
 * buffered channel, a select over many channels, a coroutine waiting to
 * read a pipe, a heap of deadlines, an idle sleep, a wait group and a
 * mutex, a worker group and its tasks, a blocking call and a resolution
 * that each start a pool thread, a runtime shut down and made anew, and
 * objects shared between threads: a receive that must wait, which makes
 * the wake descriptor, an eventfd, whose failure is EMFILE; a select over
 * more than 16 with a shared channel; a shared mutex and wait group) runs
 * once to count the operations of each kind, then once more for each n
 * with the n-th operation of one kind failing (all n, or a sample when
 * there are many). Every public call it makes must either do its job or
 * fail as include/corun.h documents. Then, with nothing armed, the same
 * runtime must spawn, park, join, pass messages (shared ones from another
 * thread too), sleep, lock, run tasks and blocking calls, trim and shut
 * down, and leave the thread's alternate signal stack as it found it. A
 * second walk makes every operation of the kind fail from the n-th on.
 * Leaks are left to the ASan (LeakSanitizer) and valgrind passes.
 *
 * Some failures no public call reports, by design: the alternate signal
 * stack (an overflow then dies unreported, still by SIGSEGV), a shrink of
 * the handle table, the ready ring or a free list (the larger one is kept),
 * a free list that cannot grow (the stack's pages go back and its slot is
 * lost), the scratch array that finds idle slabs (the next trim or purge
 * looks again: checked below) and the epoll descriptor when only a sleep
 * needs it (a plain sleep instead; a wait on a descriptor fails with
 * ENOMEM). For those the walk checks that nothing breaks.
 *
 * Each trial runs on a thread of its own: it starts with no runtime, its
 * counters are its own (they are per thread), and its first spawn makes the
 * runtime and the alternate signal stack that the walk fails too.
 */
#define _GNU_SOURCE
#include "check.h"

#include <corun.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "priv.h"

/* BURST small stacks need three slabs and grow the handle table past the
 * size it shrinks from (1,024); both shrink again at the trim. */
enum {
	BURST = 2500,
	LARGES = 8,
	AFTER_TRIM = 100,
	AGAIN = 300,    /* spawned afterwards, with nothing armed */
	SLEEPERS = 100, /* the deadline heap grows at 64 */
	SELECT_N = 17,  /* a select over more than 16 allocates its waiters */
	SENDS = 20,
	LOCKERS = 4,
	SAMPLE = 48,    /* trials per kind at most, in the first walk */
};
#define SMALL CORUN_STACK_MIN
#define LARGE ((size_t)64 << 10)
#define MS ((int64_t)1000000)

/* The kinds of failure, known by name (priv.h); at most MAX_KINDS. */
enum { MAX_KINDS = 64 };

static int kind(const char *name)
{
	int k = corun_priv_fail_kind(name);
	if (k < 0)
		CHECK_FAIL("no kind of failure is named \"%s\"", name);
	return k;
}

/* ---- checking one public call ---- */

/* Public calls that failed in the current trial (only its thread runs). */
static unsigned long refused;

/* A call that may fail under injection: it returned `failed` (a bool), and
 * then errno must be `want`. */
#define MAY_FAIL(failed, want, what)                                          \
	do {                                                                  \
		int e_ = errno;                                               \
		if (!(failed))                                                \
			break;                                                \
		refused++;                                                    \
		if (e_ != (want))                                             \
			CHECK_FAIL("%s failed with errno %d (%s), not %s",    \
				   what, e_, strerror(e_), #want);            \
	} while (0)

static corun_t go(corun_fn fn, void *arg, size_t size)
{
	corun_attr a;
	CHECK_EQ(corun_attr_init(&a), 0);
	a.stack_size = size;
	errno = 0;
	corun_t h = corun_go_attr(fn, arg, &a);
	CHECK(h > 0 || h == -1);
	MAY_FAIL(h == -1, ENOMEM, "corun_go_attr");
	return h;
}

static corun_t go_ok(corun_fn fn, void *arg, size_t size)
{
	corun_t h = go(fn, arg, size);
	CHECK(h > 0);
	return h;
}

static void join_ok(corun_t h, intptr_t want)
{
	void *r;
	CHECK_EQ(corun_join(h, &r), 0);
	CHECK_EQ((intptr_t)r, want);
}

/* The kind armed in the current trial, -1 for none. */
static int armed_kind = -1;

/* What a call on a shared object fails with under injection: EMFILE when
 * the wake descriptor (an eventfd, remote.c) could not be made, else
 * ENOMEM. (Thread-local objects fail only with ENOMEM, and never under
 * the wake's kind.) */
static int shared_err(void)
{
	return armed_kind >= 0 && armed_kind == kind("wake") ? EMFILE : ENOMEM;
}

/* ---- coroutine bodies ---- */

static void *parker(void *arg)
{
	CHECK_EQ(corun_park(), 0);
	CHECK_EQ(corun_park(), 0);
	return (void *)((intptr_t)arg + 1);
}

/* Sum what comes until the channel is closed and drained. */
static void *consumer(void *arg)
{
	corun_chan *ch = arg;
	intptr_t sum = 0;
	int v;
	while (corun_chan_recv(ch, &v, -1) == 0)
		sum += v;
	CHECK_EQ(errno, EPIPE);
	return (void *)sum;
}

/* Sleeps far ahead until main cancels it: its deadline always goes into
 * the heap, whatever the machine's load. 1 when it slept, 0 when arming
 * the deadline failed. */
static void *far_sleeper(void *arg)
{
	(void)arg;
	errno = 0;
	int r = corun_sleep(10000 * MS);
	CHECK_EQ(r, -1);
	MAY_FAIL(errno != ECANCELED, ENOMEM, "corun_sleep");
	return (void *)(intptr_t)(errno == ECANCELED);
}

struct selecting {
	corun_chan *ch[SELECT_N];
};

/* Waits on every channel; the sender below fills one. The index taken, or
 * -1 when the select had no memory to wait. */
static void *selector(void *arg)
{
	struct selecting *s = arg;
	corun_case cases[SELECT_N];
	int v[SELECT_N];
	for (int i = 0; i < SELECT_N; i++)
		cases[i] = (corun_case){ s->ch[i], CORUN_RECV, &v[i], -1 };
	errno = 0;
	int i = corun_select(cases, SELECT_N, corun_now() + 10000 * MS);
	MAY_FAIL(i < 0, ENOMEM, "corun_select");
	if (i >= 0) {
		CHECK_EQ(cases[i].err, 0);
		CHECK_EQ(v[i], 77);
	}
	return (void *)(intptr_t)i;
}

static void *sender(void *arg)
{
	int v = 77;
	CHECK_EQ(corun_chan_send(arg, &v, 0), 0); /* buffered: never waits */
	return NULL;
}

struct locking {
	corun_wg *wg;
	corun_mutex *mu;
	int inside, count;
};

/* Takes the mutex (waiting, with a deadline, while another holds it over a
 * park). 1 when it got in, 0 when arming the deadline failed. */
static void *locker(void *arg)
{
	struct locking *l = arg;
	errno = 0;
	int r = corun_mutex_lock(l->mu, corun_now() + 10000 * MS);
	MAY_FAIL(r < 0, shared_err(), "corun_mutex_lock");
	if (r == 0) {
		CHECK_EQ(l->inside, 0);
		l->inside = 1;
		CHECK_EQ(corun_park(), 0);
		l->inside = 0;
		l->count++;
		CHECK_EQ(corun_mutex_unlock(l->mu), 0);
	}
	CHECK_EQ(corun_wg_done(l->wg), 0);
	return (void *)(intptr_t)(r == 0);
}

/* ---- the scenario, under injection ---- */

/* Spawn n parkers of `size` (as many as will spawn), run them, join them. */
static void burst(corun_t *h, int n, size_t size)
{
	for (int i = 0; i < n; i++)
		h[i] = go(parker, (void *)(intptr_t)i, size);
	CHECK_EQ(corun_run(), 0);
	CHECK_EQ(corun_count(), 0);
	for (int i = 0; i < n; i++)
		if (h[i] > 0)
			join_ok(h[i], i + 1);
}

static void channels(void)
{
	corun_chan *ch = corun_chan_make(sizeof(int), 4);
	MAY_FAIL(!ch, ENOMEM, "corun_chan_make");
	if (ch) {
		corun_t h = go(consumer, ch, SMALL);
		int sum = 0;
		for (int i = 1; h > 0 && i <= SENDS; i++) {
			/* From main, a send into the full buffer arms its
			 * deadline and runs the consumer. */
			errno = 0;
			int r = corun_chan_send(ch, &i, corun_now() + 10000 * MS);
			MAY_FAIL(r < 0, ENOMEM, "corun_chan_send");
			if (r < 0)
				CHECK_EQ(corun_chan_send(ch, &i, -1), 0);
			sum += i;
		}
		CHECK_EQ(corun_chan_close(ch), 0);
		if (h > 0)
			join_ok(h, sum);
		corun_chan_free(ch);
	}

	struct selecting s;
	int made = 0;
	for (; made < SELECT_N; made++) {
		s.ch[made] = corun_chan_make(sizeof(int), 1);
		MAY_FAIL(!s.ch[made], ENOMEM, "corun_chan_make");
		if (!s.ch[made])
			break;
	}
	if (made == SELECT_N) {
		corun_t hs = go(selector, &s, SMALL);
		corun_t ht = hs > 0 ? go(sender, s.ch[9], SMALL) : -1;
		CHECK_EQ(corun_run(), 0);
		if (hs > 0) {
			void *r;
			CHECK_EQ(corun_join(hs, &r), 0);
			CHECK((intptr_t)r == 9 || (intptr_t)r == -1);
		}
		if (ht > 0)
			join_ok(ht, 0);
	}
	for (int i = 0; i < made; i++)
		corun_chan_free(s.ch[i]);
}

static void timers(void)
{
	corun_t h[SLEEPERS];
	for (int i = 0; i < SLEEPERS; i++)
		h[i] = go(far_sleeper, NULL, SMALL);
	CHECK_EQ(corun_park(), 0); /* each runs once: it sleeps, or fails */
	for (int i = 0; i < SLEEPERS; i++)
		if (h[i] > 0)
			CHECK_EQ(corun_cancel(h[i]), 0);
	CHECK_EQ(corun_run(), 0);
	for (int i = 0; i < SLEEPERS; i++) {
		void *r;
		if (h[i] > 0)
			CHECK_EQ(corun_join(h[i], &r), 0);
	}

	/* Main sleeps with nothing else to do: the thread waits in the kernel
	 * (the epoll descriptor, or without it a plain sleep). */
	errno = 0;
	int r = corun_sleep(2 * MS);
	MAY_FAIL(r < 0, ENOMEM, "corun_sleep");

	/* A join with a deadline arms it. */
	corun_t j = go(parker, (void *)(intptr_t)5, SMALL);
	if (j > 0) {
		void *res;
		errno = 0;
		r = corun_join_until(j, &res, corun_now() + 10000 * MS);
		MAY_FAIL(r < 0, ENOMEM, "corun_join_until");
		if (r < 0)
			CHECK_EQ(corun_join(j, &res), 0);
		CHECK_EQ((intptr_t)res, 6);
	}
}

static void sync_objects(void)
{
	struct locking l = { 0 };
	l.wg = corun_wg_make();
	MAY_FAIL(!l.wg, ENOMEM, "corun_wg_make");
	l.mu = corun_mutex_make();
	MAY_FAIL(!l.mu, ENOMEM, "corun_mutex_make");
	if (l.wg && l.mu) {
		corun_t h[LOCKERS];
		int in = 0;
		CHECK_EQ(corun_wg_add(l.wg, LOCKERS), 0);
		for (int i = 0; i < LOCKERS; i++) {
			h[i] = go(locker, &l, SMALL);
			if (h[i] < 0)
				CHECK_EQ(corun_wg_done(l.wg), 0);
		}
		CHECK_EQ(corun_wg_wait(l.wg, -1), 0);
		for (int i = 0; i < LOCKERS; i++) {
			void *r;
			if (h[i] > 0) {
				CHECK_EQ(corun_join(h[i], &r), 0);
				in += (int)(intptr_t)r;
			}
		}
		CHECK_EQ(l.count, in);
	}
	CHECK_EQ(corun_wg_free(l.wg), 0);
	CHECK_EQ(corun_mutex_free(l.mu), 0);
}

/* ---- objects shared between threads, under injection ---- */

/* A receive on a shared channel that must wait, with a deadline: on a
 * fresh runtime, the first call to need the wake descriptor, the epoll
 * instance it goes in, and the deadline heap. The value, or -1. */
static void *shared_receiver(void *arg)
{
	int v = 0;
	errno = 0;
	int r = corun_chan_recv(arg, &v, corun_now() + 10000 * MS);
	MAY_FAIL(r < 0, shared_err(), "corun_chan_recv (shared)");
	return (void *)(intptr_t)(r < 0 ? -1 : v);
}

struct sselecting {
	corun_chan *ch[SELECT_N]; /* the last one shared, the others not */
	int sent;
};

/* A select over SELECT_N with a shared channel among them: chan_shared.c
 * allocates its waiters. The index taken, or -1. */
static void *shared_selector(void *arg)
{
	struct sselecting *s = arg;
	corun_case cases[SELECT_N];
	int v[SELECT_N];
	for (int i = 0; i < SELECT_N; i++)
		cases[i] = (corun_case){ s->ch[i], CORUN_RECV, &v[i], -1 };
	errno = 0;
	int i = corun_select(cases, SELECT_N, corun_now() + 10000 * MS);
	if (i < 0 && errno == ECANCELED)
		CHECK(!s->sent); /* main's, below */
	else
		MAY_FAIL(i < 0, shared_err(), "corun_select (shared)");
	if (i >= 0) {
		CHECK_EQ(i, SELECT_N - 1);
		CHECK_EQ(cases[i].err, 0);
		CHECK_EQ(v[i], 78);
	}
	return (void *)(intptr_t)i;
}

static void *shared_sender(void *arg)
{
	struct sselecting *s = arg;
	int v = 78;
	errno = 0;
	int r = corun_chan_send(s->ch[SELECT_N - 1], &v, 0); /* buffered */
	MAY_FAIL(r < 0, shared_err(), "corun_chan_send (shared)");
	s->sent = r == 0;
	return NULL;
}

static void shared_objects(void)
{
	corun_chan *ch = corun_chan_make_shared(sizeof(int), 0);
	MAY_FAIL(!ch, ENOMEM, "corun_chan_make_shared");
	if (ch) {
		corun_t h = go(shared_receiver, ch, SMALL);
		if (h > 0) {
			CHECK_EQ(corun_park(), 0); /* it waits, or has failed */
			int v = 31;
			errno = 0;
			int r = corun_chan_send(ch, &v, 0);
			int e = errno;
			void *got;
			CHECK_EQ(corun_join(h, &got), 0);
			if (r == 0) {
				CHECK_EQ((intptr_t)got, 31);
			} else {
				/* Nobody waited (the receiver failed), or this
				 * call failed for the same reason. */
				CHECK_EQ((intptr_t)got, -1);
				errno = e;
				if (e != ETIMEDOUT)
					MAY_FAIL(1, shared_err(), "corun_chan_send (shared)");
			}
		}
		CHECK_EQ(corun_chan_free(ch), 0);
	}

	struct sselecting s = { .sent = 0 };
	int made = 0;
	for (; made < SELECT_N; made++) {
		s.ch[made] = made == SELECT_N - 1 ? corun_chan_make_shared(sizeof(int), 1)
						  : corun_chan_make(sizeof(int), 1);
		MAY_FAIL(!s.ch[made], ENOMEM, "corun_chan_make");
		if (!s.ch[made])
			break;
	}
	if (made == SELECT_N) {
		corun_t hs = go(shared_selector, &s, SMALL);
		corun_t ht = hs > 0 ? go(shared_sender, &s, SMALL) : -1;
		CHECK_EQ(corun_park(), 0); /* the selector waits, the sender sends */
		if (hs > 0 && !s.sent)
			CHECK_EQ(corun_cancel(hs), 0); /* nothing will come */
		CHECK_EQ(corun_run(), 0);
		if (hs > 0) {
			void *r;
			CHECK_EQ(corun_join(hs, &r), 0);
			CHECK((intptr_t)r == SELECT_N - 1 || (intptr_t)r == -1);
		}
		if (ht > 0)
			join_ok(ht, 0);
	}
	for (int i = 0; i < made; i++)
		CHECK_EQ(corun_chan_free(s.ch[i]), 0);

	/* Lockers of this thread on a shared mutex, counted by a shared wait
	 * group that main waits on. */
	struct locking l = { 0 };
	l.wg = corun_wg_make_shared();
	MAY_FAIL(!l.wg, ENOMEM, "corun_wg_make_shared");
	l.mu = corun_mutex_make_shared();
	MAY_FAIL(!l.mu, ENOMEM, "corun_mutex_make_shared");
	if (l.wg && l.mu) {
		corun_t h[LOCKERS];
		int in = 0;
		CHECK_EQ(corun_wg_add(l.wg, LOCKERS), 0);
		for (int i = 0; i < LOCKERS; i++) {
			h[i] = go(locker, &l, SMALL);
			if (h[i] < 0)
				CHECK_EQ(corun_wg_done(l.wg), 0);
		}
		errno = 0;
		int r = corun_wg_wait(l.wg, -1);
		MAY_FAIL(r < 0, shared_err(), "corun_wg_wait (shared)");
		CHECK_EQ(corun_run(), 0); /* after a failed wait: the rest */
		for (int i = 0; i < LOCKERS; i++) {
			void *res;
			if (h[i] > 0) {
				CHECK_EQ(corun_join(h[i], &res), 0);
				in += (int)(intptr_t)res;
			}
		}
		CHECK_EQ(l.count, in);
	}
	CHECK_EQ(corun_wg_free(l.wg), 0);
	CHECK_EQ(corun_mutex_free(l.mu), 0);
}

/* ---- blocking calls ---- */

/* Threads of this process whose name starts with `prefix`: the blocking
 * pool's are "corun-pool", a worker group's "corun-wN". Counting them by
 * name, not the process's threads, keeps a pool thread that leaves in the
 * middle of a group's check (its keep-alive is 0) out of that check. */
static int named_threads(const char *prefix)
{
	int n = 0;
	DIR *d = opendir("/proc/self/task");
	CHECK(d);
	struct dirent *e;
	while ((e = readdir(d))) {
		char path[300], name[32] = "";
		snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
		FILE *f = e->d_name[0] != '.' ? fopen(path, "r") : NULL;
		if (!f)
			continue;
		n += fgets(name, sizeof name, f) && strncmp(name, prefix, strlen(prefix)) == 0;
		fclose(f);
	}
	closedir(d);
	return n;
}

/* Wait until no thread named `prefix` is left. A joined thread may still
 * be listed for a moment (the kernel clears the thread id pthread_join
 * waits on before it takes the thread off the process's list), and a pool
 * thread leaves on its own once its job is done; under qemu-user either
 * can take long. So wait up to 30 s: a thread left running never goes. */
static void none_left(const char *prefix)
{
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		int n = named_threads(prefix);
		if (n == 0)
			return;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > 30)
			CHECK_FAIL("%d threads named %s* never left", n, prefix);
		usleep(100);
	}
}

/* Main sets the pool threads' keep-alive to 0, so each leaves once its
 * job is done; waiting for none to be left makes every blocking call
 * start a thread, the same in every trial. */
static void pool_empty(void)
{
	none_left("corun-pool");
}

static void *plus_one(void *arg)
{
	return (void *)((intptr_t)arg + 1);
}

/* A failed blocking call: a job (ENOMEM), a pool thread (EAGAIN), the
 * runtime's wake descriptor (EMFILE), its deadline or epoll (ENOMEM). */
#define BLOCKING_FAILED(what)                                                   \
	do {                                                                    \
		refused++;                                                      \
		if (errno != ENOMEM && errno != EAGAIN && errno != EMFILE)      \
			CHECK_FAIL("%s failed with errno %d (%s)", what, errno, \
				   strerror(errno));                            \
	} while (0)

/* A blocking call and a resolution, each starting a pool thread. */
static void blocking(void)
{
	pool_empty();
	void *r = NULL;
	errno = 0;
	if (corun_blocking(plus_one, (void *)1, &r, corun_now() + 10000 * MS) < 0)
		BLOCKING_FAILED("corun_blocking");
	else
		CHECK_EQ((intptr_t)r, 2);
	pool_empty();
	struct addrinfo hints = { .ai_family = AF_INET, .ai_flags = AI_NUMERICHOST };
	struct addrinfo *res;
	errno = 0;
	int rc = corun_getaddrinfo("127.0.0.1", "80", &hints, &res, -1);
	if (rc == EAI_SYSTEM) {
		BLOCKING_FAILED("corun_getaddrinfo");
	} else {
		CHECK_EQ(rc, 0);
		freeaddrinfo(res);
	}
}

/* A coroutine waits to read a pipe that main then writes: the table of
 * descriptors grows, and the runtime's epoll instance is made. */
static void *pipe_reader(void *arg)
{
	char c;
	errno = 0;
	ssize_t n = corun_read((int)(intptr_t)arg, &c, 1, -1);
	MAY_FAIL(n == -1, ENOMEM, "corun_read");
	return (void *)(intptr_t)n;
}

static void descriptors(int must_work)
{
	int p[2];
	CHECK_EQ(pipe2(p, O_CLOEXEC), 0);
	corun_t h = must_work ? go_ok(pipe_reader, (void *)(intptr_t)p[0], SMALL)
			      : go(pipe_reader, (void *)(intptr_t)p[0], SMALL);
	if (h > 0) {
		CHECK_EQ(corun_park(), 0); /* it waits, or has failed */
		CHECK_EQ(write(p[1], "x", 1), 1);
		void *r;
		CHECK_EQ(corun_join(h, &r), 0);
		CHECK((intptr_t)r == 1 || (!must_work && (intptr_t)r == -1));
	}
	CHECK_EQ(corun_close(p[0]), 0);
	CHECK_EQ(corun_close(p[1]), 0);
}

/* A worker group: its record, its threads (EAGAIN), the tasks, the
 * wake descriptor of the thread that waits for them. A start that fails
 * leaves no thread behind. */
static void groups(int must_work)
{
	errno = 0;
	corun_group *g = corun_group_start(2, 0);
	if (!g) {
		int e = errno;
		CHECK(!must_work);
		if (e != ENOMEM && e != EAGAIN && e != EMFILE)
			CHECK_FAIL("corun_group_start failed with errno %d (%s)", e, strerror(e));
		refused++;
		none_left("corun-w");
		return;
	}
	static const int on[] = { -1, 0, 1 };
	corun_task *t[3];
	for (int i = 0; i < 3; i++) {
		errno = 0;
		t[i] = corun_group_go(g, on[i], plus_one, (void *)(intptr_t)i);
		CHECK(t[i] || !must_work);
		MAY_FAIL(!t[i], ENOMEM, "corun_group_go");
	}
	for (int i = 0; i < 3; i++) {
		if (!t[i])
			continue;
		void *r;
		errno = 0;
		int rc = corun_task_join(t[i], &r, corun_now() + 10000 * MS);
		CHECK(rc == 0 || !must_work);
		MAY_FAIL(rc < 0, ENOMEM, "corun_task_join"); /* the deadline; t kept */
		if (rc < 0)
			CHECK_EQ(corun_task_join(t[i], &r, -1), 0);
		CHECK_EQ((intptr_t)r, i + 1);
	}
	CHECK_EQ(corun_group_stop(g, CORUN_GROUP_DRAIN), 0);
	none_left("corun-w");
}

static corun_t handles[BURST];
static unsigned long armed_times; /* of the current trial */

static void scenario(void)
{
	/* A runtime made, used and shut down; the next spawn makes another. */
	corun_t h = go(parker, (void *)(intptr_t)1, SMALL);
	if (h > 0)
		join_ok(h, 2);
	CHECK_EQ(corun_shutdown(), 0);

	/* On the fresh runtime, so that a shared wait is the first to need
	 * the wake descriptor, the epoll instance and the deadline heap. */
	shared_objects();

	burst(handles, BURST, SMALL);
	burst(handles, LARGES, LARGE);
	/* Everything is idle: the slabs are unmapped, the tables shrink. A
	 * trim that had no memory to find the idle slabs leaves them to the
	 * next look: a second trim. Only a stack the pool had no memory to
	 * keep (a free-list failure: it is given back, its slot lost) keeps
	 * its slab mapped. */
	CHECK_EQ(corun_trim(), 0);
	CHECK_EQ(corun_trim(), 0);
	if (armed_times <= 1 && corun_priv_fail_failed(kind("free list")) == 0)
		CHECK_PTR_EQ(corun_priv_slab(0, NULL, NULL), NULL);
	burst(handles, AFTER_TRIM, SMALL);

	channels();
	descriptors(0);
	timers();
	sync_objects();
	groups(0);
	blocking();
	CHECK_EQ(corun_trim(), 0);
	CHECK_EQ(corun_count(), 0);
}

/* ---- afterwards, with nothing armed: the same runtime works ---- */

/* Another thread, a moment later (the receiver's thread is asleep by
 * then): a send on a shared channel, which wakes it. */
static void *send_later(void *arg)
{
	usleep(10000);
	int v = 55;
	CHECK_EQ(corun_chan_send(arg, &v, corun_now() + 10000 * MS), 0);
	return NULL;
}

/* With nothing armed: shared objects work, across threads too. */
static void shared_still_works(void)
{
	corun_chan *ch = corun_chan_make_shared(sizeof(int), 0);
	CHECK(ch != NULL);
	corun_t h = go_ok(shared_receiver, ch, SMALL);
	pthread_t t;
	CHECK_EQ(pthread_create(&t, NULL, send_later, ch), 0);
	join_ok(h, 55);
	CHECK_EQ(pthread_join(t, NULL), 0);
	CHECK_EQ(corun_chan_free(ch), 0);

	struct sselecting s = { .sent = 0 };
	for (int i = 0; i < SELECT_N; i++)
		CHECK((s.ch[i] = i == SELECT_N - 1 ? corun_chan_make_shared(sizeof(int), 1)
						   : corun_chan_make(sizeof(int), 1)) != NULL);
	corun_t hs = go_ok(shared_selector, &s, SMALL), ht = go_ok(shared_sender, &s, SMALL);
	join_ok(hs, SELECT_N - 1);
	join_ok(ht, 0);
	for (int i = 0; i < SELECT_N; i++)
		CHECK_EQ(corun_chan_free(s.ch[i]), 0);

	struct locking l = { 0 };
	CHECK((l.wg = corun_wg_make_shared()) != NULL);
	CHECK((l.mu = corun_mutex_make_shared()) != NULL);
	CHECK_EQ(corun_wg_add(l.wg, 2), 0);
	corun_t a = go_ok(locker, &l, SMALL), b = go_ok(locker, &l, SMALL);
	CHECK_EQ(corun_wg_wait(l.wg, corun_now() + 10000 * MS), 0);
	join_ok(a, 1);
	join_ok(b, 1);
	CHECK_EQ(l.count, 2);
	CHECK_EQ(corun_wg_free(l.wg), 0);
	CHECK_EQ(corun_mutex_free(l.mu), 0);
}


static void still_works(void)
{
	for (int i = 0; i < AGAIN; i++)
		handles[i] = go_ok(parker, (void *)(intptr_t)i, SMALL);
	corun_t big = go_ok(parker, (void *)(intptr_t)7, LARGE);
	CHECK_EQ(corun_run(), 0);
	for (int i = 0; i < AGAIN; i++)
		join_ok(handles[i], i + 1);
	join_ok(big, 8);

	corun_chan *ch = corun_chan_make(sizeof(int), 4);
	CHECK(ch != NULL);
	corun_t h = go_ok(consumer, ch, SMALL);
	for (int i = 1; i <= SENDS; i++)
		CHECK_EQ(corun_chan_send(ch, &i, corun_now() + 10000 * MS), 0);
	CHECK_EQ(corun_chan_close(ch), 0);
	join_ok(h, SENDS * (SENDS + 1) / 2);
	corun_chan_free(ch);

	h = go_ok(far_sleeper, NULL, SMALL);
	CHECK_EQ(corun_park(), 0);
	CHECK_EQ(corun_cancel(h), 0);
	join_ok(h, 1);
	CHECK_EQ(corun_sleep(100000), 0);
	descriptors(1);

	struct locking l = { 0 };
	CHECK((l.wg = corun_wg_make()) != NULL);
	CHECK((l.mu = corun_mutex_make()) != NULL);
	CHECK_EQ(corun_wg_add(l.wg, 2), 0);
	corun_t a = go_ok(locker, &l, SMALL), b = go_ok(locker, &l, SMALL);
	CHECK_EQ(corun_wg_wait(l.wg, corun_now() + 10000 * MS), 0);
	join_ok(a, 1);
	join_ok(b, 1);
	CHECK_EQ(l.count, 2);
	CHECK_EQ(corun_wg_free(l.wg), 0);
	CHECK_EQ(corun_mutex_free(l.mu), 0);
	groups(1);
	shared_still_works();

	void *r;
	CHECK_EQ(corun_blocking(plus_one, (void *)2, &r, -1), 0);
	CHECK_EQ((intptr_t)r, 3);

	CHECK_EQ(corun_trim(), 0);
	CHECK_EQ(corun_count(), 0);
}

/* ---- trials ---- */

struct trial {
	int kind;
	unsigned long n, times; /* times 0: nothing armed */
	unsigned long ops[MAX_KINDS], failed;
	unsigned long refused; /* public calls that failed */
};

static void *trial_thread(void *arg)
{
	struct trial *t = arg;
	stack_t before, after;
	CHECK_EQ(sigaltstack(NULL, &before), 0);

	corun_priv_fail_reset();
	refused = 0;
	armed_times = t->times;
	armed_kind = t->times ? t->kind : -1;
	if (t->times)
		corun_priv_fail_arm(t->kind, t->n, t->times);
	scenario();
	for (int k = 0; k < corun_priv_fail_kinds(); k++)
		t->ops[k] = corun_priv_fail_ops(k);
	t->failed = corun_priv_fail_failed(t->kind);
	t->refused = refused;
	corun_priv_fail_reset();
	armed_kind = -1;

	still_works();
	CHECK_EQ(corun_shutdown(), 0);
	/* The alternate signal stack corun gave the thread, if it could, is
	 * gone; one the thread had before (a sanitizer's) is left. */
	CHECK_EQ(sigaltstack(NULL, &after), 0);
	CHECK_EQ(after.ss_flags & SS_DISABLE, before.ss_flags & SS_DISABLE);
	if (!(before.ss_flags & SS_DISABLE))
		CHECK_PTR_EQ(after.ss_sp, before.ss_sp);
	return NULL;
}

static void run_trial(struct trial *t)
{
	pthread_t th;
	CHECK_EQ(pthread_create(&th, NULL, trial_thread, t), 0);
	CHECK_EQ(pthread_join(th, NULL), 0);
}

/* Trial with the n-th operation of `kind` failing (and `times` - 1 after
 * it). The n-th operation exists, since the unarmed run made it; only
 * deadlines that pass before they are armed (a loaded machine) could move
 * it, so a trial in which nothing failed is tried again. */
static unsigned long fail_at(int kind, unsigned long n, unsigned long times)
{
	struct trial t;
	for (int tries = 0; tries < 3; tries++) {
		t = (struct trial){ .kind = kind, .n = n, .times = times };
		run_trial(&t);
		if (t.failed > 0)
			break;
	}
	if (t.failed == 0)
		CHECK_FAIL("%s: operation %lu of %lu never came", corun_priv_fail_name(kind), n,
			   t.ops[kind]);
	if (times == 1)
		CHECK_EQ(t.failed, 1);
	return t.refused;
}

/* The i-th of m trials over `count` operations: all of them when they are
 * few, otherwise the first half of the sample one by one and the rest
 * spread evenly up to the last. */
static unsigned long nth(unsigned long i, unsigned long m, unsigned long count)
{
	if (count <= m)
		return i + 1;
	unsigned long head = m / 2;
	if (i < head)
		return i + 1;
	return head + (i - head + 1) * (count - head) / (m - head);
}

int main(void)
{
	/* Stacks go back only at a trim: no clock decides what the scenario
	 * allocates, so every run counts the same operations. */
	CHECK_EQ(corun_set_stack_decay(-1), 0);
	CHECK(corun_priv_fail_kinds() <= MAX_KINDS);
	/* Pool threads leave once idle: blocking() then starts them anew. */
	CHECK_EQ(corun_blocking_config(512, 0), 0);

	/* Only main's short sleep depends on the clock: it waits in the kernel
	 * (an epoll descriptor) only if its deadline has not passed by the
	 * time it is armed, which a loaded machine can delay. */
	struct trial base;
	if (getenv("CORUN_FAILPOINTS_COUNTS")) { /* to see the counts of a changed scenario */
		base = (struct trial){ .times = 0 };
		run_trial(&base);
		for (int k = 0; k < corun_priv_fail_kinds(); k++)
			fprintf(stderr, "%s %lu\n", corun_priv_fail_name(k), base.ops[k]);
	}
	for (int tries = 0; tries < 3; tries++) {
		base = (struct trial){ .times = 0 };
		run_trial(&base);
		if (base.ops[kind("epoll")] || base.ops[kind("uring")])
			break;
	}
	/* Operations that happen only in some builds (valgrind's stack ids) or
	 * on some kernels (the map limit, with mprotect guards) may count 0;
	 * these must not. */
#define OPS(name) base.ops[kind(name)]
	CHECK(OPS("runtime") == 2 && OPS("handles") >= 5 && OPS("ring") >= 6 && OPS("slab") >= 4 &&
	      OPS("class") >= 3 && OPS("slab array") >= 2 && OPS("guard") >= BURST &&
	      OPS("timer heap") >= 2 && OPS("free list") >= 5 && OPS("free list shrink") >= 1 &&
	      OPS("spans") >= 2 && OPS("handles shrink") >= 1 && (OPS("epoll") >= 1 || OPS("uring") >= 1) &&
	      OPS("channel") == 2 + 2 * SELECT_N && OPS("select") == 2 && OPS("sync") == 4 &&
	      OPS("exit key") == 2 && OPS("fds") >= 1 && OPS("thread") == 4 && OPS("group") == 4 &&
	      OPS("wake") == 1 && OPS("job") == 2);
#undef OPS

	unsigned long trials = 0;
	for (int k = 0; k < corun_priv_fail_kinds(); k++) {
		unsigned long count = base.ops[k];
		unsigned long m = count < SAMPLE ? count : SAMPLE, seen = 0;
		for (unsigned long i = 0; i < m; i++, trials++)
			seen += fail_at(k, nth(i, m, count), 1);
		/* Every operation from the n-th on fails: for the first, the
		 * middle one and the last. */
		unsigned long sticky[3] = { 1, (count + 1) / 2, count };
		for (int i = 0; i < 3 && count; i++) {
			if (i > 0 && sticky[i] == sticky[i - 1])
				continue;
			seen += fail_at(k, sticky[i], ULONG_MAX);
			trials++;
		}
		/* A kind whose failures no call reports (a shrink that keeps
		 * the larger table, a fallback) shows 0 here. */
		fprintf(stderr, "-- %-16s %5lu operations, %lu public calls failed\n",
			corun_priv_fail_name(k), count, seen);
	}
	fprintf(stderr, "%lu trials\n", trials);
	return 0;
}
