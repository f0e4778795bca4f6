/*
 * libFuzzer target for the corun runtime.
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
 * whom, what it waits on) and of two channels (buffer, queues of waiting
 * senders and receivers, in order) is kept alongside. It is updated by
 * whoever acts, at the moment it acts: a coroutine marks itself ended right
 * before it returns, a sender that hands an element to a waiting receiver
 * writes down what that receiver's call will return; so it never guesses the
 * order the scheduler picks. After every operation check() holds the
 * runtime to the model: corun_count, handle validity and errno, ids, names,
 * results, and, white box, the handle table, the ready ring, every
 * coroutine's joiners and both channels' buffers and queues. The one thing
 * the model cannot know is when a sleep's deadline fires: a sleeping
 * coroutine may be found waiting or ready, and a cancel that comes after
 * its deadline fired finds nothing to interrupt.
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
 * took them first. Main never drives the scheduler (corun_run, a join that
 * waits) while a descriptor call waits with -1, and calls made meanwhile
 * wait with a short deadline instead: nobody else would write, and the
 * idle step would block the thread for good.
 *
 * Encoding (see make_corpus.py, which writes the seeds):
 *   main op, byte % 8:      coroutine op, byte % 8:
 *     0,1 spawn  ATTR         0,1,7 park
 *     2,7 park                2     spawn ATTR
 *     3   join   HANDLE       3     join   HANDLE
 *     4   detach HANDLE       4     detach HANDLE
 *     5   run                 5     end (return its result)
 *     6   misc   SUB          6     misc   SUB
 *   main misc, SUB % 12: 0 bad spawns, 1 shutdown, 2 corun_self, 3 join an
 *     ended one, 4 cancel HANDLE, 5 send CH (deadline 0), 6 receive CH
 *     (deadline 0), 7 close CH, 8 corun_close D, 9 outside write D N,
 *     10 outside read D N, 11 cancel the K-th coroutine in a descriptor call
 *   coroutine misc, SUB % 16: 0 corun_run, 1 corun_shutdown, 2 join itself,
 *     3 bad spawns, 4 corun_self, 5 cancel HANDLE, 6 sleep ARG, 7 send CH DL,
 *     8 receive CH DL, 9 select SEL, 10 close CH, 11 join HANDLE deadline 0,
 *     12 corun_read D N, 13 corun_write D N, 14 corun_wait_fd D, 15 FDSUB:
 *     % 4: 0 corun_close D, 1 cancel K, 2-3 outside write (D bit 7) or
 *     read D N
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
 * When the bytes run out every coroutine returns as soon as it runs; main
 * runs what can run, joins every result left and checks the end state.
 */
#include <corun.h>

#include "../src/core/chan.h"
#include "../src/core/fd.h"
#include "../src/core/runtime.h"
#include "../src/core/wait.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/asan_interface.h>
#define FZ_ASAN 1
#endif
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The checks are not what is fuzzed: their comparisons would only slow every
 * step down (most of the time went to coverage callbacks) and add features
 * that mean nothing. The library they call stays instrumented. */
#if defined(__clang__) && __clang_major__ >= 13
#define NOCOV __attribute__((no_sanitize("coverage")))
#else
#define NOCOV
#endif

#define MAX_CO 64     /* coroutines spawned per input, at most */
#define MAX_BYTES 4096 /* of an input, read at most */
#define NONE (-2)
#define MAIN (-1)
#define RESULT(i) ((void *)(uintptr_t)(0x5eed0000u + (unsigned)(i)))
#define NCHAN 2
#define QMAX (2 * MAX_CO) /* a select puts a coroutine on two queues */

/* What a coroutine is blocked in, as the model sees it. */
enum { K_NONE, K_JOIN, K_CHAN, K_SLEEP, K_FD };

/* Descriptors. Three objects, made at the start of every input: two pipes
 * of one page and a Unix stream socket pair. Coroutines use five
 * descriptors ("entries"): each pipe's two ends and the pair's near end;
 * the harness plays the other process on the same pipe ends and on the
 * pair's far end. Four byte streams ("buffers") run through them: each
 * pipe's, and the pair's two directions. */
#define NOBJ 3
#define NENT 5
#define NBUF 4
#define BUFMAX 8192
#define PAGE 4096          /* a pipe's capacity: one page, so one buffer */
#define SOCK_CAP 2048      /* bytes queued in a socket direction, at most, */
#define SOCK_SEGS 32       /* and writes: far below any send buffer */
#define IO_MAX (1 + 255 * 17)
enum { FD_READ, FD_WRITE, FD_WAIT };

struct mbuf {
	uint8_t data[BUFMAX]; /* what is queued, oldest first, from head */
	int head, count;
	int off;       /* a pipe: where the data starts in its page */
	int segs;      /* a socket: writes queued since it was empty */
	unsigned ver;  /* bumped by every change */
	uint8_t pipe;
};

/* A descriptor coroutines use, and the buffers it reads and writes (-1). */
struct ment {
	int fd, rb, wb;
};

struct mco {
	corun_t h;
	int64_t id;
	void *result;        /* what it returns: fixed at spawn */
	void *join_res;      /* where its own corun_join stores */
	uint64_t joiners;    /* model indices joining it, one bit each */
	uint8_t main_joins;  /* main is joining it */
	int waiting_on;      /* whom it is joining (blocked), or NONE */
	uint8_t blocked;     /* in a blocking call nobody has woken yet */
	uint8_t kind;        /* K_* of that call */
	uint8_t canceled;    /* corun_cancel was called on it */
	/* What its blocking call returns, written by whoever wakes it: the
	 * case (select) or 0, the error, the element received. */
	int out_case, out_err, out_val;
	int xfer;            /* the element its send or receive works on */
	int sel_val[2];      /* select's elements, one per case */
	corun_case cases[2]; /* its select's cases: must outlive its wait */
	unsigned runs;       /* times it got the CPU */
	/* Its descriptor call (K_FD): which, on what, for which directions
	 * (1 in, 2 out); with deadline -1; whether the descriptor was closed
	 * while it was inside the call but no longer in the kernel's wait
	 * (fired, not yet run); how many it has made. */
	uint8_t fd_op, fd_ent, fd_dirs, fd_forever, fd_closed;
	unsigned fd_serial;
	uint8_t ended;       /* its body returned */
	uint8_t stale;       /* its handle must be refused (ESRCH) */
	uint8_t detached;
	char name[CORUN_NAME_MAX];
};

/* A waiter on a channel's queue: coroutine co, case cs of its call, and
 * for a sender the element it sends. */
struct mwait {
	int co, cs, val;
};

struct mchan {
	corun_chan *ch;
	int cap;
	int buf[4];
	int head, count;
	uint8_t closed;
	struct mwait q[2][QMAX]; /* [0] senders, [1] receivers, oldest first */
	int nq[2];
};

/* Per input. Only the input's thread touches it while it runs; no
 * coroutine keeps an address-taken local (ASan would leave the frames of
 * those blocked forever poisoned), so everything addressable is here. */
