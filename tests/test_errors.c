/*
 * The error table at the end of include/corun.h, row by row, in its order.
 * Each row is provoked here, and afterwards the runtime must still work.
 * (ENOMEM is provoked in test_stack.c's out_of_memory, under RLIMIT_AS.)
 */
#include "helpers.h"

#include <arpa/inet.h>
#include <corun.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "priv.h" /* white box: lower the slot limit, the default decay */

#define PARK_TWICE ((void *)(intptr_t)2) /* park_n's argument */

/* After each error the runtime must still spawn, run and join. */
static void still_works(void)
{
	corun_t h = corun_go(ret_arg, (void *)(intptr_t)42);
	CHECK(h > 0);
	void *r;
	CHECK_EQ(corun_join(h, &r), 0);
	CHECK_EQ((intptr_t)r, 42);
}

static void attr_init(void)
{
	CHECK_ERRNO(corun_attr_init(NULL), EINVAL);
}

static void go(void)
{
	CHECK_ERRNO(corun_go(NULL, NULL), EINVAL);
	still_works();

	/* EAGAIN: the table's limit, lowered so the test can reach it, in a
	 * runtime whose table holds nothing else. */
	fresh_runtime();
	corun_t keep = corun_go(park_n, PARK_TWICE);
	CHECK(keep > 0);
	corun_priv_slot_limit(10);
	corun_t h[9];
	for (int i = 0; i < 9; i++)
		CHECK((h[i] = corun_go(ret_arg, NULL)) > 0);
	CHECK_ERRNO(corun_go(ret_arg, NULL), EAGAIN);
	CHECK_EQ(corun_run(), 0);
	CHECK_ERRNO(corun_go(ret_arg, NULL), EAGAIN); /* ended, not joined: still held */
	CHECK_EQ(corun_join(h[0], NULL), 0);
	corun_t again = corun_go(ret_arg, NULL); /* a join made room */
	CHECK(again > 0);
	CHECK_EQ(corun_join(again, NULL), 0);
	for (int i = 1; i < 9; i++)
		CHECK_EQ(corun_join(h[i], NULL), 0);
	corun_priv_slot_limit(0);
	CHECK_EQ(corun_join(keep, NULL), 0);
	still_works();
}

static void go_attr(void)
{
	corun_attr a;
	CHECK_ERRNO(corun_go_attr(NULL, NULL, NULL), EINVAL);
	memset(&a, 0x5a, sizeof a); /* never initialised */
	a.stack_size = CORUN_STACK_DEFAULT;
	CHECK_ERRNO(corun_go_attr(ret_arg, NULL, &a), EINVAL);
	CHECK_EQ(corun_attr_init(&a), 0);
	a.stack_size = CORUN_STACK_MIN - 1;
	CHECK_ERRNO(corun_go_attr(ret_arg, NULL, &a), EINVAL);
	a.stack_size = 0;
	CHECK_ERRNO(corun_go_attr(ret_arg, NULL, &a), EINVAL);
	a.stack_size = CORUN_STACK_MAX + 1;
	CHECK_ERRNO(corun_go_attr(ret_arg, NULL, &a), EINVAL);
	a.stack_size = SIZE_MAX;
	CHECK_ERRNO(corun_go_attr(ret_arg, NULL, &a), EINVAL);
	a.stack_size = CORUN_STACK_MIN;
	a.flags = 0x80;
	CHECK_ERRNO(corun_go_attr(ret_arg, NULL, &a), EINVAL);
	a.flags = 0;
	corun_t h = corun_go_attr(ret_arg, NULL, &a);
	CHECK(h > 0);
	CHECK_EQ(corun_join(h, NULL), 0);
	CHECK_EQ(corun_go_attr(ret_arg, NULL, NULL) > 0, 1); /* NULL attr: defaults */
	CHECK_EQ(corun_run(), 0);
	CHECK_EQ(corun_shutdown(), 0);
	still_works();
}

static void *run_inside(void *arg)
{
	(void)arg;
	CHECK_ERRNO(corun_run(), EPERM);
	CHECK_ERRNO(corun_shutdown(), EPERM);
	return NULL;
}

/* Tests that leave coroutines blocked for good do it on a thread of their
 * own, which takes them along when it exits: the thread the other tests run
 * on has only the coroutines they make. */
