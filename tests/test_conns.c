/*
 * Many connections, and peers that reset.
 *
 * Ten thousand loopback connections open at once in one thread: each makes
 * an echo round trip, waits until all ten thousand have, then makes a
 * second and closes, or resets (SO_LINGER 0) while its server coroutine
 * waits in corun_read, or asks for a reply larger than the buffers and
 * resets while its server coroutine waits in corun_write. Every round trip
 * is checked, every reset must end its server's call with an error (or the
 * end of the stream, for a read), and nothing may crash or hang. The
 * clients and the servers share one runtime when the descriptor limit
 * allows twice ten thousand; otherwise the clients run in a child process,
 * one thread too, and each side holds ten thousand.
 *
 * Then the resets one at a time, from both ends: a read and a write in
 * flight when the peer resets fail with ECONNRESET or EPIPE (a read may
 * see the end of the stream instead), later calls fail at once, and no
 * SIGPIPE comes.
 */
#define _GNU_SOURCE
#include "helpers.h"

#include <corun.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define PATIENCE (10000 * MS)

static struct sockaddr_in loopback(int port)
{
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)port);
	return sa;
}

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

static void set_buffer(int fd, int opt, int bytes)
{
	CHECK_EQ(setsockopt(fd, SOL_SOCKET, opt, &bytes, sizeof bytes), 0);
}