static struct {
	const uint8_t *data;
	size_t size, pos;
	struct mco co[MAX_CO];
	struct mchan chan[NCHAN];
	int n;            /* spawned so far */
	int live;         /* spawned and not ended */
	int has_rt;       /* spawned since the start or the last shutdown */
	int next_val;     /* elements sent are 1, 2, 3... */
	int main_val;
	int64_t last_id;
	corun_attr attr;
	void *main_res;
	char namebuf[64];
	uint8_t seen[MAX_CO];
	uint8_t inring[MAX_CO];
	unsigned runs0[MAX_CO];
	struct mbuf buf[NBUF];
	struct ment ent[NENT];
	int far;          /* the socket pair's far end: the harness's */
	int fds_gone;     /* closed for good at the end of the input */
	int driving;      /* main is in corun_run or a blocking corun_join */
	unsigned wcall;   /* writes so far: each writes its own bytes */
	unsigned pverA[MAX_CO], pverB[MAX_CO], pserial[MAX_CO];
	uint8_t pready[MAX_CO];
} g;

/* Read and write buffers of each coroutine ([MAX_CO]: main's and the
 * harness's own): a call that waits must keep its own. Not cleared per
 * input, so outside g. */
static uint8_t iobuf[MAX_CO + 1][IO_MAX];

static corun_t foreign; /* a handle of the previous input's thread */

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

static _Noreturn void fail(int line, const char *what)
{
	int e = errno;
	say("fuzz_runtime.c:");
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

#define EXPECT(c)                                                             \
	do {                                                                  \
		if (!(c))                                                     \
			fail(__LINE__, #c);                                   \
	} while (0)
#define EXPECT_ERR(rc, e) EXPECT((rc) == -1 && errno == (e))

/* ---- the byte cursor */

static int next_byte(void)
{
	return g.pos < g.size ? g.data[g.pos++] : -1;
}

static unsigned arg_byte(void)
{
	int b = next_byte();
	return b < 0 ? 0u : (unsigned)b;
}

/* A handle choice: a model index (0 .. n-1), or n + k for the k-th kind of
 * handle that is no coroutine of this thread. */
static int pick(void)
{
	return (int)(arg_byte() % (unsigned)(g.n + 5));
}

static corun_t handle_of(int t)
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

/* ---- white box */

/* The slot h names, as corun__slot_get finds it (which is not inlined at
 * -O1, and would then be instrumented). */
NOCOV static struct corun__slot *slot_of(struct corun__rt *rt, corun_t h)
{
	uint64_t v = (uint64_t)h;
	uint32_t idx = v & CORUN__SLOT_MASK;
	if (h <= 0 || idx >= rt->handles.n)
		return NULL;
	struct corun__slot *s = &rt->handles.slots[idx];
	if (s->state == CORUN__SLOT_FREE || s->serial != v >> CORUN__SLOT_BITS)
		return NULL;
	return s;
}

NOCOV static struct corun__co *record_of(struct corun__rt *rt, int i)
{
	struct corun__slot *s = slot_of(rt, g.co[i].h);
	EXPECT(s && s->state == CORUN__SLOT_LIVE);
	return s->u.co;
}

/* The channel of CH byte b, made at its first use (which may make the
 * runtime). */
static struct mchan *chan_of(unsigned b)
{
	struct mchan *c = &g.chan[b & 1];
	if (!c->ch) {
		memset(c, 0, sizeof *c);
		c->cap = (b & 1) ? 2 : 0;
		c->ch = corun_chan_make(sizeof(int), (size_t)c->cap);
		EXPECT(c->ch != NULL);
		g.has_rt = 1;
	}
	return c;
}

/* Free both channels (before the runtime goes: shutdown, thread exit). */
static void chans_free(void)
{
	for (int k = 0; k < NCHAN; k++) {
		corun_chan_free(g.chan[k].ch);
		g.chan[k].ch = NULL;
	}
}

/* ---- descriptors: the model's side */

/* Entries by object: where coroutines read, where they write. */
static const int rd_ent[NOBJ] = { 0, 2, 4 }, wr_ent[NOBJ] = { 1, 3, 4 };

static int obj_of(int e)
{
	return e / 2;
}

/* Make object k: fresh descriptors, empty buffers. Non-blocking from the
 * start, so that the harness's own reads and writes never block. */
static void obj_make(int k)
{
	int p[2];
	if (k < 2) {
		EXPECT(pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0);
		EXPECT(fcntl(p[1], F_SETPIPE_SZ, PAGE) == PAGE);
		g.ent[2 * k] = (struct ment){ p[0], k, -1 };
		g.ent[2 * k + 1] = (struct ment){ p[1], -1, k };
	} else {
		EXPECT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, p) == 0);
		g.ent[4] = (struct ment){ p[0], 2, 3 };
		g.far = p[1];
	}
	for (int b = 0; b < NBUF; b++)
		if ((k < 2 && b == k) || (k == 2 && b >= 2)) {
			unsigned v = g.buf[b].ver;
			memset(&g.buf[b], 0, offsetof(struct mbuf, ver));
			g.buf[b].ver = v + 1;
			g.buf[b].pipe = k < 2;
		}
}

/* What a write(2) of n bytes from src takes into b (the caller keeps a
 * socket's within its bounds). A pipe of one page: into an empty one, up to
 * a page; into one that holds data, the last n % PAGE bytes if they fit
 * behind it in the page (all of n when n < PAGE: atomic), else nothing. */
static int buf_take(struct mbuf *b, const uint8_t *src, int n)
{
	int k = n;
	if (b->pipe && b->count == 0) {
		k = n < PAGE ? n : PAGE;
		b->off = 0;
	} else if (b->pipe) {
		int chars = n % PAGE;
		k = chars && b->off + b->count + chars <= PAGE ? chars : 0;
	}
	for (int j = 0; j < k; j++)
		b->data[(b->head + b->count + j) % BUFMAX] = src[j];
	b->count += k;
	if (k) {
		b->ver++;
		b->segs++;
	}
	return k;
}

/* n bytes came out of b into got: they must be the oldest, in order. */
static void buf_give(struct mbuf *b, const uint8_t *got, int n)
{
	EXPECT(n > 0 && n <= b->count);
	for (int j = 0; j < n; j++)
		EXPECT(got[j] == b->data[(b->head + j) % BUFMAX]);
	b->head = (b->head + n) % BUFMAX;
	b->count -= n;
	b->off += n;
	if (!b->count)
		b->segs = 0;
	b->ver++;
}

/* A socket write of n (0: none) that keeps the direction far from full. */
static int sock_room(const struct mbuf *b, int n)
{
	if (b->segs >= SOCK_SEGS)
		return 0;
	return n < SOCK_CAP - b->count ? n : SOCK_CAP - b->count;
}

/* Bytes nobody has sent before. */
static void fill(uint8_t *p, int n)
{
	unsigned s = ++g.wcall;
	for (int j = 0; j < n; j++)
		p[j] = (uint8_t)(s * 61u + (unsigned)j * 7u + ((unsigned)j >> 8));
}

/* Entry e is ready for dir (1 in, 2 out), as poll(2) would say. A pipe of
 * one buffer is writable only when empty (a write may still merge into a
 * page that is not full: buf_take). */
static int ent_ready(int e, int dir)
{
	const struct ment *t = &g.ent[e];
	if (dir == 1)
		return t->rb >= 0 && g.buf[t->rb].count > 0;
	if (t->wb < 0)
		return 0;
	return g.buf[t->wb].pipe ? g.buf[t->wb].count == 0 : 1;
}

