/*
 * Slabs of guarded stacks, and the pool of freed ones.
 */
#include "stack.h"
#include "../failpoint.h"
#include "../sanitizer.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifdef CORUN_HAVE_VALGRIND
#include <valgrind/memcheck.h>
#include <valgrind/valgrind.h>
#endif
#ifdef CORUN__ASAN
#include <sanitizer/asan_interface.h>
#endif

/* A slab reserves at least this much address space at first and doubles per
 * slab of the same size, up to SLAB_MAX: few mappings for many stacks, and
 * little reserved for a program with a handful of coroutines. */
#define SLAB_FIRST ((size_t)16 << 20)
#define SLAB_MAX ((size_t)1 << 30)

void corun__stacks_init(struct corun__stacks *s)
{
	memset(s, 0, sizeof *s);
	s->page = (size_t)sysconf(_SC_PAGESIZE);
	s->guard = CORUN__GUARD_SIZE(s->page);
#ifdef CORUN_HAVE_VALGRIND
	s->on_valgrind = RUNNING_ON_VALGRIND != 0;
#endif
}

void corun__stack_reuse_vg(const struct corun__stack *st, const char *from)
{
#ifdef CORUN_HAVE_VALGRIND
	(void)VALGRIND_MAKE_MEM_UNDEFINED(from, (size_t)(st->lo + st->size - from));
#else
	(void)st;
	(void)from;
#endif
}

static void unmap_slab(const struct corun__slab *sl)
{
#ifdef CORUN__ASAN
	/* Frames that never returned left their redzones poisoned; a mapping
	 * made later at these addresses must not inherit them. */
	ASAN_UNPOISON_MEMORY_REGION(sl->base, sl->len);
#endif
	munmap(sl->base, sl->len);
	corun__maps_release(sl->maps);
}

void corun__slab_forget(struct corun__stacks *s, size_t k)
{
	struct corun__slab *sl = &s->slabs[k];
#ifdef CORUN_HAVE_VALGRIND
	const char *base = sl->base, *end = base + sl->len;
	size_t w = 0;
	for (size_t i = 0; i < s->nvg; i++) {
		if (s->vg[i].lo >= base && s->vg[i].lo < end)
			VALGRIND_STACK_DEREGISTER(s->vg[i].id);
		else
			s->vg[w++] = s->vg[i];
	}
	s->nvg = w;
#endif
	unmap_slab(sl);
	memmove(sl, sl + 1, (s->nslabs - k - 1) * sizeof *sl);
	s->nslabs--;
	for (struct corun__stack_class *c = s->classes; c; c = c->next) {
		if (!c->carve)
			continue;
		if (c->slab == k) { /* it was carving this one: the next carve maps anew */
			c->carve = NULL;
			c->left = 0;
		} else if (c->slab > k) {
			c->slab--;
		}
	}
	s->released++;
}

void corun__stacks_fini(struct corun__stacks *s)
{
#ifdef CORUN_HAVE_VALGRIND
	for (size_t i = 0; i < s->nvg; i++)
		VALGRIND_STACK_DEREGISTER(s->vg[i].id);
	free(s->vg);
#endif
	for (size_t i = 0; i < s->nslabs; i++)
		unmap_slab(&s->slabs[i]);
	for (struct corun__stack_class *c = s->classes, *next; c; c = next) {
		next = c->next;
		free(c->free);
		free(c);
	}
	free(s->slabs);
	memset(s, 0, sizeof *s);
}

/* The class for `size`, created when missing. The last one used is checked
 * first: a spawn should not search. */
static struct corun__stack_class *class_for(struct corun__stacks *s, size_t size)
{
	struct corun__stack_class *c = s->last;
	if (c && c->size == size)
		return c;
	for (c = s->classes; c; c = c->next)
		if (c->size == size)
			return s->last = c;
	c = corun__calloc(CORUN__FAIL_CLASS, 1, sizeof *c);
	if (!c)
		return NULL;
	c->size = size;
	c->next = s->classes;
	s->classes = c;
	return s->last = c;
}

/* Reserve a new slab for class c. When the address space is short (a
 * lowered RLIMIT_AS, or a fragmented one), halve the slab until it fits,
 * down to a single stack, and grow again from there. 0, or -1 with errno
 * ENOMEM. */
