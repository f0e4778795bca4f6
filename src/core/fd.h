/*
 * Descriptors (fd.c): the runtime's epoll instance, what corun knows of
 * each descriptor it has used, and the waits on them.
 *
 * A descriptor is registered once, edge-triggered for input and output
 * together, and stays registered until corun_close. Being edge-triggered,
 * the kernel reports readiness only when it changes, so corun keeps a bit
 * per direction: set when the kernel reports that direction ready, cleared
 * when a call finds it is not (EAGAIN, or on a stream a short read or
 * write, which leaves the buffer empty or full). A call tries its system
 * call only while the bit is set, and otherwise waits for the kernel's next
 * report, which cannot be missed: a change after the bit was cleared is a
 * new edge, queued in epoll until the scheduler collects it.
 *
 * The scheduler collects reports in two places: when nothing is ready
 * (corun__idle blocks in epoll_wait until the nearest deadline), and, while
 * coroutines wait on descriptors and others keep running, on main's turn in
 * the ring when a tick of the coarse clock has passed since reports were
 * last read (corun__poll_due), so busy coroutines cannot starve the
 * waiting ones, and a server whose ring empties often never polls twice.
 */
#ifndef CORUN_FD_H
#define CORUN_FD_H

#include "runtime.h"

#include <stdint.h>

/* corun__fd.flags */
#define CORUN__FD_IN 0x01       /* input may be ready: try the call */
#define CORUN__FD_OUT 0x02      /* output may be ready: try the call */
#define CORUN__FD_PREPARED 0x04 /* made non-blocking, its kind known */
#define CORUN__FD_STREAM 0x08   /* a short read or write drains or fills it */
#define CORUN__FD_SOCKET 0x10   /* send with MSG_NOSIGNAL */
#define CORUN__FD_EPOLL 0x20    /* registered with the runtime's epoll */

struct corun__fd {
	struct corun__waiter *in, *out; /* waiting for each direction */
	uint32_t gen;    /* bumped when the number starts naming a new file */
	uint32_t events; /* what the kernel reported last (EPOLL* bits) */
	uint8_t flags;
};

/* Collect what the kernel reports ready and fire the waiters, blocking the
 * thread for at most timeout_ns (-1: until something is reported; 0: not
 * at all). Returns how many waiters it fired; with no epoll instance (none
 * could be made) it sleeps for timeout_ns instead and returns 0. */
int corun__poll(struct corun__rt *rt, int64_t timeout_ns);

/* On main's turn while others are ready: collect reports if a tick of the
 * coarse clock has passed since they were last read. */
void corun__poll_due(struct corun__rt *rt);

/* The runtime's epoll descriptor, made on first need; -1 with errno. */
int corun__epoll(struct corun__rt *rt);

#endif
