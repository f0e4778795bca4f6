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

static void serve(int fd)
{
	struct buffers *b = malloc(sizeof *b);
	size_t len = 0, out = 0, skip = 0;
	int closing = 0;
	while (b && !closing) {
		ssize_t n = corun_read(fd, b->in + len, IN - len, -1);
		if (n <= 0)
			break;
		len += (size_t)n;
		size_t pos = 0;
		while (!closing) {
			size_t drop = skip < len - pos ? skip : len - pos;
			pos += drop;
			skip -= drop;
			if (skip)
				break;
			const char *end = memmem(b->in + pos, len - pos, "\r\n\r\n", 4);
			if (!end)
				break;
			size_t head = (size_t)(end + 4 - (b->in + pos));
			struct http_head r = http_parse_head(b->in + pos, head);
			pos += head;
			skip = r.body;
			closing = r.close;
			size_t reply_len;
			const char *reply = http_reply(r, &reply_len);
			if (out + reply_len > OUT) {
				if (corun_write(fd, b->out, out, -1) != (ssize_t)out)
					goto done;
				out = 0;
			}
			memcpy(b->out + out, reply, reply_len);
			out += reply_len;
		}
		/* Answer everything this read completed, in one write. */
		if (out && corun_write(fd, b->out, out, -1) != (ssize_t)out)
			break;
		out = 0;
		memmove(b->in, b->in + pos, len - pos);
		len -= pos;
		if (len == IN) /* a head that does not fit: give up on it */
			break;
	}
done:
	free(b);
	corun_close(fd);
}

int main(int argc, char **argv)
{
	return serve_main("http_hello", argc, argv, serve);
}
