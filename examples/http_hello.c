/*
 * A minimal HTTP/1.1 server that answers every request with "hello": a
 * coroutine per connection, keep-alive, pipelining, written as plain
 * sequential code.
 *
 *   http_hello [-t THREADS] PORT      (PORT 0: pick a free one)
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
 * body (not parsed here), or when headers outgrow the buffer.
 *
 * Build: cc http_hello.c serve.c $(pkg-config --cflags --libs corun)
 */
#define _GNU_SOURCE
#include "serve.h"

#include <corun.h>
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char RESPONSE[] = "HTTP/1.1 200 OK\r\n"
			       "Content-Length: 5\r\n"
			       "Content-Type: text/plain\r\n"
			       "\r\n"
			       "hello";
#define RESPONSE_LEN (sizeof RESPONSE - 1)

/* On the heap: the connection's stack is only CORUN_STACK_MIN. */
enum { IN = 8 << 10, OUT = 16 << 10 };
struct buffers {
	char in[IN];
	char out[OUT];
};

/* What the server needs to know of one request's headers. */
struct request {
	int close;   /* close the connection after answering */
	size_t body; /* bytes of body to drop */
};

static int equal_nocase(const char *s, size_t n, const char *word)
{
	return strlen(word) == n && strncasecmp(s, word, n) == 0;
}

/* Whether the comma-separated list v[0..n) holds token, in any case. */
static int has_token(const char *v, size_t n, const char *token)
{
	const char *end = v + n;
	while (v < end) {
		const char *comma = memchr(v, ',', (size_t)(end - v));
		const char *item_end = comma ? comma : end;
		const char *a = v, *b = item_end;
		while (a < b && (*a == ' ' || *a == '\t'))
			a++;
		while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
			b--;
		if (equal_nocase(a, (size_t)(b - a), token))
			return 1;
		v = item_end + 1;
	}
	return 0;
}

/* Read a request's head: h[0..n) ends with the blank line. */
static struct request parse(const char *h, size_t n)
{
	const char *end = h + n, *eol = memmem(h, n, "\r\n", 2);
	/* HTTP/1.0 closes unless asked not to; 1.1 keeps the connection. */
	int http10 = eol - h >= 8 && memcmp(eol - 8, "HTTP/1.0", 8) == 0;
	int keep_alive = 0, close = 0;
	struct request r = { 0, 0 };
	for (const char *line = eol + 2; line < end; line = eol + 2) {
		eol = memmem(line, (size_t)(end - line), "\r\n", 2);
		const char *colon = memchr(line, ':', (size_t)(eol - line));
		if (!colon)
			continue;
		const char *v = colon + 1;
		while (v < eol && (*v == ' ' || *v == '\t'))
			v++;
		size_t name_len = (size_t)(colon - line), vlen = (size_t)(eol - v);
		if (equal_nocase(line, name_len, "connection")) {
			close |= has_token(v, vlen, "close");
			keep_alive |= has_token(v, vlen, "keep-alive");
		} else if (equal_nocase(line, name_len, "content-length")) {
			size_t len = 0;
			for (; v < eol && isdigit((unsigned char)*v); v++) {
				if (len > (SIZE_MAX - 9) / 10) {
					close = 1; /* absurd: give up on this connection */
					break;
				}
				len = len * 10 + (size_t)(*v - '0');
			}
			r.body = len;
		} else if (equal_nocase(line, name_len, "transfer-encoding")) {
			close = 1;
		}
	}
	r.close = close || (http10 && !keep_alive);
	return r;
}

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
			struct request r = parse(b->in + pos, head);
			pos += head;
			skip = r.body;
			closing = r.close;
			if (out + RESPONSE_LEN > OUT) {
				if (corun_write(fd, b->out, out, -1) != (ssize_t)out)
					goto done;
				out = 0;
			}
			memcpy(b->out + out, RESPONSE, RESPONSE_LEN);
			out += RESPONSE_LEN;
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
