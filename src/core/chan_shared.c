/*
 * Channels shared between threads (corun_chan_make_shared), over shared.h.
 *
 * The same ring buffer and waiter queues as a thread's own channel
 * (chan.c), under the channel's lock. A send or receive, and a select
 * that names a shared channel, run one procedure, Go's selectgo in shape:
 * lock every shared channel of the call (in address order, so that two
 * calls cannot each hold what the other wants), try each case in a
 * random order and complete the first that can be; if none can, queue a
 * waiter on every channel, then unlock and wait. Holding the locks from
 * the check to the queueing is what makes it safe: no firer can see half
 * the waiters, and none can fire the caller before it has finished
 * arming, so it never needs its own claim.
 *
 * A firer completes the operation under the lock it already holds
 * (copying straight to or from the waiter's buffer on its stack) and wakes
 * the waiter once the lock is released: the waiter cannot run, or its
 * buffer move, before that wake (shared.h).
 */
#include "chan.h"
#include "shared.h"
#include "../failpoint.h"

#include <errno.h>
#include <stdlib.h>

corun_chan *corun__chan_make_shared(size_t elem_size, size_t capacity)
{
	/* On a line's boundary (chan.h); the size rounded up, as
	 * aligned_alloc wants. */
	size_t size = (sizeof(corun_chan) + elem_size * capacity + 63) & ~(size_t)63;
	corun_chan *ch = corun__fail(CORUN__FAIL_CHAN) ? NULL : aligned_alloc(64, size);
	if (!ch) {
		errno = ENOMEM;
		return NULL;
	}
	memset(ch, 0, sizeof *ch);
	ch->owner = CORUN__SHARED;
	ch->elem_size = elem_size;
	ch->cap = capacity;
	ch->sh.mem = ch;
	return ch;
}

static int is_shared(const corun_chan *ch)
{
	return ch->owner == CORUN__SHARED;
}

/* The other side's waiter, taken for this operation: the one a shared
 * channel claims (and wakes after the unlock), or one a thread's own
 * channel takes and fires at once. */
struct taken {
	struct corun__swait *sw;
};

static struct corun__waiter *take(struct corun__rt *rt, corun_chan *ch, struct corun__wq *q,
				  struct taken *t)
{
	if (is_shared(ch)) {
		t->sw = corun__sq_take(&ch->sh, q);
		return t->sw ? &t->sw->w : NULL;
	}
	(void)rt;
	return corun__wq_take(q);
}

static void fire_taken(struct corun__rt *rt, corun_chan *ch, struct corun__waiter *w, int err)
{
	if (!is_shared(ch))
		corun__fire(rt, w, err); /* its waiter is of this thread */
	/* a shared one's wake waits for the unlock (struct taken) */
}

/* Try a send now (caller holds the lock if ch is shared). 0 done, EPIPE,
 * or EAGAIN: it would have to wait. */
static int try_send(struct corun__rt *rt, corun_chan *ch, const void *elem, struct taken *t)
{
	if (ch->closed)
		return EPIPE;
	struct corun__waiter *w = take(rt, ch, &ch->receivers, t);
	if (w) {
		if (w->ptr && ch->elem_size)
			corun__chan_copy(w->ptr, elem, ch->elem_size);
		fire_taken(rt, ch, w, 0);
		return 0;
	}
	if (ch->count == ch->cap)
		return EAGAIN;
	if (ch->elem_size)
		corun__chan_copy(corun__chan_slot(ch, ch->count), elem, ch->elem_size);
	ch->count++;
	return 0;
}

static int try_recv(struct corun__rt *rt, corun_chan *ch, void *elem, struct taken *t)
{
	if (ch->count) {
		if (elem && ch->elem_size)
			corun__chan_copy(elem, corun__chan_slot(ch, 0), ch->elem_size);
		ch->head = (ch->head + 1) % ch->cap;
		ch->count--;
		struct corun__waiter *w = take(rt, ch, &ch->senders, t);
		if (w) { /* room now: the longest-waiting sender's element goes in */
			if (ch->elem_size)
				corun__chan_copy(corun__chan_slot(ch, ch->count), w->ptr,
						 ch->elem_size);
			ch->count++;
			fire_taken(rt, ch, w, 0);
		}
		return 0;
	}
	struct corun__waiter *w = take(rt, ch, &ch->senders, t);
	if (w) {
		if (elem && ch->elem_size)
			corun__chan_copy(elem, w->ptr, ch->elem_size);
		fire_taken(rt, ch, w, 0);
		return 0;
	}
	return ch->closed ? EPIPE : EAGAIN;
}

/* The shared channels of cases, each once, in address order. */
#define ON_STACK 16

static size_t lock_order(const corun_case *cases, size_t n, corun_chan **order)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		corun_chan *ch = cases[i].chan;
		if (!is_shared(ch))
			continue;
		size_t j = k;
		while (j > 0 && order[j - 1] > ch)
			j--;
		if (j > 0 && order[j - 1] == ch)
			continue; /* named twice */
		memmove(&order[j + 1], &order[j], (k - j) * sizeof *order);
		order[j] = ch;
		k++;
	}
	return k;
}

static void lock_all(corun_chan **order, size_t k)
{
	for (size_t i = 0; i < k; i++)
		corun__lock(&order[i]->sh.lock);
}