/* Close so that the peer gets a reset, not the end of the stream. */
static void reset(int fd)
{
	struct linger lg = { 1, 0 };
	CHECK_EQ(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
	CHECK_EQ(corun_close(fd), 0);
}

/* ---- ten thousand */
enum { CONNS = 10000, BATCH = 250 };
#define BIG_REPLY (256 << 10)
static unsigned char big[BIG_REPLY];

enum kind { ECHO, RESET_IN_READ, RESET_IN_WRITE };

/* One client in ten resets while its server reads, one in fifty while its
 * server writes. */
static enum kind kind_of(int id)
{
	return id % 50 == 7 ? RESET_IN_WRITE : id % 10 == 3 ? RESET_IN_READ : ECHO;
}

/* What a server coroutine saw of its connection. */
struct conn {
	int fd;
	int id;         /* the client's, from its first request */
	int rounds;     /* requests answered */
	int end;        /* 0: end of stream; -1: read failed; -2: the big reply; -3: write failed */
	int err;
	long long wrote; /* the big reply's corun_write */
	int done;
};

struct server {
	int lfd;
	int accepted, open, peak, ended;
	struct conn *conns; /* in accept order */
};

static struct server srv;

static void *serve(void *arg)
{
	struct conn *c = arg;
	if (++srv.open > srv.peak)
		srv.peak = srv.open;
	char line[64];
	size_t have = 0;
	for (;;) {
		errno = 0;
		ssize_t n = corun_read(c->fd, line + have, sizeof line - 1 - have,
				       corun_now() + 6 * PATIENCE);
		if (n <= 0) {
			c->end = (int)n;
			c->err = errno;
			break;
		}
		have += (size_t)n;
		char *nl = memchr(line, '\n', have);
		if (!nl) {
			CHECK(have < sizeof line - 1);
			continue;
		}
		CHECK_EQ(nl + 1 - line, have); /* one request at a time */
		if (have == 4 && memcmp(line, "big\n", 4) == 0) {
			set_buffer(c->fd, SO_SNDBUF, 4096); /* the kernel holds little of it */
			errno = 0;
			c->wrote = corun_write(c->fd, big, BIG_REPLY, corun_now() + PATIENCE);
			c->err = errno;
			c->end = -2;
			break;
		}
		CHECK_EQ(sscanf(line, "%d", &c->id), 1);
		c->rounds++;
		if (corun_write(c->fd, line, have, corun_now() + PATIENCE) != (ssize_t)have) {
			c->end = -3;
			c->err = errno;
			break;
		}
		have = 0;
	}
	srv.open--;
	CHECK_EQ(corun_close(c->fd), 0);
	c->done = 1;
	srv.ended++;
	return NULL;
}

static size_t conn_stack(void)
{
	/* Sanitizers' frames are larger. */
#if defined(UNDER_SANITIZER)
	return 64 << 10;
#else
	return 32 << 10;
#endif
}

static void *accept_loop(void *arg)
{
	(void)arg;
	while (srv.accepted < CONNS) {
		int fd = corun_accept(srv.lfd, NULL, NULL, corun_now() + 6 * PATIENCE);
		if (fd < 0)
			CHECK_FAIL("corun_accept after %d connections: %s", srv.accepted,
				   strerror(errno));
		struct conn *c = &srv.conns[srv.accepted++];
		c->fd = fd;
		c->id = -1;
		CHECK(spawn_with(serve, c, conn_stack(), CORUN_DETACHED) > 0);
	}
	return NULL;
}

/* The clients' side. */
static int server_port;
static corun_wg *all_connected;
static int clients_done;

static void round_trip(int fd, int id, int round)
{
	char out[32], in[32];
	int n = snprintf(out, sizeof out, "%d %d\n", id, round);
	CHECK_EQ(corun_write(fd, out, (size_t)n, corun_now() + PATIENCE), n);
	int64_t deadline = corun_now() + PATIENCE;
	for (int got = 0; got < n;) {
		ssize_t r = corun_read(fd, in + got, (size_t)(n - got), deadline);
		if (r <= 0)
			CHECK_FAIL("client %d, round %d: read %zd (%s) after %d of %d bytes", id,
				   round, r, r < 0 ? strerror(errno) : "end of stream", got, n);
		got += (int)r;
	}
	if (memcmp(in, out, (size_t)n) != 0)
		CHECK_FAIL("client %d, round %d: the echo differs", id, round);
}

static void *client(void *arg)
{
	int id = (int)(intptr_t)arg;
	enum kind k = kind_of(id);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		CHECK_FAIL("client %d: socket: %s", id, strerror(errno));
	if (k == RESET_IN_WRITE)
		set_buffer(fd, SO_RCVBUF, 4096);
	struct sockaddr_in sa = loopback(server_port);
	/* A SYN the full backlog dropped is sent again 1, 3, 7... s later. */
	if (corun_connect(fd, (struct sockaddr *)&sa, sizeof sa, corun_now() + 3 * PATIENCE) != 0)
		CHECK_FAIL("client %d: corun_connect: %s", id, strerror(errno));
	round_trip(fd, id, 0);
	/* All ten thousand are open now, each with its round trip made. */
	CHECK_EQ(corun_wg_done(all_connected), 0);
	CHECK_EQ(corun_wg_wait(all_connected, corun_now() + 6 * PATIENCE), 0);
	switch (k) {
	case ECHO:
		round_trip(fd, id, 1);
		CHECK_EQ(corun_close(fd), 0);
		break;
	case RESET_IN_READ: /* its server waits for the next request */
		reset(fd);
		break;
	case RESET_IN_WRITE: {
		CHECK_EQ(corun_write(fd, "big\n", 4, corun_now() + PATIENCE), 4);
		char b[512];
		CHECK(corun_read(fd, b, sizeof b, corun_now() + PATIENCE) > 0);
		/* The server fills the buffers and waits for room. */
		CHECK_EQ(corun_sleep(20 * MS), 0);
		reset(fd);
		break;
	}
	}
	clients_done++;
	return NULL;
}

static void *spawn_clients(void *arg)
{
	(void)arg;
	/* In batches, so that the listener's backlog (SOMAXCONN, 4096 by
	 * default) seldom overflows and few connects wait for a SYN's retry. */
	for (int id = 0; id < CONNS; id++) {
		CHECK(spawn_with(client, (void *)(intptr_t)id, conn_stack(), CORUN_DETACHED) > 0);
		if (id % BATCH == BATCH - 1)
			CHECK_EQ(corun_sleep(2 * MS), 0);
	}
	return NULL;
}

static void run_clients(void)
{
	all_connected = corun_wg_make();
	CHECK(all_connected);
	CHECK_EQ(corun_wg_add(all_connected, CONNS), 0);
	clients_done = 0;
	CHECK(corun_go(spawn_clients, NULL) > 0);
}

static void clients_child(void)
{
	watchdog(300);
	CHECK_EQ(corun_shutdown(), 0); /* the parent's runtime, copied: none of its work */
	run_clients();
	CHECK_EQ(corun_run(), 0);
	CHECK_EQ(clients_done, CONNS);
	CHECK_EQ(corun_wg_free(all_connected), 0);
}

static void check_served(void)
{
	CHECK_EQ(srv.accepted, CONNS);
	CHECK_EQ(srv.ended, CONNS);
	if (srv.peak != CONNS)
		CHECK_FAIL("%d connections were open at once on the server, not %d", srv.peak, CONNS);
	static unsigned char seen[CONNS];
	memset(seen, 0, sizeof seen);
	int resets_in_read = 0, resets_in_write = 0, eofs_in_read = 0;
	for (int i = 0; i < CONNS; i++) {
		struct conn *c = &srv.conns[i];
		CHECK(c->done);
		CHECK(c->id >= 0 && c->id < CONNS);
		CHECK(!seen[c->id]);
		seen[c->id] = 1;
		switch (kind_of(c->id)) {
		case ECHO:
			if (c->rounds != 2 || c->end != 0)
				CHECK_FAIL("connection %d: %d rounds, ended %d (%s), not 2 and the end "
					   "of the stream", c->id, c->rounds, c->end, strerror(c->err));
			break;
		case RESET_IN_READ:
			CHECK_EQ(c->rounds, 1);
			if (c->end == -1 && c->err == ECONNRESET)
				resets_in_read++;
			else if (c->end == 0)
				eofs_in_read++;
			else
				CHECK_FAIL("connection %d, reset while its server read: ended %d (%s)",
					   c->id, c->end, strerror(c->err));
			break;
		case RESET_IN_WRITE:
			CHECK_EQ(c->rounds, 1);
			CHECK_EQ(c->end, -2);
			if (c->wrote >= BIG_REPLY)
				CHECK_FAIL("connection %d: the reply to a peer that reset was written "
					   "whole", c->id);
			if (c->wrote < 0 && c->err != ECONNRESET && c->err != EPIPE)
				CHECK_FAIL("connection %d, reset while its server wrote: %s", c->id,
					   strerror(c->err));
			resets_in_write++;
			break;
		}
	}
	fprintf(stderr, "   resets in read: %d ECONNRESET, %d end of stream; in write: %d\n",
		resets_in_read, eofs_in_read, resets_in_write);
}

/* Soft limit raised to the hard one; the hard one is returned. */
static rlim_t raise_nofile(void)
{
	struct rlimit rl;
	CHECK_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
	rl.rlim_cur = rl.rlim_max;
	CHECK_EQ(setrlimit(RLIMIT_NOFILE, &rl), 0);
	return rl.rlim_max;
}

static void ten_thousand_child(void)
{
	watchdog(300);
	rlim_t limit = raise_nofile();
	int one_process = limit >= 2 * CONNS + 100;
	if (!one_process && limit < CONNS + 100) {
		fprintf(stderr, "   (skipped: the hard limit on descriptors is %lu, under %d)\n",
			(unsigned long)limit, CONNS + 100);
		return;
	}
	fprintf(stderr, "   descriptor limit %lu: clients %s\n", (unsigned long)limit,
		one_process ? "in the same thread" : "in a child process");
	memset(big, 'b', sizeof big);
	memset(&srv, 0, sizeof srv);
	srv.conns = calloc(CONNS, sizeof *srv.conns);
	CHECK(srv.conns);
	srv.lfd = listener(&server_port);
	double t0 = now_s();
	pid_t pid = 0;
	if (one_process) {
		run_clients();
	} else {
		fflush(stderr);
		pid = fork();
		CHECK(pid >= 0);
		if (pid == 0) {
			CHECK_EQ(close(srv.lfd), 0);
			clients_child();
			_exit(0);
		}
	}
	CHECK(corun_go(accept_loop, NULL) > 0);
	CHECK_EQ(corun_run(), 0);
	if (one_process) {
		CHECK_EQ(clients_done, CONNS);
		CHECK_EQ(corun_wg_free(all_connected), 0);
	} else {
		int status;
		CHECK_EQ(waitpid(pid, &status, 0), pid);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			CHECK_FAIL("the clients' process ended with status 0x%x", status);
	}
	check_served();
	fprintf(stderr, "   %d connections in %.2f s\n", CONNS, now_s() - t0);
	CHECK_EQ(corun_close(srv.lfd), 0);
	free(srv.conns);
}

static void ten_thousand(void)
{
	in_child(ten_thousand_child); /* it raises the descriptor limit */
}

/* ---- resets one at a time */
/* A connected pair over loopback: c[0] the client, c[1] the server's. */
static void tcp_pair(int c[2])
{
	/* Small buffers both ways (the accepted socket inherits the
	 * listener's), so that a write of BIG_REPLY waits. */
	int port, l = listener(&port);
	set_buffer(l, SO_SNDBUF, 4096);
	set_buffer(l, SO_RCVBUF, 4096);
	c[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(c[0] >= 0);
	set_buffer(c[0], SO_SNDBUF, 4096);
	set_buffer(c[0], SO_RCVBUF, 4096);
	struct sockaddr_in sa = loopback(port);
	CHECK_EQ(corun_connect(c[0], (struct sockaddr *)&sa, sizeof sa, corun_now() + PATIENCE), 0);
	c[1] = corun_accept(l, NULL, NULL, corun_now() + PATIENCE);
	CHECK(c[1] >= 0);
	CHECK_EQ(corun_close(l), 0);
}

struct call {
	int fd;
	int writes;
	long long r;
	int err;
	int returned;
};

static void *call_in_flight(void *arg)
{
	struct call *c = arg;
	char buf[512];
	errno = 0;
	if (c->writes)
		c->r = corun_write(c->fd, big, BIG_REPLY, corun_now() + PATIENCE);
	else
		c->r = corun_read(c->fd, buf, sizeof buf, corun_now() + PATIENCE);
	c->err = errno;
	c->returned = 1;
	return NULL;
}

/* The call on a[i], in flight, meets a reset from a[1 - i]; the socket is
 * dead afterwards, and says so at once. */
static void reset_during(int writes, int i)
{
	int a[2];
	tcp_pair(a);
	struct call c = { a[i], writes, 0, 0, 0 };
	corun_t h = corun_go(call_in_flight, &c);
	CHECK(h > 0);
	CHECK_EQ(corun_sleep(50 * MS), 0);
	if (c.returned)
		CHECK_FAIL("the %s was not in flight: it returned %lld", writes ? "write" : "read",
			   c.r);
	reset(a[1 - i]);
	CHECK_EQ(corun_join(h, NULL), 0);
	if (writes) {
		if (c.r >= BIG_REPLY)
			CHECK_FAIL("a write to a peer that reset wrote it all");
		if (c.r < 0 && c.err != ECONNRESET && c.err != EPIPE)
			CHECK_FAIL("a write in flight when the peer reset failed with %s",
				   strerror(c.err));
	} else if (!(c.r == 0 || (c.r == -1 && c.err == ECONNRESET))) {
		CHECK_FAIL("a read in flight when the peer reset returned %lld (%s)", c.r,
			   strerror(c.err));
	}
	/* Dead: a write fails at once, without SIGPIPE (which would end this
	 * process); a read finds the end or the error; a wait says so. */
	errno = 0;
	ssize_t w = corun_write(a[i], "x", 1, corun_now() + PATIENCE);
	if (w != -1 || (errno != EPIPE && errno != ECONNRESET))
		CHECK_FAIL("a write after the reset returned %zd (%s)", w, strerror(errno));
	char b;
	errno = 0;
	ssize_t r = corun_read(a[i], &b, 1, corun_now() + PATIENCE);
	CHECK(r == 0 || (r == -1 && errno == ECONNRESET));
	CHECK(corun_wait_fd(a[i], POLLIN | POLLOUT, corun_now() + PATIENCE) > 0);
	CHECK_EQ(corun_close(a[i]), 0);
}

static void peers_reset(void)
{
	watchdog(60);
	memset(big, 'b', sizeof big);
	for (int i = 0; i < 2; i++) {
		fprintf(stderr, "   read in flight on the %s's end\n", i ? "server" : "client");
		reset_during(0, i);
		fprintf(stderr, "   write in flight on the %s's end\n", i ? "server" : "client");
		reset_during(1, i);
	}
}

int main(int argc, char **argv)
{
	/* A SIGPIPE would end the test where corun should have kept it off. */
	signal(SIGPIPE, SIG_DFL);
	static const struct test tests[] = {
		TEST(peers_reset),
		TEST(ten_thousand),
	};
	return RUN_TESTS(argc, argv, tests);
}
