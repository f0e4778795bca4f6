/*
 * Fetch URLs concurrently with libcurl's multi interface, in one thread:
 * corun coroutines wait on curl's sockets and its timer and drive
 * curl_multi_socket_action, and one deadline covers the whole run.
 *
 *   curl_multi [-d MS] [-c CONNS] [-o DIR] URL...
 *
 * -d: the deadline, MS milliseconds from the start (default 30000): a
 *     transfer not done by then is abandoned and reported so.
 * -c: at most CONNS connections at once (default: no limit).
 * -o: write the body of the Nth URL to DIR/N (N from 1).
 *
 * It prints one line per URL, in their order: "URL: HTTP 200, 5 bytes",
 * or what went wrong ("URL: Couldn't connect to server", "URL: no answer
 * by the deadline"), and exits 1 if any transfer failed or was answered
 * with a status other than 2xx.
 *
 * The pattern (docs/integration.md): curl says which sockets it wants
 * watched, and for what (the socket callback), and when it wants to be
 * called whatever happens (the timer callback). Each watched socket gets a
 * coroutine that waits in corun_wait_fd for what curl asked and then tells
 * curl; the timer gets a coroutine that sleeps until curl's time and then
 * tells curl. The callbacks themselves only record what curl wants and
 * start or cancel those coroutines: they run inside curl, so they must not
 * wait, and only coroutines outside curl call into it again.
 *
 * Build: cc curl_multi.c $(pkg-config --cflags --libs corun libcurl)
 */
#define _GNU_SOURCE
#include <corun.h>
#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MS ((int64_t)1000 * 1000)

struct transfer {
	const char *url;
	CURL *easy;
	FILE *out; /* -o: the body's file; otherwise bodies are only counted */
	size_t bytes;
	long status;
	CURLcode result;
	int done;
	char error[CURL_ERROR_SIZE];
};

/* A socket curl wants watched, and the coroutine that waits on it. */
struct watch {
	struct state *s;
	curl_socket_t fd;
	int events;     /* POLLIN, POLLOUT or both: what curl asked for */
	corun_t co;     /* the watcher, 0 once it has ended */
	int retired;    /* curl no longer wants this: the watcher ends */
	struct watch *prev, *next;
};

struct state {
	CURLM *multi;
	corun_wg *pending; /* transfers not done yet */
	int closing;       /* past the deadline or done: start nothing new */
	int64_t timer_at;  /* when curl wants CURL_SOCKET_TIMEOUT; -1: never */
	int64_t sleep_at;  /* until when the timer coroutine sleeps */
	corun_t timer;     /* the timer coroutine, 0 when there is none */
	struct watch watches; /* the list's head: every watch not yet freed */
};

/* Tell curl what happened on fd (or CURL_SOCKET_TIMEOUT), and collect the
 * transfers it finished. Only coroutines call it, never a callback, so
 * curl is never entered while it runs. */
static void drive(struct state *s, curl_socket_t fd, int flags)
{
	int running;
	CURLMcode rc = curl_multi_socket_action(s->multi, fd, flags, &running);
	if (rc != CURLM_OK)
		fprintf(stderr, "curl_multi_socket_action: %s\n", curl_multi_strerror(rc));
	CURLMsg *m;
	int left;
	while ((m = curl_multi_info_read(s->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		CURL *easy = m->easy_handle;
		struct transfer *t;
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&t);
		t->result = m->data.result; /* m is gone after the removal */
		curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &t->status);
		t->done = 1;
		curl_multi_remove_handle(s->multi, easy);
		corun_wg_done(s->pending);
	}
}

static void forget(struct watch *w)
{
	w->prev->next = w->next;
	w->next->prev = w->prev;
	free(w);
}

/* Wait for what curl asked on one socket, tell curl, and again, until curl
 * no longer wants it. The wait has no deadline of its own: the overall
 * deadline is main's, and curl's own timeouts come through its timer. */
static void *watcher(void *arg)
{
	struct watch *w = arg;
	while (!w->retired) {
		int r = corun_wait_fd(w->fd, w->events, -1);
		if (w->retired)
			break; /* canceled (ECANCELED), or curl changed its mind */
		int flags = CURL_CSELECT_ERR;
		if (r >= 0) {
			/* An error or hang-up: let curl's own call on the
			 * socket meet it, in the direction it waits for. */
			if (r & (POLLERR | POLLHUP))
				r |= w->events;
			flags = ((r & POLLIN) ? CURL_CSELECT_IN : 0) |
				((r & POLLOUT) ? CURL_CSELECT_OUT : 0) |
				((r & POLLERR) ? CURL_CSELECT_ERR : 0);
		}
		drive(w->s, w->fd, flags);
		if (r < 0 && !w->retired) {
			/* The socket cannot be waited on (EBADF: closed under
			 * curl) and curl kept it after hearing so: stop
			 * watching; the socket callback frees w. */
			w->co = 0;
			return NULL;
		}
	}
	forget(w);
	return NULL;
}

