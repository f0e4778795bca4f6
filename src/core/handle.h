/*
 * The handle table and serials (handle.c): what a corun_t names, checked
 * without touching any coroutine's memory.
 */
#ifndef CORUN_HANDLES_H
#define CORUN_HANDLES_H

#include "corun.h"
#include "co.h"
#include "panic.h"

#include <stdint.h>

/* Handle table (handle.c). A slot outlives its coroutine while the result
 * waits for a join, so results never live on a stack that was reused. */
enum { CORUN__SLOT_FREE, CORUN__SLOT_LIVE, CORUN__SLOT_DONE };

struct corun__slot {
	uint64_t serial; /* of the coroutine in it: the handle's upper bits */
	union {
		struct corun__co *co; /* LIVE */
		void *result;         /* DONE */
		uint32_t next_free;   /* FREE */
	} u;
	uint8_t state;
};

struct corun__handles {
	struct corun__slot *slots;
	uint32_t n, cap;   /* slots ever used; allocated */
	uint32_t free_head; /* free slots, most recently freed first */
	uint32_t used;     /* LIVE + DONE */
	uint32_t limit;    /* most slots at once */
};

#define CORUN__SLOT_BITS 24
#define CORUN__SLOT_MASK ((1u << CORUN__SLOT_BITS) - 1)
#define CORUN__SLOTS_MAX CORUN__SLOT_MASK
#define CORUN__SERIAL_MASK ((UINT64_C(1) << (63 - CORUN__SLOT_BITS)) - 1)
#define CORUN__NONE UINT32_MAX

void corun__handles_init(struct corun__handles *t);
void corun__handles_fini(struct corun__handles *t);

/* Serials: this thread's block of the process-wide counter (handle.c).
 * One declaration each: an attribute after a list of declarators applies
 * to the last one only, and the other then went through __tls_get_addr. */
#define CORUN__IE __attribute__((tls_model("initial-exec")))
extern __thread uint64_t corun__serial_next CORUN__IE;
extern __thread uint64_t corun__serial_end CORUN__IE;
uint64_t corun__serial_refill(void);

static inline uint64_t corun__serial(void)
{
	if (__builtin_expect(corun__serial_next == corun__serial_end, 0))
		return corun__serial_refill();
	return corun__serial_next++ & CORUN__SERIAL_MASK;
}

/* A fresh slot (state still FREE, for the caller to fill), or NULL with
 * errno ENOMEM or EAGAIN. Reusing the most recently freed slot is inline;
 * growing the table is not. */
struct corun__slot *corun__slot_new_slow(struct corun__handles *t, uint32_t *idx);

static inline struct corun__slot *corun__slot_new(struct corun__handles *t, uint32_t *idx)
{
	uint32_t i = t->free_head;
	if (__builtin_expect(i == CORUN__NONE || t->used >= t->limit, 0))
		return corun__slot_new_slow(t, idx);
	struct corun__slot *s = &t->slots[i];
	t->free_head = s->u.next_free;
	t->used++;
	s->serial = corun__serial();
	*idx = i;
	return s;
}

__attribute__((always_inline)) static inline void corun__slot_free(struct corun__handles *t,
								   uint32_t idx)
{
	struct corun__slot *s = &t->slots[idx];
	CORUN__ASSERT(s->state != CORUN__SLOT_FREE);
	s->state = CORUN__SLOT_FREE; /* every handle to it is stale now */
	s->u.next_free = t->free_head;
	t->free_head = idx;
	t->used--;
}

static inline corun_t corun__handle_of(const struct corun__handles *t, uint32_t idx)
{
	return (corun_t)((t->slots[idx].serial << CORUN__SLOT_BITS) | idx);
}

/* The slot h names, or NULL (stale, foreign, invalid). Reads the table
 * only: never memory a stale handle's coroutine may have given back. */
static inline struct corun__slot *corun__slot_get(struct corun__handles *t, corun_t h)
{
	if (h <= 0)
		return NULL;
	uint64_t v = (uint64_t)h;
	uint32_t idx = v & CORUN__SLOT_MASK;
	if (idx >= t->n)
		return NULL;
	struct corun__slot *s = &t->slots[idx];
	if (s->state == CORUN__SLOT_FREE || s->serial != v >> CORUN__SLOT_BITS)
		return NULL;
	return s;
}

/* Give the table back what a burst grew it to, down to its highest slot in
 * use, when it is mostly empty (upkeep.c calls it). */
void corun__handles_shrink(struct corun__handles *t);

#endif
