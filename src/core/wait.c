/*
 * The wait core (see wait.h) and cancellation.
 */
#include "wait.h"
#include "shared.h"

#include <errno.h>

/* Withdraw every armed waiter of co but `fired`, and forget them all. */
static void disarm(struct corun__rt *rt, struct corun__co *co, struct corun__waiter *fired)
{
	struct corun__waiter *w = co->armed;
	co->armed = NULL;
	co->flags &= (uint8_t)~CORUN__F_ARMED;
	for (; w; w = w->next_armed)
		if (w != fired && w->withdraw)
			w->withdraw(rt, w);
}

void corun__disarm(struct corun__rt *rt)
{
	struct corun__co *co = rt->current;
	if (co->flags & CORUN__F_ARMED) /* else co->armed is not valid */
		disarm(rt, co, NULL);
}

void corun__disarm_co(struct corun__rt *rt, struct corun__co *co)
{
	if (co->flags & CORUN__F_ARMED)
		disarm(rt, co, NULL);
}

void corun__fire_slow(struct corun__rt *rt, struct corun__waiter *w, int err)
{
	struct corun__co *co = w->co;
	if (co->flags & CORUN__F_SHARED) {
		/* The caller holds the claim; co withdraws the rest itself
		 * (shared.h), and skips this one. */
		w->withdraw = NULL;
		co->wake_id = w->id;
		co->wake_err = err;
		corun__wake(rt, co);
		return;
	}
	disarm(rt, co, w);
	co->wake_id = w->id;
	co->wake_err = err;
	corun__wake(rt, co);
}

void corun__interrupt(struct corun__rt *rt, struct corun__co *co, int err)
{
	if (!(co->flags & CORUN__F_ARMED))
		return; /* not waiting */
	if (co->flags & CORUN__F_SHARED) {
		if (!corun__claim(co))
			return; /* a firer won: it wakes with that; the cancel holds */
		co->wake_id = -1;
		co->wake_err = err;
		corun__wake(rt, co);
		return;
	}
	disarm(rt, co, NULL);
	co->wake_id = -1;
	co->wake_err = err;
	corun__wake(rt, co);
}

int corun__wait_main(struct corun__rt *rt, int *err)
{
	struct corun__co *self = rt->current;
	rt->sched.main_woken = 0;
	if (corun__drive(rt, 1) < 0) { /* nothing can fire any more */
		disarm(rt, self, NULL);
		*err = EDEADLK;
		return -1;
	}
	*err = self->wake_err;
	return self->wake_id;
}

int corun_cancel(corun_t h)
{
	struct corun__rt *rt = corun__tls;
	struct corun__slot *s = rt ? corun__slot_get(&rt->handles, h) : NULL;
	if (!s) {
		errno = ESRCH;
		return -1;
	}
	if (s->state != CORUN__SLOT_LIVE)
		return 0; /* it has ended: nothing left to cancel */
	struct corun__co *co = s->u.co;
	if (co->flags & CORUN__F_SHIELDED) {
		/* It finishes what it waits for; its first blocking call after
		 * corun_shield(0) fails instead. */
		co->flags |= CORUN__F_CANCEL_HELD;
		return 0;
	}
	co->flags |= CORUN__F_CANCELED;
	if (co != rt->current)
		corun__interrupt(rt, co, ECANCELED);
	return 0;
}

int corun_shield(int on)
{
	struct corun__rt *rt = corun__tls;
	if (!rt)
		return 0; /* main, with no runtime: nothing can cancel it */
	struct corun__co *co = rt->current;
	int was = (co->flags & CORUN__F_SHIELDED) != 0;
	/* A cancel is held aside while shielded (see co.h). */
	uint8_t canceled = co->flags & (CORUN__F_CANCELED | CORUN__F_CANCEL_HELD);
	co->flags &= (uint8_t)~(CORUN__F_SHIELDED | CORUN__F_CANCELED | CORUN__F_CANCEL_HELD);
	if (on)
		co->flags |= CORUN__F_SHIELDED | (canceled ? CORUN__F_CANCEL_HELD : 0);
	else if (canceled)
		co->flags |= CORUN__F_CANCELED;
	return was;
}

int corun_canceled(void)
{
	struct corun__rt *rt = corun__tls;
	return rt && (rt->current->flags & (CORUN__F_CANCELED | CORUN__F_CANCEL_HELD)) != 0;
}

void corun__budget_yield(struct corun__rt *rt)
{
	int saved = errno;
	rt->sched.budget = CORUN__BUDGET;
	corun_park();
	errno = saved;
}

void corun__withdraw_queued(struct corun__rt *rt, struct corun__waiter *w)
{
	(void)rt;
	corun__wq_remove(((struct corun__qwait *)w)->q, w);
}

int corun__wait_queued(struct corun__rt *rt, enum corun__wait_reason reason, const void *obj,
		       struct corun__wq *q, void *ptr, int64_t deadline)
{
	struct corun__timer t;
	if (corun__arm_deadline(rt, &t, CORUN__ID_DEADLINE, deadline) < 0)
		return -1;
	struct corun__qwait qw;
	corun__arm_queued(rt, &qw, q, ptr, 0);
	int err, id = corun__wait(rt, reason, (uintptr_t)obj, &err);
	if (id != 0 || err) {
		errno = err;
		return -1;
	}
	return 0;
}

int corun__wait_shared(struct corun__rt *rt, int *err)
{
	struct corun__co *self = rt->current;
	int id;
	rt->remote.waits++;
	/* Main, waiting aside in corun__drive, must take turns in the ring
	 * now to drain the inbox, or busy coroutines could keep this wait's
	 * wake from ever arriving (as a deadline's: time.c). */
	if (self != &rt->main && rt->main.state == CORUN__BLOCKED)
		corun__make_ready(&rt->sched, &rt->main);
	if (self == &rt->main) {
		id = corun__wait_main(rt, err);
	} else {
		corun__block(rt);
		*err = self->wake_err;
		id = self->wake_id;
	}
	rt->remote.waits--;
	corun__shared_resume(rt, self);
	return id;
}
