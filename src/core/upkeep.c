/*
 * Upkeep: what the runtime gives back when it has not needed it for a
 * while. Stacks go back by age (the pool's epochs, src/stack/decay.c); the
 * handle table and the ready ring, which a burst may have grown to millions
 * of entries, shrink at the end of an epoch when they are mostly empty.
 * Nothing here runs on a fast path: corun__tick is a decrement and a branch.
 */
#include "upkeep.h"
#include "runtime.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>

/* Process-wide, read at every upkeep. */
static _Atomic int64_t decay_ns = CORUN__DECAY_DEFAULT;

int corun_set_stack_decay(int64_t ns)
{
	if (ns < -1) {
		errno = EINVAL;
		return -1;
	}
	atomic_store_explicit(&decay_ns, ns, memory_order_relaxed);
	return 0;
}

void corun__upkeep_init(struct corun__upkeep *u)
{
	u->tick = CORUN__TICK_EVERY;
}

static void shrink_tables(struct corun__rt *rt)
{
	corun__handles_shrink(&rt->handles);
	corun__ready_shrink(rt);
}

void corun__upkeep(struct corun__rt *rt)
{
	int64_t decay = atomic_load_explicit(&decay_ns, memory_order_relaxed);
	rt->upkeep.tick = CORUN__TICK_EVERY;
	if (decay >= 0) {
		int64_t now = corun__coarse_now(); /* read once per CORUN__TICK_EVERY events */
		int64_t end = decay > INT64_MAX - now ? INT64_MAX : now + decay;
		if (rt->upkeep.epoch_end > end)
			rt->upkeep.epoch_end = end; /* the interval was shortened */
		if (now >= rt->upkeep.epoch_end) {
			corun__stacks_epoch(&rt->stacks);
			if (rt->upkeep.epoch_end) /* not at the first look */
				shrink_tables(rt);
			rt->upkeep.epoch_end = end;
		}
	}
	if (corun__stacks_purge(&rt->stacks, CORUN__PURGE_BATCH))
		rt->upkeep.tick = 1; /* more wait: go on at the next event */
}

int corun_trim(void)
{
	struct corun__rt *rt = corun__tls;
	if (!rt)
		return 0;
	corun__stacks_trim(&rt->stacks);
	shrink_tables(rt);
	return 0;
}
