/*
 * Load for the echo benchmarks (bench/net/run.sh): N connections to
 * 127.0.0.1:PORT, each a 64-byte ping-pong (send, wait for all 64 bytes to
 * come back, send again), driven by one thread on a level-triggered epoll
 * loop. The client is plain C on purpose: its own cost per round trip is
 * the same whichever server it talks to, so a difference in round trips
 * per second is the server's.
 *
 * After a warm-up it measures a window and prints one line:
 *   conns=N rt=R secs=S rtps=X p50_us=A p99_us=B cpu_ns_per_rt=C
 * The window is closed at both ends: the load stops sending and waits for
 * every echo in flight before it starts and after it ends, so the server is
 * idle at both edges and everything it did in between belongs to the round
 * trips counted. (With 10,000 connections and 100 ms of latency, an open
 * window would be off by thousands of round trips at each edge.) The
 * server's CPU time is read at the edges from
 * /proc/PID/task/TID/schedstat (nanoseconds of run time, summed over its
 * threads). With --perf CTL,ACK a `perf stat -D -1 --control fifo:CTL,ACK`
 * is enabled and disabled at the same edges, to count its system calls.
 *
 * --idle: connect N, make one round trip on each (so that every server-side
 * handler has come to its read), print "idle", and hold the connections
 * until stdin closes; for the memory measurement.
 *
 * Usage: echo_load -p PORT -c CONNS [-w WARMUP_S] [-d SECS] [-s SERVER_PID]
 *                  [--perf CTL,ACK] [--idle]
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MSG 64

struct conn {
	int fd;
	int got;	/* bytes of the echo received so far */
	int64_t sent_at;
};

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

/*
 * Latency histogram, log-linear: 64 sub-buckets per power of two, so a
 * percentile is within about 1.6% of the true value, in constant memory
 * whatever the number of samples.
 */
#define SUB 64
static uint64_t hist[64 * SUB];

static int bucket(uint64_t v)
{
	if (v < SUB)
		return (int)v;
	int e = 63 - __builtin_clzll(v);	/* v in [2^e, 2^(e+1)) */
	int s = (int)((v >> (e - 6)) & (SUB - 1));
	return (e - 5) * SUB + s;
}

static double bucket_mid(int b)
{
	if (b < SUB)
		return b;
	int e = b / SUB + 5, s = b % SUB;
	double lo = (double)(1ULL << e) + (double)s * (double)(1ULL << (e - 6));
	return lo + (double)(1ULL << (e - 6)) / 2;
}

static double percentile(double p)
{
	uint64_t total = 0;
	for (int i = 0; i < 64 * SUB; i++)
		total += hist[i];
	uint64_t want = (uint64_t)(p * (double)total), seen = 0;
	for (int i = 0; i < 64 * SUB; i++) {
		seen += hist[i];
		if (seen > want)
			return bucket_mid(i);
	}
	return 0;
}

/* The server's run time in ns, summed over its threads (-1: unknown). */
static int64_t server_cpu_ns(int pid)
{
	if (pid <= 0)
		return -1;
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/task", pid);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	int64_t sum = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char p[300];
		snprintf(p, sizeof p, "/proc/%d/task/%s/schedstat", pid, e->d_name);
		FILE *f = fopen(p, "r");
		long long run;
		if (f && fscanf(f, "%lld", &run) == 1)
			sum += run;
		if (f)
			fclose(f);
	}
	closedir(d);
	return sum;
}

static int perf_ctl = -1, perf_ack = -1;

/* Tell perf to enable or disable its counters, and wait for its answer:
 * the first takes seconds, while perf opens its tracepoints. */
static void perf_cmd(const char *cmd)
{
	char buf[16];
	if (write(perf_ctl, cmd, strlen(cmd)) < 0 || read(perf_ack, buf, sizeof buf) <= 0)
		die("perf control");
}

static void send_ping(struct conn *c, const char *msg)
{
	c->got = 0;
	c->sent_at = now_ns();
	ssize_t w = write(c->fd, msg, MSG);
	if (w != MSG)	/* 64 bytes always fit an empty socket buffer */
		die("write");
}

