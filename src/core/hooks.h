/*
 * The sanitizer hooks (hooks.c): what lets AddressSanitizer,
 * ThreadSanitizer and valgrind see through corun's stack switches. In an
 * ordinary build every one of them compiles to nothing, and the switch
 * stays a tail call.
 *
 * ASan: every switch is bracketed by __sanitizer_start_switch_fiber (on the
 * side that leaves, naming the stack it goes to) and
 * __sanitizer_finish_switch_fiber (on the side that arrives), so ASan knows
 * which stack is current: no false "stack overflow", no missed bugs, and
 * fake stacks for use-after-return stay per coroutine. A reused stack is
 * unpoisoned first: frames that never returned (a coroutine's entry never
 * does) leave their redzones behind.
 * TSan: one fiber per coroutine, switched to before every switch.
 * valgrind: the stack layer registers each stack once, when its slot is
 * carved (see stack.c), so spawning costs nothing extra there.
 */
#ifndef CORUN_HOOKS_H
#define CORUN_HOOKS_H

#include "../sanitizer.h"

#if defined(CORUN__ASAN) || defined(CORUN__TSAN)
#define CORUN__TOOLED 1 /* switches are not tail calls: work follows them */
#else
#define CORUN__TOOLED 0
#endif

/* Under TSan an ended coroutine's fiber must be destroyed from another
 * context, so its end always goes through corun__ctx_exit (sched.c). */
#ifdef CORUN__TSAN
#define CORUN__TOOL_DEFER_END 1
#else
#define CORUN__TOOL_DEFER_END 0
#endif

#include <stddef.h>

#ifdef CORUN__ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef CORUN__TSAN
#include <sanitizer/tsan_interface.h>
#endif

struct corun__rt;
struct corun__co;

struct corun__stack;

#ifdef CORUN__ASAN
/* The runtime's part, in ASan builds only: what the fiber switches need. */
struct corun__hooks {
	const void *main_bottom; /* the main context's stack */
	size_t main_size;
	struct corun__co *from;  /* who switched last */
};
#endif

/* A coroutine whose record will be `co` is being made on stack `st`, which
 * may have been used before. Called before the record is written. */
void corun__hook_spawn(struct corun__rt *rt, struct corun__co *co,
		       const struct corun__stack *st);
/* A coroutine's context is gone for good (its stack is being pooled). */
void corun__hook_dead(struct corun__rt *rt, struct corun__co *co);
/* The runtime was just created, in the thread's main context. */
void corun__hook_init(struct corun__rt *rt);
/* TSan's fiber switch must come right before the context switch: even the
 * return of an instrumented function in between would run on the new
 * fiber's shadow stack and corrupt it. */
#ifdef CORUN__TSAN
#define CORUN__TOOL_SWITCH_FIBER(next) __tsan_switch_to_fiber((next)->tsan_fiber, 0)
#else
#define CORUN__TOOL_SWITCH_FIBER(next) ((void)0)
#endif

/* Around a switch from cur to next: before leaves cur; after runs in cur
 * when it is resumed (or, for a fresh coroutine, first thing in it). */
void corun__hook_before(struct corun__rt *rt, struct corun__co *cur, struct corun__co *next);
void corun__hook_after(struct corun__rt *rt, struct corun__co *cur);

#endif
