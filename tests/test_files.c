/*
 * Files: corun_pread, corun_pwrite, corun_fsync, corun_fdatasync and
 * corun_openat, which never block the thread: through io_uring, or on
 * epoll through the blocking pool.
 *
 * What they do (offsets, the end of a file, errors as the system calls
 * give them, a directory relative to a descriptor), from coroutines and
 * from main; hundreds of coroutines with a read each in flight over one
 * file, every block checked; the thread going on while an open waits in
 * the kernel (a FIFO's open waits for the other end: a file call that
 * truly blocks); and each call stopped by its deadline, by corun_cancel
 * and by corun_close while the kernel works on it. A file operation may be
 * one the kernel cannot stop: whether the call then returns at its
 * deadline or when the kernel is done, the caller's buffer must not change
 * after it returned (no late read into it), a write must not send bytes
 * the caller changed after it returned (no late write from it), and an
 * open that completes after its call gave up must not leave a descriptor
 * behind.
 */
#define _GNU_SOURCE
#include "helpers.h"

#include <corun.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#define PATIENCE (10000 * MS)
#define SOON (2000 * MS)
#define FILL 0xA5

static char dir[64];  /* a fresh directory for the test's files */
static int dir_fd;

static void make_dir(void)
{
	snprintf(dir, sizeof dir, "/tmp/corun-files-XXXXXX");
	CHECK(mkdtemp(dir) != NULL);
	dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(dir_fd >= 0);
}

static void remove_dir(void)
{
	DIR *d = fdopendir(dir_fd);
	CHECK(d);
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			CHECK_EQ(unlinkat(dirfd(d), e->d_name, 0), 0);
	closedir(d);
	CHECK_EQ(rmdir(dir), 0);
}

static long open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	CHECK(d);
	long n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1;
}

static unsigned char file_byte(uint64_t off)
{
	uint32_t x = (uint32_t)(off >> 2) * 2654435761u;
	return (unsigned char)((x >> 24) ^ (unsigned)off);
}

static uint64_t waits_file(void)
{
	struct corun_stats s;
	memset(&s, 0, sizeof s);
	s.size = sizeof s;
	CHECK_EQ(corun_stats(&s), 0);
	return s.waits_file;
}

/* All of n bytes at off, as a program that wants them all would. */
static void pwrite_all(int fd, const void *buf, size_t n, off_t off)
{
	for (size_t done = 0; done < n;) {
		ssize_t w = corun_pwrite(fd, (const char *)buf + done, n - done,
					 off + (off_t)done, corun_now() + PATIENCE);
		if (w <= 0)
			CHECK_FAIL("corun_pwrite at %lld: %zd (%s)", (long long)off, w,
				   strerror(errno));
		done += (size_t)w;
	}
}

static void pread_all(int fd, void *buf, size_t n, off_t off)
{
	for (size_t done = 0; done < n;) {
		ssize_t r = corun_pread(fd, (char *)buf + done, n - done, off + (off_t)done,
					corun_now() + PATIENCE);
		if (r <= 0)
			CHECK_FAIL("corun_pread at %lld: %zd (%s)", (long long)off, r,
				   r < 0 ? strerror(errno) : "end of file");
		done += (size_t)r;
	}
}

/* A file of `size` bytes of file_byte(), written with plain calls, in the
 * page cache. */