/* The runtime's waiter slot of entry e for dir, white box (NULL: none). */
NOCOV static struct corun__waiter *slot_fd(int e, int dir)
{
	struct corun__rt *rt = corun__tls;
	int fd = g.ent[e].fd;
	struct corun__fd *f = rt && fd >= 0 ? corun__fd_find(&rt->fds, fd) : NULL;
	if (!f)
		return NULL;
	return dir == 1 ? f->in : f->out;
}

/* Someone other than self waits in entry e's slot for dir. */
NOCOV static int slot_busy(int e, int dir, int self)
{
	struct corun__waiter *w = slot_fd(e, dir);
	return w && (self == MAIN || w->co != record_of(corun__tls, self));
}

/* Coroutines in a descriptor call with deadline -1 (none can wait once
 * the descriptors are gone: those still inside a call fail with EBADF). */
static int forever_waiters(void)
{
	int n = 0;
	if (g.fds_gone)
		return 0;
	for (int i = 0; i < g.n; i++)
		n += g.co[i].blocked && g.co[i].kind == K_FD && g.co[i].fd_forever;
	return n;
}

static int popcount64(uint64_t v)
{
	return __builtin_popcountll(v);
}

/* The runtime agrees with the model. self: MAIN or the running coroutine. */
NOCOV static void check(int self)
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

	struct corun__rt *rt = corun__tls;
	EXPECT((rt != NULL) == (g.has_rt != 0)); /* idle or not, it stays */
	/* The model knows every switch but the operation budget's (wait.h):
	 * a call that yields in the middle would let others read the cursor
	 * while it acts. Every call is followed by a check, so keeping the
	 * budget full here keeps it from ever running out; tests/test_budget.c
	 * tests it. */
	if (rt)
		rt->sched.budget = UINT32_MAX;
	if (live || pending)
		EXPECT(rt != NULL);
	if (!rt) {
		EXPECT(self == MAIN);
		for (int i = 0; i < g.n; i++) {
			EXPECT(g.co[i].stale);
			errno = 0;
			EXPECT_ERR(corun_id(g.co[i].h), ESRCH);
		}
		return;
	}

	EXPECT(rt->sched.live == (size_t)live);
	EXPECT(rt->handles.used == (uint32_t)(live + pending));
	EXPECT(rt->current->state == CORUN__RUNNABLE);
	if (self == MAIN)
		EXPECT(rt->current == &rt->main);
	else
		EXPECT(rt->current == record_of(rt, self));

	/* The ready ring: at most every coroutine and main, each once, all
	 * runnable, never the one running. */
	size_t queued = rt->sched.tail - rt->sched.head;
	EXPECT(queued <= rt->sched.live + 1);
	EXPECT(queued == 0 || queued <= rt->sched.mask + 1);
	memset(g.seen, 0, sizeof g.seen);
	int main_seen = 0;
	for (size_t k = rt->sched.head; k != rt->sched.tail; k++) {
		struct corun__co *c = rt->sched.ring[k & rt->sched.mask];
		EXPECT(c != NULL);
		EXPECT(c->state == CORUN__RUNNABLE);
		EXPECT(c != rt->current);
		if (c == &rt->main) {
			EXPECT(!main_seen);
			main_seen = 1;
			continue;
		}
		uintptr_t i = (uintptr_t)c->arg;
		EXPECT(i < (uintptr_t)g.n);
		EXPECT(!g.co[i].ended);
		EXPECT(!g.seen[i]);
		EXPECT(record_of(rt, (int)i) == c);
		g.seen[i] = 1;
	}
	/* Main is running, or queued (parked, or taking turns while deadlines
	 * are pending), or blocked in a drive. */
	if (self != MAIN)
		EXPECT(rt->main.state == (main_seen ? CORUN__RUNNABLE : CORUN__BLOCKED));

	for (int i = 0; i < g.n; i++) {
		struct mco *m = &g.co[i];
		errno = 0;
		if (m->stale) {
			EXPECT_ERR(corun_id(m->h), ESRCH);
			EXPECT(corun_name(m->h) == NULL && errno == ESRCH);
			continue;
		}
		EXPECT(corun_id(m->h) == m->id);
		struct corun__slot *s = slot_of(rt, m->h);
		EXPECT(s != NULL);
		if (m->ended) { /* its result waits for a join */
			EXPECT(s->state == CORUN__SLOT_DONE);
			EXPECT(s->u.result == m->result);
			EXPECT(!m->detached);
			EXPECT(!m->joiners && !m->main_joins);
			EXPECT(corun_name(m->h) == NULL && errno == ESRCH);
			continue;
		}
		EXPECT(s->state == CORUN__SLOT_LIVE);
		struct corun__co *c = s->u.co;
		EXPECT(c->slot == (uint32_t)(m->h & CORUN__SLOT_MASK));
		EXPECT(c->arg == (void *)(uintptr_t)i);
		EXPECT(((c->flags & CORUN__F_DETACHED) != 0) == m->detached);
		EXPECT(((c->flags & CORUN__F_CANCELED) != 0) == m->canceled);
		const char *nm = corun_name(m->h);
		EXPECT(nm != NULL && strcmp(nm, m->name) == 0);
		/* Its joiners, each once. */
		int nj = 0;
		for (struct corun__waiter *w = c->joiners; w; w = w->next) {
			nj++;
			EXPECT(nj <= MAX_CO + 1);
			if (w->co == &rt->main) {
				EXPECT(m->main_joins);
			} else {
				uintptr_t j = (uintptr_t)w->co->arg;
				EXPECT(j < (uintptr_t)g.n && (m->joiners >> j & 1));
				EXPECT(record_of(rt, (int)j) == w->co);
			}
		}
		EXPECT(nj == popcount64(m->joiners) + m->main_joins);
		if (c == rt->current)
			EXPECT(i == self);
		else if (c->state == CORUN__RUNNABLE)
			EXPECT(g.seen[i] && (!m->blocked || m->kind == K_SLEEP ||
					     m->kind == K_FD)); /* no lost wakeup */
		else
			EXPECT(c->state == CORUN__BLOCKED && m->blocked);
		/* A descriptor call that waits does so in its slots; closing the
		 * descriptor under it must have made it return. */
		if (c != rt->current && c->state == CORUN__BLOCKED && m->kind == K_FD) {
			EXPECT(!m->fd_closed);
			for (int d = 1; d <= 2; d++)
				if (m->fd_dirs & d) {
					struct corun__waiter *w = slot_fd(m->fd_ent, d);
					EXPECT(w && w->co == c);
				}
		}
		if (m->blocked && m->kind == K_JOIN) {
			struct mco *t = &g.co[m->waiting_on];
			EXPECT(!t->ended && (t->joiners >> i & 1));
		}
	}

	/* The descriptors: who waits in each slot, and that nobody waits for
	 * what is there without a report on its way (the epoll instance has
	 * one ready: polling it does not take it). The kernel's byte counts. */
	size_t nslots = 0;
	for (int e = 0; e < NENT && !g.fds_gone; e++)
		for (int d = 1; d <= 2; d++) {
			struct corun__waiter *w = slot_fd(e, d);
			if (!w)
				continue;
			nslots++;
			EXPECT(w->co != &rt->main && w->co->state == CORUN__BLOCKED);
			uintptr_t j = (uintptr_t)w->co->arg;
			EXPECT(j < (uintptr_t)g.n && record_of(rt, (int)j) == w->co);
			struct mco *m = &g.co[j];
			EXPECT(m->blocked && m->kind == K_FD && m->fd_ent == e && (m->fd_dirs & d));
			if (ent_ready(e, d)) {
				struct pollfd p = { .fd = rt->fds.epfd, .events = POLLIN };
				EXPECT(poll(&p, 1, 0) == 1);
			}
		}
	if (!g.fds_gone)
		EXPECT(rt->fds.waiting == nslots);
	if (!g.fds_gone) {
		int q0 = -1, q1 = -1, q2 = -1, q3 = -1;
		EXPECT(ioctl(g.ent[0].fd, FIONREAD, &q0) == 0 && q0 == g.buf[0].count);
		EXPECT(ioctl(g.ent[2].fd, FIONREAD, &q1) == 0 && q1 == g.buf[1].count);
		EXPECT(ioctl(g.ent[4].fd, FIONREAD, &q2) == 0 && q2 == g.buf[2].count);
		EXPECT(ioctl(g.far, FIONREAD, &q3) == 0 && q3 == g.buf[3].count);
	}

	/* The channels: buffer, closed, and their queues in order. */
	for (int k = 0; k < NCHAN; k++) {
		struct mchan *mc = &g.chan[k];
		if (!mc->ch)
			continue;
		EXPECT(mc->ch->count == (size_t)mc->count);
		EXPECT(mc->ch->closed == mc->closed);
		for (int j = 0; j < mc->count; j++) {
			const int *e = (const int *)(mc->ch->buf + ((mc->ch->head + (size_t)j) %
								    mc->ch->cap) * sizeof(int));
			EXPECT(*e == mc->buf[(mc->head + j) % 4]);
		}
		for (int d = 0; d < 2; d++) {
			struct corun__waiter *w = d ? mc->ch->receivers.head : mc->ch->senders.head;
			for (int j = 0; j < mc->nq[d]; j++, w = w->next) {
				EXPECT(w != NULL);
				EXPECT(w->co == record_of(rt, mc->q[d][j].co));
				EXPECT(w->id == mc->q[d][j].cs);
			}
			EXPECT(w == NULL);
		}
	}
}

