/*
 * Channels and select (chan.c). A channel's layout is here so that the
 * test door (src/testing/priv.c) can show the fuzz target its buffer and
 * queues; nothing else looks inside.
 */
#ifndef CORUN_CHAN_H
#define CORUN_CHAN_H

#include "waiter.h"

#include <stddef.h>
#include <stdint.h>

/* The runtime's part: select's choice among ready clauses. */
struct corun__select {
	uint64_t rand;          /* xorshift state, never 0 */
};

/* Seeded from the runtime's id, so that threads choose differently. */
void corun__select_init(struct corun__select *s, uint64_t id);

struct corun_chan {
	uint64_t owner;     /* the runtime's id (runtime.h) */
	size_t elem_size, cap;
	size_t head, count; /* the buffer: count elements from head, wrapping */
	int closed;
	struct corun__wq senders, receivers; /* waiters: elem in w->ptr */
	char buf[];
};

#endif
