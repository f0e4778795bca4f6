/*
 * The scheduler (sched.c): the ready queue, and the switches that block,
 * end and drive coroutines.
 *
 * The ready queue is a ring of pointers, not a list through the records:
 * rotating it (the parker to the back, the next one out of the front) is
 * a few stores with no branch and no write to the parker's record, and
 * looking ahead for prefetching reads the ring, not a cold record. It is
 * kept large enough for every coroutine plus main (corun__ready_admit at
 * spawn), so making one ready never fails. head and tail run free; the
 * ring index is their value masked. Nothing ever sets them back, not even
 * a resize: every switch but one to main with an empty queue dequeues one
 * entry, so head is most of corun_stats's count of switches, for free.
 */
#ifndef CORUN_SCHED_H
#define CORUN_SCHED_H

#include "runtime.h"

#include <stddef.h>

/* Fewer coroutines than this fit in cache: no prefetching. */
#define CORUN__PREFETCH_MIN 64

/* Block the running coroutine (not main) until someone makes it ready.
 * Returns 0 (the switch carries nothing; why it woke is in its record). */
int corun__block(struct corun__rt *rt);
/* From main: run coroutines until none is left (until_woken == 0) or until
 * main's wait fires (1), firing deadlines and blocking the thread for them
 * when nothing is ready. 0, or -1 with EDEADLK when nothing can run or fire
 * any more. */
int corun__drive(struct corun__rt *rt, int until_woken);
/* Leave an ended coroutine for good. */
_Noreturn void corun__exit(struct corun__rt *rt, struct corun__co *co);

/* The ring's invariant: room for every live coroutine and main. A spawn
 * calls corun__ready_admit before it commits, making room for one more;
 * upkeep shrinks the ring back (corun__ready_shrink) when it is mostly
 * empty.
 *
 * The same one compare keeps the peak of live coroutines for corun_stats:
 * rt->admit is the least of the ring's mask (past it the ring must grow)
 * and rt->peak (past it this spawn makes a new peak), so only a spawn that
 * grows the ring or raises the peak takes the out-of-line half, and a spawn
 * that stays under both costs what it did before the peak was kept. The
 * out-of-line half: 0, or -1 with ENOMEM. */
int corun__ready_grow(struct corun__rt *rt);
void corun__ready_shrink(struct corun__rt *rt);

/* Entries needed once one more coroutine is spawned: the live ones, the
 * new one, and main. */
static inline size_t corun__ready_need(const struct corun__rt *rt)
{
	return rt->live + 2;
}

static inline int corun__ready_admit(struct corun__rt *rt)
{
	if (__builtin_expect(rt->live >= rt->admit, 0))
		return corun__ready_grow(rt);
	return 0;
}

/* A spawn that passed corun__ready_admit failed after all: take back the
 * peak it may have raised (stats.c). */
void corun__ready_unadmit(struct corun__rt *rt);

static inline void corun__enqueue(struct corun__rt *rt, struct corun__co *co)
{
	rt->ring[rt->tail++ & rt->mask] = co;
}

/* A blocked coroutine (or main, waiting in corun__drive) becomes ready: to
 * the back of the queue. Never fails: the ring has room for all. */
static inline void corun__make_ready(struct corun__rt *rt, struct corun__co *co)
{
	CORUN__ASSERT(co->state == CORUN__BLOCKED);
	co->state = CORUN__RUNNABLE;
	corun__enqueue(rt, co);
}

static inline struct corun__co *corun__dequeue(struct corun__rt *rt)
{
	if (rt->head == rt->tail)
		return NULL;
	return rt->ring[rt->head++ & rt->mask];
}

#endif
