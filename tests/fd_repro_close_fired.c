/*
 * Reproducer (not registered in CMake) for what fuzz_runtime found:
 * corun_close(fd) does not make a corun_read that is still inside its call
 * fail with EBADF when that read's wait has already been fired by a report
 * (it is ready, not yet run). The read then loops back and reads whatever
 * file the number names by then: here a pipe made right after the close,
 * which gets the same numbers. corun_close's renew() has cleared the
 * entry's PREPARED flag and the read loop does not prepare again, so a
 * blocking new file would block the whole thread; the new pipe is made
 * non-blocking below only so that the test ends.
 *
 * Build: cc -I include -D_GNU_SOURCE tests/fd_repro_close_fired.c
 *        tests/helpers.c -L BUILD -lcorun (or with the library sources).
 */
#define _GNU_SOURCE
#include "helpers.h"

#include <corun.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <unistd.h>

static int p[2], q[2];
static char got[8];
static ssize_t got_n;
static int got_errno;

static void *reader(void *arg)
{
	(void)arg;
	got_n = corun_read(p[0], got, sizeof got, -1); /* waits: empty */
	got_errno = errno;
	return NULL;
}

/* Runs ahead of the reader in the round where the report fires it. */
static void *closer(void *arg)
{
	(void)arg;
	CHECK_EQ(corun_park(), 0); /* main's park: reader fired behind us */
	CHECK_EQ(corun_close(p[0]), 0);
	CHECK_EQ(corun_close(p[1]), 0);
	CHECK_EQ(pipe2(q, O_CLOEXEC | O_NONBLOCK), 0);
	CHECK_EQ(write(q[1], "new", 3), 3); /* the new file's data */
	return NULL;
}

static void close_while_fired(void)
{
	CHECK_EQ(pipe2(p, O_CLOEXEC), 0);
	corun_t c = corun_go(closer, NULL);
	corun_t r = corun_go(reader, NULL);
	CHECK_EQ(corun_park(), 0); /* closer parks, reader waits in epoll */
	CHECK_EQ(write(p[1], "x", 1), 1);
	/* main's park collects the report: the reader is fired and queued
	 * behind the closer, which closes both ends and makes q. */
	CHECK_EQ(corun_park(), 0);
	CHECK_EQ(corun_join(c, NULL), 0);
	CHECK_EQ(corun_join(r, NULL), 0);
	CHECK_EQ(q[0], p[0]); /* the number was reused */
	/* corun.h: "EBADF ... corun_close(fd) was called while the caller
	 * waited". Today: got_n == 3, "new", read from q. */
	CHECK_EQ(got_n, -1);
	CHECK_EQ(got_errno, EBADF);
	close(q[0]);
	close(q[1]);
}

int main(int argc, char **argv)
{
	static const struct test tests[] = { TEST(close_while_fired) };
	return RUN_TESTS(argc, argv, tests);
}