static int make_file(const char *name, size_t size)
{
	int fd = openat(dir_fd, name, O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	unsigned char chunk[1 << 16];
	for (size_t off = 0; off < size; off += sizeof chunk) {
		size_t k = size - off < sizeof chunk ? size - off : sizeof chunk;
		for (size_t i = 0; i < k; i++)
			chunk[i] = file_byte(off + i);
		CHECK_EQ(pwrite(fd, chunk, k, (off_t)off), (ssize_t)k);
	}
	return fd;
}

/* ---- what they do */
static void basics(void)
{
	watchdog(60);
	make_dir();
	int fd = corun_openat(dir_fd, "a", O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600,
			      corun_now() + PATIENCE);
	CHECK(fd >= 0);
	CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	struct stat st;
	CHECK_EQ(fstat(fd, &st), 0);
	CHECK_EQ(st.st_mode & 0777, 0600);
	pwrite_all(fd, "hello, ", 7, 0);
	pwrite_all(fd, "world", 5, 7);
	pwrite_all(fd, "!", 1, 4096 * 3); /* a hole between */
	CHECK_EQ(corun_fsync(fd, corun_now() + PATIENCE), 0);
	CHECK_EQ(corun_fdatasync(fd, corun_now() + PATIENCE), 0);
	char buf[32];
	memset(buf, FILL, sizeof buf);
	CHECK_EQ(corun_pread(fd, buf, 12, 0, corun_now() + PATIENCE), 12);
	CHECK(memcmp(buf, "hello, world", 12) == 0);
	CHECK_EQ((unsigned char)buf[12], FILL); /* not a byte more */
	CHECK_EQ(corun_pread(fd, buf, 4, 100, corun_now() + PATIENCE), 4);
	CHECK(memcmp(buf, "\0\0\0\0", 4) == 0); /* the hole reads as zeros */
	CHECK_EQ(corun_pread(fd, buf, sizeof buf, 4096 * 3, corun_now() + PATIENCE), 1);
	CHECK_EQ(buf[0], '!');
	CHECK_EQ(corun_pread(fd, buf, sizeof buf, 4096 * 3 + 1, corun_now() + PATIENCE), 0);
	CHECK_EQ(corun_pread(fd, buf, sizeof buf, 1 << 30, corun_now() + PATIENCE), 0);
	CHECK_EQ(corun_pread(fd, buf, 0, 0, corun_now() + PATIENCE), 0);
	/* pread and pwrite do not move the file offset. */
	CHECK_EQ(lseek(fd, 0, SEEK_CUR), 0);
	/* The same file, opened again by path, read only. */
	char path[96];
	snprintf(path, sizeof path, "%s/a", dir);
	int ro = corun_openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0, corun_now() + PATIENCE);
	CHECK(ro >= 0);
	CHECK_EQ(corun_pread(ro, buf, 5, 7, corun_now() + PATIENCE), 5);
	CHECK(memcmp(buf, "world", 5) == 0);
	CHECK_ERRNO(corun_pwrite(ro, "x", 1, 0, corun_now() + PATIENCE), EBADF);
	CHECK_EQ(corun_close(ro), 0);
	/* Errors, as the system calls give them. */
	CHECK_ERRNO(corun_openat(dir_fd, "a", O_CREAT | O_EXCL | O_RDWR, 0600,
				 corun_now() + PATIENCE), EEXIST);
	CHECK_ERRNO(corun_openat(dir_fd, "missing", O_RDONLY, 0, corun_now() + PATIENCE), ENOENT);
	CHECK_ERRNO(corun_openat(-1, "a", O_RDONLY, 0, corun_now() + PATIENCE), EBADF);
	CHECK_ERRNO(corun_pread(-1, buf, 1, 0, corun_now() + PATIENCE), EBADF);
	CHECK_ERRNO(corun_pwrite(-1, buf, 1, 0, corun_now() + PATIENCE), EBADF);
	CHECK_ERRNO(corun_fsync(-1, corun_now() + PATIENCE), EBADF);
	CHECK_ERRNO(corun_fdatasync(-1, corun_now() + PATIENCE), EBADF);
	/* A negative offset is EINVAL, as for pread(2) (for io_uring, -1
	 * would mean the file's current position). */
	CHECK_ERRNO(corun_pread(fd, buf, 1, -1, corun_now() + PATIENCE), EINVAL);
	CHECK_ERRNO(corun_pwrite(fd, buf, 1, -1, corun_now() + PATIENCE), EINVAL);
	CHECK_ERRNO(corun_pread(fd, buf, 1, 0, -2), EINVAL);
	CHECK_ERRNO(corun_pread(dir_fd, buf, 1, 0, corun_now() + PATIENCE), EISDIR);
	/* Not a file with offsets: ESPIPE, as pread(2) says. (io_uring's
	 * read and write take a pipe, ignoring the offset: the read waits for
	 * data.) */
	int p[2];
	CHECK_EQ(pipe2(p, O_CLOEXEC), 0);
	errno = 0;
	ssize_t r = corun_pread(p[0], buf, 1, 0, corun_now() + SOON);
	if (r != -1 || errno != ESPIPE)
		CHECK_FAIL("corun_pread on a pipe returned %zd (%s), not -1 with ESPIPE as pread(2)",
			   r, strerror(errno));
	errno = 0;
	r = corun_pwrite(p[1], buf, 1, 0, corun_now() + SOON);
	if (r != -1 || errno != ESPIPE)
		CHECK_FAIL("corun_pwrite on a pipe returned %zd (%s), not -1 with ESPIPE as pwrite(2)",
			   r, strerror(errno));
	CHECK_EQ(close(p[0]), 0);
	CHECK_EQ(close(p[1]), 0);
	CHECK_EQ(corun_close(fd), 0);
	remove_dir();
}

