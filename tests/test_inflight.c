/*
 * Operations stopped in flight: by their deadline, by corun_cancel from
 * another coroutine, and by corun_close of their descriptor from another
 * coroutine. Every descriptor call (corun_read, corun_write on a full
 * socket or pipe, corun_accept, corun_connect to a listener whose backlog
 * is full, corun_wait_fd for input and for output), on pipes, Unix socket
 * pairs and loopback TCP.
 *
 * The trap (liburing#733): on io_uring the kernel holds the caller's buffer
 * until the operation completes, and a waiter's buffer lives on its
 * coroutine's stack. A call that returns before the kernel is done with it
 * lets the kernel write into a frame that has moved on, or send bytes that
 * the program has since changed, or take data and connections that the
 * next call then never sees. So as soon as each stopped call returns, before
 * its coroutine lets any other run (a runtime that merely queued the
 * cancel has not sent it yet), the caller makes what it waited for arrive
 * (the peer writes, a client connects, the peer drains a full buffer, the
 * backlog frees); then the scheduler runs a while with the caller's frame
 * still alive, and the test checks: the buffer holds
 * its pattern, no byte went out that the call did not count, no descriptor
 * was accepted behind the program's back, no connection was made from a
 * socket it closed, the caller's next wait was not cut short, and the next
 * call finds everything that arrived.
 *
 * Races, counted end to end: a thread streams bytes while reads in main
 * meet deadlines of a few microseconds, or coroutines reading are canceled
 * at random points; and the same for writes, with the buffer overwritten
 * after each call. Whatever the kernel took must come back from a call or
 * stay in the stream: every byte, in order, once. And a close that races
 * with data arriving: the byte is either the reader's result or still
 * there, through a duplicate of the descriptor.
 */
#define _GNU_SOURCE
#include "helpers.h"

#include <corun.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PATIENCE (10000 * MS)
/* For a call whose answer is already there: a bug fails in 2 s, not 10. */
#define SOON (2000 * MS)
/* How long a call flies before it is stopped, and how long its caller
 * then stays while what it waited for arrives. */
#define FLIGHT (30 * MS)
#define LINGER (100 * MS)

#define FILL 0xA5 /* what buffers hold before a call, and must still hold after */
#define RBUF 4096
#define WBUF (64 << 10)

static int untouched(const void *p, size_t n)
{
	const unsigned char *c = p;
	for (size_t i = 0; i < n; i++)
		if (c[i] != FILL)
			return 0;
	return 1;
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
	return n - 1; /* the directory's own */
}

static void nonblocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	CHECK(fl >= 0);
	CHECK_EQ(fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
}

/* A runtime whose backend is chosen and whose own descriptors are made, so
 * that open_fds() counts only the test's. */
static void warm_up(void)
{
	(void)io_backend();
	CHECK_EQ(corun_sleep(MS), 0);
}

/* ---- pairs of descriptors */
enum pair { PIPE, UNIX, TCP };
static const char *const pair_name[] = { "pipe", "socket pair", "TCP" };

static struct sockaddr_in loopback(void)
{
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sa;
}