/* After EDEADLK: nothing ready, nothing pending; every coroutine left waits
 * on a live one or on a channel. */
NOCOV static void check_stuck(void)
{
	struct corun__rt *rt = corun__tls;
	EXPECT(g.live > 0);
	EXPECT(rt != NULL && rt->sched.head == rt->sched.tail && rt->timers.n == 0);
	for (int i = 0; i < g.n; i++) {
		struct mco *m = &g.co[i];
		if (m->ended)
			continue;
		EXPECT(m->blocked && (m->kind == K_JOIN || m->kind == K_CHAN));
		if (m->kind == K_JOIN)
			EXPECT(!g.co[m->waiting_on].ended);
	}
}

/* ---- the model's side of waking */

/* Take coroutine i off every channel queue it is on. */
static void unqueue(int i)
{
	for (int k = 0; k < NCHAN; k++)
		for (int d = 0; d < 2; d++) {
			struct mchan *c = &g.chan[k];
			int w = 0;
			for (int j = 0; j < c->nq[d]; j++)
				if (c->q[d][j].co != i)
					c->q[d][w++] = c->q[d][j];
			c->nq[d] = w;
		}
}

/* Coroutine i's blocking call will return case cs with err (and val). */
static void wake(int i, int cs, int err, int val)
{
	struct mco *m = &g.co[i];
	EXPECT(m->blocked);
	if (m->kind == K_JOIN)
		g.co[m->waiting_on].joiners &= ~((uint64_t)1 << i);
	if (m->kind == K_CHAN)
		unqueue(i);
	m->blocked = 0;
	m->out_case = cs;
	m->out_err = err;
	m->out_val = val;
}

/* The oldest waiter of queue d (0 senders, 1 receivers) of c, taken off. */
static struct mwait qpop(struct mchan *c, int d)
{
	struct mwait w = c->q[d][0];
	memmove(&c->q[d][0], &c->q[d][1], (size_t)(c->nq[d] - 1) * sizeof w);
	c->nq[d]--;
	return w;
}

static int can_send(const struct mchan *c)
{
	return c->closed || c->nq[1] || c->count < c->cap;
}

static int can_recv(const struct mchan *c)
{
	return c->count || c->nq[0] || c->closed;
}

/* A send that can go now: 0 or EPIPE, as the runtime's. */
static int send_now(struct mchan *c, int v)
{
	if (c->closed)
		return EPIPE;
	if (c->nq[1]) {
		struct mwait r = qpop(c, 1);
		wake(r.co, r.cs, 0, v);
		return 0;
	}
	c->buf[(c->head + c->count++) % 4] = v;
	return 0;
}

/* A receive that can go now: 0 with *v, or EPIPE. */
static int recv_now(struct mchan *c, int *v)
{
	if (c->count) {
		*v = c->buf[c->head];
		c->head = (c->head + 1) % 4;
		c->count--;
		if (c->nq[0]) {
			struct mwait s = qpop(c, 0);
			c->buf[(c->head + c->count++) % 4] = s.val;
			wake(s.co, s.cs, 0, 0);
		}
		return 0;
	}
	if (c->nq[0]) {
		struct mwait s = qpop(c, 0);
		*v = s.val;
		wake(s.co, s.cs, 0, 0);
		return 0;
	}
	return EPIPE;
}

/* ---- operations, from main (self == MAIN) or a coroutine */

static void *body(void *arg);

static void do_spawn(int self)
{
	static const size_t sizes[4] = { CORUN_STACK_MIN, 2 * CORUN_STACK_MIN,
					 (size_t)64 << 10, CORUN_STACK_MIN };
	unsigned b = arg_byte();
	if (g.n >= MAX_CO)
		return;
	int i = g.n;
	struct mco *m = &g.co[i];
	memset(m, 0, sizeof *m);
	m->waiting_on = NONE;
	m->result = RESULT(i);
	m->detached = (b & 4) != 0;

	EXPECT(corun_attr_init(&g.attr) == 0);
	g.attr.stack_size = sizes[b & 3];
	g.attr.flags = (m->detached ? CORUN_DETACHED : 0) | ((b & 32) ? CORUN_FPCTL : 0);
	if (b & 8) {
		const char *stem = (b & 16) ? "a-name-longer-than-thirty-one-bytes-" : "co";
		size_t k = strlen(stem);
		memcpy(g.namebuf, stem, k);
		g.namebuf[k++] = (char)('0' + i / 10);
		g.namebuf[k++] = (char)('0' + i % 10);
		g.namebuf[k] = '\0';
		memcpy(m->name, g.namebuf, CORUN_NAME_MAX - 1);
		m->name[CORUN_NAME_MAX - 1] = '\0';
		g.attr.name = g.namebuf;
	}

	errno = 0;
	corun_t h = corun_go_attr(body, (void *)(uintptr_t)i, &g.attr);
	EXPECT(h > 0);
	memset(g.namebuf, 'X', sizeof g.namebuf - 1); /* names are copied */
	for (int j = 0; j < g.n; j++)
		EXPECT(g.co[j].h != h);
	if (foreign)
		EXPECT(h != foreign);
	m->h = h;
	g.n++;
	g.live++;
	g.has_rt = 1;
	int64_t id = corun_id(h);
	EXPECT(id > g.last_id); /* increasing with spawn order in a thread */
	g.last_id = id;
	m->id = id;
	(void)self;
}

