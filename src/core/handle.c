/*
 * Coroutine handles: (serial, slot) packed in a positive int64.
 *
 *   bit 63   0 (handles are positive; -1 means error)
 *   62..24   serial of the coroutine (39 bits), unique in the process
 *   23..0    slot index in the thread's table (24 bits)
 *
 * The table is an array indexed by slot, apart from the stacks: checking a
 * handle reads only the table. A slot remembers the serial of the coroutine
 * in it, so a handle is accepted only by the one coroutine it was made for:
 * not after that one is joined, not on another thread, not by a runtime
 * created later on the same thread.
 *
 * Serials come from one process-wide atomic counter, in blocks, so a busy
 * thread touches that shared cache line once per SERIAL_BLOCK_MAX spawns.
 * A thread's first block is small and each next one twice the last, so a
 * thread that spawns a little takes little: a thread that spawns k draws at
 * most 2k + SERIAL_BLOCK_FIRST serials. The 2^39 - 1 serials therefore last
 * at least 2^38 spawns less 8 per thread that spawned (the header's claim).
 * The block being used outlives the thread's runtime, so serials never
 * restart within a thread.
 */
#include "handle.h"
#include "runtime.h"
#include "../failpoint.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#define SERIAL_BLOCK_FIRST 16
#define SERIAL_BLOCK_MAX 4096

/* The only state shared between threads. Lock-free. */
static _Atomic uint64_t serial_source = 1;
__thread uint64_t corun__serial_next CORUN__IE;
__thread uint64_t corun__serial_end CORUN__IE;
static __thread uint64_t serial_block CORUN__IE; /* the next block's size */

uint64_t corun__serial_refill(void)
{
	/* corun_stats counts a runtime's spawns as the serials its thread drew
	 * since the runtime was made (stats.c): close the account of the block
	 * that ends here, and open the next one's. */
	struct corun__rt *rt = corun__tls;
	if (rt)
		rt->stats.spawned_base += corun__serial_end - rt->stats.serial_mark;
	uint64_t n = serial_block ? serial_block : SERIAL_BLOCK_FIRST;
	serial_block = n < SERIAL_BLOCK_MAX ? 2 * n : SERIAL_BLOCK_MAX;
	corun__serial_next = atomic_fetch_add_explicit(&serial_source, n, memory_order_relaxed);
	corun__serial_end = corun__serial_next + n;
	/* After 2^39 spawns serials wrap; 0 is never one. */
	if ((corun__serial_next & CORUN__SERIAL_MASK) == 0)
		corun__serial_next++;
	if (rt)
		rt->stats.serial_mark = corun__serial_next;
	return corun__serial_next++ & CORUN__SERIAL_MASK;
}

void corun__handles_init(struct corun__handles *t)
{
	memset(t, 0, sizeof *t);
	t->free_head = CORUN__NONE;
	t->limit = CORUN__SLOTS_MAX;
}

void corun__handles_fini(struct corun__handles *t)
{
	free(t->slots);
	memset(t, 0, sizeof *t);
}

struct corun__slot *corun__slot_new_slow(struct corun__handles *t, uint32_t *idx)
{
	if (t->used >= t->limit) {
		errno = EAGAIN;
		return NULL;
	}
	if (t->n == t->cap) {
		uint32_t cap = t->cap ? 2 * t->cap : 256;
		if (cap > CORUN__SLOTS_MAX)
			cap = CORUN__SLOTS_MAX;
		struct corun__slot *s =
			corun__realloc(CORUN__FAIL_HANDLES, t->slots, (size_t)cap * sizeof *s);
		if (!s) {
			errno = ENOMEM;
			return NULL;
		}
		t->slots = s;
		t->cap = cap;
	}
	uint32_t i = t->n++;
	t->used++;
	t->slots[i].serial = corun__serial();
	t->slots[i].state = CORUN__SLOT_FREE; /* the caller fills it */
	*idx = i;
	return &t->slots[i];
}

/* Shrink only a table of more than this many slots that is at most a
 * quarter used, and only by half or more: a table that hovers near a size
 * is not copied back and forth. */
#define SHRINK_MIN 1024

void corun__handles_shrink(struct corun__handles *t)
{
	if (t->cap <= SHRINK_MIN || t->used > t->cap / 4)
		return;
	uint32_t top = t->n;
	while (top > 0 && t->slots[top - 1].state == CORUN__SLOT_FREE)
		top--;
	uint32_t cap = 256;
	while (cap < top)
		cap *= 2;
	if (cap > t->cap / 2)
		return;
	struct corun__slot *s =
		corun__realloc(CORUN__FAIL_HANDLES_SHRINK, t->slots, (size_t)cap * sizeof *s);
	if (!s)
		return; /* keep the larger one: nothing is lost */
	t->slots = s;
	t->cap = cap;
	/* Slots from top on are gone: handles naming them fail the index
	 * check, and a slot made there again takes a fresh serial. The free
	 * list is rebuilt over what remains, lowest first. */
	t->n = top;
	t->free_head = CORUN__NONE;
	for (uint32_t i = top; i-- > 0;)
		if (s[i].state == CORUN__SLOT_FREE) {
			s[i].u.next_free = t->free_head;
			t->free_head = i;
		}
}
