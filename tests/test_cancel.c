/*
 * Cancellation by the header's one rule: once canceled, every blocking
 * call fails with ECANCELED and does nothing, whether or not it would have
 * waited; a call that waits is interrupted; calls that do not block are
 * not affected; argument errors come first; corun_shield lets cleanup
 * wait (the chat server that freed a channel its children still used,
 * because its corun_join failed at once).
 */
#define _GNU_SOURCE
#include "helpers.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A listening TCP socket on the loopback, its address in *a. */
static int listener(struct sockaddr_in *a)
{
	int l = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(l >= 0);
	memset(a, 0, sizeof *a);
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK_EQ(bind(l, (struct sockaddr *)a, sizeof *a), 0);
	CHECK_EQ(listen(l, 8), 0);
	socklen_t len = sizeof *a;
	CHECK_EQ(getsockname(l, (struct sockaddr *)a, &len), 0);
	return l;
}

/* ---- every blocking call that would not wait fails, and does nothing */
struct ready {
	corun_chan *room, *full;  /* a channel with room, one with an element */
	corun_mutex *free_mu, *held_mu;
	corun_wg *zero;
	corun_t ended;            /* has ended, not joined */
	int pipe_r, pipe_w;       /* the pipe holds a byte */
	int lsock, csock;         /* a listener with a connection pending */
	struct sockaddr_in addr;
};

static void *cancel_self_then_try(void *arg)
{
	struct ready *r = arg;
	CHECK_EQ(corun_mutex_lock(r->held_mu, 0), 0); /* before the cancel */
	CHECK_EQ(corun_canceled(), 0);
	CHECK_EQ(corun_cancel(corun_self()), 0);
	CHECK_EQ(corun_canceled(), 1);
	int v = 7;
	char c;
	CHECK_ERRNO(corun_sleep(0), ECANCELED);
	CHECK_ERRNO(corun_sleep_until(0), ECANCELED);
	CHECK_ERRNO(corun_sleep_until(1), ECANCELED); /* long past */
	CHECK_ERRNO(corun_chan_send(r->room, &v, -1), ECANCELED);
	CHECK_ERRNO(corun_chan_send(r->room, &v, 0), ECANCELED);
	CHECK_ERRNO(corun_chan_recv(r->full, &v, -1), ECANCELED);
	corun_case cs[2] = { { r->full, CORUN_RECV, &v, 0 }, { r->room, CORUN_SEND, &v, 0 } };
	CHECK_ERRNO(corun_select(cs, 2, -1), ECANCELED);
	CHECK_ERRNO(corun_select(NULL, 0, 0), ECANCELED);
	CHECK_ERRNO(corun_mutex_lock(r->free_mu, -1), ECANCELED);
	CHECK_ERRNO(corun_wg_wait(r->zero, -1), ECANCELED);
	CHECK_ERRNO(corun_join(r->ended, NULL), ECANCELED);
	CHECK_ERRNO(corun_join_until(r->ended, NULL, 0), ECANCELED);
	CHECK_ERRNO(corun_read(r->pipe_r, &c, 1, -1), ECANCELED);
	CHECK_ERRNO(corun_write(r->pipe_w, "y", 1, -1), ECANCELED);
	CHECK_ERRNO(corun_wait_fd(r->pipe_r, POLLIN, -1), ECANCELED);
	CHECK_ERRNO(corun_accept(r->lsock, NULL, NULL, -1), ECANCELED);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(s >= 0);
	CHECK_ERRNO(corun_connect(s, (struct sockaddr *)&r->addr, sizeof r->addr, -1),
		    ECANCELED);
	CHECK_ERRNO(getpeername(s, (struct sockaddr *)&(struct sockaddr_in){ 0 },
				&(socklen_t){ sizeof(struct sockaddr_in) }),
		    ENOTCONN); /* connect was not even tried */
	close(s);

	/* Argument errors are reported first. */
	CHECK_ERRNO(corun_chan_send(NULL, &v, -1), EINVAL);
	CHECK_ERRNO(corun_chan_recv(r->full, &v, -2), EINVAL);
	CHECK_ERRNO(corun_join(-1, NULL), ESRCH);
	CHECK_ERRNO(corun_join(corun_self(), NULL), EDEADLK);
	CHECK_ERRNO(corun_mutex_lock(r->held_mu, -1), EDEADLK);
	CHECK_ERRNO(corun_read(-1, &c, 1, -1), EBADF);
	CHECK_ERRNO(corun_sleep(-1), EINVAL);

	/* What does not block is not affected. */
	CHECK_EQ(corun_park(), 0);
	CHECK_EQ(corun_mutex_unlock(r->held_mu), 0);
	CHECK_EQ(corun_wg_add(r->zero, 1), 0);
	CHECK_EQ(corun_wg_done(r->zero), 0);
	corun_t k = corun_go(ret_arg, (void *)5);
	CHECK(k > 0);
	CHECK_EQ(corun_detach(k), 0);
	return (void *)1;
}

