/*
 * Statistics and stack use (stats.h).
 *
 * corun_stats reads counters that are there anyway wherever it can, so
 * that neither a park nor a spawn pays for it:
 *   spawned   the serials the thread drew since the runtime was made (each
 *             spawn draws one; handle.c closes the account of each block)
 *   live      rt->sched.live
 *   peak      rt->stats.peak, kept by the compare a spawn makes anyway for the
 *             ready ring (sched.h)
 *   switches  rt->sched.head, which counts dequeues and is never set back, plus
 *             the switches to main that dequeue nothing (rt->stats.to_main)
 *   waits     one add in corun__wait, the slow path of a blocking call,
 *             by reason (co.h), summed into the public kinds
 *   pool      misses are the stacks carved (the stack layer's slow path);
 *             hits are the rest of the stacks spawns took
 *   memory    the slabs' lengths, and mincore over them, at the call
 */
#include "stats.h"
#include "runtime.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

/* ---- mincore, a chunk at a time ---- */

#define VEC 4096 /* pages per mincore call: 16 MiB of 4 KiB pages */

/* The lowest resident page of [lo, lo + len) (both page-aligned) into
 * *low, NULL when none is. 0, or -1 with mincore's errno. */
static int lowest_resident(const char *lo, size_t len, size_t page, const char **low)
{
	unsigned char vec[VEC];
	for (size_t off = 0; off < len;) {
		size_t pages = (len - off) / page;
		if (pages > VEC)
			pages = VEC;
		if (mincore((void *)(lo + off), pages * page, vec) < 0)
			return -1;
		for (size_t i = 0; i < pages; i++)
			if (vec[i] & 1) {
				*low = lo + off + i * page;
				return 0;
			}
		off += pages * page;
	}
	*low = NULL;
	return 0;
}

/* Resident bytes of [lo, lo + len). Linux answers mincore for guard pages
 * too; qemu-user refuses a range that holds a PROT_NONE one (the mprotect
 * guards), so a refused range is asked again page by page, and a page
 * refused alone counts as not resident. */
static size_t resident(const char *lo, size_t len, size_t page)
{
	unsigned char vec[VEC];
	size_t n = 0;
	for (size_t off = 0; off < len;) {
		size_t pages = (len - off) / page;
		if (pages > VEC)
			pages = VEC;
		if (mincore((void *)(lo + off), pages * page, vec) == 0) {
			for (size_t i = 0; i < pages; i++)
				n += vec[i] & 1;
		} else {
			for (size_t i = 0; i < pages; i++)
				if (mincore((void *)(lo + off + i * page), page, vec) == 0)
					n += vec[0] & 1;
		}
		off += pages * page;
	}
	return n * page;
}

/* Bytes from the lowest resident page of a stack to its top; 0 when none
 * is resident. -1 (as size_t) with errno when mincore fails. In checked
 * mode the lowest page holds the canary (checked.c), resident whatever the
 * coroutine did: it is not looked at, so a coroutine that really reached
 * it is counted a page short. */
size_t corun__stack_used_of(const struct corun__rt *rt, const struct corun__stack *st,
			    const char **low)
{
	size_t page = rt->stacks.page, skip = 0;
#ifdef CORUN__CHECKED
	if (rt->checked.on)
		skip = page;
#endif
	if (lowest_resident(st->lo + skip, st->size - skip, page, low) < 0)
		return (size_t)-1;
	return *low ? (size_t)(st->lo + st->size - *low) : 0;
}

/* ---- corun_stats ---- */

void corun__stats_init(struct corun__stats *s)
{
	s->serial_mark = corun__serial_next; /* spawns count from here */
}

/* The public counter that counts waits for reason r. A switch with no
 * default: a reason added without its counter is a compiler warning. */
static uint64_t *public_count(struct corun_stats *v, enum corun__wait_reason r)
{
	switch (r) {
	case CORUN__WAIT_SLEEP:
	case CORUN__WAIT_FOREVER:
		return &v->waits_sleep;
	case CORUN__WAIT_CHAN_SEND:
	case CORUN__WAIT_CHAN_RECV:
	case CORUN__WAIT_SELECT:
		return &v->waits_chan;
	case CORUN__WAIT_JOIN:
	case CORUN__WAIT_TASK:
	case CORUN__WAIT_GROUP:
		return &v->waits_join;
	case CORUN__WAIT_WG:
	case CORUN__WAIT_MUTEX:
		return &v->waits_sync;
	case CORUN__WAIT_FD_READ:
	case CORUN__WAIT_FD_WRITE:
	case CORUN__WAIT_FD_EITHER:
		return &v->waits_fd;
	case CORUN__WAIT_BLOCKING:
		return &v->waits_blocking;
	case CORUN__WAIT_FILE:
		return &v->waits_file;
	case CORUN__WAIT_REASONS:
		break;
	}
	return NULL; /* not a reason */
}

/* The first version's size: every caller passes at least this. */
#define STATS_V1 (offsetof(struct corun_stats, stack_bytes_resident) + sizeof(uint64_t))

int corun_stats(struct corun_stats *out)
{
	if (!out || out->size < STATS_V1) {
		errno = EINVAL;
		return -1;
	}
	struct corun_stats v;
	memset(&v, 0, sizeof v);
	struct corun__rt *rt = corun__tls;
	if (rt) {
		v.spawned = rt->stats.spawned_base + (corun__serial_next - rt->stats.serial_mark);
		v.live = rt->sched.live;
		v.peak_live = rt->stats.peak;
		v.switches = rt->sched.head + rt->stats.to_main;
		for (int r = 0; r < CORUN__WAIT_REASONS; r++)
			*public_count(&v, (enum corun__wait_reason)r) += rt->stats.waits[r];
		const struct corun__stacks *s = &rt->stacks;
		for (const struct corun__stack_class *c = s->classes; c; c = c->next)
			v.stacks_pooled += c->nfree;
		v.pool_misses = s->carved;
		v.pool_hits = v.spawned + rt->stats.unwound - s->carved;
		v.stacks_purged = s->purged;
		v.remote_wakes = rt->remote.delivered;
		v.wake_writes = atomic_load_explicit(&rt->remote.kicks, memory_order_relaxed);
		v.io_backend = rt->stats.io_backend;
		v.io_enters = rt->stats.io_enters;
		for (size_t i = 0; i < s->nslabs; i++) {
			v.stack_bytes_reserved += s->slabs[i].len;
			v.stack_bytes_resident +=
				resident(s->slabs[i].base, s->slabs[i].len, s->page);
		}
	}
	size_t size = out->size;
	v.size = size;
	memcpy(out, &v, size < sizeof v ? size : sizeof v);
	if (size > sizeof v) /* a newer caller: fields this version lacks read 0 */
		memset((char *)out + sizeof v, 0, size - sizeof v);
	return 0;
}

/* ---- corun_stack_used ---- */

size_t corun_stack_used(corun_t h)
{
	struct corun__rt *rt = corun__tls;
	struct corun__co *co;
	if (h == 0) {
		if (!rt || rt->current == &rt->main) {
			errno = EPERM;
			return 0;
		}
		co = rt->current;
	} else {
		struct corun__slot *s = rt ? corun__slot_get(&rt->handles, h) : NULL;
		if (!s || s->state != CORUN__SLOT_LIVE) {
			errno = ESRCH;
			return 0;
		}
		co = s->u.co;
	}
	const char *low;
	size_t used = corun__stack_used_of(rt, &co->stack, &low);
	return used == (size_t)-1 ? 0 : used;
}
