/*
 * Worker groups (group.h, corun.h "Worker groups").
 *
 * A worker is a thread whose main context loops: take a task, spawn it as
 * a coroutine of its own runtime, let the ready coroutines run, again.
 * With nothing ready it waits as a shared waiter (shared.h) on two queues
 * of waiters, its own (a task spawned for it) and the group's `idle` (a
 * task for any worker); a wait from main drives the scheduler, so its
 * coroutines that wait on descriptors, deadlines or shared objects go on
 * running meanwhile, and the wait ends at the first task.
 *
 * Which worker takes a task spawned for any: an idle one if there is one,
 * else the first to come round. An idle worker is one whose ready queue
 * was empty when it began to wait: only those are on `idle`. A spawn takes
 * the first of them and hands it the task (onto its own queue) before it
 * wakes it, so that the task cannot go to another, busier worker that
 * happens to look at the group's queue first. With none idle, the task
 * goes on the group's queue, and a busy worker takes one from there each
 * time its ready coroutines have all run once (corun_park from main); a
 * worker that runs out of work looks there before it waits. So a task
 * waits on the group's queue only while no worker is idle, and an idle
 * worker's task starts as soon as it wakes.
 *
 * What this cannot see: a worker counted idle whose coroutines became
 * ready while it waited (a descriptor, a deadline) still takes the task
 * handed to it, at its main's next turn in its ready queue, after each of
 * them has run once; it is never stuck for longer than a round, unless a
 * coroutine there runs without ever parking or waiting, which holds up its
 * whole thread anyway (the cooperative contract).
 *
 * Cancel and stop reach a running task's coroutine on its own thread: the
 * task's cancel node, pushed to its worker's inbox (remote.h), runs
 * corun_cancel there. The task and the worker stay alive while the node
 * is in flight (cancel_inflight, nodes).
 *
 * fork: a child has none of the workers. Its calls on a group of the
 * parent (and on its tasks) fail with EPERM before touching its lock,
 * which a worker may have held at the fork: the generation the group was
 * started in differs from the process's, which the child's atfork handler
 * advanced.
 */
#include "group.h"
#include "../core/runtime.h"
#include "../core/wait.h"
#include "../failpoint.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* More workers than this is a mistake in the count, not a program. */
#define MAX_WORKERS 4096

static __thread struct corun__worker *self_w;
static _Atomic unsigned fork_gen;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void atfork_child(void)
{
	atomic_fetch_add_explicit(&fork_gen, 1, memory_order_relaxed);
	self_w = NULL; /* a worker that forked: the child's copy is no worker */
}

static void atfork_install(void)
{
	/* Without memory for it, a child would take the parent's groups for
	 * its own: its calls on them would wait for workers it lacks. Nothing
	 * better can be done here; pthread_atfork fails only with ENOMEM. */
	(void)pthread_atfork(NULL, NULL, atfork_child);
}

/* A group of the parent process, in a child of fork: no workers here. */
static int orphaned(const corun_group *g)
{
	return g->gen != atomic_load_explicit(&fork_gen, memory_order_relaxed);
}

static void g_lock(corun_group *g)
{
	corun__lock(&g->sh.lock);
}

/* Unlock, freeing the group if it has been stopped and its last task has
 * gone (sh.freed) and no waiter is left to withdraw from it. The caller
 * must not touch g after this unless a task it holds keeps it. */
static void g_unlock(corun_group *g)
{
	corun__shobj_release(&g->sh);
}

/* ---- task lists (under the lock) ---- */

static void tl_push(struct corun__tlist *l, struct corun_task *t)
{
	t->list = l;
	t->next = NULL;
	t->prev = l->tail;
	if (l->tail)
		l->tail->next = t;
	else
		l->head = t;
	l->tail = t;
}

static void tl_remove(struct corun_task *t)
{
	struct corun__tlist *l = t->list;
	if (t->prev)
		t->prev->next = t->next;
	else
		l->head = t->next;
	if (t->next)
		t->next->prev = t->prev;
	else
		l->tail = t->prev;
	t->prev = t->next = NULL;
	t->list = NULL;
}

/* The queue counts beside the lists, read without the lock by a busy
 * worker's loop (a look, then the lock only if there is something). */
