/*
 * fork: a child shares nothing of corun with its parent. Parent and child
 * both do descriptor I/O after a fork, round after round, and the parent's
 * reads are never starved of their reports: with a child that only sleeps
 * (the case), one that reads and writes its own pipes, one forked
 * from inside a coroutine, and one that execs this program to do the same.
 * The child's copies of coroutines that waited on descriptors go on waiting
 * on them (or learn the error if they cannot), and the registry of
 * runtimes lists the child's own only.
 */
#define _GNU_SOURCE
#include "helpers.h"

#include <corun.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "priv.h" /* white box: the registry, waits on descriptors */

/* Long enough for valgrind on a busy machine: a deadline that only keeps
 * a broken test from hanging. */
#define PATIENCE (10000 * MS)
#define ROUNDS 40

/* ---- what a child does until the parent closes `stop` */

/* Echo what comes on one pipe to another, until the end of it. */
static void *echo(void *arg)
{
	int *fds = arg; /* read here, write there */
	char buf[64];
	ssize_t n;
	while ((n = corun_read(fds[0], buf, sizeof buf, corun_now() + PATIENCE)) > 0)
		CHECK_EQ(corun_write(fds[1], buf, (size_t)n, -1), n);
	CHECK_EQ(n, 0);
	return NULL;
}

/* Whether the parent has closed `stop` (the end of file), asked without
 * waiting. */
static int stopped(int stop)
{
	char c;
	ssize_t n = corun_read(stop, &c, 1, 0);
	if (n < 0)
		CHECK_EQ(errno, ETIMEDOUT);
	return n == 0;
}

/* Tell the parent the child is under way (a byte on `ready`), so that the
 * parent's rounds run beside the child's. */
static void under_way(int ready)
{
	CHECK_EQ(write(ready, "r", 1), 1);
	close(ready);
}

/* Descriptor I/O of the child's own, waiting each time: a ping-pong with a
 * coroutine over two pipes, and sleeps, until the parent says stop. */
static void child_io(int stop, int ready)
{
	int there[2], back[2];
	CHECK_EQ(pipe2(there, O_CLOEXEC), 0);
	CHECK_EQ(pipe2(back, O_CLOEXEC), 0);
	int fds[2] = { there[0], back[1] };
	corun_t e = corun_go(echo, fds);
	CHECK(e > 0);
	long rounds = 0;
	for (; !stopped(stop); rounds++) {
		char out[8], in[8] = { 0 };
		snprintf(out, sizeof out, "c%05ld", rounds % 100000);
		CHECK_EQ(corun_write(there[1], out, 6, -1), 6);
		size_t have = 0;
		while (have < 6) {
			ssize_t n = corun_read(back[0], in + have, 6 - have, corun_now() + PATIENCE);
			CHECK(n > 0);
			have += (size_t)n;
		}
		CHECK(memcmp(in, out, 6) == 0);
		if (rounds == 0)
			under_way(ready);
		CHECK_EQ(corun_sleep(MS / 4), 0);
	}
	CHECK_EQ(corun_close(there[1]), 0);
	CHECK_EQ(corun_join(e, NULL), 0);
	CHECK_EQ(corun_close(there[0]), 0);
	CHECK_EQ(corun_close(back[0]), 0);
	CHECK_EQ(corun_close(back[1]), 0);
	CHECK(rounds > 0);
}

/* Only sleeps: the case. */
static void child_sleeps(int stop, int ready)
{
	CHECK_EQ(corun_sleep(MS / 4), 0);
	under_way(ready);
	while (!stopped(stop))
		CHECK_EQ(corun_sleep(MS / 4), 0);
}

/* ---- the parent's side: reads that wait, fed by a thread */
struct feed {
	int out; /* written here, one byte a round */
	int ack; /* and the next round waits for this */
};

static void *feeder(void *arg)
{
	struct feed *f = arg;
	char c;
	for (int i = 0; i < ROUNDS; i++) {
		CHECK_EQ(write(f->out, "x", 1), 1);
		CHECK_EQ(read(f->ack, &c, 1), 1);
	}
	return NULL;
}