/* A canceled caller's file calls fail at once and do nothing. */
static void *canceled_first(void *arg)
{
	int fd = (int)(intptr_t)arg;
	CHECK_EQ(corun_cancel(corun_self()), 0);
	char buf[8];
	memset(buf, FILL, sizeof buf);
	CHECK_ERRNO(corun_pread(fd, buf, sizeof buf, 0, -1), ECANCELED);
	CHECK_EQ((unsigned char)buf[0], FILL);
	CHECK_ERRNO(corun_pwrite(fd, "XXXXXXXX", 8, 0, -1), ECANCELED);
	CHECK_ERRNO(corun_fsync(fd, -1), ECANCELED);
	CHECK_ERRNO(corun_fdatasync(fd, -1), ECANCELED);
	CHECK_ERRNO(corun_openat(dir_fd, "never", O_CREAT | O_RDWR, 0600, -1), ECANCELED);
	return NULL;
}

static void canceled_does_nothing(void)
{
	watchdog(60);
	make_dir();
	int fd = make_file("c", 4096);
	corun_t h = corun_go(canceled_first, (void *)(intptr_t)fd);
	CHECK(h > 0);
	CHECK_EQ(corun_join(h, NULL), 0);
	unsigned char b[8];
	CHECK_EQ(pread(fd, b, 8, 0), 8);
	for (int i = 0; i < 8; i++)
		CHECK_EQ(b[i], file_byte((uint64_t)i)); /* not written */
	CHECK_ERRNO(faccessat(dir_fd, "never", F_OK, 0), ENOENT); /* not made */
	CHECK_EQ(corun_close(fd), 0);
	remove_dir();
}

/* ---- many reads in flight */
enum { READERS = 256, READS_EACH = 64, BLOCK = 4096 };
#define BIG_FILE ((size_t)16 << 20)

struct reader {
	int fd;
	uint32_t x;
};

static void *random_reads(void *arg)
{
	struct reader *r = arg;
	unsigned char buf[BLOCK];
	for (int i = 0; i < READS_EACH; i++) {
		r->x ^= r->x << 13;
		r->x ^= r->x >> 17;
		r->x ^= r->x << 5;
		uint64_t off = (uint64_t)(r->x % (BIG_FILE / BLOCK)) * BLOCK;
		memset(buf, FILL, sizeof buf);
		pread_all(r->fd, buf, BLOCK, (off_t)off);
		for (size_t j = 0; j < BLOCK; j++)
			if (buf[j] != file_byte(off + j))
				CHECK_FAIL("byte %llu of the file read as 0x%02x, not 0x%02x",
					   (unsigned long long)(off + j), buf[j], file_byte(off + j));
	}
	return NULL;
}

static void many_reads(void)
{
	watchdog(120);
	make_dir();
	int fd = make_file("big", BIG_FILE);
	static struct reader r[READERS];
	corun_t h[READERS];
	for (int i = 0; i < READERS; i++) {
		r[i] = (struct reader){ fd, 0x9e3779b9u * (uint32_t)(i + 1) };
		h[i] = spawn_with(random_reads, &r[i], 64 << 10, 0);
	}
	/* And main reads too, meanwhile. */
	struct reader mine = { fd, 12345u };
	random_reads(&mine);
	for (int i = 0; i < READERS; i++)
		CHECK_EQ(corun_join(h[i], NULL), 0);
	CHECK_EQ(corun_close(fd), 0);
	remove_dir();
}

struct block_writer {
	int fd;
	int block;
};

static void *write_block(void *arg)
{
	struct block_writer *w = arg;
	unsigned char buf[BLOCK];
	uint64_t off = (uint64_t)w->block * BLOCK;
	for (size_t j = 0; j < BLOCK; j++)
		buf[j] = file_byte(off + j);
	pwrite_all(w->fd, buf, BLOCK, (off_t)off);
	if (w->block % 16 == 0)
		CHECK_EQ(corun_fdatasync(w->fd, corun_now() + PATIENCE), 0);
	return NULL;
}

