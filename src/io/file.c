/*
 * Files (corun.h, "Files"): corun_pread, corun_pwrite, corun_fsync,
 * corun_fdatasync, corun_openat, which never block the thread.
 *
 * On io_uring each is one operation on the runtime's ring (uring.h),
 * taking no slot of the descriptor's: any number of coroutines may read
 * one file at once, as a database's readers do.
 *
 * On epoll each is a job for the blocking pool (../threads/blocking.h).
 * The job outlives a caller whose deadline passes (the pool thread cannot
 * be stopped in the middle of a pread), so nothing it touches may be the
 * caller's: its arguments, the path and the data live in the job's own
 * memory, copied in before and out after. That costs a copy, which a
 * thread switch and a system call dwarf, and bounds a call to 1 MiB of
 * memory (FILE_CHUNK): a longer one is short, as pread(2) may be. For the
 * same reason the job works on a duplicate of the caller's descriptor,
 * its own (closed when it ends): a caller that gave up may close its
 * number, and a new file may take it, before the job runs, and a write
 * must not land in that file.
 */
#include "uring.h"
#include "../core/runtime.h"
#include "../core/wait.h"
#include "../threads/blocking.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

#define FILE_CHUNK ((size_t)1 << 20)

enum file_op { PREAD, PWRITE, FSYNC, FDATASYNC, OPENAT };

/* What every file call starts with: the runtime, the caller not
 * canceled, the budget spent. Its backend, or -1 with errno. */
static int start(struct corun__rt **rtp, int64_t deadline)
{
	if (corun__deadline_check(deadline) < 0)
		return -1;
	struct corun__rt *rt = corun__rt_get_or_make();
	if (!rt || corun__may_block(rt) < 0)
		return -1;
	if (corun__budget_out(rt)) {
		corun__budget_yield(rt);
		if (corun__may_block(rt) < 0)
			return -1;
	}
	*rtp = rt;
	return corun__io_backend(rt, &rt->fds);
}

/* ---- on the blocking pool ---- */

struct fjob {
	enum file_op op;
	int fd, flags;
	mode_t mode;
	off_t off;
	size_t n;
	ssize_t r;
	int err;
	char *data;  /* the data read or to write, page-aligned (O_DIRECT
		      * wants the buffer aligned to the device's block); or
		      * openat's path: in the job, after this record */
	char room[];
};

static void *run_job(void *p)
{
	struct fjob *a = p;
	switch (a->op) {
	case PREAD:
		a->r = pread(a->fd, a->data, a->n, a->off);
		break;
	case PWRITE:
		a->r = pwrite(a->fd, a->data, a->n, a->off);
		break;
	case FSYNC:
		a->r = fsync(a->fd);
		break;
	case FDATASYNC:
		a->r = fdatasync(a->fd);
		break;
	case OPENAT:
		a->r = openat(a->fd, a->data, a->flags, a->mode);
		break;
	}
	a->err = errno;
	if (a->fd >= 0)
		close(a->fd); /* the job's duplicate */
	return a;
}

/* A job its caller left: a descriptor it opened is no one's. */
static void drop_job(void *result, void *arg)
{
	(void)result;
	struct fjob *a = arg;
	if (a->op == OPENAT && a->r >= 0)
		close((int)a->r);
}

static ssize_t pool_op(enum file_op op, int fd, void *buf, size_t n, off_t off, const char *path,
		       int flags, mode_t mode, int64_t deadline)
{
	if (corun__blocking_may(deadline) < 0)
		return -1;
	size_t extra = op == OPENAT ? strlen(path) + 1 : (op == PREAD || op == PWRITE) ? n : 0;
	size_t align = op == OPENAT ? 1 : 4096;
	struct corun__job *j = corun__job_make(sizeof(struct fjob) + extra + align - 1);
	if (!j)
		return -1;
	struct fjob *a = corun__job_extra(j);
	*a = (struct fjob){ .op = op, .fd = fd, .flags = flags, .mode = mode, .off = off, .n = n };
	a->data = (char *)(((uintptr_t)a->room + align - 1) & ~(uintptr_t)(align - 1));
	if (op == PWRITE)
		memcpy(a->data, buf, n);
	else if (op == OPENAT)
		memcpy(a->data, path, extra);
	int dup = fd >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : fd;
	if (fd >= 0 && dup < 0) {
		corun__job_free(j);
		return -1; /* EBADF, EMFILE */
	}
	a->fd = dup;
	if (corun__job_run_as(j, run_job, a, drop_job, NULL, deadline, CORUN__WAIT_FILE) < 0) {
		/* ETIMEDOUT and ECANCELED come once the job is queued: it runs,
		 * and closes its descriptor. Any other error: it never will (and
		 * the job is gone: a is not to be read). */
		if (errno != ETIMEDOUT && errno != ECANCELED && dup >= 0) {
			int saved = errno;
			close(dup);
			errno = saved;
		}
		return -1;
	}
	ssize_t r = a->r;
	int err = a->err;
	if (op == PREAD && r > 0)
		memcpy(buf, a->data, (size_t)r);
	corun__job_free(j);
	if (r < 0)
		errno = err;
	return r;
}

