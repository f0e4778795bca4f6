/*
 * Descriptors: reads and writes that wait on pipes and socket pairs, from
 * coroutines and from main; accept and connect on loopback; deadlines,
 * cancellation, corun_close waking waiters, one waiter per direction,
 * corun_wait_fd's level-triggered answer, fairness against coroutines that
 * never stop running, and every error return; numbers no file has (any
 * size: EBADF, and no memory), a table as sparse as the numbers used, and
 * numbers closed with close(2) and reused by another file, blocking or of
 * another kind, which must neither block the thread nor leave a waiter
 * unwoken.
 */
#define _GNU_SOURCE
#include "helpers.h"

#include <corun.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "priv.h" /* white box: no waiter left armed */

/* Long enough for valgrind on a busy machine: a deadline that only keeps
 * a broken test from hanging. */
#define PATIENCE (10000 * MS)

static int p[2]; /* a pipe: p[0] read end, p[1] write end */

static void make_pipe(void)
{
	CHECK_EQ(pipe2(p, O_CLOEXEC), 0);
}

static void close_pipe(void)
{
	CHECK_EQ(corun_close(p[0]), 0);
	CHECK_EQ(corun_close(p[1]), 0);
}

/* ---- reads and writes that wait */
static char got[64];
static void *read_one(void *arg)
{
	(void)arg;
	memset(got, 0, sizeof got);
	ssize_t n = corun_read(p[0], got, sizeof got, -1);
	return (void *)(intptr_t)n;
}

static void *write_hello(void *arg)
{
	(void)arg;
	CHECK_EQ(corun_park(), 0); /* the reader waits first */
	CHECK_EQ(corun_write(p[1], "hello", 5, -1), 5);
	return NULL;
}

static void read_waits(void)
{
	make_pipe();
	corun_t r = corun_go(read_one, NULL), w = corun_go(write_hello, NULL);
	void *n;
	CHECK_EQ(corun_join(r, &n), 0);
	CHECK_EQ((intptr_t)n, 5);
	CHECK(memcmp(got, "hello", 5) == 0);
	CHECK_EQ(corun_join(w, NULL), 0);
	/* It made the descriptor non-blocking, and left it so. */
	CHECK(fcntl(p[0], F_GETFL) & O_NONBLOCK);
	CHECK_EQ(corun_priv_fd_waiting(), 0);
	close_pipe();
}

/* More than a pipe holds: the writer waits while the reader drains. */
#define BIG (1 << 20)
static unsigned char *big_out, *big_in;
static void *write_big(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)corun_write(p[1], big_out, BIG, -1);
}

/* Read (intptr_t)arg bytes into big_in. */
static void *read_big(void *arg)
{
	size_t want = (size_t)(intptr_t)arg, have = 0;
	while (have < want) {
		size_t ask = want - have < 3000 ? want - have : 3000; /* odd sizes */
		ssize_t n = corun_read(p[0], big_in + have, ask, -1);
		CHECK(n > 0);
		have += (size_t)n;
	}
	return NULL;
}

static void write_waits(void)
{
	make_pipe();
	big_out = malloc(BIG);
	big_in = malloc(BIG);
	CHECK(big_out && big_in);
	for (size_t i = 0; i < BIG; i++)
		big_out[i] = (unsigned char)(i * 7 + (i >> 11));
	corun_t w = corun_go(write_big, NULL), r = corun_go(read_big, (void *)(intptr_t)BIG);
	void *n;
	CHECK_EQ(corun_join(w, &n), 0);
	CHECK_EQ((intptr_t)n, BIG);
	CHECK_EQ(corun_join(r, NULL), 0);
	CHECK(memcmp(big_out, big_in, BIG) == 0);
	free(big_out);
	free(big_in);
	close_pipe();
}

/* From main: the read drives the scheduler until the writer has written. */
static void *write_later(void *arg)
{
	for (int i = 0; i < 3; i++)
		CHECK_EQ(corun_park(), 0);
	CHECK_EQ(corun_write(p[1], arg, strlen(arg), -1), (ssize_t)strlen(arg));
	return NULL;
}