static void count_add(_Atomic size_t *n, long d)
{
	atomic_store_explicit(n, atomic_load_explicit(n, memory_order_relaxed) + (size_t)d,
			      memory_order_relaxed);
}

static struct corun_task *worker_pop(struct corun__worker *w)
{
	struct corun_task *t = w->q.head;
	if (t) {
		tl_remove(t);
		count_add(&w->nq, -1);
	}
	return t;
}

static struct corun_task *group_pop(corun_group *g)
{
	struct corun_task *t = g->q.head;
	if (t) {
		tl_remove(t);
		count_add(&g->nq, -1);
	}
	return t;
}

/* Off whichever queue it is on (QUEUED), keeping the counts. */
static void unqueue(corun_group *g, struct corun_task *t)
{
	if (t->list == &g->q)
		count_add(&g->nq, -1);
	else
		count_add(&t->w->nq, -1);
	tl_remove(t);
}

/* ---- wakes, taken under the lock and fired after it ---- */

struct wakes {
	struct corun__swait *list;
};

static void wake_take(struct wakes *k, corun_group *g, struct corun__wq *q, int all)
{
	struct corun__swait *sw;
	while ((sw = corun__sq_take(&g->sh, q))) {
		sw->w.next = (struct corun__waiter *)k->list;
		k->list = sw;
		if (!all)
			break;
	}
}

static void wake_fire(struct wakes *k)
{
	while (k->list) {
		struct corun__swait *sw = k->list;
		k->list = (struct corun__swait *)sw->w.next;
		corun__sq_fire(sw, 0);
	}
}

/* ---- a task's life ---- */

/* Under the lock: free t once nothing holds it (its handle, its run, a
 * cancel in flight); the group with it when it was the last of a stopped
 * group (the unlock frees it). */
static void task_maybe_free(corun_group *g, struct corun_task *t)
{
	if (t->user || t->state != CORUN__TASK_ENDED || t->cancel_inflight)
		return;
	free(t);
	if (--g->live == 0 && g->user_done)
		g->sh.freed = 1;
}

/* Under the lock: t is over (ended, or will never start): its joiner
 * wakes. */
static void task_over(corun_group *g, struct corun_task *t, struct wakes *k)
{
	t->state = CORUN__TASK_ENDED;
	/* t->rt stays: a stop's cancel, sent after its unlock, goes there
	 * (the worker waits for it: nodes). */
	wake_take(k, g, &t->joiners, 1);
}

/* On t's worker, in its coroutine (or instead of it): the end. */
static void task_end(struct corun_task *t, void *result, int err)
{
	corun_group *g = t->g;
	struct corun__worker *w = t->w;
	struct wakes k = { 0 };
	g_lock(g);
	tl_remove(t); /* off the running list */
	t->result = result;
	t->err = err;
	task_over(g, t, &k);
	w->running--;
	if (g->stopping) /* its main may wait for this, its last task, to end */
		wake_take(&k, g, &w->wait, 0);
	task_maybe_free(g, t);
	g_unlock(g); /* g lives on: this worker has not exited */
	wake_fire(&k);
}

static void *task_main(void *p)
{
	struct corun_task *t = p;
	task_end(t, t->fn(t->arg), 0);
	return NULL;
}

/* On the worker: make t's coroutine. It runs when the worker next lets
 * its ready coroutines run, so nothing of it has run before this returns. */
static void task_start(struct corun__worker *w, struct corun__rt *rt, struct corun_task *t)
{
	corun_attr a;
	corun_attr_init(&a);
	a.flags = CORUN_DETACHED;
	a.name = "task";
	corun_t h = corun_go_attr(task_main, t, &a);
	if (h < 0) { /* ENOMEM, EAGAIN: its join says so */
		task_end(t, NULL, errno);
		return;
	}
	corun_group *g = w->g;
	g_lock(g);
	t->state = CORUN__TASK_RUNNING;
	t->rt = rt;
	t->h = h;
	int cancel = t->cancel_asked; /* canceled while it was being made */
	g_unlock(g);
	if (cancel)
		corun_cancel(h);
}

/* On the worker, from its inbox: a cancel sent by another thread (or
 * this one). */
