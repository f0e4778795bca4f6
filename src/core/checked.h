/*
 * Checked mode (checked.c): contract checks on every switch, compiled in
 * only with CORUN__CHECKED (CMake -DCORUN_CHECKED=ON) and run only when
 * CORUN_CHECK=1 was in the environment when the runtime was made
 * (rt->checked). Without CORUN__CHECKED nothing here is used, and the
 * scheduler's code is what it is without it.
 */
#ifndef CORUN_CHECKED_H
#define CORUN_CHECKED_H

#include "runtime.h"

#ifdef CORUN__CHECKED
/* Whether this runtime checks: reads CORUN_CHECK (at the runtime's
 * creation) and, the first time, draws the process's canary secret. */
int corun__check_enabled(void);

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