static void from_main(void)
{
	make_pipe();
	corun_t w = corun_go(write_later, "from main");
	char buf[32] = { 0 };
	CHECK_EQ(corun_read(p[0], buf, sizeof buf, -1), 9);
	CHECK(strcmp(buf, "from main") == 0);
	CHECK_EQ(corun_join(w, NULL), 0);
	/* And a write from main that must wait for a reader. */
	CHECK_EQ(fcntl(p[1], F_SETPIPE_SZ, 4096) >= 0, 1);
	big_out = calloc(1, 1 << 16);
	big_in = malloc(1 << 16);
	CHECK(big_out && big_in);
	corun_t r = corun_go(read_big, (void *)(intptr_t)(1 << 16));
	CHECK_EQ(corun_write(p[1], big_out, 1 << 16, -1), 1 << 16);
	CHECK_EQ(corun_join(r, NULL), 0);
	CHECK(memcmp(big_out, big_in, 1 << 16) == 0);
	free(big_out);
	free(big_in);
	close_pipe();
}

/* End of file, and a hang-up seen by corun_wait_fd. */
static void eof(void)
{
	make_pipe();
	CHECK_EQ(corun_write(p[1], "x", 1, -1), 1);
	CHECK_EQ(corun_close(p[1]), 0);
	char c;
	CHECK_EQ(corun_read(p[0], &c, 1, -1), 1);
	CHECK_EQ(corun_read(p[0], &c, 1, -1), 0);
	CHECK_EQ(corun_read(p[0], &c, 1, 0), 0); /* and stays there */
	CHECK(corun_wait_fd(p[0], POLLIN, -1) & POLLHUP);
	CHECK_EQ(corun_close(p[0]), 0);
}

/* The last data and the end of the stream in one report: the short read
 * that takes the data must not make the next read wait for a report that
 * never comes. */
static int sv[2];
static void *read_to_eof(void *arg)
{
	(void)arg;
	char buf[64];
	CHECK_EQ(corun_read(sv[0], buf, sizeof buf, -1), 3); /* waits first */
	CHECK_EQ(corun_read(sv[0], buf, sizeof buf, corun_now() + 5000 * MS), 0);
	return NULL;
}

static void data_then_eof(void)
{
	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	corun_t r = corun_go(read_to_eof, NULL);
	CHECK_EQ(corun_park(), 0); /* it waits */
	CHECK_EQ(write(sv[1], "abc", 3), 3);
	CHECK_EQ(shutdown(sv[1], SHUT_WR), 0);
	CHECK_EQ(corun_join(r, NULL), 0);
	CHECK_EQ(corun_close(sv[0]), 0);
	CHECK_EQ(corun_close(sv[1]), 0);
}

/* ---- deadlines, cancellation, close */
static void deadlines(void)
{
	make_pipe();
	char c;
	CHECK_ERRNO(corun_read(p[0], &c, 1, 0), ETIMEDOUT);
	int64_t t0 = corun_now();
	CHECK_ERRNO(corun_read(p[0], &c, 1, corun_now() + 2 * MS), ETIMEDOUT);
	CHECK(corun_now() - t0 >= 2 * MS);
	CHECK_EQ(corun_priv_timers(), 0);
	CHECK_EQ(corun_priv_fd_waiting(), 0);
	/* Deadline 0 still tries: data that is there is read. */
	CHECK_EQ(write(p[1], "y", 1), 1);
	CHECK_EQ(corun_read(p[0], &c, 1, 0), 1);
	CHECK_EQ(c, 'y');
	CHECK_ERRNO(corun_read(p[0], &c, 1, -2), EINVAL);
	CHECK_ERRNO(corun_wait_fd(p[0], POLLIN, 0), ETIMEDOUT);
	close_pipe();
}

