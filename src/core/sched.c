/*
 * The scheduler: park, block, exit, and the main context's drive loop.
 * Every switch goes through switch_to, so the bookkeeping of a switch is in
 * one place and the switch itself stays a tail call.
 */
#include "sched.h"
#include "runtime.h"
#include "fpctl.h"
#include "wait.h"
#include "../failpoint.h"

#include <errno.h>


static int switch_fp(struct corun__rt *rt, struct corun__co *cur, struct corun__co *next);
static int switch_tooled(struct corun__rt *rt, struct corun__co *cur, struct corun__co *next);

/* Make `next` the running coroutine and switch to it from `cur`, whose state
 * the caller has already set. Returns what the one who resumes `cur` carried.
 * Both paths end in a tail call, so a park keeps nothing on its own stack. */
static inline int switch_to(struct corun__rt *rt, struct corun__co *cur,
			    struct corun__co *next)
{
#ifdef CORUN__CHECKED
	if (rt->checked.on) /* checked mode: see checked.c */
		corun__check_switch(rt, cur, next);
#endif
	rt->current = next;
	if (CORUN__TOOLED) /* a sanitizer build: see hooks.h */
		return switch_tooled(rt, cur, next);
	if (__builtin_expect(cur->fpctl | next->fpctl, 0))
		return switch_fp(rt, cur, next);
	return corun__ctx_switch(&cur->sp, next->sp, 0);
}

/* When either side keeps its own FP control state. A coroutine without
 * CORUN_FPCTL runs with main's (fpctl.h), so leaving one needs no save,
 * and entering one loads main's back. Loading is the costly half, so it
 * is skipped when the state is already the one wanted. */
static inline void fp_handoff(struct corun__rt *rt, struct corun__co *cur,
			      struct corun__co *next)
{
	uint64_t now = corun__fpctl_get();
	if (cur->fpctl)
		cur->fp = now;
	uint64_t want = next->fpctl ? next->fp : rt->main.fp;
	if (want != now)
		corun__fpctl_set(want);
}

/* Out of line and cold: inlined, it would make every park save registers. */
__attribute__((noinline, cold)) static int switch_fp(struct corun__rt *rt,
						     struct corun__co *cur,
						     struct corun__co *next)
{
	fp_handoff(rt, cur, next);
	return corun__ctx_switch(&cur->sp, next->sp, 0);
}

/* The switch of a sanitizer build: the hooks need a word before and after. */
__attribute__((noinline)) static int switch_tooled(struct corun__rt *rt,
						   struct corun__co *cur,
						   struct corun__co *next)
{
	if (cur->fpctl | next->fpctl)
		fp_handoff(rt, cur, next);
	corun__hook_before(rt, cur, next);
	CORUN__TOOL_SWITCH_FIBER(next);
	int carried = corun__ctx_switch(&cur->sp, next->sp, 0);
	corun__hook_after(rt, cur);
	return carried;
}

void corun__sched_init(struct corun__sched *s)
{
	s->budget = CORUN__BUDGET;
}

void corun__sched_fini(struct corun__sched *s)
{
	free(s->ring);
	s->ring = NULL;
}

/* corun_park from main: the "step" of its contract. Main waits at the back
 * of the queue while everyone ahead of it runs once; deadlines that have
 * passed fire first, so that a program stepping the scheduler from its own
 * loop wakes its sleepers too. */
__attribute__((noinline)) static int main_step(struct corun__rt *rt)
{
	struct corun__co *m = &rt->main;
	if (rt->timers.n)
		corun__timers_fire(rt);
	if (rt->fds.waiting)
		corun__poll(rt, 0);
	corun__remote_drain(rt, &rt->remote);
	struct corun__co *next = corun__dequeue(&rt->sched);
	if (!next)
		return 0;
	corun__enqueue(&rt->sched, m);
	switch_to(rt, m, next);
	return 0;
}

int corun_park(void)
{
	struct corun__rt *rt = corun__tls;
	if (!rt)
		return 0;
	struct corun__co *cur = rt->current;
	if (__builtin_expect(cur == &rt->main, 0))
		return main_step(rt);
	if (rt->sched.head == rt->sched.tail)
		return 0; /* nobody else is ready: keep running */
	size_t h = rt->sched.head;
	struct corun__co *next = rt->sched.ring[h & rt->sched.mask];
	rt->sched.ring[rt->sched.tail++ & rt->sched.mask] = cur;
	rt->sched.head = h + 1;
	/* With many coroutines, each park lands on a stack that is cold in
	 * cache and TLB. Fetch ahead: the record of the coroutine four places
	 * on (its address is in the ring), and the saved frame of the one two
	 * places on, whose record was fetched two parks ago (bench/'s park at
	 * 100,000 coroutines shows what it saves; nearer distances did no
	 * better). With few, everything is in cache and the lookahead would
	 * only cost. */
	if (rt->sched.tail - h > CORUN__PREFETCH_MIN) {
		struct corun__co *soon = rt->sched.ring[(h + 2) & rt->sched.mask];
		__builtin_prefetch(rt->sched.ring[(h + 4) & rt->sched.mask]);
		__builtin_prefetch(soon->sp);
	}
	return switch_to(rt, cur, next);
}

