/*
 * An echo server: every connection gets its own coroutine, which reads and
 * writes back what it read, as plain sequential code, until the peer
 * closes. Thousands of connections cost thousands of 16 KiB stacks and one
 * thread (or -t N threads).
 *
 *   echo_server [-t THREADS] [-g] PORT      (PORT 0: pick a free one)
 *
 * -t: THREADS threads, each accepting on its own SO_REUSEPORT socket;
 * with -g, the main thread accepts and hands each connection to a worker
 * group of THREADS threads instead.
 *
 * It prints "listening on PORT" once it accepts, then serves until killed.
 * Try it with echo_client, or `nc localhost PORT`.
 *
 * Build: cc echo_server.c serve.c $(pkg-config --cflags --libs corun)
 */
#include "serve.h"

#include <corun.h>

/* On the connection's own stack (CORUN_STACK_MIN, 16 KiB): next to its
 * frames, so that an idle connection costs the pages its stack touched
 * and nothing on the heap. */
enum { BUF = 4 << 10 };

static void echo(int fd)
{
	char buf[BUF];
	for (;;) {
		ssize_t n = corun_read(fd, buf, BUF, -1);
		if (n <= 0) /* end of file, or the peer reset */
			break;
		if (corun_write(fd, buf, (size_t)n, -1) != n)
			break;
	}
	corun_close(fd);
}

int main(int argc, char **argv)
{
	return serve_main("echo_server", argc, argv, echo);
}
