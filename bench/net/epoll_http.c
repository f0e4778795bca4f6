/*
 * The baseline for corun's http_hello (bench/net/run.sh): the loop of
 * epoll_echo.c, with the minimal HTTP handling the corun example has. Bytes
 * read are appended to the connection's buffer; each "\r\n\r\n" in it ends
 * a request head, answered with a fixed 200 "hello" (Content-Length 5; a
 * pipelined batch gets its answers in one write). Of the head, only what
 * decides the connection's fate is read, with the example's own parser
 * (examples/http_head.h): Connection (close, keep-alive), HTTP/1.0 (closes
 * by default), Content-Length (a body to skip) and Transfer-Encoding (not
 * handled: answer, then close); the answer is the example's too, with the
 * Connection header that says what becomes of the connection. This
 * measures the server loop, not an HTTP parser. A head longer than the
 * buffer closes the connection.
 *
 * Usage: epoll_http PORT   (0 picks one; prints "listening on PORT")
 */
#define _GNU_SOURCE
#include "listen.h"
#include "../../examples/http_head.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

#define BUF 4096

struct conn {
	char *in;	/* BUF bytes, allocated on the first request */
	size_t have;
	size_t skip;	/* bytes of a request body still to drop */
	int closing;	/* close once the replies are written */
	char *pending;	/* unwritten rest of the replies, or NULL */
	size_t off, len;
};

static struct conn *conns;	/* indexed by descriptor */
static int ep;

static void drop(int fd)
{
	free(conns[fd].in);
	free(conns[fd].pending);
	conns[fd] = (struct conn){ 0 };
	close(fd);
}

static void watch(int fd, uint32_t events, int op)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };
	if (epoll_ctl(ep, op, fd, &ev) < 0) {
		perror("epoll_ctl");
		exit(1);
	}
}

static int flush(int fd)
{
	struct conn *c = &conns[fd];
	while (c->off < c->len) {
		ssize_t w = write(fd, c->pending + c->off, c->len - c->off);
		if (w < 0)
			return errno == EAGAIN ? 1 : -1;
		c->off += (size_t)w;
	}
	free(c->pending);
	c->pending = NULL;
	return 0;
}

static void on_readable(int fd)
{
	struct conn *c = &conns[fd];
	if (!c->in && !(c->in = malloc(BUF))) {
		drop(fd);
		return;
	}
	ssize_t r = read(fd, c->in + c->have, BUF - c->have);
	if (r < 0 && errno == EAGAIN)
		return;
	if (r <= 0) {
		drop(fd);
		return;
	}
	c->have += (size_t)r;

	/* One reply per complete request in the buffer; out has room for as
	 * many as fit in it (4 bytes each at the least). */
	char out[BUF / 4 * HTTP_REPLY_MAX];
	size_t nout = 0, pos = 0;
	while (!c->closing) {
		size_t drop = c->skip < c->have - pos ? c->skip : c->have - pos;
		pos += drop;
		c->skip -= drop;
		if (c->skip)
			break;
		char *end = memmem(c->in + pos, c->have - pos, "\r\n\r\n", 4);
		if (!end)
			break;
		size_t head = (size_t)(end + 4 - (c->in + pos));
		struct http_head h = http_parse_head(c->in + pos, head);
		c->closing = h.close;
		c->skip = h.body;
		pos += head;
		size_t len;
		const char *reply = http_reply(h, &len);
		memcpy(out + nout, reply, len);
		nout += len;
	}
	memmove(c->in, c->in + pos, c->have - pos);
	c->have -= pos;
	if (c->have == BUF) {
		drop(fd);
		return;
	}
	if (nout == 0)
		return;
	ssize_t w = write(fd, out, nout);
	if (w < 0 && errno != EAGAIN) {
		drop(fd);
		return;
	}
	if ((size_t)w == nout) {
		if (c->closing)
			drop(fd);
		return;
	}
	size_t done = w > 0 ? (size_t)w : 0;
	c->len = nout - done;
	c->off = 0;
	if (!(c->pending = malloc(c->len))) {
		drop(fd);
		return;
	}
	memcpy(c->pending, out + done, c->len);
	watch(fd, EPOLLOUT, EPOLL_CTL_MOD);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: epoll_http PORT\n");
		return 2;
	}
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	conns = calloc(rl.rlim_cur, sizeof *conns);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (!conns || ep < 0) {
		perror("setup");
		return 1;
	}
	int lfd = listen_on(atoi(argv[1]));
	watch(lfd, EPOLLIN, EPOLL_CTL_ADD);

	struct epoll_event evs[1024];
	for (;;) {
		int n = epoll_wait(ep, evs, 1024, -1);
		if (n < 0 && errno != EINTR) {
			perror("epoll_wait");
			return 1;
		}
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == lfd) {
				int c;
				while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0)
					watch(c, EPOLLIN, EPOLL_CTL_ADD);
			} else if (evs[i].events & EPOLLOUT) {
				int f = flush(fd);
				if (f < 0 || (f == 0 && conns[fd].closing))
					drop(fd);
				else if (f == 0)
					watch(fd, EPOLLIN, EPOLL_CTL_MOD);
			} else {
				on_readable(fd);
			}
		}
	}
}
