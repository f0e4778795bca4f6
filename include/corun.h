/*
 * corun: stackful coroutines for C on Linux.
 *
 * Many cheap flows of control inside one OS thread, each with its own stack
 * and a guard page below it, handing the CPU to each other cooperatively.
 *
 *   corun_go(fn, arg)      spawn: fn(arg) becomes Ready and runs when the
 *                          scheduler reaches it
 *   corun_park()           yield: go to the back of the ready queue and let
 *                          the next ready coroutine run (FIFO round robin)
 *   corun_run()            drive this thread's coroutines until none is left
 *   corun_join(h, &res)    wait for a coroutine to end and take its result
 *
 * and, for coroutines that wait: corun_sleep, channels (corun_chan_*) with
 * corun_select, wait groups, mutexes, deadlines on every blocking call, and
 * corun_cancel. All of them are built on one wait core: a coroutine that
 * waits lets the others run, and when none can, the thread sleeps in the
 * kernel until the nearest deadline.
 *
 * Every runtime belongs to one OS thread. The first corun_go on a thread
 * creates it; it then lives until the thread exits or the thread calls
 * corun_shutdown. Running out of work does not release it: corun_run
 * returning, or the last join, leaves the pooled stacks, the handle table
 * and the ready queue in place for the next spawn, which then needs no
 * system call. Stacks the pool has not handed out for a while go back to
 * the kernel by themselves (see corun_set_stack_decay); corun_trim gives
 * back all idle ones at once. Handles, coroutines and stacks never cross
 * threads, and a thread's own objects are never locked; what crosses
 * threads is described under "Threads" below.
 *
 * Stack overflow: the first runtime of the process installs a SIGSEGV and
 * SIGBUS handler (chaining to the one installed before it), and each
 * runtime gives its thread an alternate signal stack unless it has one. A
 * fault in a guard page while a coroutine runs off its stack (the fault in
 * its own guard, or its stack pointer below its stack) prints
 *     corun: stack overflow in coroutine <id> "<name>" (stack <N> bytes)
 * naming the coroutine that was running, followed by
 *     , into the guard page of coroutine <id> "<name>"
 * when a frame larger than a page (code built without
 * -fstack-clash-protection) skipped its own guard and hit the one below the
 * next stack down. Any other touch of a guard page prints
 *     corun: fault in the guard page of coroutine <id> "<name>" (stack <N>
 *     bytes), by coroutine <id> "<name>"      (or "by main")
 * Either way the process then dies of the signal's default action; every
 * other fault goes to the previous handler. A program that installs its own
 * handler afterwards replaces corun's (and loses the report).
 *
 * Unloading: that handler, and the thread-exit destructor that releases a
 * thread's runtime, stay installed for the life of the process, so
 * libcorun.so is linked with -z nodelete: a dlclose never unloads it. A
 * shared object that links libcorun.a instead must itself be linked with
 * -z nodelete, or never be unloaded.
 *
 * Fork: a child of fork(2) gets a copy of the forking thread, its runtime
 * included, and shares nothing of corun with its parent; handlers that
 * corun installs with pthread_atfork see to it, with no call needed. The
 * runtime's coroutines are copies too, and stay as they were: the one that
 * forked (or main) goes on; the others run when the child's scheduler
 * reaches them (any wait, park or join), sleepers wake at their deadlines,
 * and those that wait on descriptors go on waiting on the same files in
 * the child, or, if the child closed the descriptor before it first
 * waited, wake with the error (EBADF). The child's runtime makes an epoll
 * instance of its own at its first need, so no report meant for the parent
 * reaches the child, and none of the child's reaches the parent. The
 * runtimes of the other threads are gone with their threads: forgotten
 * (debuggers no longer list them), their memory left as it is. The
 * descriptors themselves are shared as fork shares them: a child's copy of
 * a coroutine that reads a socket competes with the parent's for its data.
 * So a child that goes on using corun rather than exec should fork where
 * its runtime has no other work (a thread of its own, or before spawning),
 * or cancel the copies it does not want. A child that execs is clear of
 * all this: corun's own descriptors are close-on-exec. _Fork(3) and a raw
 * clone(2) run no handlers: their child must exec or _exit without
 * calling corun.
 *
 * Errors: functions return -1 (or NULL) and set errno, as POSIX does, and
 * leave the runtime usable. Each function lists its errors below; the table
 * at the end of this file gathers them, and tests/ hits every row. The man
 * pages (docs/man/) say the same, and tests/man_pages.cmake checks that
 * each function has one, with its prototype and every errno of its rows.
 *
 * Memory layout of one coroutine (stacks are carved from large slabs):
 *
 *     high  +---------------------------+  <- top of the stack slot
 *           | coroutine record (<=256B) |  state, queue link, name, ...
 *           +---------------------------+
 *           | saved registers           |  only while suspended
 *           | ... the coroutine's own   |
 *           |     frames grow down ...  |
 *           |                           |  stack_size bytes in all
 *           +---------------------------+  <- lowest usable address
 *           | guard (no access)         |  overflow faults here: a page,
 *     low   +---------------------------+  64 KiB on AArch64 (docs/architectures.md)
 *
 * The handle table (slot, serial) is kept apart from the stacks, so a stale
 * handle is refused without touching memory that was given back.
 */
#ifndef CORUN_H
#define CORUN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define CORUN_API __attribute__((visibility("default")))
#else
#define CORUN_API
#endif

#define CORUN_VERSION_MAJOR 0
#define CORUN_VERSION_MINOR 1
#define CORUN_VERSION_PATCH 0

/*
 * A coroutine handle. Positive when valid; -1 is returned on error. It names
 * one coroutine of the thread that spawned it: each carries a serial that is
 * unique in the process until 2^39 - 1 serials have been drawn. Threads
 * draw them in blocks, which lasts at least 2^38 spawns (and runtimes)
 * less 8 for every thread that spawned. So a handle that is stale
 * (joined, or its detached coroutine ended), foreign (from another thread,
 * or from a runtime since released) or made up is refused with ESRCH, never
 * taken for another coroutine.
 */
typedef int64_t corun_t;

/* The body of a coroutine. Its return value is what corun_join hands back. */
typedef void *(*corun_fn)(void *arg);

/* Stack sizes, in bytes. Requests are rounded up to whole pages. */
#define CORUN_STACK_DEFAULT ((size_t)2 << 20) /* 2 MiB */
#define CORUN_STACK_MIN ((size_t)16 << 10)    /* 16 KiB */
#define CORUN_STACK_MAX ((size_t)1 << 30)     /* 1 GiB */

/* Names are copied; longer ones are cut to CORUN_NAME_MAX - 1 bytes. */
#define CORUN_NAME_MAX 32

/* Flags for corun_attr.flags. */
#define CORUN_DETACHED 0x1u /* nobody will join: forget the result at the end */
#define CORUN_FPCTL 0x2u    /* changes the FP control state: keep its own */

/*
 * Floating-point control state (rounding mode, flush-to-zero, exception
 * masks; on x86_64 MXCSR's control bits and the x87 control word, on
 * AArch64 FPCR, on RISC-V frm) is callee-saved in the ABI, but reading it
 * costs more than the rest of a switch. So:
 *  - A coroutine spawned with CORUN_FPCTL keeps its own: it starts with its
 *    creator's state and finds its own again after every park, whatever the
 *    others did meanwhile. Switches into or out of it cost more: bench/
 *    measures it (the "corun_park, 2 coroutines, CORUN_FPCTL" row).
 *  - The thread's main context always keeps its own.
 *  - Every other coroutine shares main's, as a function called from main
 *    would: it runs with the state main had when main last handed over to
 *    the scheduler (corun_run, or corun_park or corun_join from main). It
 *    must not change it, or must put it back before it parks, blocks or
 *    ends; otherwise the change leaks to other such coroutines and to main
 *    (never to CORUN_FPCTL ones, which get theirs back). Switches among
 *    these touch no FP state at all.
 * The exception flags (FE_DIVBYZERO, FE_INEXACT, ...) are status, not
 * control: they are the thread's, as between function calls. No switch
 * saves, clears or restores them: a flag raised before a park is still
 * raised after it, whoever ran in between, until some code clears it.
 */

/*
 * Spawn options. Always initialise with corun_attr_init, then set fields:
 * fields may be added in later versions (the reserved space keeps the size).
 * corun_attr_init writes a private mark, and corun_go_attr refuses with
 * EINVAL an attribute without it: zeroed or fresh garbage memory. It cannot
 * tell a forgotten corun_attr_init when the memory happens to hold an
 * earlier attribute's bytes (a stack slot reused, a struct copied): those
 * carry the mark and are taken as they are.
 */
typedef struct corun_attr {
	size_t stack_size; /* usable bytes; default CORUN_STACK_DEFAULT */
	const char *name;  /* for diagnostics; NULL for none; copied */
	unsigned flags;    /* CORUN_DETACHED, CORUN_FPCTL, or 0 */
	unsigned magic_;   /* private: set by corun_attr_init */
	void *reserved_[6];
} corun_attr;