static void unlock_all(corun_chan **order, size_t k)
{
	for (size_t i = k; i-- > 0;)
		corun__unlock(&order[i]->sh.lock);
}

union cwait {
	struct corun__qwait q;
	struct corun__swait s;
};

#define next_rand(rt) corun__select_rand(&(rt)->select)

/* The one procedure (above). reason and obj: what the wait is recorded as.
 * The index of the case done (its err set), or -1 with errno. */
static int run_cases(corun_case *cases, size_t n, int64_t deadline,
		     enum corun__wait_reason reason, const void *obj)
{
	struct corun__rt *rt = corun__shared_rt();
	if (!rt)
		return -1;
	if (corun__may_block(rt) < 0)
		return -1;
	if (corun__budget_out(rt))
		corun__budget_yield(rt);
	corun_chan *order_local[ON_STACK], **order = order_local;
	union cwait cw_local[ON_STACK], *cw = cw_local;
	if (n > ON_STACK) {
		order = corun__malloc(CORUN__FAIL_SELECT, n * (sizeof *order + sizeof *cw));
		if (!order) {
			errno = ENOMEM;
			return -1;
		}
		cw = (union cwait *)(order + n);
	}
	int result = -1, err = 0;
	struct corun__timer t;
	if (deadline > 0 && corun__arm_deadline(rt, &t, CORUN__ID_DEADLINE, deadline) < 0) {
		err = errno;
		goto out;
	}
	size_t k = lock_order(cases, n, order);
	lock_all(order, k);
	size_t start = n > 1 ? (size_t)(next_rand(rt) % n) : 0;
	struct taken tk = { NULL };
	for (size_t j = 0; j < n; j++) {
		size_t i = (start + j) % n;
		corun_case *c = &cases[i];
		int r = c->op == CORUN_SEND ? try_send(rt, c->chan, c->elem, &tk)
					    : try_recv(rt, c->chan, c->elem, &tk);
		if (r == EAGAIN)
			continue;
		unlock_all(order, k);
		if (tk.sw)
			corun__sq_fire(tk.sw, 0);
		corun__disarm(rt); /* the deadline, if armed */
		c->err = r;
		result = (int)i;
		goto out;
	}
	if (deadline == 0) {
		unlock_all(order, k);
		err = ETIMEDOUT;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		corun_chan *ch = cases[i].chan;
		struct corun__wq *q = cases[i].op == CORUN_SEND ? &ch->senders : &ch->receivers;
		if (is_shared(ch))
			corun__arm_shared(rt, &cw[i].s, &ch->sh, q, cases[i].elem, (int)i);
		else
			corun__arm_queued(rt, &cw[i].q, q, cases[i].elem, (int)i);
	}
	unlock_all(order, k);
	int id = corun__wait(rt, reason, (uintptr_t)obj, &err);
	if (id >= 0) {
		cases[id].err = err;
		err = 0;
		result = id;
	}
out:
	if (order != order_local)
		free(order);
	if (result < 0)
		errno = err;
	return result;
}

int corun__schan_send(corun_chan *ch, const void *elem, int64_t deadline)
{
	corun_case c = { .chan = ch, .op = CORUN_SEND, .elem = (void *)elem };
	if (run_cases(&c, 1, deadline, CORUN__WAIT_CHAN_SEND, ch) < 0)
		return -1;
	if (c.err) {
		errno = c.err;
		return -1;
	}
	return 0;
}

int corun__schan_recv(corun_chan *ch, void *elem, int64_t deadline)
{
	corun_case c = { .chan = ch, .op = CORUN_RECV, .elem = elem };
	if (run_cases(&c, 1, deadline, CORUN__WAIT_CHAN_RECV, ch) < 0)
		return -1;
	if (c.err) {
		errno = c.err;
		return -1;
	}
	return 0;
}

int corun__select_shared(corun_case *cases, size_t n, int64_t deadline)
{
	return run_cases(cases, n, deadline, CORUN__WAIT_SELECT, cases);
}

/* Take every waiter of ch (locked) for an EPIPE, onto *list. */
static void take_all(corun_chan *ch, struct corun__swait **list)
{
	struct corun__swait *sw;
	while ((sw = corun__sq_take(&ch->sh, &ch->receivers)) ||
	       (sw = corun__sq_take(&ch->sh, &ch->senders))) {
		sw->w.next = (struct corun__waiter *)*list;
		*list = sw;
	}
}

static void fire_all(struct corun__swait *list)
{
	while (list) {
		struct corun__swait *next = (struct corun__swait *)list->w.next;
		corun__sq_fire(list, EPIPE); /* list is not ours after this */
		list = next;
	}
}

int corun__schan_close(corun_chan *ch)
{
	struct corun__swait *list = NULL;
	corun__lock(&ch->sh.lock);
	if (ch->closed) {
		corun__unlock(&ch->sh.lock);
		errno = EPIPE;
		return -1;
	}
	ch->closed = 1;
	take_all(ch, &list);
	corun__unlock(&ch->sh.lock);
	fire_all(list);
	return 0;
}

int corun__schan_free(corun_chan *ch)
{
	struct corun__swait *list = NULL;
	corun__lock(&ch->sh.lock);
	ch->closed = 1;
	ch->sh.freed = 1;
	take_all(ch, &list);
	corun__shobj_release(&ch->sh); /* ch may be gone now */
	fire_all(list);
	return 0;
}
