/*
 * The servers' common part (see serve.h), in two modes.
 *
 * SO_REUSEPORT (the default): every thread has a listening socket of its
 * own on the same port: the kernel spreads incoming connections over
 * them, so the threads share nothing, not even an accept queue, and each
 * runtime only ever sees its own descriptors. All the sockets are bound
 * and listening before the ready line is printed, so a client that
 * connects as soon as it reads it lands in some backlog even before that
 * thread reaches its first corun_accept.
 *
 * Hand-off (-g): one socket, and one thread (main) that accepts; each
 * connection goes to a worker group (corun_group_go with the descriptor),
 * where an idle worker takes it, or else the first to come round. The
 * accepting runtime never waits on a connection's descriptor, so the
 * worker that serves it is the only runtime that knows it. What this mode
 * buys over SO_REUSEPORT: a connection goes to a worker that has time for
 * it, where the kernel's hash may pile long connections onto one thread;
 * what it costs: a hand-off per connection, and one accepting thread.
 */
#define _GNU_SOURCE
#include "serve.h"

#include <corun.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

enum { MAX_THREADS = 256 };

/* How long the accept loop waits when descriptors or memory have run out:
 * long enough not to spin, short enough that a freed descriptor is taken
 * up almost at once. */
#define BACKOFF_NS ((int64_t)5 * 1000 * 1000)

static serve_conn_fn conn_fn;
size_t serve_stack_size = CORUN_STACK_MIN;
static corun_group *group; /* hand-off mode */

void raise_nofile_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl); /* best effort: the old limit still works */
	}
}

static void *conn_main(void *arg)
{
	conn_fn((int)(intptr_t)arg);
	return NULL;
}

/* accept(2) failures that say nothing about the listening socket: the
 * process (or system) is short of descriptors or memory for now. */
static int short_of_resources(int err)
{
	return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

/* Failures that concern only the connection being accepted: it was reset
 * before accept took it, or (Linux passes these on from the new socket)
 * the network failed under it. The next one may be fine. */
static int connection_failed(int err)
{
	switch (err) {
	case ECONNABORTED:
	case EPROTO:
	case EPERM: /* a firewall rule refused it */
	case EINTR:
	case ENETDOWN:
	case ENOPROTOOPT:
	case EHOSTDOWN:
	case ENONET:
	case EHOSTUNREACH:
	case EOPNOTSUPP:
	case ENETUNREACH:
		return 1;
	default:
		return 0;
	}
}

/* Hand-off mode: a connection, as a task on a worker of the group. */
static void *conn_task(void *arg)
{
	conn_fn((int)(intptr_t)arg);
	return NULL;
}

/* Hand fd to the group, or spawn it here: 0, or -1 with errno. */
static int serve_fd(int fd, const corun_attr *attr)
{
	if (group) {
		corun_task *t = corun_group_go(group, -1, conn_task, (void *)(intptr_t)fd);
		if (!t)
			return -1;
		return corun_task_detach(t); /* nobody joins a connection */
	}
	return corun_go_attr(conn_main, (void *)(intptr_t)fd, attr) < 0 ? -1 : 0;
}

/*
 * Accept forever. Running out of descriptors must not end the server: the
 * pending connections stay in the backlog, and the loop sleeps a little
 * and asks again, by which time some connection may have closed. Sleeping
 * (rather than waiting for the socket) matters: the socket is still
 * readable, and waiting on it would return at once.
 */
static void *accept_loop(void *arg)
{
	int lfd = (int)(intptr_t)arg;
	corun_attr attr;
	corun_attr_init(&attr);
	attr.stack_size = serve_stack_size;
	attr.flags = CORUN_DETACHED;
	attr.name = "connection";
	for (;;) {
		int fd = corun_accept(lfd, NULL, NULL, -1);
		if (fd < 0) {
			if (short_of_resources(errno)) {
				corun_sleep(BACKOFF_NS);
				continue;
			}
			if (connection_failed(errno))
				continue;
			perror("corun_accept");
			exit(1);
		}
		if (serve_fd(fd, &attr) < 0) {
			/* No memory for one more coroutine or task: turn this
			 * client away rather than stop serving the others. The
			 * connection is not this runtime's in hand-off mode
			 * (never waited on here): close(2) is enough, and
			 * corun_close does no more. */
			corun_close(fd);
			corun_sleep(BACKOFF_NS);
		}
	}
	return NULL;
}

/* Run one thread's runtime: its accept loop and its connections. */
static void *serve_thread(void *arg)
{
	if (corun_go(accept_loop, arg) < 0) {
		perror("corun_go");
		exit(1);
	}
	corun_run(); /* returns only if the accept loop could not go on */
	fprintf(stderr, "serve: the accept loop ended\n");
	exit(1);
}

/* A socket listening on port (0: any free one); the port it got in *port. */
static int listen_on(int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int one = 1;
	struct sockaddr_in sa;
	socklen_t len = sizeof sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_ANY);
	sa.sin_port = htons((uint16_t)*port);
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, SOMAXCONN) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		goto error;
	*port = ntohs(sa.sin_port);
	return fd;
error:;
	int err = errno;
	close(fd);
	errno = err;
	return -1;
}

static int usage(const char *prog)
{
	fprintf(stderr, "usage: %s [-t THREADS] [-g] PORT\n", prog);
	return 2;
}

int serve_main(const char *prog, int argc, char **argv, serve_conn_fn conn)
{
	long threads = 1;
	int handoff = 0, opt;
	while ((opt = getopt(argc, argv, "t:g")) != -1) {
		char *end;
		if (opt == 'g') {
			handoff = 1;
			continue;
		}
		if (opt != 't')
			return usage(prog);
		threads = strtol(optarg, &end, 10);
		if (*end || threads < 1 || threads > MAX_THREADS) {
			fprintf(stderr, "%s: -t wants 1 to %d\n", prog, MAX_THREADS);
			return 2;
		}
	}
	if (optind != argc - 1)
		return usage(prog);
	char *end;
	long want = strtol(argv[optind], &end, 10);
	if (*end || want < 0 || want > 65535)
		return usage(prog);

	raise_nofile_limit();
	conn_fn = conn;
	if (handoff) {
		/* THREADS workers, and main to accept on one socket. */
		group = corun_group_start((size_t)threads, 0);
		if (!group) {
			fprintf(stderr, "%s: corun_group_start: %s\n", prog, strerror(errno));
			return 1;
		}
	}
	/* The first socket picks the port when asked for 0; the others join it. */
	int port = (int)want, fds[MAX_THREADS];
	long sockets = handoff ? 1 : threads;
	for (long i = 0; i < sockets; i++) {
		fds[i] = listen_on(&port);
		if (fds[i] < 0) {
			fprintf(stderr, "%s: port %d: %s\n", prog, port, strerror(errno));
			return 1;
		}
	}
	printf("listening on %d\n", port);
	fflush(stdout);

	for (long i = 1; i < sockets; i++) {
		pthread_t t;
		int err = pthread_create(&t, NULL, serve_thread, (void *)(intptr_t)fds[i]);
		if (err) {
			fprintf(stderr, "%s: pthread_create: %s\n", prog, strerror(err));
			return 1;
		}
	}
	serve_thread((void *)(intptr_t)fds[0]); /* never returns */
	return 1;
}