static int new_slab(struct corun__stacks *s, struct corun__stack_class *c)
{
	size_t slot = c->size + s->guard;
	if (c->next_slots == 0)
		c->next_slots = SLAB_FIRST / slot ? SLAB_FIRST / slot : 1;

	if (s->nslabs == s->slabcap) {
		size_t cap = s->slabcap ? 2 * s->slabcap : 16;
		struct corun__slab *t =
			corun__realloc(CORUN__FAIL_SLAB_ARRAY, s->slabs, cap * sizeof *t);
		if (!t)
			return -1;
		s->slabs = t;
		s->slabcap = cap;
	}
	if (corun__maps_reserve(1) < 0)
		return -1;
	size_t n = c->next_slots;
	void *p;
	for (;;) {
		p = corun__mmap(CORUN__FAIL_SLAB, NULL, n * slot, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p != MAP_FAILED)
			break;
		if (errno != ENOMEM || n == 1) {
			corun__maps_release(1);
			return -1;
		}
		n /= 2;
	}
	size_t len = n * slot;
	/* Where transparent huge pages are "always", the first touch of a stack
	 * would fault in 2 MiB; a stack wants 4 KiB at a time. */
	(void)madvise(p, len, MADV_NOHUGEPAGE);
	s->slabs[s->nslabs++] = (struct corun__slab){ p, len, c->size, 1 };
	c->carve = p;
	c->slab = s->nslabs - 1;
	c->left = n;
	c->next_slots = 2 * len <= SLAB_MAX ? 2 * n : n;
	return 0;
}

int corun__stack_get_slow(struct corun__stacks *s, size_t size, struct corun__stack *out)
{
	struct corun__stack_class *c = class_for(s, size);
	if (!c)
		goto nomem;
	if (c->nfree > 0) { /* newest first: its pages are most likely warm */
		out->lo = c->free[--c->nfree];
		out->size = size;
		out->cls = c;
		/* It may have been condemned or given back: either way it is in
		 * use now, and the marks below it stay below it. */
		if (c->cold > c->nfree)
			c->cold = c->nfree;
		if (c->ntrimmed > c->nfree)
			c->ntrimmed = c->nfree;
		if (c->low > c->nfree)
			c->low = c->nfree;
		return 0;
	}
	if (c->left == 0 && new_slab(s, c) < 0)
		goto nomem;
#ifdef CORUN_HAVE_VALGRIND
	/* Room to remember the slot's valgrind stack id, before anything is
	 * done to the slot, so that failing here leaves nothing to undo. */
	if (s->on_valgrind && s->nvg == s->vgcap) {
		size_t cap = s->vgcap ? 2 * s->vgcap : 256;
		struct corun__vg_stack *vg =
			corun__realloc(CORUN__FAIL_VG_STACKS, s->vg, cap * sizeof *vg);
		if (!vg)
			goto nomem;
		s->vg = vg;
		s->vgcap = cap;
	}
#endif
	/* Carve the next slot: its guard is installed now, once for good. With
	 * mprotect guards it splits the slab's mapping: up to two more. */
	size_t maps = corun__guard_kind() == CORUN__GUARD_MPROTECT ? 2 : 0;
	if (maps && corun__maps_reserve(maps) < 0)
		goto nomem;
	if (corun__guard_install(c->carve, s->guard) < 0) {
		corun__maps_release(maps);
		goto nomem;
	}
	s->slabs[c->slab].maps += maps;
#ifdef CORUN_HAVE_VALGRIND
	/* Tell valgrind it is a stack, once for the slot's life: switching
	 * onto it is then not taken for a wild change of stack pointer. */
	if (s->on_valgrind) {
		s->vg[s->nvg].lo = c->carve + s->guard;
		s->vg[s->nvg++].id = VALGRIND_STACK_REGISTER(c->carve + s->guard,
							     c->carve + s->guard + size);
	}
#endif
	out->lo = c->carve + s->guard;
	out->size = size;
	out->cls = c;
	c->carve += s->guard + size;
	c->left--;
	s->carved++;
	return 0;
nomem:
	errno = ENOMEM;
	return -1;
}

int corun__stack_guard_of(const struct corun__stacks *s, const void *addr, char **lo,
			  size_t *size)
{
	const char *a = addr;
	for (size_t i = 0; i < s->nslabs; i++) {
		const struct corun__slab *sl = &s->slabs[i];
		char *base = sl->base;
		if (a < base || a >= base + sl->len)
			continue;
		size_t slot = s->guard + sl->stack_size; /* [guard][stack] */
		char *start = base + (size_t)(a - base) / slot * slot;
		if (a >= start + s->guard)
			return 0; /* inside a stack */
		*lo = start + s->guard;
		*size = sl->stack_size;
		return 1;
	}
	return 0;
}

static int grow_free(struct corun__stack_class *c)
{
	size_t cap = c->cap ? 2 * c->cap : 64;
	char **t = corun__realloc(CORUN__FAIL_FREE_LIST, c->free, cap * sizeof *t);
	if (!t)
		return 0;
	c->free = t;
	c->cap = cap;
	return 1;
}

void corun__stack_put_slow(const struct corun__stack *st)
{
	struct corun__stack_class *c = st->cls;
	if (c->nfree == c->cap && !grow_free(c)) {
		/* No memory to remember it: give its pages back, lose the slot. */
		(void)madvise(st->lo, st->size, MADV_DONTNEED);
		return;
	}
	c->free[c->nfree++] = st->lo;
}
