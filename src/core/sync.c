/*
 * Wait groups and mutexes, over the wait core: a coroutine that has to wait
 * parks on the object's queue and lets the others run; nothing spins.
 *
 * A mutex is handed over, not released: unlock gives it straight to the
 * longest waiter, which cannot then lose it to a coroutine that came later
 * (no barging, so no waiter starves). Who holds it is remembered by the
 * coroutine's serial (0 for main), never by its record, whose memory the
 * next coroutine may reuse.
 *
 * A coroutine that ends holding mutexes must not leave them held for good
 * (nobody else may unlock them, and they could not be freed). So each
 * holder keeps the mutexes it holds on a list through them (co->held), and
 * its end hands each to its next waiter, or leaves it free, marked
 * abandoned: whoever takes it next learns so with EOWNERDEAD, as from a
 * robust pthread mutex, since what it guards may be half updated. The
 * list costs a lock and an unlock two or three stores, and the end of a
 * coroutine that held none one test of flags it reads anyway.
 */
#include "sync.h"
#include "wait.h"
#include "../failpoint.h"

#include <errno.h>
#include <stdlib.h>

static void *make(size_t size)
{
	struct corun__rt *rt = corun__rt_get_or_make();
	if (!rt)
		return NULL;
	uint64_t *obj = corun__calloc(CORUN__FAIL_SYNC, 1, size);
	if (!obj) {
		errno = ENOMEM;
		return NULL;
	}
	*obj = rt->id; /* each struct starts with its owner */
	return obj;
}

/* Wait on obj's queue q as one waiter, until the deadline (checked by the
 * caller). 0 when fired without error; -1 with errno otherwise. */
static int wait_on(struct corun__rt *rt, enum corun__wait_reason reason, const void *obj,
		   struct corun__wq *q, int64_t deadline)
{
	if (corun__may_wait(rt, deadline) < 0)
		return -1;
	return corun__wait_queued(rt, reason, obj, q, NULL, deadline);
}

/* ---- wait groups ---- */

corun_wg *corun_wg_make(void)
{
	return make(sizeof(corun_wg));
}

static int is_shared(const void *obj)
{
	return obj && *(const uint64_t *)obj == CORUN__SHARED;
}

corun_wg *corun_wg_make_shared(void)
{
	return corun__sync_make_shared(sizeof(corun_wg));
}

corun_mutex *corun_mutex_make_shared(void)
{
	return corun__sync_make_shared(sizeof(corun_mutex));
}

int corun_wg_add(corun_wg *wg, int64_t delta)
{
	if (is_shared(wg))
		return corun__swg_add(wg, delta);
	struct corun__rt *rt = corun__rt_owning(wg, wg ? wg->owner : 0);
	if (!rt)
		return -1;
	if ((delta < 0 && delta < -wg->count) || (delta > 0 && wg->count > INT64_MAX - delta)) {
		errno = EINVAL;
		return -1;
	}
	wg->count += delta;
	if (wg->count == 0) {
		struct corun__waiter *w;
		while ((w = corun__wq_take(&wg->waiters)))
			corun__fire(rt, w, 0);
	}
	return 0;
}

int corun_wg_done(corun_wg *wg)
{
	return corun_wg_add(wg, -1);
}

/* The budget ran out on the way in (wait.h): yield, then start again. */
static __attribute__((noinline, cold)) int wg_wait_yielding(corun_wg *wg, int64_t deadline)
{
	corun__budget_yield(corun__tls);
	return corun_wg_wait(wg, deadline);
}

int corun_wg_wait(corun_wg *wg, int64_t deadline)
{
	if (is_shared(wg))
		return corun__swg_wait(wg, deadline);
	struct corun__rt *rt = corun__rt_owning(wg, wg ? wg->owner : 0);
	if (!rt)
		return -1;
	if (corun__deadline_check(deadline) < 0)
		return -1;
	if (corun__may_block(rt) < 0)
		return -1;
	if (corun__budget_out(rt))
		return wg_wait_yielding(wg, deadline);
	if (wg->count == 0)
		return 0;
	return wait_on(rt, CORUN__WAIT_WG, wg, &wg->waiters, deadline);
}

int corun_wg_free(corun_wg *wg)
{
	if (!wg)
		return 0;
	if (is_shared(wg))
		return corun__swg_free(wg);
	if (!corun__rt_owning(wg, wg->owner))
		return -1;
	if (wg->waiters.head) {
		errno = EBUSY;
		return -1;
	}
	free(wg);
	return 0;
}

