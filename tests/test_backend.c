/*
 * The I/O backend a runtime chooses, and the fallback to epoll.
 *
 * corun_stats' io_backend names the backend once a wait has made the
 * runtime choose one: the one CORUN_IO names when it is set, else io_uring
 * where the kernel lets this process make a ring, else epoll. A container
 * that refuses io_uring (Docker's default seccomp profile answers EPERM to
 * io_uring_setup; a kernel without it, ENOSYS) must get epoll and the whole
 * descriptor contract: a child installs such a filter (helpers.c), and
 * pipes, socket pairs, loopback TCP, corun_wait_fd and corun_close waking
 * a waiter are checked in it. (tests/CMakeLists.txt also runs every
 * descriptor test program whole under that filter: refuse_uring.c.)
 */
#define _GNU_SOURCE
#include "helpers.h"

#include <corun.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define PATIENCE (10000 * MS)

static const char *backend_name(int b)
{
	return b == CORUN_IO_EPOLL ? "epoll" : b == CORUN_IO_URING ? "io_uring" : "none";
}

static void expect_backend(int b, int want)
{
	if (b != want)
		CHECK_FAIL("the runtime's I/O backend is %s, not %s", backend_name(b),
			   backend_name(want));
}

/* What the environment and the kernel say this process's runtimes must
 * get; 0 where either may be right (io_uring forced on a kernel that
 * refuses it: the contract does not say). */
static int backend_expected(void)
{
	const char *env = getenv("CORUN_IO");
#ifdef CORUN_TEST_HAVE_URING
	int refused = io_uring_refusal();
#else
	int refused = ENOSYS; /* a build without the io_uring backend */
#endif
	if (env && strcmp(env, "epoll") == 0)
		return CORUN_IO_EPOLL;
	if (env && strcmp(env, "io_uring") == 0)
		return refused ? 0 : CORUN_IO_URING;
	CHECK(!env || !*env);
	return refused ? CORUN_IO_EPOLL : CORUN_IO_URING;
}

/* ---- the calls, on whichever backend: what the fallback must keep */
static void *write_after_a_while(void *arg)
{
	int fd = (int)(intptr_t)arg;
	CHECK_EQ(corun_sleep(5 * MS), 0);
	CHECK_EQ(corun_write(fd, "ping", 4, corun_now() + PATIENCE), 4);
	return NULL;
}

/* A read that waits for a writer, a read and a write that meet their
 * deadlines, and a full buffer drained to the byte: on r (read end) and w
 * (write end) of a pipe or a socket pair. */
static void pair_ops(int r, int w)
{
	char buf[64];
	corun_t h = corun_go(write_after_a_while, (void *)(intptr_t)w);
	CHECK(h > 0);
	CHECK_EQ(corun_read(r, buf, sizeof buf, corun_now() + PATIENCE), 4);
	CHECK(memcmp(buf, "ping", 4) == 0);
	CHECK_EQ(corun_join(h, NULL), 0);

	int64_t t0 = corun_now();
	CHECK_ERRNO(corun_read(r, buf, sizeof buf, t0 + 5 * MS), ETIMEDOUT);
	CHECK(corun_now() - t0 >= 5 * MS);

	static char fill[16 << 10];
	memset(fill, 'f', sizeof fill);
	size_t filled = 0;
	ssize_t n;
	while ((n = corun_write(w, fill, sizeof fill, 0)) > 0)
		filled += (size_t)n;
	CHECK_EQ(errno, ETIMEDOUT);
	t0 = corun_now();
	CHECK_ERRNO(corun_write(w, fill, sizeof fill, t0 + 5 * MS), ETIMEDOUT);
	CHECK(corun_now() - t0 >= 5 * MS);
	size_t drained = 0;
	while ((n = corun_read(r, buf, sizeof buf, 0)) > 0) {
		CHECK(memchr(buf, 'f', (size_t)n) == buf);
		drained += (size_t)n;
	}
	CHECK_EQ(errno, ETIMEDOUT);
	CHECK_EQ(drained, filled);
}

static void *echo_one_connection(void *arg)
{
	int lfd = (int)(intptr_t)arg;
	int c = corun_accept(lfd, NULL, NULL, corun_now() + PATIENCE);
	CHECK(c >= 0);
	char buf[64];
	ssize_t n;
	while ((n = corun_read(c, buf, sizeof buf, corun_now() + PATIENCE)) > 0)
		CHECK_EQ(corun_write(c, buf, (size_t)n, corun_now() + PATIENCE), n);
	CHECK_EQ(n, 0);
	CHECK_EQ(corun_close(c), 0);
	return NULL;
}