/* Writes from many coroutines, each its own block, then read back. */
static void many_writes(void)
{
	watchdog(120);
	make_dir();
	int fd = corun_openat(dir_fd, "w", O_CREAT | O_RDWR | O_CLOEXEC, 0600,
			      corun_now() + PATIENCE);
	CHECK(fd >= 0);
	enum { BLOCKS = 1024 };
	static struct block_writer w[BLOCKS];
	corun_t h[BLOCKS];
	for (int i = 0; i < BLOCKS; i++) {
		w[i] = (struct block_writer){ fd, BLOCKS - 1 - i };
		h[i] = spawn_with(write_block, &w[i], 64 << 10, 0);
	}
	for (int i = 0; i < BLOCKS; i++)
		CHECK_EQ(corun_join(h[i], NULL), 0);
	CHECK_EQ(corun_fsync(fd, corun_now() + PATIENCE), 0);
	static unsigned char all[BLOCKS * BLOCK];
	CHECK_EQ(pread(fd, all, sizeof all, 0), (ssize_t)sizeof all);
	for (size_t j = 0; j < sizeof all; j++)
		if (all[j] != file_byte(j))
			CHECK_FAIL("byte %zu of the written file is wrong", j);
	CHECK_EQ(corun_close(fd), 0);
	remove_dir();
}

/* ---- a file call that blocks in the kernel, and the thread goes on */
static int ticks;
static int stop_ticking;

static void *ticker(void *arg)
{
	(void)arg;
	while (!stop_ticking) {
		CHECK_EQ(corun_sleep(MS), 0);
		ticks++;
	}
	return NULL;
}

struct opener {
	char path[96];
	int64_t after;
	int fd;
};

/* Open the FIFO's writing end after a while: that lets its reading
 * end's open, which waits in the kernel until then, complete. */
