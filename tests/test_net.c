/*
 * Network I/O on loopback, seen from the programs that use it: echo among
 * coroutines of one runtime and across two threads' runtimes; a peer that
 * resets, one that half-closes, one that stops reading (a write that
 * blocks, times out, is canceled, then resumes, with no byte lost or
 * doubled); an accept loop that runs out of descriptors and recovers;
 * corun_close waking the coroutines that wait on the descriptor; connect
 * refused; two waiters for the same direction.
 */
#define _GNU_SOURCE
#include "helpers.h"

#include <corun.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

/* Long enough for valgrind on a busy machine; a test that hangs on a bug
 * fails with ETIMEDOUT here rather than at CTest's timeout. */
#define PATIENCE (10000 * MS)

/* ---- plumbing */
static struct sockaddr_in loopback(int port)
{
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)port);
	return sa;
}

/* A socket listening on a free loopback port, which goes in *port. */
static int listener(int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(fd >= 0);
	struct sockaddr_in sa = loopback(0);
	socklen_t len = sizeof sa;
	CHECK_EQ(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	CHECK_EQ(listen(fd, SOMAXCONN), 0);
	CHECK_EQ(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

static void connect_to(int fd, int port)
{
	struct sockaddr_in sa = loopback(port);
	if (corun_connect(fd, (struct sockaddr *)&sa, sizeof sa, corun_now() + PATIENCE) < 0)
		CHECK_FAIL("corun_connect to port %d: %s", port, strerror(errno));
}

static int dial(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(fd >= 0);
	connect_to(fd, port);
	return fd;
}

static void send_all(int fd, const void *p, size_t n)
{
	CHECK_EQ(corun_write(fd, p, n, corun_now() + PATIENCE), n);
}

static void recv_exactly(int fd, void *p, size_t n)
{
	int64_t deadline = corun_now() + PATIENCE;
	for (size_t got = 0; got < n;) {
		ssize_t r = corun_read(fd, (char *)p + got, n - got, deadline);
		if (r <= 0)
			CHECK_FAIL("corun_read after %zu of %zu bytes: %zd (%s)", got, n, r,
				   r < 0 ? strerror(errno) : "end of file");
		got += (size_t)r;
	}
}

static void round_trip(int fd, const char *msg)
{
	size_t n = strlen(msg);
	char back[256];
	CHECK(n <= sizeof back);
	send_all(fd, msg, n);
	recv_exactly(fd, back, n);
	CHECK(memcmp(back, msg, n) == 0);
}

/* Wait (from a coroutine or main) until *flag is set. */
static void await_flag(const int *flag)
{
	int64_t deadline = corun_now() + PATIENCE;
	while (!*flag) {
		CHECK(corun_now() < deadline);
		CHECK_EQ(corun_sleep(MS), 0);
	}
}

/* ---- a server: an accept loop and an echo coroutine per connection */
struct served {
	int fd;
	ssize_t end; /* what ended it: 0 (end of file), -1 (read failed), -2 (write) */
	int err;     /* errno then */
	int done;
};

static void *echo_conn(void *arg)
{
	struct served *s = arg;
	char buf[512];
	for (;;) {
		errno = 0;
		ssize_t n = corun_read(s->fd, buf, sizeof buf, -1);
		if (n <= 0) {
			s->end = n;
			s->err = errno;
			break;
		}
		if (corun_write(s->fd, buf, (size_t)n, -1) != n) {
			s->end = -2;
			s->err = errno;
			break;
		}
	}
	CHECK_EQ(corun_close(s->fd), 0);
	s->done = 1;
	return NULL;
}

struct server {
	int lfd;
	int want;          /* connections to accept, then stop */
	int accepted;
	int short_of_fds;  /* accepts that failed with EMFILE or ENFILE */
	struct served *served; /* want of them */
};

static void *accept_loop(void *arg)
{
	struct server *sv = arg;
	while (sv->accepted < sv->want) {
		int fd = corun_accept(sv->lfd, NULL, NULL, corun_now() + PATIENCE);
		if (fd < 0 && (errno == EMFILE || errno == ENFILE)) {
			/* Sleep, not wait on the socket: it is still readable. */
			sv->short_of_fds++;
			CHECK_EQ(corun_sleep(2 * MS), 0);
			continue;
		}
		if (fd < 0)
			CHECK_FAIL("corun_accept: %s", strerror(errno));
		struct served *s = &sv->served[sv->accepted++];
		s->fd = fd;
		CHECK(spawn_with(echo_conn, s, CORUN_STACK_MIN, CORUN_DETACHED) > 0);
	}
	return NULL;
}

static int start_server(struct server *sv, int want)
{
	int port;
	memset(sv, 0, sizeof *sv);
	sv->lfd = listener(&port);
	sv->want = want;
	sv->served = calloc((size_t)want, sizeof *sv->served);
	CHECK(sv->served);
	CHECK(corun_go(accept_loop, sv) > 0);
	return port;
}

static void stop_server(struct server *sv)
{
	CHECK_EQ(corun_close(sv->lfd), 0);
	free(sv->served);
}

/* ---- echo within one runtime */
enum { CLIENTS = 50, ROUNDS = 5 };

static void *echo_client(void *arg)
{
	int port = (int)(intptr_t)arg;
	int fd = dial(port);
	for (int r = 0; r < ROUNDS; r++) {
		char msg[64];
		snprintf(msg, sizeof msg, "client %d on fd %d, round %d", port, fd, r);
		round_trip(fd, msg);
	}
	CHECK_EQ(corun_close(fd), 0);
	return NULL;
}

static void echo_one_runtime(void)
{
	struct server sv;
	int port = start_server(&sv, CLIENTS);
	for (int i = 0; i < CLIENTS; i++)
		CHECK(spawn_with(echo_client, (void *)(intptr_t)port, CORUN_STACK_MIN, CORUN_DETACHED) >
		      0);
	CHECK_EQ(corun_run(), 0);
	CHECK_EQ(sv.accepted, CLIENTS);
	for (int i = 0; i < CLIENTS; i++) {
		CHECK(sv.served[i].done);
		CHECK_EQ(sv.served[i].end, 0); /* each saw its client close */
	}
	stop_server(&sv);
}

/* ---- echo across threads: the clients in a second runtime */
static void *clients_thread(void *arg)
{
	for (int i = 0; i < CLIENTS; i++)
		CHECK(spawn_with(echo_client, arg, CORUN_STACK_MIN, CORUN_DETACHED) > 0);
	CHECK_EQ(corun_run(), 0);
	return NULL;
}

static void echo_two_threads(void)
{
	struct server sv;
	int port = start_server(&sv, CLIENTS);
	pthread_t t;
	CHECK_EQ(pthread_create(&t, NULL, clients_thread, (void *)(intptr_t)port), 0);
	CHECK_EQ(corun_run(), 0);
	CHECK_EQ(pthread_join(t, NULL), 0);
	CHECK_EQ(sv.accepted, CLIENTS);
	for (int i = 0; i < CLIENTS; i++)
		CHECK_EQ(sv.served[i].end, 0);
	stop_server(&sv);
}

/* ---- a peer that resets: its reader fails, the others go on */
static struct server reset_sv;

static void *reset_client(void *arg)
{
	int port = (int)(intptr_t)arg;
	int a = dial(port);
	round_trip(a, "a1");
	int b = dial(port); /* accepted second: served[1] */
	round_trip(b, "b1");
	/* Both server coroutines now wait in corun_read. A linger of 0 makes
	 * the close send a reset instead of a FIN. */
	struct linger lg = { 1, 0 };
	CHECK_EQ(setsockopt(a, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
	CHECK_EQ(corun_close(a), 0);
	await_flag(&reset_sv.served[0].done);
	round_trip(b, "b2");
	CHECK_EQ(corun_close(b), 0);
	return NULL;
}

static void peer_resets(void)
{
	int port = start_server(&reset_sv, 2);
	CHECK(corun_go(reset_client, (void *)(intptr_t)port) > 0);
	CHECK_EQ(corun_run(), 0);
	struct served *a = &reset_sv.served[0], *b = &reset_sv.served[1];
	/* A reset that comes while the reader waits is ECONNRESET; the
	 * kernel may also report it as the end of the stream. */
	if (!(a->end == 0 || (a->end == -1 && a->err == ECONNRESET)))
		CHECK_FAIL("the reset connection's read ended with %zd (%s)", a->end,
			   strerror(a->err));
	CHECK(b->done);
	CHECK_EQ(b->end, 0);
	stop_server(&reset_sv);
}

/* ---- a peer that half-closes: the server reads to the end, then answers */
static void *answer_after_eof(void *arg)
{
	int fd = *(int *)arg;
	char buf[256];
	size_t got = 0;
	ssize_t n;
	while ((n = corun_read(fd, buf + got, sizeof buf - got, corun_now() + PATIENCE)) > 0)
		got += (size_t)n;
	CHECK_EQ(n, 0); /* the peer's FIN */
	char reply[300];
	int len = snprintf(reply, sizeof reply, "got %zu bytes: %.*s", got, (int)got, buf);
	CHECK_EQ(corun_write(fd, reply, (size_t)len, corun_now() + PATIENCE), len);
	CHECK_EQ(corun_close(fd), 0);
	return NULL;
}

static void peer_half_closes(void)
{
	int port, lfd = listener(&port);
	int c = dial(port);
	int s = corun_accept(lfd, NULL, NULL, corun_now() + PATIENCE);
	CHECK(s >= 0);
	corun_t h = corun_go(answer_after_eof, &s);
	CHECK(h > 0);
	send_all(c, "question", 8);
	CHECK_EQ(shutdown(c, SHUT_WR), 0);
	char buf[64];
	size_t got = 0;
	ssize_t n;
	while ((n = corun_read(c, buf + got, sizeof buf - 1 - got, corun_now() + PATIENCE)) > 0)
		got += (size_t)n;
	if (n != 0)
		CHECK_FAIL("the client's read ended with %zd (%s)", n, strerror(errno));
	buf[got] = 0;
	CHECK_STR_EQ(buf, "got 8 bytes: question");
	CHECK_EQ(corun_join(h, NULL), 0);
	CHECK_EQ(corun_close(c), 0);
	CHECK_EQ(corun_close(lfd), 0);
}

/* ---- a peer that stops reading */
enum { BIG = 1 << 20, TAIL = 64 << 10 };
static unsigned char pattern[BIG];

struct writing {
	int fd;
	size_t n;
	int64_t deadline;
	ssize_t r;
	int err;
	int finished;
};

static void *writer(void *arg)
{
	struct writing *w = arg;
	errno = 0;
	w->r = corun_write(w->fd, pattern, w->n, w->deadline);
	w->err = errno;
	w->finished = 1;
	return NULL;
}

/* Bytes that went out of a write that was stopped: a partial count, or
 * none (-1 with errno want). */
static size_t stopped_count(ssize_t r, int err, size_t n, int want)
{
	if (r > 0 && (size_t)r < n)
		return (size_t)r;
	if (r == -1 && err == want)
		return 0;
	CHECK_FAIL("a stopped write of %zu bytes returned %zd (%s), not a partial count or %s",
		   n, r, strerror(err), strerror(want));
}

static void peer_stops_reading(void)
{
	for (size_t i = 0; i < BIG; i++)
		pattern[i] = (unsigned char)(i * 7 + i / 251);
	int port, lfd = listener(&port);
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), small = 4096;
	CHECK(c >= 0);
	CHECK_EQ(setsockopt(c, SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
	connect_to(c, port);
	int s = corun_accept(lfd, NULL, NULL, corun_now() + PATIENCE);
	CHECK(s >= 0);
	CHECK_EQ(setsockopt(s, SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);

	/* 1. A deadline: the write waits for it, then says what went out. */
	int64_t start = corun_now();
	errno = 0;
	ssize_t r = corun_write(s, pattern, BIG, start + 100 * MS);
	int err = errno;
	CHECK(corun_now() - start >= 100 * MS);
	size_t first = stopped_count(r, err, BIG, ETIMEDOUT);

	/* 2. Canceled while it waits. */
	struct writing w2 = { s, BIG, -1, 0, 0, 0 };
	corun_t h = corun_go(writer, &w2);
	CHECK(h > 0);
	CHECK_EQ(corun_sleep(20 * MS), 0); /* it runs, and blocks */
	CHECK(!w2.finished);
	CHECK_EQ(corun_cancel(h), 0);
	CHECK_EQ(corun_join(h, NULL), 0);
	size_t second = stopped_count(w2.r, w2.err, BIG, ECANCELED);

	/* 3. The peer reads again: a blocked write goes on to the end, and
	 * the stream holds exactly what the counts said, in order. */
	struct writing w3 = { s, TAIL, -1, 0, 0, 0 };
	h = corun_go(writer, &w3);
	CHECK(h > 0);
	size_t parts[3] = { first, second, TAIL }, total = first + second + TAIL;
	unsigned char *got = malloc(total);
	CHECK(got);
	recv_exactly(c, got, total);
	CHECK_EQ(corun_join(h, NULL), 0);
	CHECK_EQ(w3.r, TAIL);
	for (size_t p = 0, off = 0; p < 3; off += parts[p++])
		if (memcmp(got + off, pattern, parts[p]) != 0)
			CHECK_FAIL("write %zu's bytes came out wrong", p + 1);
	free(got);
	CHECK_EQ(corun_close(s), 0);
	CHECK_EQ(corun_close(c), 0);
	CHECK_EQ(corun_close(lfd), 0);
}

/* ---- out of descriptors: the accept loop backs off, then recovers */
enum { FLOOD = 100, ROOM = 16, HIGH_FD = 1000 };
static int flood[FLOOD];

static void *flood_client(void *arg)
{
	struct server *sv = arg;
	/* Every connection is made, but only ROOM descriptors were left. */
	while (sv->short_of_fds == 0) {
		CHECK_EQ(corun_sleep(MS), 0);
		CHECK(sv->accepted < FLOOD);
	}
	CHECK(sv->accepted < FLOOD);
	/* In connection order, each gets its echo and closes. Its server
	 * coroutine then closes its end, a descriptor comes free, and the
	 * accept loop's next try takes the next one from the backlog: no new
	 * connection arrives to announce them. */
	for (int i = 0; i < FLOOD; i++) {
		char msg[32];
		snprintf(msg, sizeof msg, "flood %d", i);
		round_trip(flood[i], msg);
		CHECK_EQ(corun_close(flood[i]), 0);
	}
	return NULL;
}

static int flood_port;

/* A connection made after the flood is served too. */
static void *late_client(void *arg)
{
	struct server *sv = arg;
	await_flag(&sv->served[FLOOD - 1].done);
	int fd = dial(flood_port);
	round_trip(fd, "late");
	CHECK_EQ(corun_close(fd), 0);
	return NULL;
}

static void emfile_child(void)
{
	struct rlimit rl;
	CHECK_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_max < HIGH_FD + FLOOD + 16) {
		fprintf(stderr, "(skipped: the hard limit on descriptors is %lu)\n",
			(unsigned long)rl.rlim_max);
		return;
	}
	rl.rlim_cur = rl.rlim_max;
	CHECK_EQ(setrlimit(RLIMIT_NOFILE, &rl), 0);

	static struct server sv;
	flood_port = start_server(&sv, FLOOD + 1);
	/* The accept loop waits before anyone connects, as a server's does:
	 * the runtime makes its epoll instance at its first wait, and could
	 * not once descriptors have run out. */
	CHECK_EQ(corun_sleep(MS), 0);
	/* The clients' ends live above the limit about to be set, so that
	 * only the server's accepts run out. Loopback connections complete
	 * in the backlog, before any accept. */
	struct sockaddr_in sa = loopback(flood_port);
	for (int i = 0; i < FLOOD; i++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		CHECK(fd >= 0);
		flood[i] = fcntl(fd, F_DUPFD_CLOEXEC, HIGH_FD);
		CHECK(flood[i] >= HIGH_FD);
		CHECK_EQ(close(fd), 0);
		CHECK_EQ(connect(flood[i], (struct sockaddr *)&sa, sizeof sa), 0);
	}
	int lowest_free = dup(0);
	CHECK(lowest_free >= 0);
	CHECK_EQ(close(lowest_free), 0);
	rl.rlim_cur = (rlim_t)(lowest_free + ROOM);
	CHECK_EQ(setrlimit(RLIMIT_NOFILE, &rl), 0);

	CHECK(corun_go(flood_client, &sv) > 0);
	CHECK(corun_go(late_client, &sv) > 0);
	CHECK_EQ(corun_run(), 0);
	CHECK_EQ(sv.accepted, FLOOD + 1);
	CHECK(sv.short_of_fds > 0);
	for (int i = 0; i <= FLOOD; i++)
		CHECK_EQ(sv.served[i].end, 0);
	stop_server(&sv);
}

static void out_of_descriptors(void)
{
	/* valgrind keeps its own limit on descriptors and only pretends to
	 * lower the kernel's: accept would never fail. */
	if (RUNNING_ON_VALGRIND) {
		fprintf(stderr, "(skipped under valgrind)\n");
		return;
	}
	in_child(emfile_child);
}

/* ---- corun_close wakes whoever waits on the descriptor */
struct waiting {
	int fd;
	int kind; /* 0: corun_read, 1: corun_write, 2: corun_wait_fd for input */
	long long r;
	int err;
};

static void *wait_on(void *arg)
{
	struct waiting *w = arg;
	char buf[64] = { 0 };
	errno = 0;
	if (w->kind == 0)
		w->r = corun_read(w->fd, buf, sizeof buf, -1);
	else if (w->kind == 1)
		w->r = corun_write(w->fd, buf, 1, -1);
	else
		w->r = corun_wait_fd(w->fd, POLLIN, -1);
	w->err = errno;
	return NULL;
}

static void close_wakes_waiters(void)
{
	int a[2], b[2];
	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, a), 0);
	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, b), 0);
	/* Fill a[0] until not one byte more fits. */
	static char fill[64 << 10];
	while (corun_write(a[0], fill, sizeof fill, 0) > 0)
		;
	CHECK_EQ(errno, ETIMEDOUT);
	struct waiting w[3] = { { a[0], 0, 0, 0 }, { a[0], 1, 0, 0 }, { b[0], 2, 0, 0 } };
	corun_t h[3];
	for (int i = 0; i < 3; i++)
		CHECK((h[i] = corun_go(wait_on, &w[i])) > 0);
	CHECK_EQ(corun_park(), 0); /* each runs until it waits */
	CHECK_EQ(corun_close(a[0]), 0);
	CHECK_EQ(corun_close(b[0]), 0);
	for (int i = 0; i < 3; i++) {
		CHECK_EQ(corun_join(h[i], NULL), 0);
		if (w[i].r != -1 || w[i].err != EBADF)
			CHECK_FAIL("waiter %d woke with %lld (%s), not -1 EBADF", i, w[i].r,
				   strerror(w[i].err));
	}
	CHECK_EQ(close(a[1]), 0);
	CHECK_EQ(close(b[1]), 0);
}

/* ---- connect to a port where nobody listens */
static void connect_refused(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(fd >= 0);
	struct sockaddr_in sa = loopback(0);
	socklen_t len = sizeof sa;
	/* A port that was free a moment ago, bound but not listening. */
	CHECK_EQ(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	CHECK_EQ(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(c >= 0);
	CHECK_ERRNO(corun_connect(c, (struct sockaddr *)&sa, sizeof sa, corun_now() + PATIENCE),
		    ECONNREFUSED);
	CHECK_EQ(corun_close(c), 0);
	CHECK_EQ(close(fd), 0);
}

/* ---- one waiter per direction; deadline 0 does not wait */
static void *read_forever(void *arg)
{
	char c;
	CHECK_ERRNO(corun_read(*(int *)arg, &c, 1, -1), EBADF); /* woken by the close */
	return NULL;
}

static void one_waiter_per_direction(void)
{
	int p[2];
	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p), 0);
	char c;
	CHECK_ERRNO(corun_read(p[0], &c, 1, 0), ETIMEDOUT);
	corun_t h = corun_go(read_forever, &p[0]);
	CHECK(h > 0);
	CHECK_EQ(corun_park(), 0);
	CHECK_ERRNO(corun_read(p[0], &c, 1, corun_now() + PATIENCE), EBUSY);
	/* The other direction is free: the socket can take a byte now. */
	CHECK_EQ(corun_wait_fd(p[0], POLLOUT, 0) & POLLOUT, POLLOUT);
	CHECK_EQ(corun_write(p[0], "x", 1, 0), 1);
	CHECK_EQ(corun_close(p[0]), 0);
	CHECK_EQ(corun_join(h, NULL), 0);
	CHECK_EQ(close(p[1]), 0);
}

int main(int argc, char **argv)
{
	static const struct test tests[] = {
		TEST(echo_one_runtime),  TEST(echo_two_threads),    TEST(peer_resets),
		TEST(peer_half_closes),  TEST(peer_stops_reading),  TEST(out_of_descriptors),
		TEST(close_wakes_waiters), TEST(connect_refused), TEST(one_waiter_per_direction),
	};
	return RUN_TESTS(argc, argv, tests);
}
