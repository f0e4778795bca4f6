/*
 * Checked mode (checked.c): contract checks on every switch, compiled in
 * only with CORUN__CHECKED (CMake -DCORUN_CHECKED=ON) and run only when
 * CORUN_CHECK=1 was in the environment when the runtime was made
 * (rt->checked.on). Without CORUN__CHECKED nothing here is used, and the
 * scheduler's code is what it is without it.
 */
#ifndef CORUN_CHECKED_H
#define CORUN_CHECKED_H

#include <stdint.h>

struct corun__rt;
struct corun__co;

#ifdef CORUN__CHECKED
/* The runtime's part: last in it, so that no other field moves. */
struct corun__checked {
	int on;                 /* CORUN_CHECK=1 when the runtime was made */
	uint64_t main_fp;       /* main's FP control state when it last left */
};

/* Whether this runtime checks: reads CORUN_CHECK (at the runtime's
 * creation) and, the first time, draws the process's canary secret. */
void corun__checked_init(struct corun__checked *c);

/* At spawn: write the canary at the low end of co's stack. */
void corun__check_spawn(struct corun__rt *rt, struct corun__co *co);

/* Before cur switches to next: check the contract for both; on a breach,
 * one line on stderr naming the coroutine, then abort(). Cold, so that the
 * switch's path without checks stays as it is laid out. */
__attribute__((cold)) void corun__check_switch(struct corun__rt *rt,
					       struct corun__co *cur,
					       struct corun__co *next);
#endif

#endif