static void *read_canceled(void *arg)
{
	(void)arg;
	char c;
	CHECK_ERRNO(corun_read(p[0], &c, 1, -1), ECANCELED);
	CHECK_ERRNO(corun_read(p[0], &c, 1, -1), ECANCELED); /* and from now on */
	return NULL;
}

static void *read_gets_ebadf(void *arg)
{
	(void)arg;
	char c;
	CHECK_ERRNO(corun_read(p[0], &c, 1, -1), EBADF);
	return NULL;
}

static void *read_busy(void *arg)
{
	(void)arg;
	char c;
	CHECK_ERRNO(corun_read(p[0], &c, 1, -1), EBUSY);
	return NULL;
}

static void cancel_and_close(void)
{
	make_pipe();
	cancel_waiting(read_canceled, NULL);
	CHECK_EQ(corun_priv_fd_waiting(), 0);
	/* Its waiter is gone: another may wait now. Two at once may not. */
	corun_t a = corun_go(read_gets_ebadf, NULL), b = corun_go(read_busy, NULL);
	CHECK_EQ(corun_park(), 0); /* a waits, b is refused */
	CHECK_EQ(corun_join(b, NULL), 0);
	CHECK_EQ(corun_priv_fd_waiting(), 1);
	/* corun_close wakes the waiter with EBADF instead of leaving it. */
	int fd = p[0];
	CHECK_EQ(corun_close(fd), 0);
	CHECK_EQ(corun_join(a, NULL), 0);
	CHECK_EQ(corun_priv_fd_waiting(), 0);
	CHECK_EQ(corun_close(p[1]), 0);
	/* The number, reused by a new pipe, starts clean. */
	make_pipe();
	CHECK_EQ(corun_write(p[1], "z", 1, -1), 1);
	char c;
	CHECK_EQ(corun_read(p[0], &c, 1, 0), 1);
	close_pipe();
}

/* A close that comes after a report fired the reader's wait but before the
 * reader ran: the reader must fail with EBADF, not go on to read whatever
 * file the number names by then (a new pipe that reuses it). On io_uring
 * what fired it is the read itself, done: it returns the old pipe's byte,
 * which would be lost otherwise. */
static int q[2];
static ssize_t late_n;
static int late_errno;
static char late_buf[8];
static void *late_reader(void *arg)
{
	(void)arg;
	late_n = corun_read(p[0], late_buf, sizeof late_buf, -1); /* waits: empty */
	late_errno = errno;
	return NULL;
}

static void *closer(void *arg)
{
	(void)arg;
	CHECK_EQ(corun_park(), 0); /* main's step fires the reader behind us */
	close_pipe();
	CHECK_EQ(pipe2(q, O_CLOEXEC), 0);
	CHECK_EQ(write(q[1], "new", 3), 3);
	return NULL;
}

static void close_after_fired(void)
{
	make_pipe();
	corun_t c = corun_go(closer, NULL), r = corun_go(late_reader, NULL);
	CHECK_EQ(corun_park(), 0); /* the closer parks, the reader waits */
	CHECK_EQ(write(p[1], "x", 1), 1);
	CHECK_EQ(corun_park(), 0); /* collects the report: the reader is fired */
	CHECK_EQ(corun_join(c, NULL), 0);
	CHECK_EQ(corun_join(r, NULL), 0);
	CHECK_EQ(q[0], p[0]); /* the number was reused */
	if (io_backend() == CORUN_IO_URING) {
		CHECK_EQ(late_n, 1);
		CHECK_EQ(late_buf[0], 'x');
	} else {
		CHECK_EQ(late_n, -1);
		CHECK_EQ(late_errno, EBADF);
	}
	CHECK_EQ(corun_close(q[0]), 0);
	CHECK_EQ(corun_close(q[1]), 0);
}

/* ---- corun_wait_fd */
static void *wait_in(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)corun_wait_fd(p[0], POLLIN, -1);
}