/*
 * Fill *attr with the defaults: CORUN_STACK_DEFAULT, no name, joinable.
 * Returns 0, or -1 with errno EINVAL when attr is NULL.
 */
CORUN_API int corun_attr_init(corun_attr *attr);

/*
 * Checked mode, for debugging: a library built with the CMake option
 * -DCORUN_CHECKED=ON (default OFF; without it nothing of this is compiled)
 * checks the contract of every switch in each runtime made while
 * CORUN_CHECK=1 is in the environment (read when the thread's runtime is
 * made). On a breach it writes one line to stderr,
 *     corun: checked: coroutine <id> "<name>" <what it broke>
 * ("main" for the thread's main context) and calls abort(). It checks that
 * a coroutine without CORUN_FPCTL leaves with the floating-point control
 * state it was given (main's; see above), that a coroutine's saved stack
 * pointer lies inside its stack when it is resumed and that one leaving
 * runs on its own stack, and that a canary written at the low end of each
 * stack at spawn is intact when its coroutine leaves or is resumed (an
 * overflow that skipped the guard page, or a stray write).
 */

/*
 * Spawn a coroutine running fn(arg) on a stack of its own, with the default
 * attributes. It becomes Ready at the back of the queue; it first runs when
 * the scheduler reaches it (a park, a join, or corun_run), never inside this
 * call. May be called from the thread's main context or from a coroutine.
 * It shares main's floating-point control state unless spawned with
 * CORUN_FPCTL (see above).
 *
 * Returns a handle, or -1 with errno:
 *   EINVAL  fn is NULL
 *   ENOMEM  no memory for the runtime, the handle table or the stack: no
 *           address space for even a one-stack slab (slabs shrink to fit a
 *           lowered RLIMIT_AS before this), or, when guard pages fall back
 *           to mprotect, more stacks would leave the rest of the process
 *           less than an eighth of the kernel's limit on mappings
 *           (vm.max_map_count; at least 1,024 of it). Nothing is leaked;
 *           spawning works again once coroutines end.
 *   EAGAIN  2^24 - 1 coroutines of this thread exist or have ended and
 *           wait to be joined
 */
CORUN_API corun_t corun_go(corun_fn fn, void *arg);

/*
 * corun_go with options. attr may be NULL for the defaults.
 * Errors as corun_go, and:
 *   EINVAL  attr was not initialised by corun_attr_init; stack_size is below
 *           CORUN_STACK_MIN or above CORUN_STACK_MAX; flags has unknown bits
 */
CORUN_API corun_t corun_go_attr(corun_fn fn, void *arg, const corun_attr *attr);

/*
 * Yield. From a coroutine: go to the back of the ready queue and switch to
 * the next ready coroutine; returns when the caller's turn comes again, or
 * at once when no other coroutine is ready.
 *
 * From the thread's main context (outside any coroutine): let every
 * coroutine that is ready now run once, until it parks, blocks or ends, then
 * return. Coroutines spawned meanwhile wait for the next round. This lets a
 * program that owns its own loop step the scheduler; corun_run is the usual
 * way. With no runtime or nothing ready, returns at once. From main, it
 * first fires the deadlines that have passed and, while coroutines wait on
 * descriptors, collects what the kernel reports ready (one epoll_wait that
 * does not block), so a program that steps the scheduler from its own loop
 * wakes its sleepers and its readers too.
 *
 * Returns 0. It is not a blocking call (see "Blocking calls" below):
 * cancellation does not affect it. It has no error.
 */
CORUN_API int corun_park(void);

/*
 * Run the calling thread's coroutines until none is left, then return 0.
 * Spawns made during the run are run too. May be called again after more
 * spawns. The runtime stays, ready for them (see the top of this file).
 *
 * Returns 0, or -1 with errno:
 *   EPERM    called from inside a coroutine (only the thread's main context
 *            drives the scheduler)
 *   EDEADLK  coroutines remain but none can run: each is blocked waiting
 *            for something no one can do (a cycle of joins, say). They stay
 *            blocked and counted by corun_count(); the runtime stays usable.
 */
CORUN_API int corun_run(void);

/*
 * Wait for coroutine h to end and store its return value in *result (if
 * result is not NULL). The handle is stale afterwards. A caller that is a
 * coroutine waits without holding up the others; the main context runs
 * the scheduler until then, as corun_run does. If h has already ended, this
 * returns at once. Several coroutines (and main) may wait for the same h:
 * when it ends, each gets its result, and the handle goes stale; a join
 * made after that gets ESRCH. A coroutine that is never joined or
 * detached keeps its handle slot (and its result, a few bytes) until the
 * join, corun_shutdown, or the thread's exit; its stack is reused as soon
 * as it ends.
 *
 * Returns 0, or -1 with errno:
 *   ESRCH      h is not a coroutine of this thread: stale (already joined,
 *              or detached and ended), from another thread or a released
 *              runtime, or never valid (-1 included)
 *   EDEADLK    h is the caller itself; or, from the main context, h can
 *              never end: nothing can run or fire any more (see corun_run).
 *              h is left joinable.
 *   EINVAL     h is detached
 *   ECANCELED  the caller was canceled (see corun_cancel); h is left
 *              joinable
 */
CORUN_API int corun_join(corun_t h, void **result);

/*
 * corun_join with a deadline (see "Time" below): -1 waits as long as it
 * takes, 0 only takes a result that is already there. Errors as corun_join,
 * and:
 *   ETIMEDOUT  the deadline passed first; h is left joinable
 *   EINVAL     deadline < -1
 *   ENOMEM     no memory to arm the deadline
 */
CORUN_API int corun_join_until(corun_t h, void **result, int64_t deadline);

/*
 * Blocking calls. These nineteen may wait, and only these: corun_join,
 * corun_join_until, corun_sleep, corun_sleep_until, corun_chan_send,
 * corun_chan_recv, corun_select, corun_wg_wait, corun_mutex_lock,
 * corun_wait_fd, corun_read, corun_write, corun_accept, corun_connect,
 * corun_task_join, corun_blocking, corun_blocking_ex, corun_getaddrinfo,
 * corun_dial (the last four always wait: for the pool). (corun_group_start and corun_group_stop wait too, but
 * to the end, whatever comes: they take no deadline and are no
 * cancellation points.)
 * Each takes a deadline, is a cancellation point (below), and counts
 * against the operation budget (below). Every other call returns without
 * waiting and is neither: corun_park, corun_go, corun_chan_close,
 * corun_chan_free, corun_wg_add, corun_mutex_unlock, corun_close...
 *
 * Cancellation, by one rule (libdill's and Trio's): once a coroutine is
 * canceled, every blocking call it makes fails with ECANCELED, whether or
 * not it would have had to wait, and does nothing else (a send with room
 * sends nothing, a receive takes nothing, a lock of a free mutex does not
 * take it, a join leaves h joinable, a read reads nothing); a call it is
 * waiting in returns so at once. So a loop fed faster than it works (whose
 * calls never wait) still sees its cancel at its next call. Errors in the
 * arguments (EINVAL, EBADF, ESRCH, EPERM, EDEADLK for a join of itself or a
 * lock it holds) are reported before ECANCELED. A corun_write that had
 * written some bytes when the cancel came returns how many.
 *
 * Cleanup that must wait (joining the coroutines it spawned, flushing with
 * a deadline) shields itself, as a Trio shielded cancel scope does:
 *
 *     int was = corun_shield(1);      // blocking calls work again
 *     corun_cancel(child);
 *     corun_join_until(child, NULL, corun_now() + 100 * 1000000);
 *     corun_shield(was);              // and the cancel takes effect again
 *
 * Give the shielded calls deadlines: while shielded, nothing interrupts
 * them but their deadline and what they wait for.
 *
 * The operation budget, against starvation: a blocking call that can
 * complete at once (an element buffered, data ready, a free mutex) does so
 * without letting anyone else run. So that a coroutine fed faster than it
 * works cannot keep the others from running, the 128th blocking call in a
 * row on a thread with no wait among them first yields as corun_park does
 * (from main: runs the ready coroutines once, and fires deadlines and
 * descriptor reports), then does its work as usual. A call that waits
 * gives the budget back in full. Programs see it only as a switch inside a
 * call that did not have to wait: after it, what the call finds may be
 * different from what it would have found before (tokio's task budget is
 * the model; 128 there too).
 */

/*
 * Cancel coroutine h: it is not stopped, but every blocking call it makes
 * from now on (the nineteen above, corun_read, corun_write, corun_accept,
 * corun_connect and corun_wait_fd among them) fails with ECANCELED (see
 * above), and if it is waiting in one
 * now, that call returns -1 with errno ECANCELED at once (unless it is
 * shielded: then the call goes on, and its first blocking call after
 * corun_shield(0) fails). It runs on, ends as it chooses, and can be
 * joined as before. A loop that only parks runs on: corun_canceled tells
 * it. Cancelling twice is the same as once; it cannot be undone. A
 * coroutine may cancel itself (its next blocking call fails). Cancelling
 * one that has ended but not been joined does nothing (returns 0).
 * Returns 0, or -1 with errno ESRCH for a handle as for corun_join.
 */
CORUN_API int corun_cancel(corun_t h);

