/*
 * Coroutine handles: (tag, generation, slot) packed in a positive int64.
 *
 *   bit 63   0 (handles are positive; -1 means error)
 *   62..47   tag of the runtime that issued it (16 bits)
 *   46..24   generation of the slot (23 bits)
 *   23..0    slot index (24 bits)
 *
 * The table is an array indexed by slot, apart from the stacks: checking a
 * handle reads only the table. Free slots are reused oldest first, so the
 * generation of any one slot advances slowly even in a tight spawn/join loop.
 */
#include "runtime.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#define NONE UINT32_MAX
#define GEN_MASK ((1u << CORUN__GEN_BITS) - 1)
#define SLOT_MASK ((1u << CORUN__SLOT_BITS) - 1)
#define TAG_MASK ((1u << CORUN__TAG_BITS) - 1)

/* The only state shared between threads: a counter that gives each runtime
 * its own tag, so a handle used on the wrong thread (or after its runtime was
 * released) is refused rather than taken for a local one. Lock-free. */
static _Atomic uint32_t next_tag;

void corun__handles_init(struct corun__handles *t)
{
	memset(t, 0, sizeof *t);
	t->free_head = t->free_tail = NONE;
	t->limit = CORUN__SLOTS_MAX;
	uint32_t tag;
	do
		tag = atomic_fetch_add_explicit(&next_tag, 1, memory_order_relaxed) & TAG_MASK;
	while (tag == 0);
	t->tag = tag;
}

void corun__handles_fini(struct corun__handles *t)
{
	free(t->slots);
	memset(t, 0, sizeof *t);
}

struct corun__slot *corun__slot_new(struct corun__handles *t, uint32_t *idx)
{
	if (t->used >= t->limit) {
		errno = EAGAIN;
		return NULL;
	}
	uint32_t i;
	if (t->free_head != NONE) {
		i = t->free_head;
		t->free_head = t->slots[i].u.next_free;
		if (t->free_head == NONE)
			t->free_tail = NONE;
	} else {
		if (t->n == t->cap) {
			uint32_t cap = t->cap ? 2 * t->cap : 256;
			if (cap > CORUN__SLOTS_MAX)
				cap = CORUN__SLOTS_MAX;
			struct corun__slot *s = realloc(t->slots, (size_t)cap * sizeof *s);
			if (!s) {
				errno = ENOMEM;
				return NULL;
			}
			t->slots = s;
			t->cap = cap;
		}
		i = t->n++;
		t->slots[i].gen = 0;
		t->slots[i].state = CORUN__SLOT_FREE;
	}
	t->used++;
	*idx = i;
	return &t->slots[i];
}

void corun__slot_free(struct corun__handles *t, uint32_t idx)
{
	struct corun__slot *s = &t->slots[idx];
	CORUN__ASSERT(s->state != CORUN__SLOT_FREE);
	s->state = CORUN__SLOT_FREE;
	s->gen = (s->gen + 1) & GEN_MASK; /* every handle to it is stale now */
	s->u.next_free = NONE;
	if (t->free_tail != NONE)
		t->slots[t->free_tail].u.next_free = idx;
	else
		t->free_head = idx;
	t->free_tail = idx;
	t->used--;
}

corun_t corun__handle_of(const struct corun__handles *t, uint32_t idx)
{
	return (corun_t)(((uint64_t)t->tag << (CORUN__GEN_BITS + CORUN__SLOT_BITS)) |
			 ((uint64_t)t->slots[idx].gen << CORUN__SLOT_BITS) | idx);
}

struct corun__slot *corun__slot_get(struct corun__handles *t, corun_t h)
{
	if (h <= 0)
		return NULL;
	uint64_t v = (uint64_t)h;
	uint32_t idx = v & SLOT_MASK;
	uint32_t gen = (v >> CORUN__SLOT_BITS) & GEN_MASK;
	uint32_t tag = v >> (CORUN__SLOT_BITS + CORUN__GEN_BITS);
	if (tag != t->tag || idx >= t->n)
		return NULL;
	struct corun__slot *s = &t->slots[idx];
	if (s->state == CORUN__SLOT_FREE || s->gen != gen)
		return NULL;
	return s;
}
