/*
 * What the files of fuzz_runtime share (see fuzz_main.c for the whole, and
 * the input's encoding): the model, kept in g, and each area's operations
 * and checks.
 *
 *   fuzz_main.c   the driver: the byte cursor, decoding, who runs what,
 *                 check() after every step, the end of an input
 *   model_co.c    coroutines: spawn, join, detach, cancel, sleep, park and
 *                 run; waking; the ready ring and the records
 *   model_chan.c  the two channels and select
 *   model_fd.c    descriptors: pipes, a socket pair, the other process
 *   model_sync.c  a wait group and two mutexes
 *
 * White box: what the runtime keeps is read through the test door
 * (tests/priv.h) only.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <corun.h>

#include "../tests/priv.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

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
#define NMU 2

/* What a coroutine is blocked in, as the model sees it. */
enum { K_NONE, K_JOIN, K_CHAN, K_SLEEP, K_FD, K_SYNC };

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

/* The wait group: its counter and who waits for it to reach zero. */
struct mwg {
	corun_wg *wg;
	int64_t count;
	uint64_t waiters;   /* model indices, one bit each */
	uint8_t main_waits;
};

/* A mutex: who holds it (a model index or MAIN) and who waits in line,
 * oldest first (MAIN among them). */
struct mmu {
	corun_mutex *mu;
	uint8_t locked;
	uint8_t abandoned;  /* left free by a holder that ended: the next
			     * lock is told (EOWNERDEAD) */
	int holder;
	int q[MAX_CO + 1];
	int nq;
};

/* Per input. Only the input's thread touches it while it runs; no
 * coroutine keeps an address-taken local (ASan would leave the frames of
 * those blocked forever poisoned), so everything addressable is here. */
struct fuzz_state {
	const uint8_t *data;
	size_t size, pos;
	struct mco co[MAX_CO];
	struct mchan chan[NCHAN];
	struct mwg wg;
	struct mmu mu[NMU];
	int n;            /* spawned so far */
	int live;         /* spawned and not ended */
	int has_rt;       /* spawned since the start or the last shutdown */
	int next_val;     /* elements sent are 1, 2, 3... */
	int main_val;
	int main_blocked; /* main waits on a wait group or a mutex... */
	int main_err;     /* ...and what its call returns when woken */
	int64_t last_id;
	corun_attr attr;
	void *main_res;
	char namebuf[64];
	uint8_t seen[MAX_CO];
	uint8_t inring[MAX_CO];
	unsigned runs0[MAX_CO];
	corun_t who[QMAX + 2]; /* the door's answers: handles... */
	int cases[QMAX + 2];   /* ...and case indices */
	struct mbuf buf[NBUF];
	struct ment ent[NENT];
	int far;          /* the socket pair's far end: the harness's */
	int fds_gone;     /* closed for good at the end of the input */
	int driving;      /* main is in corun_run or a blocking wait */
	unsigned wcall;   /* writes so far: each writes its own bytes */
	unsigned pverA[MAX_CO], pverB[MAX_CO], pserial[MAX_CO];
	uint8_t pready[MAX_CO];
};

extern struct fuzz_state g;

extern corun_t foreign; /* a handle of the previous input's thread */

/* ---- failure: no stdio, little stack (coroutines have 16 KiB) */

_Noreturn void fail(const char *file, int line, const char *what);

#define EXPECT(c)                                                             \
	do {                                                                  \
		if (!(c))                                                     \
			fail(__FILE__, __LINE__, #c);                         \
	} while (0)
#define EXPECT_ERR(rc, e) EXPECT((rc) == -1 && errno == (e))

/* ---- the byte cursor (fuzz_main.c) */

static inline int next_byte(void)
{
	return g.pos < g.size ? g.data[g.pos++] : -1;
}

static inline unsigned arg_byte(void)
{
	int b = next_byte();
	return b < 0 ? 0u : (unsigned)b;
}

int pick(void);
corun_t handle_of(int t);
void check(int self);
void *body(void *arg);

/* ---- coroutines (model_co.c) */

void co_end(int self);
struct corun_priv_co co_info(corun_t h);
int model_of(corun_t h);
int co_blocked(int i);
void check_cos(int self);
void check_stuck(void);
void wake(int i, int cs, int err, int val);
void resumed(int self);
int canceled(int self);
int forever_waiters(void);
void do_spawn(int self);
void do_join(int self, int t, int now);
void do_detach(int self, int t);
void do_cancel(int self, int t);
void do_sleep(int self, unsigned arg);
void bad_spawns(void);
void main_park(void);
void main_run(void);

/* ---- channels (model_chan.c) */

void chans_free(void);
void chan_unqueue(int i);
void check_chans(void);
void do_send(int self, unsigned chb, int wait);
void do_recv(int self, unsigned chb, int wait);
void do_close(unsigned chb);
void do_select(int self, unsigned sel);

/* ---- descriptors (model_fd.c) */

int d_obj(unsigned d);
void obj_make(int k);
void check_fd_slots(int i);
void fd_ready_at_park(int i);
void check_fds(void);
void do_fd_read(int self, unsigned d, unsigned nb);
void do_fd_write(int self, unsigned d, unsigned nb);
void do_fd_wait(int self, unsigned d);
void do_fd_close(int k);
void do_outside(int write_, unsigned d, unsigned nb);
void do_fd_cancel(int self, unsigned k);

/* ---- wait groups and mutexes (model_sync.c) */

void do_sync(int self, unsigned s);
void sync_unqueue(int i);
void sync_orphans(int self);
void sync_release(void);
void sync_free(void);

#endif