/*
 * Shield the calling coroutine from its cancellation (on != 0) or stop
 * (on == 0). While shielded, its blocking calls work as if it had not been
 * canceled, and a cancel that comes meanwhile does not interrupt them: it
 * is remembered, and takes effect when the shield is dropped. For cleanup
 * that must wait (see above). Returns the setting before the call (1 or
 * 0), so that nested cleanup can put it back. From the main context,
 * which cannot be canceled, it changes nothing that matters and returns
 * the setting. It has no error.
 */
CORUN_API int corun_shield(int on);

/*
 * 1 if the calling coroutine has been canceled (shielded or not), else 0
 * (and from the main context, which cannot be). For loops that never make
 * a blocking call. It has no error.
 */
CORUN_API int corun_canceled(void);

/*
 * Time. One clock and one unit everywhere: nanoseconds on the monotonic
 * clock (CLOCK_MONOTONIC). Every blocking call takes an absolute deadline on
 * it: -1 for never, 0 for "do not block" (succeed only if that needs no
 * wait), anything else a time from corun_now(). While deadlines are
 * pending, the scheduler fires them when they pass, also if other
 * coroutines never stop running; when nothing is ready the thread sleeps in
 * the kernel until the nearest one, so a program whose coroutines all sleep
 * uses no CPU.
 */
CORUN_API int64_t corun_now(void);

/*
 * Wait until corun_now() >= deadline (0, or a time already past: return at
 * once; -1: until canceled). From main, runs the scheduler meanwhile.
 * Returns 0, or -1 with errno:
 *   ECANCELED  the caller was canceled
 *   EDEADLK    from main with deadline -1: nothing else can run or fire
 *   EINVAL     deadline < -1
 *   ENOMEM     no memory to arm the deadline
 */
CORUN_API int corun_sleep_until(int64_t deadline);

/* corun_sleep_until(corun_now() + ns). ns < 0 is EINVAL; errors as above. */
CORUN_API int corun_sleep(int64_t ns);

/*
 * Threads. Every runtime belongs to one OS thread, and a coroutine that has
 * started never changes thread: C code may keep the address of errno or of
 * any __thread variable across a call that switches (glibc declares
 * __errno_location const, and compilers cache what it returns), so a
 * coroutine resumed on another thread would read and write the first
 * thread's errno and thread-locals. What crosses threads instead:
 *  - messages and waits: channels, wait groups and mutexes made with the
 *    *_make_shared calls below serve the coroutines and the main contexts
 *    of every thread, with the same calls, deadlines, cancellation and
 *    errors as a thread's own objects; corun_select may mix both kinds;
 *  - wakes: a thread that completes a wait of another thread's coroutine
 *    (a send to its receive) wakes it through that runtime's inbox, with
 *    no system call while that runtime is busy; a runtime asleep in the
 *    kernel is woken by one write to its eventfd, once per sleep (and
 *    before it sleeps, a runtime with such waits pending spins for up to
 *    50 µs, or CORUN_SPIN_NS nanoseconds from the environment when the
 *    runtime is made, 0 for none: bench/threads/ measures what each
 *    costs);
 *  - coroutines that have not started yet (the worker group), and plain
 *    function calls (the blocking pool).
 * A runtime whose coroutines wait only on shared objects is never
 * deadlocked by itself (another thread may end the wait): corun_run and a
 * wait from main then sleep until woken, and never fail with EDEADLK for
 * it. A thread that exits while its coroutines wait on shared objects
 * withdraws those waits first; the objects live on.
 *
 * Channels: typed by size, FIFO. A channel of
 * capacity 0 is unbuffered: a send waits for a receiver and hands its
 * element straight over. Otherwise sends go into a buffer of `capacity`
 * elements and wait only when it is full. Elements are copied in and out
 * (elem_size bytes; 0 makes a channel of signals, whose elem may be NULL).
 * A channel made by corun_chan_make belongs to the runtime of the thread
 * that made it: used from another thread (or after that runtime's
 * corun_shutdown), every call fails with EPERM; nothing is locked. One made
 * by corun_chan_make_shared serves every thread (see "Threads"): each call
 * takes its lock for the few dozen instructions of the transfer, and a
 * waiter of another thread is woken through its runtime's inbox. Waiters
 * are served in the order they came.
 *
 * Blocking calls take a deadline (see "Time"); from main they run the
 * scheduler while they wait. Each returns 0, or -1 with errno:
 *   EPIPE      the channel is closed (a receive first takes what is left)
 *   ETIMEDOUT  the deadline passed (with deadline 0: it would have waited)
 *   ECANCELED  the caller was canceled
 *   EDEADLK    from main: nothing can run or fire any more
 *   EINVAL     ch is NULL; deadline < -1; elem is NULL for a send with
 *              elem_size > 0
 *   EPERM      ch belongs to another thread's runtime
 *   ENOMEM     no memory to arm the deadline
 */
typedef struct corun_chan corun_chan;

/* Make a channel. NULL with errno ENOMEM, or EINVAL for sizes no object can
 * have: elem_size above PTRDIFF_MAX (no C object is larger), or a buffer of
 * capacity such elements that, with the channel's own few dozen bytes,
 * would be larger than PTRDIFF_MAX. (Capacity 0 has no buffer.) */
CORUN_API corun_chan *corun_chan_make(size_t elem_size, size_t capacity);
/* The same, shared between threads: callable from any thread (one that
 * never spawned too: its first wait makes its runtime), and it belongs to
 * none, so it outlives the thread that made it. NULL with errno ENOMEM or
 * EINVAL as above. */
CORUN_API corun_chan *corun_chan_make_shared(size_t elem_size, size_t capacity);
CORUN_API int corun_chan_send(corun_chan *ch, const void *elem, int64_t deadline);
/* elem may be NULL: the element is taken and dropped. */
CORUN_API int corun_chan_recv(corun_chan *ch, void *elem, int64_t deadline);

/*
 * Close ch: every waiting sender and receiver wakes with EPIPE, later
 * sends fail with EPIPE, later receives take what is buffered and then
 * fail with EPIPE. Returns 0, or -1 with errno EPIPE (already closed),
 * EINVAL (NULL) or EPERM (another thread's).
 */
CORUN_API int corun_chan_close(corun_chan *ch);

/*
 * Close ch if it is open (waking its waiters with EPIPE: they return
 * without touching it again) and free it. Returns 0 (NULL does nothing
 * and returns 0), or -1 with errno EPERM for a channel of another
 * thread's runtime, which is left alone. Like corun_wg_free and
 * corun_mutex_free. A shared channel may be freed from any thread; its
 * memory goes once the last of the woken waiters has left it. No call may
 * name it after its free, from any thread.
 */
CORUN_API int corun_chan_free(corun_chan *ch);

/* select: one of several sends and receives, whichever can go first. */
#define CORUN_SEND 1
#define CORUN_RECV 2
typedef struct corun_case {
	corun_chan *chan;
	int op;     /* CORUN_SEND or CORUN_RECV */
	void *elem; /* what to send, or where to receive (NULL: drop it) */
	int err;    /* out, for the case that was taken: 0, or EPIPE (closed) */
} corun_case;

/*
 * Take one of the n cases: if some can go now (a closed channel counts: it
 * goes at once with EPIPE), one of those, chosen at random so that none
 * starves; otherwise wait for the first that can, or for the deadline.
 * Returns the index of the case taken, its err set; or -1 with errno as for
 * the channel calls (EINVAL also for a NULL cases with n > 0, an unknown
 * op, or n > INT32_MAX; ENOMEM also for waiting on more than 16 cases
 * without memory). With n == 0 it waits for the deadline and fails with
 * ETIMEDOUT (or ECANCELED, or, from main with deadline -1, EDEADLK).
 */
CORUN_API int corun_select(corun_case *cases, size_t n, int64_t deadline);

/*
 * Wait groups and mutexes that park the coroutine instead of spinning.
 * Like channels, each made by *_make belongs to the runtime of the thread
 * that made it: from another thread (or after that runtime's
 * corun_shutdown) every call fails with EPERM; free them before the
 * runtime goes. Those made by *_make_shared serve every thread, belong to
 * none, and may be freed from any (see "Threads"). Blocking calls take
 * a deadline and from main run the scheduler while they wait; they fail
 * with ETIMEDOUT, ECANCELED, EDEADLK (main: nothing can run or fire any
 * more), EINVAL (NULL, deadline < -1) or ENOMEM (no memory to arm the
 * deadline), as the channel calls do.
 */
typedef struct corun_wg corun_wg;
typedef struct corun_mutex corun_mutex;

/* A wait group: a counter that corun_wg_wait waits to see reach zero. NULL
 * with errno ENOMEM. */
CORUN_API corun_wg *corun_wg_make(void);
CORUN_API corun_wg *corun_wg_make_shared(void);
/* Add delta (may be negative). When the counter reaches zero every waiter
 * wakes. -1 with EINVAL if it would go below zero (or overflow): it is
 * left as it was. */
