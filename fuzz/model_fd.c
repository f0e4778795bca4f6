/*
 * Descriptors in the model (fuzz.h): two pipes of one page and a Unix
 * stream socket pair, the bytes queued in each direction, coroutines'
 * reads, writes and waits on them, the other process's side, corun_close,
 * and who waits in which of the runtime's slots.
 */
#include "fuzz.h"

#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* Read and write buffers of each coroutine ([MAX_CO]: main's and the
 * harness's own): a call that waits must keep its own. Not cleared per
 * input, so outside g. */
static uint8_t iobuf[MAX_CO + 1][IO_MAX];

/* Entries by object: where coroutines read, where they write. */
static const int rd_ent[NOBJ] = { 0, 2, 4 }, wr_ent[NOBJ] = { 1, 3, 4 };

static int obj_of(int e)
{
	return e / 2;
}

/* Make object k: fresh descriptors, empty buffers. Non-blocking from the
 * start, so that the harness's own reads and writes never block. */
void obj_make(int k)
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

/* ---- white box */

/* Who waits in the runtime's slot of entry e for dir (white box): 1 with
 * the handle in *who (0: main), or 0 when nobody does. */
NOCOV static int slot_fd(int e, int dir, corun_t *who)
{
	return corun_priv_fd_waiter(g.ent[e].fd, dir == 1 ? POLLIN : POLLOUT, who);
}

/* Someone other than self waits in entry e's slot for dir. */
NOCOV static int slot_busy(int e, int dir, int self)
{
	corun_t who;
	return slot_fd(e, dir, &who) && (self == MAIN || who != g.co[self].h);
}

/* Coroutine i, blocked in a descriptor call, waits in its slots. */
NOCOV void check_fd_slots(int i)
{
	const struct mco *m = &g.co[i];
	for (int d = 1; d <= 2; d++)
		if (m->fd_dirs & d) {
			corun_t who;
			EXPECT(slot_fd(m->fd_ent, d, &who) && who == m->h);
		}
}

/* The descriptors: who waits in each slot, and that nobody waits for what
 * is there without a report on its way (the epoll instance has one ready:
 * polling it does not take it). The kernel's byte counts. */
NOCOV void check_fds(void)
{
	if (g.fds_gone)
		return;
	size_t nslots = 0;
	for (int e = 0; e < NENT; e++)
		for (int d = 1; d <= 2; d++) {
			corun_t who;
			if (!slot_fd(e, d, &who))
				continue;
			nslots++;
			EXPECT(who > 0 && co_info(who).state == CORUN_PRIV_BLOCKED);
			struct mco *m = &g.co[model_of(who)];
			EXPECT(m->blocked && m->kind == K_FD && m->fd_ent == e && (m->fd_dirs & d));
			if (ent_ready(e, d))
				EXPECT(corun_priv_reports_pending());
		}
	EXPECT(corun_priv_fd_waiting() == nslots);
	int q0 = -1, q1 = -1, q2 = -1, q3 = -1;
	EXPECT(ioctl(g.ent[0].fd, FIONREAD, &q0) == 0 && q0 == g.buf[0].count);
	EXPECT(ioctl(g.ent[2].fd, FIONREAD, &q1) == 0 && q1 == g.buf[1].count);
	EXPECT(ioctl(g.ent[4].fd, FIONREAD, &q2) == 0 && q2 == g.buf[2].count);
	EXPECT(ioctl(g.far, FIONREAD, &q3) == 0 && q3 == g.buf[3].count);
}

/* Before main parks: coroutine i, which the kernel's wait holds, waits for
 * what is there, so the park's look at the reports must fire it. Noted for
 * main_park to check, unless others change that buffer first. */
void fd_ready_at_park(int i)
{
	const struct mco *m = &g.co[i];
	for (int d = 1; d <= 2; d++)
		if ((m->fd_dirs & d) && ent_ready(m->fd_ent, d)) {
			const struct ment *t = &g.ent[m->fd_ent];
			g.pready[i] = 1;
			g.pverA[i] = g.buf[d == 1 ? t->rb : t->wb].ver;
			g.pverB[i] = (unsigned)(d == 1 ? t->rb : t->wb);
			g.pserial[i] = m->fd_serial;
		}
}

/* ---- operations */

/* A D byte: bits 0-1 the object, 2-3 the deadline (0; a short one; -1),
 * 4-5 wait_fd's events (POLLIN, POLLOUT, both), 6 which end of a pipe
 * wait_fd waits on for both. An N byte: 1 + 17 N bytes. */
int d_obj(unsigned d)
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
		fail(__FILE__, __LINE__, "descriptor call: unexpected errno");
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

void do_fd_read(int self, unsigned d, unsigned nb)
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

void do_fd_write(int self, unsigned d, unsigned nb)
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

void do_fd_wait(int self, unsigned d)
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
void do_fd_close(int k)
{
	for (int i = 0; i < g.n; i++) {
		struct mco *m = &g.co[i];
		if (!m->blocked || m->kind != K_FD || obj_of(m->fd_ent) != k)
			continue;
		struct corun_priv_co c = co_info(m->h);
		EXPECT(c.state == CORUN_PRIV_RUNNABLE || c.state == CORUN_PRIV_BLOCKED);
		if (c.state == CORUN_PRIV_BLOCKED)
			wake(i, -1, EBADF, 0);
		else if (c.wake_err == 0)
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
void do_outside(int write_, unsigned d, unsigned nb)
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
void do_fd_cancel(int self, unsigned k)
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
