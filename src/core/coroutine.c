/*
 * Coroutines: spawn, the start and end of a coroutine, join, and the
 * diagnostic accessors.
 */
#include "coroutine.h"
#include "runtime.h"
#include "fpctl.h"
#include "sync.h"
#include "wait.h"

#include <errno.h>
#include <string.h>

#define ATTR_MAGIC 0x636f7275u /* "coru" */
#define KNOWN_FLAGS (CORUN_DETACHED | CORUN_FPCTL)

/* Cache colours for records: see corun_go_attr. */
#define COLORS 32

int corun_attr_init(corun_attr *attr)
{
	if (!attr) {
		errno = EINVAL;
		return -1;
	}
	memset(attr, 0, sizeof *attr);
	attr->stack_size = CORUN_STACK_DEFAULT;
	attr->magic_ = ATTR_MAGIC;
	return 0;
}

/* Run a coroutine's body and settle its end: its result, its joiners, its
 * handle. What is left is to leave its stack (corun__exit). */
static inline __attribute__((always_inline)) struct corun__rt *run(struct corun__co *co)
{
	if (CORUN__TOOLED)
		corun__hook_after(corun__tls, co);
	void *result = co->fn(co->arg);
	struct corun__rt *rt = corun__tls; /* coroutines never change threads */

	rt->sched.live--;
	if (co->fpctl)
		corun__fpctl_leave(rt);
	if (__builtin_expect(co->flags & CORUN__F_HOLDS, 0) && co->held)
		corun__mutex_orphans(rt, co); /* ended holding mutexes: sync.c */
	if (co->joiners) { /* hand the result to each; the handle dies now */
		struct corun__waiter *w;
		while ((w = co->joiners)) {
			co->joiners = w->next;
			*(void **)w->ptr = result;
			corun__fire(rt, w, 0);
		}
		corun__slot_free(&rt->handles, co->slot);
	} else if (co->flags & CORUN__F_DETACHED) {
		corun__slot_free(&rt->handles, co->slot);
	} else { /* keep the result for a later join */
		struct corun__slot *s = &rt->handles.slots[co->slot];
		s->state = CORUN__SLOT_DONE;
		s->u.result = result;
	}
	return rt;
}

/* Where every coroutine starts (through the arch trampoline) and ends. */
static _Noreturn void start(void *p)
{
	struct corun__co *co = p;
	corun__exit(run(co), co);
}

/* The same under CORUN_STACK_REPORT: the end leaves the stack to be
 * measured (report.h). Spawn picks one of the two through
 * rt->spawn.start, a load where it took an address, so the mode costs it
 * nothing. */
static _Noreturn void start_measured(void *p)
{
	struct corun__co *co = p;
	corun__exit_measured(run(co), co);
}

void corun__start_pick(struct corun__rt *rt)
{
	rt->spawn.start = rt->report ? start_measured : start;
}

corun_t corun_go(corun_fn fn, void *arg)
{
	return corun_go_attr(fn, arg, NULL);
}

/* Checking: what spawn was asked for, into *size, *name and *flags. 0, or
 * -1 with errno EINVAL. */
static inline __attribute__((always_inline)) int spawn_check(corun_fn fn,
							     const corun_attr *attr,
							     size_t *size, const char **name,
							     unsigned *flags)
{
	if (!fn)
		goto inval;
	if (attr) {
		if (attr->magic_ != ATTR_MAGIC || attr->stack_size < CORUN_STACK_MIN ||
		    attr->stack_size > CORUN_STACK_MAX || (attr->flags & ~KNOWN_FLAGS))
			goto inval;
		*size = attr->stack_size;
		*name = attr->name;
		*flags = attr->flags;
	}
	return 0;
inval:
	errno = EINVAL;
	return -1;
}

/* Placing: where on stack st the record goes.
 *
 * The record sits at the top of the stack, the first frame below it.
 * Stacks are page-aligned and a whole number of pages apart, so at a
 * fixed place every record would fall in the same cache set, and a
 * hundred of them would thrash a 32 KiB L1. Each is staggered by one of
 * 32 cache lines instead (2 KiB at most: the top page still holds the
 * record and the first kilobyte of frames), the next line for each spawn:
 * coroutines spawned one after the other, which then switch to one
 * another, never save and load frames at the same offset in a page, which
 * costs half a switch more (bench/probe/alias.c: 4 KiB aliasing of the
 * one's pushes with the other's pops). */