CORUN_API int corun_wg_add(corun_wg *wg, int64_t delta);
/* corun_wg_add(wg, -1). */
CORUN_API int corun_wg_done(corun_wg *wg);
/* Wait until the counter is zero (at once if it is). */
CORUN_API int corun_wg_wait(corun_wg *wg, int64_t deadline);
/* Free it (NULL: nothing). -1 with EBUSY while some coroutine waits on it. */
CORUN_API int corun_wg_free(corun_wg *wg);

/*
 * A mutex among the coroutines (and main) of one thread, or, made by
 * corun_mutex_make_shared, of every thread. Each holder is one coroutine
 * (or one thread's main): only it may unlock it. NULL with errno ENOMEM.
 *
 * A coroutine that ends holding a mutex does not leave it held for good:
 * its end hands the mutex to the longest waiter, or leaves it free, and the
 * one that takes it next is told, as with a robust pthread mutex, because
 * what the mutex guards may have been left half updated: its
 * corun_mutex_lock returns -1 with errno EOWNERDEAD and it holds the mutex
 * (it must unlock it, and should repair or discard the guarded state
 * first). Only that one is told; later locks succeed as usual.
 */
CORUN_API corun_mutex *corun_mutex_make(void);
CORUN_API corun_mutex *corun_mutex_make_shared(void);
/* Take it, waiting in line if it is held: unlock hands it to the longest
 * waiter. EDEADLK if the caller already holds it; EOWNERDEAD (the caller
 * holds it all the same) if its last holder ended holding it. */
CORUN_API int corun_mutex_lock(corun_mutex *mu, int64_t deadline);
/* Give it up, to the next in line if any. EPERM if the caller does not
 * hold it. */
CORUN_API int corun_mutex_unlock(corun_mutex *mu);
/* Free it (NULL: nothing). -1 with EBUSY while it is held. */
CORUN_API int corun_mutex_free(corun_mutex *mu);

/*
 * Descriptors: waiting for I/O without blocking the thread.
 *
 * Each runtime has one epoll instance. A descriptor is registered with it
 * once, edge-triggered for input and output together, the first time a
 * call must wait on it, and stays registered until corun_close: a wait on
 * a busy connection then costs no epoll_ctl. corun remembers per
 * descriptor what the kernel last said is ready, so that corun_read and
 * corun_write on a stream (a TCP or Unix stream socket, a pipe) do not make
 * a system call that is bound to fail: after a read that came back short,
 * the next read waits for the kernel's word that more has come.
 *
 * The calls below make the descriptors they use non-blocking (O_NONBLOCK)
 * the first time they see them, and leave them so. Descriptors, like
 * everything else, belong to the runtime of the thread that used them.
 * What corun keeps per descriptor takes memory for the numbers used, not
 * for every number below the highest; a number no file has costs nothing
 * and gives EBADF, however large.
 *
 * Close a descriptor corun has used with corun_close: it wakes at once the
 * coroutines waiting on it (EBADF) and forgets the number. close(2), which
 * the program or a library it calls may use instead, is safe too, and so
 * is the number's reuse by any new file (blocking or not, a socket or not:
 * corun_accept's and corun_connect's descriptors start clean anyway).
 * What corun knew of the old file then costs at most:
 *  - nothing, or a wasted system call: corun never trusts the old file's
 *    flags to keep a call from blocking. Sockets are read and written with
 *    MSG_DONTWAIT, pipes read with preadv2 and RWF_NOWAIT (Linux 6.4 on;
 *    a pipe that refuses it, a named FIFO or one on an older kernel, once
 *    and for good); before any other read or write, and before accept4,
 *    fcntl(F_GETFL) says whether the file is still the non-blocking one
 *    corun prepared. So a write to a pipe costs one system call more than
 *    write(2) itself. A call that finds another file (or kind of file)
 *    learns it and makes the new file non-blocking.
 *  - a delay, for a coroutine that waits on the number: the old file's
 *    registration with epoll went with it, and the new file has none.
 *    Every wait that lasts one to two seconds is checked, once (one
 *    epoll_ctl): the new file is then registered and the wait goes on, on
 *    it; if the number is not open at all (closed with close(2) while the
 *    coroutine waited), the waiter wakes with EBADF, which corun_close
 *    would have given at once; if it names a file epoll cannot watch (a
 *    regular file), with EPERM. So such a wait ends up to two seconds
 *    late, and never hangs.
 *  - wasted wake-ups, while the old file is still open elsewhere (a
 *    duplicate, a child process): its registration stays with it, and
 *    its reports wake the thread.
 *
 * Each call waits until its deadline (0: do not wait; -1: forever; as for
 * corun_sleep_until), lets the other coroutines run meanwhile, and from
 * main drives the scheduler as corun_join does. At most one coroutine may
 * wait for input, and one for output, on a descriptor at a time.
 *
 * Errors common to all of them (besides those of the system call itself):
 *   ETIMEDOUT  the deadline passed (0: it would have had to wait)
 *   ECANCELED  the caller was canceled (corun_cancel)
 *   EBUSY      another coroutine already waits on fd for the same thing
 *   EBADF      no file has the number fd (fd < 0 or any other); or
 *              corun_close(fd) was called while the caller waited, or
 *              close(2), which it learns within two seconds (see above)
 *   EPERM      the call had to wait on a file epoll cannot watch: one
 *              that took the number of a pipe or socket closed with close(2)
 *   EDEADLK    from main with deadline -1: nothing else can run or fire
 *   EINVAL     deadline < -1
 *   ENOMEM     no memory for the descriptor's state or the deadline
 *   EMFILE, ENFILE, ENOMEM  the runtime's epoll instance could not be made
 *              (epoll_create1, at the thread's first call of these)
 */

/*
 * Wait until fd is ready for `events` (POLLIN, POLLOUT or both, from
 * <poll.h>). Level-triggered, as poll(2): returns at once if fd is ready
 * now (it asks the kernel with one poll(2) first). Returns the events that
 * are ready, POLLERR and POLLHUP included, or -1 with errno as above, or
 * EINVAL for events with no or other bits.
 */
CORUN_API int corun_wait_fd(int fd, int events, int64_t deadline);

/*
 * read(2) that waits instead of failing with EAGAIN: returns as soon as
 * some bytes are there (at most n), 0 at end of file, or -1 with errno
 * (those of read(2), and the common ones above).
 */
CORUN_API ssize_t corun_read(int fd, void *buf, size_t n, int64_t deadline);

/*
 * write(2) that waits instead of failing with EAGAIN, until all n bytes are
 * written. Returns n; or, if the deadline, a cancellation or an error comes
 * after some bytes were written, how many were (as a blocking write(2) that
 * a signal interrupts); or -1 with errno when none were (those of write(2):
 * EPIPE for a peer that is gone, ECONNRESET...; and the common ones above).
 * Writing to a peer that is gone never raises SIGPIPE if fd is a socket
 * (the data is sent with MSG_NOSIGNAL).
 */
CORUN_API ssize_t corun_write(int fd, const void *buf, size_t n, int64_t deadline);

/*
 * accept4(2) that waits for a connection. The new descriptor is
 * non-blocking and close-on-exec. Returns it, or -1 with errno (those of
 * accept4(2): EMFILE and ENFILE when descriptors run out, ECONNABORTED...;
 * and the common ones above). addr and len as for accept(2); may be NULL.
 */
CORUN_API int corun_accept(int fd, struct sockaddr *addr, socklen_t *len, int64_t deadline);

/*
 * connect(2) that waits for the connection to be made. Returns 0, or -1
 * with errno: the connection's own result (ECONNREFUSED, ENETUNREACH...),
 * those of connect(2) (EISCONN: fd is connected already, whether by
 * corun_connect, connect(2) or corun_accept; EALREADY: another connect on
 * it is under way), and the common ones above. After ETIMEDOUT or
 * ECANCELED the socket's state is unspecified: close it.
 */
CORUN_API int corun_connect(int fd, const struct sockaddr *addr, socklen_t len,
			    int64_t deadline);

/*
 * Close fd: every coroutine waiting on it wakes with EBADF (it would
 * otherwise wait forever), corun forgets it, and close(2) closes it.
 * Returns what close(2) returns (0, or -1 with its errno: EBADF...).
 */
CORUN_API int corun_close(int fd);

/*
 * Worker groups: coroutines started on other threads.
 *
 * A group is a set of worker threads, each with its own runtime, started
 * and stopped as one. corun_group_go hands a function to the group, for a
 * chosen worker or for any; the worker that takes it spawns it as a
 * coroutine of its runtime, where it runs among that worker's other
 * coroutines. Its result comes back through the task (corun_task_join),
 * to any thread, a coroutine or main.
 *
 * The rule: a coroutine that has started never changes thread. C code may
 * keep the address of errno, or of any __thread variable, across a call
 * (glibc declares __errno_location const, so compilers reuse its result),
 * and a coroutine that moved would go on reading and writing the first
 * thread's. So only tasks that have not started move: one spawned for any
 * worker goes to a worker that is idle (nothing ready to run) when there
 * is one, and otherwise waits in the group's queue for the first worker
 * that comes round to it; once started, it stays. Within a task, the
 * corun calls act on its worker's runtime: corun_go spawns a coroutine
 * there, and channels, wait groups and mutexes made with corun_*_make are
 * that worker's; the shared ones (corun_*_make_shared) cross threads.
 * corun_group_worker() says which worker runs the caller.
 *
 * Workers are cooperative like every coroutine: a task that runs without
 * ever parking or waiting holds up its worker's other coroutines, and the
 * tasks already handed to that worker, but not the rest of the group.
 *
 * The worker threads are named "corun-w<i>" (i from 0). A worker runs
 * until the group stops and its tasks, and any coroutine they spawned on
 * it, have ended.
 *
 * fork: a child of fork(2) has none of the workers (only the forking
 * thread goes on in the child). The groups of its parent are left in its
 * memory, unusable: every call on such a group or on its tasks fails with
 * EPERM, without waiting and without freeing anything (a worker may have
 * held the group's lock at the fork); corun_group_worker() returns -1 in
 * the child, even where a worker forked. A wait on one of its tasks that
 * had begun before the fork (the forking thread's coroutines are copied
 * with it) never ends in the child but by its deadline or a cancel. A
 * child may start groups of its own.
 */