static void small_buffers(int fd)
{
	int small = 16 << 10;
	CHECK_EQ(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
	CHECK_EQ(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
}

/* A socket listening on loopback with this backlog; its address in *sa. */
static int listener(struct sockaddr_in *sa, int backlog)
{
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(l >= 0);
	small_buffers(l); /* the accepted sockets inherit them */
	*sa = loopback();
	socklen_t len = sizeof *sa;
	CHECK_EQ(bind(l, (struct sockaddr *)sa, sizeof *sa), 0);
	CHECK_EQ(listen(l, backlog), 0);
	CHECK_EQ(getsockname(l, (struct sockaddr *)sa, &len), 0);
	return l;
}

/* A connected pair, made without corun: fds[0] is the end the calls under
 * test use (for a pipe, the read end if `writes` is 0, else the write
 * end), fds[1] the peer, non-blocking, which the test drives with plain
 * system calls. Small buffers, so that a full one is quickly had. */
static void make_pair(enum pair kind, int writes, int fds[2])
{
	if (kind == PIPE) {
		int p[2];
		CHECK_EQ(pipe2(p, O_CLOEXEC), 0);
		CHECK(fcntl(p[1], F_SETPIPE_SZ, 4096) >= 0);
		fds[0] = writes ? p[1] : p[0];
		fds[1] = writes ? p[0] : p[1];
	} else if (kind == UNIX) {
		CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
		small_buffers(fds[0]);
		small_buffers(fds[1]);
	} else {
		struct sockaddr_in sa;
		int l = listener(&sa, 1);
		fds[1] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		CHECK(fds[1] >= 0);
		small_buffers(fds[1]);
		CHECK_EQ(connect(fds[1], (struct sockaddr *)&sa, sizeof sa), 0);
		fds[0] = accept4(l, NULL, NULL, SOCK_CLOEXEC);
		CHECK(fds[0] >= 0);
		CHECK_EQ(close(l), 0);
	}
	nonblocking(fds[1]);
}

/* Write 'f' to fd until not one byte more fits, and it stays so for a
 * tenth of a second: on loopback TCP with small buffers, room opens again
 * for some 50 ms after the first refusal (the receiver's window updates).
 * Returns how many went in. */
static size_t fill_up(int fd)
{
	static unsigned char f[16 << 10];
	memset(f, 'f', sizeof f);
	size_t filled = 0;
	for (int quiet = 0; quiet < 5;) {
		size_t before = filled;
		ssize_t n;
		while ((n = corun_write(fd, f, sizeof f, 0)) > 0)
			filled += (size_t)n;
		CHECK_EQ(errno, ETIMEDOUT);
		quiet = filled == before ? quiet + 1 : 0;
		CHECK_EQ(corun_sleep(20 * MS), 0);
	}
	return filled;
}

/* What a peer must read from an end filled by fill_up(), after a write of
 * 'A's that said it wrote `sent`: the filling, those, and nothing more,
 * until `tail`, which the test writes itself afterwards. */
struct stream_check {
	size_t pos, filled, sent;
	const char *tail;
};

static void check_byte(struct stream_check *s, unsigned char c)
{
	size_t at = s->pos++;
	if (at < s->filled) {
		if (c == 'f')
			return;
	} else if (at < s->filled + s->sent) {
		if (c == 'A')
			return;
	} else if (s->tail && at - s->filled - s->sent < strlen(s->tail)) {
		if (c == (unsigned char)s->tail[at - s->filled - s->sent])
			return;
	}
	CHECK_FAIL("byte %zu of the stream is '%c' (0x%02x): after %zu filling and %zu that the "
		   "stopped write counted, %s", at, c >= 32 && c < 127 ? c : '?', c, s->filled,
		   s->sent, c == 'Z' ? "the kernel sent the caller's buffer after the call "
		   "returned and the caller reused it" : "a byte nobody counted");
}

/* Read from the (non-blocking) peer what it holds now, checking each
 * byte; no switch. */
static void drain_now(int peer, struct stream_check *s)
{
	unsigned char buf[4096];
	ssize_t n;
	while ((n = read(peer, buf, sizeof buf)) > 0)
		for (ssize_t i = 0; i < n; i++)
			check_byte(s, buf[i]);
	CHECK(n < 0 && errno == EAGAIN);
}

/* Read from the (non-blocking) peer until it stays empty for a while,
 * checking each byte. */
static void drain(int peer, struct stream_check *s)
{
	unsigned char buf[4096];
	for (int quiet = 0; quiet < 3;) {
		ssize_t n = read(peer, buf, sizeof buf);
		if (n > 0) {
			quiet = 0;
			for (ssize_t i = 0; i < n; i++)
				check_byte(s, buf[i]);
			continue;
		}
		CHECK(n < 0 && errno == EAGAIN);
		quiet++;
		CHECK_EQ(corun_sleep(5 * MS), 0);
	}
}

/* ---- one operation stopped in flight */
enum op { READ, WRITE, ACCEPT, CONNECT, WAIT_IN, WAIT_OUT };
static const char *const op_name[] = { "corun_read", "corun_write", "corun_accept",
				       "corun_connect", "corun_wait_fd(POLLIN)",
				       "corun_wait_fd(POLLOUT)" };
enum stop { BY_DEADLINE, BY_CANCEL, BY_CLOSE };
static const char *const stop_name[] = { "its deadline", "corun_cancel", "corun_close" };
static const int stop_errno[] = { ETIMEDOUT, ECANCELED, EBADF };

struct flight {
	enum op op;
	enum stop how;
	int fd;
	struct sockaddr_in to; /* CONNECT: where; ACCEPT: the listener's address */
	long long r;           /* what the call returned */
	int err;
	size_t sent;           /* WRITE: the bytes it said it wrote */
	int returned;          /* the call returned and its result was checked */
	corun_t h;
	/* What the caller makes arrive as soon as its call returned (if
	 * `feed`): through `peer` (the pair's other end; CONNECT: the full
	 * listener), checked against `stream` (WRITE, WAIT_OUT); a client
	 * connected (ACCEPT) or the connection accepted from the backlog
	 * (CONNECT) goes in `made`. */
	int feed;
	int peer;
	struct stream_check *stream;
	int made;
};

static void arrive(struct flight *f)
{
	switch (f->op) {
	case READ:
	case WAIT_IN:
		CHECK_EQ(write(f->peer, "late data", 9), 9);
		break;
	case WRITE:
	case WAIT_OUT: /* room: a write still in the kernel goes on */
		f->stream->sent = f->sent;
		drain_now(f->peer, f->stream);
		break;
	case ACCEPT: /* the backlog takes it at once, on loopback */
		f->made = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		CHECK(f->made >= 0);
		CHECK_EQ(connect(f->made, (struct sockaddr *)&f->to, sizeof f->to), 0);
		break;
	case CONNECT: /* room in the backlog */
		f->made = accept4(f->peer, NULL, NULL, SOCK_CLOEXEC);
		CHECK(f->made >= 0);
		break;
	}
}

/* The caller, whose buffer is on its stack: the call, then a stay while
 * what it waited for arrives, its buffer checked before and after. */
static void *victim(void *arg)
{
	struct flight *f = arg;
	union {
		unsigned char bytes[WBUF];
		struct sockaddr_storage ss;
		struct sockaddr_in sa;
	} buf;
	socklen_t len = sizeof buf.ss;
	int64_t deadline = f->how == BY_DEADLINE ? corun_now() + FLIGHT : corun_now() + PATIENCE;
	memset(&buf, FILL, sizeof buf);
	errno = 0;
	switch (f->op) {
	case READ:
		f->r = corun_read(f->fd, buf.bytes, RBUF, deadline);
		break;
	case WRITE:
		memset(buf.bytes, 'A', WBUF);
		f->r = corun_write(f->fd, buf.bytes, WBUF, deadline);
		break;
	case ACCEPT:
		f->r = corun_accept(f->fd, (struct sockaddr *)&buf.ss, &len, deadline);
		break;
	case CONNECT:
		buf.sa = f->to;
		f->r = corun_connect(f->fd, (struct sockaddr *)&buf.sa, sizeof buf.sa, deadline);
		break;
	case WAIT_IN:
		f->r = corun_wait_fd(f->fd, POLLIN, deadline);
		break;
	case WAIT_OUT:
		f->r = corun_wait_fd(f->fd, POLLOUT, deadline);
		break;
	}
	f->err = errno;
	int want = stop_errno[f->how];
	if (f->op == WRITE && f->r > 0 && f->r < WBUF)
		f->sent = (size_t)f->r; /* stopped after some went out: it says how many */
	else if (f->r != -1 || f->err != want)
		CHECK_FAIL("%s stopped by %s returned %lld (%s), not -1 with %s", op_name[f->op],
			   stop_name[f->how], f->r, strerror(f->err), strerror(want));
	/* The program goes on with its memory: it reuses a write's buffer,
	 * and its copy of the address it connected to. */
	if (f->op == WRITE)
		memset(buf.bytes, 'Z', WBUF);
	if (f->feed)
		arrive(f);
	if (f->op == CONNECT) {
		memset(&buf.sa, FILL, sizeof buf.sa);
		/* After ETIMEDOUT or ECANCELED the socket's state is
		 * unspecified: the contract says close it. */
		if (f->how != BY_CLOSE)
			CHECK_EQ(corun_close(f->fd), 0);
	}
	if (f->op != WRITE && !untouched(&buf, sizeof buf))
		CHECK_FAIL("%s stopped by %s: its buffer changed when what it waited for came, "
			   "after it returned", op_name[f->op], stop_name[f->how]);
	CHECK_EQ(len, sizeof buf.ss);
	f->returned = 1;

	/* Stay, frame and buffer alive, while the test makes what the call
	 * waited for arrive. A completion of the stopped call that comes now
	 * must neither write here nor end this wait early. */
	int was = corun_shield(1);
	int64_t t0 = corun_now();
	CHECK_EQ(corun_sleep(LINGER), 0);
	if (corun_now() - t0 < LINGER)
		CHECK_FAIL("the wait after a stopped %s ended early", op_name[f->op]);
	corun_shield(was);
	if (f->op != WRITE && !untouched(&buf, sizeof buf))
		CHECK_FAIL("%s stopped by %s: the kernel wrote into its buffer after it returned",
			   op_name[f->op], stop_name[f->how]);
	CHECK_EQ(len, sizeof buf.ss);
	return NULL;
}

static void *canceler(void *arg)
{
	struct flight *f = arg;
	CHECK_EQ(corun_sleep(FLIGHT), 0);
	CHECK(!f->returned);
	CHECK_EQ(corun_cancel(f->h), 0);
	return NULL;
}

static void *closer(void *arg)
{
	struct flight *f = arg;
	CHECK_EQ(corun_sleep(FLIGHT), 0);
	CHECK(!f->returned);
	CHECK_EQ(corun_close(f->fd), 0);
	return NULL;
}

/* Wait (from main, running the scheduler) until *flag is set. */
static void await_flag(const int *flag)
{
	int64_t deadline = corun_now() + PATIENCE;
	while (!*flag) {
		CHECK(corun_now() < deadline);
		CHECK_EQ(corun_sleep(MS), 0);
	}
}

/* Start the call; return once it has returned (the caller stays). */
static void fly(struct flight *f)
{
	f->returned = 0;
	f->sent = 0;
	f->h = corun_go(victim, f);
	CHECK(f->h > 0);
	corun_t s = 0;
	if (f->how == BY_CANCEL)
		s = corun_go(canceler, f);
	else if (f->how == BY_CLOSE)
		s = corun_go(closer, f);
	CHECK(s >= 0);
	await_flag(&f->returned);
	if (s)
		CHECK_EQ(corun_join(s, NULL), 0);
}

/* The call's caller has stayed its while: it ends. */
static void land(struct flight *f)
{
	CHECK_EQ(corun_join(f->h, NULL), 0);
}

/* A read, a wait for input or output, or a write on a full end, stopped;
 * then the data arrives or the peer drains, and the next call on the
 * descriptor (a duplicate of it, when it was closed) finds it all. */
static void stop_on_pair(enum op op, enum pair kind, enum stop how)
{
	int writes = op == WRITE || op == WAIT_OUT;
	int fds[2];
	make_pair(kind, writes, fds);
	size_t filled = writes ? fill_up(fds[0]) : 0;
	/* A descriptor closed in flight: its file lives on in a duplicate
	 * that corun never saw, so what the kernel did to it shows. */
	int dup_fd = how == BY_CLOSE ? fcntl(fds[0], F_DUPFD_CLOEXEC, 0) : fds[0];
	CHECK(dup_fd >= 0);

	struct stream_check s = { 0, filled, 0, NULL };
	struct flight f = { .op = op, .how = how, .fd = fds[0], .feed = 1, .peer = fds[1],
			    .stream = &s };
	fly(&f);
	if (writes)
		drain(fds[1], &s);
	land(&f);

	char got[64];
	if (op == READ || op == WAIT_IN) {
		if (op == WAIT_IN)
			CHECK_EQ(corun_wait_fd(dup_fd, POLLIN, corun_now() + SOON), POLLIN);
		errno = 0;
		ssize_t n = corun_read(dup_fd, got, sizeof got, corun_now() + SOON);
		if (n != 9 || memcmp(got, "late data", 9) != 0)
			CHECK_FAIL("after %s stopped by %s on a %s, the next read got %zd (%s), not "
				   "the 9 bytes written", op_name[op], stop_name[how],
				   pair_name[kind], n, n < 0 ? strerror(errno) : "short");
	} else {
		drain(fds[1], &s); /* nothing late */
		CHECK_EQ(s.pos, filled + f.sent);
		if (op == WAIT_OUT)
			CHECK(corun_wait_fd(dup_fd, POLLOUT, corun_now() + SOON) & POLLOUT);
		s.tail = "tail";
		CHECK_EQ(corun_write(dup_fd, "tail", 4, corun_now() + SOON), 4);
		drain(fds[1], &s);
		CHECK_EQ(s.pos, filled + f.sent + 4);
	}
	CHECK_EQ(corun_close(dup_fd), 0);
	CHECK_EQ(close(fds[1]), 0);
}

/* An accept stopped; a client connects: no descriptor appears behind the
 * program's back, and the next accept (on a duplicate, after a close)
 * takes the connection. */
static void stop_accept(enum stop how)
{
	struct sockaddr_in sa;
	int l = listener(&sa, 16);
	int dup_l = how == BY_CLOSE ? fcntl(l, F_DUPFD_CLOEXEC, 0) : l;
	CHECK(dup_l >= 0);
	long fds = open_fds();

	struct flight f = { .op = ACCEPT, .how = how, .fd = l, .to = sa, .feed = 1 };
	fly(&f);
	int c = f.made;
	land(&f);

	/* The client's, and the listener closed, if it was. */
	if (open_fds() != fds + 1 - (how == BY_CLOSE))
		CHECK_FAIL("accept stopped by %s: %ld descriptors open, not %ld: one was accepted "
			   "after the call returned", stop_name[how], open_fds(),
			   fds + 1 - (how == BY_CLOSE));
	int a = corun_accept(dup_l, NULL, NULL, corun_now() + SOON);
	if (a < 0)
		CHECK_FAIL("accept stopped by %s: the next accept found no connection (%s): the "
			   "stopped one took it", stop_name[how], strerror(errno));
	CHECK_EQ(write(c, "!", 1), 1);
	char ch;
	CHECK_EQ(corun_read(a, &ch, 1, corun_now() + SOON), 1);
	CHECK_EQ(ch, '!');
	CHECK_EQ(corun_close(a), 0);
	CHECK_EQ(close(c), 0);
	CHECK_EQ(corun_close(dup_l), 0);
}

/* A listener whose accept queue is full (listen(0) holds one connection):
 * the kernel drops the next SYN, and a connect waits for the retry a
 * second later. Returns the listener, with the queued client in *queued;
 * -1 if the kernel did not hold the probe's connect back. */
static int backlogged(struct sockaddr_in *sa, int *queued)
{
	int l = listener(sa, 0);
	*queued = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(*queued >= 0);
	CHECK_EQ(connect(*queued, (struct sockaddr *)sa, sizeof *sa), 0);
	int probe = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(probe >= 0);
	errno = 0;
	int r = corun_connect(probe, (struct sockaddr *)sa, sizeof *sa, corun_now() + 20 * MS);
	int err = errno;
	CHECK_EQ(corun_close(probe), 0);
	if (r == -1 && err == ETIMEDOUT)
		return l;
	fprintf(stderr, "   (skipped: a connect to a full backlog got %d (%s), not a wait)\n", r,
		strerror(err));
	CHECK_EQ(close(*queued), 0);
	CHECK_EQ(close(l), 0);
	return -1;
}

/* A connect stopped while its SYN waits for room, its socket closed; then
 * the backlog frees and the SYN's retry time passes: no connection may
 * arrive from the closed socket (one the kernel still connects, held open
 * by an operation nobody canceled), and the next connect goes through. */
static void stop_connect(enum stop how)
{
	struct sockaddr_in sa;
	int queued;
	int l = backlogged(&sa, &queued);
	if (l < 0)
		return;
	struct flight f = { .op = CONNECT, .how = how, .to = sa, .feed = 1, .peer = l };
	f.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(f.fd >= 0);
	fly(&f);
	int a = f.made;
	land(&f);
	/* The SYN's first retry comes a second after it was sent. */
	CHECK_EQ(corun_sleep(1300 * MS), 0);
	errno = 0;
	int late = corun_accept(l, NULL, NULL, 0);
	if (late >= 0)
		CHECK_FAIL("connect stopped by %s: its socket, closed, connected later",
			   stop_name[how]);
	CHECK_EQ(errno, ETIMEDOUT);
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(c >= 0);
	CHECK_EQ(corun_connect(c, (struct sockaddr *)&sa, sizeof sa, corun_now() + SOON), 0);
	int b = corun_accept(l, NULL, NULL, corun_now() + SOON);
	CHECK(b >= 0);
	CHECK_EQ(corun_close(b), 0);
	CHECK_EQ(corun_close(c), 0);
	CHECK_EQ(corun_close(a), 0);
	CHECK_EQ(close(queued), 0);
	CHECK_EQ(corun_close(l), 0);
}

static void stop_every_op(enum stop how)
{
	watchdog(120);
	warm_up();
	static const enum op on_pairs[] = { READ, WRITE, WAIT_IN, WAIT_OUT };
	for (size_t i = 0; i < sizeof on_pairs / sizeof on_pairs[0]; i++)
		for (int kind = PIPE; kind <= TCP; kind++) {
			fprintf(stderr, "   %s on a %s\n", op_name[on_pairs[i]], pair_name[kind]);
			stop_on_pair(on_pairs[i], (enum pair)kind, how);
		}
	fprintf(stderr, "   corun_accept\n");
	stop_accept(how);
	fprintf(stderr, "   corun_connect\n");
	stop_connect(how);
}

static void stopped_by_deadline(void)
{
	stop_every_op(BY_DEADLINE);
}

static void stopped_by_cancel(void)
{
	stop_every_op(BY_CANCEL);
}

static void stopped_by_close(void)
{
	stop_every_op(BY_CLOSE);
}

/* ---- many calls in flight on the descriptors one coroutine closes */
struct closing {
	int fds[8];
	int n;
	const struct flight *f; /* the calls, none of which may have returned */
	size_t nf;
};

static void *close_them(void *arg)
{
	struct closing *c = arg;
	CHECK_EQ(corun_sleep(FLIGHT), 0);
	for (size_t i = 0; i < c->nf; i++)
		CHECK(!c->f[i].returned);
	for (int i = 0; i < c->n; i++)
		CHECK_EQ(corun_close(c->fds[i]), 0);
	return NULL;
}

/* A read and a write on one socket, reads, writes and waits on others, an
 * accept and a connect: one corun_close each wakes them all with EBADF,
 * and nothing hangs. Closed once by a coroutine, once by main. */
static void close_everything(int from_main)
{
	int both[2], rd[2], wr[2], win[2], wout[2], queued;
	make_pair(UNIX, 1, both);
	(void)fill_up(both[0]);
	make_pair(TCP, 0, rd);
	make_pair(PIPE, 1, wr);
	(void)fill_up(wr[0]);
	make_pair(UNIX, 0, win);
	make_pair(TCP, 1, wout);
	(void)fill_up(wout[0]);
	struct sockaddr_in sa, sb;
	int l = listener(&sa, 4);
	int m = backlogged(&sb, &queued);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(s >= 0);

	struct flight f[] = {
		{ .op = READ, .fd = both[0] },   { .op = WRITE, .fd = both[0] },
		{ .op = READ, .fd = rd[0] },     { .op = WRITE, .fd = wr[0] },
		{ .op = WAIT_IN, .fd = win[0] }, { .op = WAIT_OUT, .fd = wout[0] },
		{ .op = ACCEPT, .fd = l },       { .op = CONNECT, .fd = s, .to = sb },
	};
	size_t nf = sizeof f / sizeof f[0] - (m < 0); /* no connect without a full backlog */
	struct closing c = { { both[0], rd[0], wr[0], win[0], wout[0], l, s }, 7, f, nf };
	if (m < 0) {
		CHECK_EQ(close(s), 0);
		c.n--;
	}
	for (size_t i = 0; i < nf; i++) {
		f[i].how = BY_CLOSE;
		f[i].h = corun_go(victim, &f[i]);
		CHECK(f[i].h > 0);
	}
	if (from_main) {
		close_them(&c);
	} else {
		corun_t h = corun_go(close_them, &c);
		CHECK(h > 0);
		CHECK_EQ(corun_join(h, NULL), 0);
	}
	for (size_t i = 0; i < nf; i++)
		CHECK_EQ(corun_join(f[i].h, NULL), 0);
	int peers[] = { both[1], rd[1], wr[1], win[1], wout[1] };
	for (size_t i = 0; i < sizeof peers / sizeof peers[0]; i++)
		CHECK_EQ(close(peers[i]), 0);
	if (m >= 0) {
		CHECK_EQ(close(queued), 0);
		CHECK_EQ(close(m), 0);
	}
}

static void close_wakes_everything(void)
{
	watchdog(60);
	warm_up();
	close_everything(0);
	close_everything(1);
}

/* ---- a close that races with the data a reader waits for */
struct racing_read {
	int fd;
	long long r;
	int err;
	unsigned char buf[64];
};

static void *read_one_byte(void *arg)
{
	struct racing_read *rr = arg;
	memset(rr->buf, FILL, sizeof rr->buf);
	errno = 0;
	rr->r = corun_read(rr->fd, rr->buf, sizeof rr->buf, corun_now() + PATIENCE);
	rr->err = errno;
	return NULL;
}

struct write_then_close {
	int peer, fd;
};

static void *write_then_close(void *arg)
{
	struct write_then_close *w = arg;
	CHECK_EQ(write(w->peer, "x", 1), 1);
	CHECK_EQ(corun_close(w->fd), 0);
	return NULL;
}

static void *close_it(void *arg)
{
	CHECK_EQ(corun_close((int)(intptr_t)arg), 0);
	return NULL;
}

static void *write_from_thread(void *arg)
{
	CHECK_EQ(write((int)(intptr_t)arg, "x", 1), 1);
	return NULL;
}

static void close_races_data(void)
{
	watchdog(120);
	warm_up();
	int results[2] = { 0, 0 }; /* the byte came from the read, or stayed */
	for (int i = 0; i < 300; i++) {
		int sv[2];
		make_pair(i % 2 ? TCP : UNIX, 0, sv);
		int d = fcntl(sv[0], F_DUPFD_CLOEXEC, 0);
		CHECK(d >= 0);
		struct racing_read rr = { .fd = sv[0] };
		corun_t h = corun_go(read_one_byte, &rr);
		CHECK(h > 0);
		CHECK_EQ(corun_park(), 0); /* it waits */
		switch (i % 6) {
		case 0: /* the data, then the close, with no switch between */
			CHECK_EQ(write(sv[1], "x", 1), 1);
			CHECK_EQ(corun_close(sv[0]), 0);
			break;
		case 1: /* a step of the scheduler between: the reader may go first */
			CHECK_EQ(write(sv[1], "x", 1), 1);
			CHECK_EQ(corun_park(), 0);
			CHECK_EQ(corun_close(sv[0]), 0);
			break;
		case 2: { /* both from a coroutine */
			struct write_then_close w = { sv[1], sv[0] };
			corun_t c = corun_go(write_then_close, &w);
			CHECK(c > 0);
			CHECK_EQ(corun_join(c, NULL), 0);
			break;
		}
		case 3: { /* the close queued before the reader's wake-up: the
			   * data is reported and the reader made ready, and the
			   * closer runs before it */
			corun_t c = corun_go(close_it, (void *)(intptr_t)sv[0]);
			CHECK(c > 0);
			CHECK_EQ(write(sv[1], "x", 1), 1);
			CHECK_EQ(corun_park(), 0);
			CHECK_EQ(corun_join(c, NULL), 0);
			break;
		}
		default: { /* the data from another thread, while main closes */
			pthread_t t;
			CHECK_EQ(pthread_create(&t, NULL, write_from_thread,
						(void *)(intptr_t)sv[1]), 0);
			if (i % 6 == 5) {
				struct timespec ts = { 0, (i * 7919) % 50000 };
				nanosleep(&ts, NULL);
			}
			CHECK_EQ(corun_close(sv[0]), 0);
			CHECK_EQ(pthread_join(t, NULL), 0);
		}
		}
		CHECK_EQ(corun_join(h, NULL), 0);
		/* Settle: a byte in flight on TCP lands. */
		struct pollfd pfd = { d, POLLIN, 0 };
		(void)poll(&pfd, 1, rr.r == 1 ? 0 : 200);
		char c;
		nonblocking(d);
		ssize_t left = read(d, &c, 1);
		if (rr.r == 1) {
			CHECK_EQ(rr.buf[0], 'x');
			CHECK(untouched(rr.buf + 1, sizeof rr.buf - 1));
			if (left != -1)
				CHECK_FAIL("round %d: the reader got the byte and %zd more were there", i,
					   left);
			results[0]++;
		} else {
			if (rr.r != -1 || rr.err != EBADF)
				CHECK_FAIL("round %d: a read closed while the data came returned %lld "
					   "(%s)", i, rr.r, strerror(rr.err));
			CHECK(untouched(rr.buf, sizeof rr.buf));
			if (left != 1)
				CHECK_FAIL("round %d: the reader got EBADF and the byte is gone", i);
			results[1]++;
		}
		CHECK_EQ(close(d), 0);
		CHECK_EQ(close(sv[1]), 0);
	}
	fprintf(stderr, "   the byte: %d times read, %d times left in place\n", results[0],
		results[1]);
}

/* ---- races with deadlines and cancels, counted end to end */
#define STREAM (1 << 20)

static unsigned char stream_byte(size_t i)
{
	uint32_t x = (uint32_t)i * 2654435761u;
	return (unsigned char)(x >> 24 ^ x >> 11);
}

static uint32_t next_rand(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

static void pause_us(unsigned us)
{
	struct timespec ts = { 0, (long)us * 1000 };
	nanosleep(&ts, NULL);
}

/* A thread that writes the stream to fd in pieces of random sizes (up to
 * `piece`), with random pauses (after one piece in `every`), then closes
 * it. The fd is the peer end: blocking writes. */
struct feeder {
	int fd;
	size_t n;
	uint32_t seed;
	unsigned piece, every;
};

static void *feed(void *arg)
{
	struct feeder *fe = arg;
	int fl = fcntl(fe->fd, F_GETFL);
	CHECK_EQ(fcntl(fe->fd, F_SETFL, fl & ~O_NONBLOCK), 0);
	unsigned char chunk[1024];
	uint32_t x = fe->seed;
	for (size_t off = 0; off < fe->n;) {
		size_t k = 1 + next_rand(&x) % fe->piece;
		if (k > fe->n - off)
			k = fe->n - off;
		for (size_t j = 0; j < k; j++)
			chunk[j] = stream_byte(off + j);
		for (size_t w = 0; w < k;) {
			ssize_t r = write(fe->fd, chunk + w, k - w);
			CHECK(r > 0);
			w += (size_t)r;
		}
		off += k;
		if (next_rand(&x) % fe->every == 0)
			pause_us(next_rand(&x) % 200);
	}
	CHECK_EQ(close(fe->fd), 0);
	return NULL;
}

/* A thread that reads the stream from fd to its end, checking every byte,
 * with random pauses (after one read in `every`); the count in got. */
struct drainer {
	int fd;
	size_t got;
	uint32_t seed;
	unsigned every;
};

static void *drain_stream(void *arg)
{
	struct drainer *dr = arg;
	int fl = fcntl(dr->fd, F_GETFL);
	CHECK_EQ(fcntl(dr->fd, F_SETFL, fl & ~O_NONBLOCK), 0);
	unsigned char buf[2048];
	uint32_t x = dr->seed;
	for (;;) {
		ssize_t n = read(dr->fd, buf, 1 + next_rand(&x) % sizeof buf);
		CHECK(n >= 0);
		if (n == 0)
			break;
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != stream_byte(dr->got + (size_t)i))
				CHECK_FAIL("byte %zu of the written stream is 0x%02x, not 0x%02x: a "
					   "write sent bytes it did not count, or lost some it did",
					   dr->got + (size_t)i, buf[i], stream_byte(dr->got + (size_t)i));
		dr->got += (size_t)n;
		if (next_rand(&x) % dr->every == 0)
			pause_us(next_rand(&x) % 200);
	}
	CHECK_EQ(close(dr->fd), 0);
	return NULL;
}

/* Check n bytes read at stream position *pos into b (of cap bytes): they
 * are the stream's, and the rest of b is untouched. */
static void check_read(const unsigned char *b, size_t cap, ssize_t n, size_t *pos)
{
	for (ssize_t i = 0; i < n; i++)
		if (b[i] != stream_byte(*pos + (size_t)i))
			CHECK_FAIL("byte %zu of the stream read as 0x%02x, not 0x%02x: bytes were lost "
				   "or doubled", *pos + (size_t)i, b[i],
				   stream_byte(*pos + (size_t)i));
	if (!untouched(b + n, cap - (size_t)n))
		CHECK_FAIL("a read of %zd bytes wrote past them", n);
	*pos += (size_t)n;
}

/* Reads from main with deadlines of 0 to 200 microseconds while a thread
 * feeds the stream: every byte comes back once, in order, and a buffer
 * whose read met its deadline stays as it was, while the next four reads
 * use other buffers. */
static void read_deadline_race_on(enum pair kind)
{
	int fds[2];
	make_pair(kind, 0, fds);
	struct feeder fe = { fds[1], STREAM, 12345u + (uint32_t)kind, 1024, 4 };
	pthread_t t;
	CHECK_EQ(pthread_create(&t, NULL, feed, &fe), 0);
	enum { RING = 4, CAP = 512 };
	static unsigned char bufs[RING][CAP];
	memset(bufs, FILL, sizeof bufs);
	uint32_t x = 777u;
	size_t pos = 0;
	long timeouts = 0, reads = 0;
	for (int k = 0;; k = (k + 1) % RING) {
		unsigned char *b = bufs[k];
		if (!untouched(b, CAP))
			CHECK_FAIL("a buffer whose read met its deadline changed afterwards");
		size_t ask = 1 + next_rand(&x) % CAP;
		int64_t deadline = corun_now() + (int64_t)(next_rand(&x) % 200) * 1000;
		errno = 0;
		ssize_t n = corun_read(fds[0], b, ask, deadline);
		if (n == 0)
			break;
		reads++;
		if (n < 0) {
			CHECK_EQ(errno, ETIMEDOUT);
			CHECK(untouched(b, CAP));
			timeouts++;
			continue;
		}
		CHECK((size_t)n <= ask);
		check_read(b, CAP, n, &pos);
		memset(b, FILL, (size_t)n);
	}
	CHECK_EQ(pthread_join(t, NULL), 0);
	CHECK_EQ(pos, STREAM);
	fprintf(stderr, "   %s: %ld reads, %ld met their deadline\n", pair_name[kind], reads,
		timeouts);
	CHECK_EQ(corun_close(fds[0]), 0);
}

static void read_deadline_race(void)
{
	watchdog(120);
	for (int kind = PIPE; kind <= TCP; kind++)
		read_deadline_race_on((enum pair)kind);
}

/* Reading coroutines canceled at random points of their wait (before it,
 * during it, as data comes): each returns bytes, which must be the
 * stream's next, or ECANCELED with its buffer untouched, through a stay
 * after the call. */
struct race {
	int fd;
	size_t pos;
	int eof;
	long canceled, reads;
	uint32_t x;
	corun_t reader;
};

static void *canceled_reader(void *arg)
{
	struct race *rc = arg;
	unsigned char buf[512];
	memset(buf, FILL, sizeof buf);
	size_t ask = 1 + next_rand(&rc->x) % sizeof buf;
	errno = 0;
	ssize_t n = corun_read(rc->fd, buf, ask, corun_now() + PATIENCE);
	int err = errno;
	rc->reads++;
	if (n > 0) {
		check_read(buf, sizeof buf, n, &rc->pos);
		return NULL;
	}
	if (n == 0) {
		rc->eof = 1;
		return NULL;
	}
	CHECK_EQ(err, ECANCELED);
	CHECK(untouched(buf, sizeof buf));
	rc->canceled++;
	int was = corun_shield(1);
	CHECK_EQ(corun_sleep((int64_t)(next_rand(&rc->x) % 300) * 1000), 0);
	corun_shield(was);
	if (!untouched(buf, sizeof buf))
		CHECK_FAIL("a canceled read's buffer changed after the call returned");
	return NULL;
}

static void *random_cancel(void *arg)
{
	struct race *rc = arg;
	uint32_t r = next_rand(&rc->x);
	if (r % 3 == 0)
		for (uint32_t i = 0; i < r % 4; i++)
			CHECK_EQ(corun_park(), 0);
	else
		CHECK_EQ(corun_sleep((int64_t)(r % 150) * 1000), 0);
	CHECK_EQ(corun_cancel(rc->reader), 0);
	return NULL;
}

static void read_cancel_race_on(enum pair kind)
{
	int fds[2];
	make_pair(kind, 0, fds);
	/* Small pieces, a pause after each: most reads find the stream empty
	 * and wait, and many are canceled waiting. */
	struct feeder fe = { fds[1], STREAM / 16, 999u + (uint32_t)kind, 64, 1 };
	pthread_t t;
	CHECK_EQ(pthread_create(&t, NULL, feed, &fe), 0);
	struct race rc = { .fd = fds[0], .x = 4242u };
	while (!rc.eof) {
		rc.reader = corun_go(canceled_reader, &rc);
		CHECK(rc.reader > 0);
		corun_t c = corun_go(random_cancel, &rc);
		CHECK(c > 0);
		CHECK_EQ(corun_join(c, NULL), 0);
		CHECK_EQ(corun_join(rc.reader, NULL), 0);
	}
	CHECK_EQ(pthread_join(t, NULL), 0);
	CHECK_EQ(rc.pos, STREAM / 16);
	fprintf(stderr, "   %s: %ld reads, %ld canceled\n", pair_name[kind], rc.reads, rc.canceled);
	CHECK_EQ(corun_close(fds[0]), 0);
}

static void read_cancel_race(void)
{
	watchdog(120);
	for (int kind = PIPE; kind <= TCP; kind++)
		read_cancel_race_on((enum pair)kind);
}

/* Writes from main with deadlines of 0 to 200 microseconds to a peer that
 * a thread drains slowly: the counts the writes return add up to what
 * arrives, byte for byte, though each buffer is overwritten as soon as
 * its call returns. */
static void write_deadline_race_on(enum pair kind)
{
	int fds[2];
	make_pair(kind, 1, fds);
	struct drainer dr = { fds[1], 0, 31337u + (uint32_t)kind, 8 };
	pthread_t t;
	CHECK_EQ(pthread_create(&t, NULL, drain_stream, &dr), 0);
	static unsigned char buf[4096];
	uint32_t x = 99u;
	size_t sent = 0;
	long timeouts = 0, writes = 0;
	while (sent < STREAM) {
		size_t k = 1 + next_rand(&x) % sizeof buf;
		if (k > STREAM - sent)
			k = STREAM - sent;
		for (size_t j = 0; j < k; j++)
			buf[j] = stream_byte(sent + j);
		int64_t deadline = corun_now() + (int64_t)(next_rand(&x) % 200) * 1000;
		errno = 0;
		ssize_t n = corun_write(fds[0], buf, k, deadline);
		writes++;
		if (n < 0) {
			CHECK_EQ(errno, ETIMEDOUT);
			timeouts++;
		} else {
			CHECK(n > 0 && (size_t)n <= k);
			timeouts += (size_t)n < k;
			sent += (size_t)n;
		}
		memset(buf, 'Z', sizeof buf); /* a late send of it sends garbage */
	}
	CHECK_EQ(corun_close(fds[0]), 0);
	CHECK_EQ(pthread_join(t, NULL), 0);
	CHECK_EQ(dr.got, sent);
	fprintf(stderr, "   %s: %ld writes, %ld met their deadline\n", pair_name[kind], writes,
		timeouts);
}

static void write_deadline_race(void)
{
	watchdog(120);
	for (int kind = PIPE; kind <= TCP; kind++)
		write_deadline_race_on((enum pair)kind);
}

/* Writing coroutines canceled at random points: each says how much of its
 * piece went out (all, some, or none with ECANCELED), then scribbles over
 * its buffer; the drained stream is exactly the pieces' counted parts. */
struct wrace {
	int fd;
	size_t sent, total;
	long canceled, writes;
	uint32_t x;
	corun_t writer;
};

static void *canceled_writer(void *arg)
{
	struct wrace *wr = arg;
	unsigned char buf[64 << 10]; /* more than the buffers hold: it waits */
	size_t k = 1 + next_rand(&wr->x) % sizeof buf;
	if (k > wr->total - wr->sent)
		k = wr->total - wr->sent;
	for (size_t j = 0; j < k; j++)
		buf[j] = stream_byte(wr->sent + j);
	errno = 0;
	ssize_t n = corun_write(wr->fd, buf, k, corun_now() + PATIENCE);
	int err = errno;
	wr->writes++;
	memset(buf, 'Z', sizeof buf);
	if (n < 0) {
		CHECK_EQ(err, ECANCELED);
		wr->canceled++;
	} else {
		CHECK(n > 0 && (size_t)n <= k);
		wr->canceled += (size_t)n < k;
		wr->sent += (size_t)n;
	}
	/* Stay a while, the scribbled buffer alive. */
	int was = corun_shield(1);
	CHECK_EQ(corun_sleep((int64_t)(next_rand(&wr->x) % 300) * 1000), 0);
	corun_shield(was);
	return NULL;
}

static void *random_cancel_writer(void *arg)
{
	struct wrace *wr = arg;
	uint32_t r = next_rand(&wr->x);
	if (r % 3 == 0)
		for (uint32_t i = 0; i < r % 4; i++)
			CHECK_EQ(corun_park(), 0);
	else
		CHECK_EQ(corun_sleep((int64_t)(r % 150) * 1000), 0);
	CHECK_EQ(corun_cancel(wr->writer), 0);
	return NULL;
}

static void write_cancel_race_on(enum pair kind)
{
	int fds[2];
	make_pair(kind, 1, fds);
	struct drainer dr = { fds[1], 0, 5150u + (uint32_t)kind, 1 };
	pthread_t t;
	CHECK_EQ(pthread_create(&t, NULL, drain_stream, &dr), 0);
	struct wrace wr = { .fd = fds[0], .total = STREAM / 4, .x = 2718u };
	while (wr.sent < wr.total) {
		wr.writer = corun_go(canceled_writer, &wr);
		CHECK(wr.writer > 0);
		corun_t c = corun_go(random_cancel_writer, &wr);
		CHECK(c > 0);
		CHECK_EQ(corun_join(c, NULL), 0);
		CHECK_EQ(corun_join(wr.writer, NULL), 0);
	}
	CHECK_EQ(corun_close(fds[0]), 0);
	CHECK_EQ(pthread_join(t, NULL), 0);
	CHECK_EQ(dr.got, wr.sent);
	fprintf(stderr, "   %s: %ld writes, %ld canceled\n", pair_name[kind], wr.writes,
		wr.canceled);
}

static void write_cancel_race(void)
{
	watchdog(120);
	for (int kind = PIPE; kind <= TCP; kind++)
		write_cancel_race_on((enum pair)kind);
}

int main(int argc, char **argv)
{
	static const struct test tests[] = {
		TEST(stopped_by_deadline), TEST(stopped_by_cancel),
		TEST(stopped_by_close),    TEST(close_wakes_everything),
		TEST(close_races_data),    TEST(read_deadline_race),
		TEST(read_cancel_race),    TEST(write_deadline_race),
		TEST(write_cancel_race),
	};
	return RUN_TESTS(argc, argv, tests);
}
