/*
 * Wait groups and mutexes shared between threads (corun_wg_make_shared,
 * corun_mutex_make_shared), over shared.h: the rules of sync.c (a mutex
 * handed over, never barged; EOWNERDEAD for the taker after a holder that
 * ended) under the object's lock.
 *
 * Who holds a shared mutex must be told apart across threads: a
 * coroutine's serial is unique in the process, and each thread's main is
 * its runtime's id with the top bit set (serials stay below 2^39). The
 * list of mutexes a coroutine holds (co->held) is its own thread's: a
 * waiter handed a mutex puts it there itself once it runs again.
 */
#include "sync.h"
#include "shared.h"
#include "../failpoint.h"

#include <errno.h>
#include <stdlib.h>

void *corun__sync_make_shared(size_t size)
{
	uint64_t *obj = corun__calloc(CORUN__FAIL_SYNC, 1, size);
	if (!obj) {
		errno = ENOMEM;
		return NULL;
	}
	*obj = CORUN__SHARED; /* each struct starts with its owner */
	struct corun__shobj *sh = size == sizeof(corun_wg) ? &((corun_wg *)obj)->sh
							   : &((corun_mutex *)obj)->sh;
	sh->mem = obj;
	return obj;
}

static uint64_t who(const struct corun__rt *rt, const struct corun__co *co)
{
	return co == &rt->main ? (UINT64_C(1) << 63) | rt->id
			       : rt->handles.slots[co->slot].serial;
}

/* The start of a call that may wait (as chan_shared.c's): cancellation and
 * the budget, for a caller that has a runtime. */
static int may_block(void)
{
	struct corun__rt *rt = corun__tls;
	if (!rt)
		return 0;
	if (corun__may_block(rt) < 0)
		return -1;
	if (corun__budget_out(rt))
		corun__budget_yield(rt);
	return 0;
}

/* Wait as one waiter on q of obj, which the caller found it must do and
 * has unlocked; `ready` (under the lock) says whether it need not after
 * all, having done the work. ptr: for the firer. 0, or -1 with errno. */