/* curl no longer wants w: its watcher ends (at once if it waits: the
 * cancel wakes it, and frees the descriptor's slot for a new watcher). */
static void retire(struct watch *w)
{
	w->retired = 1;
	if (w->co)
		corun_cancel(w->co);
	else
		forget(w);
}

static corun_t spawn(corun_fn fn, void *arg, const char *name)
{
	corun_attr a;
	corun_attr_init(&a);
	a.flags = CORUN_DETACHED;
	a.name = name;
	return corun_go_attr(fn, arg, &a);
}

/* CURLMOPT_SOCKETFUNCTION: curl wants fd watched for `what`, or no longer
 * (CURL_POLL_REMOVE). At most one coroutine may wait on a descriptor in
 * each direction (corun_wait_fd fails with EBUSY otherwise), so a change
 * retires the socket's watcher before the next starts. */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	(void)easy;
	struct state *s = userp;
	struct watch *w = socketp;
	int events = what == CURL_POLL_IN      ? POLLIN
		     : what == CURL_POLL_OUT   ? POLLOUT
		     : what == CURL_POLL_INOUT ? POLLIN | POLLOUT
					       : 0;
	if (w && w->events == events)
		return 0;
	if (w)
		retire(w);
	if (!events || s->closing)
		return 0;
	w = calloc(1, sizeof *w);
	if (!w)
		return -1;
	*w = (struct watch){ .s = s, .fd = fd, .events = events };
	char name[32];
	snprintf(name, sizeof name, "curl fd %d", (int)fd);
	w->co = spawn(watcher, w, name);
	if (w->co < 0) {
		free(w);
		return -1; /* curl fails the transfer */
	}
	w->next = s->watches.next;
	w->prev = &s->watches;
	w->next->prev = w;
	s->watches.next = w;
	curl_multi_assign(s->multi, fd, w);
	return 0;
}

/* Sleep until curl's time, tell curl, and again. A timer moved later is
 * found on waking; one moved earlier replaces this coroutine, with a
 * cancel. So does the end: the cancel may come after the sleep has ended
 * (the coroutine woken but not yet run), hence corun_canceled. */
static void *timer(void *arg)
{
	struct state *s = arg;
	for (;;) {
		int64_t at = s->timer_at;
		s->sleep_at = at;
		if (corun_sleep_until(at) < 0 || corun_canceled())
			return NULL;
		if (s->timer_at != at)
			continue;
		s->timer_at = -1;
		drive(s, CURL_SOCKET_TIMEOUT, 0);
	}
}

/* CURLMOPT_TIMERFUNCTION: call curl in ms milliseconds (0: as soon as
 * possible; -1: no timer). A cancel cannot be undone, so a timer that must
 * fire sooner than the coroutine sleeps gets a new coroutine. */
static int on_timer(CURLM *multi, long ms, void *userp)
{
	(void)multi;
	struct state *s = userp;
	s->timer_at = ms < 0 ? -1 : corun_now() + ms * MS;
	if (s->closing)
		return 0;
	if (s->timer && (s->timer_at == -1 || (s->sleep_at != -1 && s->sleep_at <= s->timer_at)))
		return 0; /* it wakes by then anyway, and looks again */
	if (s->timer)
		corun_cancel(s->timer);
	s->timer = spawn(timer, s, "curl timer");
	if (s->timer < 0) {
		s->timer = 0;
		return -1;
	}
	s->sleep_at = s->timer_at;
	return 0;
}

/* CURLOPT_CLOSESOCKETFUNCTION: corun_close rather than close(2), so that
 * corun forgets the number before a new socket takes it (on the epoll
 * backend a wait on a reused number could otherwise wake late). */
static int on_close(void *userp, curl_socket_t fd)
{
	(void)userp;
	return corun_close(fd);
}

static size_t on_body(char *data, size_t size, size_t n, void *userp)
{
	struct transfer *t = userp;
	t->bytes += n;
	if (t->out && fwrite(data, size, n, t->out) != n)
		return 0; /* curl fails the transfer (CURLE_WRITE_ERROR) */
	return n;
}

