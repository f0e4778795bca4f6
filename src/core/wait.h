/*
 * Waiting: the one mechanism under every blocking call (join, sleep,
 * channels, select, wait groups, mutexes, descriptors).
 *
 * A blocking call puts one waiter per thing it waits on (a channel, a
 * deadline, a coroutine's end) on its own stack, arms them, and waits. The
 * first to fire wins: whoever fires it has already taken it off the queue
 * it was on and done the work (handed over a message, a result), and the
 * wait core withdraws all the others in O(1) each before the waiter runs
 * again, so nothing the sleeper armed outlives its call. Why it waits (a
 * reason, and the object it waits on) is written into its record when the
 * wait begins; why it woke, which waiter fired and with what error, when it
 * is woken, not carried through the switch.
 *
 * The waiting coroutine may be main: then corun__wait drives the scheduler
 * until main is fired, as corun_run does, and fails with EDEADLK when
 * nothing can fire any more.
 */
#ifndef CORUN_WAIT_H
#define CORUN_WAIT_H

#include "runtime.h"
#include "sched.h"
#include "time.h"
#include "waiter.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>

/* Arm w for the running coroutine (or main): it will return `id` from
 * corun__wait if it fires first. */
static inline void corun__arm(struct corun__rt *rt, struct corun__waiter *w, int id,
			      void (*withdraw)(struct corun__rt *rt, struct corun__waiter *w))
{
	struct corun__co *co = rt->current;
	if (!(co->flags & CORUN__F_ARMED)) { /* line 2 is not set at spawn */
		co->armed = NULL;
		co->flags |= CORUN__F_ARMED;
	}
	w->co = co; /* prev and next: set by the queue it goes on, if any */
	w->id = id;
	w->withdraw = withdraw;
	w->next_armed = co->armed;
	co->armed = w;
}

/* Wait until one of the armed waiters fires, and return its id with *err
 * set to the error it fired with (0 when it did its job). Every armed
 * waiter is withdrawn before this returns. From main, drives the scheduler
 * meanwhile; if nothing can fire any more, withdraws them and returns -1
 * with *err EDEADLK. Every wait comes through here, so here is where why
 * it waits is written, once: the reason and its object (co.h) into the
 * record, and one add to the reason's count (stats.h). */
int corun__wait_main(struct corun__rt *rt, int *err);
/* A wait with waiters on shared objects (shared.h): counted as one a
 * remote may end, and withdrawn by the waiter itself once it runs again. */
int corun__wait_shared(struct corun__rt *rt, int *err);
static inline int corun__wait(struct corun__rt *rt, enum corun__wait_reason reason,
			      uint64_t obj, int *err)
{
	struct corun__co *self = rt->current;
	self->wait_reason = (uint8_t)reason;
	self->wait_obj = obj;
	rt->stats.waits[reason]++;
	rt->sched.budget = CORUN__BUDGET; /* for whoever runs next (the budget, below) */
	if (__builtin_expect(self->flags & CORUN__F_SHARED, 0))
		return corun__wait_shared(rt, err);
	if (__builtin_expect(self == &rt->main, 0))
		return corun__wait_main(rt, err);
	corun__block(rt);
	*err = self->wake_err;
	return self->wake_id;
}

/* Make co, whose wait has fired, run again: into the ready queue, unless
 * it is main and already there (taking turns while deadlines are pending)
 * or running (firing its own deadline when idle). */
static inline void corun__wake(struct corun__rt *rt, struct corun__co *co)
{
	if (__builtin_expect(co == &rt->main, 0)) {
		rt->sched.main_woken = 1;
		if (co->state != CORUN__BLOCKED || rt->current == co)
			return;
	}
	corun__make_ready(&rt->sched, co);
}

/* May the caller fire co's wait (the claim: shared.h)? 1 if so: it must then
 * fire it. For a firer on co's own thread. */
static inline int corun__claim(struct corun__co *co)
{
	if (__builtin_expect(!(co->flags & CORUN__F_SHARED), 1))
		return 1;
	uint32_t open = 0;
	return atomic_compare_exchange_strong_explicit(co->claim, &open, 1, memory_order_acq_rel,
						       memory_order_relaxed);
}

/* A thread-local queue's pop for a firer: the first waiter whose wait may
 * be fired (claimed), or NULL. Those whose claim is lost are off the queue
 * and marked withdrawn. */
static inline struct corun__waiter *corun__wq_take(struct corun__wq *q)
{
	struct corun__waiter *w;
	while ((w = corun__wq_pop(q)) && __builtin_expect(!corun__claim(w->co), 0))
		w->withdraw = NULL;
	return w;
}

/* Fire w (already taken off its queue by the caller, and claimed if its
 * coroutine's wait is shared: corun__claim) with err: its waiter will
 * return w->id. Inline for the common case, a waiter that was armed
 * alone, woken into the ready queue. */