static void wait_fd(void)
{
	make_pipe();
	CHECK_EQ(corun_wait_fd(p[1], POLLOUT, 0), POLLOUT); /* ready now */
	CHECK_EQ(corun_wait_fd(p[1], POLLIN | POLLOUT, -1), POLLOUT);
	corun_t h = corun_go(wait_in, NULL);
	CHECK_EQ(corun_park(), 0);
	CHECK_EQ(write(p[1], "a", 1), 1);
	void *ev;
	CHECK_EQ(corun_join(h, &ev), 0);
	CHECK_EQ((intptr_t)ev, POLLIN);
	/* Level-triggered: still ready while the byte is unread, however
	 * often it is asked. */
	CHECK_EQ(corun_wait_fd(p[0], POLLIN, -1), POLLIN);
	CHECK_EQ(corun_wait_fd(p[0], POLLIN, 0), POLLIN);
	CHECK_ERRNO(corun_wait_fd(p[0], 0, -1), EINVAL);
	CHECK_ERRNO(corun_wait_fd(p[0], POLLPRI, -1), EINVAL);
	CHECK_ERRNO(corun_wait_fd(-1, POLLIN, -1), EBADF);
	close_pipe();
	CHECK_ERRNO(corun_wait_fd(p[0], POLLIN, -1), EBADF); /* not open */
	char c;
	CHECK_ERRNO(corun_read(p[0], &c, 1, -1), EBADF);
	CHECK_ERRNO(corun_write(p[1], &c, 1, -1), EBADF);
	CHECK_ERRNO(corun_read(-1, &c, 1, -1), EBADF);
	CHECK_ERRNO(corun_close(-1), EBADF);
}

/* ---- sockets: accept, connect, SIGPIPE */
static int listener(struct sockaddr_in *addr)
{
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(s >= 0);
	memset(addr, 0, sizeof *addr);
	addr->sin_family = AF_INET;
	addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK_EQ(bind(s, (struct sockaddr *)addr, sizeof *addr), 0);
	socklen_t len = sizeof *addr;
	CHECK_EQ(getsockname(s, (struct sockaddr *)addr, &len), 0);
	CHECK_EQ(listen(s, 16), 0);
	return s;
}

static int lsock;
static void *echo_once(void *arg)
{
	(void)arg;
	int c = corun_accept(lsock, NULL, NULL, -1);
	CHECK(c >= 0);
	CHECK(fcntl(c, F_GETFL) & O_NONBLOCK);
	CHECK(fcntl(c, F_GETFD) & FD_CLOEXEC);
	char buf[16];
	ssize_t n;
	while ((n = corun_read(c, buf, sizeof buf, -1)) > 0)
		CHECK_EQ(corun_write(c, buf, (size_t)n, -1), n);
	CHECK_EQ(n, 0);
	CHECK_EQ(corun_close(c), 0);
	return NULL;
}

static void accept_connect(void)
{
	struct sockaddr_in addr;
	lsock = listener(&addr);
	corun_t srv = corun_go(echo_once, NULL);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(s >= 0);
	CHECK_EQ(corun_connect(s, (struct sockaddr *)&addr, sizeof addr, corun_now() + 5000 * MS), 0);
	/* Connected: again is EISCONN, as connect(2) says. */
	CHECK_ERRNO(corun_connect(s, (struct sockaddr *)&addr, sizeof addr, -1), EISCONN);
	CHECK_ERRNO(corun_connect(s, (struct sockaddr *)&addr, sizeof addr, 0), EISCONN);
	for (int i = 0; i < 100; i++) {
		char out[8], in[8];
		snprintf(out, sizeof out, "m%05d", i);
		CHECK_EQ(corun_write(s, out, 7, -1), 7);
		size_t have = 0;
		while (have < 7) {
			ssize_t n = corun_read(s, in + have, 7 - have, -1);
			CHECK(n > 0);
			have += (size_t)n;
		}
		CHECK(memcmp(in, out, 7) == 0);
	}
	CHECK_EQ(shutdown(s, SHUT_WR), 0);
	CHECK_EQ(corun_join(srv, NULL), 0);
	char c;
	CHECK_EQ(corun_read(s, &c, 1, -1), 0); /* the server closed */
	CHECK_EQ(corun_close(s), 0);
	/* Nobody listens any more: refused. */
	CHECK_EQ(corun_close(lsock), 0);
	s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK_ERRNO(corun_connect(s, (struct sockaddr *)&addr, sizeof addr, -1), ECONNREFUSED);
	CHECK_EQ(corun_close(s), 0);
	/* Accept with a deadline that passes. */
	lsock = listener(&addr);
	CHECK_ERRNO(corun_accept(lsock, NULL, NULL, corun_now() + 1 * MS), ETIMEDOUT);
	CHECK_ERRNO(corun_accept(lsock, NULL, NULL, 0), ETIMEDOUT);
	CHECK_EQ(corun_close(lsock), 0);
}