static void *deadlock_on_thread(void *arg)
{
	(void)arg;
	deadlock_here();
	still_works();
	CHECK_ERRNO(corun_run(), EDEADLK);
	return NULL;
}

static void run(void)
{
	corun_t h = corun_go(run_inside, NULL);
	CHECK_EQ(corun_join(h, NULL), 0);
	on_thread(deadlock_on_thread, NULL);
}

static void *join_self(void *arg)
{
	(void)arg;
	CHECK_ERRNO(corun_join(corun_self(), NULL), EDEADLK);
	return NULL;
}

static void *join_other(void *arg)
{
	CHECK_EQ(corun_join(*(corun_t *)arg, NULL), 0);
	return NULL;
}

static void *join_blocked_on_thread(void *arg)
{
	(void)arg;
	corun_t stuck = corun_go(block_forever, NULL);
	CHECK_ERRNO(corun_join(stuck, NULL), EDEADLK);
	still_works();
	return NULL;
}

static void join(void)
{
	corun_t h = corun_go(ret_arg, NULL);
	CHECK_EQ(corun_join(h, NULL), 0);
	CHECK_ERRNO(corun_join(h, NULL), ESRCH);             /* stale */
	CHECK_ERRNO(corun_join(-1, NULL), ESRCH);            /* never valid */
	CHECK_ERRNO(corun_join(0, NULL), ESRCH);
	CHECK_ERRNO(corun_join(INT64_MAX, NULL), ESRCH);
	CHECK_ERRNO(corun_join(h ^ ((corun_t)1 << 50), NULL), ESRCH); /* other serial */
	/* (foreign handles from another thread: test_threads.c) */

	h = corun_go(join_self, NULL);
	CHECK_EQ(corun_join(h, NULL), 0);
	on_thread(join_blocked_on_thread, NULL);

	h = spawn_with(ret_arg, NULL, 0, CORUN_DETACHED);
	CHECK_ERRNO(corun_join(h, NULL), EINVAL);            /* detached */
	static corun_t t;
	t = corun_go(park_n, PARK_TWICE);
	corun_t j = corun_go(join_other, &t);
	CHECK_EQ(corun_park(), 0);                           /* j is joining t now */
	CHECK_ERRNO(corun_detach(t), EINVAL);                /* being joined */
	CHECK_ERRNO(corun_join_until(t, NULL, -2), EINVAL);  /* bad deadline */
	CHECK_ERRNO(corun_join_until(t, NULL, 0), ETIMEDOUT); /* would wait */
	CHECK_EQ(corun_join(j, NULL), 0);
	CHECK_ERRNO(corun_join(t, NULL), ESRCH);             /* j took it */
	still_works();
}

static void detach(void)
{
	CHECK_ERRNO(corun_detach(-1), ESRCH);
	corun_t h = corun_go(ret_arg, NULL);
	CHECK_EQ(corun_join(h, NULL), 0);
	CHECK_ERRNO(corun_detach(h), ESRCH);
	h = corun_go(ret_arg, NULL);
	CHECK_EQ(corun_detach(h), 0);
	CHECK_ERRNO(corun_detach(h), EINVAL);                /* already */
	static corun_t t;
	t = corun_go(park_n, PARK_TWICE);
	corun_t j = corun_go(join_other, &t);
	CHECK_EQ(corun_park(), 0);
	CHECK_ERRNO(corun_detach(t), EINVAL);                /* being joined */
	CHECK_EQ(corun_join(j, NULL), 0);
	still_works();
}

static void self(void)
{
	CHECK_ERRNO(corun_self(), EPERM);
}

static void id(void)
{
	CHECK_ERRNO(corun_id(-1), ESRCH);
	corun_t h = corun_go(ret_arg, NULL);
	CHECK_EQ(corun_join(h, NULL), 0);
	CHECK_ERRNO(corun_id(h), ESRCH);
}

static void name(void)
{
	CHECK_NULL_ERRNO(corun_name(-1), ESRCH);
	corun_t h = corun_go(ret_arg, NULL);
	corun_t keep = corun_go(ret_arg, NULL);
	CHECK_EQ(corun_join(h, NULL), 0);
	CHECK_NULL_ERRNO(corun_name(h), ESRCH);              /* stale */
	h = corun_go(ret_arg, NULL);
	CHECK_EQ(corun_run(), 0);
	CHECK_NULL_ERRNO(corun_name(h), ESRCH);              /* ended */
	CHECK_EQ(corun_join(h, NULL), 0);
	CHECK_EQ(corun_join(keep, NULL), 0);
}

