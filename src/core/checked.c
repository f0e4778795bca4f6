/*
 * Checked mode: the contract of a switch, verified on every one. Built only
 * with CORUN__CHECKED (CMake -DCORUN_CHECKED=ON); a runtime made while
 * CORUN_CHECK=1 is in the environment calls corun__check_switch before each
 * switch and corun__check_spawn at each spawn. On a breach it writes one
 * line to stderr,
 *     corun: checked: coroutine <id> "<name>" <what it broke>
 * ("main" for the thread's main context) and aborts. What it checks:
 *  - a coroutine without CORUN_FPCTL leaves with the floating-point control
 *    state main had when main last handed over to the scheduler (fpctl.h:
 *    it shares main's and must not change it);
 *  - the coroutine resumed has its saved stack pointer inside its stack,
 *    and the one leaving is running on its own stack;
 *  - the canary written at the low end of each stack at spawn is intact,
 *    for both: an overflow that skipped the guard page, or a stray write.
 */
#include "checked.h"
#include "runtime.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static uint64_t secret;
static pthread_once_t secret_once = PTHREAD_ONCE_INIT;

static void draw_secret(void)
{
	uint64_t s = 0;
	if (getrandom(&s, sizeof s, GRND_NONBLOCK) != (ssize_t)sizeof s) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		s = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^
		    ((uint64_t)getpid() << 16) ^ (uint64_t)(uintptr_t)&s;
	}
	secret = s;
}

void corun__checked_init(struct corun__checked *c)
{
	const char *v = getenv("CORUN_CHECK");
	c->on = v && strcmp(v, "1") == 0;
	if (c->on)
		pthread_once(&secret_once, draw_secret);
}

/* The canary of the stack whose lowest usable byte is lo: its address mixed
 * with the secret, so that neither zeros nor a copy of another stack's
 * bytes pass for it. */
static uint64_t canary_of(const char *lo)
{
	uint64_t x = ((uint64_t)(uintptr_t)lo ^ secret) * UINT64_C(0x9e3779b97f4a7c15);
	return x ^ (x >> 31) ^ UINT64_C(0x636f72756e636b64); /* "corunckd" */
}

void corun__check_spawn(struct corun__rt *rt, struct corun__co *co)
{
	(void)rt;
	uint64_t c = canary_of(co->stack.lo);
	memcpy(co->stack.lo, &c, sizeof c);
}

/* One line on stderr, then the end: who broke the contract, and how. */
__attribute__((noreturn, format(printf, 3, 4))) static void
breach(struct corun__rt *rt, const struct corun__co *co, const char *fmt, ...)
{
	char line[512];
	int n;
	if (co == &rt->main)
		n = snprintf(line, sizeof line, "corun: checked: main ");
	else
		n = snprintf(line, sizeof line, "corun: checked: coroutine %llu \"%s\" ",
			     (unsigned long long)rt->handles.slots[co->slot].serial,
			     (co->flags & CORUN__F_NAMED) ? co->name : "");
	va_list ap;
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof line - 2)
		n = (int)sizeof line - 2;
	line[n++] = '\n';
	ssize_t unused = write(STDERR_FILENO, line, (size_t)n);
	(void)unused;
	abort();
}

static int on_stack(const struct corun__co *co, const void *p)
{
	uintptr_t a = (uintptr_t)p, lo = (uintptr_t)co->stack.lo;
	return a >= lo && a - lo < co->stack.size;
}

static void check_canary(struct corun__rt *rt, const struct corun__co *co)
{
	uint64_t c;
	memcpy(&c, co->stack.lo, sizeof c);
	if (c != canary_of(co->stack.lo))
		breach(rt, co, "has a broken canary at the low end of its stack (%p): "
			       "overwritten by a stack overflow that skipped the guard page, or by a stray write",
		       (void *)co->stack.lo);
}

void corun__check_switch(struct corun__rt *rt, struct corun__co *cur,
			 struct corun__co *next)
{
	/* The one leaving. Main's state is what every coroutine without
	 * CORUN_FPCTL must leave with; main's own state is its business. */
	uint64_t fp = corun__fpctl_get();
	if (cur == &rt->main) {
		rt->checked.main_fp = fp;
	} else {
		void *sp = __builtin_frame_address(0);
		if (!on_stack(cur, sp))
			breach(rt, cur, "is running on %p, outside its stack [%p, %p)", sp,
			       (void *)cur->stack.lo, (void *)(cur->stack.lo + cur->stack.size));
		check_canary(rt, cur);
		if (!cur->fpctl && fp != rt->checked.main_fp)
			breach(rt, cur,
			       "changed the floating-point control state without CORUN_FPCTL "
			       "(0x%llx, main's 0x%llx)",
			       (unsigned long long)fp, (unsigned long long)rt->checked.main_fp);
	}
	/* The one resumed: main keeps its context on the thread's own stack. */
	if (next != &rt->main) {
		if (!on_stack(next, next->sp))
			breach(rt, next, "has a saved stack pointer %p outside its stack [%p, %p)",
			       next->sp, (void *)next->stack.lo,
			       (void *)(next->stack.lo + next->stack.size));
		check_canary(rt, next);
	}
}
