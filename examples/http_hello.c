/*
 * A minimal HTTP/1.1 server that answers every request with "hello": a
 * coroutine per connection, keep-alive, pipelining, written as plain
 * sequential code.
 *
 *   http_hello [-t THREADS] [-g] PORT      (PORT 0: pick a free one)
 *
 * -t: THREADS threads, each accepting on its own SO_REUSEPORT socket;
 * with -g, the main thread accepts and hands each connection to a worker
 * group of THREADS threads instead.
 *
 * It prints "listening on PORT" once it accepts, then serves until killed.
 * Try `curl localhost:PORT/` or `wrk -c 100 -d 5s http://localhost:PORT/`.
 *
 * Every request gets the same answer, whatever its method or target. A
 * request ends at the blank line after its headers; a Content-Length body
 * is read and dropped. Requests that arrive together (pipelined) are
 * answered together, in one write; a request split across reads waits for
 * its end. The connection closes after a request that asks for it
 * ("Connection: close", or HTTP/1.0 without keep-alive), after a chunked
 * body (not parsed here), or when headers outgrow the buffer; the answer
 * before a close says "Connection: close", and one that keeps an HTTP/1.0
 * connection says "Connection: keep-alive" (http_head.h).
 *
 * Build: cc http_hello.c serve.c $(pkg-config --cflags --libs corun)
 */
#define _GNU_SOURCE
#include "http_head.h"
#include "serve.h"

#include <corun.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* On the heap: the connection's stack is only CORUN_STACK_MIN. */
enum { IN = 8 << 10, OUT = 16 << 10 };
struct buffers {
	char in[IN];
	char out[OUT];
};

static int flush(void *arg, const char *out, size_t n)
{
	return corun_write(*(int *)arg, out, n, -1) == (ssize_t)n ? 0 : -1;
}

static void serve(int fd)
{
	struct buffers *b = malloc(sizeof *b);
	struct http_stream st = { 0, 0 };
	size_t len = 0, out = 0;
	while (b && !st.closing) {
		ssize_t n = corun_read(fd, b->in + len, IN - len, -1);
		if (n <= 0)
			break;
		len += (size_t)n;
		long pos = http_answer(&st, b->in, len, b->out, OUT, &out, flush, &fd);
		/* Answer everything this read completed, in one write. */
		if (pos < 0 || (out && flush(&fd, b->out, out) < 0))
			break;
		out = 0;
		memmove(b->in, b->in + pos, len - (size_t)pos);
		len -= (size_t)pos;
		if (len == IN) /* a head that does not fit: give up on it */
			break;
	}
	free(b);
	corun_close(fd);
}

int main(int argc, char **argv)
{
	return serve_main("http_hello", argc, argv, serve);
}
