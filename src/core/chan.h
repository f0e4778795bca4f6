/*
 * Channels and select (chan.c). A channel's layout is here so that the
 * test door (src/testing/priv.c) can show the fuzz target its buffer and
 * queues; nothing else looks inside.
 */
#ifndef CORUN_CHAN_H
#define CORUN_CHAN_H

#include "corun.h"
#include "lock.h"
#include "waiter.h"

#include <string.h>

#include <stddef.h>
#include <stdint.h>

/* The runtime's part: select's choice among ready clauses. */
struct corun__select {
	uint64_t rand;          /* xorshift state, never 0 */
};

/* Seeded from the runtime's id, so that threads choose differently. */
void corun__select_init(struct corun__select *s, uint64_t id);

/* xorshift64: select's choice among the clauses that are ready (chan.c,
 * chan_shared.c). */
static inline uint64_t corun__select_rand(struct corun__select *s)
{
	uint64_t x = s->rand;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return s->rand = x;
}

/* What every operation reads and writes first, the lock included, fits in
 * the first 64 bytes: a shared channel (allocated on a line's boundary)
 * passes one line between threads per operation for its state. */
struct corun_chan {
	uint64_t owner;     /* the runtime's id (runtime.h), or CORUN__SHARED */
	struct corun__shobj sh; /* a shared channel's lock (chan_shared.c) */
	size_t head, count; /* the buffer: count elements from head, wrapping */
	size_t elem_size, cap;
	int closed;
	struct corun__wq senders, receivers; /* waiters: elem in w->ptr */
	char buf[];
};

static inline char *corun__chan_slot(corun_chan *ch, size_t i)
{
	return ch->buf + ((ch->head + i) % ch->cap) * ch->elem_size;
}

/* Copy one element: the common sizes as plain moves, not a call. */
static inline void corun__chan_copy(void *dst, const void *src, size_t size)
{
	switch (size) {
	case 8:
		memcpy(dst, src, 8);
		break;
	case 4:
		memcpy(dst, src, 4);
		break;
	case 16:
		memcpy(dst, src, 16);
		break;
	default:
		memcpy(dst, src, size);
	}
}

/* Whether a send or a receive may complete now (closed counts: it
 * completes with EPIPE). "May": a waiter on the other side may turn out
 * to be taken by another firer (shared.h's claim). */
static inline int corun__can_send(const corun_chan *ch)
{
	return ch->closed || ch->receivers.head || ch->count < ch->cap;
}

static inline int corun__can_recv(const corun_chan *ch)
{
	return ch->count || ch->senders.head || ch->closed;
}

/* Shared channels (chan_shared.c): the calls of chan.c hand over to these
 * when the channel is shared. */
corun_chan *corun__chan_make_shared(size_t elem_size, size_t capacity);
int corun__schan_send(corun_chan *ch, const void *elem, int64_t deadline);
int corun__schan_recv(corun_chan *ch, void *elem, int64_t deadline);
int corun__schan_close(corun_chan *ch);
int corun__schan_free(corun_chan *ch);
/* A select with at least one shared channel; cases checked. */
int corun__select_shared(corun_case *cases, size_t n, int64_t deadline);

#endif
