/*
 * Channels in the model (fuzz.h): an unbuffered one and one of capacity 2,
 * their buffers and their queues of waiting senders and receivers, in
 * order; sends, receives, close and select, from main or a coroutine.
 */
#include "fuzz.h"

#include <string.h>

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
void chans_free(void)
{
	for (int k = 0; k < NCHAN; k++) {
		corun_chan_free(g.chan[k].ch);
		g.chan[k].ch = NULL;
	}
}

/* Each channel's buffer, closed or not, and queues in order (white box). */
NOCOV void check_chans(void)
{
	for (int k = 0; k < NCHAN; k++) {
		struct mchan *mc = &g.chan[k];
		if (!mc->ch)
			continue;
		int got[4];
		EXPECT(corun_priv_chan_buffered(mc->ch, got, 4) == (size_t)mc->count);
		EXPECT(corun_priv_chan_closed(mc->ch) == mc->closed);
		for (int j = 0; j < mc->count; j++)
			EXPECT(got[j] == mc->buf[(mc->head + j) % 4]);
		for (int d = 0; d < 2; d++) {
			size_t n = corun_priv_chan_waiters(mc->ch, d ? CORUN_RECV : CORUN_SEND, g.who,
							   g.cases, QMAX);
			EXPECT(n == (size_t)mc->nq[d]);
			for (int j = 0; j < mc->nq[d]; j++) {
				EXPECT(g.who[j] == g.co[mc->q[d][j].co].h);
				EXPECT(g.cases[j] == mc->q[d][j].cs);
			}
		}
	}
}

/* Take coroutine i off every channel queue it is on. */
void chan_unqueue(int i)
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

/* Queue coroutine self as case cs for op d (0 send, 1 receive) on c. */
static void enqueue(struct mchan *c, int d, int self, int cs, int val)
{
	EXPECT(c->nq[d] < QMAX);
	c->q[d][c->nq[d]++] = (struct mwait){ self, cs, val };
}

void do_send(int self, unsigned chb, int wait)
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

void do_recv(int self, unsigned chb, int wait)
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

void do_close(unsigned chb)
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
void do_select(int self, unsigned sel)
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