typedef struct corun_group corun_group;
typedef struct corun_task corun_task;

#define CORUN_GROUP_PIN 0x1u  /* corun_group_start: pin worker i to the i-th allowed CPU */
#define CORUN_GROUP_DRAIN 1   /* corun_group_stop: let every task run to its end */
#define CORUN_GROUP_CANCEL 2  /* corun_group_stop: cancel them */

/*
 * Start a group of `threads` workers (0: one per CPU the process may run
 * on, sched_getaffinity(2)). With CORUN_GROUP_PIN, worker i runs only on
 * the (i mod n)-th of those n CPUs. Returns once every worker has its
 * runtime and waits for tasks; meanwhile a caller that is a coroutine lets
 * the others of its thread run, as a blocking call does (but this is not
 * a cancellation point). The caller's thread gets a runtime if it had
 * none. Returns the group, or NULL with errno, no thread left behind:
 *   EINVAL  flags has unknown bits; threads above 4,096; pinning refused
 *           (pthread_attr_setaffinity_np)
 *   EAGAIN  a thread could not be made (pthread_create)
 *   ENOMEM  no memory for the group, or for a worker's runtime or the
 *           caller's
 *   EMFILE, ENFILE  a wake descriptor (an eventfd) for a worker's runtime
 *           or the caller's could not be made
 *   and the errors of sched_getaffinity(2)
 */
CORUN_API corun_group *corun_group_start(size_t threads, unsigned flags);

/*
 * Spawn fn(arg) on worker `worker` of g (0 to threads - 1), or on any (-1):
 * see above for which. From any thread, a coroutine, main or a plain
 * thread, a worker of g too. fn runs as a coroutine of the worker's
 * runtime with the default attributes. It first runs when that worker
 * gets to it, never inside this call. Returns the task: join it or detach
 * it, or it (a few dozen bytes) and the group's memory are kept for it.
 * NULL with errno:
 *   EINVAL  g or fn is NULL; worker below -1, or not a worker of g
 *   ENOMEM  no memory for the task
 *   EPIPE   g is being stopped (corun_group_stop has begun, on another
 *           thread): it takes no more tasks
 *   EPERM   g was started by the parent of this process (see fork above)
 * Once corun_group_stop has returned, g is gone: no call may name it.
 */
CORUN_API corun_task *corun_group_go(corun_group *g, int worker, corun_fn fn, void *arg);

/*
 * Wait until task t has ended and store fn's return value in *result (if
 * result is not NULL); t is freed then. A blocking call (see "Blocking
 * calls": deadline, cancellation point, budget), from any thread: a
 * coroutine lets the others of its thread run meanwhile, main drives its
 * scheduler, a plain thread gets a runtime if it had none. One join at a
 * time per task. After any failure t is still the caller's: join again,
 * or detach it. Returns 0, or -1 with errno:
 *   ETIMEDOUT  the deadline passed first (0: it had not ended)
 *   ECANCELED  the caller was canceled; or t was canceled before it
 *              started (corun_task_cancel, or the group's stop with
 *              CORUN_GROUP_CANCEL), so it never ran: every join of it
 *              fails so. Either way, to let it go: corun_task_detach
 *   ENOMEM     no memory to arm the deadline, or for the caller's runtime;
 *              or the worker had no memory for t's coroutine, so it never
 *              ran: every join of it fails so
 *   EAGAIN     the worker had 2^24 - 1 coroutines: t never ran, as above
 *   EMFILE, ENFILE  the caller's thread had no runtime and could not make
 *              its wake descriptor
 *   EBUSY      another join waits on t
 *   EDEADLK    t is the caller (a task joining itself)
 *   EINVAL     t is NULL; deadline < -1
 *   EPERM      t is of a group of the parent of this process (fork)
 * A task joined or detached is gone: naming it again is undefined.
 */
CORUN_API int corun_task_join(corun_task *t, void **result, int64_t deadline);

/*
 * Cancel task t. If it has not started, it never will: its join fails
 * with ECANCELED. If it runs, its coroutine is canceled as corun_cancel
 * does, on its worker's thread, soon after this returns (the worker's next
 * turn at its scheduler): its blocking calls fail with ECANCELED, and it
 * ends as it chooses; its join then returns its result. Canceling twice,
 * or a task that has ended, does nothing. Not a blocking call. Returns 0,
 * or -1 with errno EINVAL (t NULL) or EPERM (fork, as for join).
 */
CORUN_API int corun_task_cancel(corun_task *t);

/*
 * Let t go: nobody will join it; it is freed when it ends (now if it has).
 * It still runs (cancel it first to stop it). Returns 0, or -1 with errno:
 *   EINVAL  t is NULL, or a join waits on it
 *   EPERM   fork, as for join
 */
CORUN_API int corun_task_detach(corun_task *t);

/*
 * Stop g and free it. It takes no new task from then on (corun_group_go
 * fails with EPIPE). CORUN_GROUP_DRAIN lets every task run to its end,
 * those still queued included; CORUN_GROUP_CANCEL cancels them all: the
 * queued ones never start (their joins fail with ECANCELED), the running
 * ones are canceled as corun_task_cancel does. Then it waits until every
 * worker has ended (each once its tasks, and the coroutines they spawned
 * on it, have ended: one that ignores its cancel and never ends keeps
 * this waiting) and joins their threads. The caller waits as for
 * corun_group_start: a coroutine lets the others of its thread run, and a
 * cancel does not end the wait. Tasks not yet joined stay valid: join or
 * detach them after. From any thread but g's own workers. Returns 0, or
 * -1 with errno (g is then left as it was):
 *   EINVAL   g is NULL; how is neither CORUN_GROUP_DRAIN nor
 *            CORUN_GROUP_CANCEL
 *   EDEADLK  called from a worker of g (it would wait for itself)
 *   EALREADY another thread's stop of g is under way
 *   ENOMEM, EMFILE, ENFILE  the caller's thread had no runtime and could
 *            not make one (as for corun_task_join)
 *   EPERM    g was started by the parent of this process (fork)
 */
CORUN_API int corun_group_stop(corun_group *g, int how);

/*
 * The index of the worker running the caller in its group (0 to threads -
 * 1), or -1 when the caller's thread is no group's worker. It has no
 * error.
 */
CORUN_API int corun_group_worker(void);

/*
 * Blocking calls: a function that would block the thread (a file read on
 * a slow disk, getaddrinfo, a compression or a hash of a large buffer, a
 * library with no non-blocking form) run on another thread while the
 * calling coroutine waits and the others of its thread go on running.
 *
 * fn(arg) runs on a thread of a pool the process shares, not on the
 * caller's thread. So fn must not call corun's blocking calls (it is no
 * coroutine, and a runtime it made there would be the pool thread's), and
 * errno and every thread-local variable it reads or writes are the pool
 * thread's: pass what it needs in arg and hand back what it finds in its
 * result (copy errno into it if the caller needs it). The caller's
 * coroutine itself never changes thread: only fn crosses. Pool
 * threads are plain pthreads named "corun-pool", with every signal
 * blocked: a signal meant for the process never runs a handler there.
 *
 * The pool starts a thread when a job finds none free, up to a limit, and
 * a thread that has had no job for the keep-alive leaves (as tokio's
 * blocking pool: 512 threads, 10 s; corun_blocking_config changes both).
 * Jobs beyond the limit wait in one queue, first come first run. A thread
 * that has just finished a job looks for the next for a few tens of
 * microseconds before it sleeps, so that a loop of blocking calls pays no
 * thread wake; the process's exit does not wait for idle threads, nor
 * leak anything through them.
 *
 * The call waits until fn returns or the deadline (see "Time"), whichever
 * comes first, and from main (of any thread, whether it has spawned or
 * not) runs the scheduler meanwhile. A deadline that passes, or a
 * corun_cancel of the caller, ends the wait at once with ETIMEDOUT or
 * ECANCELED, but cannot stop fn: it runs to its end on its thread, and
 * its result is then no one's. corun_blocking drops it; corun_blocking_ex
 * hands it, with arg, to discard(result, arg) on the pool thread once fn
 * returns, to free what fn made (and arg itself, if the caller made it for
 * the job: the caller must not free arg or what fn uses of it after a
 * failure, since fn may still be running). If fn returned in the same
 * instant the deadline passed, the call returns 0 with its result: a
 * result is never dropped when the caller can still take it. Deadline 0
 * fails with ETIMEDOUT at once without running fn: it would have to wait.
 *
 * fork: the child has no pool thread; its first blocking call starts one.
 * Jobs the parent has queued or running are the parent's alone (in the
 * child they would run twice): a coroutine of the child that was waiting
 * for one when its parent forked (a copy, see "Fork") waits until its
 * deadline or cancellation (forever without either), and no discard hook
 * runs for it in the child.
 *
 * Returns 0 with fn's result in *result (result may be NULL), or -1 with
 * errno:
 *   ETIMEDOUT  the deadline passed first (0: at once, fn not run)
 *   ECANCELED  the caller was canceled (before the call: fn not run)
 *   EAGAIN     the pool had no thread and none could be started
 *   EINVAL     fn is NULL; deadline < -1
 *   ENOMEM     no memory for the job or to arm the deadline
 *   EMFILE, ENFILE, ENOMEM  the thread's runtime, or the descriptor that
 *              wakes it from another thread, could not be made
 * Only ETIMEDOUT and ECANCELED after fn was queued leave fn to run without
 * the caller; on every other error fn was not run and never will be.
 */
