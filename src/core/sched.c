/*
 * The scheduler: park, block, exit, and the main context's drive loop.
 * Every switch goes through switch_to, so the bookkeeping of a switch is in
 * one place and the switch itself stays a tail call.
 */
#include "runtime.h"

#include <errno.h>

/* Make `next` the running coroutine and switch to it from `cur`, whose state
 * the caller has already set. Returns what the one who resumes `cur` carried. */
static inline int switch_to(struct corun__rt *rt, struct corun__co *cur,
			    struct corun__co *next)
{
	next->state = CORUN__RUNNING;
	rt->current = next;
	if (__builtin_expect(cur->fpctl | next->fpctl, 0))
		corun__fp_switch(rt, cur, next);
	return corun__ctx_switch(&cur->sp, next->sp, 0);
}

void corun__fp_switch(struct corun__rt *rt, struct corun__co *cur,
		      struct corun__co *next)
{
	/* A coroutine without CORUN_FPCTL runs with the baseline, so leaving
	 * one needs no save, and entering one loads the baseline back. */
	if (cur->fpctl)
		corun__fpctl_save(&cur->fp);
	corun__fpctl_load(next->fpctl ? &next->fp : &rt->fp_base);
}

int corun_park(void)
{
	struct corun__rt *rt = corun__tls;
	if (!rt || !rt->head)
		return 0; /* nobody else is ready: keep running */
	struct corun__co *cur = rt->current, *next = corun__dequeue(rt);
	corun__enqueue(rt, cur);
	/* From main this is the "step" of corun_park's contract: main waits at
	 * the back of the queue while everyone ahead of it runs once. */
	return switch_to(rt, cur, next);
}

void corun__make_ready(struct corun__rt *rt, struct corun__co *co)
{
	CORUN__ASSERT(co->state == CORUN__BLOCKED);
	corun__enqueue(rt, co);
}

/* Who runs when `cur` stops: the next ready coroutine, or else main, which
 * is then waiting in corun__drive (it cannot be running, and it is not
 * queued, or the queue would not be empty). */
static struct corun__co *next_or_main(struct corun__rt *rt)
{
	struct corun__co *next = corun__dequeue(rt);
	if (next)
		return next;
	CORUN__ASSERT(rt->main.state == CORUN__BLOCKED);
	return &rt->main;
}

int corun__block(struct corun__rt *rt)
{
	struct corun__co *cur = rt->current;
	CORUN__ASSERT(cur != &rt->main);
	cur->state = CORUN__BLOCKED;
	return switch_to(rt, cur, next_or_main(rt));
}

void corun__exit(struct corun__rt *rt, struct corun__co *co)
{
	corun__reap(rt); /* an earlier one: we are not on its stack */
	co->state = CORUN__ENDED;
	rt->dead = co;   /* ours is reaped by whoever runs next */
	switch_to(rt, co, next_or_main(rt));
	corun__panic(__FILE__, __LINE__, "an ended coroutine was resumed");
}

int corun__drive(struct corun__rt *rt, const uint8_t *done)
{
	struct corun__co *m = &rt->main;
	CORUN__ASSERT(rt->current == m);
	while (done ? !*done : rt->live > 0) {
		struct corun__co *next = corun__dequeue(rt);
		if (!next) {
			errno = EDEADLK;
			return -1;
		}
		m->state = CORUN__BLOCKED;
		switch_to(rt, m, next);
		/* Back because nothing was ready, or because main was made
		 * ready (its join finished): the loop's condition tells. */
		corun__reap(rt);
	}
	return 0;
}

int corun_run(void)
{
	struct corun__rt *rt = corun__tls;
	if (!rt)
		return 0;
	if (rt->current != &rt->main) {
		errno = EPERM;
		return -1;
	}
	if (corun__drive(rt, NULL) < 0)
		return -1;
	corun__rt_release_if_idle(rt);
	return 0;
}
