/*
 * Giving idle stacks back to the kernel, by age (see stack.h for the pool's
 * layout). A stack that sat in the pool through a whole epoch, below the
 * epoch's low-water mark, was not needed all that time; it is condemned
 * when the epoch ends and given back over the next few purges, a bounded
 * batch at a time, so no caller pays for a burst's worth of madvise at once.
 * When epochs end is the runtime's business (runtime.c): this layer reads
 * no clock.
 */
#include "stack.h"
#include "../failpoint.h"

#include <stdlib.h>
#include <sys/mman.h>

/* MADV_DONTNEED, not MADV_FREE: bench/ measured both (the "decay" rows).
 * MADV_FREE leaves the pages counted in the process's resident size until
 * the kernel is short of memory, so a program (or its operator) never sees
 * the memory come back; and a refault after either costs the same, since
 * stacks given back are those idle for a whole interval. */
#define GIVE_BACK MADV_DONTNEED

static int by_address(const void *a, const void *b)
{
	const char *x = *(char *const *)a, *y = *(char *const *)b;
	return (x > y) - (x < y);
}

/* Give back the k stacks at free[ntrimmed ...]. Sorted by address, stacks
 * that lie next to each other in a slab (one guard apart) become one
 * madvise over the run, guards included: the kernel keeps guard markers and
 * PROT_NONE pages as they are. */
static void give_back(struct corun__stacks *s, struct corun__stack_class *c, size_t k)
{
	char **v = c->free + c->ntrimmed;
	size_t stride = c->size + s->guard;
	qsort(v, k, sizeof *v, by_address);
	for (size_t i = 0; i < k;) {
		size_t j = i + 1;
		while (j < k && v[j] == v[j - 1] + stride)
			j++;
		(void)madvise(v[i], (size_t)(v[j - 1] - v[i]) + c->size, GIVE_BACK);
		s->purge_calls++;
		i = j;
	}
	c->ntrimmed += k;
	c->fresh += k;
	s->purged += k;
}

/* The extent of one slab of a class, and how many of its stacks the pool
 * holds given back. */
struct span {
	const char *base, *end;
	size_t slab;    /* index in corun__stacks.slabs */
	size_t carved;  /* stacks ever carved from it */
	size_t idle;    /* of those, given back and in the pool */
};

static int by_base(const void *a, const void *b)
{
	const struct span *x = a, *y = b;
	return (x->base > y->base) - (x->base < y->base);
}

static int by_slab_desc(const void *a, const void *b)
{
	const struct span *x = a, *y = b;
	return (x->slab < y->slab) - (x->slab > y->slab);
}

static struct span *span_of(struct span *sp, size_t n, const char *p)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (p < sp[mid].base)
			hi = mid;
		else if (p >= sp[mid].end)
			lo = mid + 1;
		else
			return &sp[mid];
	}
	return NULL;
}

/* Unmap every slab of class c whose carved stacks have all been given back,
 * and drop those stacks from the pool. Linear in the stacks given back (a
 * binary search among the class's few slabs each), so it runs only when a
 * purge has finished or on a trim, and only if stacks were given back
 * since it last looked. */
static void release_idle_slabs(struct corun__stacks *s, struct corun__stack_class *c)
{
	size_t slot = c->size + s->guard, n = 0, nrel = 0;
	if (!c->fresh)
		return;
	for (size_t k = 0; k < s->nslabs; k++)
		n += s->slabs[k].stack_size == c->size;
	struct span *sp = n ? corun__malloc(CORUN__FAIL_SPANS, n * sizeof *sp) : NULL;
	if (!sp)
		return; /* try again at the next purge or trim: fresh stays set */
	c->fresh = 0;
	n = 0;
	for (size_t k = 0; k < s->nslabs; k++) {
		const struct corun__slab *sl = &s->slabs[k];
		if (sl->stack_size != c->size)
			continue;
		size_t slots = sl->len / slot;
		sp[n++] = (struct span){ sl->base, (const char *)sl->base + sl->len, k,
					 c->carve && c->slab == k ? slots - c->left : slots, 0 };
	}
	qsort(sp, n, sizeof *sp, by_base);
	for (size_t i = 0; i < c->ntrimmed; i++)
		span_of(sp, n, c->free[i])->idle++;
	for (size_t i = 0; i < n; i++) {
		if (sp[i].carved > 0 && sp[i].idle == sp[i].carved)
			nrel++;
		else
			sp[i].idle = 0; /* kept: mark it so below */
	}
	if (nrel) {
		/* Drop the released slabs' stacks, all below ntrimmed; the
		 * marks above them move down with the rest. */
		size_t w = 0;
		for (size_t i = 0; i < c->nfree; i++) {
			char *lo = c->free[i];
			if (i < c->ntrimmed && span_of(sp, n, lo)->idle)
				continue;
			c->free[w++] = lo;
		}
		size_t dropped = c->nfree - w;
		c->nfree = w;
		c->ntrimmed -= dropped;
		c->cold -= dropped;
		c->low -= dropped;
		/* Forget the slabs, highest index first, so that the indices
		 * still to be forgotten do not move. */
		qsort(sp, n, sizeof *sp, by_slab_desc);
		for (size_t i = 0; i < n; i++)
			if (sp[i].idle)
				corun__slab_forget(s, sp[i].slab);
		if (nrel == n)
			c->next_slots = 0; /* none left: grow from small again */
		/* The list of free stacks may have been a burst's worth. */
		if (c->cap > 64 && c->nfree < c->cap / 4) {
			size_t cap = 64;
			while (cap < 2 * c->nfree)
				cap *= 2;
			char **t =
				corun__realloc(CORUN__FAIL_FREE_SHRINK, c->free, cap * sizeof *t);
			if (t) {
				c->free = t;
				c->cap = cap;
			}
		}
	}
	free(sp);
}

void corun__stacks_epoch(struct corun__stacks *s)
{
	for (struct corun__stack_class *c = s->classes; c; c = c->next) {
		/* What stayed below the mark all epoch is condemned. */
		if (c->low > c->cold) {
			c->cold = c->low;
			s->pending = 1;
		}
		c->low = c->nfree;
	}
}

int corun__stacks_purge(struct corun__stacks *s, size_t budget)
{
	if (!s->pending)
		return 0;
	int more = 0;
	for (struct corun__stack_class *c = s->classes; c; c = c->next) {
		size_t k = c->cold - c->ntrimmed;
		if (k > budget)
			k = budget;
		if (k) {
			give_back(s, c, k);
			budget -= k;
		}
		more |= c->cold > c->ntrimmed;
	}
	if (!more)
		for (struct corun__stack_class *c = s->classes; c; c = c->next)
			release_idle_slabs(s, c);
	return s->pending = more;
}

void corun__stacks_trim(struct corun__stacks *s)
{
	for (struct corun__stack_class *c = s->classes; c; c = c->next) {
		if (c->nfree > c->ntrimmed)
			give_back(s, c, c->nfree - c->ntrimmed);
		c->cold = c->low = c->nfree;
		release_idle_slabs(s, c);
	}
	s->pending = 0;
}