static void every_call_fails(void)
{
	struct ready r;
	int v = 42;
	r.room = corun_chan_make(sizeof(int), 2);
	r.full = corun_chan_make(sizeof(int), 1);
	CHECK_EQ(corun_chan_send(r.full, &v, 0), 0);
	r.free_mu = corun_mutex_make();
	r.held_mu = corun_mutex_make();
	r.zero = corun_wg_make();
	r.ended = corun_go(ret_arg, (void *)9);
	CHECK_EQ(corun_park(), 0); /* it runs and ends */
	int p[2];
	CHECK_EQ(pipe(p), 0);
	r.pipe_r = p[0], r.pipe_w = p[1];
	CHECK_EQ(write(p[1], "x", 1), 1);
	r.lsock = listener(&r.addr);
	r.csock = socket(AF_INET, SOCK_STREAM, 0);
	CHECK_EQ(connect(r.csock, (struct sockaddr *)&r.addr, sizeof r.addr), 0);

	void *res;
	CHECK_EQ(corun_join(corun_go(cancel_self_then_try, &r), &res), 0);
	CHECK_PTR_EQ(res, (void *)1);

	/* Nothing was done by the calls that failed. */
	CHECK_ERRNO(corun_chan_recv(r.room, &v, 0), ETIMEDOUT); /* nothing sent */
	CHECK_EQ(corun_chan_recv(r.full, &v, 0), 0);            /* still there */
	CHECK_EQ(v, 42);
	CHECK_EQ(corun_mutex_lock(r.free_mu, 0), 0);            /* still free */
	CHECK_EQ(corun_mutex_unlock(r.free_mu), 0);
	CHECK_EQ(corun_mutex_lock(r.held_mu, 0), 0);            /* unlocked */
	CHECK_EQ(corun_mutex_unlock(r.held_mu), 0);
	CHECK_EQ(corun_join(r.ended, &res), 0);                 /* still joinable */
	CHECK_PTR_EQ(res, (void *)9);
	char buf[4];
	CHECK_EQ(corun_read(r.pipe_r, buf, sizeof buf, 0), 1); /* the one byte */
	CHECK_EQ(buf[0], 'x');
	int c = corun_accept(r.lsock, NULL, NULL, 0);          /* still pending */
	CHECK(c >= 0);
	CHECK_EQ(corun_close(c), 0);
	CHECK_EQ(corun_close(r.csock), 0);
	CHECK_EQ(corun_close(r.lsock), 0);
	CHECK_EQ(corun_close(p[0]), 0);
	CHECK_EQ(corun_close(p[1]), 0);
	corun_chan_free(r.room);
	corun_chan_free(r.full);
	CHECK_EQ(corun_mutex_free(r.free_mu), 0);
	CHECK_EQ(corun_mutex_free(r.held_mu), 0);
	CHECK_EQ(corun_wg_free(r.zero), 0);
	CHECK_EQ(corun_run(), 0); /* the detached one it spawned */
}

/* ---- every blocking call that waits is interrupted */
enum { SLEEP, JOIN, SEND, RECV, SELECT, WG, LOCK, WAIT_FD, READ, WRITE, ACCEPT, NCALLS };
static const char *const call_names[NCALLS] = {
	"sleep", "join", "send", "recv", "select", "wg_wait", "mutex_lock", "wait_fd", "read",
	"write", "accept",
};

struct waiting {
	corun_chan *empty, *full;
	corun_wg *one;
	corun_mutex *held;
	corun_t never; /* never ends on its own */
	int pipe_r, full_w, lsock;
	int call;
	int err;       /* what the call failed with */
	int after;     /* what a second call failed with */
};