static void *open_writer_later(void *arg)
{
	struct opener *o = arg;
	CHECK_EQ(corun_sleep(o->after), 0);
	/* O_NONBLOCK: it would fail with ENXIO if no reader waited. */
	o->fd = open(o->path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	CHECK(o->fd >= 0 || errno == ENXIO); /* ENXIO: no reader (an open that was stopped) */
	return NULL;
}

static void fifo_path(char *path, size_t n)
{
	snprintf(path, n, "%s/fifo", dir);
	(void)unlink(path);
	CHECK_EQ(mkfifo(path, 0600), 0);
}

static void open_blocks_not_the_thread(void)
{
	watchdog(60);
	make_dir();
	struct opener o = { .after = 100 * MS };
	fifo_path(o.path, sizeof o.path);
	uint64_t waits = waits_file();
	ticks = 0;
	stop_ticking = 0;
	corun_t t = corun_go(ticker, NULL), w = corun_go(open_writer_later, &o);
	CHECK(t > 0 && w > 0);
	int64_t t0 = corun_now();
	int fd = corun_openat(dir_fd, "fifo", O_RDONLY | O_CLOEXEC, 0, corun_now() + PATIENCE);
	CHECK(fd >= 0);
	/* As openat(2), it waits for the writer. (io_uring's first try of an
	 * open is non-blocking, O_NONBLOCK added, which opens a FIFO without
	 * waiting; an open issued straight to its workers, IOSQE_ASYNC,
	 * waits.) */
	if (corun_now() - t0 < 100 * MS)
		CHECK_FAIL("corun_openat of a FIFO for reading returned after %.1f ms, before its "
			   "writer came: openat(2) waits for one", (double)(corun_now() - t0) / 1e6);
	stop_ticking = 1;
	CHECK_EQ(corun_join(t, NULL), 0);
	CHECK_EQ(corun_join(w, NULL), 0);
	/* A thread blocked in open(2) would have ticked not at all. */
	if (ticks < 20)
		CHECK_FAIL("the thread ticked %d times in 100 ms while an open waited", ticks);
	CHECK(o.fd >= 0);
	CHECK(waits_file() > waits);
	CHECK_EQ(write(o.fd, "f", 1), 1);
	char c;
	CHECK_EQ(corun_read(fd, &c, 1, corun_now() + SOON), 1);
	CHECK_EQ(corun_close(fd), 0);
	CHECK_EQ(close(o.fd), 0);
	remove_dir();
}

/* ---- stopped in flight */
enum stop { BY_DEADLINE, BY_CANCEL, BY_CLOSE };
static const char *const stop_name[] = { "its deadline", "corun_cancel", "corun_close" };
static const int stop_errno[] = { ETIMEDOUT, ECANCELED, EBADF };

#define HUGE_IO ((size_t)32 << 20) /* long enough to copy that it is in flight */

struct flight {
	enum stop how;
	int fd;
	int writes;
	unsigned char *buf;
	long long r;
	int err;
	int returned;
	uint64_t sum;  /* of buf, when the call returned */
	corun_t h;
};

static uint64_t checksum(const unsigned char *p, size_t n)
{
	uint64_t h = 1469598103934665603u;
	for (size_t i = 0; i < n; i += 8) {
		uint64_t v;
		memcpy(&v, p + i, sizeof v);
		h = (h ^ v) * 1099511628211u;
	}
	return h;
}

static void *file_victim(void *arg)
{
	struct flight *f = arg;
	int64_t deadline = f->how == BY_DEADLINE ? corun_now() + MS : corun_now() + PATIENCE;
	errno = 0;
	if (f->writes)
		f->r = corun_pwrite(f->fd, f->buf, HUGE_IO, 0, deadline);
	else
		f->r = corun_pread(f->fd, f->buf, HUGE_IO, 0, deadline);
	f->err = errno;
	if (f->r < 0 && f->err != stop_errno[f->how])
		CHECK_FAIL("a %s stopped by %s failed with %s, not %s",
			   f->writes ? "pwrite" : "pread", stop_name[f->how], strerror(f->err),
			   strerror(stop_errno[f->how]));
	if (f->writes)
		memset(f->buf, 'Z', HUGE_IO); /* reused: none of this may reach the file */
	f->sum = checksum(f->buf, HUGE_IO);
	f->returned = 1;
	int was = corun_shield(1);
	CHECK_EQ(corun_sleep(200 * MS), 0);
	corun_shield(was);
	if (checksum(f->buf, HUGE_IO) != f->sum)
		CHECK_FAIL("a %s stopped by %s: its buffer changed after the call returned",
			   f->writes ? "pwrite" : "pread", stop_name[f->how]);
	return NULL;
}

static void *stopper(void *arg)
{
	struct flight *f = arg;
	CHECK_EQ(corun_sleep(MS), 0);
	if (f->how == BY_CANCEL)
		CHECK_EQ(corun_cancel(f->h), 0);
	else
		CHECK_EQ(corun_close(f->fd), 0);
	return NULL;
}

static void stop_file_io(int writes, enum stop how)
{
	int fd = make_file("huge", writes ? 0 : HUGE_IO);
	if (writes)
		CHECK_EQ(ftruncate(fd, (off_t)HUGE_IO), 0); /* zeros */
	int keep = how == BY_CLOSE ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : fd;
	CHECK(keep >= 0);
	struct flight f = { .how = how, .fd = fd, .writes = writes };
	f.buf = malloc(HUGE_IO);
	CHECK(f.buf);
	memset(f.buf, writes ? 'A' : FILL, HUGE_IO);
	f.h = corun_go(file_victim, &f);
	CHECK(f.h > 0);
	corun_t s = how == BY_DEADLINE ? 0 : corun_go(stopper, &f);
	CHECK(s >= 0);
	if (s)
		CHECK_EQ(corun_join(s, NULL), 0);
	CHECK_EQ(corun_join(f.h, NULL), 0);
	fprintf(stderr, "   %s stopped by %s: %lld (%s)\n", writes ? "pwrite" : "pread",
		stop_name[how], f.r, f.r < 0 ? strerror(f.err) : "bytes");
	if (writes) {
		/* The file holds what the call said it wrote ('A'), then zeros:
		 * never a 'Z' from the buffer as it was after the call. */
		static unsigned char chunk[1 << 16];
		size_t wrote = f.r > 0 ? (size_t)f.r : 0;
		for (size_t off = 0; off < HUGE_IO; off += sizeof chunk) {
			CHECK_EQ(pread(keep, chunk, sizeof chunk, (off_t)off), (ssize_t)sizeof chunk);
			for (size_t i = 0; i < sizeof chunk; i++) {
				unsigned char c = chunk[i];
				if (c == 'Z')
					CHECK_FAIL("byte %zu of the file came from the caller's buffer "
						   "after the call returned", off + i);
				/* Bytes past the count: a call that failed may still
				 * have written some (the kernel cannot unwrite), but
				 * only what the caller gave it. */
				if (off + i < wrote && c != 'A')
					CHECK_FAIL("byte %zu, counted as written, is 0x%02x", off + i, c);
			}
		}
	} else if (f.r > 0) {
		for (size_t i = 0; i < (size_t)f.r; i++)
			if (f.buf[i] != file_byte(i))
				CHECK_FAIL("byte %zu read wrong", i);
	}
	free(f.buf);
	CHECK_EQ(corun_close(keep), 0);
	CHECK_EQ(unlinkat(dir_fd, "huge", 0), 0);
}

/* An open that waits in the kernel (a FIFO with no writer yet), stopped;
 * the writer comes later. Whether the call returned at once or when the
 * open completed, no descriptor is left that the caller was not given. */
static int64_t open_deadline;
static int opened;
static int open_err;

static void *open_fifo(void *arg)
{
	(void)arg;
	errno = 0;
	opened = corun_openat(dir_fd, "fifo", O_RDONLY | O_CLOEXEC, 0, open_deadline);
	open_err = errno;
	return NULL;
}

static void *cancel_later(void *arg)
{
	CHECK_EQ(corun_sleep(20 * MS), 0);
	CHECK_EQ(corun_cancel(*(corun_t *)arg), 0);
	return NULL;
}

static void stop_open(enum stop how)
{
	struct opener o = { .after = 300 * MS };
	fifo_path(o.path, sizeof o.path);
	long fds = open_fds();
	open_deadline = how == BY_DEADLINE ? corun_now() + 20 * MS : corun_now() + PATIENCE;
	corun_t w = corun_go(open_writer_later, &o);
	corun_t h = corun_go(open_fifo, NULL);
	CHECK(w > 0 && h > 0);
	corun_t c = how == BY_CANCEL ? corun_go(cancel_later, &h) : 0;
	CHECK(c >= 0);
	/* The canceler first: h, if its open came back at once, must not
	 * be joined (its handle gone stale) before the cancel. */
	if (c)
		CHECK_EQ(corun_join(c, NULL), 0);
	CHECK_EQ(corun_join(h, NULL), 0);
	CHECK_EQ(corun_join(w, NULL), 0);
	CHECK_EQ(corun_sleep(50 * MS), 0); /* an open that completes late has done so */
	fprintf(stderr, "   openat stopped by %s: %d (%s)\n", stop_name[how], opened,
		opened < 0 ? strerror(open_err) : "a descriptor");
	if (opened < 0)
		CHECK_EQ(open_err, stop_errno[how]);
	/* The writer's end, if a reader let it open, and the reader's if
	 * the call returned it. */
	long want = fds + (o.fd >= 0) + (opened >= 0);
	if (open_fds() != want)
		CHECK_FAIL("%ld descriptors open, not %ld: an open the call gave up on left one",
			   open_fds(), want);
	if (opened >= 0)
		CHECK_EQ(corun_close(opened), 0);
	if (o.fd >= 0)
		CHECK_EQ(close(o.fd), 0);
}

static void stopped_in_flight(void)
{
	watchdog(120);
	make_dir();
	(void)io_backend();
	for (int how = BY_DEADLINE; how <= BY_CLOSE; how++) {
		stop_file_io(0, (enum stop)how);
		stop_file_io(1, (enum stop)how);
		if (how != BY_CLOSE)
			stop_open((enum stop)how);
	}
	remove_dir();
}

/* From main: the calls drive the scheduler while they wait. */
static void *count_parks(void *arg)
{
	int *n = arg;
	for (int i = 0; i < 1000 && !stop_ticking; i++) {
		CHECK_EQ(corun_park(), 0);
		++*n;
	}
	return NULL;
}

static void from_main(void)
{
	watchdog(60);
	make_dir();
	int fd = make_file("m", BIG_FILE);
	int parks = 0;
	stop_ticking = 0;
	corun_t h = corun_go(count_parks, &parks);
	CHECK(h > 0);
	unsigned char *buf = malloc(BIG_FILE);
	CHECK(buf);
	pread_all(fd, buf, BIG_FILE, 0);
	for (size_t i = 0; i < BIG_FILE; i += 4093)
		CHECK_EQ(buf[i], file_byte(i));
	CHECK_EQ(corun_fsync(fd, corun_now() + PATIENCE), 0);
	stop_ticking = 1;
	CHECK_EQ(corun_join(h, NULL), 0);
	free(buf);
	CHECK_EQ(corun_close(fd), 0);
	remove_dir();
}

int main(int argc, char **argv)
{
	static const struct test tests[] = {
		TEST(basics),		TEST(canceled_does_nothing),
		TEST(many_reads),	TEST(many_writes),
		TEST(open_blocks_not_the_thread), TEST(stopped_in_flight),
		TEST(from_main),
	};
	return RUN_TESTS(argc, argv, tests);
}
