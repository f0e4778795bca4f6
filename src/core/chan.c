/*
 * Channels and select, over the wait core.
 *
 * A channel is a ring buffer of `cap` elements and two FIFO queues of
 * waiters: senders waiting for room (or for a receiver, when cap is 0) and
 * receivers waiting for an element. Whoever finds a waiter on the other
 * side does the whole transfer itself, copying straight to or from the
 * waiter's own buffer on its stack, and then fires it: a handoff is one
 * copy and one wake, and the woken side has nothing left to do. So a
 * receiver queued on an empty channel never sees the buffer, and a sender
 * queued on a full one has its element moved into the buffer by the
 * receiver that made room, keeping the order in which elements were sent.
 */
#include "chan.h"
#include "wait.h"
#include "shared.h"
#include "../failpoint.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* No C object is larger than PTRDIFF_MAX bytes (a difference of pointers
 * into it must fit in a ptrdiff_t): no element can be, nor a channel. */
#define OBJECT_MAX ((size_t)PTRDIFF_MAX)

corun_chan *corun_chan_make(size_t elem_size, size_t capacity)
{
	if (elem_size > OBJECT_MAX ||
	    (capacity && elem_size > (OBJECT_MAX - sizeof(corun_chan)) / capacity)) {
		errno = EINVAL;
		return NULL;
	}
	struct corun__rt *rt = corun__rt_get_or_make();
	if (!rt)
		return NULL;
	corun_chan *ch = corun__malloc(CORUN__FAIL_CHAN, sizeof *ch + elem_size * capacity);
	if (!ch) {
		errno = ENOMEM;
		return NULL;
	}
	memset(ch, 0, sizeof *ch);
	ch->owner = rt->id;
	ch->elem_size = elem_size;
	ch->cap = capacity;
	return ch;
}

corun_chan *corun_chan_make_shared(size_t elem_size, size_t capacity)
{
	if (elem_size > OBJECT_MAX ||
	    (capacity && elem_size > (OBJECT_MAX - sizeof(corun_chan)) / capacity)) {
		errno = EINVAL;
		return NULL;
	}
	return corun__chan_make_shared(elem_size, capacity); /* no runtime needed */
}

/* The calling thread's runtime if ch belongs to it (runtime.h). */
static inline struct corun__rt *owner_of(const corun_chan *ch)
{
	return corun__rt_owning(ch, ch ? ch->owner : 0);
}

#define slot_at corun__chan_slot
#define copy corun__chan_copy
#define can_send corun__can_send
#define can_recv corun__can_recv

/* Send now; the caller knows can_send. 0, EPIPE, or EAGAIN when the
 * waiting receivers all turned out to be taken (select across threads:
 * shared.h) and there is no room: it must wait after all. */
static int send_now(struct corun__rt *rt, corun_chan *ch, const void *elem)
{
	if (ch->closed)
		return EPIPE;
	struct corun__waiter *w = corun__wq_take(&ch->receivers);
	if (w) { /* straight into the waiting receiver's buffer */
		if (w->ptr && ch->elem_size)
			copy(w->ptr, elem, ch->elem_size);
		corun__fire(rt, w, 0);
		return 0;
	}
	if (__builtin_expect(ch->count == ch->cap, 0))
		return EAGAIN;
	if (ch->elem_size)
		copy(slot_at(ch, ch->count), elem, ch->elem_size);
	ch->count++;
	return 0;
}

/* Receive now; the caller knows can_recv. 0, EPIPE, or EAGAIN (as
 * send_now). */
static int recv_now(struct corun__rt *rt, corun_chan *ch, void *elem)
{
	if (ch->count) {
		if (elem && ch->elem_size)
			copy(elem, slot_at(ch, 0), ch->elem_size);
		ch->head = (ch->head + 1) % ch->cap;
		ch->count--;
		/* Room now: the longest-waiting sender's element goes in last. */
		struct corun__waiter *w = corun__wq_take(&ch->senders);
		if (w) {
			if (ch->elem_size)
				copy(slot_at(ch, ch->count), w->ptr, ch->elem_size);
			ch->count++;
			corun__fire(rt, w, 0);
		}
		return 0;
	}
	struct corun__waiter *w = corun__wq_take(&ch->senders);
	if (w) { /* unbuffered: straight from the waiting sender */
		if (elem && ch->elem_size)
			copy(elem, w->ptr, ch->elem_size);
		corun__fire(rt, w, 0);
		return 0;
	}
	return ch->closed ? EPIPE : EAGAIN; /* closed and drained, or taken */
}