static int wait_one(struct corun__shobj *obj, struct corun__wq *q, void *ptr,
		    int (*ready)(void *self, struct corun__rt *rt), void *self,
		    enum corun__wait_reason reason, int64_t deadline)
{
	if (deadline == 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	struct corun__rt *rt = corun__shared_rt();
	if (!rt)
		return -1;
	struct corun__timer t;
	if (corun__arm_deadline(rt, &t, CORUN__ID_DEADLINE, deadline) < 0)
		return -1;
	corun__lock(&obj->lock);
	int r = ready(self, rt);
	if (r >= 0) {
		corun__unlock(&obj->lock);
		corun__disarm(rt);
		if (r) {
			errno = r;
			return -1;
		}
		return 0;
	}
	struct corun__swait sw;
	corun__arm_shared(rt, &sw, obj, q, ptr, 0);
	corun__unlock(&obj->lock);
	int err, id = corun__wait(rt, reason, (uintptr_t)self, &err);
	if (id != 0 || err) {
		errno = err;
		return -1;
	}
	return 0;
}

/* ---- wait groups ---- */

int corun__swg_add(corun_wg *wg, int64_t delta)
{
	struct corun__swait *list = NULL, *sw;
	corun__lock(&wg->sh.lock);
	if ((delta < 0 && delta < -wg->count) || (delta > 0 && wg->count > INT64_MAX - delta)) {
		corun__unlock(&wg->sh.lock);
		errno = EINVAL;
		return -1;
	}
	wg->count += delta;
	if (wg->count == 0)
		while ((sw = corun__sq_take(&wg->sh, &wg->waiters))) {
			sw->w.next = (struct corun__waiter *)list;
			list = sw;
		}
	corun__unlock(&wg->sh.lock);
	while (list) {
		sw = list;
		list = (struct corun__swait *)sw->w.next;
		corun__sq_fire(sw, 0);
	}
	return 0;
}

/* -1: must wait; else 0 (done). */
static int wg_ready(void *self, struct corun__rt *rt)
{
	(void)rt;
	return ((corun_wg *)self)->count == 0 ? 0 : -1;
}

int corun__swg_wait(corun_wg *wg, int64_t deadline)
{
	if (corun__deadline_check(deadline) < 0 || may_block() < 0)
		return -1;
	corun__lock(&wg->sh.lock);
	int done = wg->count == 0;
	corun__unlock(&wg->sh.lock);
	if (done)
		return 0;
	return wait_one(&wg->sh, &wg->waiters, NULL, wg_ready, wg, CORUN__WAIT_WG, deadline);
}

int corun__swg_free(corun_wg *wg)
{
	corun__lock(&wg->sh.lock);
	if (wg->waiters.head) {
		corun__unlock(&wg->sh.lock);
		errno = EBUSY;
		return -1;
	}
	wg->sh.freed = 1;
	corun__shobj_release(&wg->sh);
	return 0;
}

/* ---- mutexes ---- */

/* Take mu, free (under its lock): 0, or EOWNERDEAD (taken all the same). */
static int take(corun_mutex *mu, uint64_t me)
{
	mu->locked = 1;
	mu->holder = me;
	if (__builtin_expect(mu->abandoned, 0)) {
		mu->abandoned = 0;
		return EOWNERDEAD;
	}
	return 0;
}

struct lock_call {
	corun_mutex *mu;
	uint64_t me;
};

static int mutex_ready(void *self, struct corun__rt *rt)
{
	(void)rt;
	struct lock_call *c = self;
	return c->mu->locked ? -1 : take(c->mu, c->me);
}

int corun__smutex_lock(corun_mutex *mu, int64_t deadline)
{
	if (corun__deadline_check(deadline) < 0)
		return -1;
	struct corun__rt *rt = corun__shared_rt(); /* main needs a runtime to be told apart */
	if (!rt)
		return -1;
	struct corun__co *self = rt->current;
	struct lock_call c = { mu, who(rt, self) };
	corun__lock(&mu->sh.lock);
	int held = mu->locked && mu->holder == c.me;
	corun__unlock(&mu->sh.lock);
	if (held) {
		errno = EDEADLK;
		return -1;
	}
	if (may_block() < 0)
		return -1;
	corun__lock(&mu->sh.lock);
	int r = mu->locked ? -1 : take(mu, c.me);
	corun__unlock(&mu->sh.lock);
	if (r < 0) {
		/* The unlock that hands it over reads who we are in ptr. */
		r = wait_one(&mu->sh, &mu->waiters, &c.me, mutex_ready, &c, CORUN__WAIT_MUTEX,
			     deadline);
		if (r < 0 && errno != EOWNERDEAD)
			return -1;
		r = r < 0 ? EOWNERDEAD : 0; /* held either way */
	}
	corun__mutex_hold(self, mu);
	if (r) {
		errno = r;
		return -1;
	}
	return 0;
}

/* Hand mu to its longest waiter (under its lock): the waiter to fire after
 * the unlock, or NULL when it is left free. */
static struct corun__swait *pass_on(corun_mutex *mu)
{
	struct corun__swait *sw = corun__sq_take(&mu->sh, &mu->waiters);
	if (sw)
		mu->holder = *(uint64_t *)sw->w.ptr;
	else
		mu->locked = 0;
	return sw;
}

int corun__smutex_unlock(corun_mutex *mu)
{
	struct corun__rt *rt = corun__tls;
	if (!rt) { /* no runtime: it cannot hold it */
		errno = EPERM;
		return -1;
	}
	corun__lock(&mu->sh.lock);
	if (!mu->locked || mu->holder != who(rt, rt->current)) {
		corun__unlock(&mu->sh.lock);
		errno = EPERM;
		return -1;
	}
	corun__mutex_unhold(rt->current, mu);
	struct corun__swait *sw = pass_on(mu);
	corun__unlock(&mu->sh.lock);
	if (sw)
		corun__sq_fire(sw, 0);
	return 0;
}

void corun__smutex_orphan(struct corun__rt *rt, struct corun_mutex *mu)
{
	(void)rt;
	corun__lock(&mu->sh.lock);
	struct corun__swait *sw = pass_on(mu);
	mu->abandoned = sw == NULL; /* told by the next lock, or by this wake */
	corun__unlock(&mu->sh.lock);
	if (sw)
		corun__sq_fire(sw, EOWNERDEAD);
}

int corun__smutex_free(corun_mutex *mu)
{
	corun__lock(&mu->sh.lock);
	if (mu->locked) {
		corun__unlock(&mu->sh.lock);
		errno = EBUSY;
		return -1;
	}
	mu->sh.freed = 1;
	corun__shobj_release(&mu->sh);
	return 0;
}
