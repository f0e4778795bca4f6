/*
 * Upkeep (upkeep.c): memory the runtime has not needed for a while goes
 * back, driven from spawn and from main's drive loop.
 */
#ifndef CORUN_UPKEEP_H
#define CORUN_UPKEEP_H

#include <stdint.h>

struct corun__rt;

/* The runtime's part. */
struct corun__upkeep {
	unsigned tick;          /* events until the next upkeep */
	int64_t epoch_end;      /* when the pool's epoch ends (coarse ns) */
};

/* The runtime gives back memory it has not used for a while.
 * Every spawn and every time main starts driving the scheduler counts one
 * event; every CORUN__TICK_EVERY events (or at the very next one while a
 * batch of stacks waits to be given back) it reads the coarse clock, ends
 * the pool's epoch if the decay interval has passed (shrinking the handle
 * table and the ready ring too, when they are mostly empty), and gives
 * back at most CORUN__PURGE_BATCH stacks. */
#define CORUN__TICK_EVERY 64
#define CORUN__PURGE_BATCH 1024
#define CORUN__DECAY_DEFAULT ((int64_t)10 * 1000 * 1000 * 1000)
void corun__upkeep_init(struct corun__upkeep *u);
void corun__upkeep(struct corun__rt *rt);
/* Count one event: 1 when upkeep is due (the caller calls corun__upkeep). */
static inline int corun__tick(struct corun__upkeep *u)
{
	return __builtin_expect(--u->tick == 0, 0);
}

#endif
