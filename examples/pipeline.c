/*
 * A pipeline: producers, workers and a collector, joined by channels.
 *
 *   4 producers --jobs--> 8 workers --results--> collector --> main
 *
 * Producers send the numbers 1..N into `jobs`; workers square them (every
 * tenth takes a little longer: a short sleep) and send the squares into
 * `results`. A wait group tells when every producer is done, so that
 * `jobs` can be closed: the workers then see EPIPE and stop, and a second
 * wait group closes `results` behind the last worker. The collector sums
 * what arrives, giving up if nothing comes for a second. main waits for it
 * (corun_join runs the whole pipeline) and checks the sum.
 *
 * Build: cc pipeline.c $(pkg-config --cflags --libs corun)
 */
#include <corun.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

enum { N = 1000, PRODUCERS = 4, WORKERS = 8 };

static corun_chan *jobs, *results;
static corun_wg *producing, *working;

static void *producer(void *arg)
{
	int64_t first = (int64_t)(intptr_t)arg;
	for (int64_t v = first; v <= N; v += PRODUCERS)
		if (corun_chan_send(jobs, &v, -1) < 0)
			return (void *)(intptr_t)errno;
	corun_wg_done(producing);
	return NULL;
}

static void *worker(void *arg)
{
	(void)arg;
	int64_t v;
	while (corun_chan_recv(jobs, &v, -1) == 0) {
		if (v % 10 == 0)
			corun_sleep(100 * 1000); /* 100 µs: the others go on */
		int64_t sq = v * v;
		if (corun_chan_send(results, &sq, -1) < 0)
			break;
	}
	corun_wg_done(working);
	return NULL;
}

/* Close a channel once a wait group reaches zero. */
struct closer {
	corun_wg *wg;
	corun_chan *ch;
};

static void *close_after(void *arg)
{
	struct closer *c = arg;
	corun_wg_wait(c->wg, -1);
	corun_chan_close(c->ch);
	return NULL;
}

static void *collector(void *arg)
{
	int64_t *sum = arg, sq;
	int count = 0;
	for (;;) {
		if (corun_chan_recv(results, &sq, corun_now() + 1000000000) < 0) {
			if (errno == EPIPE) /* closed and drained: all of them came */
				break;
			fprintf(stderr, "collector: %s after %d results\n", strerror(errno), count);
			return (void *)(intptr_t)-1;
		}
		*sum += sq;
		count++;
	}
	return (void *)(intptr_t)count;
}

int main(void)
{
	jobs = corun_chan_make(sizeof(int64_t), 16);
	results = corun_chan_make(sizeof(int64_t), 16);
	producing = corun_wg_make();
	working = corun_wg_make();
	if (!jobs || !results || !producing || !working) {
		perror("pipeline");
		return 1;
	}
	corun_wg_add(producing, PRODUCERS);
	corun_wg_add(working, WORKERS);

	static struct closer close_jobs, close_results;
	close_jobs = (struct closer){ producing, jobs };
	close_results = (struct closer){ working, results };
	corun_attr a;
	corun_attr_init(&a);
	a.stack_size = CORUN_STACK_MIN;
	a.flags = CORUN_DETACHED;
	for (int i = 1; i <= PRODUCERS; i++)
		corun_go_attr(producer, (void *)(intptr_t)i, &a);
	for (int i = 0; i < WORKERS; i++)
		corun_go_attr(worker, NULL, &a);
	corun_go_attr(close_after, &close_jobs, &a);
	corun_go_attr(close_after, &close_results, &a);

	static int64_t sum;
	void *count;
	corun_t c = corun_go(collector, &sum);
	if (corun_join(c, &count) < 0) {
		perror("corun_join");
		return 1;
	}
	corun_run(); /* let the detached ones finish */

	int64_t want = (int64_t)N * (N + 1) * (2 * N + 1) / 6;
	printf("%d results, sum of squares 1..%d = %" PRId64 " (%s)\n", (int)(intptr_t)count, N,
	       sum, sum == want ? "right" : "WRONG");
	corun_chan_free(jobs);
	corun_chan_free(results);
	corun_wg_free(producing);
	corun_wg_free(working);
	return sum == want && (intptr_t)count == N ? 0 : 1;
}
