/*
 * The per-thread runtime: coroutine records, the ready queue, the handle
 * table and the stack pool. Internal; nothing here is exported.
 *
 * Scheduling is symmetric: a coroutine that parks switches straight to the
 * next ready one, one switch per park. The thread's main context is a record
 * like the others (rt->main, without a stack of its own); inside corun_run it
 * waits, and is switched to only when no coroutine is ready. So whenever a
 * coroutine ends or blocks and the queue is empty, main is the one to resume:
 * it is then either done (nothing left) or stuck (everything blocked).
 */
#ifndef CORUN_RUNTIME_H
#define CORUN_RUNTIME_H

#include "corun.h"
#include "../arch/switch.h"
#include "../stack/stack.h"
#include "tooling.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* An invariant broken inside corun: never compiled out, no side effects. */
#define CORUN__ASSERT(cond)                                                   \
	do {                                                                  \
		if (__builtin_expect(!(cond), 0))                             \
			corun__panic(__FILE__, __LINE__, #cond);              \
	} while (0)
_Noreturn void corun__panic(const char *file, int line, const char *what);

/* Fewer coroutines than this fit in cache: no prefetching. */
#define CORUN__PREFETCH_MIN 64

/* Cache colours for records: see corun_go_attr. */
#define CORUN__COLORS 32

/* The seed had Ready and Running; here they are one state, since which of
 * the runnable ones runs is rt->current's business: a park then writes no
 * state at all (the two byte stores it saves were ~0.7 ns of a 3.8 ns park). */
enum corun__state {
	CORUN__RUNNABLE = 1, /* in the ready queue, or rt->current */
	CORUN__BLOCKED,      /* waiting for something that will make it ready */
	CORUN__ENDED,        /* fn returned; its stack is about to be reused */
};

/* corun__co.flags */
#define CORUN__F_DETACHED 0x1u /* CORUN_DETACHED */
#define CORUN__F_NAMED 0x2u    /* name[] holds its name */
#define CORUN__F_CANCELED 0x4u /* corun_cancel: every blocking call fails */
#define CORUN__F_ARMED 0x8u    /* armed (line 2) is valid: it waits, or will */

struct corun__waiter;
struct corun__timer;

/*
 * A coroutine record. It lives at the top of the coroutine's own stack, so a
 * park touches one cache line per coroutine for the record and the lines of
 * saved registers right below it. The first cache line holds everything a
 * spawn writes and a park or an end reads; the second, what only waits,
 * names and CORUN_FPCTL use, so a plain spawn writes one line, not two.
 */
struct corun__co {
	/* line 1 */
	void *sp;                 /* saved context while not running */
	uint8_t state;            /* enum corun__state */
	uint8_t fpctl;            /* keeps its own FP control state (CORUN_FPCTL) */
	uint8_t flags;            /* CORUN__F_* */
	uint32_t slot;            /* index in the handle table */
	struct corun__waiter *joiners; /* waiting in corun_join for us (wait.h) */
	corun_fn fn;
	void *arg;
	struct corun__stack stack;
	/* line 2: waiting (wait.c) */
	struct corun__waiter *armed; /* with F_ARMED: what it waits on; first wins */
	int wake_id;              /* which of them fired (its id), or -1 */
	int wake_err;             /* why: 0, or ETIMEDOUT, ECANCELED, EPIPE... */
	uint64_t fp;              /* its FP control state while suspended */
	char name[CORUN_NAME_MAX];
#ifdef CORUN__ASAN
	void *asan_fake;          /* its fake stack while suspended (tooling.c) */
#endif
#ifdef CORUN__TSAN
	void *tsan_fiber;
#endif
} __attribute__((aligned(64)));

_Static_assert(__builtin_offsetof(struct corun__co, armed) <= 64,
	       "what a spawn writes must fit in the record's first cache line");

/* Handle table (handle.c). A slot outlives its coroutine while the result
 * waits for a join, so results never live on a stack that was reused. */
enum { CORUN__SLOT_FREE, CORUN__SLOT_LIVE, CORUN__SLOT_DONE };

struct corun__slot {
	uint64_t serial; /* of the coroutine in it: the handle's upper bits */
	union {
		struct corun__co *co; /* LIVE */
		void *result;         /* DONE */
		uint32_t next_free;   /* FREE */
	} u;
	uint8_t state;
};

struct corun__handles {
	struct corun__slot *slots;
	uint32_t n, cap;   /* slots ever used; allocated */
	uint32_t free_head; /* free slots, most recently freed first */
	uint32_t used;     /* LIVE + DONE */
	uint32_t limit;    /* most slots at once */
};

#define CORUN__SLOT_BITS 24
#define CORUN__SLOT_MASK ((1u << CORUN__SLOT_BITS) - 1)
#define CORUN__SLOTS_MAX CORUN__SLOT_MASK
#define CORUN__SERIAL_MASK ((UINT64_C(1) << (63 - CORUN__SLOT_BITS)) - 1)
#define CORUN__NONE UINT32_MAX

void corun__handles_init(struct corun__handles *t);
void corun__handles_fini(struct corun__handles *t);

/* Serials: this thread's block of the process-wide counter (handle.c).
 * One declaration each: an attribute after a list of declarators applies
 * to the last one only, and the other then went through __tls_get_addr. */
#define CORUN__IE __attribute__((tls_model("initial-exec")))
extern __thread uint64_t corun__serial_next CORUN__IE;
extern __thread uint64_t corun__serial_end CORUN__IE;
uint64_t corun__serial_refill(void);

static inline uint64_t corun__serial(void)
{
	if (__builtin_expect(corun__serial_next == corun__serial_end, 0))
		return corun__serial_refill();
	return corun__serial_next++ & CORUN__SERIAL_MASK;
}

/* A fresh slot (state still FREE, for the caller to fill), or NULL with
 * errno ENOMEM or EAGAIN. Reusing the most recently freed slot is inline;
 * growing the table is not. */
struct corun__slot *corun__slot_new_slow(struct corun__handles *t, uint32_t *idx);

static inline struct corun__slot *corun__slot_new(struct corun__handles *t, uint32_t *idx)
{
	uint32_t i = t->free_head;
	if (__builtin_expect(i == CORUN__NONE || t->used >= t->limit, 0))
		return corun__slot_new_slow(t, idx);
	struct corun__slot *s = &t->slots[i];
	t->free_head = s->u.next_free;
	t->used++;
	s->serial = corun__serial();
	*idx = i;
	return s;
}

__attribute__((always_inline)) static inline void corun__slot_free(struct corun__handles *t,
								   uint32_t idx)
{
	struct corun__slot *s = &t->slots[idx];
	CORUN__ASSERT(s->state != CORUN__SLOT_FREE);
	s->state = CORUN__SLOT_FREE; /* every handle to it is stale now */
	s->u.next_free = t->free_head;
	t->free_head = idx;
	t->used--;
}

static inline corun_t corun__handle_of(const struct corun__handles *t, uint32_t idx)
{
	return (corun_t)((t->slots[idx].serial << CORUN__SLOT_BITS) | idx);
}

/* The slot h names, or NULL (stale, foreign, invalid). Reads the table
 * only: never memory a stale handle's coroutine may have given back. */
static inline struct corun__slot *corun__slot_get(struct corun__handles *t, corun_t h)
{
	if (h <= 0)
		return NULL;
	uint64_t v = (uint64_t)h;
	uint32_t idx = v & CORUN__SLOT_MASK;
	if (idx >= t->n)
		return NULL;
	struct corun__slot *s = &t->slots[idx];
	if (s->state == CORUN__SLOT_FREE || s->serial != v >> CORUN__SLOT_BITS)
		return NULL;
	return s;
}

/*
 * The ready queue is a ring of pointers, not a list through the records:
 * rotating it (the parker to the back, the next one out of the front) is
 * a few stores with no branch and no write to the parker's record, and
 * looking ahead for prefetching reads the ring, not a cold record. It is
 * kept large enough for every coroutine plus main (corun__ready_reserve at
 * spawn), so making one ready never fails. head and tail run free; the
 * ring index is their value masked.
 */
struct corun__rt {
	struct corun__co *current;
	struct corun__co **ring;
	size_t mask;            /* ring size - 1 (a power of two), or 0 */
	size_t head, tail;
	struct corun__co *dead; /* ended; its stack is still under our feet */
	size_t live;            /* spawned and not ended */
	unsigned color;         /* where the last record went (coroutine.c) */
	struct corun__handles handles;
	struct corun__stacks stacks;
	unsigned tick;          /* events until the next upkeep (upkeep.c) */
	int64_t epoch_end;      /* when the pool's epoch ends (coarse ns) */
	size_t nfpctl;          /* live CORUN_FPCTL coroutines */
	void *altstack;         /* our alternate signal stack, if we made it */
	/* waiting (wait.c, time.c) */
	struct corun__timer **heap; /* armed deadlines, a 4-ary min-heap */
	size_t ntimers, heapcap;
	uint64_t timer_seq;     /* arming order, for FIFO among equal deadlines */
	int epfd;               /* the idle step blocks here; -1 until needed */
	uint8_t main_woken;     /* main's wait has fired */
	uint64_t id;            /* unique in the process: channels and sync
				 * objects remember the runtime they belong to */
	uint64_t rand;          /* select's choice among ready clauses */
#ifdef CORUN__ASAN
	const void *asan_main_bottom; /* the main context's stack (tooling.c) */
	size_t asan_main_size;
	struct corun__co *asan_from;  /* who switched last */
#endif
	struct corun__co main;  /* the thread's own context (keeps its FP state) */
};

/* The calling thread's runtime, or NULL. initial-exec: one %fs-relative
 * load, no __tls_get_addr call, even in the shared library. */
extern __thread struct corun__rt *corun__tls
	__attribute__((tls_model("initial-exec")));

/* runtime.c */
struct corun__rt *corun__rt_get(void); /* creates; NULL + ENOMEM */

/* Give the stack of the coroutine that ended last back to the pool, once
 * we are surely off it. */
static inline void corun__reap(struct corun__rt *rt)
{
	struct corun__co *dead = rt->dead;
	if (dead) {
		rt->dead = NULL;
		corun__tool_dead(rt, dead);
		corun__stack_put(&dead->stack);
	}
}

/* upkeep.c: the runtime gives back memory it has not used for a while.
 * Every spawn and every time main starts driving the scheduler counts one
 * event; every CORUN__TICK_EVERY events (or at the very next one while a
 * batch of stacks waits to be given back) it reads the coarse clock, ends
 * the pool's epoch if the decay interval has passed (shrinking the handle
 * table and the ready ring too, when they are mostly empty), and gives
 * back at most CORUN__PURGE_BATCH stacks. */
#define CORUN__TICK_EVERY 64
#define CORUN__PURGE_BATCH 1024
#define CORUN__DECAY_DEFAULT ((int64_t)10 * 1000 * 1000 * 1000)
void corun__upkeep(struct corun__rt *rt);
static inline void corun__tick(struct corun__rt *rt)
{
	if (__builtin_expect(--rt->tick == 0, 0))
		corun__upkeep(rt);
}

/* Give the tables back what a burst grew them to, when they are mostly
 * empty now: the handle table down to its highest slot in use (handle.c),
 * the ring down to twice what the live coroutines need (sched.c). */
void corun__handles_shrink(struct corun__handles *t);
void corun__ready_shrink(struct corun__rt *rt);

/* The floating-point control state. A CORUN_FPCTL coroutine keeps its own
 * (co->fp while suspended); main and every other coroutine share main's,
 * as functions called from main would. So a switch between two sharers
 * touches nothing. For a switch into a CORUN_FPCTL coroutine to be undone
 * on the way back, main's own must be known whenever main is suspended:
 * while any CORUN_FPCTL coroutine lives, main is flagged like one, and its
 * state is saved when it leaves; the sharers' is then main.fp. */
static inline void corun__fpctl_join(struct corun__rt *rt)
{
	if (rt->nfpctl++ == 0) {
		rt->main.fpctl = 1;
		/* Main is suspended or running; if suspended, whoever runs
		 * shares its state, so the state now is main's. */
		if (rt->current != &rt->main)
			rt->main.fp = corun__fpctl_get();
	}
}

static inline void corun__fpctl_leave(struct corun__rt *rt)
{
	if (--rt->nfpctl == 0)
		rt->main.fpctl = 0; /* main.fp stays valid for the switch out */
}

/* overflow.c: the SIGSEGV/SIGBUS handler (once per process) and this
 * thread's alternate signal stack. */
void corun__overflow_init(struct corun__rt *rt);
void corun__overflow_fini(struct corun__rt *rt);

/* sched.c */
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

/* Make room in the ready queue for n at once. 0, or -1 with ENOMEM. */
int corun__ready_reserve(struct corun__rt *rt, size_t n);

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
