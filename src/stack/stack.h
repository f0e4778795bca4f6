/*
 * Stacks: reserve, guard, pool and release. Knows nothing of coroutines.
 *
 * Stacks of one size are carved from large slabs (one mmap each, reserved
 * with MAP_NORESERVE so only touched pages cost memory). Each stack slot is
 * [guard page][stack_size usable bytes]; the guard is installed when the slot
 * is first carved and stays for the slab's life, so reusing a pooled stack
 * costs no system call. Slabs grow geometrically, so a million stacks take a
 * few thousand mappings, not a million.
 */
#ifndef CORUN_STACK_H
#define CORUN_STACK_H

#include <stddef.h>

struct corun__stack_class;

/* A stack handed out: usable bytes are [lo, lo + size); the guard page lies
 * just below lo. `cls` is where it goes back to. */
struct corun__stack {
	char *lo;
	size_t size;
	struct corun__stack_class *cls;
};

/* Freed stacks of one size. The newest ones keep their pages, so a spawn
 * after an end reuses a warm stack; older ones are given back to the kernel
 * (MADV_DONTNEED), so a burst of deep coroutines does not pin memory. "Hot"
 * is the larger of CORUN__POOL_HOT stacks and CORUN__POOL_HOT_BYTES of
 * stack; trimming starts when twice that many are warm and brings them back
 * down to it, so a working set that hovers near the bound does not pay a
 * system call and a refault per spawn. Free stacks are listed in an array,
 * not linked through themselves, so a trimmed stack is never touched. */
#define CORUN__POOL_HOT 64
#define CORUN__POOL_HOT_BYTES ((size_t)16 << 20)

struct corun__stack_class {
	struct corun__stack_class *next;
	size_t size;   /* usable bytes per stack (page multiple) */
	char **free;   /* free stacks' lo, oldest first */
	size_t nfree, cap;
	size_t ntrimmed; /* free[0 .. ntrimmed) have been given back */
	size_t hot;      /* warm free stacks kept (see above) */
	char *carve;     /* next uncarved slot in the newest slab, or NULL */
	size_t left;     /* uncarved slots in the newest slab */
	size_t next_slots; /* slots in the next slab (grows geometrically) */
};

struct corun__slab {
	void *base;
	size_t len;
	size_t stack_size; /* of its stacks; each slot is a guard page and one */
};

struct corun__stacks {
	size_t page;
	struct corun__stack_class *classes; /* a list: programs use one or two */
	struct corun__stack_class *last;    /* the one used last */
	struct corun__slab *slabs;
	size_t nslabs, slabcap;
	unsigned *vg_ids; /* valgrind's ids of the stacks carved (valgrind builds) */
	size_t nvg, vgcap;
	int on_valgrind;  /* running under valgrind: see corun__stack_reuse */
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
 * a pooled stack of the size used last, is inline: spawning is a few loads. */
static inline int corun__stack_get(struct corun__stacks *s, size_t size,
				   struct corun__stack *out)
{
	struct corun__stack_class *c = s->last;
	if (__builtin_expect(c && c->size == size && c->nfree > c->ntrimmed, 1)) {
		out->lo = c->free[--c->nfree]; /* newest first: warm */
		out->size = size;
		out->cls = c;
		return 0;
	}
	return corun__stack_get_slow(s, size, out);
}

/* Give a stack back to the pool if that needs neither a system call nor
 * memory: it then only writes the pool's own array, never the stack, so
 * even the coroutine running on it may do it just before it leaves for
 * good. 1 if done; 0 if the caller must use corun__stack_put instead, from
 * another stack. */
static inline int corun__stack_put_fast(const struct corun__stack *st)
{
	struct corun__stack_class *c = st->cls;
	if (__builtin_expect(c->nfree < c->cap && c->nfree - c->ntrimmed < 2 * c->hot, 1)) {
		c->free[c->nfree++] = st->lo;
		return 1;
	}
	return 0;
}

/* Give a stack back to the pool; it may trim pages. Never from the stack
 * itself: callers defer that case (see the runtime's `dead`). */
static inline void corun__stack_put(const struct corun__stack *st)
{
	if (!corun__stack_put_fast(st))
		corun__stack_put_slow(st);
}

/* Guards (guard.c). */
enum corun__guard_kind { CORUN__GUARD_MADVISE = 1, CORUN__GUARD_MPROTECT = 2 };

/* Which kind this process uses: decided once, by installing a guard with
 * MADV_GUARD_INSTALL and checking that the kernel really refuses to read it
 * (qemu-user accepts the call and installs nothing); mprotect otherwise. The
 * environment variable CORUN_GUARD=mprotect forces the fallback. */
enum corun__guard_kind corun__guard_kind(void);

/* Make [page, page + len) fault on any access. 0, or -1 with errno. */
int corun__guard_install(void *page, size_t len);

#endif