static inline __attribute__((always_inline)) struct corun__co *
spawn_place(struct corun__rt *rt, const struct corun__stack *st)
{
	rt->spawn.color = (rt->spawn.color + 1) % COLORS;
	struct corun__co *co =
		(struct corun__co *)(st->lo + st->size - (size_t)rt->spawn.color * 64) - 1;
	/* In a burst, every spawn writes to a stack that is cold in cache and
	 * TLB: fetch the one two spawns on (its record line and the frame line
	 * below it), as park does for the ring. */
	if (rt->sched.live > CORUN__PREFETCH_MIN) {
		const char *soon = corun__stack_peek2(&rt->stacks, st->size);
		if (soon) {
			const char *rec = soon + st->size -
					  (size_t)((rt->spawn.color + 2) % COLORS) * 64 -
					  sizeof(struct corun__co);
			__builtin_prefetch(rec, 1);
			__builtin_prefetch(rec - CORUN__CTX_FRAME, 1);
		}
	}
	return co;
}

/* Initialising: the record's first line (its second only for CORUN_FPCTL
 * and a name). Every field is set here, one by one: a memset of the
 * record cost more than the rest. */
static inline __attribute__((always_inline)) void
spawn_init(struct corun__rt *rt, struct corun__co *co, const struct corun__stack *st,
	   corun_fn fn, void *arg, unsigned flags, const char *name, uint32_t idx)
{
	if (CORUN__TOOLED) /* before the record is written: see hooks.h */
		corun__hook_spawn(rt, co, st);
	corun__stack_reuse(&rt->stacks, st, (const char *)co - CORUN__CTX_FRAME);
	co->state = CORUN__RUNNABLE;
	co->fpctl = (flags & CORUN_FPCTL) != 0;
	co->flags = (uint8_t)(((flags & CORUN_DETACHED) ? CORUN__F_DETACHED : 0) |
			      (name ? CORUN__F_NAMED : 0));
	co->slot = idx;
	co->joiners = NULL;
	co->fn = fn;
	co->arg = arg;
	co->stack = *st;
#ifdef CORUN__CHECKED
	if (rt->checked.on) /* the canary at the stack's low end: checked.c */
		corun__check_spawn(rt, co);
#endif
	if (co->fpctl) { /* line 2 only when asked for */
		co->fp = corun__fpctl_get(); /* starts with its creator's */
		corun__fpctl_join(rt);
	}
	if (name) {
		strncpy(co->name, name, CORUN_NAME_MAX - 1);
		co->name[CORUN_NAME_MAX - 1] = '\0';
	}
}

corun_t corun_go_attr(corun_fn fn, void *arg, const corun_attr *attr)
{
	size_t size = CORUN_STACK_DEFAULT;
	const char *name = NULL;
	unsigned flags = 0;
	struct corun__stack st;
	uint32_t idx;

	if (spawn_check(fn, attr, &size, &name, &flags) < 0)
		return -1;
	struct corun__rt *rt = corun__tls;
	if (__builtin_expect(!rt, 0) && !(rt = corun__rt_get_or_make()))
		return -1;
	if (corun__tick(&rt->upkeep))
		corun__upkeep(rt); /* memory upkeep, now and then */
	if (corun__ready_admit(rt, &rt->sched) < 0)
		return -1;
	if (corun__stack_get(&rt->stacks, corun__stack_round(&rt->stacks, size), &st) < 0)
		goto unadmit;
	struct corun__slot *slot = corun__slot_new(&rt->handles, &idx);
	if (!slot) {
		corun__stack_put(&st);
		rt->stats.unwound++; /* it took a stack all the same (corun_stats) */
		goto unadmit;
	}

	struct corun__co *co = spawn_place(rt, &st);
	spawn_init(rt, co, &st, fn, arg, flags, name, idx);
	slot->state = CORUN__SLOT_LIVE;
	slot->u.co = co;
	rt->sched.live++;
	corun__enqueue(&rt->sched, co);
	corun_t h = (corun_t)((slot->serial << CORUN__SLOT_BITS) | idx);
	/* Last, so that little is live across the one call of a spawn. */
	co->sp = corun__ctx_make(co, rt->spawn.start, co, (size_t)((char *)co - st.lo));
	return h;

unadmit: {
	int saved = errno;
	corun__ready_unadmit(rt);
	errno = saved;
	return -1;
}
}

/* The slot of h in the calling thread's runtime, or NULL with ESRCH. */
static inline struct corun__slot *lookup(struct corun__rt *rt, corun_t h)
{
	struct corun__slot *s = rt ? corun__slot_get(&rt->handles, h) : NULL;
	if (!s)
		errno = ESRCH;
	return s;
}