CORUN_API int corun_blocking(void *(*fn)(void *), void *arg, void **result, int64_t deadline);
/* corun_blocking, with a hook for a result the caller did not wait for
 * (discard may be NULL: the result is dropped, as by corun_blocking). One
 * call with a hook, rather than an attribute object, because a hook is the
 * one thing a caller may need beyond corun_blocking's four arguments. */
CORUN_API int corun_blocking_ex(void *(*fn)(void *), void *arg, void **result, int64_t deadline,
				void (*discard)(void *result, void *arg));

/*
 * The pool's limit of threads (at least 1; 512 at the start) and how long
 * a thread with no job stays before it leaves (ns; 0: at once; -1: never;
 * 10 s at the start), for the whole process, from now on: threads above a
 * lowered limit leave once their job is done, and jobs that waited for a
 * thread get one when the limit is raised. Returns 0, or -1 with errno
 * EINVAL for max_threads 0 or idle_ns < -1.
 */
CORUN_API int corun_blocking_config(size_t max_threads, int64_t idle_ns);

/*
 * getaddrinfo(3) on a pool thread (see corun_blocking), with a deadline:
 * the resolver may wait seconds on a name server, and the others must not.
 * node, service and hints are copied (only ai_flags, ai_family,
 * ai_socktype and ai_protocol of hints count, as for getaddrinfo), so the
 * caller may leave before the answer comes, which is then freed with
 * freeaddrinfo. Returns what getaddrinfo returns: 0 with the list in *res
 * (free it with freeaddrinfo), or an EAI_* code (gai_strerror); or, for a
 * failure of its own, EAI_SYSTEM with errno (as getaddrinfo's EAI_SYSTEM):
 *   ETIMEDOUT, ECANCELED, EAGAIN, ENOMEM, EMFILE, ENFILE  as for
 *              corun_blocking
 *   EINVAL     res is NULL; deadline < -1
 * and for getaddrinfo's own EAI_SYSTEM, the errno it gave.
 */
struct addrinfo;
CORUN_API int corun_getaddrinfo(const char *node, const char *service,
				const struct addrinfo *hints, struct addrinfo **res,
				int64_t deadline);

/*
 * Connect to host:port over TCP: resolve them with corun_getaddrinfo
 * (AF_UNSPEC, SOCK_STREAM: a name, or an address in either family; a port
 * number or a service name), then try each address in the resolver's
 * order, one at a time, until one connects: a socket (non-blocking,
 * close-on-exec) and corun_connect. One deadline covers it all. Returns
 * the connected descriptor, ready for corun_read and corun_write (close it
 * with corun_close), or -1 with errno:
 *   ETIMEDOUT  the deadline passed (0: at once)
 *   ECANCELED  the caller was canceled
 *   ECONNREFUSED, ENETUNREACH, EHOSTUNREACH, EAFNOSUPPORT...  the last
 *              address's error (its socket(2) or its connection), when
 *              every address failed
 *   ENOENT     no such host or service (EAI_NONAME, EAI_SERVICE,
 *              EAI_NODATA, EAI_ADDRFAMILY)
 *   EAGAIN     the name server could not answer now (EAI_AGAIN); or as
 *              for corun_blocking
 *   EIO        the name server failed for good (EAI_FAIL), or any other
 *              EAI_* code
 *   EINVAL     host or port is NULL; deadline < -1
 *   ENOMEM, EMFILE, ENFILE  as for corun_blocking and corun_connect
 */
CORUN_API int corun_dial(const char *host, const char *port, int64_t deadline);

/*
 * Declare that nobody will join h: when it ends, its result is dropped and
 * its handle goes stale at once. If it has already ended, the result is
 * dropped now.
 * Returns 0, or -1 with errno:
 *   ESRCH   as for corun_join
 *   EINVAL  h is already detached, or a coroutine is already joining it
 */
CORUN_API int corun_detach(corun_t h);

/*
 * The handle of the running coroutine, or -1 with errno EPERM when called
 * from the thread's main context.
 */
CORUN_API corun_t corun_self(void);

/*
 * A number naming h in diagnostics: positive, unique in the process (within
 * the bound given at corun_t), increasing with spawn order within a thread.
 * Stays the same from spawn until the handle goes stale. Returns it, or -1 with errno ESRCH as for corun_join.
 */
CORUN_API int64_t corun_id(corun_t h);

/*
 * The name given at spawn ("" when none), owned by the coroutine's record:
 * valid until it ends. Returns NULL with errno ESRCH when h is invalid as
 * for corun_join, or its coroutine has already ended.
 */
CORUN_API const char *corun_name(corun_t h);

/*
 * How many coroutines of the calling thread have been spawned and have not
 * yet ended (ready, running or blocked). 0 when the thread has no runtime.
 */
CORUN_API size_t corun_count(void);

/*
 * Release the calling thread's runtime now: every stack and slab (unmapped),
 * the handle table, the ready queue and the alternate signal stack corun
 * gave the thread. Results not yet joined are dropped; their handles go
 * stale (ESRCH). A later corun_go starts a fresh runtime. The thread's exit
 * does the same. Returns 0 (also when there is no runtime), or -1 with
 * errno:
 *   EPERM  called from inside a coroutine
 *   EBUSY  some coroutine has not ended (corun_count() > 0)
 */
CORUN_API int corun_shutdown(void);

/*
 * Give back to the kernel, now, the memory of every stack in the calling
 * thread's pool (stacks of coroutines that have ended). They stay reserved,
 * guard pages and all: the next spawns that take them fault their pages in
 * again, which costs about a microsecond per page touched. Adjacent stacks
 * go back together, in as few madvise calls as they allow. Use it after a
 * burst, when the memory should come back before the decay interval ends.
 * Callable from the main context or a coroutine. Returns 0 (also when the
 * thread has no runtime); it has no error.
 */
CORUN_API int corun_trim(void);

/*
 * How long an ended coroutine's stack may wait unused in its runtime's pool
 * before its memory goes back to the kernel: ns nanoseconds (default 10 s,
 * jemalloc's default for dirty pages), 0 for as soon as the pool looks, or
 * -1 for never (until corun_trim or corun_shutdown). A stack reused within
 * the interval keeps its pages, so a steady load makes no system call.
 *
 * The pool looks every few dozen spawns or returns of the scheduler to the
 * main context (corun_run, a join from main): a stack is given back between
 * one and two intervals after it was last used, as long as the thread goes
 * on using corun; a runtime left alone keeps its stacks until it is used
 * again. Giving back is done a batch of 1,024 stacks at a time, coalesced,
 * never inside the spawn or end of a coroutine that finds a warm stack.
 * Process-wide; each runtime follows a change the next time it looks.
 *
 * Returns 0, or -1 with errno EINVAL when ns < -1.
 */
CORUN_API int corun_set_stack_decay(int64_t ns);

/*
 * The I/O backend. Each runtime does its descriptor and file calls through
 * one of two backends, chosen at its first call that needs one:
 *  - io_uring, where the kernel allows it and has what corun uses (Linux
 *    5.13 and later): every call above becomes an operation on the
 *    runtime's ring. The operations queued while coroutines run go to the
 *    kernel together, once per pass of the scheduler or when the thread
 *    would sleep, in one io_uring_enter that also waits; completions are
 *    read from memory. A deadline or a cancel that comes while an
 *    operation is in the kernel cancels it and waits for the kernel to let
 *    go of the buffer before the call returns: what the operation did all
 *    the same (bytes received or sent, a connection accepted) is returned,
 *    not lost. So on io_uring a corun_read that a corun_close interrupts
 *    may return the bytes it had already taken, where epoll gives EBADF.
 *  - epoll, as described above, wherever io_uring is refused: by an older
 *    kernel (ENOSYS), a seccomp filter (EPERM: container runtimes' default
 *    profiles), the kernel.io_uring_disabled sysctl, a locked-memory limit
 *    (ENOMEM), a missing operation, or a build without liburing.
 * The environment variable CORUN_IO=epoll or CORUN_IO=io_uring, read once
 * per process, forces one (io_uring still falls back where it is refused).
 * corun_stats's io_backend says which a thread's runtime uses. The calls,
 * their errors and their deadlines are the same on both but where said.
 */
