/*
 * An echo client to load and check echo_server: CONNS connections at once,
 * each a coroutine of one thread, each sending MSGS messages of SIZE bytes
 * one after the other and reading every echo back before the next.
 *
 *   echo_client [-c CONNS] [-n MSGS] [-s SIZE] HOST PORT
 *
 * Every message has its own content (drawn from the connection's and the
 * message's numbers), and every byte that comes back is checked. At the
 * end it prints the connections, round trips, throughput and the latency
 * of a round trip (p50, p90, p99, max), and exits 1 if any connection
 * failed or any byte came back wrong.
 *
 * Build: cc echo_client.c serve.c $(pkg-config --cflags --libs corun)
 */
#define _GNU_SOURCE
#include "serve.h"

#include <corun.h>
#include <errno.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SEC ((int64_t)1000 * 1000 * 1000)

/* Generous: under valgrind a round trip among a thousand can take seconds. */
#define CONNECT_TIMEOUT (30 * SEC)
#define ROUND_TRIP_TIMEOUT (30 * SEC)

/* A message this small fits in the socket buffers both ways, so it can be
 * written whole before its echo is read. A bigger one could fill them
 * while the client is still writing: the server would block writing the
 * echo back, stop reading, and the client's write would never end. Those
 * are written by a second coroutine while the first reads. */
enum { WRITE_INLINE_MAX = 16 << 10 };

static long conns = 100, msgs = 10;
static size_t size = 64;
static struct sockaddr_storage addr;
static socklen_t addr_len;
static int family;

static int64_t *latency; /* one per round trip that came back */
static long nlatency;
static long failed, mismatched;

static void fail(long id, const char *what, int err)
{
	/* A few are enough to tell what went wrong; the count comes at the end. */
	if (++failed <= 5)
		fprintf(stderr, "connection %ld: %s: %s\n", id, what,
			err ? strerror(err) : "connection closed");
}

/* The message's bytes: splitmix64 seeded with the connection and message. */
static void fill(unsigned char *p, size_t n, long id, long msg)
{
	uint64_t x = (uint64_t)id << 32 ^ (uint64_t)msg;
	for (size_t i = 0; i < n; i += 8) {
		uint64_t z = (x += 0x9e3779b97f4a7c15u);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
		z ^= z >> 31;
		memcpy(p + i, &z, n - i < 8 ? n - i : 8);
	}
}

struct send {
	int fd;
	const unsigned char *buf;
	int64_t deadline;
	int err; /* 0, or errno; also -1 for a short write with no errno */
};

static void *sender(void *arg)
{
	struct send *s = arg;
	errno = 0;
	ssize_t n = corun_write(s->fd, s->buf, size, s->deadline);
	s->err = n == (ssize_t)size ? 0 : errno ? errno : -1;
	return NULL;
}

static void *client(void *arg)
{
	long id = (long)(intptr_t)arg;
	unsigned char *out = malloc(size), *in = malloc(size);
	int fd = -1;
	if (!out || !in) {
		fail(id, "malloc", ENOMEM);
		goto done;
	}
	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fail(id, "socket", errno);
		goto done;
	}
	if (corun_connect(fd, (struct sockaddr *)&addr, addr_len, corun_now() + CONNECT_TIMEOUT) < 0) {
		fail(id, "connect", errno);
		goto done;
	}
	corun_attr attr;
	corun_attr_init(&attr);
	attr.stack_size = CORUN_STACK_MIN;
	for (long m = 0; m < msgs; m++) {
		fill(out, size, id, m);
		int64_t start = corun_now(), deadline = start + ROUND_TRIP_TIMEOUT;
		struct send s = { fd, out, deadline, 0 };
		corun_t w = -1;
		if (size <= WRITE_INLINE_MAX) {
			sender(&s);
			if (s.err) {
				fail(id, "write", s.err > 0 ? s.err : 0);
				goto done;
			}
		} else if ((w = corun_go_attr(sender, &s, &attr)) < 0) {
			fail(id, "corun_go", errno);
			goto done;
		}
		size_t got = 0;
		while (got < size) {
			ssize_t n = corun_read(fd, in + got, size - got, deadline);
			if (n <= 0) {
				fail(id, "read", n < 0 ? errno : 0);
				break;
			}
			got += (size_t)n;
		}
		if (w > 0) {
			if (got < size) /* no echo is coming: stop writing */
				corun_cancel(w);
			corun_join(w, NULL);
			if (s.err && got == size) {
				fail(id, "write", s.err > 0 ? s.err : 0);
				goto done;
			}
		}
		if (got < size)
			goto done;
		latency[nlatency++] = corun_now() - start;
		if (memcmp(in, out, size) != 0) {
			if (++mismatched <= 5)
				fprintf(stderr, "connection %ld: message %ld came back changed\n", id, m);
			goto done;
		}
	}
