/*
 * Blocking calls offloaded (blocking.h): the jobs, and the pool of threads
 * that runs them.
 *
 * The pool's state is under one pthread mutex (adaptive where glibc has
 * it: the holds are short, and a holder is often running on another CPU).
 * Who runs a queued job is decided by a count and a list, so that a
 * submit wakes one thread per job that no thread is already going to look
 * at, and never more:
 *   lookers   threads that will look at the queue (under the lock) before
 *             they next sleep: one that just finished a job or is spinning,
 *             one just started, one just woken
 *   idle      threads asleep, each on a condition of its own, most
 *             recently idle first
 * A submit that finds more jobs queued than lookers wakes the most recently
 * idle thread, or else starts one (a looker from its creation). Waking the
 * most recent (LIFO) leaves the others idle long enough to reach their
 * keep-alive and leave, so that a trickle of jobs keeps as many threads as
 * it needs rather than every thread it ever had (a shared condition
 * variable would wake them in turn).
 *
 * A thread that has finished a job spins on the queue's length for a while
 * before it sleeps (CORUN__SPIN_NS, as a runtime spins on its inbox): a
 * caller that submits again soon (a loop of blocking calls) finds it
 * spinning and pays no wake, which on these machines costs tens of
 * microseconds each way; the caller's own runtime spins likewise for the
 * result (remote.h). Both are bounded, so an idle program sleeps.
 *
 * Locks: the pool's, then a job's (a finishing thread takes the job's
 * under the pool's, so that no job lock is held at a fork). Callers take a
 * job's lock alone, and the pool's alone.
 */
#include "blocking.h"
#include "../core/runtime.h"
#include "../core/shared.h"
#include "../core/wait.h"
#include "../failpoint.h"

#include <corun.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

struct corun__job {
	struct corun__shobj sh; /* its lock; the caller's waiter counted */
	struct corun__wq q;     /* the caller, while it waits */
	void *(*fn)(void *);
	void *arg;
	void (*discard)(void *result, void *arg);
	void *result;
	/* In the pool's queue, or in its list of jobs running: under the
	 * pool's lock. */
	struct corun__job *prev, *next;
	uint8_t refs; /* the caller and the pool: under sh.lock */
	uint8_t done; /* fn returned: result set (under sh.lock) */
	alignas(max_align_t) unsigned char extra[];
};

/* An idle thread, on its own stack. */
struct sleeper {
	pthread_cond_t cond;
	struct sleeper *prev, *next;
	int woken; /* taken off the list by a waker */
};

#define DEFAULT_MAX 512
#define DEFAULT_IDLE_NS ((int64_t)10 * 1000000000)

#ifdef PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP
#define POOL_LOCK_INIT PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP
#else
#define POOL_LOCK_INIT PTHREAD_MUTEX_INITIALIZER
#endif

static struct pool {
	pthread_mutex_t lock;
	struct corun__job *head, *tail; /* queued, oldest first */
	struct corun__job *running;     /* taken by a thread, fn not returned */
	struct sleeper *idle;           /* most recently idle first */
	_Atomic size_t queued;          /* read by spinning threads unlocked */
	size_t threads, lookers;
	size_t max;
	int64_t idle_ns; /* -1: threads never leave */
} pool = {
	.lock = POOL_LOCK_INIT,
	.max = DEFAULT_MAX,
	.idle_ns = DEFAULT_IDLE_NS,
};

static int64_t mono_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* ---- the pool's threads ---- */

static void unlink_job(struct corun__job **head, struct corun__job **tail, struct corun__job *j)
{
	if (j->prev)
		j->prev->next = j->next;
	else
		*head = j->next;
	if (j->next)
		j->next->prev = j->prev;
	else if (tail)
		*tail = j->prev;
}

/* Under the pool's lock: the oldest queued job, now the calling thread's
 * to run; NULL when none, or when the thread is above a lowered limit
 * (it must leave, so that no more than the limit run at once). */
