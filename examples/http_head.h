/*
 * The little of HTTP/1.1 the hello servers do (examples/http_hello.c, and
 * bench/net/epoll_http.c, its hand-written baseline, so that both do the
 * same work per request): read from a request's head whether it asks to
 * close and how long a body follows, and pick the answer that says what
 * becomes of the connection. Header-only.
 */
#ifndef CORUN_EXAMPLE_HTTP_HEAD_H
#define CORUN_EXAMPLE_HTTP_HEAD_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

/* What the server needs to know of one request's headers. */
struct http_head {
	int close;   /* close the connection after answering */
	int http10;  /* an HTTP/1.0 request */
	size_t body; /* bytes of body to drop */
};

static inline int http_equal_nocase(const char *s, size_t n, const char *word)
{
	return strlen(word) == n && strncasecmp(s, word, n) == 0;
}

/* Whether the comma-separated list v[0..n) holds token, in any case. */
static inline int http_has_token(const char *v, size_t n, const char *token)
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
		if (http_equal_nocase(a, (size_t)(b - a), token))
			return 1;
		v = item_end + 1;
	}
	return 0;
}

/* Read a request's head: h[0..n) ends with the blank line. */
static inline struct http_head http_parse_head(const char *h, size_t n)
{
	const char *end = h + n, *eol = memmem(h, n, "\r\n", 2);
	/* HTTP/1.0 closes unless asked not to; 1.1 keeps the connection. */
	int http10 = eol - h >= 8 && memcmp(eol - 8, "HTTP/1.0", 8) == 0;
	int keep_alive = 0, close = 0;
	struct http_head r = { 0, http10, 0 };
	for (const char *line = eol + 2; line < end; line = eol + 2) {
		eol = memmem(line, (size_t)(end - line), "\r\n", 2);
		const char *colon = memchr(line, ':', (size_t)(eol - line));
		if (!colon)
			continue;
		const char *v = colon + 1;
		while (v < eol && (*v == ' ' || *v == '\t'))
			v++;
		size_t name_len = (size_t)(colon - line), vlen = (size_t)(eol - v);
		if (http_equal_nocase(line, name_len, "connection")) {
			close |= http_has_token(v, vlen, "close");
			keep_alive |= http_has_token(v, vlen, "keep-alive");
		} else if (http_equal_nocase(line, name_len, "content-length")) {
			size_t len = 0;
			for (; v < eol && *v >= '0' && *v <= '9'; v++) {
				if (len > (SIZE_MAX - 9) / 10) {
					close = 1; /* absurd: give up on this connection */
					break;
				}
				len = len * 10 + (size_t)(*v - '0');
			}
			r.body = len;
		} else if (http_equal_nocase(line, name_len, "transfer-encoding")) {
			close = 1;
		}
	}
	r.close = close || (http10 && !keep_alive);
	return r;
}

/*
 * The answer to every request: "hello", with the Connection header the
 * request needs. An HTTP/1.0 client keeps the connection only when the
 * answer says "keep-alive" (else it waits for the close that ends the
 * answer: ApacheBench -k does); a connection about to close says "close"
 * (RFC 9112, 9.6); HTTP/1.1 keeps it by default, and needs neither.
 */
#define HTTP_REPLY(connection)                                                 \
	"HTTP/1.1 200 OK\r\n" connection "Content-Length: 5\r\n"                \
	"Content-Type: text/plain\r\n\r\nhello"
/* The longest answer, for sizing buffers. */
#define HTTP_REPLY_MAX (sizeof HTTP_REPLY("Connection: keep-alive\r\n") - 1)

/* The answer to the request h: its bytes, and their count in *len. */
static inline const char *http_reply(struct http_head h, size_t *len)
{
	static const char keep[] = HTTP_REPLY("");
	static const char keep_alive[] = HTTP_REPLY("Connection: keep-alive\r\n");
	static const char close[] = HTTP_REPLY("Connection: close\r\n");
	if (h.close) {
		*len = sizeof close - 1;
		return close;
	}
	if (h.http10) {
		*len = sizeof keep_alive - 1;
		return keep_alive;
	}
	*len = sizeof keep - 1;
	return keep;
}

/* A connection's requests as they arrive: body bytes still to drop, and
 * whether an answer said the connection closes. */
struct http_stream {
	size_t skip;
	int closing;
};

/* Answer every request whose head in[0..len) holds whole, dropping bodies,
 * until one asks to close: each answer goes into out (cap bytes, *used of
 * them taken), which flush(arg, out, n) empties when the next would not
 * fit (it returns 0, or -1 to give up). Returns the bytes of in consumed
 * (the rest is a head still arriving), or -1 if flush gave up. The caller
 * flushes what is left in out: the answers to one read go out together. */
static inline long http_answer(struct http_stream *st, const char *in, size_t len, char *out,
			       size_t cap, size_t *used,
			       int (*flush)(void *arg, const char *out, size_t n), void *arg)
{
	size_t pos = 0;
	while (!st->closing) {
		size_t drop = st->skip < len - pos ? st->skip : len - pos;
		pos += drop;
		st->skip -= drop;
		if (st->skip)
			break;
		const char *end = memmem(in + pos, len - pos, "\r\n\r\n", 4);
		if (!end)
			break;
		size_t head = (size_t)(end + 4 - (in + pos));
		struct http_head r = http_parse_head(in + pos, head);
		pos += head;
		st->skip = r.body;
		st->closing = r.close;
		size_t n;
		const char *reply = http_reply(r, &n);
		if (*used + n > cap) {
			if (flush(arg, out, *used) < 0)
				return -1;
			*used = 0;
		}
		memcpy(out + *used, reply, n);
		*used += n;
	}
	return (long)pos;
}

#endif
