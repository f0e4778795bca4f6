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
 *
 * The table is kept by number, in pages of CORUN__FD_PAGE entries made on
 * first use under a directory of pointers: a lookup is two loads, and a
 * program that uses descriptors 3 and 1,000,000 pays for two pages and a
 * directory of 1/16 byte per number below the highest (the kernel's own
 * table for it takes 8), not for a million entries. A number that is not
 * open costs nothing: a page is made only for a number fcntl finds open.
 * Pages never move, so a waiter keeps its entry's address.
 *
 * What is known of a number holds only while it names the same file, and
 * close(2) and a reuse of the number happen out of corun's sight. So no
 * stale entry may block the thread or leave a waiter unwoken:
 *  - A socket's calls are made with MSG_DONTWAIT, which cannot block
 *    whatever the file's flags; one that finds no socket (ENOTSOCK)
 *    learns the file anew and tries again. A pipe is read with preadv2
 *    and RWF_NOWAIT likewise, where the kernel has it (6.4 on; named
 *    FIFOs refuse it), and otherwise as below.
 *  - Any other call (and accept4, which has no such flag) first asks
 *    fcntl(F_GETFL) whether the file is still non-blocking and open the
 *    way it was (a pipe's end is read-only or write-only, a socket both),
 *    and learns it anew if not.
 *  - A registration is gone once its file is closed, and a new file under
 *    the number is not registered. Every sweep (CORUN__FD_SWEEP_NS apart,
 *    on the scheduler's collection of reports, while waits are pending)
 *    asks, once per wait that has lasted a whole period, whether the
 *    number's registration is still there (EPOLL_CTL_MOD, which fails
 *    with ENOENT when the number names another file, EBADF when it names
 *    none): a new file is learned and registered, and its waiters go on
 *    waiting on it; a number closed for good wakes its waiters with EBADF.
 *    A wait the kernel ends within a period, the busy case, costs no check.
 */
#ifndef CORUN_FD_H
#define CORUN_FD_H

#include <stddef.h>
#include <stdint.h>

struct corun__rt;
struct corun__waiter;
struct corun__fd;

/* The runtime's part: its epoll instance and what it knows of descriptors. */
struct corun__fds {
	int epfd;               /* the idle step blocks here; -1 until needed */
	uint8_t fresh;          /* waits armed that no sweep has checked */
	uint8_t forked;         /* a child of fork: registrations to forget */
	uint8_t backend;        /* CORUN__IO_EPOLL or _URING (../io/uring.h),
				 * 0 until the first call that needs one */
	uint32_t sweeps;        /* sweeps made */
	struct corun__fd **pages; /* by descriptor number / CORUN__FD_PAGE */
	size_t npages;
	size_t waiting;         /* waiters armed on descriptors */
	int64_t poll_next;      /* coarse ns: collect reports on main's turn */
	int64_t sweep_at;       /* coarse ns: check registrations */
};

void corun__fds_init(struct corun__fds *d);
/* The table's memory and the epoll instance, when the runtime is released. */
void corun__fds_fini(struct corun__fds *d);

/* corun__fd.flags */
#define CORUN__FD_IN 0x01       /* input may be ready: try the call */
#define CORUN__FD_OUT 0x02      /* output may be ready: try the call */
#define CORUN__FD_PREPARED 0x04 /* made non-blocking, its kind known */
#define CORUN__FD_STREAM 0x08   /* a short read or write drains or fills it */
#define CORUN__FD_SOCKET 0x10   /* recv/send, with MSG_DONTWAIT */
#define CORUN__FD_EPOLL 0x20    /* registered with the runtime's epoll */
#define CORUN__FD_CHECKED 0x40  /* its registration checked during this wait */

struct corun__fd {
	struct corun__waiter *in, *out; /* waiting for each direction */
	uint32_t gen;    /* bumped when the number starts naming a new file */
	uint32_t events; /* what the kernel reported last (EPOLL* bits) */
	uint32_t since;  /* corun__fds.sweeps when a wait on it began */
	uint8_t flags;
	uint8_t mode;    /* O_ACCMODE of the file prepared (not a socket), and: */
};

/* corun__fd.mode: a pipe read with preadv2 and RWF_NOWAIT (fd.c) */
#define CORUN__FD_NOWAIT 0x80

#define CORUN__FD_PAGE_SHIFT 7
#define CORUN__FD_PAGE (1u << CORUN__FD_PAGE_SHIFT) /* 4 KiB of entries */

/* How long a wait lasts before its registration is checked: between one
 * and two of these. */
#define CORUN__FD_SWEEP_NS ((int64_t)1000000000)

/* fd's entry, or NULL when its page has not been made. */
static inline struct corun__fd *corun__fd_find(const struct corun__fds *d, int fd)
{
	size_t i = (unsigned)fd >> CORUN__FD_PAGE_SHIFT;
	if (i >= d->npages || !d->pages[i])
		return NULL;
	return &d->pages[i][(unsigned)fd & (CORUN__FD_PAGE - 1)];
}

/* The runtime's I/O backend, chosen on the first call (../io/uring.h). */
int corun__io_backend_slow(struct corun__rt *rt);
static inline int corun__io_backend(struct corun__rt *rt, struct corun__fds *d)
{
	return __builtin_expect(d->backend != 0, 1) ? d->backend : corun__io_backend_slow(rt);
}

/* For the io_uring backend's calls (../io/uring_fd.c), which keep what
 * they learn of a descriptor in the same table: fd's state, made if need
 * be and prepared (non-blocking, its kind known) if `prepared`; NULL with
 * errno (EBADF, ENOMEM). */
struct corun__fd *corun__fd_get(struct corun__rt *rt, int fd, int prepared);
/* The number names another file than the one prepared: learn it anew. */
int corun__fd_relearn(struct corun__rt *rt, int fd, struct corun__fd *f);
/* The number names a new file (accepted, connected): its kind. */
void corun__fd_renew(struct corun__fd *f, uint8_t flags);

/* Collect what the kernel reports ready and fire the waiters, blocking the
 * thread for at most timeout_ns (-1: until something is reported; 0: not
 * at all), and sweep the registrations when it is time. Returns how many
 * waiters it fired; with no epoll instance (none could be made) it sleeps
 * for timeout_ns instead and returns 0. */
int corun__poll(struct corun__rt *rt, int64_t timeout_ns);

/* On main's turn while others are ready: collect reports if a tick of the
 * coarse clock has passed since they were last read. */
void corun__poll_due(struct corun__rt *rt);

/* Add a descriptor of the runtime's own to its epoll instance, level-
 * triggered for input, reported under `key` (remote.c's wake). 0, or -1
 * with errno. */
int corun__fd_watch(struct corun__rt *rt, int fd, uint64_t key);

/* In a child of fork (fork.c): the epoll instance is the parent's, shared
 * through the inherited descriptor. Let it go; the child's own is made at
 * its next need, and every registration is made anew in it then. */
void corun__fd_fork_child(struct corun__rt *rt);

#endif