#define CORUN_IO_EPOLL 1
#define CORUN_IO_URING 2

/*
 * Files: regular files and block devices, which epoll cannot wait on and
 * whose reads and writes block the thread. These calls never do: on
 * io_uring they are operations on the ring (the kernel runs those that
 * must block on its own workers); on epoll they run on a thread of the
 * blocking pool (see "Blocking calls"), through a buffer of the pool's own
 * (so at most 1 MiB per call: a longer one is short, as pread(2) may be),
 * copied to or from the caller's.
 *
 * A deadline (or a cancel) ends the wait; what it does to the operation
 * depends on whether it has started. One not yet started is not started.
 * One that has started cannot be stopped: on io_uring the call waits for
 * it to end (the kernel writes into the caller's buffer) and returns its
 * result if it succeeded, else ETIMEDOUT or ECANCELED; on epoll the call
 * returns ETIMEDOUT or ECANCELED at once and the operation ends on its
 * pool thread, its result dropped (a corun_pwrite may then still be
 * carried out; a corun_openat's descriptor is closed). So a deadline
 * bounds the wait for a slow device only on epoll.
 *
 * Each returns what its system call returns, or -1 with errno: those of
 * the system call (pread(2), pwrite(2), fsync(2), fdatasync(2), openat(2)),
 * and
 *   ETIMEDOUT  the deadline passed (0, on epoll: at once, nothing done;
 *              on io_uring an operation that has started returns its
 *              result if it succeeded, as above)
 *   ECANCELED  the caller was canceled
 *   EBADF      fd < 0 (corun_openat leaves dirfd to openat(2): AT_FDCWD
 *              is negative)
 *   EINVAL     deadline < -1; offset < 0
 *   ENOMEM, EAGAIN, EMFILE, ENFILE  as for corun_blocking (epoll)
 */
CORUN_API ssize_t corun_pread(int fd, void *buf, size_t n, off_t offset, int64_t deadline);
CORUN_API ssize_t corun_pwrite(int fd, const void *buf, size_t n, off_t offset,
			       int64_t deadline);
CORUN_API int corun_fsync(int fd, int64_t deadline);
CORUN_API int corun_fdatasync(int fd, int64_t deadline);
/* openat(2): the descriptor is close-on-exec only if flags say O_CLOEXEC. */
CORUN_API int corun_openat(int dirfd, const char *path, int flags, mode_t mode,
			   int64_t deadline);

/*
 * Statistics of the calling thread's runtime, for monitoring and tuning.
 * Counters count from the runtime's creation (a runtime released by
 * corun_shutdown takes its counts with it). Keeping them costs neither a
 * park nor a spawn anything: most are read off state the runtime keeps
 * anyway, the others are counted on slow paths (waits, carving a stack).
 *
 * Extensible: set `size` to sizeof(struct corun_stats) before the call.
 * Later versions only append fields; the library fills those that fit in
 * `size` and it knows, and zeroes the rest of the `size` bytes, so a
 * program built against a newer header reads 0 in the fields an older
 * library lacks. `size` is left as it was.
 */
struct corun_stats {
	size_t size;              /* in: sizeof(struct corun_stats) */
	uint64_t spawned;         /* coroutines spawned (ever) */
	uint64_t live;            /* not yet ended: corun_count() */
	uint64_t peak_live;       /* most live at once */
	uint64_t switches;        /* context switches made (either direction) */
	/* Waits: a blocking call that had to wait (one that returned at once,
	 * for ETIMEDOUT with deadline 0, say, is not counted), by kind: */
	uint64_t waits_sleep;     /* corun_sleep, corun_sleep_until */
	uint64_t waits_chan;      /* corun_chan_send, _recv, corun_select */
	uint64_t waits_join;      /* corun_join, corun_join_until,
				   * corun_task_join; a group's start and
				   * stop; a worker waiting for tasks */
	uint64_t waits_sync;      /* corun_wg_wait, corun_mutex_lock */
	uint64_t waits_fd;        /* corun_wait_fd, _read, _write, _accept,
				   * _connect */
	/* The stack pool. Every spawn takes a stack: a hit reuses one an
	 * ended coroutine gave back (its pages maybe given back to the kernel
	 * meanwhile), a miss carves a new one from a slab (and maps a slab
	 * when the last is full). hits + misses = spawned, plus the spawns
	 * that failed with EAGAIN after taking a stack. */
	uint64_t stacks_pooled;   /* in the pool now */
	uint64_t pool_hits;
	uint64_t pool_misses;
	uint64_t stacks_purged;   /* pooled stacks whose memory went back to the
				   * kernel (decay, corun_trim) */
	uint64_t stack_bytes_reserved; /* address space of the slabs, guard
					* pages included */
	uint64_t stack_bytes_resident; /* of that, in memory now: mincore(2)
					* over every slab at the call, so it
					* costs a system call per 16 MiB */
	/* Other threads (see "Threads"): */
	uint64_t remote_wakes;    /* waits of this runtime's coroutines (or
				   * main) that another thread ended */
	uint64_t wake_writes;     /* of those, the ones that found this thread
				   * asleep in the kernel and had to wake it
				   * (a write to its eventfd); the others cost
				   * no system call */
	uint64_t waits_blocking;  /* corun_blocking(_ex), corun_getaddrinfo,
				   * corun_dial's resolution */
	uint64_t io_backend;      /* CORUN_IO_EPOLL or CORUN_IO_URING: the
				   * runtime's I/O backend ("The I/O
				   * backend"), 0 until its first call that
				   * needs one */
	uint64_t waits_file;      /* corun_pread, _pwrite, _fsync, _fdatasync,
				   * _openat */
	uint64_t io_enters;       /* io_uring_enter system calls made */
};

/*
 * Fill *s with the calling thread's statistics (see above). A thread with
 * no runtime yet gets zeros (and `size` kept). Callable from main or a
 * coroutine.
 * Returns 0, or -1 with errno:
 *   EINVAL  s is NULL, or s->size is less than this first version's
 *           struct (the size of a struct ending at stack_bytes_resident)
 */
CORUN_API int corun_stats(struct corun_stats *s);

/*
 * How much of coroutine h's stack is in use: the bytes from the lowest page
 * of its stack that is resident in memory to the top of the stack, whole
 * pages, as mincore(2) says now (one call per 16 MiB of stack). h == 0
 * names the calling coroutine.
 *
 * What it measures is pages touched, not the depth of the frames now: a
 * page a coroutine once touched stays resident after its frames return.
 * A stack taken from the pool may also still hold pages its previous user
 * touched, until the pool gives them back (after the decay interval: see
 * corun_set_stack_decay; or corun_trim): a fresh stack, or one given back
 * since, is measured from a clean state. Run with CORUN_STACK_REPORT=1
 * (below) to measure every coroutine so. Pages the kernel has swapped out
 * do not count. The top page always holds the coroutine's record, so a
 * live coroutine whose stack is in memory uses at least one page: 0 means
 * an error (or a stack swapped out whole: set errno to 0 first to tell).
 *
 * Returns the bytes, or 0 with errno:
 *   ESRCH   h is not a live coroutine of this thread: stale, foreign,
 *           invalid (-1 included, as for corun_join), or ended
 *   EPERM   h == 0 from the thread's main context (it has no corun stack)
 *   ENOMEM  (from mincore) the stack is no longer mapped: not expected
 *
 * CORUN_STACK_REPORT: with this environment variable set to 1 when a
 * thread's runtime is made (its first spawn), every coroutine of that
 * runtime is measured as above when it ends, and the pages its stack used
 * below the top page go back to the kernel then (madvise MADV_DONTNEED),
 * so that the next coroutine on that stack is measured from a clean state
 * (and pays the page faults again: it is a mode for sizing, not for
 * production). When the runtime is released (corun_shutdown, the thread's
 * exit; or, for the thread that calls exit(), then), coroutines not yet
 * ended are measured too, and stderr gets
 *     corun: stack report: <N> names, the most each used (page granularity)
 * and one line per coroutine name and stack size, sorted by name:
 *     corun: stack use "<name>": max <U> of <S> bytes, <C> coroutines
 * U the most any of the C coroutines of that name and stack size used,
 * S their stack size. Unnamed coroutines are counted as "(unnamed)".
 */
CORUN_API size_t corun_stack_used(corun_t h);