/* The queue a waiter for op on ch goes on. */
static struct corun__wq *queue_for(corun_chan *ch, int op)
{
	return op == CORUN_SEND ? &ch->senders : &ch->receivers;
}

/* The budget ran out on the way in (wait.h): yield, then start again. */
static __attribute__((noinline, cold)) int send_yielding(corun_chan *ch, const void *elem,
							 int64_t deadline)
{
	corun__budget_yield(corun__tls);
	return corun_chan_send(ch, elem, deadline);
}

static __attribute__((noinline, cold)) int recv_yielding(corun_chan *ch, void *elem,
							 int64_t deadline)
{
	corun__budget_yield(corun__tls);
	return corun_chan_recv(ch, elem, deadline);
}

static __attribute__((noinline, cold)) int select_yielding(corun_case *cases, size_t n,
							   int64_t deadline)
{
	corun__budget_yield(corun__tls);
	return corun_select(cases, n, deadline);
}

/* Not the calling thread's own channel: a shared one, or an error. */
static __attribute__((noinline)) int send_other(corun_chan *ch, const void *elem,
						int64_t deadline)
{
	if (!ch || ch->owner != CORUN__SHARED) {
		(void)owner_of(ch); /* EINVAL or EPERM */
		return -1;
	}
	if (corun__deadline_check(deadline) < 0)
		return -1;
	if (!elem && ch->elem_size) {
		errno = EINVAL;
		return -1;
	}
	return corun__schan_send(ch, elem, deadline);
}

static __attribute__((noinline)) int recv_other(corun_chan *ch, void *elem, int64_t deadline)
{
	if (!ch || ch->owner != CORUN__SHARED) {
		(void)owner_of(ch);
		return -1;
	}
	if (corun__deadline_check(deadline) < 0)
		return -1;
	return corun__schan_recv(ch, elem, deadline);
}

/* The calling thread's runtime when ch is its own channel, else NULL. */
static inline struct corun__rt *own(const corun_chan *ch)
{
	struct corun__rt *rt = corun__tls;
	if (__builtin_expect(!rt || !ch || ch->owner != rt->id, 0))
		return NULL;
	return rt;
}

int corun_chan_send(corun_chan *ch, const void *elem, int64_t deadline)
{
	struct corun__rt *rt = own(ch);
	if (!rt)
		return send_other(ch, elem, deadline);
	if (corun__deadline_check(deadline) < 0)
		return -1;
	if (!elem && ch->elem_size) {
		errno = EINVAL;
		return -1;
	}
	if (corun__may_block(rt) < 0)
		return -1;
	if (corun__budget_out(rt))
		return send_yielding(ch, elem, deadline);
	int err;
	if (can_send(ch) && (err = send_now(rt, ch, elem)) != EAGAIN) {
		if (err) {
			errno = err;
			return -1;
		}
		return 0;
	}
	if (corun__may_wait(rt, deadline) < 0)
		return -1;
	return corun__wait_queued(rt, CORUN__WAIT_CHAN_SEND, ch, &ch->senders, (void *)elem,
				  deadline);
}

int corun_chan_recv(corun_chan *ch, void *elem, int64_t deadline)
{
	struct corun__rt *rt = own(ch);
	if (!rt)
		return recv_other(ch, elem, deadline);
	if (corun__deadline_check(deadline) < 0 || corun__may_block(rt) < 0)
		return -1;
	if (corun__budget_out(rt))
		return recv_yielding(ch, elem, deadline);
	int err;
	if (can_recv(ch) && (err = recv_now(rt, ch, elem)) != EAGAIN) {
		if (err) {
			errno = err;
			return -1;
		}
		return 0;
	}
	if (corun__may_wait(rt, deadline) < 0)
		return -1;
	return corun__wait_queued(rt, CORUN__WAIT_CHAN_RECV, ch, &ch->receivers, elem, deadline);
}

/* Wake every waiter of ch with EPIPE. */
static void wake_all(struct corun__rt *rt, corun_chan *ch)
{
	struct corun__waiter *w;
	while ((w = corun__wq_take(&ch->receivers)))
		corun__fire(rt, w, EPIPE);
	while ((w = corun__wq_take(&ch->senders)))
		corun__fire(rt, w, EPIPE);
}

