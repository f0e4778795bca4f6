/*
 * Time (time.c): the clock, and deadlines, kept in a 4-ary min-heap by
 * (deadline, arming order). A deadline is a waiter like any other (it
 * fires with ETIMEDOUT); what blocks the thread until the nearest one is
 * the scheduler's idle step (sched.c).
 */
#ifndef CORUN_TIME_H
#define CORUN_TIME_H

#include "waiter.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h> /* the system's: quotes would name this file */

struct corun__rt;

/* The runtime's part: its armed deadlines. */
struct corun__timers {
	struct corun__timer **heap; /* a 4-ary min-heap by (deadline, seq) */
	size_t n, cap;              /* armed; room for */
	uint64_t seq;               /* arming order, for FIFO among equal deadlines */
};

/* The heap's memory, when the runtime is released. */
void corun__timers_fini(struct corun__timers *t);

/* A deadline, armed like any waiter: fires with ETIMEDOUT. Lives on the
 * waiting coroutine's stack. */
struct corun__timer {
	struct corun__waiter w;
	int64_t deadline;
	uint64_t seq;      /* arming order: FIFO among equal deadlines */
	size_t idx;        /* its place in the heap */
};

/* The id a deadline fires with, in every blocking call; no other waiter
 * has it, so that a debugger finds a wait's deadline by it (layout.c). */
#define CORUN__ID_DEADLINE (-2)

/* Arm a deadline as waiter `id` (deadline > 0; -1 arms nothing). 0, or -1
 * with errno ENOMEM when the heap cannot grow. */
int corun__arm_timer(struct corun__rt *rt, struct corun__timer *t, int id, int64_t deadline);
static inline int corun__arm_deadline(struct corun__rt *rt, struct corun__timer *t, int id,
				      int64_t deadline)
{
	return deadline < 0 ? 0 : corun__arm_timer(rt, t, id, deadline);
}

/* A blocking call's deadline argument: -1 (none) or a time; anything
 * below -1 is the caller's mistake. 0, or -1 with errno EINVAL. */
static inline int corun__deadline_check(int64_t deadline)
{
	if (__builtin_expect(deadline < -1, 0)) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* The nearest deadline, or -1 when none is armed. */
static inline int64_t corun__timers_next(const struct corun__timers *t)
{
	return t->n ? t->heap[0]->deadline : -1;
}

/* Fire every deadline that has passed; 1 if any fired. Cheap when none is
 * near: a coarse clock read. */
int corun__timers_fire(struct corun__rt *rt);
/* The same against a time the caller has just read (corun_now). */
int corun__timers_fire_until(struct corun__rt *rt, int64_t now);

/* The coarse clock (CLOCK_MONOTONIC_COARSE, a vDSO read of the last tick,
 * 1-4 ms resolution), in ns: for intervals far longer than its tick
 * (upkeep's epochs, descriptor sweeps, when to collect reports), at a
 * quarter of the precise clock's cost. */
static inline int64_t corun__coarse_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

#endif