void corun__fire_slow(struct corun__rt *rt, struct corun__waiter *w, int err);
static inline void corun__fire(struct corun__rt *rt, struct corun__waiter *w, int err)
{
	struct corun__co *co = w->co;
	if (__builtin_expect(co->armed != w || w->next_armed != NULL, 0)) {
		corun__fire_slow(rt, w, err); /* others to withdraw */
		return;
	}
	co->armed = NULL;
	co->flags &= (uint8_t)~CORUN__F_ARMED;
	co->wake_id = w->id;
	co->wake_err = err;
	corun__wake(rt, co);
}

/* Withdraw every waiter the running coroutine (or main) has armed, for a
 * call that fails after arming some and before it waits. */
void corun__disarm(struct corun__rt *rt);
/* The same for co, which need not be running (shared.c). */
void corun__disarm_co(struct corun__rt *rt, struct corun__co *co);

/* Wake co from whatever it waits on, with id -1 and err (cancellation). No
 * effect if co is not waiting. */
void corun__interrupt(struct corun__rt *rt, struct corun__co *co, int err);

/* What every blocking call checks first, once its arguments are checked:
 * 0, or -1 with errno ECANCELED for a canceled coroutine (one that is
 * shielded has F_CANCEL_HELD instead of F_CANCELED: one bit to test). */
static inline int corun__may_block(const struct corun__rt *rt)
{
	if (__builtin_expect(rt->current->flags & CORUN__F_CANCELED, 0)) {
		errno = ECANCELED;
		return -1;
	}
	return 0;
}

/*
 * The operation budget. A blocking call that finds its channel, mutex or
 * descriptor ready completes without a switch, so a coroutine fed faster
 * than it works (a loop receiving from a busy channel or socket) would
 * never let the others run. So the CORUN__BUDGET-th blocking call in a row
 * with no wait among them first yields, as corun_park does (from main:
 * lets the ready coroutines run once, and fires deadlines and descriptor
 * reports), then does its work as if nothing had happened. A wait refills
 * the budget for whoever runs next (corun__wait), so coroutines that wait
 * anyway never yield for it. tokio's task budget is the model (128 there
 * too).
 *
 * Why this shape: the calls whose ready path is a few dozen instructions
 * (channels, sync, join) start again from the top after the yield, by a
 * cold tail call, so their fast path pays a decrement and a branch and
 * keeps no frame for it; after the yield, everything they had looked at
 * may have changed anyway. One count per thread rather than per coroutine
 * keeps the park path free of it: a coroutine may yield early after
 * another's run of ready calls, never late.
 *
 * corun__budget_out spends one unit: 1 when it ran out, and the caller
 * must then call corun__budget_yield (errno kept) before its work.
 */
static inline int corun__budget_out(struct corun__rt *rt)
{
	if (__builtin_expect(--rt->sched.budget == 0, 0))
		return 1;
	return 0;
}
void corun__budget_yield(struct corun__rt *rt);

/* And when a call that passed corun__may_block finds it would have to
 * wait: 0 if it may, or -1 with errno ETIMEDOUT for deadline 0 (do not
 * wait). That is a call that did not wait either: it spends the budget,
 * so that a loop polling with deadline 0 lets the others run too. */
static inline int corun__may_wait(struct corun__rt *rt, int64_t deadline)
{
	if (deadline == 0) {
		if (corun__budget_out(rt))
			corun__budget_yield(rt);
		errno = ETIMEDOUT;
		return -1;
	}
	return 0;
}

/* A waiter on a FIFO queue of waiters (a channel's, a mutex's...), which
 * withdraws itself from that queue. */
struct corun__qwait {
	struct corun__waiter w;
	struct corun__wq *q;
};

void corun__withdraw_queued(struct corun__rt *rt, struct corun__waiter *w);

/* Arm qw as waiter `id` at the back of q, with ptr for whoever fires it. */
static inline void corun__arm_queued(struct corun__rt *rt, struct corun__qwait *qw,
				     struct corun__wq *q, void *ptr, int id)
{
	qw->q = q;
	corun__arm(rt, &qw->w, id, corun__withdraw_queued);
	qw->w.ptr = ptr;
	corun__wq_push(q, &qw->w);
}

/* The whole of a blocking call that waits in one queue, that of obj (after
 * it found it must, and corun__may_wait allowed it): arm the deadline and a
 * waiter at the back of q, wait. 0 when the waiter fired with no error;
 * otherwise -1 with errno: what it fired with (EPIPE...), ETIMEDOUT,
 * ECANCELED, EDEADLK (main), ENOMEM (the deadline). */
int corun__wait_queued(struct corun__rt *rt, enum corun__wait_reason reason, const void *obj,
		       struct corun__wq *q, void *ptr, int64_t deadline);

#endif
