/* The shared test helpers: see helpers.h. */
#define _GNU_SOURCE
#include "helpers.h"

#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "priv.h"

/* ---- running a program's tests */
static void run_one(const struct test *t)
{
	fprintf(stderr, "-- %s\n", t->name);
	t->fn();
}

int run_tests(int argc, char **argv, const struct test *tests, size_t n)
{
	if (argc == 2 && strcmp(argv[1], "--list") == 0) {
		for (size_t i = 0; i < n; i++)
			printf("%s\n", tests[i].name);
		return 0;
	}
	if (argc < 2) {
		for (size_t i = 0; i < n; i++)
			run_one(&tests[i]);
		return 0;
	}
	/* Check every name first: a typo must not pass as a shorter run. */
	for (int a = 1; a < argc; a++) {
		size_t i = 0;
		while (i < n && strcmp(argv[a], tests[i].name) != 0)
			i++;
		if (i == n)
			CHECK_FAIL("no test named \"%s\" (--list names them)", argv[a]);
	}
	for (int a = 1; a < argc; a++)
		for (size_t i = 0; i < n; i++)
			if (strcmp(argv[a], tests[i].name) == 0)
				run_one(&tests[i]);
	return 0;
}

/* ---- coroutine bodies */
void *ret_arg(void *arg)
{
	return arg;
}

void *park_once(void *arg)
{
	CHECK_EQ(corun_park(), 0);
	return arg;
}

void *park_n(void *arg)
{
	for (intptr_t i = 0; i < (intptr_t)arg; i++)
		CHECK_EQ(corun_park(), 0);
	return arg;
}

void *block_forever(void *arg)
{
	(void)arg;
	/* A sleep with no deadline: nothing can make it ready again but a
	 * cancel, and no test cancels it. */
	corun_sleep_until(-1);
	CHECK_FAIL("a coroutine blocked for good was resumed");
	return NULL;
}

void *join_forever(void *handle)
{
	corun_join(*(corun_t *)handle, NULL);
	CHECK_FAIL("a join of a coroutine that never ends returned");
	return NULL;
}

void join_cycle(corun_t pair[2])
{
	CHECK((pair[0] = corun_go(join_forever, &pair[1])) > 0);
	CHECK((pair[1] = corun_go(join_forever, &pair[0])) > 0);
}

void deadlock_here(void)
{
	static __thread corun_t pair[2];
	join_cycle(pair);
	CHECK_ERRNO(corun_run(), EDEADLK);
}

corun_t cancel_waiting(corun_fn fn, void *arg)
{
	corun_t h = corun_go(fn, arg);
	CHECK(h > 0);
	CHECK_EQ(corun_park(), 0);
	CHECK_EQ(corun_cancel(h), 0);
	CHECK_EQ(corun_join(h, NULL), 0);
	return h;
}

corun_t spawn_with(corun_fn fn, void *arg, size_t stack_size, unsigned flags)
{
	corun_attr a;
	CHECK_EQ(corun_attr_init(&a), 0);
	if (stack_size)
		a.stack_size = stack_size;
	a.flags = flags;
	corun_t h = corun_go_attr(fn, arg, &a);
	CHECK(h > 0);
	return h;
}

void fresh_runtime(void)
{
	CHECK_EQ(corun_shutdown(), 0);
	CHECK_PTR_EQ(corun_priv_runtime(), NULL);
}

/* ---- elsewhere: a thread, a child process */
void *on_thread(void *(*fn)(void *), void *arg)
{
	pthread_t t;
	void *r;
	CHECK_EQ(pthread_create(&t, NULL, fn, arg), 0);
	CHECK_EQ(pthread_join(t, &r), 0);
	return r;
}

static int report_fd = -1;

void child_report(const char *line)
{
	size_t len = strlen(line);
	CHECK(report_fd >= 0);
	CHECK_EQ(write(report_fd, line, len), (long long)len);
}

/* Read fd to its end, keeping the first cap - 1 bytes in buf (NUL ended):
 * draining the rest keeps a talkative child from blocking on a full pipe. */
static void read_all(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	char sink[4096];
	for (;;) {
		char *to = n < cap - 1 ? buf + n : sink;
		size_t room = n < cap - 1 ? cap - 1 - n : sizeof sink;
		ssize_t r = read(fd, to, room);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (to != sink)
			n += (size_t)r;
	}
	buf[n] = '\0';
	close(fd);
}