enum { E_STALE, E_SELF, E_DONE, E_DETACHED, E_LIVE, E_CANCELED };

static int classify(int t, int self)
{
	if (t >= g.n || g.co[t].stale)
		return E_STALE;
	if (t == self)
		return E_SELF;
	if (g.co[t].ended)
		return E_DONE;
	if (g.co[t].detached)
		return E_DETACHED;
	return E_LIVE;
}

static int canceled(int self)
{
	return self != MAIN && g.co[self].canceled;
}

/* corun_join (deadline -1), or corun_join_until with deadline 0. */
static void do_join(int self, int t, int now)
{
	corun_t h = handle_of(t);
	int e = classify(t, self);
	void **res = self == MAIN ? &g.main_res : &g.co[self].join_res;
	*res = (void *)(uintptr_t)0xbad;
	/* Canceled: a join that is not a mistake fails, ended target or not. */
	if (canceled(self) && (e == E_DONE || e == E_LIVE))
		e = E_CANCELED;
	int blocks = e == E_LIVE && !now;
	if (blocks) {
		if (self == MAIN) {
			g.co[t].main_joins = 1;
		} else {
			g.co[t].joiners |= (uint64_t)1 << self;
			g.co[self].waiting_on = t;
			g.co[self].blocked = 1;
			g.co[self].kind = K_JOIN;
		}
	}
	errno = 0;
	if (self == MAIN)
		g.driving = blocks;
	int rc = now ? corun_join_until(h, res, 0) : corun_join(h, res);
	if (self == MAIN)
		g.driving = 0;
	switch (e) {
	case E_STALE:
		EXPECT_ERR(rc, ESRCH);
		break;
	case E_SELF:
		EXPECT_ERR(rc, EDEADLK);
		break;
	case E_DETACHED:
		EXPECT_ERR(rc, EINVAL);
		break;
	case E_CANCELED:
		EXPECT_ERR(rc, ECANCELED); /* t is left joinable */
		break;
	case E_DONE:
		EXPECT(rc == 0);
		EXPECT(*res == g.co[t].result);
		g.co[t].stale = 1;
		break;
	case E_LIVE:
		if (!blocks) {
			EXPECT_ERR(rc, ETIMEDOUT);
			break;
		}
		if (self != MAIN) { /* until t ended or we were canceled */
			struct mco *m = &g.co[self];
			m->runs++;
			m->waiting_on = NONE;
			EXPECT(!m->blocked);
			if (m->out_err) {
				EXPECT_ERR(rc, m->out_err);
				break;
			}
			EXPECT(rc == 0);
		}
		if (rc == 0) {
			EXPECT(g.co[t].ended && g.co[t].stale);
			EXPECT(*res == g.co[t].result);
		} else { /* main: nothing can run; t stays joinable */
			EXPECT(self == MAIN);
			EXPECT_ERR(rc, EDEADLK);
			EXPECT(!g.co[t].ended);
			g.co[t].main_joins = 0;
			check_stuck();
		}
		break;
	}
}

static void do_detach(int self, int t)
{
	corun_t h = handle_of(t);
	int e = classify(t, self);
	if (e == E_SELF) /* a coroutine may detach itself */
		e = g.co[t].detached ? E_DETACHED : E_LIVE;
	if (e == E_LIVE && (g.co[t].joiners || g.co[t].main_joins))
		e = E_DETACHED; /* being joined: refused the same way */
	errno = 0;
	int rc = corun_detach(h);
	switch (e) {
	case E_STALE:
		EXPECT_ERR(rc, ESRCH);
		break;
	case E_DETACHED:
		EXPECT_ERR(rc, EINVAL);
		break;
	case E_DONE: /* the result is dropped now */
		EXPECT(rc == 0);
		g.co[t].stale = 1;
		break;
	default:
		EXPECT(rc == 0);
		g.co[t].detached = 1;
		break;
	}
}

static void do_cancel(int self, int t)
{
	corun_t h = handle_of(t);
	errno = 0;
	int rc = corun_cancel(h);
	if (t >= g.n || g.co[t].stale) {
		EXPECT_ERR(rc, ESRCH);
		return;
	}
	EXPECT(rc == 0);
	struct mco *m = &g.co[t];
	if (m->ended)
		return; /* nothing to cancel */
	m->canceled = 1;
	/* A sleeper whose deadline has fired is ready already: nothing left
	 * to interrupt, and its sleep returns 0 (do_sleep accepts both). So
	 * is a descriptor call that a report or its deadline has fired (white
	 * box: it no longer waits): it retries, and meets the cancellation
	 * only if it must wait again (do_fd_done). */
	if (t != self && m->blocked && m->kind == K_FD &&
	    record_of(corun__tls, t)->state != CORUN__BLOCKED)
		return;
	if (t != self && m->blocked && m->kind != K_SLEEP)
		wake(t, -1, ECANCELED, 0);
}

/* Coroutine sleeps: until 0 (returns at once), or for a few µs. */
static void do_sleep(int self, unsigned arg)
{
	struct mco *m = &g.co[self];
	errno = 0;
	if (arg % 4 == 0) {
		int rc = corun_sleep_until(0);
		if (m->canceled)
			EXPECT_ERR(rc, ECANCELED);
		else
			EXPECT(rc == 0);
		return;
	}
	int was = m->canceled;
	if (!was) {
		m->blocked = 1;
		m->kind = K_SLEEP;
	}
	uint64_t armed = corun__tls ? corun__tls->timers.seq : 0;
	int rc = corun_sleep((int64_t)arg * 1000);
	m->blocked = 0;
	if (was) {
		EXPECT_ERR(rc, ECANCELED);
		return;
	}
	/* It waited only if its deadline had not passed by the time it looked
	 * (white box: it armed one). */
	if (corun__tls->timers.seq != armed)
		m->runs++;
	/* Canceled while it slept: ECANCELED if the deadline had not fired. */
	EXPECT(rc == 0 || (m->canceled && errno == ECANCELED));
}

/* Queue coroutine self as case cs for op d (0 send, 1 receive) on c. */
static void enqueue(struct mchan *c, int d, int self, int cs, int val)
{
	EXPECT(c->nq[d] < QMAX);
	c->q[d][c->nq[d]++] = (struct mwait){ self, cs, val };
}

/* After a coroutine's channel call that blocked: it returns what the one
 * who woke it wrote down. */
static void resumed(int self)
{
	struct mco *m = &g.co[self];
	EXPECT(!m->blocked);
	m->runs++;
}

