/*
 * Statistics (stats.c): corun_stats and corun_stack_used. Each counter here
 * is written on a slow path only; the rest of corun_stats is derived from
 * counters kept anyway (see stats.c).
 */
#ifndef CORUN_STATS_H
#define CORUN_STATS_H

#include "co.h"

#include <stddef.h>
#include <stdint.h>

struct corun__rt;
struct corun__stack;

/* The runtime's part. */
struct corun__stats {
	size_t peak;            /* most live at once; see corun__ready_admit */
	size_t peak_undo;       /* peak before the spawn that raised it... */
	uint64_t peak_token;    /* ...which is the one this serial position names */
	uint64_t serial_mark;   /* corun__serial_next when last accounted... */
	uint64_t spawned_base;  /* ...and the spawns counted before it */
	uint64_t unwound;       /* spawns that gave their stack back, failing */
	uint64_t to_main;       /* switches to main that dequeued nothing */
	uint64_t waits[CORUN__WAIT_REASONS]; /* by why (co.h), counted by corun__wait */
	uint64_t io_enters;     /* io_uring_enter calls (../io/uring.c) */
	uint8_t io_backend;     /* CORUN__IO_EPOLL or _URING, once chosen */
};

/* Spawns count from the runtime's creation. */
void corun__stats_init(struct corun__stats *s);

/* Bytes from the lowest resident page of a stack to its top (*low: that
 * page, NULL when none is resident, and then 0). -1 (as size_t) with errno
 * when mincore fails. Shared with the stack report (report.c). */
size_t corun__stack_used_of(const struct corun__rt *rt, const struct corun__stack *st,
			    const char **low);

#endif
