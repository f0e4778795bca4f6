/*
 * The baseline for corun's echo server (bench/net/run.sh): a single-threaded
 * epoll echo server written the way a C programmer writes one by hand.
 * Level-triggered, non-blocking sockets, one read and one write per readable
 * event, the listener in the same epoll set. A write that comes back short
 * (the peer is not reading) keeps the rest and waits for EPOLLOUT, with
 * input switched off meanwhile so that the connection's buffer stays bounded.
 *
 * Usage: epoll_echo PORT   (0 picks one; prints "listening on PORT")
 */
#define _GNU_SOURCE
#include "listen.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

#define BUF 4096

struct conn {
	char *pending;	/* unwritten rest of the last echo, or NULL */
	size_t off, len;
};

static struct conn *conns;	/* indexed by descriptor */
static int ep;

static void drop(int fd)
{
	free(conns[fd].pending);
	conns[fd] = (struct conn){ 0 };
	close(fd);	/* close removes it from the epoll set */
}

static void watch(int fd, uint32_t events, int op)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };
	if (epoll_ctl(ep, op, fd, &ev) < 0) {
		perror("epoll_ctl");
		exit(1);
	}
}

/* Write what is pending; 0 when done, 1 when it must wait, -1 on error. */
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
	char buf[BUF];
	ssize_t r = read(fd, buf, sizeof buf);
	if (r < 0 && errno == EAGAIN)
		return;
	if (r <= 0) {
		drop(fd);
		return;
	}
	ssize_t w = write(fd, buf, (size_t)r);
	if (w < 0 && errno != EAGAIN) {
		drop(fd);
		return;
	}
	if (w == r)
		return;
	struct conn *c = &conns[fd];
	size_t done = w > 0 ? (size_t)w : 0;
	c->len = (size_t)r - done;
	c->off = 0;
	c->pending = malloc(c->len);
	if (!c->pending) {
		drop(fd);
		return;
	}
	memcpy(c->pending, buf + done, c->len);
	watch(fd, EPOLLOUT, EPOLL_CTL_MOD);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: epoll_echo PORT\n");
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
				if (f < 0)
					drop(fd);
				else if (f == 0)
					watch(fd, EPOLLIN, EPOLL_CTL_MOD);
			} else {
				on_readable(fd);
			}
		}
	}
}