static void *shutdown_deadlocked(void *arg)
{
	(void)arg;
	deadlock_here();
	CHECK_ERRNO(corun_shutdown(), EBUSY);
	return NULL;
}

static void shutdown_errors(void)
{
	corun_t h = corun_go(run_inside, NULL); /* EPERM inside */
	CHECK_EQ(corun_join(h, NULL), 0);
	corun_t alive = corun_go(park_n, PARK_TWICE);
	CHECK_EQ(corun_park(), 0);
	CHECK_ERRNO(corun_shutdown(), EBUSY);  /* it has not ended */
	CHECK_EQ(corun_join(alive, NULL), 0);
	still_works();
	/* Deadlocked ones have not ended either. */
	on_thread(shutdown_deadlocked, NULL);
}

static void *trim_inside(void *arg)
{
	(void)arg;
	CHECK_EQ(corun_trim(), 0);
	return arg;
}

static void *trim_deadlocked(void *arg)
{
	(void)arg;
	deadlock_here();
	CHECK_EQ(corun_trim(), 0);
	still_works();
	return NULL;
}

static void trim_and_decay(void)
{
	/* corun_trim has no error: from main, from a coroutine, on a thread
	 * with deadlocked coroutines, the runtime still works. */
	CHECK_EQ(corun_trim(), 0);
	corun_t h = corun_go(trim_inside, NULL);
	CHECK_EQ(corun_join(h, NULL), 0);
	still_works();
	on_thread(trim_deadlocked, NULL);
	CHECK_ERRNO(corun_set_stack_decay(-2), EINVAL);
	CHECK_ERRNO(corun_set_stack_decay(INT64_MIN), EINVAL);
	CHECK_EQ(corun_set_stack_decay(-1), 0);
	CHECK_EQ(corun_set_stack_decay(0), 0);
	still_works();
	CHECK_EQ(corun_set_stack_decay(INT64_MAX), 0);
	still_works();
	CHECK_EQ(corun_set_stack_decay(corun_priv_decay_default()), 0);
}

/* ---- the waiting calls: one provocation per row (their own programs,
 * test_time, test_chan and test_sync, cover the behaviour) */
static void *sleeps_forever(void *arg)
{
	(void)arg;
	CHECK_ERRNO(corun_sleep_until(-1), ECANCELED); /* until canceled */
	CHECK_ERRNO(corun_sleep(0), ECANCELED);
	CHECK_ERRNO(corun_join_until(corun_self(), NULL, 0), EDEADLK);
	return NULL;
}

static void *lock_and_end(void *mu)
{
	CHECK_EQ(corun_mutex_lock(mu, -1), 0);
	return NULL; /* ends holding it */
}

