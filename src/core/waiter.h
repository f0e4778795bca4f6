/*
 * The shape every wait shares: a waiter, and the FIFO queue of waiters
 * that a channel, a mutex or a coroutine's end keeps. Types and O(1) list
 * operations only, so that the parts of the runtime that hold waiters
 * (deadlines, descriptors) need not see the whole runtime; arming, waiting
 * and firing are the wait core's (wait.h).
 */
#ifndef CORUN_WAITER_H
#define CORUN_WAITER_H

#include "co.h"

#include <stddef.h>

struct corun__rt;

struct corun__waiter {
	struct corun__co *co;            /* who waits */
	struct corun__waiter *next_armed; /* co->armed: all that co waits on */
	/* Take the waiter off whatever holds it; not called for the one that
	 * fired, which its firer has already taken off. */
	void (*withdraw)(struct corun__rt *rt, struct corun__waiter *w);
	/* Links in the queue of what it waits on (a channel's senders, a
	 * coroutine's joiners, a mutex's queue), FIFO. */
	struct corun__waiter *prev, *next;
	void *ptr;                       /* the kind's payload: an element, a result */
	int id;                          /* what corun__wait returns if this fires */
};

/* A FIFO of waiters: the queue a channel, a mutex or a coroutine's end keeps
 * its waiters in. Doubly linked, so that a waiter leaves from anywhere in
 * O(1). */
struct corun__wq {
	struct corun__waiter *head, *tail;
};

static inline void corun__wq_push(struct corun__wq *q, struct corun__waiter *w)
{
	w->next = NULL;
	w->prev = q->tail;
	if (q->tail)
		q->tail->next = w;
	else
		q->head = w;
	q->tail = w;
}

/* Take w off a doubly linked list of waiters whose first is *head and, if
 * tail is not NULL, whose last is *tail (a coroutine's joiners keep no
 * tail: one word in the record's first line). */
static inline void corun__waiter_unlink(struct corun__waiter **head, struct corun__waiter **tail,
					struct corun__waiter *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		*head = w->next;
	if (w->next)
		w->next->prev = w->prev;
	else if (tail)
		*tail = w->prev;
}

static inline void corun__wq_remove(struct corun__wq *q, struct corun__waiter *w)
{
	corun__waiter_unlink(&q->head, &q->tail, w);
	w->prev = w->next = NULL;
}

static inline struct corun__waiter *corun__wq_pop(struct corun__wq *q)
{
	struct corun__waiter *w = q->head;
	if (w)
		corun__wq_remove(q, w);
	return w;
}

#endif