static void do_send(int self, unsigned chb, int wait)
{
	struct mchan *c = chan_of(chb);
	int v = ++g.next_val;
	int *elem = self == MAIN ? &g.main_val : &g.co[self].xfer;
	*elem = v;
	int blocks = 0, want = 0;
	if (canceled(self))
		want = ECANCELED; /* whether or not it could send */
	else if (can_send(c))
		want = send_now(c, v);
	else if (!wait)
		want = ETIMEDOUT;
	else
		blocks = 1;
	if (blocks) {
		EXPECT(self != MAIN);
		enqueue(c, 0, self, 0, v);
		g.co[self].blocked = 1;
		g.co[self].kind = K_CHAN;
	}
	errno = 0;
	int rc = corun_chan_send(c->ch, elem, wait ? -1 : 0);
	if (blocks) {
		resumed(self);
		want = g.co[self].out_err;
	}
	if (want)
		EXPECT_ERR(rc, want);
	else
		EXPECT(rc == 0);
}

static void do_recv(int self, unsigned chb, int wait)
{
	struct mchan *c = chan_of(chb);
	int *elem = self == MAIN ? &g.main_val : &g.co[self].xfer;
	*elem = -1;
	int blocks = 0, want = 0, v = -1;
	if (canceled(self))
		want = ECANCELED; /* whether or not it could receive */
	else if (can_recv(c))
		want = recv_now(c, &v);
	else if (!wait)
		want = ETIMEDOUT;
	else
		blocks = 1;
	if (blocks) {
		EXPECT(self != MAIN);
		enqueue(c, 1, self, 0, 0);
		g.co[self].blocked = 1;
		g.co[self].kind = K_CHAN;
	}
	errno = 0;
	int rc = corun_chan_recv(c->ch, elem, wait ? -1 : 0);
	if (blocks) {
		resumed(self);
		want = g.co[self].out_err;
		v = g.co[self].out_val;
	}
	if (want) {
		EXPECT_ERR(rc, want);
	} else {
		EXPECT(rc == 0);
		EXPECT(*elem == v);
	}
}

static void do_close(unsigned chb)
{
	struct mchan *c = chan_of(chb);
	errno = 0;
	int rc = corun_chan_close(c->ch);
	if (c->closed) {
		EXPECT_ERR(rc, EPIPE);
		return;
	}
	EXPECT(rc == 0);
	c->closed = 1;
	while (c->nq[1]) {
		struct mwait r = qpop(c, 1);
		wake(r.co, r.cs, EPIPE, 0);
	}
	while (c->nq[0]) {
		struct mwait s = qpop(c, 0);
		wake(s.co, s.cs, EPIPE, 0);
	}
}

/* A coroutine's select over two cases. */
static void do_select(int self, unsigned sel)
{
	struct mco *m = &g.co[self];
	struct mchan *c[2];
	int op[2], ready[2], nready = 0;
	for (int k = 0; k < 2; k++) {
		c[k] = chan_of(sel >> (2 + k));
		op[k] = (sel >> k) & 1 ? CORUN_SEND : CORUN_RECV;
		m->sel_val[k] = op[k] == CORUN_SEND ? ++g.next_val : -1;
		m->cases[k] = (corun_case){ c[k]->ch, op[k], &m->sel_val[k], -7 };
		ready[k] = op[k] == CORUN_SEND ? can_send(c[k]) : can_recv(c[k]);
		nready += ready[k];
	}
	int wait = (sel >> 4) & 1;
	if (m->canceled) /* fails, whether or not a case could go */
		nready = 0;
	int blocks = !nready && !m->canceled && wait;
	if (blocks) {
		for (int k = 0; k < 2; k++)
			enqueue(c[k], op[k] == CORUN_SEND ? 0 : 1, self, k,
				op[k] == CORUN_SEND ? m->sel_val[k] : 0);
		m->blocked = 1;
		m->kind = K_CHAN;
	}
	int sent[2] = { m->sel_val[0], m->sel_val[1] };
	errno = 0;
	int rc = corun_select(m->cases, 2, wait ? -1 : 0);
	if (nready) { /* it took one that was ready: do the same here */
		EXPECT(rc == 0 || rc == 1);
		EXPECT(ready[rc]);
		int v = -1, err;
		if (op[rc] == CORUN_SEND) {
			err = send_now(c[rc], sent[rc]);
		} else {
			err = recv_now(c[rc], &v);
			if (!err)
				EXPECT(m->sel_val[rc] == v);
		}
		EXPECT(m->cases[rc].err == err);
		return;
	}
	if (!blocks) {
		EXPECT_ERR(rc, m->canceled ? ECANCELED : ETIMEDOUT);
		return;
	}
	resumed(self);
	if (m->out_case < 0) { /* canceled */
		EXPECT_ERR(rc, m->out_err);
		return;
	}
	EXPECT(rc == m->out_case);
	EXPECT(m->cases[rc].err == m->out_err);
	if (op[rc] == CORUN_RECV && !m->out_err)
		EXPECT(m->sel_val[rc] == m->out_val);
}

/* ---- descriptor operations */

/* A D byte: bits 0-1 the object, 2-3 the deadline (0; a short one; -1),
 * 4-5 wait_fd's events (POLLIN, POLLOUT, both), 6 which end of a pipe
 * wait_fd waits on for both. An N byte: 1 + 17 N bytes. */
static int d_obj(unsigned d)
{
	return (int)((d & 3) % NOBJ);
}

/* Deadlines stay short: a wait that nothing ends costs 100 µs, and never
 * -1 while main drives the scheduler, whose idle step would then block the
 * thread forever in epoll_wait (nobody else writes). */
static int64_t d_deadline(unsigned d)
{
	unsigned c = (d >> 2) & 3;
	if (c == 0)
		return 0;
	if (c == 1 || g.driving)
		return corun_now() + 100000;
	return -1;
}

/* Coroutine self is about to wait in a descriptor call (it may not, if
 * what it needs is there and the runtime knows it). */
static void fd_block(int self, int op, int e, int dirs, int64_t dl)
{
	struct mco *m = &g.co[self];
	m->blocked = 1;
	m->kind = K_FD;
	m->fd_op = (uint8_t)op;
	m->fd_ent = (uint8_t)e;
	m->fd_dirs = (uint8_t)dirs;
	m->fd_forever = dl < 0;
	m->fd_closed = 0;
}

/* A descriptor call that may have waited has returned -1: if the model
 * woke it (close, cancel) with what it said; else it timed out (only with a
 * deadline), met a cancellation, or found another in its slot. Never
 * EAGAIN. */
NOCOV static void fd_failed(int self, int64_t dl, int dir)
{
	struct mco *m = &g.co[self];
	EXPECT(errno != EAGAIN);
	if (m->fd_closed) {
		EXPECT(errno == EBADF);
		return;
	}
	switch (errno) {
	case ETIMEDOUT:
		EXPECT(dl > 0);
		break;
	case ECANCELED:
		EXPECT(m->canceled);
		break;
	case EBUSY:
		EXPECT(slot_busy(m->fd_ent, dir, self));
		break;
	default:
		fail(__LINE__, "descriptor call: unexpected errno");
	}
}

/* A descriptor call that may have waited (fd_block came before it) has
 * returned r: 1 if it did its job, for the caller to check the result; 0
 * if it is settled here (the model woke it, or it failed). */
static int fd_returned(int self, ssize_t r, int64_t dl, int dir)
{
	struct mco *m = &g.co[self];
	if (!m->blocked) { /* closed or canceled while it waited */
		m->runs++;
		EXPECT_ERR(r, m->out_err);
		return 0;
	}
	m->blocked = 0;
	if (r < 0) {
		fd_failed(self, dl, dir);
		return 0;
	}
	EXPECT(!m->fd_closed);
	return 1;
}