/*
 * Error table: every errno each function can set (tests/test_errors.c
 * checks each row).
 *
 *   function          errno    when
 *   ----------------  -------  ---------------------------------------------
 *   corun_attr_init   EINVAL   attr is NULL
 *   corun_go          EINVAL   fn is NULL
 *                     ENOMEM   out of memory or address space, or near the
 *                              kernel's map limit (mprotect guards)
 *                     EAGAIN   2^24 - 1 coroutines exist or await join
 *   corun_go_attr     (those of corun_go, and)
 *                     EINVAL   attr not initialised, stack_size out of
 *                              range, unknown flags
 *   corun_park        (none)
 *   corun_run         EPERM    called from a coroutine
 *                     EDEADLK  coroutines left, none can ever run or wake
 *   corun_join        ESRCH    stale, foreign or invalid handle
 *                     EDEADLK  joining itself; main context: h never ends
 *                     EINVAL   h detached
 *                     ECANCELED the caller was canceled
 *   corun_join_until  (those of corun_join, and)
 *                     ETIMEDOUT the deadline passed first
 *                     EINVAL   deadline < -1
 *                     ENOMEM   no memory to arm the deadline
 *   corun_detach      ESRCH    stale, foreign or invalid handle
 *                     EINVAL   already detached, or being joined
 *   corun_self        EPERM    called from the main context
 *   corun_id          ESRCH    stale, foreign or invalid handle
 *   corun_name        ESRCH    invalid handle, or the coroutine has ended
 *   corun_count       (none)
 *   corun_shutdown    EPERM    called from a coroutine
 *                     EBUSY    some coroutine has not ended
 *   corun_trim        (none)
 *   corun_set_stack_decay
 *                     EINVAL   ns < -1
 *   corun_cancel      ESRCH    stale, foreign or invalid handle
 *   corun_shield      (none)
 *   corun_canceled    (none)
 *   corun_now         (none)
 *   corun_sleep_until ECANCELED the caller was canceled
 *                     EDEADLK  main, deadline -1: nothing can wake it
 *                     EINVAL   deadline < -1
 *                     ENOMEM   no memory to arm the deadline
 *   corun_sleep       (those of corun_sleep_until; EINVAL for ns < 0)
 *   corun_chan_make   EINVAL   elem_size > PTRDIFF_MAX, or elem_size *
 *                              capacity + the channel > PTRDIFF_MAX
 *                     ENOMEM   out of memory
 *   corun_chan_send,  EPIPE    the channel is closed (receive: and drained)
 *   corun_chan_recv   ETIMEDOUT the deadline passed (0: it would wait)
 *                     ECANCELED the caller was canceled
 *                     EDEADLK  main: nothing can run or wake any more
 *                     EINVAL   ch NULL, deadline < -1, send of NULL elem
 *                     EPERM    another thread's (or shut down) channel
 *                     ENOMEM   no memory to arm the deadline
 *   corun_chan_close  EPIPE    already closed
 *                     EINVAL   ch is NULL
 *                     EPERM    another thread's channel
 *   corun_chan_free   EPERM    another thread's channel: kept
 *   corun_select      (those of corun_chan_send, except EPIPE, which is
 *                              the err of the case taken, and)
 *                     EINVAL   cases NULL with n > 0, unknown op, n too big
 *                     ENOMEM   no memory to wait on more than 16 cases
 *   corun_wg_make,    ENOMEM   out of memory
 *   corun_mutex_make
 *   corun_wg_add,     EINVAL   wg NULL; the counter would go below zero
 *   corun_wg_done              or overflow
 *                     EPERM    another thread's wait group
 *   corun_wg_wait     ETIMEDOUT, ECANCELED, EDEADLK, EINVAL, EPERM, ENOMEM
 *                              as for corun_chan_recv
 *   corun_mutex_lock  ETIMEDOUT, ECANCELED, EDEADLK, EINVAL, EPERM, ENOMEM
 *                              as for corun_chan_recv; and:
 *                     EDEADLK  the caller already holds it
 *                     EOWNERDEAD its last holder ended holding it: the
 *                              caller holds it now all the same
 *   corun_mutex_unlock EPERM   the caller does not hold it, or another
 *                              thread's mutex
 *                     EINVAL   mu is NULL
 *   corun_wg_free,    EBUSY    waited on (wait group), held (mutex)
 *   corun_mutex_free  EPERM    another thread's
 *   corun_chan_make_shared
 *                     (those of corun_chan_make)
 *   corun_wg_make_shared,
 *   corun_mutex_make_shared
 *                     ENOMEM   out of memory
 *   the calls above on shared objects: their errors, except EPERM for
 *                     another thread's (any thread may use them, and free
 *                     them) and EDEADLK for nothing left to run (another
 *                     thread may end the wait); and, for a call that must
 *                     wait, on its thread's first such wait:
 *                     EMFILE, ENFILE, ENOMEM, ENOSPC  the thread's wake
 *                              descriptor (an eventfd in its epoll
 *                              instance) could not be made
 *                     corun_mutex_unlock: EPERM also from a thread that
 *                     never made a runtime (it cannot hold it)
 *   corun_wait_fd,    ETIMEDOUT, ECANCELED, EDEADLK, ENOMEM as for
 *   corun_read,                corun_chan_recv
 *   corun_write,      EBUSY    another coroutine waits on fd for the same
 *   corun_accept,              direction
 *   corun_connect     EBADF    no file has fd (any number), or closed
 *                              meanwhile (corun_close; close(2): found late)
 *                     EPERM    a wait on a file epoll cannot watch, which
 *                              took the number of one closed with close(2)
 *                     EINVAL   deadline < -1; wait_fd: bad events
 *                     and the errors of the system call each wraps
 *   corun_connect     EISCONN  fd is connected already
 *   corun_close       those of close(2)
 *   corun_group_start EINVAL   unknown flags, threads > 4,096, pinning refused
 *                     EAGAIN   a thread could not be made
 *                     ENOMEM   no memory for the group or a runtime
 *                     EMFILE, ENFILE  no wake descriptor for a runtime
 *   corun_group_go    EINVAL   g or fn NULL, worker < -1 or >= threads
 *                     ENOMEM   no memory for the task
 *                     EPIPE    the group is being stopped
 *                     EPERM    the parent's group, in a child of fork
 *   corun_task_join   ETIMEDOUT the deadline passed first
 *                     ECANCELED the caller was canceled, or the task was
 *                              canceled before it started
 *                     ENOMEM   no memory to arm the deadline (or for a
 *                              runtime), or the task's coroutine could
 *                              not be made on its worker
 *                     EAGAIN   its worker had 2^24 - 1 coroutines
 *                     EMFILE, ENFILE  no wake descriptor for the caller
 *                     EBUSY    another join waits on it
 *                     EDEADLK  a task joining itself
 *                     EINVAL   t NULL, deadline < -1
 *                     EPERM    the parent's task, in a child of fork
 *   corun_task_cancel EINVAL   t NULL
 *                     EPERM    the parent's task, in a child of fork
 *   corun_task_detach EINVAL   t NULL, or a join waits on it
 *                     EPERM    the parent's task, in a child of fork
 *   corun_group_stop  EINVAL   g NULL, unknown how
 *                     EDEADLK  called from one of g's workers
 *                     EALREADY a stop of g is under way
 *                     ENOMEM, EMFILE, ENFILE  no runtime for the caller
 *                     EPERM    the parent's group, in a child of fork
 *   corun_group_worker (none)
 *   corun_blocking,   ETIMEDOUT the deadline passed (0: at once, fn not run)
 *   corun_blocking_ex ECANCELED the caller was canceled
 *                     EAGAIN   no pool thread, and none could be started
 *                     EINVAL   fn NULL; deadline < -1
 *                     ENOMEM   no memory for the job or the deadline
 *                     EMFILE, ENFILE  the runtime's wake descriptor
 *   corun_blocking_config
 *                     EINVAL   max_threads 0; idle_ns < -1
 *   corun_getaddrinfo the EAI_* codes of getaddrinfo; EAI_SYSTEM with
 *                     errno as for corun_blocking, or EINVAL for res NULL
 *   corun_dial        ETIMEDOUT, ECANCELED, ENOMEM, EMFILE, ENFILE  as for
 *                              corun_blocking
 *                     ECONNREFUSED... the last address's connect error
 *                     ENOENT   no such host or service (EAI_NONAME...)
 *                     EAGAIN   EAI_AGAIN, or as for corun_blocking
 *                     EIO      EAI_FAIL or another EAI_* code
 *                     EINVAL   host or port NULL; deadline < -1
 *   corun_pread,      ETIMEDOUT the deadline passed (0, on epoll: at once,
 *   corun_pwrite,              nothing done; on io_uring a started
 *   corun_fsync,               operation that succeeded returns its result)
 *   corun_fdatasync,  ECANCELED the caller was canceled
 *   corun_openat      EBADF    fd < 0 (openat: dirfd as openat(2) judges it)
 *                     EINVAL   deadline < -1; pread, pwrite: offset < 0
 *                     ENOMEM, EAGAIN, EMFILE, ENFILE  as for corun_blocking
 *                              (epoll, which runs them on the pool)
 *                     and the errors of the system call each wraps
 *   corun_stats       EINVAL   s NULL, or s->size too small
 *   corun_stack_used  ESRCH    stale, foreign, invalid or ended handle
 *                     EPERM    h == 0 from the main context
 *                     ENOMEM   (mincore) the stack is not mapped: not expected
 */

#ifdef __cplusplus
}
#endif

#endif /* CORUN_H */