static void waiting(void)
{
	CHECK_ERRNO(corun_cancel(-1), ESRCH);
	corun_t h = cancel_waiting(sleeps_forever, NULL);
	CHECK_ERRNO(corun_cancel(h), ESRCH);
	CHECK(corun_now() > 0);
	CHECK_ERRNO(corun_sleep(-1), EINVAL);
	CHECK_ERRNO(corun_sleep_until(-2), EINVAL);
	CHECK_ERRNO(corun_sleep_until(-1), EDEADLK);
	CHECK_NULL_ERRNO(corun_chan_make(SIZE_MAX, 2), EINVAL);
	/* No object is larger than PTRDIFF_MAX: an element, or the buffer. */
	CHECK_NULL_ERRNO(corun_chan_make(SIZE_MAX, 0), EINVAL);
	CHECK_NULL_ERRNO(corun_chan_make((size_t)PTRDIFF_MAX + 1, 0), EINVAL);
	CHECK_NULL_ERRNO(corun_chan_make((size_t)PTRDIFF_MAX / 2 + 1, 2), EINVAL);
	CHECK_NULL_ERRNO(corun_chan_make(1, (size_t)PTRDIFF_MAX), EINVAL);
	corun_chan *big = corun_chan_make((size_t)PTRDIFF_MAX, 0); /* no buffer */
	CHECK(big != NULL);
	corun_chan_free(big);
	corun_chan *ch = corun_chan_make(sizeof(int), 0);
	int v = 0;
	CHECK_ERRNO(corun_chan_send(ch, &v, 0), ETIMEDOUT);
	CHECK_ERRNO(corun_chan_recv(ch, &v, -1), EDEADLK);
	CHECK_ERRNO(corun_chan_send(ch, NULL, 0), EINVAL);
	CHECK_ERRNO(corun_chan_recv(NULL, &v, 0), EINVAL);
	CHECK_ERRNO(corun_chan_recv(ch, &v, -2), EINVAL);
	corun_case c[1] = { { ch, 99, &v, 0 } };
	CHECK_ERRNO(corun_select(c, 1, 0), EINVAL);
	CHECK_ERRNO(corun_select(NULL, 1, 0), EINVAL);
	c[0].op = CORUN_RECV;
	CHECK_ERRNO(corun_select(c, 1, 0), ETIMEDOUT);
	CHECK_EQ(corun_chan_close(ch), 0);
	CHECK_ERRNO(corun_chan_close(ch), EPIPE);
	CHECK_ERRNO(corun_chan_close(NULL), EINVAL);
	CHECK_ERRNO(corun_chan_send(ch, &v, 0), EPIPE);
	CHECK_ERRNO(corun_chan_recv(ch, &v, 0), EPIPE);
	CHECK_EQ(corun_select(c, 1, 0), 0);
	CHECK_EQ(c[0].err, EPIPE);
	corun_chan_free(ch);

	corun_wg *wg = corun_wg_make();
	CHECK_ERRNO(corun_wg_add(NULL, 1), EINVAL);
	CHECK_ERRNO(corun_wg_done(wg), EINVAL);
	CHECK_EQ(corun_wg_add(wg, 1), 0);
	CHECK_ERRNO(corun_wg_wait(wg, 0), ETIMEDOUT);
	CHECK_ERRNO(corun_wg_wait(wg, -1), EDEADLK);
	CHECK_ERRNO(corun_wg_wait(wg, -2), EINVAL);
	CHECK_EQ(corun_wg_done(wg), 0);
	CHECK_EQ(corun_wg_free(wg), 0);
	corun_mutex *mu = corun_mutex_make();
	CHECK_ERRNO(corun_mutex_unlock(mu), EPERM);
	CHECK_ERRNO(corun_mutex_unlock(NULL), EINVAL);
	CHECK_EQ(corun_mutex_lock(mu, 0), 0);
	CHECK_ERRNO(corun_mutex_lock(mu, 0), EDEADLK);
	CHECK_ERRNO(corun_mutex_free(mu), EBUSY);
	CHECK_EQ(corun_mutex_unlock(mu), 0);
	corun_join(corun_go(lock_and_end, mu), NULL);
	CHECK_ERRNO(corun_mutex_lock(mu, 0), EOWNERDEAD); /* and main holds it */
	CHECK_EQ(corun_mutex_unlock(mu), 0);
	CHECK_EQ(corun_mutex_free(mu), 0);
	CHECK_EQ(corun_shield(1), 0); /* no error, from main too */
	CHECK_EQ(corun_shield(0), 1);
	CHECK_EQ(corun_canceled(), 0);
	still_works();
}

static void *unlock_without_runtime(void *mu)
{
	CHECK_ERRNO(corun_mutex_unlock(mu), EPERM);
	return NULL;
}

