/*
 * The listening socket for the hand-written baseline servers: 127.0.0.1,
 * SO_REUSEADDR so that back-to-back runs can reuse a port, the largest
 * backlog the kernel allows (10,000 connections arrive in a burst), and
 * "listening on PORT" printed and flushed once it is ready, as the corun
 * examples do, so that bench/net/run.sh can wait for it.
 */
#ifndef BENCH_NET_LISTEN_H
#define BENCH_NET_LISTEN_H

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

static int listen_on(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof sa;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, SOMAXCONN) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		perror("listen");
		exit(1);
	}
	printf("listening on %d\n", ntohs(sa.sin_port));
	fflush(stdout);
	return fd;
}

#endif