/* ROUNDS reads of the pipe whose read end is `in`, each of which waits for
 * the kernel's report of the byte the feeder writes: none may miss it. */
static void parent_reads(int in, int out)
{
	int ack[2];
	CHECK_EQ(pipe2(ack, O_CLOEXEC), 0);
	struct feed f = { out, ack[0] };
	pthread_t t;
	CHECK_EQ(pthread_create(&t, NULL, feeder, &f), 0);
	for (int i = 0; i < ROUNDS; i++) {
		char buf[16];
		ssize_t n = corun_read(in, buf, sizeof buf, corun_now() + PATIENCE);
		if (n != 1)
			CHECK_FAIL("round %d: corun_read gave %zd (%s)", i, n,
				   n < 0 ? strerror(errno) : "no byte");
		CHECK_EQ(write(ack[1], "k", 1), 1);
	}
	CHECK_EQ(pthread_join(t, NULL), 0);
	close(ack[0]);
	close(ack[1]);
}

/* The parent's pipe, registered with its epoll instance before the fork
 * (a read that waited once), as a server's connections would be. */
static int in[2], stop[2], ready[2];

static void registered_pipe(void)
{
	CHECK_EQ(pipe2(in, O_CLOEXEC), 0);
	char c;
	CHECK_ERRNO(corun_read(in[0], &c, 1, corun_now() + MS), ETIMEDOUT);
	CHECK_EQ(pipe(stop), 0); /* both survive exec */
	CHECK_EQ(pipe(ready), 0);
}

/* After the child is forked: the parent's rounds, then stop the child and
 * see it exit 0. */