static void no_sigpipe(void)
{
	int sv[2];
	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	CHECK_EQ(corun_close(sv[1]), 0);
	CHECK_ERRNO(corun_write(sv[0], "x", 1, -1), EPIPE); /* not killed */
	CHECK_EQ(corun_close(sv[0]), 0);
}

/* ---- fairness: coroutines that never wait cannot starve the waiters */
static void *write_from_thread(void *arg)
{
	(void)arg;
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	nanosleep(&ts, NULL);
	CHECK_EQ(write(p[1], "!", 1), 1);
	return NULL;
}

static int flag;
static void *spin_until_flag(void *arg)
{
	(void)arg;
	while (!flag)
		CHECK_EQ(corun_park(), 0);
	return NULL;
}

static void *read_sets_flag(void *arg)
{
	(void)arg;
	char c;
	CHECK_EQ(corun_read(p[0], &c, 1, -1), 1);
	flag = 1;
	return NULL;
}

static void busy_neighbours(void)
{
	make_pipe();
	flag = 0;
	pthread_t t;
	CHECK_EQ(pthread_create(&t, NULL, write_from_thread, NULL), 0);
	corun_go(read_sets_flag, NULL);
	corun_go(spin_until_flag, NULL);
	corun_go(spin_until_flag, NULL);
	CHECK_EQ(corun_run(), 0);
	CHECK_EQ(pthread_join(t, NULL), 0);
	close_pipe();
}


/* ---- numbers no file has, and a sparse table */
static void not_open(int fd)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	char c = 0;
	CHECK_ERRNO(corun_read(fd, &c, 1, -1), EBADF);
	CHECK_ERRNO(corun_write(fd, &c, 1, -1), EBADF);
	CHECK_ERRNO(corun_wait_fd(fd, POLLIN, -1), EBADF);
	CHECK_ERRNO(corun_accept(fd, NULL, NULL, -1), EBADF);
	CHECK_ERRNO(corun_connect(fd, (struct sockaddr *)&sa, sizeof sa, -1), EBADF);
	CHECK_ERRNO(corun_close(fd), EBADF);
}

/* Any number, however large, that no file has: EBADF from every call, and
 * nothing grows. (The largest first: a table grown to the number fails
 * them with ENOMEM, the others take gigabytes.) */
static void huge_numbers(void)
{
	static const int numbers[] = { INT_MAX, INT_MAX - 1, 1 << 30, 1 << 28, 1 << 26, 1 << 20 };
	make_pipe(); /* the runtime and a page of the table made already */
	char c;
	CHECK_ERRNO(corun_read(p[0], &c, 1, 0), ETIMEDOUT);
	size_t vm = vm_bytes();
	for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++) {
		CHECK(fcntl(numbers[i], F_GETFD) < 0);
		not_open(numbers[i]);
	}
	/* Nothing was allocated, let alone the table's gigabytes. */
	CHECK(vm_bytes() < vm + (64 << 20));
	close_pipe();
}

