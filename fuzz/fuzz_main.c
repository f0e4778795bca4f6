/*
 * libFuzzer target for the corun runtime: the driver (the model's parts are
 * in model_*.c; fuzz.h lists them).
 *
 * The input is a program of runtime operations, read through one shared
 * byte cursor by the thread's main context and by every coroutine: whoever
 * runs reads the next operation. Each input runs in a fresh OS thread, so
 * its runtime is created by the first spawn, kept while idle, and released
 * by corun_shutdown or by the thread-exit destructor, even when coroutines
 * are left blocked forever in a cycle of joins (LeakSanitizer sees it if
 * not).
 *
 * A model of every coroutine (spawned, ended, joined or detached, who joins
 * whom, what it waits on), of two channels (buffer, queues of waiting
 * senders and receivers, in order), of a wait group (its counter, who waits)
 * and of two mutexes (holder, line of waiters, in order) is kept alongside.
 * It is updated by whoever acts, at the moment it acts: a coroutine marks
 * itself ended right before it returns, a sender that hands an element to a
 * waiting receiver writes down what that receiver's call will return, an
 * unlock writes down who holds the mutex now; so it never guesses the order
 * the scheduler picks. After every operation check() holds the runtime to
 * the model: corun_count, handle validity and errno, ids, names, results,
 * and, white box (through tests/priv.h), the handle table, the ready ring,
 * every coroutine's state and joiners and both channels' buffers and
 * queues; a coroutine the model has waiting on a wait group or a mutex must
 * be blocked, and one it has woken must not. The one thing the model cannot
 * know is when a sleep's deadline fires: a sleeping coroutine may be found
 * waiting or ready, and a cancel that comes after its deadline fired finds
 * nothing to interrupt.
 *
 * Descriptors: two pipes of one page and a Unix stream socket pair, made
 * for every input and closed at its end (the count of open descriptors is
 * the same after an input as before). The model keeps the bytes queued in
 * each direction (a pipe's page offset too, which decides whether a write
 * fits), so every read is checked byte for byte, in order, and the kernel's
 * counts (FIONREAD) after every step. Coroutines read, write and wait on
 * them with deadline 0, a short one or -1; the harness writes and reads the
 * other side as another process would, and closes them (made again at
 * once). When a call that may wait returns is the one thing the model
 * cannot know (a report is collected when the scheduler looks): it accepts
 * what the state then allows, and holds the rest exact: who waits in which
 * slot of the runtime (white box), EBUSY only when another is in the slot,
 * ETIMEDOUT only with a deadline, EBADF after corun_close, ECANCELED, never
 * EAGAIN; and a waiter whose bytes or room are there has a report pending in
 * the epoll instance, and has returned after main's next park unless others
 * took them first. Main never drives the scheduler (corun_run, a join or a
 * wait group or mutex wait that waits) while a descriptor call waits with
 * -1, and calls made meanwhile wait with a short deadline instead: nobody
 * else would write, and the idle step would block the thread for good.
 *
 * Encoding (see make_corpus.py, which writes the seeds):
 *   main op, byte % 8:      coroutine op, byte % 8:
 *     0,1 spawn  ATTR         0,1,7 park
 *     2,7 park                2     spawn ATTR
 *     3   join   HANDLE       3     join   HANDLE
 *     4   detach HANDLE       4     detach HANDLE
 *     5   run                 5     end (return its result)
 *     6   misc   SUB          6     misc   SUB
 *   main misc, SUB below 252, SUB % 12: 0 bad spawns, 1 shutdown,
 *     2 corun_self, 3 join an ended one, 4 cancel HANDLE, 5 send CH
 *     (deadline 0), 6 receive CH (deadline 0), 7 close CH, 8 corun_close D,
 *     9 outside write D N, 10 outside read D N, 11 cancel the K-th
 *     coroutine in a descriptor call; SUB 252-255: sync SYNC
 *   coroutine misc, SUB below 240, SUB % 16: 0 corun_run, 1 corun_shutdown,
 *     2 join itself, 3 bad spawns, 4 corun_self, 5 cancel HANDLE, 6 sleep
 *     ARG, 7 send CH DL, 8 receive CH DL, 9 select SEL, 10 close CH, 11 join
 *     HANDLE deadline 0, 12 corun_read D N, 13 corun_write D N,
 *     14 corun_wait_fd D, 15 FDSUB: % 4: 0 corun_close D, 1 cancel K, 2-3
 *     outside write (D bit 7) or read D N; SUB 240-255: sync SYNC
 *   ATTR bits: 0-1 stack size (MIN, 2*MIN, 64 KiB), 2 detached, 3 named,
 *              4 long name (cut to CORUN_NAME_MAX - 1), 5 CORUN_FPCTL
 *   HANDLE: % (spawned + 5): a handle ever issued in this input, else -1,
 *           0, made up, a mangled real one, one from the previous input
 *   CH: bit 0: channel 0 (unbuffered) or 1 (capacity 2); DL: bit 0: wait
 *       (-1) or not (0); ARG: 0 mod 4 sleeps until 0, else ARG µs
 *   SEL: two cases; bits 0, 1: case 0, 1 sends (else receives); bits 2, 3:
 *        their channels; bit 4: wait (-1) or not (0)
 *   D: bits 0-1 % 3: pipe 0, pipe 1, the socket pair; 2-3: deadline 0, short
 *      (100 µs), -1; 4-5 % 3: wait_fd for POLLIN, POLLOUT, both (bit 6:
 *      on a pipe's write end); N: 1 + 17 N bytes (a write that may wait:
 *      at most a page; a socket's: within 2 KiB and 32 writes queued)
 *   SYNC: % 8: 0 corun_wg_add DELTA, 1 corun_wg_done, 2 corun_wg_wait,
 *         3 free (bit 3: the wait group, else mutex M), 4-5
 *         corun_mutex_lock M, 6-7 corun_mutex_unlock M; bit 3: wait (-1)
 *         or not (0); bit 4: M, mutex 0 or 1.
 *         DELTA % 8: 1, 2, 3, -1, -2, 0, INT64_MAX, INT64_MIN
 * Sync came last, in the top of the misc bytes' range, which meant
 * sub-operations 0-3 (main) and 0-15 (coroutines) before: an input written
 * before it reads the same unless it used those bytes (no seed does).
 * When the bytes run out every coroutine returns as soon as it runs; main
 * runs what can run, joins every result left, sees that no mutex is left
 * held and nobody waits on the wait group (canceling a holder that would
 * never let go), frees them and checks the end state.
 */