int main(int argc, char **argv)
{
	int port = 0, n = 1, server = 0, idle = 0;
	double warm = 1, secs = 3;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--idle")) {
			idle = 1;
			continue;
		}
		if (!v)
			goto usage;
		i++;
		if (!strcmp(a, "-p"))
			port = atoi(v);
		else if (!strcmp(a, "-c"))
			n = atoi(v);
		else if (!strcmp(a, "-w"))
			warm = atof(v);
		else if (!strcmp(a, "-d"))
			secs = atof(v);
		else if (!strcmp(a, "-s"))
			server = atoi(v);
		else if (!strcmp(a, "--perf")) {
			char ctl[256], ack[256];
			if (sscanf(v, "%255[^,],%255s", ctl, ack) != 2)
				goto usage;
			/* O_RDWR: neither open waits for perf's side of the FIFO. */
			if ((perf_ctl = open(ctl, O_RDWR)) < 0 || (perf_ack = open(ack, O_RDWR)) < 0)
				die("perf fifo");
		} else
			goto usage;
	}
	if (idle)
		warm = 0; /* one round trip on each connection */
	if (port <= 0 || n <= 0)
		goto usage;

	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)n + 64) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	struct conn *conns = calloc((size_t)n, sizeof *conns);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (!conns || ep < 0)
		die("setup");
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	/* Blocking connects: on loopback each completes at once, as long as
	 * the server's accept queue has room; a short pause lets it drain. */
	for (int i = 0; i < n; i++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			die("socket");
		if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
			die("connect");
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		conns[i].fd = fd;
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &conns[i] };
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
			die("epoll_ctl");
		if (i % 1000 == 999)
			usleep(10000);
	}

	char msg[MSG], buf[4096];
	memset(msg, 'x', sizeof msg);
	for (int i = 0; i < n; i++)
		send_ping(&conns[i], msg);

	/*
	 * Warm-up; quiet (no new pings until all echoes are back); the window,
	 * from sending a ping on every connection until the time is up; the
	 * drain (no new pings, echoes still counted until the last is back).
	 */
	enum { WARM, QUIET, MEASURING, DRAIN } phase = WARM;
	struct epoll_event evs[1024];
	int64_t t_end = now_ns() + (int64_t)(warm * 1e9), t_measure = 0;
	int64_t cpu0 = 0, cpu1;
	int inflight = n;
	long long rt = 0;
	for (;;) {
		int k = epoll_wait(ep, evs, 1024, 100);
		if (k < 0 && errno != EINTR)
			die("epoll_wait");
		int64_t t = now_ns();
		for (int j = 0; j < k; j++) {
			struct conn *c = evs[j].data.ptr;
			ssize_t r = read(c->fd, buf, sizeof buf);
			if (r == 0) {
				fprintf(stderr, "echo_load: server closed a connection\n");
				exit(1);
			}
			if (r < 0) {
				if (errno == EAGAIN)
					continue;
				die("read");
			}
			c->got += (int)r;
			if (c->got < MSG)
				continue;
			inflight--;
			if (phase >= MEASURING) {
				hist[bucket((uint64_t)(t - c->sent_at))]++;
				rt++;
			}
			if (phase == WARM || phase == MEASURING) {
				send_ping(c, msg);
				inflight++;
			}
		}
		if (phase == WARM && t >= t_end)
			phase = QUIET;
		if (phase == QUIET && inflight == 0) {
			if (idle)
				break;
			if (perf_ctl >= 0)
				perf_cmd("enable");
			cpu0 = server_cpu_ns(server);
			t_measure = now_ns();
			t_end = t_measure + (int64_t)(secs * 1e9);
			for (int i = 0; i < n; i++)
				send_ping(&conns[i], msg);
			inflight = n;
			phase = MEASURING;
		} else if (phase == MEASURING && t >= t_end) {
			phase = DRAIN;
		}
		if (phase == DRAIN && inflight == 0)
			break;
	}
	if (idle) {
		printf("idle\n");
		fflush(stdout);
		while (read(0, buf, sizeof buf) > 0)
			;
		return 0;
	}
	int64_t t_stop = now_ns();
	cpu1 = server_cpu_ns(server);
	if (perf_ctl >= 0)
		perf_cmd("disable");
	double el = (double)(t_stop - t_measure) / 1e9;
	printf("conns=%d rt=%lld secs=%.3f rtps=%.0f p50_us=%.1f p99_us=%.1f cpu_ns_per_rt=%.0f\n",
	       n, rt, el, (double)rt / el, percentile(0.50) / 1e3, percentile(0.99) / 1e3,
	       cpu0 >= 0 && rt ? (double)(cpu1 - cpu0) / (double)rt : -1.0);
	return 0;
usage:
	fprintf(stderr, "usage: echo_load -p PORT -c CONNS [-w WARMUP_S] [-d SECS] "
			"[-s SERVER_PID] [--perf CTL,ACK] [--idle]\n");
	return 2;
}