static void cancel_run(struct corun__rt *rt, struct corun__rnode *n)
{
	(void)rt;
	struct corun_task *t = (struct corun_task *)((char *)n - offsetof(struct corun_task, cancel));
	corun_group *g = t->g;
	struct corun__worker *w = t->w;
	struct wakes k = { 0 };
	g_lock(g);
	t->cancel_inflight = 0;
	w->nodes--;
	/* Still running here: it cannot end before the cancel below, since
	 * this thread is running this instead. */
	corun_t h = t->state == CORUN__TASK_RUNNING ? t->h : -1;
	if (g->stopping)
		wake_take(&k, g, &w->wait, 0);
	task_maybe_free(g, t);
	g_unlock(g);
	if (h >= 0)
		corun_cancel(h);
	wake_fire(&k);
}

/* Under the lock: cancel t. A queued task ends at once (ECANCELED); one
 * being made is canceled by its worker once made; a running one by its
 * worker when the node arrives: the runtime to push it to is returned, to
 * be pushed after the unlock. */
static struct corun__rt *cancel_locked(corun_group *g, struct corun_task *t, struct wakes *k)
{
	switch (t->state) {
	case CORUN__TASK_QUEUED:
		unqueue(g, t);
		t->err = ECANCELED;
		task_over(g, t, k);
		return NULL;
	case CORUN__TASK_TAKEN:
		t->cancel_asked = 1;
		return NULL;
	case CORUN__TASK_RUNNING:
		if (t->cancel_asked)
			return NULL;
		t->cancel_asked = 1;
		t->cancel_inflight = 1;
		t->w->nodes++;
		t->cancel.run = cancel_run;
		return t->rt;
	default:
		return NULL;
	}
}

/* ---- the workers ---- */

static int worker_may_exit(corun_group *g, struct corun__worker *w)
{
	return g->stopping && !w->q.head && !g->q.head && !w->running && !w->nodes;
}

static void worker_loop(struct corun__worker *w, struct corun__rt *rt)
{
	corun_group *g = w->g;
	int took_shared = 0; /* one from the group's queue per round */
	for (;;) {
		int ready = rt->sched.head != rt->sched.tail;
		/* Busy and nothing for it: let the ready ones run once. */
		if (ready && !atomic_load_explicit(&w->nq, memory_order_relaxed) &&
		    (took_shared || !atomic_load_explicit(&g->nq, memory_order_relaxed))) {
			corun_park();
			took_shared = 0;
			continue;
		}
		g_lock(g);
		struct corun_task *t = worker_pop(w);
		if (!t && !took_shared) {
			t = group_pop(g);
			took_shared = t != NULL;
		}
		if (t) {
			t->state = CORUN__TASK_TAKEN;
			t->w = w;
			tl_push(&g->running, t);
			w->running++;
			g_unlock(g);
			task_start(w, rt, t);
			continue;
		}
		if (ready || took_shared) {
			g_unlock(g);
			if (ready)
				corun_park();
			took_shared = 0;
			continue;
		}
		if (worker_may_exit(g, w)) {
			g_unlock(g);
			return;
		}
		/* Idle: the group's queue is empty (just looked), so a task
		 * for any worker will be handed to this one or another idle
		 * one. While the group stops, none comes. */
		struct corun__swait own, any;
		corun__arm_shared(rt, &own, &g->sh, &w->wait, w, 0);
		if (!g->stopping)
			corun__arm_shared(rt, &any, &g->sh, &g->idle, w, 0);
		corun__unlock(&g->sh.lock);
		int err;
		corun__wait(rt, CORUN__WAIT_GROUP, (uintptr_t)g, &err);
	}
}

/* Under the lock: tell start or stop that a worker has moved on. */
static void worker_report(corun_group *g, struct wakes *k)
{
	wake_take(k, g, &g->ctl, 1);
}