static void do_fd_read(int self, unsigned d, unsigned nb)
{
	struct mco *m = &g.co[self];
	int e = rd_ent[d_obj(d)], n = 1 + (int)nb * 17;
	struct mbuf *b = &g.buf[g.ent[e].rb];
	int64_t dl = d_deadline(d);
	uint8_t *p = iobuf[self];
	m->fd_serial++;
	errno = 0;
	if (m->canceled || dl == 0 || (b->count == 0 && slot_busy(e, 1, self))) {
		/* It cannot wait: the answer is known now. */
		ssize_t r = corun_read(g.ent[e].fd, p, (size_t)n, dl);
		if (m->canceled)
			EXPECT_ERR(r, ECANCELED);
		else if (b->count == 0)
			EXPECT_ERR(r, dl == 0 ? ETIMEDOUT : EBUSY);
		else {
			EXPECT(r == (n < b->count ? n : b->count));
			buf_give(b, p, (int)r);
		}
		return;
	}
	fd_block(self, FD_READ, e, 1, dl);
	ssize_t r = corun_read(g.ent[e].fd, p, (size_t)n, dl);
	if (!fd_returned(self, r, dl, 1))
		return;
	/* Whatever is there when it returns: the read is its last act. */
	EXPECT(r == (n < b->count ? n : b->count));
	buf_give(b, p, (int)r);
}

static void do_fd_write(int self, unsigned d, unsigned nb)
{
	struct mco *m = &g.co[self];
	int e = wr_ent[d_obj(d)], n = 1 + (int)nb * 17;
	struct mbuf *b = &g.buf[g.ent[e].wb];
	int64_t dl = d_deadline(d);
	uint8_t *p = iobuf[self];
	/* A write that waits is atomic: a pipe's at most a page, a socket's
	 * always fits. Only one that does not wait may be cut short (it
	 * returns then, with no write left half done behind the model). */
	if (!b->pipe && (n = sock_room(b, n)) == 0)
		return;
	if (b->pipe && dl != 0 && n > PAGE)
		n = PAGE;
	fill(p, n);
	m->fd_serial++;
	errno = 0;
	if (m->canceled) {
		EXPECT_ERR(corun_write(g.ent[e].fd, p, (size_t)n, dl), ECANCELED);
		return;
	}
	if (dl == 0) { /* write(2) until it takes nothing more */
		int done = 0, k;
		while (done < n && (k = buf_take(b, p + done, n - done)) > 0)
			done += k;
		ssize_t r = corun_write(g.ent[e].fd, p, (size_t)n, 0);
		if (done)
			EXPECT(r == done);
		else
			EXPECT_ERR(r, ETIMEDOUT);
		return;
	}
	/* Would it fit now? (A pipe's page, as buf_take sees it.) */
	int fits = !b->pipe || b->count == 0 ||
		   (n < PAGE && b->off + b->count + n <= PAGE);
	if (!fits && slot_busy(e, 2, self)) {
		EXPECT_ERR(corun_write(g.ent[e].fd, p, (size_t)n, dl), EBUSY);
		return;
	}
	fd_block(self, FD_WRITE, e, 2, dl);
	ssize_t r = corun_write(g.ent[e].fd, p, (size_t)n, dl);
	if (!fd_returned(self, r, dl, 2))
		return;
	EXPECT(r == n);
	EXPECT(buf_take(b, p, n) == n); /* the model agrees it fit */
}

static void do_fd_wait(int self, unsigned d)
{
	struct mco *m = &g.co[self];
	int obj = d_obj(d), ev = (int)((d >> 4) & 3) % 3 + 1; /* 1 in, 2 out, 3 both */
	int e = ev == 1 ? rd_ent[obj] : ev == 2 ? wr_ent[obj] : (d & 64) ? wr_ent[obj] : rd_ent[obj];
	int events = ((ev & 1) ? POLLIN : 0) | ((ev & 2) ? POLLOUT : 0);
	int want = ((ev & 1) && ent_ready(e, 1) ? POLLIN : 0) |
		   ((ev & 2) && ent_ready(e, 2) ? POLLOUT : 0);
	int64_t dl = d_deadline(d);
	m->fd_serial++;
	errno = 0;
	int busy = ((ev & 1) && slot_busy(e, 1, self)) || ((ev & 2) && slot_busy(e, 2, self));
	if (m->canceled || want || dl == 0 || busy) { /* level-triggered: known now */
		int r = corun_wait_fd(g.ent[e].fd, events, dl);
		if (m->canceled)
			EXPECT_ERR(r, ECANCELED);
		else if (want)
			EXPECT(r == want);
		else
			EXPECT_ERR(r, dl == 0 ? ETIMEDOUT : EBUSY);
		return;
	}
	fd_block(self, FD_WAIT, e, ev, dl);
	int r = corun_wait_fd(g.ent[e].fd, events, dl);
	if (!fd_returned(self, r, dl, (ev & 1) ? 1 : 2)) /* EBUSY: none, checked above */
		return;
	/* What fired: one direction it asked for (no error, no hang-up: both
	 * ends stay open). It may no longer be so: others ran since. */
	EXPECT((r == POLLIN && (ev & 1)) || (r == POLLOUT && (ev & 2)));
}

/* corun_close every descriptor of object k (the harness closes the pair's
 * far end itself), then make it again unless the input is over. A waiter
 * in the kernel's wait wakes with EBADF. One already fired (white box) is
 * not in the wait any more: by its deadline, it fails with ETIMEDOUT; by a
 * report, its read, write or wait_fd must still fail with EBADF, since the
 * number may name another file by the time it runs. */
static void do_fd_close(int k)
{
	struct corun__rt *rt = corun__tls;
	for (int i = 0; i < g.n; i++) {
		struct mco *m = &g.co[i];
		if (!m->blocked || m->kind != K_FD || obj_of(m->fd_ent) != k)
			continue;
		struct corun__co *c = record_of(rt, i);
		if (c->state == CORUN__BLOCKED)
			wake(i, -1, EBADF, 0);
		else if (c->wake_err == 0)
			m->fd_closed = 1; /* fired by a report, not its deadline */
	}
	errno = 0;
	if (k < 2) {
		EXPECT(corun_close(g.ent[2 * k].fd) == 0);
		EXPECT(corun_close(g.ent[2 * k + 1].fd) == 0);
	} else {
		EXPECT(corun_close(g.ent[4].fd) == 0);
		EXPECT(close(g.far) == 0);
	}
	if (!g.fds_gone)
		obj_make(k);
}

/* The other process writes n bytes (one write(2)), or reads up to n. */
static void do_outside(int write_, unsigned d, unsigned nb)
{
	int k = d_obj(d), n = 1 + (int)nb * 17;
	uint8_t *p = iobuf[MAX_CO];
	errno = 0;
	if (write_) {
		struct mbuf *b = &g.buf[k < 2 ? k : 2];
		int fd = k < 2 ? g.ent[2 * k + 1].fd : g.far;
		if (!b->pipe && (n = sock_room(b, n)) == 0)
			return;
		fill(p, n);
		int took = buf_take(b, p, n);
		ssize_t r = write(fd, p, (size_t)n);
		if (took)
			EXPECT(r == took);
		else
			EXPECT_ERR(r, EAGAIN);
	} else {
		struct mbuf *b = &g.buf[k < 2 ? k : 3];
		int fd = k < 2 ? g.ent[2 * k].fd : g.far;
		ssize_t r = read(fd, p, (size_t)n);
		if (!b->count) {
			EXPECT_ERR(r, EAGAIN);
			return;
		}
		EXPECT(r == (n < b->count ? n : b->count));
		buf_give(b, p, (int)r);
	}
}

