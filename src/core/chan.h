/*
 * A channel's layout (chan.c), here so that the test door
 * (src/testing/priv.c) can show the fuzz target its buffer and queues.
 * Nothing else looks inside.
 */
#ifndef CORUN_CHAN_H
#define CORUN_CHAN_H

#include "wait.h"

struct corun_chan {
	uint64_t owner;     /* the runtime's id (runtime.h) */
	size_t elem_size, cap;
	size_t head, count; /* the buffer: count elements from head, wrapping */
	int closed;
	struct corun__wq senders, receivers; /* waiters: elem in w->ptr */
	char buf[];
};

#endif
