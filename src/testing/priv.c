/*
 * The test door (tests/priv.h): the one file outside the library proper
 * that reads the runtime's structs, so that tests, the fuzz target and
 * benchmarks need none of them. Change it with the structs.
 *
 * It lives here, under src/, rather than beside its header in tests/: it
 * includes the private headers by the paths the library's own files use,
 * and a grep of src/ for a field finds it. It is built only into test
 * libraries (corun_priv, the variants in tests/CMakeLists.txt) and the fuzz
 * target, each time with the settings of the library it joins, since the
 * structs it reads differ with them (CORUN__CHECKED, sanitizers); never
 * into the library that is installed.
 *
 * Answers only: nothing here changes what the runtime does, but the three
 * setters tests need to reach a state on purpose (the slot limit, select's
 * seed, the operation budget) and the broken stack pointer checked mode
 * must catch.
 */
/* The fuzz target builds this with coverage instrumentation, which would
 * only add features that mean nothing (its own checks are exempt too): so
 * none for any function here, the runtime's inline ones that a lookup
 * calls (corun__slot_get, not inlined at -O1) included. */
#if defined(__clang__) && __clang_major__ >= 13
#pragma clang attribute push(__attribute__((no_sanitize("coverage"))), apply_to = function)
#endif

#include "../core/chan.h"
#include "../core/fd.h"
#include "../core/runtime.h"
#include "../core/upkeep.h"
#include "../core/wait.h"
#ifdef CORUN__FAILPOINTS
#include "../failpoint.h"
#endif
#include "../../tests/priv.h"

#include <poll.h>
#include <string.h>

/* ---- the runtime */

const void *corun_priv_runtime(void)
{
	return corun__tls;
}

size_t corun_priv_handles_used(void)
{
	return corun__tls ? corun__tls->handles.used : 0;
}

size_t corun_priv_handles_cap(void)
{
	return corun__tls ? corun__tls->handles.cap : 0;
}

size_t corun_priv_ring_cap(void)
{
	return corun__tls && corun__tls->sched.ring ? corun__tls->sched.mask + 1 : 0;
}

void corun_priv_slot_limit(uint32_t n)
{
	if (corun__tls)
		corun__tls->handles.limit = n ? n : CORUN__SLOTS_MAX;
}

int corun_priv_checked(void)
{
#ifdef CORUN__CHECKED
	return corun__tls && corun__tls->checked.on;
#else
	return 0;
#endif
}

void corun_priv_select_seed(uint64_t seed)
{
	if (corun__tls)
		corun__tls->select.rand = seed;
}

void corun_priv_budget_fill(void)
{
	if (corun__tls)
		corun__tls->sched.budget = UINT32_MAX;
}

/* ---- coroutines */

/* The handle whose slot holds record c (0 for main), or -1. */
static corun_t handle_of(struct corun__rt *rt, const struct corun__co *c)
{
	if (c == &rt->main)
		return 0;
	if (!c || c->slot >= rt->handles.n)
		return -1;
	const struct corun__slot *s = &rt->handles.slots[c->slot];
	if (s->state != CORUN__SLOT_LIVE || s->u.co != c)
		return -1;
	return corun__handle_of(&rt->handles, c->slot);
}

/* The live record h names (main for 0), or NULL. */
static struct corun__co *record_of(struct corun__rt *rt, corun_t h)
{
	if (!rt)
		return NULL;
	if (h == 0)
		return &rt->main;
	struct corun__slot *s = corun__slot_get(&rt->handles, h);
	return s && s->state == CORUN__SLOT_LIVE ? s->u.co : NULL;
}

void corun_priv_co(corun_t h, struct corun_priv_co *out)
{
	struct corun__rt *rt = corun__tls;
	memset(out, 0, sizeof *out);
	out->state = CORUN_PRIV_NONE;
	out->handle = -1;
	struct corun__slot *s = rt && h > 0 ? corun__slot_get(&rt->handles, h) : NULL;
	if (s && s->state == CORUN__SLOT_DONE) {
		out->state = CORUN_PRIV_ENDED;
		out->handle = h;
		out->result = s->u.result;
		return;
	}
	const struct corun__co *c = record_of(rt, h);
	if (!c)
		return;
	out->state = c->state == CORUN__RUNNABLE  ? CORUN_PRIV_RUNNABLE
		     : c->state == CORUN__BLOCKED ? CORUN_PRIV_BLOCKED
						  : CORUN_PRIV_NONE;
	out->handle = handle_of(rt, c);
	out->arg = c->arg;
	out->detached = (c->flags & CORUN__F_DETACHED) != 0;
	out->canceled = (c->flags & CORUN__F_CANCELED) != 0;
	out->wake_err = c->wake_err;
}