/* The shared objects' rows: their own, and what they do not fail with. */
static void shared(void)
{
	CHECK_NULL_ERRNO(corun_chan_make_shared(SIZE_MAX, 2), EINVAL);
	CHECK_NULL_ERRNO(corun_chan_make_shared(1, (size_t)PTRDIFF_MAX), EINVAL);
	corun_chan *ch = corun_chan_make_shared(sizeof(int), 0);
	int v = 0;
	CHECK_ERRNO(corun_chan_send(ch, &v, 0), ETIMEDOUT);
	CHECK_ERRNO(corun_chan_recv(ch, &v, corun_now() + MS), ETIMEDOUT);
	CHECK_ERRNO(corun_chan_send(ch, NULL, 0), EINVAL);
	CHECK_ERRNO(corun_chan_recv(ch, &v, -2), EINVAL);
	corun_case c[1] = { { ch, 99, &v, 0 } };
	CHECK_ERRNO(corun_select(c, 1, 0), EINVAL);
	CHECK_EQ(corun_chan_close(ch), 0);
	CHECK_ERRNO(corun_chan_close(ch), EPIPE);
	CHECK_ERRNO(corun_chan_send(ch, &v, -1), EPIPE);
	CHECK_EQ(corun_chan_free(ch), 0);

	corun_wg *wg = corun_wg_make_shared();
	CHECK_ERRNO(corun_wg_done(wg), EINVAL);
	CHECK_EQ(corun_wg_add(wg, 1), 0);
	CHECK_ERRNO(corun_wg_wait(wg, 0), ETIMEDOUT);
	CHECK_ERRNO(corun_wg_wait(wg, -2), EINVAL);
	CHECK_EQ(corun_wg_done(wg), 0);
	CHECK_EQ(corun_wg_free(wg), 0);
	corun_mutex *mu = corun_mutex_make_shared();
	CHECK_ERRNO(corun_mutex_unlock(mu), EPERM);
	CHECK_EQ(corun_mutex_lock(mu, 0), 0);
	CHECK_ERRNO(corun_mutex_lock(mu, 0), EDEADLK);
	CHECK_ERRNO(corun_mutex_lock(mu, -2), EINVAL);
	CHECK_ERRNO(corun_mutex_free(mu), EBUSY);
	CHECK(on_thread(unlock_without_runtime, mu) == NULL);
	CHECK_EQ(corun_mutex_unlock(mu), 0);
	CHECK_EQ(corun_mutex_free(mu), 0);
	still_works();
}

/* ---- worker groups: the rows provoked here; EPIPE, EALREADY and EPERM
 * (fork) in test_group.c, ENOMEM, EAGAIN and EMFILE in test_failpoints.c */

static void *group_ret(void *arg)
{
	return arg;
}

static void *group_stop_self(void *g)
{
	errno = 0;
	int r = corun_group_stop(g, CORUN_GROUP_DRAIN);
	return (void *)(intptr_t)(r < 0 ? errno : 0);
}

static void *join_canceled(void *t)
{
	corun_cancel(corun_self());
	errno = 0;
	int r = corun_task_join(t, NULL, -1);
	return (void *)(intptr_t)(r < 0 ? errno : 0);
}

static void *join_task(void *t)
{
	return (void *)(intptr_t)corun_task_join(t, NULL, -1);
}

static void *group_gated(void *ch)
{
	return (void *)(intptr_t)corun_chan_recv(ch, NULL, -1);
}

static void groups(void)
{
	CHECK_NULL_ERRNO(corun_group_start(1, 0x80), EINVAL);
	CHECK_NULL_ERRNO(corun_group_start(5000, 0), EINVAL);
	corun_group *g = corun_group_start(1, 0);
	CHECK(g != NULL);
	CHECK_NULL_ERRNO(corun_group_go(NULL, -1, group_ret, NULL), EINVAL);
	CHECK_NULL_ERRNO(corun_group_go(g, -1, NULL, NULL), EINVAL);
	CHECK_NULL_ERRNO(corun_group_go(g, -2, group_ret, NULL), EINVAL);
	CHECK_NULL_ERRNO(corun_group_go(g, 1, group_ret, NULL), EINVAL);
	/* A task that waits for main: ETIMEDOUT, ECANCELED, EBUSY, EINVAL. */
	corun_chan *ch = corun_chan_make_shared(0, 0);
	CHECK(ch != NULL);
	corun_task *t = corun_group_go(g, -1, group_gated, ch);
	CHECK(t != NULL);
	CHECK_ERRNO(corun_task_join(t, NULL, 0), ETIMEDOUT);
	CHECK_ERRNO(corun_task_join(t, NULL, corun_now() + MS), ETIMEDOUT);
	CHECK_ERRNO(corun_task_join(t, NULL, -2), EINVAL);
	void *r;
	CHECK_EQ(corun_join(corun_go(join_canceled, t), &r), 0);
	CHECK_EQ((intptr_t)r, ECANCELED);
	corun_t j = corun_go(join_task, t);
	CHECK_EQ(corun_park(), 0); /* j waits on t */
	CHECK_ERRNO(corun_task_join(t, NULL, 0), EBUSY);
	CHECK_ERRNO(corun_task_detach(t), EINVAL);
	CHECK_EQ(corun_chan_send(ch, NULL, -1), 0);
	CHECK_EQ(corun_join(j, &r), 0);
	CHECK_EQ((intptr_t)r, 0);
	/* ECANCELED for a task canceled before it started is in
	 * test_group.c (it needs a worker held up). */
	CHECK_ERRNO(corun_task_join(NULL, NULL, -1), EINVAL);
	CHECK_ERRNO(corun_task_cancel(NULL), EINVAL);
	CHECK_ERRNO(corun_task_detach(NULL), EINVAL);
	CHECK_ERRNO(corun_group_stop(NULL, CORUN_GROUP_DRAIN), EINVAL);
	CHECK_ERRNO(corun_group_stop(g, 3), EINVAL);
	/* EDEADLK: a stop from one of its workers. */
	t = corun_group_go(g, 0, group_stop_self, g);
	CHECK_EQ(corun_task_join(t, &r, -1), 0);
	CHECK_EQ((intptr_t)r, EDEADLK);
	CHECK_EQ(corun_group_worker(), -1);
	CHECK_EQ(corun_chan_free(ch), 0);
	CHECK_EQ(corun_group_stop(g, CORUN_GROUP_DRAIN), 0);
	still_works();
}