#include "fuzz.h"

#include <dirent.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/asan_interface.h>
#define FZ_ASAN 1
#endif
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_state g;

corun_t foreign;

/* ---- failure: no stdio, little stack (coroutines have 16 KiB) */

static void say(const char *s)
{
	size_t n = strlen(s);
	while (n) {
		ssize_t r = write(2, s, n);
		if (r <= 0)
			return;
		s += r;
		n -= (size_t)r;
	}
}

static void say_num(uint64_t v)
{
	char b[24];
	int k = (int)sizeof b;
	b[--k] = '\0';
	do
		b[--k] = (char)('0' + v % 10);
	while ((v /= 10) && k > 0);
	say(b + k);
}

_Noreturn void fail(const char *file, int line, const char *what)
{
	int e = errno;
	const char *base = strrchr(file, '/');
	say(base ? base + 1 : file);
	say(":");
	say_num((uint64_t)line);
	say(": check failed: ");
	say(what);
	say(" (errno ");
	say_num((uint64_t)e);
	say(", input byte ");
	say_num(g.pos);
	say(" of ");
	say_num(g.size);
	say(")\n");
	__builtin_trap();
}

/* ---- handles */

/* A handle choice: a model index (0 .. n-1), or n + k for the k-th kind of
 * handle that is no coroutine of this thread. */
int pick(void)
{
	return (int)(arg_byte() % (unsigned)(g.n + 5));
}

corun_t handle_of(int t)
{
	if (t < g.n)
		return g.co[t].h;
	switch (t - g.n) {
	case 0:
		return -1;
	case 1:
		return 0;
	case 2:
		return INT64_MAX; /* slot 2^24 - 1: never reached */
	case 3: /* a real one with its serial's top bit flipped */
		return g.n ? g.co[g.n - 1].h ^ ((corun_t)1 << 62) : 5;
	default: /* serials are unique in the process: foreign stays foreign */
		return foreign ? foreign : INT64_MIN;
	}
}

/* ---- the runtime agrees with the model */