static void *wait_in_call(void *arg)
{
	struct waiting *w = arg;
	int v = 1, r = 0;
	char c;
	for (int round = 0; round < 2; round++) {
		switch (w->call) {
		case SLEEP: r = corun_sleep(1000000 * MS); break;
		case JOIN: r = corun_join(w->never, NULL); break;
		case SEND: r = corun_chan_send(w->full, &v, -1); break;
		case RECV: r = corun_chan_recv(w->empty, &v, -1); break;
		case SELECT: {
			corun_case cs[2] = { { w->empty, CORUN_RECV, &v, 0 },
					     { w->full, CORUN_SEND, &v, 0 } };
			r = corun_select(cs, 2, -1);
			break;
		}
		case WG: r = corun_wg_wait(w->one, -1); break;
		case LOCK: r = corun_mutex_lock(w->held, -1); break;
		case WAIT_FD: r = corun_wait_fd(w->pipe_r, POLLIN, -1); break;
		case READ: r = (int)corun_read(w->pipe_r, &c, 1, -1); break;
		case WRITE: r = (int)corun_write(w->full_w, "z", 1, -1); break;
		case ACCEPT: r = corun_accept(w->lsock, NULL, NULL, -1); break;
		}
		CHECK_EQ(r, -1);
		*(round ? &w->after : &w->err) = errno;
	}
	return NULL;
}

static void *waiting_calls_body(void *arg)
{
	(void)arg;
	struct waiting w;
	struct sockaddr_in a;
	int v = 0;
	w.empty = corun_chan_make(sizeof(int), 0);
	w.full = corun_chan_make(sizeof(int), 1);
	CHECK_EQ(corun_chan_send(w.full, &v, 0), 0);
	w.one = corun_wg_make();
	CHECK_EQ(corun_wg_add(w.one, 1), 0);
	w.held = corun_mutex_make();
	CHECK_EQ(corun_mutex_lock(w.held, 0), 0); /* main holds it */
	w.never = corun_go(block_forever, NULL);
	int p[2], q[2];
	CHECK_EQ(pipe(p), 0);
	CHECK_EQ(pipe(q), 0);
	w.pipe_r = p[0];
	w.full_w = q[1];
	char junk[4096];
	memset(junk, 0, sizeof junk);
	while (corun_write(q[1], junk, sizeof junk, 0) == (ssize_t)sizeof junk)
		; /* fill it: the next write waits */
	w.lsock = listener(&a);
	for (w.call = 0; w.call < NCALLS; w.call++) {
		w.err = w.after = 0;
		cancel_waiting(wait_in_call, &w);
		if (w.err != ECANCELED || w.after != ECANCELED)
			CHECK_FAIL("%s: failed with %d, then %d; expected ECANCELED twice",
				   call_names[w.call], w.err, w.after);
	}
	/* Nothing was taken from what they waited on. */
	CHECK_EQ(corun_chan_recv(w.full, &v, 0), 0);
	CHECK_ERRNO(corun_chan_recv(w.full, &v, 0), ETIMEDOUT);
	CHECK_EQ(corun_mutex_unlock(w.held), 0);
	CHECK_EQ(corun_mutex_free(w.held), 0);
	CHECK_EQ(corun_wg_done(w.one), 0);
	CHECK_EQ(corun_wg_free(w.one), 0);
	corun_chan_free(w.empty);
	corun_chan_free(w.full);
	CHECK_EQ(corun_close(p[0]), 0);
	CHECK_EQ(corun_close(p[1]), 0);
	CHECK_EQ(corun_close(q[0]), 0);
	CHECK_EQ(corun_close(q[1]), 0);
	CHECK_EQ(corun_close(w.lsock), 0);
	return NULL; /* w.never stays blocked: the thread's end takes it */
}

static void waiting_calls_interrupted(void)
{
	on_thread(waiting_calls_body, NULL);
}

/* ---- the shield */
static int shield_steps;