/* Descriptor 3-ish and one far above: the table costs what two numbers
 * cost, not what every number below the high one would. A number above a
 * limit lowered since it was opened still works: it is open. */
static int highest(void)
{
	struct rlimit rl;
	CHECK_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
	rlim_t want = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > 1000001 ? 1000001 : rl.rlim_max;
	rl.rlim_cur = want;
	CHECK_EQ(setrlimit(RLIMIT_NOFILE, &rl), 0);
	return (int)want - 1;
}

static void sparse_child(void)
{
	int high = highest();
	make_pipe();
	char c;
	CHECK_EQ(corun_write(p[1], "a", 1, -1), 1); /* the low page made */
	CHECK_EQ(corun_read(p[0], &c, 1, -1), 1);
	CHECK_EQ(dup2(p[0], high), high);
	size_t vm = vm_bytes();
	CHECK_EQ(corun_write(p[1], "b", 1, -1), 1);
	CHECK_EQ(corun_read(high, &c, 1, -1), 1);
	CHECK_EQ(c, 'b');
	/* A table of every number up to it, 32 bytes each, would map 1 MiB
	 * at 20,000 (rounded up to 32,768), 32 MiB at a million; a page and a
	 * directory fit in what malloc has, or in one more step of its heap.
	 * The address space, since resident memory is counted in batches of
	 * pages; not under sanitizers or valgrind, whose allocators map
	 * memory of their own. */
	if (EXACT_MAPPINGS)
		CHECK(vm_bytes() < vm + (512 << 10));
	/* The limit lowered below it: still open, still served. */
	struct rlimit rl;
	CHECK_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
	rl.rlim_cur = 64;
	CHECK_EQ(setrlimit(RLIMIT_NOFILE, &rl), 0);
	CHECK_EQ(corun_write(p[1], "c", 1, -1), 1);
	CHECK_EQ(corun_read(high, &c, 1, -1), 1);
	CHECK_EQ(c, 'c');
	CHECK_ERRNO(corun_read(high - 1, &c, 1, 0), EBADF);
	CHECK_EQ(corun_close(high), 0);
	CHECK_ERRNO(corun_read(high, &c, 1, 0), EBADF);
	close_pipe();
}

static void sparse_table(void)
{
	in_child(sparse_child); /* it raises and lowers the limit */
}

/* ---- numbers closed with close(2) and reused: in a child, with a
 * watchdog, so that a thread blocked for good fails the test rather than
 * hanging it */
static void watched(void (*fn)(void))
{
	struct child c;
	run_child(&c, fn);
	fputs(c.err, stderr);
	if (c.signaled)
		CHECK_FAIL("the child died of signal %d (%s)%s", c.sig, strsignal(c.sig),
			   c.sig == SIGALRM ? ": its thread was blocked" : "");
	CHECK(c.exited);
	CHECK_EQ(c.code, 0);
}

/* The case: a pipe read once, closed with close(2), and a new,
 * blocking pipe under the same numbers. A read with a deadline must meet
 * it; so must a write to the new pipe filled up. */
static void reused_blocking_child(void)
{
	alarm(30);
	char c;
	make_pipe();
	CHECK_EQ(corun_write(p[1], "x", 1, -1), 1);
	CHECK_EQ(corun_read(p[0], &c, 1, -1), 1); /* all it asked for: still "ready" */
	CHECK_EQ(close(p[0]), 0);
	CHECK_EQ(close(p[1]), 0);
	int q[2];
	CHECK_EQ(pipe(q), 0); /* blocking */
	CHECK(q[0] == p[0] && q[1] == p[1]);
	CHECK_ERRNO(corun_read(q[0], &c, 1, corun_now() + 100 * MS), ETIMEDOUT);
	/* Filled up, then blocking again: a write would block. */
	int fl = fcntl(q[1], F_GETFL);
	CHECK_EQ(fcntl(q[1], F_SETFL, fl | O_NONBLOCK), 0);
	while (write(q[1], "y", 1) == 1)
		;
	CHECK_EQ(errno, EAGAIN);
	CHECK_EQ(fcntl(q[1], F_SETFL, fl & ~O_NONBLOCK), 0);
	CHECK_ERRNO(corun_write(q[1], "z", 1, corun_now() + 100 * MS), ETIMEDOUT);
	/* And the pipe works as any other from now on. */
	char buf[4096];
	ssize_t n;
	while ((n = corun_read(q[0], buf, sizeof buf, 0)) > 0)
		CHECK_EQ(buf[n - 1], 'y');
	CHECK_EQ(errno, ETIMEDOUT);
	CHECK_EQ(corun_write(q[1], "z", 1, -1), 1);
	CHECK_EQ(corun_read(q[0], &c, 1, -1), 1);
	CHECK_EQ(c, 'z');
	CHECK_EQ(corun_close(q[0]), 0);
	CHECK_EQ(corun_close(q[1]), 0);
}