static struct corun__job *take(void)
{
	struct corun__job *j = pool.head;
	if (!j || pool.threads > pool.max)
		return NULL;
	unlink_job(&pool.head, &pool.tail, j);
	atomic_store_explicit(&pool.queued, pool.queued - 1, memory_order_relaxed);
	j->prev = NULL;
	j->next = pool.running;
	if (pool.running)
		pool.running->prev = j;
	pool.running = j;
	pool.lookers--;
	return j;
}

/* Under the pool's lock: fn has returned r. The caller's waiter to fire
 * (after the lock) into *sw; 1 if the caller has left, and the result is
 * to be discarded and the job freed (after the lock). */
static int complete(struct corun__job *j, void *r, struct corun__swait **sw)
{
	unlink_job(&pool.running, NULL, j);
	corun__lock(&j->sh.lock);
	j->done = 1;
	j->result = r;
	*sw = corun__sq_take(&j->sh, &j->q);
	int last = --j->refs == 0;
	corun__unlock(&j->sh.lock);
	pool.lookers++;
	return last;
}

/* Under the pool's lock: wake the most recently idle thread, if any. */
static int wake_one(void)
{
	struct sleeper *s = pool.idle;
	if (!s)
		return 0;
	pool.idle = s->next;
	if (s->next)
		s->next->prev = NULL;
	s->woken = 1;
	pool.lookers++;
	pthread_cond_signal(&s->cond);
	return 1;
}

static int cover(void);

/* Spin until a job is queued or `until` passes. */
static void spin(int64_t until)
{
	for (unsigned i = 1;; i++) {
		if (atomic_load_explicit(&pool.queued, memory_order_relaxed))
			return;
		if (!(i & 63) && mono_now() >= until)
			return;
		corun__cpu_relax();
	}
}

/* Under the pool's lock: sleep until woken or `end` (-1: none). */
static void sleep_idle(struct sleeper *me, int64_t end)
{
	me->woken = 0;
	me->prev = NULL;
	me->next = pool.idle;
	if (pool.idle)
		pool.idle->prev = me;
	pool.idle = me;
	pool.lookers--;
	struct timespec ts = { end / 1000000000, end % 1000000000 };
	int r = 0;
	while (!me->woken && r != ETIMEDOUT)
		r = end < 0 ? pthread_cond_wait(&me->cond, &pool.lock)
			    : pthread_cond_timedwait(&me->cond, &pool.lock, &ts);
	if (!me->woken) { /* its keep-alive passed: off the list itself */
		if (me->prev)
			me->prev->next = me->next;
		else
			pool.idle = me->next;
		if (me->next)
			me->next->prev = me->prev;
		pool.lookers++;
	}
}

static void *pool_thread(void *unused)
{
	(void)unused;
	pthread_setname_np(pthread_self(), "corun-pool");
	/* The keep-alive is measured on the monotonic clock, not the
	 * default (wall) one that a change of date would move. */
	struct sleeper me;
	pthread_condattr_t a;
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&me.cond, &a);
	pthread_condattr_destroy(&a);

	pthread_mutex_lock(&pool.lock);
	int64_t idle_since = mono_now();
	int spun = 0;
	for (;;) {
		struct corun__job *j = take();
		if (j) {
			pthread_mutex_unlock(&pool.lock);
			do { /* back to back while jobs are queued */
				void *r = j->fn(j->arg);
				struct corun__swait *sw;
				pthread_mutex_lock(&pool.lock);
				int last = complete(j, r, &sw);
				struct corun__job *done = j;
				j = take();
				pthread_mutex_unlock(&pool.lock);
				if (sw)
					corun__sq_fire(sw, 0);
				if (last) { /* the caller left: the result is no one's */
					if (done->discard)
						done->discard(r, done->arg);
					free(done);
				}
			} while (j);
			idle_since = mono_now();
			spun = 0;
			pthread_mutex_lock(&pool.lock);
			continue;
		}
		if (pool.threads > pool.max)
			break;
		int64_t idle = pool.idle_ns, now = mono_now();
		if (idle >= 0 && now - idle_since >= idle)
			break;
		if (!spun) {
			spun = 1;
			int64_t until = now + CORUN__SPIN_NS;
			if (idle >= 0 && idle_since + idle < until)
				until = idle_since + idle;
			pthread_mutex_unlock(&pool.lock);
			spin(until);
			pthread_mutex_lock(&pool.lock);
			continue;
		}
		sleep_idle(&me, idle < 0 ? -1 : idle_since + idle);
	}
	pool.lookers--;
	pool.threads--;
	(void)cover(); /* jobs it leaves queued (a lowered limit) */
	pthread_mutex_unlock(&pool.lock);
	pthread_cond_destroy(&me.cond);
	return NULL;
}

