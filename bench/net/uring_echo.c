/*
 * The io_uring floor for corun's echo server (bench/net/run.sh): a
 * single-threaded echo server on liburing, written the way a C programmer
 * writes one by hand; epoll_echo.c's counterpart, with its listening
 * socket, its command line and its behaviour (a 4 KiB buffer per
 * connection, one receive then one send of what came in, no more input
 * while a send is unfinished).
 *
 * The loop: handle every completion in the ring, queueing what each one
 * calls for, then submit all of it and wait for the next completion in one
 * io_uring_enter (io_uring_submit_and_wait). What it uses, and why:
 *
 * - A received message is answered by a SEND linked (IOSQE_IO_LINK) to the
 *   connection's next RECV, so both are queued at once and the RECV starts
 *   as soon as the SEND is done, into the same buffer, without a pass
 *   through the loop in between.
 * - The SEND has MSG_WAITALL (a short send of a stream socket is carried
 *   on by the kernel: the SEND completes with all of it or fails) and
 *   IOSQE_CQE_SKIP_SUCCESS (no completion when it succeeds): one
 *   completion per round trip, the RECV's, and so one io_uring_enter per
 *   round trip at one connection. A SEND that fails does complete, and
 *   its RECV is cancelled; that completion closes the connection.
 * - IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN (Linux 6.1):
 *   the kernel finishes receives and sends when the thread enters the ring
 *   to wait, in a batch, instead of interrupting it with task work; the
 *   ring is made without them where the kernel refuses them.
 * - One ACCEPT on the listener, queued again when it completes (accepting
 *   is not what is measured).
 *
 * Not used, measured on this loop (bench/results/net.txt's machine, 64-byte
 * echo, server CPU per round trip, interleaved runs):
 * - multishot RECV with a ring of provided buffers: no lower at 100 and
 *   1,000 connections, higher at one. A provided buffer goes back to the
 *   ring only once its SEND has completed, so every SEND completes, and at
 *   one connection that is a second io_uring_enter per round trip. (It
 *   would save the 4 KiB per idle connection.)
 * - IORING_RECVSEND_POLL_FIRST on the RECV (it almost always finds nothing
 *   yet, the echo is still on its way back): no difference measured.
 * - no setup flags, or IORING_SETUP_COOP_TASKRUN: the first about 1.5x the
 *   CPU at 100 connections, the second no better than DEFER_TASKRUN.
 * Nor registered files or buffers, nor SQPOLL (a kernel thread polling on
 * another CPU: it would take the load's CPU here).
 *
 * Usage: uring_echo PORT   (0 picks one; prints "listening on PORT")
 */
#define _GNU_SOURCE
#include "listen.h"

#include <errno.h>
#include <liburing.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define BUF 4096

enum { OP_ACCEPT, OP_RECV, OP_SEND };

struct conn {
	char buf[BUF];
};

static struct conn **conns;	/* indexed by descriptor */
static struct io_uring ring;
static int lfd;

static uint64_t tag(int fd, int op)
{
	return (uint64_t)fd << 2 | (uint64_t)op;
}

/* A free SQE; when the ring's SQ is full, what is in it is submitted. */
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
	struct io_uring_sqe *sqe = get_sqe();
	io_uring_prep_recv(sqe, fd, conns[fd]->buf, BUF, 0);
	io_uring_sqe_set_data64(sqe, tag(fd, OP_RECV));
}

/* The echo of n bytes, then the next receive into the same buffer. */
static void queue_echo(int fd, size_t n)
{
	/* A link must not be split over two submissions. */
	if (io_uring_sq_space_left(&ring) < 2)
		io_uring_submit(&ring);
	struct io_uring_sqe *sqe = get_sqe();
	io_uring_prep_send(sqe, fd, conns[fd]->buf, n, MSG_WAITALL);
	io_uring_sqe_set_data64(sqe, tag(fd, OP_SEND));
	io_uring_sqe_set_flags(sqe, IOSQE_IO_LINK | IOSQE_CQE_SKIP_SUCCESS);
	queue_recv(fd);
}

/* Nothing of the connection is in flight when this is called: its RECV
 * failed or ended, or its SEND failed (and the linked RECV never started). */
static void drop(int fd)
{
	free(conns[fd]);
	conns[fd] = NULL;
	close(fd);
}

static void complete(const struct io_uring_cqe *cqe)
{
	int fd = (int)(cqe->user_data >> 2), res = cqe->res;
	switch (cqe->user_data & 3) {
	case OP_ACCEPT:
		if (res >= 0) {
			if ((conns[res] = malloc(sizeof *conns[res])))
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
			queue_echo(fd, (size_t)res);
		else if (res != -ECANCELED)	/* cancelled: its SEND failed */
			drop(fd);
		break;
	case OP_SEND:	/* only a SEND that failed completes */
		drop(fd);
		break;
	}
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: uring_echo PORT\n");
		return 2;
	}
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	conns = calloc(rl.rlim_cur, sizeof *conns);
	/* Room in the CQ for a completion of each of 10,000 connections and
	 * more: a batch never overflows into the kernel's backlog. */
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