done:
	if (fd >= 0)
		corun_close(fd);
	free(out);
	free(in);
	return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* Nearest rank: the smallest latency at least p percent of them do not exceed. */
static double percentile_ms(double p)
{
	long rank = (long)((p / 100.0) * (double)nlatency + 0.999999);
	if (rank < 1)
		rank = 1;
	return (double)latency[rank - 1] / 1e6;
}

static int usage(void)
{
	fprintf(stderr, "usage: echo_client [-c CONNS] [-n MSGS] [-s SIZE] HOST PORT\n");
	return 2;
}

int main(int argc, char **argv)
{
	int opt;
	while ((opt = getopt(argc, argv, "c:n:s:")) != -1) {
		if (opt == '?')
			return usage();
		char *end;
		long v = strtol(optarg, &end, 10);
		if (*end || v < 1 || (opt == 's' && v > (1L << 30)))
			return usage();
		if (opt == 'c')
			conns = v;
		else if (opt == 'n')
			msgs = v;
		else
			size = (size_t)v;
	}
	if (optind != argc - 2)
		return usage();

	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	int err = getaddrinfo(argv[optind], argv[optind + 1], &hints, &ai);
	if (err) {
		fprintf(stderr, "echo_client: %s: %s\n", argv[optind], gai_strerror(err));
		return 1;
	}
	memcpy(&addr, ai->ai_addr, ai->ai_addrlen);
	addr_len = ai->ai_addrlen;
	family = ai->ai_family;
	freeaddrinfo(ai);

	raise_nofile_limit();
	latency = malloc(sizeof *latency * (size_t)conns * (size_t)msgs);
	if (!latency) {
		perror("echo_client");
		return 1;
	}
	corun_attr attr;
	corun_attr_init(&attr);
	attr.stack_size = CORUN_STACK_MIN;
	attr.flags = CORUN_DETACHED;
	int64_t start = corun_now();
	for (long i = 0; i < conns; i++)
		if (corun_go_attr(client, (void *)(intptr_t)i, &attr) < 0)
			fail(i, "corun_go", errno);
	corun_run();
	double secs = (double)(corun_now() - start) / 1e9;

	qsort(latency, (size_t)nlatency, sizeof *latency, cmp_i64);
	printf("connections: %ld (%ld failed)\n", conns, failed);
	printf("round trips: %ld of %ld (%ld came back changed)\n", nlatency, conns * msgs,
	       mismatched);
	printf("throughput: %.0f round trips/s, %.2f MB/s each way, in %.3f s\n",
	       (double)nlatency / secs, (double)nlatency * (double)size / secs / 1e6, secs);
	if (nlatency)
		printf("latency: p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, max %.3f ms\n",
		       percentile_ms(50), percentile_ms(90), percentile_ms(99),
		       (double)latency[nlatency - 1] / 1e6);
	free(latency);
	return failed || mismatched || nlatency != conns * msgs ? 1 : 0;
}