static void *shielded_sleeper(void *arg)
{
	(void)arg;
	CHECK_EQ(corun_shield(1), 0);
	CHECK_EQ(corun_shield(1), 1); /* nested: says it was on */
	/* Canceled while it sleeps: the sleep runs to its deadline. */
	CHECK_EQ(corun_sleep(5 * MS), 0);
	CHECK_EQ(corun_canceled(), 1);
	shield_steps++;
	/* Shielded, blocking calls work though it is canceled. */
	corun_chan *ch = corun_chan_make(sizeof(int), 1);
	int v = 3;
	CHECK_EQ(corun_chan_send(ch, &v, 0), 0);
	CHECK_EQ(corun_chan_recv(ch, &v, 0), 0);
	CHECK_EQ(corun_sleep(0), 0);
	CHECK_EQ(corun_shield(0), 1);
	/* Unshielded, the cancel takes effect. */
	CHECK_ERRNO(corun_chan_send(ch, &v, 0), ECANCELED);
	CHECK_ERRNO(corun_sleep(0), ECANCELED);
	/* And again shielded, again not. */
	CHECK_EQ(corun_shield(1), 0);
	CHECK_EQ(corun_chan_send(ch, &v, 0), 0);
	corun_chan_free(ch);
	shield_steps++;
	return NULL;
}

static void shield(void)
{
	shield_steps = 0;
	corun_t h = corun_go(shielded_sleeper, NULL);
	CHECK_EQ(corun_park(), 0); /* it sleeps */
	CHECK_EQ(corun_cancel(h), 0);
	CHECK_EQ(shield_steps, 0); /* not woken by the cancel */
	CHECK_EQ(corun_join(h, NULL), 0);
	CHECK_EQ(shield_steps, 2);
	/* From main, which cannot be canceled: it says what it was set to. */
	CHECK_EQ(corun_shield(1), 0);
	CHECK_EQ(corun_shield(0), 1);
	CHECK_EQ(corun_canceled(), 0);
}

/* ---- cleanup that waits: a session and its workers */
struct session {
	corun_chan *inbox;      /* the workers receive from it */
	corun_t workers[4];
	int worker_done[4];
	int cleaned;            /* the session freed the inbox */
	int worker_saw_freed;   /* a worker ran after the free: the bug */
};

static void *worker(void *arg)
{
	struct session *s = arg;
	int idx = -1, v;
	for (int i = 0; i < 4; i++)
		if (s->workers[i] == corun_self())
			idx = i;
	/* Serves until canceled; its own cleanup needs the inbox. */
	while (corun_chan_recv(s->inbox, &v, -1) == 0)
		;
	CHECK_EQ(errno, ECANCELED);
	int was = corun_shield(1);
	corun_sleep(1 * MS); /* a flush that takes time */
	if (s->cleaned)
		s->worker_saw_freed = 1;
	(void)corun_chan_send(s->inbox, &v, 0); /* touches it: use after free if freed */
	corun_shield(was);
	s->worker_done[idx] = 1;
	return NULL;
}

static void *session(void *arg)
{
	struct session *s = arg;
	s->inbox = corun_chan_make(sizeof(int), 8);
	for (int i = 0; i < 4; i++)
		s->workers[i] = corun_go(worker, s);
	/* Serve until canceled. */
	while (corun_sleep(1000000 * MS) == 0)
		;
	CHECK_EQ(errno, ECANCELED);
	/* Cleanup: without the shield, each join fails at once with
	 * ECANCELED, and the inbox would be freed under the workers. */
	int was = corun_shield(1);
	for (int i = 0; i < 4; i++)
		CHECK_EQ(corun_cancel(s->workers[i]), 0);
	for (int i = 0; i < 4; i++)
		CHECK_EQ(corun_join_until(s->workers[i], NULL, corun_now() + 10000 * MS), 0);
	corun_chan_free(s->inbox);
	s->cleaned = 1;
	corun_shield(was);
	return NULL;
}

static void cleanup_waits(void)
{
	struct session s;
	memset(&s, 0, sizeof s);
	corun_t h = corun_go(session, &s);
	CHECK_EQ(corun_park(), 0); /* the session starts its workers */
	CHECK_EQ(corun_park(), 0); /* which wait on the inbox */
	CHECK_EQ(corun_cancel(h), 0);
	CHECK_EQ(corun_join(h, NULL), 0);
	CHECK_EQ(s.cleaned, 1);
	CHECK_EQ(s.worker_saw_freed, 0);
	for (int i = 0; i < 4; i++)
		CHECK_EQ(s.worker_done[i], 1);
}

int main(int argc, char **argv)
{
	static const struct test tests[] = {
		TEST(every_call_fails), TEST(waiting_calls_interrupted), TEST(shield),
		TEST(cleanup_waits),
	};
	return RUN_TESTS(argc, argv, tests);
}