/* After every step. self: MAIN or the running coroutine. */
NOCOV void check(int self)
{
	int live = 0, pending = 0;
	for (int i = 0; i < g.n; i++) {
		if (!g.co[i].ended)
			live++;
		else if (!g.co[i].stale)
			pending++;
	}
	EXPECT(live == g.live);
	EXPECT(corun_count() == (size_t)live);

	errno = 0;
	corun_t me = corun_self();
	if (self == MAIN)
		EXPECT_ERR(me, EPERM);
	else
		EXPECT(me == g.co[self].h);

	int rt = corun_priv_runtime() != NULL;
	EXPECT(rt == (g.has_rt != 0)); /* idle or not, it stays */
	/* The model knows every switch but the operation budget's (wait.h):
	 * a call that yields in the middle would let others read the cursor
	 * while it acts. Every call is followed by a check, so keeping the
	 * budget full here keeps it from ever running out; tests/test_budget.c
	 * tests it. */
	if (rt)
		corun_priv_budget_fill();
	if (live || pending)
		EXPECT(rt);
	if (!rt) {
		EXPECT(self == MAIN);
		for (int i = 0; i < g.n; i++) {
			EXPECT(g.co[i].stale);
			errno = 0;
			EXPECT_ERR(corun_id(g.co[i].h), ESRCH);
		}
		return;
	}

	EXPECT(corun_priv_handles_used() == (size_t)(live + pending));
	check_cos(self);
	check_fds();
	check_chans();
}

/* ---- who runs what */

static void main_misc(void)
{
	unsigned d, sub = arg_byte();
	if (sub >= 252) {
		do_sync(MAIN, arg_byte());
		return;
	}
	switch (sub % 12) {
	case 0:
		bad_spawns();
		break;
	case 1: /* released only when nothing is left running */
		errno = 0;
		if (g.live) {
			EXPECT_ERR(corun_shutdown(), EBUSY);
		} else {
			/* They belong to the runtime: free them first. */
			chans_free();
			sync_free();
			EXPECT(corun_shutdown() == 0);
			EXPECT(corun_priv_runtime() == NULL);
			g.has_rt = 0;
			for (int i = 0; i < g.n; i++)
				g.co[i].stale = 1; /* results dropped */
		}
		break;
	case 2:
		errno = 0;
		EXPECT_ERR(corun_self(), EPERM);
		break;
	case 3: /* a join that must not block: an ended or invalid one */
		for (int i = 0; i < g.n; i++)
			if (g.co[i].ended && !g.co[i].stale) {
				do_join(MAIN, i, 0);
				break;
			}
		break;
	case 4:
		do_cancel(MAIN, pick());
		break;
	case 5:
		do_send(MAIN, arg_byte(), 0);
		break;
	case 6:
		do_recv(MAIN, arg_byte(), 0);
		break;
	case 7:
		do_close(arg_byte());
		break;
	case 8:
		do_fd_close(d_obj(arg_byte()));
		break;
	case 9:
		d = arg_byte();
		do_outside(1, d, arg_byte());
		break;
	case 10:
		d = arg_byte();
		do_outside(0, d, arg_byte());
		break;
	default:
		do_fd_cancel(MAIN, arg_byte());
		break;
	}
}

static void co_misc(int self)
{
	unsigned d, sub = arg_byte();
	errno = 0;
	if (sub >= 240) {
		do_sync(self, arg_byte());
		return;
	}
	switch (sub % 16) {
	case 0:
		EXPECT_ERR(corun_run(), EPERM);
		break;
	case 1:
		EXPECT_ERR(corun_shutdown(), EPERM);
		break;
	case 2:
		do_join(self, self, 0); /* EDEADLK */
		break;
	case 3:
		bad_spawns();
		break;
	case 4:
		EXPECT(corun_self() == g.co[self].h);
		break;
	case 5:
		do_cancel(self, pick());
		break;
	case 6:
		do_sleep(self, arg_byte());
		break;
	case 7: {
		unsigned c = arg_byte();
		do_send(self, c, (int)(arg_byte() & 1));
		break;
	}
	case 8: {
		unsigned c = arg_byte();
		do_recv(self, c, (int)(arg_byte() & 1));
		break;
	}
	case 9:
		do_select(self, arg_byte());
		break;
	case 10:
		do_close(arg_byte());
		break;
	case 11:
		do_join(self, pick(), 1);
		break;
	case 12:
		d = arg_byte();
		do_fd_read(self, d, arg_byte());
		break;
	case 13:
		d = arg_byte();
		do_fd_write(self, d, arg_byte());
		break;
	case 14:
		do_fd_wait(self, arg_byte());
		break;
	default:
		switch (arg_byte() % 4) {
		case 0:
			do_fd_close(d_obj(arg_byte()));
			break;
		case 1:
			do_fd_cancel(self, arg_byte());
			break;
		default:
			d = arg_byte();
			do_outside(d & 0x80, d, arg_byte());
			break;
		}
		break;
	}
}