/* ---- blocking calls (EAGAIN and ENOMEM: test_failpoints.c) ---- */

static void *nap(void *arg)
{
	usleep(20000);
	return arg;
}

static void *blocks_canceled(void *arg)
{
	(void)arg;
	CHECK_ERRNO(corun_blocking(nap, NULL, NULL, -1), ECANCELED);
	CHECK_ERRNO(corun_blocking_ex(nap, NULL, NULL, -1, NULL), ECANCELED);
	return NULL;
}

/* A port on 127.0.0.1 that nothing listens on (it did a moment ago). */
static void closed_port(char *port, size_t size)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(s >= 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	CHECK_EQ(bind(s, (struct sockaddr *)&a, sizeof a), 0);
	CHECK_EQ(getsockname(s, (struct sockaddr *)&a, &len), 0);
	snprintf(port, size, "%u", (unsigned)ntohs(a.sin_port));
	CHECK_EQ(close(s), 0);
}

static void blocking(void)
{
	CHECK_ERRNO(corun_blocking(nap, NULL, NULL, 0), ETIMEDOUT);
	CHECK_ERRNO(corun_blocking(nap, NULL, NULL, corun_now() + 1), ETIMEDOUT);
	cancel_waiting(blocks_canceled, NULL);
	CHECK_ERRNO(corun_blocking(NULL, NULL, NULL, -1), EINVAL);
	CHECK_ERRNO(corun_blocking(nap, NULL, NULL, -2), EINVAL);
	CHECK_ERRNO(corun_blocking_ex(NULL, NULL, NULL, -1, NULL), EINVAL);
	CHECK_ERRNO(corun_blocking_config(0, -1), EINVAL);
	CHECK_ERRNO(corun_blocking_config(1, -2), EINVAL);

	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST }, *res;
	CHECK_EQ(corun_getaddrinfo("not-a-number", NULL, &hints, &res, -1), EAI_NONAME);
	errno = 0;
	CHECK_EQ(corun_getaddrinfo("127.0.0.1", NULL, &hints, NULL, -1), EAI_SYSTEM);
	CHECK_EQ(errno, EINVAL);
	errno = 0;
	CHECK_EQ(corun_getaddrinfo("127.0.0.1", NULL, &hints, &res, 0), EAI_SYSTEM);
	CHECK_EQ(errno, ETIMEDOUT);

	CHECK_ERRNO(corun_dial("127.0.0.1", "80", 0), ETIMEDOUT);
	char port[16];
	closed_port(port, sizeof port);
	CHECK_ERRNO(corun_dial("127.0.0.1", port, -1), ECONNREFUSED);
	CHECK_ERRNO(corun_dial("bad host name!", "80", -1), ENOENT);
	CHECK_ERRNO(corun_dial(NULL, "80", -1), EINVAL);
	CHECK_ERRNO(corun_dial("127.0.0.1", NULL, -1), EINVAL);
	CHECK_ERRNO(corun_dial("127.0.0.1", "80", -2), EINVAL);
	still_works();
}

/* ---- files: the rows provoked here on the backend the runtime takes
 * (test_files.c runs its own calls on both, and the errors of the system
 * calls themselves). ENOMEM, EAGAIN, EMFILE and ENFILE are the blocking
 * pool's, provoked for corun_blocking in test_failpoints.c. */

static char fifo[64];

