/*
 * The io_uring floor for corun's http_hello (bench/net/run.sh): the loop
 * of uring_echo.c (read its comment for the io_uring features used and
 * why), with the HTTP handling of epoll_http.c: bytes received are
 * appended to the connection's buffer, each "\r\n\r\n" in it ends a
 * request head, answered with the example's fixed 200 "hello"
 * (examples/http_head.h decides keep-alive, close, a body to skip), the
 * answers to a pipelined batch in one SEND. A head longer than the buffer
 * closes the connection.
 *
 * The answers must stay put until their SEND is done, so a connection has
 * an output buffer of its own besides its 4 KiB input, grown to the
 * largest batch it has answered. The SEND of a connection that is to close
 * is not linked to a RECV, and completes: the connection is closed then.
 *
 * Usage: uring_http PORT   (0 picks one; prints "listening on PORT")
 */
#define _GNU_SOURCE
#include "listen.h"
#include "../../examples/http_head.h"

#include <errno.h>
#include <liburing.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define BUF 4096

enum { OP_ACCEPT, OP_RECV, OP_SEND, OP_SEND_LAST };

struct conn {
	char in[BUF];
	size_t have;
	size_t skip;	/* bytes of a request body still to drop */
	int closing;	/* close once the answers are sent */
	char *out;	/* the answers being sent */
	size_t cap;
};

static struct conn **conns;	/* indexed by descriptor */
static struct io_uring ring;
static int lfd;

static uint64_t tag(int fd, int op)
{
	return (uint64_t)fd << 2 | (uint64_t)op;
}

static struct io_uring_sqe *get_sqe(void)
{
	struct io_uring_sqe *sqe;
	while (!(sqe = io_uring_get_sqe(&ring)))
		io_uring_submit(&ring);
	return sqe;
}

static void queue_accept(void)
{
	struct io_uring_sqe *sqe = get_sqe();
	io_uring_prep_accept(sqe, lfd, NULL, NULL, SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, tag(lfd, OP_ACCEPT));
}

static void queue_recv(int fd)
{
	struct conn *c = conns[fd];
	struct io_uring_sqe *sqe = get_sqe();
	io_uring_prep_recv(sqe, fd, c->in + c->have, BUF - c->have, 0);
	io_uring_sqe_set_data64(sqe, tag(fd, OP_RECV));
}

/* Send n bytes of c->out; unless the connection is closing, the next
 * receive follows the send (linked, as in uring_echo.c). */
static void queue_send(int fd, size_t n)
{
	struct conn *c = conns[fd];
	if (io_uring_sq_space_left(&ring) < 2)
		io_uring_submit(&ring);
	struct io_uring_sqe *sqe = get_sqe();
	io_uring_prep_send(sqe, fd, c->out, n, MSG_WAITALL);
	if (c->closing) {
		io_uring_sqe_set_data64(sqe, tag(fd, OP_SEND_LAST));
		return;
	}
	io_uring_sqe_set_data64(sqe, tag(fd, OP_SEND));
	io_uring_sqe_set_flags(sqe, IOSQE_IO_LINK | IOSQE_CQE_SKIP_SUCCESS);
	queue_recv(fd);
}

/* Nothing of the connection is in flight when this is called. */
static void drop(int fd)
{
	free(conns[fd]->out);
	free(conns[fd]);
	conns[fd] = NULL;
	close(fd);
}

static void on_received(int fd, size_t r)
{
	struct conn *c = conns[fd];
	c->have += r;

	/* One answer per complete request in the buffer; out has room for as
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
	if (nout == 0) {
		queue_recv(fd);
		return;
	}
	if (nout > c->cap) {
		char *p = realloc(c->out, nout);
		if (!p) {
			drop(fd);
			return;
		}
		c->out = p;
		c->cap = nout;
	}
	memcpy(c->out, out, nout);
	queue_send(fd, nout);
}

static void complete(const struct io_uring_cqe *cqe)
{
	int fd = (int)(cqe->user_data >> 2), res = cqe->res;
	switch (cqe->user_data & 3) {
	case OP_ACCEPT:
		if (res >= 0) {
			if ((conns[res] = calloc(1, sizeof *conns[res])))
				queue_recv(res);
			else
				close(res);
		} else if (res != -EINTR && res != -ECONNABORTED) {
			fprintf(stderr, "accept: %s\n", strerror(-res));
		}
		queue_accept();
		break;
	case OP_RECV:
		if (res > 0)
			on_received(fd, (size_t)res);
		else if (res != -ECANCELED)	/* cancelled: its SEND failed */
			drop(fd);
		break;
	case OP_SEND:		/* only a SEND that failed completes */
	case OP_SEND_LAST:	/* the last answers are sent, or failed */
		drop(fd);
		break;
	}
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: uring_http PORT\n");
		return 2;
	}
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	conns = calloc(rl.rlim_cur, sizeof *conns);
	struct io_uring_params p = {
		.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER |
			 IORING_SETUP_DEFER_TASKRUN,
		.cq_entries = 32768,
	};
	int r = io_uring_queue_init_params(4096, &ring, &p);
	if (r == -EINVAL) {
		p = (struct io_uring_params){ .flags = IORING_SETUP_CQSIZE, .cq_entries = 32768 };
		r = io_uring_queue_init_params(4096, &ring, &p);
	}
	if (!conns || r < 0) {
		fprintf(stderr, "setup: %s\n", strerror(r < 0 ? -r : ENOMEM));
		return 1;
	}
	lfd = listen_on(atoi(argv[1]));
	queue_accept();

	for (;;) {
		r = io_uring_submit_and_wait(&ring, 1);
		if (r < 0 && r != -EINTR) {
			fprintf(stderr, "io_uring_submit_and_wait: %s\n", strerror(-r));
			return 1;
		}
		struct io_uring_cqe *cqe;
		unsigned head, n = 0;
		io_uring_for_each_cqe(&ring, head, cqe) {
			complete(cqe);
			n++;
		}
		io_uring_cq_advance(&ring, n);
	}
}
