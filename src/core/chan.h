/*
 * A channel's layout (chan.c), here so that white-box checkers (the fuzz
 * target) can hold it against their model. Nothing else looks inside.
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