void run_child(struct child *c, void (*fn)(void))
{
	memset(c, 0, sizeof *c);
	int err[2], rep[2];
	CHECK_EQ(pipe(err), 0);
	CHECK_EQ(pipe(rep), 0);
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		close(err[0]);
		close(rep[0]);
		dup2(err[1], STDERR_FILENO);
		close(err[1]);
		report_fd = rep[1];
		fn();
		_exit(0);
	}
	close(err[1]);
	close(rep[1]);
	/* The child writes its report before it dies, and stderr around it:
	 * stderr is read first, to its end (the child's death closes both). */
	read_all(err[0], c->err, sizeof c->err);
	read_all(rep[0], c->report, sizeof c->report);
	int status;
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	c->signaled = WIFSIGNALED(status);
	c->sig = c->signaled ? WTERMSIG(status) : 0;
	c->exited = WIFEXITED(status);
	c->code = c->exited ? WEXITSTATUS(status) : -1;
}

void in_child(void (*fn)(void))
{
	struct child c;
	run_child(&c, fn);
	fputs(c.err, stderr);
	if (c.signaled)
		CHECK_FAIL("the child died of signal %d (%s)", c.sig, strsignal(c.sig));
	CHECK(c.exited);
	CHECK_EQ(c.code, 0);
}

int guards_take_mappings(size_t stack_size)
{
	enum { PROBE = 256 };
	corun_t p[PROBE];
	fresh_runtime();
	long before = count_mappings();
	for (int i = 0; i < PROBE; i++)
		p[i] = spawn_with(ret_arg, NULL, stack_size, 0);
	long grew = count_mappings() - before;
	for (int i = 0; i < PROBE; i++)
		CHECK_EQ(corun_join(p[i], NULL), 0);
	fresh_runtime();
	return grew >= PROBE / 2;
}

/* ---- memory and time */
long count_mappings(void)
{
	return count_mappings_in(NULL, NULL, 0);
}

long count_mappings_in(void *const *base, const size_t *len, size_t n)
{
	FILE *f = fopen("/proc/self/maps", "r");
	if (!f)
		CHECK_FAIL("cannot open /proc/self/maps");
	long count = 0;
	char line[4096];
	while (fgets(line, sizeof line, f)) {
		/* A path longer than the buffer continues on the next read. */
		int whole = strchr(line, '\n') != NULL;
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx", &lo, &hi) != 2)
			CHECK_FAIL("unexpected line in /proc/self/maps: %s", line);
		if (!base) {
			count++;
		} else {
			for (size_t i = 0; i < n; i++) {
				unsigned long b = (unsigned long)base[i];
				if (lo < b + len[i] && b < hi) {
					count++;
					break;
				}
			}
		}
		while (!whole && fgets(line, sizeof line, f))
			whole = strchr(line, '\n') != NULL;
	}
	fclose(f);
	return count;
}

int is_mapped(const void *p)
{
	/* From /proc/self/maps rather than mincore: qemu-user emulates the
	 * former for the program it runs, and fails mincore on a guard page. */
	void *base = (void *)p;
	size_t one = 1;
	return count_mappings_in(&base, &one, 1) > 0;
}

static void statm(unsigned long *size, unsigned long *resident)
{
	FILE *f = fopen("/proc/self/statm", "r");
	if (!f)
		CHECK_FAIL("cannot open /proc/self/statm");
	CHECK_EQ(fscanf(f, "%lu %lu", size, resident), 2);
	fclose(f);
}

size_t vm_bytes(void)
{
	unsigned long size, resident;
	statm(&size, &resident);
	return size * (size_t)sysconf(_SC_PAGESIZE);
}

size_t rss_bytes(void)
{
	unsigned long size, resident;
	statm(&size, &resident);
	return resident * (size_t)sysconf(_SC_PAGESIZE);
}

size_t status_bytes(const char *field)
{
	FILE *f = fopen("/proc/self/status", "r");
	if (!f)
		CHECK_FAIL("cannot open /proc/self/status");
	char line[256];
	size_t flen = strlen(field), kb = 0;
	int found = 0;
	while (!found && fgets(line, sizeof line, f))
		found = strncmp(line, field, flen) == 0 && line[flen] == ':' &&
			sscanf(line + flen + 1, "%zu kB", &kb) == 1;
	fclose(f);
	if (!found)
		CHECK_FAIL("no %s in /proc/self/status", field);
	return kb << 10;
}

double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int threads_after_fork(void)
{
	if (getenv("CORUN_TEST_EMULATED")) {
		fprintf(stderr, "   skipped: under qemu-user, a child of a threaded fork "
				"cannot start threads\n");
		return 0;
	}
	return 1;
}

int io_backend(void)
{
	struct corun_stats st = { .size = sizeof st };
	CHECK_EQ(corun_stats(&st), 0);
	if (!st.io_backend) { /* none chosen yet: a call that chooses it */
		CHECK_ERRNO(corun_wait_fd(INT_MAX, POLLIN, 0), EBADF);
		CHECK_EQ(corun_stats(&st), 0);
	}
	return (int)st.io_backend;
}