static void parent_side(pid_t pid)
{
	CHECK(pid > 0);
	close(stop[0]);
	close(ready[1]);
	char c;
	if (read(ready[0], &c, 1) != 1)
		fprintf(stderr, "the child ended before it was under way\n");
	close(ready[0]);
	parent_reads(in[0], in[1]);
	close(stop[1]);
	int status;
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		CHECK_FAIL("the child died of signal %d", WTERMSIG(status));
	CHECK(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		fprintf(stderr, "skipped: the child could not exec this program here\n");
	else
		CHECK_EQ(WEXITSTATUS(status), 0);
	CHECK_EQ(corun_close(in[0]), 0);
	CHECK_EQ(corun_close(in[1]), 0);
}

static void in_the_child(void (*body)(int stop, int ready))
{
	close(stop[1]);
	close(ready[0]);
	body(stop[0], ready[1]);
	_exit(0);
}

static void fork_and_read(void (*body)(int stop, int ready))
{
	registered_pipe();
	fflush(stderr);
	pid_t pid = fork();
	if (pid == 0)
		in_the_child(body);
	parent_side(pid);
}

static void child_sleeping(void)
{
	fork_and_read(child_sleeps);
}

static void child_reading(void)
{
	fork_and_read(child_io);
}

/* From inside a coroutine: in the child it is that coroutine that goes on
 * (and must not return into the parent's test). */
static void *forks(void *arg)
{
	(void)arg;
	fork_and_read(child_io);
	return NULL;
}

static void *busy(void *arg)
{
	volatile int *done = arg;
	while (!*done)
		CHECK_EQ(corun_park(), 0);
	return NULL;
}

/* ThreadSanitizer counts every coroutine as a thread (a fiber), and gives
 * up on a child forked with more than one: a child that runs coroutines
 * made before the fork gets false reports. */
static int tsan_skips(void)
{
#ifdef UNDER_TSAN
	fprintf(stderr, "   skipped under ThreadSanitizer\n");
	return 1;
#else
	return 0;
#endif
}

static void from_coroutine(void)
{
	if (tsan_skips())
		return;
	static volatile int done;
	done = 0;
	corun_t b = corun_go(busy, (void *)&done); /* a neighbour, in both */
	corun_t h = corun_go(forks, NULL);
	CHECK_EQ(corun_join(h, NULL), 0);
	done = 1;
	CHECK_EQ(corun_join(b, NULL), 0);
}

/* With exec: the child is this program again, doing its own I/O. */
static char self[4096];

static void exec_child(int stop_fd, int ready_fd)
{
	char arg[16], arg2[16];
	snprintf(arg, sizeof arg, "%d", stop_fd);
	snprintf(arg2, sizeof arg2, "%d", ready_fd);
	execl(self, self, "--child-io", arg, arg2, (char *)NULL);
	_exit(77); /* no exec here (qemu-user without binfmt) */
}

static void child_exec(void)
{
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	CHECK(n > 0);
	self[n] = '\0';
	registered_pipe();
	fflush(stderr);
	pid_t pid = fork();
	if (pid == 0) {
		close(stop[1]);
		close(ready[0]);
		exec_child(stop[0], ready[1]);
	}
	parent_side(pid);
}

/* ---- what the child's copies of waiting coroutines do */
static int c_pipe[2], d_pipe[2];

static void *reads_c(void *arg)
{
	(void)arg;
	char c;
	ssize_t n = corun_read(c_pipe[0], &c, 1, corun_now() + PATIENCE);
	return (void *)(intptr_t)(n == 1 ? c : n < 0 ? -errno : -1000);
}

static void *reads_d(void *arg)
{
	(void)arg;
	char c;
	ssize_t n = corun_read(d_pipe[0], &c, 1, corun_now() + PATIENCE);
	return (void *)(intptr_t)(n == 1 ? c : n < 0 ? -errno : -1000);
}

static corun_t rc, rd;

/* The copies wait on the same pipes as the parent's coroutines: one gets
 * what the child writes, the other finds its pipe closed by the child. */
static void copies_child(void)
{
	CHECK_EQ(close(d_pipe[0]), 0); /* close(2): the copy cannot wait on it */
	CHECK_EQ(write(c_pipe[1], "c", 1), 1);
	void *r;
	CHECK_EQ(corun_join(rc, &r), 0);
	CHECK_EQ((intptr_t)r, 'c');
	CHECK_EQ(corun_join(rd, &r), 0);
	CHECK_EQ((intptr_t)r, -EBADF);
}

static void waiters_in_child(void)
{
	if (tsan_skips())
		return;
	CHECK_EQ(pipe2(c_pipe, O_CLOEXEC), 0);
	CHECK_EQ(pipe2(d_pipe, O_CLOEXEC), 0);
	/* d's read end far above the rest: the number the child closes must
	 * stay free, not be taken by the child's new epoll instance. */
	CHECK_EQ(dup3(d_pipe[0], 200, O_CLOEXEC), 200);
	CHECK_EQ(close(d_pipe[0]), 0);
	d_pipe[0] = 200;
	rc = corun_go(reads_c, NULL);
	rd = corun_go(reads_d, NULL);
	CHECK_EQ(corun_park(), 0); /* both wait */
	CHECK_EQ(corun_priv_fd_waiting(), 2);
	in_child(copies_child); /* the parent does not run meanwhile */
	/* The parent's own are still waiting, and still served. */
	CHECK_EQ(corun_priv_fd_waiting(), 2);
	CHECK_EQ(write(c_pipe[1], "p", 1), 1);
	CHECK_EQ(write(d_pipe[1], "q", 1), 1);
	void *r;
	CHECK_EQ(corun_join(rc, &r), 0);
	CHECK_EQ((intptr_t)r, 'p');
	CHECK_EQ(corun_join(rd, &r), 0);
	CHECK_EQ((intptr_t)r, 'q');
	for (int i = 0; i < 2; i++) {
		CHECK_EQ(corun_close(c_pipe[i]), 0);
		CHECK_EQ(corun_close(d_pipe[i]), 0);
	}
}

/* ---- shared channels: what the child gets
 *
 * At the fork, a coroutine of another thread waits on a shared channel,
 * and one of the forking thread waits on another, which only it uses. In
 * the child, the other thread is gone: its waiter is still queued on the
 * first channel, pointing into a runtime no thread runs, so the child
 * leaves that channel alone. The forking thread's own waiter is whole: a
 * thread the child starts sends to it, and the remote wake reaches the
 * child's thread asleep in the kernel (its wake descriptor is made anew:
 * the parent's is not in the child's epoll instance). Then the child
 * makes new shared channels and passes messages both ways between its
 * coroutines and its new thread's. The parent goes on as if nothing
 * happened. */
enum { XROUNDS = 200 };

static corun_chan *others_ch, *own_ch;
static pthread_barrier_t others_ready;

static void *recv_until_closed(void *arg)
{
	long v, n = 0;
	while (corun_chan_recv(arg, &v, -1) == 0) /* the parent waits for the child */
		n += v;
	CHECK_EQ(errno, EPIPE);
	return (void *)n;
}

static void *others_wait(void *arg)
{
	(void)arg;
	corun_t h[3];
	for (int i = 0; i < 3; i++)
		CHECK((h[i] = corun_go(recv_until_closed, others_ch)) > 0);
	CHECK_EQ(corun_park(), 0); /* all three wait */
	pthread_barrier_wait(&others_ready);
	long sum = 0;
	for (int i = 0; i < 3; i++) {
		void *r;
		CHECK_EQ(corun_join(h[i], &r), 0);
		sum += (long)r;
	}
	return (void *)sum;
}

static void *recv_one_shared(void *arg)
{
	long v = 0;
	if (corun_chan_recv(arg, &v, corun_now() + PATIENCE) < 0)
		CHECK_FAIL("recv: %s", strerror(errno));
	return (void *)v;
}

static void *send_later(void *arg)
{
	usleep(20000); /* the receiving thread sleeps in the kernel by then */
	long v = 99;
	CHECK_EQ(corun_chan_send(arg, &v, corun_now() + PATIENCE), 0);
	return NULL;
}

struct xpp {
	corun_chan *ping, *pong;
};

static void *xpong(void *arg)
{
	struct xpp *p = arg;
	for (long i = 0; i < XROUNDS; i++) {
		long v;
		CHECK_EQ(corun_chan_recv(p->ping, &v, corun_now() + PATIENCE), 0);
		CHECK_EQ(v, i);
		v = -i;
		CHECK_EQ(corun_chan_send(p->pong, &v, corun_now() + PATIENCE), 0);
	}
	return NULL;
}

static void *xpong_thread(void *arg)
{
	CHECK(corun_go(xpong, arg) > 0);
	CHECK_EQ(corun_run(), 0);
	return NULL;
}

static corun_t own_waiter;

static void shared_child(void)
{
	alarm(60); /* a lost wake hangs: die of SIGALRM instead */
	/* The forking thread's waiter, woken from a thread of the child's. */
	pthread_t t;
	CHECK_EQ(pthread_create(&t, NULL, send_later, own_ch), 0);
	void *r;
	CHECK_EQ(corun_join(own_waiter, &r), 0);
	CHECK_EQ((long)r, 99);
	CHECK_EQ(pthread_join(t, NULL), 0);

	/* New shared channels, between this thread's coroutine and main and
	 * a new thread's coroutine, unbuffered and buffered. */
	for (int cap = 0; cap <= 1; cap++) {
		struct xpp p = { corun_chan_make_shared(sizeof(long), (size_t)cap),
				 corun_chan_make_shared(sizeof(long), (size_t)cap) };
		CHECK(p.ping && p.pong);
		CHECK_EQ(pthread_create(&t, NULL, xpong_thread, &p), 0);
		for (long i = 0; i < XROUNDS; i++) {
			long v;
			CHECK_EQ(corun_chan_send(p.ping, &i, corun_now() + PATIENCE), 0);
			CHECK_EQ(corun_chan_recv(p.pong, &v, corun_now() + PATIENCE), 0);
			CHECK_EQ(v, -i);
		}
		CHECK_EQ(pthread_join(t, NULL), 0);
		CHECK_EQ(corun_chan_free(p.ping), 0);
		CHECK_EQ(corun_chan_free(p.pong), 0);
	}
	/* A coroutine of this thread waits; the child's new thread wakes it. */
	corun_chan *ch = corun_chan_make_shared(sizeof(long), 0);
	corun_t h = corun_go(recv_one_shared, ch);
	CHECK_EQ(pthread_create(&t, NULL, send_later, ch), 0);
	CHECK_EQ(corun_join(h, &r), 0);
	CHECK_EQ((long)r, 99);
	CHECK_EQ(pthread_join(t, NULL), 0);
	CHECK_EQ(corun_chan_free(ch), 0);
}

static void shared_across_fork(void)
{
	if (tsan_skips() || !threads_after_fork()) /* the child starts a thread */
		return;
	others_ch = corun_chan_make_shared(sizeof(long), 0);
	own_ch = corun_chan_make_shared(sizeof(long), 0);
	CHECK(others_ch && own_ch);
	CHECK_EQ(pthread_barrier_init(&others_ready, NULL, 2), 0);
	pthread_t t;
	CHECK_EQ(pthread_create(&t, NULL, others_wait, NULL), 0);
	pthread_barrier_wait(&others_ready);
	own_waiter = corun_go(recv_one_shared, own_ch);
	CHECK_EQ(corun_park(), 0); /* it waits: this thread has its wake descriptor */
	in_child(shared_child);

	/* The parent's waiters were not disturbed, and are served. */
	for (long v = 1; v <= 3; v++)
		CHECK_EQ(corun_chan_send(others_ch, &v, corun_now() + PATIENCE), 0);
	CHECK_EQ(corun_chan_close(others_ch), 0);
	void *r;
	CHECK_EQ(pthread_join(t, &r), 0);
	CHECK_EQ((long)r, 6);
	CHECK_EQ(pthread_create(&t, NULL, send_later, own_ch), 0);
	CHECK_EQ(corun_join(own_waiter, &r), 0);
	CHECK_EQ((long)r, 99);
	CHECK_EQ(pthread_join(t, NULL), 0);
	CHECK_EQ(corun_chan_free(others_ch), 0);
	CHECK_EQ(corun_chan_free(own_ch), 0);
	CHECK_EQ(pthread_barrier_destroy(&others_ready), 0);
}

/* ---- the registry: the child lists its own runtime, or none */
static pthread_barrier_t hold;

static void *holds_a_runtime(void *arg)
{
	(void)arg;
	CHECK_EQ(corun_sleep(MS), 0); /* a runtime of its own */
	pthread_barrier_wait(&hold);  /* forked meanwhile */
	pthread_barrier_wait(&hold);
	return NULL;
}

static void registry_has_own(void)
{
	int tid = 0;
	CHECK_EQ(corun_priv_registry_count(), 1);
	CHECK_PTR_EQ(corun_priv_registry_at(0, &tid), corun_priv_runtime());
	CHECK_PTR_EQ(corun_priv_registry_at(1, NULL), NULL);
	CHECK_EQ(tid, getpid());
	CHECK_EQ(corun_sleep(MS), 0); /* and it works */
}

static void registry_has_none(void)
{
	CHECK_EQ(corun_priv_registry_count(), 0);
	CHECK_PTR_EQ(corun_priv_registry_at(0, NULL), NULL);
	CHECK_EQ(corun_sleep(MS), 0); /* its first runtime */
	registry_has_own();
}

static void *forks_without_runtime(void *arg)
{
	(void)arg;
	in_child(registry_has_none);
	return NULL;
}

static void registry(void)
{
	CHECK_EQ(corun_sleep(MS), 0); /* main has a runtime */
	CHECK_EQ(pthread_barrier_init(&hold, NULL, 2), 0);
	pthread_t t;
	CHECK_EQ(pthread_create(&t, NULL, holds_a_runtime, NULL), 0);
	pthread_barrier_wait(&hold);
	CHECK(corun_priv_registry_count() >= 2);
	in_child(registry_has_own);
	void *r = on_thread(forks_without_runtime, NULL);
	(void)r;
	pthread_barrier_wait(&hold);
	CHECK_EQ(pthread_join(t, NULL), 0);
	CHECK_EQ(pthread_barrier_destroy(&hold), 0);
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "--child-io") == 0) { /* exec'd by child_exec */
		child_io(atoi(argv[2]), atoi(argv[3]));
		return 0;
	}
	static const struct test tests[] = {
		TEST(child_sleeping), TEST(child_reading), TEST(from_coroutine),
		TEST(child_exec), TEST(waiters_in_child), TEST(registry),
		TEST(shared_across_fork),
	};
	return RUN_TESTS(argc, argv, tests);
}