static void reused_blocking(void)
{
	watched(reused_blocking_child);
}

/* A coroutine that writes `what` to fd once the reader waits. */
struct later {
	int fd;
	const char *what;
};

static void *write_when_waited(void *arg)
{
	struct later *l = arg;
	CHECK_EQ(corun_sleep(20 * MS), 0);
	CHECK(corun_priv_fd_waiting() > 0);
	CHECK_EQ(write(l->fd, l->what, strlen(l->what)), (ssize_t)strlen(l->what));
	return NULL;
}

/* Read `want` from fd (which some writer feeds), waiting on it. */
static void read_waits_for(int fd, int feeder, const char *want)
{
	struct later l = { feeder, want };
	corun_t w = corun_go(write_when_waited, &l);
	char buf[16] = { 0 };
	CHECK_EQ(corun_read(fd, buf, sizeof buf, corun_now() + PATIENCE), (ssize_t)strlen(want));
	CHECK(strcmp(buf, want) == 0);
	CHECK_EQ(corun_join(w, NULL), 0);
}

/* A named FIFO, which preadv2 may refuse to read without waiting where an
 * anonymous pipe is read so: it is read as other files are. */
static void named_fifo(void)
{
	char dir[] = "/tmp/corun-fifo-XXXXXX", path[64];
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof path, "%s/f", dir);
	CHECK_EQ(mkfifo(path, 0600), 0);
	int r = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	CHECK(r >= 0);
	int w = open(path, O_WRONLY | O_CLOEXEC);
	CHECK(w >= 0);
	read_waits_for(r, w, "one");
	read_waits_for(r, w, "two");
	CHECK_EQ(corun_write(w, "3", 1, -1), 1);
	char c;
	CHECK_EQ(corun_read(r, &c, 1, -1), 1);
	CHECK_EQ(c, '3');
	CHECK_EQ(corun_close(r), 0);
	CHECK_EQ(corun_close(w), 0);
	CHECK_EQ(unlink(path), 0);
	CHECK_EQ(rmdir(dir), 0);
}

/* A socket pair once waited on (registered), closed with close(2), and
 * another file under its numbers: the registration is gone with the old
 * file, and a read that waits must still be woken by the new one's data.
 * `make` makes the new pair in q (q[0] read, q[1] write). */
static void reuse_of_socket(void (*make)(int q[2]))
{
	int sv[2], q[2];
	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	read_waits_for(sv[0], sv[1], "one"); /* registered; came short: "not ready" */
	CHECK_EQ(close(sv[0]), 0);
	CHECK_EQ(close(sv[1]), 0);
	make(q);
	CHECK(q[0] == sv[0] && q[1] == sv[1]);
	read_waits_for(q[0], q[1], "two");
	read_waits_for(q[0], q[1], "three");
	CHECK_EQ(corun_close(q[0]), 0);
	CHECK_EQ(corun_close(q[1]), 0);
}

static void make_socketpair(int q[2])
{
	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, q), 0); /* blocking */
}

static void make_blocking_pipe(int q[2])
{
	CHECK_EQ(pipe(q), 0);
}

