/*
 * Slabs of guarded stacks, and the pool of freed ones.
 */
#include "stack.h"

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

/* A slab reserves at least this much address space at first and doubles per
 * slab of the same size, up to SLAB_MAX: few mappings for many stacks, and
 * little reserved for a program with a handful of coroutines. */
#define SLAB_FIRST ((size_t)16 << 20)
#define SLAB_MAX ((size_t)1 << 30)

void corun__stacks_init(struct corun__stacks *s)
{
	memset(s, 0, sizeof *s);
	s->page = (size_t)sysconf(_SC_PAGESIZE);
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

void corun__stacks_fini(struct corun__stacks *s)
{
#ifdef CORUN_HAVE_VALGRIND
	for (size_t i = 0; i < s->nvg; i++)
		VALGRIND_STACK_DEREGISTER(s->vg_ids[i]);
	free(s->vg_ids);
#endif
	for (size_t i = 0; i < s->nslabs; i++)
		munmap(s->slabs[i].base, s->slabs[i].len);
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
	c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->size = size;
	c->hot = CORUN__POOL_HOT_BYTES / size;
	if (c->hot < CORUN__POOL_HOT)
		c->hot = CORUN__POOL_HOT;
	c->next = s->classes;
	s->classes = c;
	return s->last = c;
}

/* Reserve a new slab for class c. 0, or -1 with errno ENOMEM. */
static int new_slab(struct corun__stacks *s, struct corun__stack_class *c)
{
	size_t slot = c->size + s->page;
	if (c->next_slots == 0)
		c->next_slots = SLAB_FIRST / slot ? SLAB_FIRST / slot : 1;
	size_t n = c->next_slots, len = n * slot;

	if (s->nslabs == s->slabcap) {
		size_t cap = s->slabcap ? 2 * s->slabcap : 16;
		struct corun__slab *t = realloc(s->slabs, cap * sizeof *t);
		if (!t)
			return -1;
		s->slabs = t;
		s->slabcap = cap;
	}
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	/* Where transparent huge pages are "always", the first touch of a stack
	 * would fault in 2 MiB; a stack wants 4 KiB at a time. */
	(void)madvise(p, len, MADV_NOHUGEPAGE);
	s->slabs[s->nslabs++] = (struct corun__slab){ p, len, c->size };
	c->carve = p;
	c->left = n;
	if (2 * len <= SLAB_MAX)
		c->next_slots = 2 * n;
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
		if (c->ntrimmed > c->nfree)
			c->ntrimmed = c->nfree;
		return 0;
	}
	if (c->left == 0 && new_slab(s, c) < 0)
		goto nomem;
	/* Carve the next slot: its guard is installed now, once for good. */
	if (corun__guard_install(c->carve, s->page) < 0)
		goto nomem;
#ifdef CORUN_HAVE_VALGRIND
	/* Tell valgrind it is a stack, once for the slot's life: switching
	 * onto it is then not taken for a wild change of stack pointer. */
	if (s->nvg == s->vgcap) {
		size_t cap = s->vgcap ? 2 * s->vgcap : 256;
		unsigned *ids = realloc(s->vg_ids, cap * sizeof *ids);
		if (!ids)
			goto nomem;
		s->vg_ids = ids;
		s->vgcap = cap;
	}
	s->vg_ids[s->nvg++] = VALGRIND_STACK_REGISTER(c->carve + s->page,
						      c->carve + s->page + size);
#endif
	out->lo = c->carve + s->page;
	out->size = size;
	out->cls = c;
	c->carve += s->page + size;
	c->left--;
	return 0;
nomem:
	errno = ENOMEM;
	return -1;
}

static int grow_free(struct corun__stack_class *c)
{
	size_t cap = c->cap ? 2 * c->cap : 64;
	char **t = realloc(c->free, cap * sizeof *t);
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
	/* Too many warm: give the oldest back until `hot` remain. */
	if (c->nfree - c->ntrimmed > 2 * c->hot)
		while (c->nfree - c->ntrimmed > c->hot)
			(void)madvise(c->free[c->ntrimmed++], c->size, MADV_DONTNEED);
}