/* ---- on the ring ---- */

#ifdef CORUN__HAVE_URING
/* pread(2) and pwrite(2) fail with ESPIPE on a pipe or a socket; a ring's
 * read or write at an offset would take it as a plain read or write, and
 * wait. So the first such call on a number asks fstat what it is, and the
 * answer is kept in the number's entry (fd.h) until the number is known to
 * name a new file (corun_close, an accept, a connect). A number closed
 * with close(2) and taken by a pipe is then read as a pipe. */
static int seekable(struct corun__rt *rt, int fd)
{
	struct corun__fd *f = corun__fd_get(rt, fd, 0);
	if (!f)
		return -1;
	if (f->flags & CORUN__FD_SEEKABLE)
		return 0;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -1;
	if (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)) {
		errno = ESPIPE;
		return -1;
	}
	f->flags |= CORUN__FD_SEEKABLE;
	return 0;
}

static ssize_t ring_op(struct corun__rt *rt, enum file_op op, int fd, void *buf, size_t n,
		       off_t off, const char *path, int flags, mode_t mode, int64_t deadline)
{
	struct corun__uop uop;
	struct corun__timer t;
	uop.slot[0] = uop.slot[1] = NULL;
	if ((op == PREAD || op == PWRITE) && seekable(rt, fd) < 0)
		return -1;
	if (deadline > 0 && corun__arm_deadline(rt, &t, CORUN__ID_DEADLINE, deadline) < 0)
		return -1;
	struct io_uring_sqe *sqe = corun__uring_sqe(rt);
	if (!sqe) {
		int saved = errno;
		corun__disarm(rt);
		errno = saved;
		return -1;
	}
	switch (op) {
	case PREAD:
		io_uring_prep_read(sqe, fd, buf, (unsigned)n, (uint64_t)off);
		break;
	case PWRITE:
		io_uring_prep_write(sqe, fd, buf, (unsigned)n, (uint64_t)off);
		break;
	case FSYNC:
		io_uring_prep_fsync(sqe, fd, 0);
		break;
	case FDATASYNC:
		io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
		break;
	case OPENAT:
		/* On a worker from the start: the ring's first, non-blocking
		 * try opens a FIFO as O_NONBLOCK would (at once, or ENXIO),
		 * where openat(2) waits for the other end. */
		io_uring_prep_openat(sqe, fd, path, flags, mode);
		io_uring_sqe_set_flags(sqe, IOSQE_ASYNC);
		break;
	}
	corun__uop_start(rt, &uop, sqe);
	int32_t r = corun__uop_wait(rt, &uop, CORUN__WAIT_FILE, (uint64_t)(int64_t)fd, deadline);
	if (r < 0) {
		errno = -r;
		return -1;
	}
	return r;
}
#endif

static ssize_t file_op(enum file_op op, int fd, void *buf, size_t n, off_t off, const char *path,
		       int flags, mode_t mode, int64_t deadline)
{
	if (fd < 0 && op != OPENAT) { /* openat(2) judges its dirfd */
		errno = EBADF;
		return -1;
	}
	if (off < 0 || (op == OPENAT && !path)) {
		errno = off < 0 ? EINVAL : EFAULT;
		return -1;
	}
	struct corun__rt *rt;
	int b = start(&rt, deadline);
	if (b < 0)
		return -1;
#ifdef CORUN__HAVE_URING
	if (b == CORUN__IO_URING)
		return ring_op(rt, op, fd, buf, n > 0x7ffff000 ? 0x7ffff000 : n, off, path, flags,
			       mode, deadline);
#endif
	return pool_op(op, fd, buf, n > FILE_CHUNK ? FILE_CHUNK : n, off, path, flags, mode,
		       deadline);
}

ssize_t corun_pread(int fd, void *buf, size_t n, off_t offset, int64_t deadline)
{
	return file_op(PREAD, fd, buf, n, offset, NULL, 0, 0, deadline);
}

ssize_t corun_pwrite(int fd, const void *buf, size_t n, off_t offset, int64_t deadline)
{
	return file_op(PWRITE, fd, (void *)buf, n, offset, NULL, 0, 0, deadline);
}

int corun_fsync(int fd, int64_t deadline)
{
	return (int)file_op(FSYNC, fd, NULL, 0, 0, NULL, 0, 0, deadline);
}

int corun_fdatasync(int fd, int64_t deadline)
{
	return (int)file_op(FDATASYNC, fd, NULL, 0, 0, NULL, 0, 0, deadline);
}

int corun_openat(int dirfd, const char *path, int flags, mode_t mode, int64_t deadline)
{
	return (int)file_op(OPENAT, dirfd, NULL, 0, 0, path, flags, mode, deadline);
}