static void make_nonblocking_pipe(int q[2])
{
	CHECK_EQ(pipe2(q, O_NONBLOCK), 0);
}

static void socket_then_socket(void)
{
	reuse_of_socket(make_socketpair);
}

static void socket_then_pipe_child(void)
{
	alarm(30);
	reuse_of_socket(make_blocking_pipe);
}

static void socket_then_pipe(void)
{
	watched(socket_then_pipe_child);
}

/* Nothing about it differs from the pipe before it but its file. */
static void pipe_then_pipe(void)
{
	make_pipe();
	read_waits_for(p[0], p[1], "one");
	CHECK_EQ(close(p[0]), 0);
	CHECK_EQ(close(p[1]), 0);
	int q[2];
	make_nonblocking_pipe(q);
	CHECK(q[0] == p[0] && q[1] == p[1]);
	read_waits_for(q[0], q[1], "two");
	/* corun_wait_fd too. */
	struct later l = { q[1], "3" };
	corun_t w = corun_go(write_when_waited, &l);
	CHECK_EQ(corun_wait_fd(q[0], POLLIN, corun_now() + PATIENCE), POLLIN);
	CHECK_EQ(corun_join(w, NULL), 0);
	close_pipe();
}

/* A pipe, its read end waited on and its write end written, under numbers
 * then taken by a socket pair: reads come, and a write to a peer that is
 * gone fails with EPIPE without SIGPIPE, as on any socket. */
static void pipe_then_socket_child(void)
{
	alarm(30);
	make_pipe();
	read_waits_for(p[0], p[1], "one");
	CHECK_EQ(corun_write(p[1], "x", 1, -1), 1);
	CHECK_EQ(close(p[0]), 0);
	CHECK_EQ(close(p[1]), 0);
	int sv[2];
	make_socketpair(sv);
	CHECK(sv[0] == p[0] && sv[1] == p[1]);
	read_waits_for(sv[0], sv[1], "two");
	CHECK_EQ(close(sv[0]), 0);
	CHECK_ERRNO(corun_write(sv[1], "y", 1, corun_now() + PATIENCE), EPIPE);
	CHECK_EQ(corun_close(sv[1]), 0);
}

static void pipe_then_socket(void)
{
	watched(pipe_then_socket_child);
}

/* Closed with close(2) while a coroutine waits on it, and not reused: the
 * waiter learns it (EBADF) instead of waiting for good. */
static void *read_fails(void *arg)
{
	char c;
	CHECK_ERRNO(corun_read((int)(intptr_t)arg, &c, 1, corun_now() + PATIENCE), EBADF);
	return NULL;
}

static void closed_while_waiting(void)
{
	make_pipe();
	corun_t r = corun_go(read_fails, (void *)(intptr_t)p[0]);
	CHECK_EQ(corun_park(), 0); /* it waits */
	CHECK_EQ(corun_priv_fd_waiting(), 1);
	CHECK_EQ(close(p[0]), 0);
	CHECK_EQ(corun_join(r, NULL), 0);
	CHECK_EQ(corun_priv_fd_waiting(), 0);
	CHECK_EQ(corun_close(p[1]), 0);
}

int main(int argc, char **argv)
{
	static const struct test tests[] = {
		TEST(read_waits), TEST(write_waits), TEST(from_main),
		TEST(eof), TEST(data_then_eof), TEST(deadlines), TEST(cancel_and_close),
		TEST(close_after_fired),
		TEST(wait_fd), TEST(accept_connect), TEST(no_sigpipe),
		TEST(busy_neighbours), TEST(huge_numbers), TEST(sparse_table),
		TEST(reused_blocking), TEST(socket_then_socket), TEST(socket_then_pipe),
		TEST(pipe_then_pipe), TEST(pipe_then_socket), TEST(closed_while_waiting),
		TEST(named_fifo),
	};
	return RUN_TESTS(argc, argv, tests);
}