/* Cancel the k-th coroutine in a descriptor call, if any. */
static void do_fd_cancel(int self, unsigned k)
{
	int n = 0;
	for (int i = 0; i < g.n; i++)
		n += g.co[i].blocked && g.co[i].kind == K_FD;
	if (!n)
		return;
	k %= (unsigned)n;
	for (int i = 0; i < g.n; i++)
		if (g.co[i].blocked && g.co[i].kind == K_FD && k-- == 0) {
			do_cancel(self, i);
			return;
		}
}

static void *nop(void *arg)
{
	return arg;
}

/* Spawns that must be refused with EINVAL, changing nothing. */
static void bad_spawns(void)
{
	errno = 0;
	EXPECT_ERR(corun_go(NULL, NULL), EINVAL);
	EXPECT_ERR(corun_attr_init(NULL), EINVAL);
	EXPECT(corun_attr_init(&g.attr) == 0);
	g.attr.stack_size = CORUN_STACK_MIN - 1;
	EXPECT_ERR(corun_go_attr(nop, NULL, &g.attr), EINVAL);
	g.attr.stack_size = CORUN_STACK_MAX + 1;
	EXPECT_ERR(corun_go_attr(nop, NULL, &g.attr), EINVAL);
	g.attr.stack_size = CORUN_STACK_MIN;
	g.attr.flags = 0x80;
	EXPECT_ERR(corun_go_attr(nop, NULL, &g.attr), EINVAL);
	memset(&g.attr, 0, sizeof g.attr); /* never initialised */
	g.attr.stack_size = CORUN_STACK_MIN;
	EXPECT_ERR(corun_go_attr(nop, NULL, &g.attr), EINVAL);
}

/* corun_park from main: everyone ready now runs exactly once; those made
 * ready or spawned meanwhile wait for the next round. Sleepers whose
 * deadline passes by then are made ready first, and may run once too. */
static void main_park(void)
{
	struct corun__rt *rt = corun__tls;
	int n0 = g.n;
	memset(g.inring, 0, sizeof g.inring);
	if (rt)
		for (size_t k = rt->sched.head; k != rt->sched.tail; k++)
			g.inring[(uintptr_t)rt->sched.ring[k & rt->sched.mask]->arg] = 1;
	for (int i = 0; i < n0; i++) {
		struct mco *m = &g.co[i];
		g.runs0[i] = m->runs;
		g.pready[i] = 0;
		if (m->blocked && m->kind == K_SLEEP)
			g.inring[i] |= 2; /* may wake now */
		if (!m->blocked || m->kind != K_FD)
			continue;
		/* A descriptor call counts no runs (it may wake and wait again
		 * unseen). One the kernel's wait holds while what it waits for
		 * is there must be fired by the park's look at the reports, and
		 * return, unless others change that buffer first. */
		g.inring[i] |= 4;
		if (rt && record_of(rt, i)->state == CORUN__BLOCKED)
			for (int d = 1; d <= 2; d++)
				if ((m->fd_dirs & d) && ent_ready(m->fd_ent, d)) {
					const struct ment *t = &g.ent[m->fd_ent];
					g.pready[i] = 1;
					g.pverA[i] = g.buf[d == 1 ? t->rb : t->wb].ver;
					g.pverB[i] = (unsigned)(d == 1 ? t->rb : t->wb);
					g.pserial[i] = m->fd_serial;
				}
	}
	EXPECT(corun_park() == 0);
	for (int i = 0; i < g.n; i++) {
		unsigned before = i < n0 ? g.runs0[i] : 0;
		unsigned ran = g.co[i].runs - before;
		unsigned want = i < n0 ? (g.inring[i] & 1u) : 0u;
		EXPECT(ran == want || (ran == 1 && i < n0 && (g.inring[i] & 2)) ||
		       (ran <= 1 && i < n0 && (g.inring[i] & 4)));
		if (i < n0 && g.pready[i] && !g.fds_gone && g.buf[g.pverB[i]].ver == g.pverA[i])
			EXPECT(!g.co[i].blocked || g.co[i].kind != K_FD ||
			       g.co[i].fd_serial != g.pserial[i]);
	}
}

static void main_run(void)
{
	if (forever_waiters()) { /* it would block the thread for good */
		main_park();
		return;
	}
	errno = 0;
	g.driving = 1;
	int rc = corun_run();
	g.driving = 0;
	if (rc == 0) {
		EXPECT(g.live == 0);
		/* Idle or not, the runtime stays (check() holds it to has_rt). */
	} else {
		EXPECT_ERR(rc, EDEADLK);
		check_stuck();
	}
}

static void main_misc(void)
{
	unsigned d;
	switch (arg_byte() % 12) {
	case 0:
		bad_spawns();
		break;
	case 1: /* released only when nothing is left running */
		errno = 0;
		if (g.live) {
			EXPECT_ERR(corun_shutdown(), EBUSY);
		} else {
			chans_free(); /* they belong to the runtime: free them first */
			EXPECT(corun_shutdown() == 0);
			EXPECT(corun__tls == NULL);
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
	unsigned d;
	errno = 0;
	switch (arg_byte() % 16) {
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
static void *body(void *arg)
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
	/* Ends now: its joiners get the result and the handle goes stale, or
	 * it is detached and goes stale, or the result waits for a join. */
	m->ended = 1;
	if (m->joiners || m->main_joins || m->detached)
		m->stale = 1;
	for (int j = 0; j < g.n; j++)
		if (m->joiners >> j & 1)
			wake(j, 0, 0, 0);
	m->joiners = 0;
	m->main_joins = 0;
	g.live--;
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
	for (int i = 0; i < g.n; i++)
		if (g.co[i].ended && !g.co[i].stale) {
			do_join(MAIN, i, 0);
			check(MAIN);
		}
	errno = 0;
	if (g.live == 0) {
		EXPECT(corun_run() == 0);
		EXPECT((corun__tls != NULL) == (g.has_rt != 0));
	} else {
		EXPECT_ERR(corun_run(), EDEADLK);
		check_stuck();
	}
	check(MAIN);

	#ifdef FZ_ASAN
	/* The stacks of the coroutines blocked forever are unmapped at the
	 * thread's exit with their frames' redzones still poisoned. corun
	 * unpoisons the top 64 KiB of a stack when it spawns on it (all of ours);
	 * clearing them here too keeps a later mapping at the same address
	 * clean whatever the library does. */
	struct corun__rt *rt = corun__tls;
	for (int i = 0; rt && i < g.n; i++)
		if (!g.co[i].ended) {
			struct corun__co *c = record_of(rt, i);
			__asan_unpoison_memory_region(c->stack.lo, c->stack.size);
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
		fail(__LINE__, "descriptors leaked by the input");
	return 0;
}