static void *worker_main(void *p)
{
	struct corun__worker *w = p;
	corun_group *g = w->g;
	char name[16];
	snprintf(name, sizeof name, "corun-w%d", w->index);
	pthread_setname_np(pthread_self(), name);
	self_w = w;
	struct corun__rt *rt = corun__shared_rt();
	struct wakes k = { 0 };
	g_lock(g);
	w->rt = rt;
	if (!rt && !g->err)
		g->err = errno;
	g->ready++;
	worker_report(g, &k);
	corun__unlock(&g->sh.lock);
	wake_fire(&k);
	if (rt) {
		worker_loop(w, rt);
		/* The tasks have ended; coroutines they spawned here run to
		 * their end too, as corun_run would, and the runtime goes
		 * before the stop hears of it, so that its join of this
		 * thread waits for nothing more than the thread's exit. */
		corun_run();
		corun_shutdown();
	}
	g_lock(g);
	g->exited++;
	worker_report(g, &k);
	corun__unlock(&g->sh.lock);
	wake_fire(&k); /* the last touch of g: the stop frees it after */
	return NULL;
}

/* Wait, as the caller's main or coroutine, until done(g) holds (checked
 * under the lock): start and stop waiting on the workers. Not a
 * cancellation point: a cancel ends one wait, and the loop waits again,
 * since neither call can stop half way. */
static void wait_ctl(corun_group *g, struct corun__rt *rt, int (*done)(const corun_group *))
{
	g_lock(g);
	while (!done(g)) {
		struct corun__swait sw;
		corun__arm_shared(rt, &sw, &g->sh, &g->ctl, NULL, 0);
		corun__unlock(&g->sh.lock);
		int err;
		corun__wait(rt, CORUN__WAIT_GROUP, (uintptr_t)g, &err);
		g_lock(g);
	}
	corun__unlock(&g->sh.lock);
}

static int all_ready(const corun_group *g)
{
	return g->ready == g->created;
}

static int all_exited(const corun_group *g)
{
	return g->exited == g->created;
}

/* Under the lock: begin the stop. Queued tasks end canceled (CANCEL), the
 * running ones get their cancel (pushed after the unlock: *push), and
 * every waiting worker wakes to see it. */
static void stop_begin(corun_group *g, int how, struct wakes *k, struct corun_task **push)
{
	g->stopping = how;
	if (how == CORUN_GROUP_CANCEL) {
		struct corun_task *t;
		while ((t = g->q.head)) {
			cancel_locked(g, t, k);
			task_maybe_free(g, t); /* detached: nobody will join it */
		}
		for (size_t i = 0; i < g->n; i++)
			while ((t = g->w[i].q.head)) {
				cancel_locked(g, t, k);
				task_maybe_free(g, t);
			}
		for (t = g->running.head; t; t = t->next)
			if (cancel_locked(g, t, k)) {
				t->push_next = *push;
				*push = t;
			}
	}
	for (size_t i = 0; i < g->n; i++)
		wake_take(k, g, &g->w[i].wait, 0);
	wake_take(k, g, &g->idle, 1);
}

static void push_cancels(struct corun_task *t)
{
	while (t) {
		struct corun_task *next = t->push_next; /* t may be freed once pushed */
		corun__remote_push(t->rt, &t->cancel);
		t = next;
	}
}

/* Stop and free g, waiting as wait_ctl does: 0, or -1 when a stop is
 * under way already. */
static int stop_and_free(corun_group *g, struct corun__rt *rt, int how)
{
	struct wakes k = { 0 };
	struct corun_task *push = NULL;
	g_lock(g);
	if (g->stopping) {
		corun__unlock(&g->sh.lock);
		return -1;
	}
	stop_begin(g, how, &k, &push);
	corun__unlock(&g->sh.lock);
	wake_fire(&k);
	push_cancels(push);
	wait_ctl(g, rt, all_exited);
	for (size_t i = 0; i < g->created; i++)
		pthread_join(g->w[i].thread, NULL);
	g_lock(g);
	/* Canceled queued tasks whose handles were detached went when they
	 * ended; those still held keep the group until joined or detached. */
	g->user_done = 1;
	if (g->live == 0)
		g->sh.freed = 1;
	g_unlock(g);
	return 0;
}

/* ---- the API ---- */