static void *files_canceled(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char c = 0;
	CHECK_EQ(corun_cancel(corun_self()), 0);
	CHECK_ERRNO(corun_pread(fd, &c, 1, 0, -1), ECANCELED);
	CHECK_ERRNO(corun_pwrite(fd, &c, 1, 0, -1), ECANCELED);
	CHECK_ERRNO(corun_fsync(fd, -1), ECANCELED);
	CHECK_ERRNO(corun_fdatasync(fd, -1), ECANCELED);
	CHECK_ERRNO(corun_openat(AT_FDCWD, fifo, O_RDONLY | O_CLOEXEC, 0, -1), ECANCELED);
	return NULL;
}

/* The FIFO's other end, late: an open of its reading end that the
 * deadline left (on the blocking pool, where it cannot be stopped) ends
 * then, and closes what it opened. O_RDWR never waits for a FIFO's
 * reader. */
static void *fifo_writer_late(void *arg)
{
	(void)arg;
	CHECK_EQ(corun_sleep(300 * MS), 0);
	int w = open(fifo, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	CHECK(w >= 0);
	CHECK_EQ(corun_sleep(50 * MS), 0);
	CHECK_EQ(close(w), 0);
	return NULL;
}

static void files(void)
{
	char dir[] = "/tmp/corun-errors-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	snprintf(fifo, sizeof fifo, "%s/fifo", dir);
	CHECK_EQ(mkfifo(fifo, 0600), 0);
	char path[64];
	snprintf(path, sizeof path, "%s/file", dir);
	int fd = corun_openat(AT_FDCWD, path, O_CREAT | O_RDWR | O_CLOEXEC, 0600, -1);
	CHECK(fd >= 0);
	char c = 0;

	/* ETIMEDOUT: an open that waits in the kernel for the FIFO's writer. */
	corun_t w = corun_go(fifo_writer_late, NULL);
	CHECK(w > 0);
	CHECK_ERRNO(corun_openat(AT_FDCWD, fifo, O_RDONLY | O_CLOEXEC, 0, corun_now() + 20 * MS),
		    ETIMEDOUT);
	CHECK_EQ(corun_join(w, NULL), 0);
	CHECK_EQ(corun_join(corun_go(files_canceled, (void *)(intptr_t)fd), NULL), 0);
	CHECK_ERRNO(corun_pread(-1, &c, 1, 0, -1), EBADF);
	CHECK_ERRNO(corun_pwrite(-1, &c, 1, 0, -1), EBADF);
	CHECK_ERRNO(corun_fsync(-1, -1), EBADF);
	CHECK_ERRNO(corun_fdatasync(-1, -1), EBADF);
	CHECK_ERRNO(corun_openat(-1, "file", O_RDONLY, 0, -1), EBADF); /* openat(2)'s */
	CHECK_ERRNO(corun_pread(fd, &c, 1, -1, -1), EINVAL);
	CHECK_ERRNO(corun_pwrite(fd, &c, 1, -1, -1), EINVAL);
	CHECK_ERRNO(corun_pread(fd, &c, 1, 0, -2), EINVAL);
	CHECK_ERRNO(corun_pwrite(fd, &c, 1, 0, -2), EINVAL);
	CHECK_ERRNO(corun_fsync(fd, -2), EINVAL);
	CHECK_ERRNO(corun_fdatasync(fd, -2), EINVAL);
	CHECK_ERRNO(corun_openat(AT_FDCWD, path, O_RDONLY, 0, -2), EINVAL);
	/* Still a file to use: the canceled write wrote nothing. */
	CHECK_EQ(corun_pread(fd, &c, 1, 0, -1), 0);
	CHECK_EQ(corun_pwrite(fd, "x", 1, 0, -1), 1);
	CHECK_EQ(corun_pread(fd, &c, 1, 0, -1), 1);
	CHECK_EQ(c, 'x');
	CHECK_EQ(corun_close(fd), 0);
	CHECK_EQ(unlink(path), 0);
	CHECK_EQ(unlink(fifo), 0);
	CHECK_EQ(rmdir(dir), 0);
	still_works();
}

int main(int argc, char **argv)
{
	static const struct test tests[] = {
		TEST(attr_init), TEST(go), TEST(go_attr), TEST(run),
		TEST(join), TEST(detach), TEST(self), TEST(id),
		TEST(name), TEST(shutdown_errors), TEST(trim_and_decay), TEST(waiting),
		TEST(shared), TEST(groups), TEST(blocking), TEST(files),
	};
	return RUN_TESTS(argc, argv, tests);
}
