/*
 * Stacks: reserve, guard, pool and release. Knows nothing of coroutines.
 *
 * Stacks of one size are carved from large slabs (one mmap each, reserved
 * with MAP_NORESERVE so only touched pages cost memory). Each stack slot is
 * [guard][stack_size usable bytes]; the guard is installed when the slot is
 * first carved and stays for the slab's life, so reusing a pooled stack
 * costs no system call. Slabs grow geometrically, so a million stacks take a
 * few thousand mappings, not a million.
 */
#ifndef CORUN_STACK_H
#define CORUN_STACK_H

#include <stddef.h>

/*
 * The guard below each stack: CORUN__GUARD_SIZE(page) bytes, whole pages.
 * Code compiled with -fstack-clash-protection probes a large frame at
 * intervals that assume a guard of at least some size, and leaves a frame
 * below that size unprobed: one 4 KiB page on x86_64 and RISC-V, but
 * 64 KiB on AArch64, where GCC's default
 * (--param=stack-clash-protection-guard-size=16) lets a frame of almost
 * 64 KiB skip probes, so a one-page guard would let it land in the stack
 * below. The larger guard costs address space only: MADV_GUARD_INSTALL
 * markers take no mapping, and an mprotect guard is one mapping whatever
 * its length.
 */
#if defined(__aarch64__)
#define CORUN__GUARD_MIN ((size_t)64 << 10)
#else
#define CORUN__GUARD_MIN ((size_t)0)
#endif
#define CORUN__GUARD_SIZE(page) ((page) > CORUN__GUARD_MIN ? (page) : CORUN__GUARD_MIN)

struct corun__stack_class;

/* A stack handed out: usable bytes are [lo, lo + size); the guard lies just
 * below lo. `cls` is where it goes back to. */
struct corun__stack {
	char *lo;
	size_t size;
	struct corun__stack_class *cls;
};

/*
 * Freed stacks of one size wait in a pool, newest on top, so a spawn after
 * an end takes a stack whose pages are still resident. Memory goes back to
 * the kernel by age, not by count (jemalloc's decay is the model): time is
 * cut into epochs of the decay interval, and a stack that stayed in the pool
 * through a whole epoch (below the pool's low-water mark for that epoch) is
 * given back at its end, so an idle stack keeps its pages between one and
 * two intervals. Giving back happens in corun__stacks_purge, a bounded
 * batch at a time, adjacent stacks coalesced into one madvise, never in
 * corun__stack_get or corun__stack_put. Free stacks are listed in an array,
 * not linked through themselves, so a stack given back is never touched.
 *
 *   free[0 .. ntrimmed)      given back: no pages
 *   free[ntrimmed .. cold)   idle for an epoch: to be given back soon
 *   free[cold .. nfree)      warm; the fast path takes only these
 */
struct corun__stack_class {
	struct corun__stack_class *next;
	size_t size;     /* usable bytes per stack (page multiple) */
	char **free;     /* free stacks' lo, oldest first */
	size_t nfree, cap;
	size_t cold;     /* free[0 .. cold) are cold or condemned (above) */
	size_t ntrimmed; /* free[0 .. ntrimmed) have been given back */
	size_t low;      /* the least nfree since this epoch began */
	size_t fresh;    /* given back since idle slabs were last looked for */
	char *carve;     /* next uncarved slot in its newest slab, or NULL */
	size_t slab;     /* that slab's index in corun__stacks.slabs */
	size_t left;     /* uncarved slots in the newest slab */
	size_t next_slots; /* slots in the next slab (grows geometrically) */
};

struct corun__slab {
	void *base;
	size_t len;
	size_t stack_size; /* of its stacks; each slot is a guard and one */
	size_t maps;       /* kernel mappings it may count for (maps.c) */
};

struct corun__vg_stack {
	char *lo;
	unsigned id;
};

struct corun__stacks {
	size_t page;
	size_t guard; /* CORUN__GUARD_SIZE(page) */
	struct corun__stack_class *classes; /* a list: programs use one or two */
	struct corun__stack_class *last;    /* the one used last */
	struct corun__slab *slabs;
	size_t nslabs, slabcap;
	struct corun__vg_stack *vg; /* stacks registered with valgrind, if on it */
	size_t nvg, vgcap;
	int on_valgrind;  /* running under valgrind: see corun__stack_reuse */
	int pending;      /* condemned stacks wait to be given back */
	size_t purged;    /* stacks given back, ever (for tests and benches) */
	size_t carved;    /* stacks carved from a slab, ever (corun_stats) */
	size_t purge_calls; /* madvise calls that gave them back */
	size_t released;  /* slabs unmapped because all their stacks were idle */
};

/* A stack is being handed out again, and [from, lo + size) is about to be
 * written by a context that is not running on it. Under memcheck, memory
 * that an earlier coroutine's returning frames left below its stack
 * pointer counts as dead; make it plain undefined memory again. One
 * predictable branch when not under valgrind. */
void corun__stack_reuse_vg(const struct corun__stack *st, const char *from);
static inline void corun__stack_reuse(const struct corun__stacks *s,
				      const struct corun__stack *st, const char *from)
{
	if (__builtin_expect(s->on_valgrind, 0))
		corun__stack_reuse_vg(st, from);
}