/* ---- mutexes ---- */

static uint64_t who(const struct corun__rt *rt, const struct corun__co *co)
{
	return co == &rt->main ? 0 : rt->handles.slots[co->slot].serial;
}

/* co now holds mu: on its list. */
void corun__mutex_hold(struct corun__co *co, struct corun_mutex *mu)
{
	if (!(co->flags & CORUN__F_HOLDS)) { /* line 2 is not set at spawn */
		co->held = NULL;
		co->flags |= CORUN__F_HOLDS;
	}
	mu->prev = NULL;
	mu->next = co->held;
	if (co->held)
		co->held->prev = mu;
	co->held = mu;
}

/* co, which held mu, no longer does. */
void corun__mutex_unhold(struct corun__co *co, struct corun_mutex *mu)
{
	if (mu->prev)
		mu->prev->next = mu->next;
	else
		co->held = mu->next;
	if (mu->next)
		mu->next->prev = mu->prev;
}

/* Give mu to its longest waiter, with err for its lock to return; or, with
 * none, leave it free. */
static void pass_on(struct corun__rt *rt, struct corun_mutex *mu, int err)
{
	struct corun__waiter *w = corun__wq_take(&mu->waiters);
	if (w) {
		mu->holder = who(rt, w->co);
		corun__mutex_hold(w->co, mu);
		corun__fire(rt, w, err);
	} else {
		mu->locked = 0;
	}
}

corun_mutex *corun_mutex_make(void)
{
	return make(sizeof(corun_mutex));
}

static __attribute__((noinline, cold)) int lock_yielding(corun_mutex *mu, int64_t deadline)
{
	corun__budget_yield(corun__tls);
	return corun_mutex_lock(mu, deadline);
}

int corun_mutex_lock(corun_mutex *mu, int64_t deadline)
{
	if (is_shared(mu))
		return corun__smutex_lock(mu, deadline);
	struct corun__rt *rt = corun__rt_owning(mu, mu ? mu->owner : 0);
	if (!rt)
		return -1;
	struct corun__co *self = rt->current;
	uint64_t me = who(rt, self);
	if (corun__deadline_check(deadline) < 0)
		return -1;
	if (mu->locked && mu->holder == me) {
		errno = EDEADLK;
		return -1;
	}
	if (corun__may_block(rt) < 0)
		return -1;
	if (corun__budget_out(rt))
		return lock_yielding(mu, deadline);
	if (!mu->locked) {
		mu->locked = 1;
		mu->holder = me;
		corun__mutex_hold(self, mu);
		if (__builtin_expect(mu->abandoned, 0)) {
			mu->abandoned = 0;
			errno = EOWNERDEAD; /* taken all the same */
			return -1;
		}
		return 0;
	}
	/* unlock hands it over with the holder already set to us */
	return wait_on(rt, CORUN__WAIT_MUTEX, mu, &mu->waiters, deadline);
}

int corun_mutex_unlock(corun_mutex *mu)
{
	if (is_shared(mu))
		return corun__smutex_unlock(mu);
	struct corun__rt *rt = corun__rt_owning(mu, mu ? mu->owner : 0);
	if (!rt)
		return -1;
	if (!mu->locked || mu->holder != who(rt, rt->current)) {
		errno = EPERM;
		return -1;
	}
	corun__mutex_unhold(rt->current, mu);
	pass_on(rt, mu, 0);
	return 0;
}

void corun__mutex_orphans(struct corun__rt *rt, struct corun__co *co)
{
	struct corun_mutex *mu;
	while ((mu = co->held)) {
		co->held = mu->next;
		if (mu->next)
			mu->next->prev = NULL;
		if (is_shared(mu)) {
			corun__smutex_orphan(rt, mu);
			continue;
		}
		mu->abandoned = 1;
		pass_on(rt, mu, EOWNERDEAD);
		if (!mu->locked)
			continue; /* free, still marked for its next taker */
		mu->abandoned = 0; /* the waiter it went to is told */
	}
}

int corun_mutex_free(corun_mutex *mu)
{
	if (!mu)
		return 0;
	if (is_shared(mu))
		return corun__smutex_free(mu);
	if (!corun__rt_owning(mu, mu->owner))
		return -1;
	if (mu->locked) {
		errno = EBUSY;
		return -1;
	}
	free(mu);
	return 0;
}