static int usage(void)
{
	fprintf(stderr, "usage: curl_multi [-d MS] [-c CONNS] [-o DIR] URL...\n");
	return 2;
}

int main(int argc, char **argv)
{
	long deadline_ms = 30000, conns = 0;
	const char *dir = NULL;
	int opt;
	while ((opt = getopt(argc, argv, "d:c:o:")) != -1) {
		char *end;
		switch (opt) {
		case 'd':
			deadline_ms = strtol(optarg, &end, 10);
			if (*end || deadline_ms < 0)
				return usage();
			break;
		case 'c':
			conns = strtol(optarg, &end, 10);
			if (*end || conns < 0)
				return usage();
			break;
		case 'o':
			dir = optarg;
			break;
		default:
			return usage();
		}
	}
	int n = argc - optind;
	if (n < 1)
		return usage();
	int64_t deadline = corun_now() + deadline_ms * MS;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "curl_multi: curl_global_init failed\n");
		return 1;
	}
	struct state s = { .timer_at = -1, .sleep_at = -1 };
	s.watches.next = s.watches.prev = &s.watches;
	s.multi = curl_multi_init();
	s.pending = corun_wg_make();
	struct transfer *ts = calloc((size_t)n, sizeof *ts);
	if (!s.multi || !s.pending || !ts || corun_wg_add(s.pending, n) < 0) {
		fprintf(stderr, "curl_multi: out of memory\n");
		return 1;
	}
	curl_multi_setopt(s.multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(s.multi, CURLMOPT_SOCKETDATA, &s);
	curl_multi_setopt(s.multi, CURLMOPT_TIMERFUNCTION, on_timer);
	curl_multi_setopt(s.multi, CURLMOPT_TIMERDATA, &s);
	curl_multi_setopt(s.multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, conns);

	for (int i = 0; i < n; i++) {
		struct transfer *t = &ts[i];
		t->url = argv[optind + i];
		if (dir) {
			char path[4096];
			snprintf(path, sizeof path, "%s/%d", dir, i + 1);
			if (!(t->out = fopen(path, "wb"))) {
				perror(path);
				return 1;
			}
		}
		if (!(t->easy = curl_easy_init())) {
			fprintf(stderr, "curl_multi: curl_easy_init failed\n");
			return 1;
		}
		curl_easy_setopt(t->easy, CURLOPT_URL, t->url);
		curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
		curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, t);
		curl_easy_setopt(t->easy, CURLOPT_ERRORBUFFER, t->error);
		curl_easy_setopt(t->easy, CURLOPT_CLOSESOCKETFUNCTION, on_close);
		/* No signals: curl's own resolver timeouts would use SIGALRM. */
		curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
		/* Adding sets curl's timer to 0: the timer coroutine starts it. */
		curl_multi_add_handle(s.multi, t->easy);
	}

	/* From main, the wait runs the coroutines until every transfer is
	 * done or the deadline passes (ETIMEDOUT). */
	if (corun_wg_wait(s.pending, deadline) < 0 && errno != ETIMEDOUT) {
		perror("corun_wg_wait");
		return 1;
	}

	/* Abandon what is left: removing a transfer makes curl remove its
	 * sockets (their watchers are canceled); cleaning up the multi handle
	 * closes the connections it kept for reuse. */
	s.closing = 1;
	if (s.timer)
		corun_cancel(s.timer);
	for (int i = 0; i < n; i++) {
		if (!ts[i].done)
			curl_multi_remove_handle(s.multi, ts[i].easy);
		curl_easy_cleanup(ts[i].easy);
	}
	curl_multi_cleanup(s.multi);
	for (struct watch *w = s.watches.next, *next; w != &s.watches; w = next) {
		next = w->next;
		retire(w);
	}
	corun_run(); /* the canceled coroutines end */

	int failed = 0;
	for (int i = 0; i < n; i++) {
		struct transfer *t = &ts[i];
		if (t->out && fclose(t->out) != 0)
			t->result = CURLE_WRITE_ERROR;
		if (!t->done) {
			printf("%s: no answer by the deadline\n", t->url);
			failed = 1;
		} else if (t->result != CURLE_OK) {
			printf("%s: %s\n", t->url, t->error[0] ? t->error : curl_easy_strerror(t->result));
			failed = 1;
		} else {
			printf("%s: HTTP %ld, %zu bytes\n", t->url, t->status, t->bytes);
			failed |= t->status < 200 || t->status > 299;
		}
	}
	free(ts);
	corun_wg_free(s.pending);
	curl_global_cleanup();
	return failed;
}