corun_t corun_priv_running(void)
{
	struct corun__rt *rt = corun__tls;
	return rt ? handle_of(rt, rt->current) : 0;
}

size_t corun_priv_ready(corun_t *who, size_t max)
{
	struct corun__rt *rt = corun__tls;
	if (!rt)
		return 0;
	size_t n = rt->sched.tail - rt->sched.head;
	for (size_t k = 0; k < n && k < max; k++)
		who[k] = handle_of(rt, rt->sched.ring[(rt->sched.head + k) & rt->sched.mask]);
	return n;
}

/* The waiters of a queue from w on, into who[] (and their ids into ids[]
 * when not NULL): as corun_priv_joiners counts them. */
static size_t waiters(struct corun__rt *rt, const struct corun__waiter *w, corun_t *who,
		      int *ids, size_t max)
{
	size_t n = 0;
	for (; w && n <= max; w = w->next, n++)
		if (n < max) {
			who[n] = handle_of(rt, w->co);
			if (ids)
				ids[n] = w->id;
		}
	return n;
}

size_t corun_priv_joiners(corun_t h, corun_t *who, size_t max)
{
	struct corun__rt *rt = corun__tls;
	const struct corun__co *c = h ? record_of(rt, h) : NULL;
	return c ? waiters(rt, c->joiners, who, NULL, max) : 0;
}

char *corun_priv_stack(corun_t h, size_t *size)
{
	const struct corun__co *c = h ? record_of(corun__tls, h) : NULL;
	*size = c ? c->stack.size : 0;
	return c ? c->stack.lo : NULL;
}

void corun_priv_set_saved_sp(corun_t h, void *sp)
{
	struct corun__co *c = h ? record_of(corun__tls, h) : NULL;
	if (c)
		c->sp = sp;
}

/* priv.h's reasons are the record's, in its order. */
#define SAME_REASON(NAME, name)                                                \
	_Static_assert(CORUN_PRIV_WAIT_##NAME == (int)CORUN__WAIT_##NAME,         \
		       "tests/priv.h's wait reasons follow src/core/co.h's");
CORUN__WAIT_REASON_LIST(SAME_REASON)
#undef SAME_REASON
_Static_assert(CORUN_PRIV_WAIT_REASONS == (int)CORUN__WAIT_REASONS,
	       "tests/priv.h has every wait reason of src/core/co.h");

int corun_priv_wait_reason(corun_t h, uint64_t *obj)
{
	struct corun__rt *rt = corun__tls;
	const struct corun__co *c = rt ? record_of(rt, h) : NULL;
	if (!c || !(c->flags & CORUN__F_ARMED))
		return -1;
	*obj = c->wait_obj;
	return c->wait_reason;
}

uint64_t corun_priv_waits(int r)
{
	struct corun__rt *rt = corun__tls;
	return rt && r >= 0 && r < CORUN__WAIT_REASONS ? rt->stats.waits[r] : 0;
}

const void *corun_priv_record(corun_t h)
{
	struct corun__rt *rt = corun__tls;
	return rt && h > 0 ? record_of(rt, h) : NULL;
}

/* ---- stacks */

size_t corun_priv_guard(void)
{
	return corun__tls ? corun__tls->stacks.guard : 0;
}

int corun_priv_guard_mprotect(void)
{
	return corun__guard_kind() == CORUN__GUARD_MPROTECT;
}

size_t corun_priv_maps_budget(void)
{
	return corun__maps_budget();
}

void *corun_priv_slab(size_t k, size_t *len, size_t *stack_size)
{
	struct corun__rt *rt = corun__tls;
	if (!rt || k >= rt->stacks.nslabs)
		return NULL;
	const struct corun__slab *s = &rt->stacks.slabs[k];
	if (len)
		*len = s->len;
	if (stack_size)
		*stack_size = s->stack_size;
	return s->base;
}

