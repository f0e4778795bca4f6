/*
 * The scheduler (sched.c): the ready queue, the switches that block, end
 * and drive coroutines, and the idle step that blocks the thread.
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

#include "co.h"
#include "panic.h"

#include <stddef.h>
#include <stdint.h>

struct corun__rt;

/* Blocking calls in a row, with no wait, before one yields (wait.h). */
#define CORUN__BUDGET 128

/* Fewer coroutines than this fit in cache: no prefetching. */
#define CORUN__PREFETCH_MIN 64

/* The runtime's part, first in it after `current`: park reads ring, mask,
 * head and tail, a spawn admit and live, all in one cache line with
 * `current`. */
struct corun__sched {
	struct corun__co **ring; /* the ready queue */
	size_t mask;            /* ring size - 1 (a power of two), or 0 */
	size_t admit;           /* a spawn at this many live goes slow (below) */
	size_t head, tail;      /* run free: head counts dequeues (stats.c) */
	size_t live;            /* spawned and not ended */
	uint32_t budget;        /* blocking calls left before one yields (wait.h) */
	uint8_t main_woken;     /* main's wait has fired (wait.h) */
	size_t nfpctl;          /* live CORUN_FPCTL coroutines (fpctl.h) */
};

void corun__sched_init(struct corun__sched *s);
void corun__sched_fini(struct corun__sched *s);

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

/* Nothing is ready: block the thread until the nearest deadline or a
 * descriptor's report (one epoll_wait, fd.c), then fire what expired or
 * became ready. 0, or -1 when nothing is pending that could ever make
 * anything ready (no deadline, no descriptor waited on). */
int corun__idle(struct corun__rt *rt);

/* The ring's invariant: room for every live coroutine and main. A spawn
 * calls corun__ready_admit before it commits, making room for one more;
 * upkeep shrinks the ring back (corun__ready_shrink) when it is mostly
 * empty.
 *
 * The same one compare keeps the peak of live coroutines for corun_stats:
 * admit is the least of the ring's mask (past it the ring must grow) and
 * the peak (past it this spawn makes a new peak), so only a spawn that
 * grows the ring or raises the peak takes the out-of-line half, and a spawn
 * that stays under both costs what it did before the peak was kept. The
 * out-of-line half: 0, or -1 with ENOMEM. */
int corun__ready_grow(struct corun__rt *rt);
void corun__ready_shrink(struct corun__rt *rt);

/* Entries needed once one more coroutine is spawned: the live ones, the
 * new one, and main. */
static inline size_t corun__ready_need(const struct corun__sched *s)
{
	return s->live + 2;
}

static inline int corun__ready_admit(struct corun__rt *rt, const struct corun__sched *s)
{
	if (__builtin_expect(s->live >= s->admit, 0))
		return corun__ready_grow(rt);
	return 0;
}

/* A spawn that passed corun__ready_admit failed after all: take back the
 * peak it may have raised. */
void corun__ready_unadmit(struct corun__rt *rt);

static inline void corun__enqueue(struct corun__sched *s, struct corun__co *co)
{
	s->ring[s->tail++ & s->mask] = co;
}

/* A blocked coroutine (or main, waiting in corun__drive) becomes ready: to
 * the back of the queue. Never fails: the ring has room for all. */
static inline void corun__make_ready(struct corun__sched *s, struct corun__co *co)
{
	CORUN__ASSERT(co->state == CORUN__BLOCKED);
	co->state = CORUN__RUNNABLE;
	corun__enqueue(s, co);
}

static inline struct corun__co *corun__dequeue(struct corun__sched *s)
{
	if (s->head == s->tail)
		return NULL;
	return s->ring[s->head++ & s->mask];
}

#endif