corun_group *corun_group_start(size_t threads, unsigned flags)
{
	if (flags & ~CORUN_GROUP_PIN) {
		errno = EINVAL;
		return NULL;
	}
	cpu_set_t allowed;
	if (sched_getaffinity(0, sizeof allowed, &allowed) < 0)
		return NULL;
	int ncpu = CPU_COUNT(&allowed);
	if (threads == 0)
		threads = ncpu > 0 ? (size_t)ncpu : 1;
	if (threads > MAX_WORKERS) {
		errno = EINVAL;
		return NULL;
	}
	pthread_once(&atfork_once, atfork_install);
	/* The caller waits for the workers below: its runtime, first. */
	struct corun__rt *rt = corun__shared_rt();
	if (!rt)
		return NULL;
	corun_group *g = corun__calloc(CORUN__FAIL_GROUP, 1, sizeof *g + threads * sizeof g->w[0]);
	if (!g) {
		errno = ENOMEM;
		return NULL;
	}
	g->sh.mem = g;
	g->n = threads;
	g->flags = flags;
	g->gen = atomic_load_explicit(&fork_gen, memory_order_relaxed);
	for (size_t i = 0; i < threads; i++) {
		g->w[i].g = g;
		g->w[i].index = (int)i;
	}
	pthread_attr_t attr;
	int err = pthread_attr_init(&attr);
	for (size_t i = 0; !err && i < threads; i++) {
		if (flags & CORUN_GROUP_PIN) {
			/* Worker i on the i-th CPU the process may use. */
			cpu_set_t one;
			CPU_ZERO(&one);
			for (int c = 0, seen = 0; c < CPU_SETSIZE; c++)
				if (CPU_ISSET(c, &allowed) && (size_t)seen++ == i % (size_t)ncpu) {
					CPU_SET(c, &one);
					break;
				}
			err = pthread_attr_setaffinity_np(&attr, sizeof one, &one);
			if (err)
				break;
		}
		if (corun__fail(CORUN__FAIL_THREAD)) {
			err = EAGAIN;
			break;
		}
		err = pthread_create(&g->w[i].thread, &attr, worker_main, &g->w[i]);
		if (!err)
			g->created = i + 1; /* read by the workers only under the lock, after */
	}
	pthread_attr_destroy(&attr);
	wait_ctl(g, rt, all_ready);
	if (!err)
		err = g->err;
	if (err) {
		stop_and_free(g, rt, CORUN_GROUP_CANCEL); /* no task: frees it */
		errno = err;
		return NULL;
	}
	return g;
}

corun_task *corun_group_go(corun_group *g, int worker, corun_fn fn, void *arg)
{
	if (!g || !fn || worker < -1) {
		errno = EINVAL;
		return NULL;
	}
	if (orphaned(g)) {
		errno = EPERM;
		return NULL;
	}
	if (worker >= 0 && (size_t)worker >= g->n) {
		errno = EINVAL;
		return NULL;
	}
	struct corun_task *t = corun__calloc(CORUN__FAIL_GROUP, 1, sizeof *t);
	if (!t) {
		errno = ENOMEM;
		return NULL;
	}
	t->g = g;
	t->fn = fn;
	t->arg = arg;
	t->user = 1;
	t->state = CORUN__TASK_QUEUED;
	struct wakes k = { 0 };
	g_lock(g);
	if (g->stopping) {
		corun__unlock(&g->sh.lock);
		free(t);
		errno = EPIPE;
		return NULL;
	}
	g->live++;
	struct corun__worker *w = worker >= 0 ? &g->w[worker] : NULL;
	if (w) {
		wake_take(&k, g, &w->wait, 0);
	} else if (g->idle.head) {
		/* An idle worker takes it: handed over now (see the top). */
		wake_take(&k, g, &g->idle, 0);
		if (k.list)
			w = k.list->w.ptr;
	}
	if (w) {
		t->w = w;
		tl_push(&w->q, t);
		count_add(&w->nq, 1);
	} else {
		tl_push(&g->q, t);
		count_add(&g->nq, 1);
	}
	corun__unlock(&g->sh.lock);
	wake_fire(&k);
	return t;
}

/* Under the lock: t's result, if it has ended: 0 (taken, t freed), its
 * error (t kept), or -1 (not yet). */