int corun_chan_close(corun_chan *ch)
{
	if (ch && ch->owner == CORUN__SHARED)
		return corun__schan_close(ch);
	struct corun__rt *rt = owner_of(ch);
	if (!rt)
		return -1;
	if (ch->closed) {
		errno = EPIPE;
		return -1;
	}
	ch->closed = 1;
	wake_all(rt, ch);
	return 0;
}

int corun_chan_free(corun_chan *ch)
{
	if (!ch)
		return 0;
	if (ch->owner == CORUN__SHARED)
		return corun__schan_free(ch); /* from any thread */
	struct corun__rt *rt = owner_of(ch);
	if (!rt)
		return -1; /* not ours to free: EPERM */
	ch->closed = 1;
	wake_all(rt, ch); /* they return EPIPE without touching it again */
	free(ch);
	return 0;
}

void corun__select_init(struct corun__select *s, uint64_t id)
{
	s->rand = id * UINT64_C(0x9e3779b97f4a7c15) | 1;
}

#define next_rand(rt) corun__select_rand(&(rt)->select)

#define SELECT_ON_STACK 16

int corun_select(corun_case *cases, size_t n, int64_t deadline)
{
	if ((n && !cases) || n > (size_t)INT32_MAX || corun__deadline_check(deadline) < 0) {
		errno = EINVAL;
		return -1;
	}
	int shared = 0;
	for (size_t i = 0; i < n; i++) {
		corun_case *c = &cases[i];
		if (c->chan && c->chan->owner == CORUN__SHARED)
			shared = 1;
		else if (!owner_of(c->chan))
			return -1;
		if ((c->op != CORUN_SEND && c->op != CORUN_RECV) ||
		    (c->op == CORUN_SEND && !c->elem && c->chan->elem_size)) {
			errno = EINVAL;
			return -1;
		}
	}
	if (shared)
		return corun__select_shared(cases, n, deadline);
	/* With no clause, it only waits for the deadline (or cancellation). */
	struct corun__rt *rt = n ? corun__tls : corun__rt_get_or_make();
	if (!rt)
		return -1;
	size_t nready = 0;
	for (size_t i = 0; i < n; i++)
		nready += cases[i].op == CORUN_SEND ? can_send(cases[i].chan) : can_recv(cases[i].chan);
	if (corun__may_block(rt) < 0)
		return -1;
	if (corun__budget_out(rt))
		return select_yielding(cases, n, deadline);
	if (nready) { /* pick one of the ready ones at random: fairness */
		size_t pick = (size_t)(next_rand(rt) % nready);
		for (size_t i = 0;; i++) {
			corun_case *c = &cases[i];
			int ready = c->op == CORUN_SEND ? can_send(c->chan) : can_recv(c->chan);
			if (ready && pick-- == 0) {
				int err = c->op == CORUN_SEND ? send_now(rt, c->chan, c->elem)
							      : recv_now(rt, c->chan, c->elem);
				if (err == EAGAIN) /* taken after all: wait */
					break;
				c->err = err;
				return (int)i;
			}
		}
	}
	if (corun__may_wait(rt, deadline) < 0)
		return -1;
	struct corun__qwait local[SELECT_ON_STACK], *cw = local;
	if (n > SELECT_ON_STACK && !(cw = corun__malloc(CORUN__FAIL_SELECT, n * sizeof *cw))) {
		errno = ENOMEM;
		return -1;
	}
	struct corun__timer t;
	if (corun__arm_deadline(rt, &t, CORUN__ID_DEADLINE, deadline) < 0) {
		if (cw != local)
			free(cw);
		errno = ENOMEM;
		return -1;
	}
	/* Forever: a waiter only cancellation fires, so its id is never
	 * returned; -1, not CORUN__ID_DEADLINE, by which debuggers find a
	 * wait's deadline. */
	if (deadline < 0 && n == 0)
		corun__arm(rt, &t.w, -1, NULL);
	for (size_t i = 0; i < n; i++)
		corun__arm_queued(rt, &cw[i], queue_for(cases[i].chan, cases[i].op), cases[i].elem,
				  (int)i);
	int err, id = corun__wait(rt, CORUN__WAIT_SELECT, (uintptr_t)cases, &err);
	if (id < 0) { /* the deadline (CORUN__ID_DEADLINE), cancellation, EDEADLK */
		errno = err;
		id = -1;
	}
	if (cw != local) {
		int saved = errno;
		free(cw);
		errno = saved;
	}
	if (id >= 0)
		cases[id].err = err;
	return id;
}