/* Keep rt->sched.admit the least of the two limits of corun__ready_admit. */
static void admit_update(struct corun__rt *rt)
{
	rt->sched.admit = rt->sched.mask < rt->stats.peak ? rt->sched.mask : rt->stats.peak;
}

/* Move the queue into a new ring of `size` entries (a power of two that
 * holds what is queued). head and tail keep their values (they count, see
 * sched.h): each entry goes to its index masked anew. 0, or -1 when there
 * is no memory for it. */
static int ring_resize(struct corun__rt *rt, size_t size)
{
	struct corun__co **ring = corun__malloc(CORUN__FAIL_RING, size * sizeof *ring);
	if (!ring)
		return -1;
	for (size_t i = rt->sched.head; i != rt->sched.tail; i++)
		ring[i & (size - 1)] = rt->sched.ring[i & rt->sched.mask];
	free(rt->sched.ring);
	rt->sched.ring = ring;
	rt->sched.mask = size - 1;
	admit_update(rt);
	return 0;
}

int corun__ready_grow(struct corun__rt *rt)
{
	/* A new peak, unless this spawn fails (corun__ready_unadmit). */
	if (rt->sched.live >= rt->stats.peak) {
		rt->stats.peak_undo = rt->stats.peak;
		rt->stats.peak = rt->sched.live + 1;
		rt->stats.peak_token = corun__serial_next;
	}
	size_t size = rt->sched.mask + 1, n = corun__ready_need(&rt->sched);
	if (rt->sched.ring && n <= size) {
		admit_update(rt);
		return 0;
	}
	size_t want = rt->sched.ring ? 2 * size : 64;
	while (want < n)
		want *= 2;
	if (ring_resize(rt, want) < 0) {
		corun__ready_unadmit(rt);
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

void corun__ready_unadmit(struct corun__rt *rt)
{
	/* No spawn has succeeded since the peak was raised: it drew no serial. */
	if (rt->stats.peak_token == corun__serial_next && rt->stats.peak == rt->sched.live + 1) {
		rt->stats.peak = rt->stats.peak_undo;
		rt->stats.peak_token = 0;
		admit_update(rt);
	}
}

void corun__ready_shrink(struct corun__rt *rt)
{
	size_t size = rt->sched.mask + 1, need = corun__ready_need(&rt->sched);
	if (!rt->sched.ring || size <= 64 || need > size / 4)
		return;
	size_t want = 64;
	while (want < 2 * need)
		want *= 2;
	(void)ring_resize(rt, want); /* without memory, keep the larger one */
}

/* Take the next ready coroutine, fetching ahead as park does: coroutines
 * that start and end one after another (a batch of spawns being run) are
 * as cold as those that park, since B other spawns came between. For one
 * that has not started yet, the lines below its saved frame are where its
 * entry's frames go: fetch two of them too (bench/'s churn at B = 100,000
 * is the case this serves). */
static inline struct corun__co *dequeue_ahead(struct corun__rt *rt)
{
	size_t h = rt->sched.head;
	if (h == rt->sched.tail)
		return NULL;
	if (rt->sched.tail - h > CORUN__PREFETCH_MIN) {
		struct corun__co *soon = rt->sched.ring[(h + 2) & rt->sched.mask];
		const char *sp = soon->sp;
		__builtin_prefetch(rt->sched.ring[(h + 4) & rt->sched.mask]);
		__builtin_prefetch(sp);
		__builtin_prefetch(sp - 64, 1);
		__builtin_prefetch(sp - 128, 1);
	}
	rt->sched.head = h + 1;
	return rt->sched.ring[h & rt->sched.mask];
}

/* Who runs when `cur` stops: the next ready coroutine, or else main, which
 * is then waiting in corun__drive (it cannot be running, and it is not
 * queued, or the queue would not be empty). */
static struct corun__co *next_or_main(struct corun__rt *rt)
{
	struct corun__co *next = dequeue_ahead(rt);
	if (next)
		return next;
	CORUN__ASSERT(rt->main.state == CORUN__BLOCKED);
	rt->stats.to_main++; /* the one switch that dequeues nothing (sched.h) */
	return &rt->main;
}

int corun__block(struct corun__rt *rt)
{
	struct corun__co *cur = rt->current;
	CORUN__ASSERT(cur != &rt->main);
	cur->state = CORUN__BLOCKED;
	return switch_to(rt, cur, next_or_main(rt));
}

/* Runs on the stack of whoever was resumed after co ended (corun__ctx_exit):
 * the one place an ended coroutine's stack goes back when the pool could
 * not take it without allocating, now that nothing runs on it. */
static void end_on_top(void *p)
{
	struct corun__co *co = p;
	struct corun__rt *rt = corun__tls;
	corun__hook_dead(rt, co);
	if (rt->report)
		corun__report_end(rt, co); /* measures it, puts its class back */
	corun__stack_put(&co->stack);
}

/* The end of co when its stack must go back from another stack: the
 * switch_to of an exit, through corun__ctx_exit. */
__attribute__((noinline, cold, noreturn)) static void exit_on_top(struct corun__rt *rt,
								   struct corun__co *co,
								   struct corun__co *next)
{
#ifdef CORUN__CHECKED
	if (rt->checked.on)
		corun__check_switch(rt, co, next);
#endif
	rt->current = next;
	if (co->fpctl | next->fpctl)
		fp_handoff(rt, co, next);
	if (CORUN__TOOLED) {
		corun__hook_before(rt, co, next);
		CORUN__TOOL_SWITCH_FIBER(next);
	}
	corun__ctx_exit(next->sp, end_on_top, co);
}

void corun__exit(struct corun__rt *rt, struct corun__co *co)
{
	co->state = CORUN__ENDED;
	/* Our stack goes back to the pool now if that writes only the pool:
	 * nothing can take it before we have switched away (spawning is not
	 * possible in between). If giving it back might trim its pages or
	 * allocate under our feet, it goes back on the stack of whoever runs
	 * next, before that one goes on; so too under TSan, whose fiber for
	 * us can only be destroyed from another, and under the stack report,
	 * which measures it (report.c). */
	struct corun__co *next = next_or_main(rt);
	if (!CORUN__TOOL_DEFER_END && corun__stack_put_fast(&co->stack))
		switch_to(rt, co, next);
	else
		exit_on_top(rt, co, next);
	corun__panic(__FILE__, __LINE__, "an ended coroutine was resumed");
}

int corun__idle(struct corun__rt *rt)
{
	int saved = errno;
	for (;;) {
		size_t remote = rt->remote.waits;
		if (!rt->timers.n && !rt->fds.waiting && !remote) {
			errno = saved;
			return -1; /* nothing could ever fire */
		}
		int64_t timeout = -1; /* no deadline: until a descriptor is ready */
		if (rt->timers.n) {
			int64_t now = corun_now();
			if (corun__timers_fire_until(rt, now))
				break;
			timeout = corun__timers_next(&rt->timers) - now;
		}
		/* A child of fork keeps the waits its thread had, but not the
		 * parent's wake descriptor (corun__remote_fork_child): until
		 * it has its own, a thread it starts that ends one of those
		 * waits pushes and writes nowhere, and this sleep would never
		 * end. So make it before sleeping; without one (EMFILE), nap,
		 * looking at the inbox every millisecond. */
		if (remote && rt->remote.efd < 0 && corun__remote_prepare(rt) < 0 &&
		    (timeout < 0 || timeout > 1000000))
			timeout = 1000000;
		/* Another thread may end a wait: spin on the inbox a while,
		 * then sleep with `sleeping` published (remote.h). */
		if (remote && (corun__remote_drain(rt, &rt->remote) ||
			       corun__remote_before_sleep(rt, timeout)))
			break;
		int fired = corun__poll(rt, timeout);
		if (remote) {
			corun__remote_awake(rt);
			fired += (int)corun__remote_drain(rt, &rt->remote);
		}
		if (fired > 0)
			break;
	}
	errno = saved;
	return 0;
}

int corun__drive(struct corun__rt *rt, int until_woken)
{
	struct corun__co *m = &rt->main;
	CORUN__ASSERT(rt->current == m);
	/* Main is about to wait for the coroutines: a good moment for memory
	 * upkeep, counted like a spawn (it reads a clock only now and then). */
	if (corun__tick(&rt->upkeep))
		corun__upkeep(rt);
	for (;;) {
		if (rt->timers.n)
			corun__timers_fire(rt);
		corun__remote_drain(rt, &rt->remote);
		if (until_woken ? rt->sched.main_woken : rt->sched.live == 0)
			return 0;
		struct corun__co *next = dequeue_ahead(rt);
		if (!next) {
			/* Nothing ready: block the thread until a deadline. */
			if (corun__idle(rt) < 0) {
				errno = EDEADLK;
				return -1;
			}
			continue;
		}
		/* While deadlines are pending or coroutines wait on
		 * descriptors, main takes a turn in the ring, so that they
		 * fire even if the others never stop running (and so
		 * with waits another thread may end: main drains the
		 * inbox on its turn, remote.h); otherwise it
		 * waits aside, resumed only when nothing is ready
		 * (next_or_main) or when its wait fires (wait.c). */
		if (__builtin_expect((rt->timers.n | rt->fds.waiting | rt->remote.waits) != 0, 0)) {
			if (rt->fds.waiting)
				corun__poll_due(rt);
			corun__enqueue(&rt->sched, m);
		} else {
			m->state = CORUN__BLOCKED;
		}
		switch_to(rt, m, next);
		m->state = CORUN__RUNNABLE;
	}
}

int corun_run(void)
{
	struct corun__rt *rt = corun__tls;
	int ok = corun__main_only(rt);
	if (ok <= 0)
		return ok;
	return corun__drive(rt, 0);
}