void corun__stacks_init(struct corun__stacks *s);

/* Unmap every slab and free the bookkeeping. Stacks still handed out die
 * with it. */
void corun__stacks_fini(struct corun__stacks *s);

/* Round a requested size up to whole pages. The caller checks the limits. */
static inline size_t corun__stack_round(const struct corun__stacks *s, size_t size)
{
	return (size + s->page - 1) & ~(s->page - 1);
}

/* Out-of-line halves of the two below. */
int corun__stack_get_slow(struct corun__stacks *s, size_t size, struct corun__stack *out);
void corun__stack_put_slow(const struct corun__stack *st);

/* Get a stack of `size` bytes (already rounded). 0, or -1 with errno ENOMEM
 * (no memory, no address space, or the kernel's map limit). The common case,
 * a warm pooled stack of the size used last, is inline: a few loads, and the
 * low-water mark that tells idle stacks from busy ones. */
static inline int corun__stack_get(struct corun__stacks *s, size_t size,
				   struct corun__stack *out)
{
	struct corun__stack_class *c = s->last;
	if (__builtin_expect(c && c->size == size && c->nfree > c->cold, 1)) {
		out->lo = c->free[--c->nfree]; /* newest first: warm */
		out->size = size;
		out->cls = c;
		if (c->nfree < c->low)
			c->low = c->nfree;
		return 0;
	}
	return corun__stack_get_slow(s, size, out);
}

/* The stack that the get after next of this size would hand out, if the
 * pool has it warm; NULL otherwise. Lets a caller fetch ahead what it will
 * write there (a burst of spawns on cold stacks). */
static inline const char *corun__stack_peek2(const struct corun__stacks *s, size_t size)
{
	const struct corun__stack_class *c = s->last;
	if (c && c->size == size && c->nfree > c->cold + 2)
		return c->free[c->nfree - 2];
	return NULL;
}

/* Give a stack back to the pool if that needs no memory: it then only
 * writes the pool's own array, never the stack, so even the coroutine
 * running on it may do it just before it leaves for good. 1 if done; 0 if
 * the caller must use corun__stack_put instead, from another stack. */
static inline int corun__stack_put_fast(const struct corun__stack *st)
{
	struct corun__stack_class *c = st->cls;
	if (__builtin_expect(c->nfree < c->cap, 1)) {
		c->free[c->nfree++] = st->lo;
		return 1;
	}
	return 0;
}

/* Give a stack back to the pool; it may allocate. Never from the stack
 * itself: callers defer that case (see the runtime's `dead`). */
static inline void corun__stack_put(const struct corun__stack *st)
{
	if (!corun__stack_put_fast(st))
		corun__stack_put_slow(st);
}

/* Pool upkeep (decay.c), driven by the runtime. End an epoch: condemn
 * what stayed idle through it (below its low-water mark) and start the next.
 * Purge: give back at most `budget` condemned stacks; 1 if more wait. Trim:
 * give back every pooled stack now. Each sorts the stacks it gives back, so
 * that neighbours in a slab go in one madvise. When a purge finishes, and
 * at every trim, a slab whose stacks have all been given back is unmapped
 * outright: its page tables, its address space and its kernel mappings go
 * back too, and the pool forgets its stacks. */
void corun__stacks_epoch(struct corun__stacks *s);
int corun__stacks_purge(struct corun__stacks *s, size_t budget);
void corun__stacks_trim(struct corun__stacks *s);

/* Unmap slab k (none of its stacks in use or pooled any more) and drop it
 * from the list (stack.c; decay.c decides which). */
void corun__slab_forget(struct corun__stacks *s, size_t k);

/* The kernel's map limit (maps.c). Reserve n mappings before making them:
 * 0, or -1 with errno ENOMEM when that would leave less than a margin of
 * vm.max_map_count for the rest of the process. Release gives them back. */
int corun__maps_reserve(size_t n);
void corun__maps_release(size_t n);
size_t corun__maps_budget(void);

/* Whether addr lies in the guard of one of this pool's stack slots,
 * whether its stack is in use or not: if so, 1, with *lo the lowest usable
 * address of the stack above that guard and *size its usable bytes. Reads
 * the slab list only, so a signal handler may ask. */
int corun__stack_guard_of(const struct corun__stacks *s, const void *addr, char **lo,
			  size_t *size);

/* Guards (guard.c). */
enum corun__guard_kind { CORUN__GUARD_MADVISE = 1, CORUN__GUARD_MPROTECT = 2 };

/* Which kind this process uses: decided once, by installing a guard with
 * MADV_GUARD_INSTALL and checking that the kernel really refuses to read it
 * (qemu-user accepts the call and installs nothing); mprotect otherwise. The
 * environment variable CORUN_GUARD=mprotect forces the fallback. */
enum corun__guard_kind corun__guard_kind(void);

/* Make [lo, lo + len) (whole pages) fault on any access. 0, or -1 with
 * errno. */
int corun__guard_install(void *lo, size_t len);

#endif