/* Start a thread (under the pool's lock). 0, or -1: none started. Its
 * signals are all blocked from its first instruction: a process-directed
 * signal is never delivered to it, and so never runs a handler there. */
static int start_thread(void)
{
	pthread_attr_t a;
	if (pthread_attr_init(&a))
		return -1;
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_t t;
	int r = corun__fail(CORUN__FAIL_THREAD) ? EAGAIN : pthread_create(&t, &a, pool_thread, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&a);
	if (r)
		return -1;
	pool.threads++;
	pool.lookers++;
	return 0;
}

/* Under the pool's lock: see that some thread will look at each queued
 * job, as far as the limit allows. 0, or -1 when a thread was needed and
 * none could be started. */
static int cover(void)
{
	while (atomic_load_explicit(&pool.queued, memory_order_relaxed) > pool.lookers) {
		if (wake_one())
			continue;
		if (pool.threads >= pool.max)
			break; /* the next thread to finish a job takes it */
		if (start_thread() < 0)
			return -1;
	}
	return 0;
}

/* Queue j. 0, or -1 with errno EAGAIN when no thread is there to run it
 * and none could be started. */
static int submit(struct corun__job *j)
{
	pthread_mutex_lock(&pool.lock);
	j->next = NULL;
	j->prev = pool.tail;
	if (pool.tail)
		pool.tail->next = j;
	else
		pool.head = j;
	pool.tail = j;
	atomic_store_explicit(&pool.queued, pool.queued + 1, memory_order_relaxed);
	if (cover() < 0 && pool.threads == 0) {
		unlink_job(&pool.head, &pool.tail, j);
		atomic_store_explicit(&pool.queued, pool.queued - 1, memory_order_relaxed);
		pthread_mutex_unlock(&pool.lock);
		errno = EAGAIN;
		return -1;
	}
	pthread_mutex_unlock(&pool.lock);
	return 0;
}

int corun_blocking_config(size_t max_threads, int64_t idle_ns)
{
	if (max_threads == 0 || idle_ns < -1) {
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&pool.lock);
	pool.max = max_threads;
	pool.idle_ns = idle_ns;
	/* Idle threads measure their keep-alive again, or leave; a raised
	 * limit gives threads to the jobs that waited for one. */
	while (wake_one())
		;
	(void)cover();
	pthread_mutex_unlock(&pool.lock);
	return 0;
}

/* ---- jobs ---- */

struct corun__job *corun__job_make(size_t extra)
{
	if (extra > SIZE_MAX - sizeof(struct corun__job)) {
		errno = ENOMEM;
		return NULL;
	}
	struct corun__job *j = corun__calloc(CORUN__FAIL_JOB, 1, sizeof *j + extra);
	if (!j) {
		errno = ENOMEM;
		return NULL;
	}
	j->sh.mem = j;
	return j;
}

void *corun__job_extra(struct corun__job *j)
{
	return j->extra;
}

void corun__job_free(struct corun__job *j)
{
	free(j);
}

