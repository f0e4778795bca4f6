/*
 * Which floating-point control state runs: the rule behind CORUN_FPCTL
 * (the switch itself is in sched.c, the registers in src/arch/).
 */
#ifndef CORUN_FPCTL_H
#define CORUN_FPCTL_H

#include "runtime.h"

/* The floating-point control state. A CORUN_FPCTL coroutine keeps its own
 * (co->fp while suspended); main and every other coroutine share main's,
 * as functions called from main would. So a switch between two sharers
 * touches nothing. For a switch into a CORUN_FPCTL coroutine to be undone
 * on the way back, main's own must be known whenever main is suspended:
 * while any CORUN_FPCTL coroutine lives, main is flagged like one, and its
 * state is saved when it leaves; the sharers' is then main.fp. */
static inline void corun__fpctl_join(struct corun__rt *rt)
{
	if (rt->sched.nfpctl++ == 0) {
		rt->main.fpctl = 1;
		/* Main is suspended or running; if suspended, whoever runs
		 * shares its state, so the state now is main's. */
		if (rt->current != &rt->main)
			rt->main.fp = corun__fpctl_get();
	}
}

static inline void corun__fpctl_leave(struct corun__rt *rt)
{
	if (--rt->sched.nfpctl == 0)
		rt->main.fpctl = 0; /* main.fp stays valid for the switch out */
}

#endif