/* Every coroutine. Nothing here takes the address of a local. */
void *body(void *arg)
{
	int self = (int)(uintptr_t)arg;
	struct mco *m = &g.co[self];
	m->runs++;
	check(self);
	for (;;) {
		int b = next_byte();
		if (b < 0)
			break;
		switch (b % 8) {
		case 2:
			do_spawn(self);
			break;
		case 3:
			do_join(self, pick(), 0);
			break;
		case 4:
			do_detach(self, pick());
			break;
		case 5:
			goto out;
		case 6:
			co_misc(self);
			break;
		default: /* 0, 1, 7 */
			EXPECT(corun_park() == 0);
			m->runs++;
			break;
		}
		check(self);
	}
out:
	co_end(self);
	return m->result;
}

static void program(void)
{
	for (;;) {
		int b = next_byte();
		if (b < 0)
			break;
		switch (b % 8) {
		case 0:
		case 1:
			do_spawn(MAIN);
			break;
		case 3: /* one that could block the thread for good does not wait */
			do_join(MAIN, pick(), forever_waiters() > 0);
			break;
		case 4:
			do_detach(MAIN, pick());
			break;
		case 5:
			main_run();
			break;
		case 6:
			main_misc();
			break;
		default: /* 2, 7 */
			main_park();
			break;
		}
		check(MAIN);
	}

	/* Out of bytes: whatever runs now ends at once; those waiting on a
	 * descriptor wake with EBADF, and the descriptors are gone for good. */
	g.fds_gone = 1;
	for (int k = 0; k < NOBJ; k++)
		do_fd_close(k);
	check(MAIN);
	main_run();
	check(MAIN);
	sync_release();
	for (int i = 0; i < g.n; i++)
		if (g.co[i].ended && !g.co[i].stale) {
			do_join(MAIN, i, 0);
			check(MAIN);
		}
	errno = 0;
	if (g.live == 0) {
		EXPECT(corun_run() == 0);
		EXPECT((corun_priv_runtime() != NULL) == (g.has_rt != 0));
	} else {
		EXPECT_ERR(corun_run(), EDEADLK);
		check_stuck();
	}
	check(MAIN);
	sync_free();

#ifdef FZ_ASAN
	/* The stacks of the coroutines blocked forever are unmapped at the
	 * thread's exit with their frames' redzones still poisoned. corun
	 * unpoisons the top 64 KiB of a stack when it spawns on it (all of ours);
	 * clearing them here too keeps a later mapping at the same address
	 * clean whatever the library does. */
	for (int i = 0; g.has_rt && i < g.n; i++)
		if (!g.co[i].ended) {
			size_t size;
			char *lo = corun_priv_stack(g.co[i].h, &size);
			EXPECT(lo != NULL);
			__asan_unpoison_memory_region(lo, size);
		}
#endif
}

static void *input_thread(void *arg)
{
	(void)arg;
	for (int k = 0; k < NOBJ; k++)
		obj_make(k);
	program();
	chans_free(); /* waking any coroutine left waiting on them */
	return NULL; /* the runtime, if any is left, is released at exit */
}

/* Open descriptors of the process: the same after an input as before. */
static int open_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	if (!dir)
		return -1;
	int n = 0;
	while (readdir(dir))
		n++;
	closedir(dir);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pthread_t t;
	int fds0 = open_fds();
	memset(&g, 0, sizeof g);
	g.data = data;
	g.size = size < MAX_BYTES ? size : MAX_BYTES;
	if (pthread_create(&t, NULL, input_thread, NULL) != 0 || pthread_join(t, NULL) != 0) {
		say("fuzz_runtime: cannot run a thread\n");
		abort();
	}
	if (g.n > 0)
		foreign = g.co[g.n - 1].h;
	if (open_fds() != fds0)
		fail(__FILE__, __LINE__, "descriptors leaked by the input");
	return 0;
}