/* A join waiter: on the joined coroutine's list (linked through the
 * waiters, newest first), where its end leaves the result. Whom it joins
 * is the wait's object, in the joiner's record (co.h). */
struct joining {
	struct corun__waiter w;
	void *result;
};

static void withdraw_join(struct corun__rt *rt, struct corun__waiter *w)
{
	(void)rt;
	struct corun__co *target = (struct corun__co *)(uintptr_t)w->co->wait_obj;
	corun__waiter_unlink(&target->joiners, NULL, w);
}

#define ID_JOINED 1

static int join_yielding(corun_t h, void **result, int64_t deadline);

static inline int join(corun_t h, void **result, int64_t deadline)
{
	struct corun__rt *rt = corun__tls;
	struct corun__slot *s = lookup(rt, h);
	if (!s)
		return -1;
	if (corun__deadline_check(deadline) < 0)
		return -1;
	if (s->state == CORUN__SLOT_LIVE) {
		if (s->u.co == rt->current) {
			errno = EDEADLK;
			return -1;
		}
		if (s->u.co->flags & CORUN__F_DETACHED) {
			errno = EINVAL;
			return -1;
		}
	}
	if (corun__may_block(rt) < 0)
		return -1;
	if (s->state != CORUN__SLOT_LIVE) { /* it has ended: take the result */
		if (corun__budget_out(rt)) /* only here: the rest waits */
			return join_yielding(h, result, deadline);
		if (result)
			*result = s->u.result;
		corun__slot_free(&rt->handles, (uint32_t)(s - rt->handles.slots));
		return 0;
	}
	struct corun__co *co = s->u.co;
	if (corun__may_wait(rt, deadline) < 0)
		return -1;
	struct joining j;
	struct corun__timer t;
	if (corun__arm_deadline(rt, &t, CORUN__ID_DEADLINE, deadline) < 0)
		return -1;
	corun__arm(rt, &j.w, ID_JOINED, withdraw_join);
	j.w.ptr = &j.result;
	j.w.prev = NULL;
	j.w.next = co->joiners;
	if (co->joiners)
		co->joiners->prev = &j.w;
	co->joiners = &j.w;
	int err;
	if (corun__wait(rt, CORUN__WAIT_JOIN, (uintptr_t)co, &err) != ID_JOINED) {
		errno = err; /* ETIMEDOUT, ECANCELED, EDEADLK: still joinable */
		return -1;
	}
	if (result) /* its end freed the slot and left the result with us */
		*result = j.result;
	return 0;
}

/* The budget ran out on the way in (wait.h): yield, then start again. */
static __attribute__((noinline, cold)) int join_yielding(corun_t h, void **result,
							 int64_t deadline)
{
	corun__budget_yield(corun__tls);
	return corun_join_until(h, result, deadline); /* not join: keep it inline */
}

int corun_join(corun_t h, void **result)
{
	return join(h, result, -1);
}

int corun_join_until(corun_t h, void **result, int64_t deadline)
{
	return join(h, result, deadline);
}

int corun_detach(corun_t h)
{
	struct corun__rt *rt = corun__tls;
	struct corun__slot *s = lookup(rt, h);
	if (!s)
		return -1;
	if (s->state == CORUN__SLOT_DONE) {
		corun__slot_free(&rt->handles, (uint32_t)(s - rt->handles.slots));
		return 0;
	}
	struct corun__co *co = s->u.co;
	if ((co->flags & CORUN__F_DETACHED) || co->joiners) {
		errno = EINVAL;
		return -1;
	}
	co->flags |= CORUN__F_DETACHED;
	return 0;
}

corun_t corun_self(void)
{
	struct corun__rt *rt = corun__tls;
	if (!rt || rt->current == &rt->main) {
		errno = EPERM;
		return -1;
	}
	return corun__handle_of(&rt->handles, rt->current->slot);
}

int64_t corun_id(corun_t h)
{
	struct corun__slot *s = lookup(corun__tls, h);
	return s ? (int64_t)s->serial : -1;
}

const char *corun_name(corun_t h)
{
	struct corun__slot *s = lookup(corun__tls, h);
	if (!s)
		return NULL;
	if (s->state != CORUN__SLOT_LIVE) {
		errno = ESRCH;
		return NULL;
	}
	return (s->u.co->flags & CORUN__F_NAMED) ? s->u.co->name : "";
}

size_t corun_count(void)
{
	struct corun__rt *rt = corun__tls;
	return rt ? rt->sched.live : 0;
}