size_t corun_priv_purge_calls(void)
{
	return corun__tls ? corun__tls->stacks.purge_calls : 0;
}

size_t corun_priv_slabs_released(void)
{
	return corun__tls ? corun__tls->stacks.released : 0;
}

int64_t corun_priv_decay_default(void)
{
	return CORUN__DECAY_DEFAULT;
}

void *corun_priv_altstack(void)
{
	return corun__tls ? corun__tls->overflow.altstack : NULL;
}

/* ---- waiting */

size_t corun_priv_timers(void)
{
	return corun__tls ? corun__tls->timers.n : 0;
}

uint64_t corun_priv_timers_armed(void)
{
	return corun__tls ? corun__tls->timers.seq : 0;
}

size_t corun_priv_fd_waiting(void)
{
	return corun__tls ? corun__tls->fds.waiting : 0;
}

int corun_priv_fd_waiter(int fd, int events, corun_t *who)
{
	struct corun__rt *rt = corun__tls;
	const struct corun__fd *f = rt && fd >= 0 ? corun__fd_find(&rt->fds, fd) : NULL;
	const struct corun__waiter *w = !f ? NULL : events == POLLIN ? f->in : f->out;
	if (!w)
		return 0;
	*who = handle_of(rt, w->co);
	return 1;
}

int corun_priv_reports_pending(void)
{
	struct corun__rt *rt = corun__tls;
	struct pollfd p = { .fd = rt ? rt->fds.epfd : -1, .events = POLLIN };
	return p.fd >= 0 && poll(&p, 1, 0) == 1;
}

/* ---- channels */

size_t corun_priv_chan_size(void)
{
	return sizeof(struct corun_chan);
}

unsigned corun_priv_chan_users(corun_chan *ch)
{
	corun__lock(&ch->sh.lock);
	unsigned n = ch->sh.waiters;
	corun__unlock(&ch->sh.lock);
	return n;
}

int corun_priv_chan_closed(corun_chan *ch)
{
	return ch->closed;
}

size_t corun_priv_chan_buffered(corun_chan *ch, void *out, size_t max)
{
	for (size_t j = 0; j < ch->count && j < max; j++)
		memcpy((char *)out + j * ch->elem_size,
		       ch->buf + (ch->head + j) % ch->cap * ch->elem_size, ch->elem_size);
	return ch->count;
}

size_t corun_priv_chan_waiters(corun_chan *ch, int op, corun_t *who, int *cases, size_t max)
{
	const struct corun__wq *q = op == CORUN_SEND ? &ch->senders : &ch->receivers;
	return waiters(corun__tls, q->head, who, cases, max);
}

/* ---- the registry */

unsigned corun_priv_registry_count(void)
{
	return corun__registry.count;
}

const void *corun_priv_registry_at(unsigned k, int *tid)
{
	const struct corun__rt *rt = corun__registry.head;
	while (rt && k--)
		rt = rt->reg.next;
	if (rt && tid)
		*tid = rt->reg.tid;
	return rt;
}

/* ---- failure injection */

#ifdef CORUN__FAILPOINTS
int corun_priv_fail_kinds(void)
{
	return CORUN__FAIL_KINDS;
}

const char *corun_priv_fail_name(int kind)
{
	return corun__failpoint_name(kind);
}

int corun_priv_fail_kind(const char *name)
{
	for (int k = 0; k < CORUN__FAIL_KINDS; k++)
		if (strcmp(corun__failpoint_name(k), name) == 0)
			return k;
	return -1;
}

void corun_priv_fail_arm(int kind, unsigned long n, unsigned long times)
{
	corun__failpoint_arm(kind, n, times);
}

unsigned long corun_priv_fail_ops(int kind)
{
	return corun__failpoint_ops(kind);
}

unsigned long corun_priv_fail_failed(int kind)
{
	return corun__failpoint_failed(kind);
}

void corun_priv_fail_reset(void)
{
	corun__failpoint_reset();
}
#endif

#if defined(__clang__) && __clang_major__ >= 13
#pragma clang attribute pop
#endif
