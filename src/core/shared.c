/*
 * Objects shared between threads: the wait core's half (shared.h).
 */
#include "shared.h"
#include "runtime.h"

#include <stdlib.h>

/* In the waiter's own thread, from its inbox or straight from a firer on
 * the same thread: the wake. */
static void deliver(struct corun__rt *rt, struct corun__rnode *n)
{
	struct corun__swait *sw = (struct corun__swait *)((char *)n - offsetof(struct corun__swait, node));
	struct corun__co *co = sw->w.co;
	co->wake_id = sw->w.id;
	co->wake_err = sw->err;
	corun__wake(rt, co);
}

void corun__shobj_release(struct corun__shobj *obj)
{
	int last = obj->freed && obj->waiters == 0;
	corun__unlock(&obj->lock);
	if (last)
		free(obj->mem);
}

static void withdraw_shared(struct corun__rt *rt, struct corun__waiter *w)
{
	(void)rt;
	struct corun__swait *sw = (struct corun__swait *)w;
	struct corun__shobj *obj = sw->obj;
	corun__lock(&obj->lock);
	if (sw->queued) {
		corun__wq_remove(sw->q, w);
		sw->queued = 0;
	}
	obj->waiters--;
	corun__shobj_release(obj);
}

void corun__arm_shared(struct corun__rt *rt, struct corun__swait *sw, struct corun__shobj *obj,
		       struct corun__wq *q, void *ptr, int id)
{
	struct corun__co *co = rt->current;
	if (!(co->flags & CORUN__F_SHARED)) {
		/* Published by the lock's release, before any firer can see
		 * the waiter. */
		atomic_store_explicit(&sw->claim_, 0, memory_order_relaxed);
		co->claim = &sw->claim_;
		co->flags |= CORUN__F_SHARED;
	}
	sw->claim = co->claim;
	corun__arm(rt, &sw->w, id, withdraw_shared);
	sw->w.ptr = ptr;
	sw->obj = obj;
	sw->q = q;
	sw->rt = rt;
	sw->node.run = deliver;
	sw->err = 0;
	sw->queued = 1;
	corun__wq_push(q, &sw->w);
	obj->waiters++;
}

struct corun__swait *corun__sq_take(struct corun__shobj *obj, struct corun__wq *q)
{
	struct corun__waiter *w;
	while ((w = corun__wq_pop(q))) {
		struct corun__swait *sw = (struct corun__swait *)w;
		sw->queued = 0;
		uint32_t open = 0;
		if (atomic_compare_exchange_strong_explicit(sw->claim, &open, 1,
							    memory_order_acq_rel,
							    memory_order_relaxed)) {
			/* Fired: its owner will not withdraw it (withdraw =
			 * NULL), so its count goes now. */
			obj->waiters--;
			return sw;
		}
		/* Lost: off the queue; its owner withdraws it, and counts it
		 * out then. */
	}
	return NULL;
}

void corun__sq_fire(struct corun__swait *sw, int err)
{
	sw->err = err;
	sw->w.withdraw = NULL;
	struct corun__rt *rt = sw->rt;
	if (rt == corun__tls)
		deliver(rt, &sw->node);
	else
		corun__remote_push(rt, &sw->node); /* sw is not ours to touch after */
}

void corun__shared_resume(struct corun__rt *rt, struct corun__co *co)
{
	corun__disarm_co(rt, co);
	co->flags &= (uint8_t)~CORUN__F_SHARED;
}

void corun__shared_fini(struct corun__rt *rt)
{
	struct corun__handles *t = &rt->handles;
	for (uint32_t i = 0; i < t->n; i++) {
		struct corun__slot *s = &t->slots[i];
		if (s->state != CORUN__SLOT_LIVE)
			continue;
		struct corun__co *co = s->u.co;
		if (!(co->flags & CORUN__F_SHARED))
			continue;
		/* A firer that won its claim is writing to its stack, or about
		 * to push its wake: wait for the wake, then withdraw the rest. */
		if (co->state == CORUN__BLOCKED && !corun__claim(co))
			while (co->state == CORUN__BLOCKED)
				if (!corun__remote_drain(rt, &rt->remote))
					corun__cpu_relax();
		corun__shared_resume(rt, co);
	}
	corun__remote_drain(rt, &rt->remote);
}

struct corun__rt *corun__shared_rt(void)
{
	struct corun__rt *rt = corun__rt_get_or_make();
	if (!rt || corun__remote_prepare(rt) < 0)
		return NULL;
	return rt;
}