static int join_ready(corun_group *g, struct corun_task *t, void **result)
{
	if (t->state != CORUN__TASK_ENDED)
		return -1;
	if (t->err)
		return t->err;
	if (result)
		*result = t->result;
	t->user = 0;
	task_maybe_free(g, t);
	return 0;
}

int corun_task_join(corun_task *t, void **result, int64_t deadline)
{
	if (!t) {
		errno = EINVAL;
		return -1;
	}
	if (corun__deadline_check(deadline) < 0)
		return -1;
	corun_group *g = t->g;
	if (orphaned(g)) {
		errno = EPERM;
		return -1;
	}
	struct corun__rt *rt = corun__tls;
	if (rt) {
		if (rt->current != &rt->main) {
			corun_t me = corun_self();
			g_lock(g);
			int self = t->state == CORUN__TASK_RUNNING && t->rt == rt && t->h == me;
			corun__unlock(&g->sh.lock);
			if (self) {
				errno = EDEADLK;
				return -1;
			}
		}
		if (corun__may_block(rt) < 0)
			return -1;
		if (corun__budget_out(rt))
			corun__budget_yield(rt);
	}
	g_lock(g);
	int r = t->joining ? EBUSY : join_ready(g, t, result);
	g_unlock(g); /* may free g, with t, after a join: not touched again */
	if (r >= 0) {
		errno = r;
		return r ? -1 : 0;
	}
	if (deadline == 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	rt = corun__shared_rt();
	if (!rt)
		return -1;
	struct corun__timer tm;
	if (corun__arm_deadline(rt, &tm, CORUN__ID_DEADLINE, deadline) < 0)
		return -1;
	g_lock(g);
	r = t->joining ? EBUSY : join_ready(g, t, result);
	if (r >= 0) {
		g_unlock(g);
		corun__disarm(rt);
		errno = r;
		return r ? -1 : 0;
	}
	struct corun__swait sw;
	corun__arm_shared(rt, &sw, &g->sh, &t->joiners, NULL, 0);
	t->joining = 1;
	corun__unlock(&g->sh.lock);
	int err, id = corun__wait(rt, CORUN__WAIT_TASK, (uintptr_t)t, &err);
	g_lock(g);
	t->joining = 0;
	/* Woken by its end, or by the deadline or a cancel (which may have
	 * raced its end: then t is kept for the next join). */
	r = id == 0 && !err ? join_ready(g, t, result) : err;
	g_unlock(g);
	errno = r;
	return r ? -1 : 0;
}

int corun_task_cancel(corun_task *t)
{
	if (!t) {
		errno = EINVAL;
		return -1;
	}
	corun_group *g = t->g;
	if (orphaned(g)) {
		errno = EPERM;
		return -1;
	}
	struct wakes k = { 0 };
	g_lock(g);
	struct corun__rt *to = cancel_locked(g, t, &k);
	corun__unlock(&g->sh.lock); /* t is held (the caller's): so is g */
	wake_fire(&k);
	if (to)
		corun__remote_push(to, &t->cancel);
	return 0;
}

int corun_task_detach(corun_task *t)
{
	if (!t) {
		errno = EINVAL;
		return -1;
	}
	corun_group *g = t->g;
	if (orphaned(g)) {
		errno = EPERM;
		return -1;
	}
	g_lock(g);
	if (t->joining) {
		corun__unlock(&g->sh.lock);
		errno = EINVAL;
		return -1;
	}
	t->user = 0;
	task_maybe_free(g, t);
	g_unlock(g);
	return 0;
}

int corun_group_stop(corun_group *g, int how)
{
	if (!g || (how != CORUN_GROUP_DRAIN && how != CORUN_GROUP_CANCEL)) {
		errno = EINVAL;
		return -1;
	}
	if (orphaned(g)) {
		errno = EPERM;
		return -1;
	}
	if (self_w && self_w->g == g) {
		errno = EDEADLK; /* it would wait for its own thread to end */
		return -1;
	}
	struct corun__rt *rt = corun__shared_rt();
	if (!rt)
		return -1;
	if (stop_and_free(g, rt, how) < 0) {
		errno = EALREADY;
		return -1;
	}
	return 0;
}

int corun_group_worker(void)
{
	struct corun__worker *w = self_w;
	return w ? w->index : -1;
}