int corun__blocking_may(int64_t deadline)
{
	if (corun__deadline_check(deadline) < 0)
		return -1;
	struct corun__rt *rt = corun__tls;
	if (rt) {
		if (corun__may_block(rt) < 0 || corun__may_wait(rt, deadline) < 0)
			return -1;
	} else if (deadline == 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	return 0;
}

int corun__job_run(struct corun__job *j, void *(*fn)(void *), void *arg,
		   void (*discard)(void *result, void *arg), void **result, int64_t deadline)
{
	return corun__job_run_as(j, fn, arg, discard, result, deadline, CORUN__WAIT_BLOCKING);
}

int corun__job_run_as(struct corun__job *j, void *(*fn)(void *), void *arg,
		      void (*discard)(void *result, void *arg), void **result, int64_t deadline,
		      int reason)
{
	j->fn = fn;
	j->arg = arg;
	j->discard = discard;
	j->refs = 2;
	struct corun__rt *rt = corun__shared_rt();
	struct corun__timer t;
	if (!rt || corun__arm_deadline(rt, &t, CORUN__ID_DEADLINE, deadline) < 0) {
		free(j);
		return -1;
	}
	if (submit(j) < 0) {
		corun__disarm(rt);
		free(j);
		errno = EAGAIN;
		return -1;
	}
	int err = 0;
	corun__lock(&j->sh.lock);
	if (j->done) {
		corun__unlock(&j->sh.lock);
		corun__disarm(rt);
		corun__lock(&j->sh.lock);
	} else {
		struct corun__swait sw;
		corun__arm_shared(rt, &sw, &j->sh, &j->q, NULL, 0);
		corun__unlock(&j->sh.lock);
		(void)corun__wait(rt, (enum corun__wait_reason)reason, (uintptr_t)j, &err);
		corun__lock(&j->sh.lock);
	}
	/* fn may have returned while the deadline or the cancel was on its
	 * way: its result is taken all the same, rather than thrown away. */
	int done = j->done;
	void *r = j->result;
	int last = --j->refs == 0;
	corun__unlock(&j->sh.lock);
	if (done) { /* the pool let go when it set done: j is ours */
		if (result)
			*result = r;
		return 0;
	}
	if (last) /* not expected: the pool holds j until fn returns */
		free(j);
	errno = err ? err : EAGAIN;
	return -1;
}

int corun_blocking_ex(void *(*fn)(void *), void *arg, void **result, int64_t deadline,
		      void (*discard)(void *result, void *arg))
{
	if (!fn) {
		errno = EINVAL;
		return -1;
	}
	if (corun__blocking_may(deadline) < 0)
		return -1;
	struct corun__job *j = corun__job_make(0);
	if (!j)
		return -1;
	if (corun__job_run(j, fn, arg, discard, result, deadline) < 0)
		return -1;
	free(j);
	return 0;
}

int corun_blocking(void *(*fn)(void *), void *arg, void **result, int64_t deadline)
{
	return corun_blocking_ex(fn, arg, result, deadline, NULL);
}

/* ---- fork ---- */

void corun__blocking_fork_prepare(void)
{
	pthread_mutex_lock(&pool.lock);
}

void corun__blocking_fork_parent(void)
{
	pthread_mutex_unlock(&pool.lock);
}

/* The child's pool has no thread. The parent's jobs, queued or running,
 * are the parent's to run (run here too, they would run twice): the pool
 * lets go of each; one whose caller is in the child is left to it (it
 * waits until its deadline or cancellation, and frees the job), one whose
 * caller had left is freed now (malloc is usable in a fork handler: glibc
 * and musl make it so before the handlers run), and those of the other
 * threads' callers stay in memory, as their runtimes do. Their locks may
 * have been held by those threads: freed. */
static void drop_all(struct corun__job *j)
{
	while (j) {
		struct corun__job *next = j->next;
		atomic_store_explicit(&j->sh.lock.v, 0, memory_order_relaxed);
		if (--j->refs == 0)
			free(j);
		j = next;
	}
}

void corun__blocking_fork_child(void)
{
	drop_all(pool.head);
	drop_all(pool.running);
	pool.head = pool.tail = pool.running = NULL;
	pool.idle = NULL; /* on the stacks of threads the child lacks */
	atomic_store_explicit(&pool.queued, 0, memory_order_relaxed);
	pool.threads = pool.lookers = 0;
	/* Held by this thread since prepare, and this thread is the one the
	 * child has: unlocked as the parent does (made anew instead, a
	 * checker such as TSan would go on counting it held). */
	pthread_mutex_unlock(&pool.lock);
}
