/*
 * The baseline for corun's https_hello (bench/net/tls.sh): epoll_http.c's
 * loop with OpenSSL as an event-driven server uses it: a socket BIO on the
 * non-blocking descriptor (SSL_set_fd), and each SSL call that answers
 * SSL_ERROR_WANT_READ or _WANT_WRITE retried when epoll says the
 * descriptor is ready. The same requests and answers (examples/http_head.h),
 * the same certificate and TLS settings as https_hello (no deadlines: the
 * hand-written loops have none). Level-triggered, one thread.
 *
 * Usage: epoll_https CERT KEY PORT   (0 picks one; prints "listening on PORT")
 */
#define _GNU_SOURCE
#include "listen.h"
#include "../../examples/http_head.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

enum { IN = 16 << 10, OUT = 16 << 10 };

struct conn {
	SSL *ssl;
	char *in; /* IN bytes, allocated at the handshake's end */
	size_t have;
	size_t skip;  /* bytes of a request body still to drop */
	int closing;  /* close once the replies are written */
	char out[OUT];
	size_t nout;  /* answers written by SSL_write_ex's last WANT_WRITE */
	uint32_t events;
};

static struct conn **conns; /* indexed by descriptor */
static int ep;
static SSL_CTX *ctx;

static void drop(int fd)
{
	struct conn *c = conns[fd];
	SSL_free(c->ssl);
	free(c->in);
	free(c);
	conns[fd] = NULL;
	ERR_clear_error();
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

/* An SSL call returned r: wait for what it wants (1), or fail (-1). */
static int want(int fd, int r)
{
	struct conn *c = conns[fd];
	int e = SSL_get_error(c->ssl, r);
	uint32_t ev = e == SSL_ERROR_WANT_READ ? EPOLLIN : e == SSL_ERROR_WANT_WRITE ? EPOLLOUT : 0;
	if (!ev)
		return -1;
	if (ev != c->events) {
		watch(fd, ev, EPOLL_CTL_MOD);
		c->events = ev;
	}
	return 1;
}

/* Write the pending answers: 0 done, 1 waiting, -1 failed. */
static int flush(int fd)
{
	struct conn *c = conns[fd];
	size_t put;
	if (!c->nout)
		return 0;
	int r = SSL_write_ex(c->ssl, c->out, c->nout, &put);
	if (r != 1)
		return want(fd, r);
	c->nout = 0;
	return 0;
}

static void on_ready(int fd)
{
	struct conn *c = conns[fd];
	if (!SSL_is_init_finished(c->ssl)) {
		int r = SSL_accept(c->ssl);
		if (r != 1) {
			if (want(fd, r) < 0)
				drop(fd);
			return;
		}
		if (!(c->in = malloc(IN))) {
			drop(fd);
			return;
		}
	}
	/* Answer what the buffer holds (after a WANT_WRITE, what was left),
	 * then read more, until OpenSSL wants to wait. */
	int f;
	for (;;) {
		size_t pos = 0;
		while (!c->closing) {
			size_t d = c->skip < c->have - pos ? c->skip : c->have - pos;
			pos += d;
			c->skip -= d;
			if (c->skip)
				break;
			char *end = memmem(c->in + pos, c->have - pos, "\r\n\r\n", 4);
			if (!end)
				break;
			size_t head = (size_t)(end + 4 - (c->in + pos));
			if (c->nout + HTTP_REPLY_MAX > OUT && (f = flush(fd)) != 0)
				break;
			struct http_head h = http_parse_head(c->in + pos, head);
			c->closing = h.close;
			c->skip = h.body;
			pos += head;
			size_t len;
			const char *reply = http_reply(h, &len);
			memcpy(c->out + c->nout, reply, len);
			c->nout += len;
		}
		memmove(c->in, c->in + pos, c->have - pos);
		c->have -= pos;
		if (c->have == IN) {
			f = -1;
			break;
		}
		if ((f = flush(fd)) != 0)
			break;
		if (c->closing) {
			SSL_shutdown(c->ssl);
			f = -1;
			break;
		}
		size_t got;
		int r = SSL_read_ex(c->ssl, c->in + c->have, IN - c->have, &got);
		if (r != 1) {
			f = SSL_get_error(c->ssl, r) == SSL_ERROR_ZERO_RETURN ? -1 : want(fd, r);
			break;
		}
		c->have += got;
	}
	if (f < 0)
		drop(fd);
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: epoll_https CERT KEY PORT\n");
		return 2;
	}
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	conns = calloc(rl.rlim_cur, sizeof *conns);
	ep = epoll_create1(EPOLL_CLOEXEC);
	ctx = SSL_CTX_new(TLS_server_method());
	if (!conns || ep < 0 || !ctx) {
		perror("setup");
		return 1;
	}
	/* As https_hello (examples/tls_conn.c). */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (SSL_CTX_use_certificate_chain_file(ctx, argv[1]) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, argv[2], SSL_FILETYPE_PEM) != 1) {
		ERR_print_errors_fp(stderr);
		return 1;
	}
	int lfd = listen_on(atoi(argv[3]));
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
			if (fd != lfd) {
				on_ready(fd);
				continue;
			}
			int s;
			while ((s = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
				struct conn *c = calloc(1, sizeof *c);
				SSL *ssl = c ? SSL_new(ctx) : NULL;
				if (!ssl || !SSL_set_fd(ssl, s)) {
					SSL_free(ssl);
					free(c);
					close(s);
					continue;
				}
				SSL_set_read_ahead(ssl, 1);
				c->ssl = ssl;
				c->events = EPOLLIN;
				conns[s] = c;
				watch(s, EPOLLIN, EPOLL_CTL_ADD);
			}
		}
	}
}