static void loopback_ops(void)
{
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(lfd >= 0);
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof sa;
	CHECK_EQ(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
	CHECK_EQ(listen(lfd, 16), 0);
	CHECK_EQ(getsockname(lfd, (struct sockaddr *)&sa, &len), 0);
	CHECK_ERRNO(corun_accept(lfd, NULL, NULL, corun_now() + 2 * MS), ETIMEDOUT);

	corun_t h = corun_go(echo_one_connection, (void *)(intptr_t)lfd);
	CHECK(h > 0);
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(c >= 0);
	CHECK_EQ(corun_connect(c, (struct sockaddr *)&sa, sizeof sa, corun_now() + PATIENCE), 0);
	for (int i = 0; i < 10; i++) {
		char out[16], in[16];
		int n = snprintf(out, sizeof out, "round %d", i);
		CHECK_EQ(corun_write(c, out, (size_t)n, corun_now() + PATIENCE), n);
		for (int got = 0; got < n;) {
			ssize_t r = corun_read(c, in + got, (size_t)(n - got), corun_now() + PATIENCE);
			CHECK(r > 0);
			got += (int)r;
		}
		CHECK(memcmp(in, out, (size_t)n) == 0);
	}
	CHECK_EQ(shutdown(c, SHUT_WR), 0);
	CHECK_EQ(corun_join(h, NULL), 0);
	char b;
	CHECK_EQ(corun_read(c, &b, 1, corun_now() + PATIENCE), 0);
	CHECK_EQ(corun_close(c), 0);
	CHECK_EQ(corun_close(lfd), 0);
}

static void *wait_readable(void *arg)
{
	return (void *)(intptr_t)corun_wait_fd((int)(intptr_t)arg, POLLIN, corun_now() + PATIENCE);
}

struct outcome {
	int fd;
	long long r;
	int err;
};

static void *read_until_closed(void *arg)
{
	struct outcome *o = arg;
	char buf[16];
	errno = 0;
	o->r = corun_read(o->fd, buf, sizeof buf, corun_now() + PATIENCE);
	o->err = errno;
	return NULL;
}

static void wait_and_close_ops(void)
{
	int sv[2];
	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	CHECK_EQ(corun_wait_fd(sv[0], POLLOUT, 0), POLLOUT);
	CHECK_ERRNO(corun_wait_fd(sv[0], POLLIN, corun_now() + 2 * MS), ETIMEDOUT);
	corun_t h = corun_go(wait_readable, (void *)(intptr_t)sv[0]);
	CHECK(h > 0);
	CHECK_EQ(corun_park(), 0); /* it waits */
	CHECK_EQ(write(sv[1], "x", 1), 1);
	void *ev;
	CHECK_EQ(corun_join(h, &ev), 0);
	CHECK_EQ((intptr_t)ev, POLLIN);
	CHECK_EQ(corun_wait_fd(sv[0], POLLIN, 0), POLLIN); /* level-triggered */

	/* corun_close wakes a reader that waits on the descriptor. */
	char c;
	CHECK_EQ(corun_read(sv[0], &c, 1, 0), 1);
	struct outcome o = { sv[0], 0, 0 };
	h = corun_go(read_until_closed, &o);
	CHECK(h > 0);
	CHECK_EQ(corun_sleep(2 * MS), 0); /* it waits */
	CHECK_EQ(corun_close(sv[0]), 0);
	CHECK_EQ(corun_join(h, NULL), 0);
	if (o.r != -1 || o.err != EBADF)
		CHECK_FAIL("a reader woken by corun_close got %lld (%s), not -1 EBADF", o.r,
			   strerror(o.err));
	CHECK_EQ(corun_close(sv[1]), 0);
}

static void descriptor_ops(void)
{
	int p[2];
	CHECK_EQ(pipe2(p, O_CLOEXEC), 0);
	pair_ops(p[0], p[1]);
	CHECK_EQ(corun_close(p[0]), 0);
	CHECK_EQ(corun_close(p[1]), 0);
	int sv[2];
	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	pair_ops(sv[0], sv[1]);
	pair_ops(sv[1], sv[0]);
	CHECK_EQ(corun_close(sv[0]), 0);
	CHECK_EQ(corun_close(sv[1]), 0);
	loopback_ops();
	wait_and_close_ops();
}

/* ---- the backend reported */
static void *backend_of_thread(void *arg)
{
	(void)arg;
	return (void *)(intptr_t)io_backend();
}

static void reported(void)
{
	watchdog(60);
	int want = backend_expected();
	int b = io_backend();
	const char *env = getenv("CORUN_IO");
	fprintf(stderr, "   CORUN_IO=%s, io_uring_setup %s%s: the runtime has %s\n",
		env ? env : "(unset)", io_uring_refusal() ? "refused: " : "allowed",
		io_uring_refusal() ? strerror(io_uring_refusal()) : "", backend_name(b));
	if (want)
		expect_backend(b, want);
	else
		fprintf(stderr, "   (io_uring forced where the kernel refuses it: not checked)\n");
	/* Every thread's runtime chooses the same way. */
	CHECK_EQ((intptr_t)on_thread(backend_of_thread, NULL), b);
	/* And keeps it, whatever its descriptors are. */
	descriptor_ops();
	CHECK_EQ(io_backend(), b);
}

/* io_uring_enter is counted on io_uring and never made on epoll; waits on
 * descriptors are counted on both. */
static void counted(void)
{
	watchdog(60);
	int b = io_backend();
	struct corun_stats s0, s1;
	memset(&s0, 0, sizeof s0);
	s0.size = sizeof s0;
	s1 = s0;
	CHECK_EQ(corun_stats(&s0), 0);
	descriptor_ops();
	CHECK_EQ(corun_stats(&s1), 0);
	CHECK(s1.waits_fd > s0.waits_fd);
	if (b == CORUN_IO_URING)
		CHECK(s1.io_enters > s0.io_enters);
	else
		CHECK_EQ(s1.io_enters, 0);
}

/* ---- the fallback: io_uring refused, as a container refuses it */
static int refusal; /* the errno the child's filter answers with */

static void refused_child(void)
{
	watchdog(60);
	/* The child's copy of the parent's runtime goes (it has no
	 * coroutines), so that the filter meets a runtime made after it. */
	CHECK_EQ(corun_shutdown(), 0);
	/* The default choice, not one forced by the environment. */
	CHECK_EQ(unsetenv("CORUN_IO"), 0);
	if (refuse_io_uring(refusal) != 0) {
		/* qemu-user refuses to install a filter at all (EINVAL) */
		CHECK(errno == ENOSYS || (errno == EINVAL && getenv("CORUN_TEST_EMULATED")));
		fprintf(stderr, "   (skipped: no seccomp filter for this processor)\n");
		return;
	}
	CHECK_EQ(io_uring_refusal(), refusal); /* the filter works */
	expect_backend(io_backend(), CORUN_IO_EPOLL);
	descriptor_ops();
	expect_backend(io_backend(), CORUN_IO_EPOLL);
	if (threads_after_fork())
		expect_backend((int)(intptr_t)on_thread(backend_of_thread, NULL),
			       CORUN_IO_EPOLL);
}

/* The same child, but the parent's runtime had chosen its backend (where
 * the kernel allowed it, io_uring) before the fork: a choice made once per
 * process must not carry over to a child that io_uring is refused to. */
static void refused_after_choice_child(void)
{
	watchdog(60);
	CHECK_EQ(corun_shutdown(), 0);
	CHECK_EQ(unsetenv("CORUN_IO"), 0);
	if (refuse_io_uring(refusal) != 0) {
		fprintf(stderr, "   (skipped: no seccomp filter for this processor)\n");
		return;
	}
	descriptor_ops();
	expect_backend(io_backend(), CORUN_IO_EPOLL);
}

static void refused_eperm(void)
{
	refusal = EPERM;
	in_child(refused_child);
}

static void refused_enosys(void)
{
	refusal = ENOSYS;
	in_child(refused_child);
}

static void refused_after_parent_chose(void)
{
	(void)io_backend(); /* the parent's runtime chooses first */
	refusal = EPERM;
	in_child(refused_after_choice_child);
}

/* No locked memory at all: kernels before 5.12 charge a ring to
 * RLIMIT_MEMLOCK and refuse it with ENOMEM; later ones charge the memory
 * cgroup. Whichever backend that leaves, the calls work. */
static void memlock_child(void)
{
	watchdog(60);
	CHECK_EQ(corun_shutdown(), 0);
	struct rlimit rl = { 0, 0 };
	CHECK_EQ(setrlimit(RLIMIT_MEMLOCK, &rl), 0);
	descriptor_ops();
	int b = io_backend();
	CHECK(b == CORUN_IO_EPOLL || b == CORUN_IO_URING);
	fprintf(stderr, "   with RLIMIT_MEMLOCK 0: %s\n", backend_name(b));
}

static void no_locked_memory(void)
{
	in_child(memlock_child);
}

int main(int argc, char **argv)
{
	static const struct test tests[] = {
		TEST(reported),      TEST(counted),
		TEST(refused_eperm), TEST(refused_enosys),
		TEST(refused_after_parent_chose), TEST(no_locked_memory),
	};
	return RUN_TESTS(argc, argv, tests);
}
