/*
 * parsum: checksum every regular file under directory trees, on all cores.
 *
 *   parsum [-t THREADS] [-j JOBS] DIR...
 *
 * prints, for every regular file under the DIRs (symbolic links are not
 * followed), what cksum(1) prints for it: "CRC SIZE PATH", the POSIX CRC-32
 * with the length appended. Lines come sorted by path, byte by byte, so
 * the output is that of
 *
 *   find DIR... -type f -print0 | LC_ALL=C sort -z | xargs -0 cksum
 *
 * It uses the three pieces corun has for many threads:
 *  - a worker group (corun_group_start): THREADS worker threads (default:
 *    one per CPU), each with its runtime. main walks the trees with nftw
 *    and hands one task per file to whichever worker is free
 *    (corun_group_go, worker -1), at most JOBS at a time (default 64);
 *  - the blocking pool (corun_blocking): a task reads its file in 64 KiB
 *    chunks, each open and read run on a pool thread, so that a slow disk
 *    holds up no worker: its other tasks compute their CRCs meanwhile;
 *  - one shared channel (corun_chan_make_shared): every task, whatever its
 *    worker, sends its result (path, CRC, size, or an errno) on it to main,
 *    which collects them, sorts them and prints them at the end.
 * On a terminal, main keeps a progress line on stderr ("files done/found,
 * MiB read"), redrawn at most ten times a second; otherwise stderr gets
 * only errors. A file that cannot be read (or a directory that cannot be
 * listed) is reported as "parsum: PATH: reason" on stderr, in path order
 * with the rest, and makes the exit status 1.
 *
 * Memory: JOBS tasks, each with its 64 KiB buffer, and one result per file
 * (the sort needs them all).
 *
 * Build: cc parsum.c $(pkg-config --cflags --libs corun)
 */
#define _GNU_SOURCE /* nftw's FTW_PHYS */
#include <corun.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { CHUNK = 64 << 10 };

/* ---- the POSIX cksum CRC: polynomial 0x04C11DB7, most significant bit
 * first, starting from 0, the length appended (low byte first, as many
 * bytes as it takes), and the result inverted. Eight bytes a step with
 * eight tables (tab[k][b]: the CRC of byte b followed by k zero bytes), a
 * few times faster than a byte at a time. */
static uint32_t tab[8][256];

static void crc_init(void)
{
	for (uint32_t b = 0; b < 256; b++) {
		uint32_t c = b << 24;
		for (int i = 0; i < 8; i++)
			c = c & 0x80000000u ? c << 1 ^ 0x04C11DB7u : c << 1;
		tab[0][b] = c;
	}
	for (int k = 1; k < 8; k++)
		for (int b = 0; b < 256; b++)
			tab[k][b] = tab[k - 1][b] << 8 ^ tab[0][tab[k - 1][b] >> 24];
}

static uint32_t crc_update(uint32_t c, const unsigned char *p, size_t n)
{
	for (; n >= 8; p += 8, n -= 8) {
		c ^= (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
		c = tab[7][c >> 24] ^ tab[6][c >> 16 & 0xff] ^ tab[5][c >> 8 & 0xff] ^
		    tab[4][c & 0xff] ^ tab[3][p[4]] ^ tab[2][p[5]] ^ tab[1][p[6]] ^ tab[0][p[7]];
	}
	for (; n > 0; p++, n--)
		c = c << 8 ^ tab[0][(c >> 24) ^ *p];
	return c;
}

static uint32_t crc_finish(uint32_t c, uint64_t size)
{
	for (; size > 0; size >>= 8)
		c = c << 8 ^ tab[0][(c >> 24) ^ (size & 0xff)];
	return ~c;
}

/* ---- a task: one file */

/* What a task sends to main on the shared channel (copied by value; the
 * path goes with it: main frees it). */
struct result {
	char *path;
	uint32_t crc;
	int err; /* 0, or why the file could not be read */
	uint64_t size;
};

/* A task's state, shared with the pool thread that runs read_chunk for it
 * (one at a time: the task waits while it runs). */
struct job {
	char *path;
	int fd;   /* -1 before the open and after the close */
	int err;  /* errno of a failed open or read, copied from the pool thread */
	size_t n; /* bytes in buf after a read: CHUNK, or less at the end */
	unsigned char buf[CHUNK];
};

static corun_chan *results;

/*
 * On a pool thread: open the file on the first call, then fill buf (less
 * only at end of file), and close it at its end or on an error. Only the
 * system calls run here; the CRC of the chunk is computed by the task, on
 * its worker. The pool is for waiting (it grows to hundreds of threads
 * when calls block), the group for computing (one thread per CPU): a CRC
 * computed here would run on as many threads as there are files being
 * read, more than there are CPUs, and leave the workers with nothing to
 * do but hand over chunks. The price is one round trip to the pool per
 * chunk, small beside the CRC of 64 KiB (about 60 µs on a 2-vCPU VM);
 * while a task waits for its chunk, its worker computes the CRCs of the
 * others (hence JOBS well above THREADS).
 */
static void *read_chunk(void *arg)
{
	struct job *j = arg;
	if (j->fd < 0) {
		j->fd = open(j->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (j->fd < 0) {
			j->err = errno; /* the pool thread's errno: the task reads j->err */
			return NULL;
		}
	}
	j->n = 0;
	while (j->n < CHUNK) {
		ssize_t r = read(j->fd, j->buf + j->n, CHUNK - j->n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r < 0)
				j->err = errno;
			close(j->fd);
			j->fd = -1;
			break;
		}
		j->n += (size_t)r;
	}
	return NULL;
}

/* A coroutine on a worker: read the file chunk by chunk through the pool,
 * CRC each chunk here, and send the result to main. */
static void *checksum(void *arg)
{
	struct job *j = arg;
	uint32_t crc = 0;
	uint64_t size = 0;
	do {
		if (corun_blocking(read_chunk, j, NULL, -1) < 0) {
			j->err = errno; /* read_chunk did not run (EAGAIN, ENOMEM) */
			break;
		}
		crc = crc_update(crc, j->buf, j->n);
		size += j->n;
	} while (j->fd >= 0);
	if (j->fd >= 0)
		close(j->fd);

	struct result r = { .path = j->path, .crc = crc_finish(crc, size), .err = j->err,
			    .size = size };
	free(j);
	/* Never waits: the channel has room for every task main lets run. */
	if (corun_chan_send(results, &r, -1) < 0)
		abort();
	return NULL;
}

/* ---- main: walk, hand out, collect */

static struct {
	corun_group *group;
	size_t max_jobs, running;
	struct result *v; /* every result so far */
	size_t n, cap;
	size_t found;	/* regular files seen (and errors of the walk) */
	uint64_t bytes; /* read so far */
	int tty;	/* stderr is a terminal: draw the progress line */
	int64_t drawn;	/* when it was last drawn */
	int nomem;
} st;

static void keep(struct result r)
{
	if (st.n == st.cap) {
		size_t cap = st.cap ? 2 * st.cap : 1024;
		struct result *v = realloc(st.v, cap * sizeof(*v));
		if (!v) {
			/* Lose this one and say so at the end, rather than stop
			 * with tasks still running. */
			free(r.path);
			st.nomem = 1;
			return;
		}
		st.v = v;
		st.cap = cap;
	}
	st.v[st.n++] = r;
}

static void progress(int last)
{
	if (!st.tty)
		return;
	int64_t now = corun_now();
	if (!last && now - st.drawn < 100000000)
		return;
	st.drawn = now;
	fprintf(stderr, "\r%zu/%zu files, %.1f MiB%s", st.n, st.found,
		(double)st.bytes / (1 << 20), last ? "\n" : "");
}

/* Take one result from the channel (waiting for it: main's scheduler runs
 * meanwhile, though main has no coroutine of its own to run). */
static void collect(void)
{
	struct result r;
	if (corun_chan_recv(results, &r, -1) < 0) {
		perror("parsum: corun_chan_recv");
		exit(1);
	}
	st.running--;
	st.bytes += r.size;
	keep(r);
	progress(0);
}

static void fail(const char *path, int err)
{
	char *p = strdup(path);
	if (!p) {
		st.nomem = 1;
		return;
	}
	st.found++;
	keep((struct result){ .path = p, .err = err });
}

static int visit(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)ftw;
	if (type == FTW_DNR || type == FTW_NS) { /* nftw leaves the reason in errno */
		fail(path, errno ? errno : EACCES);
		return 0;
	}
	if (type != FTW_F || !S_ISREG(sb->st_mode))
		return 0; /* a directory, a symbolic link, a FIFO, a device... */

	while (st.running >= st.max_jobs)
		collect();
	struct job *j = malloc(sizeof(*j));
	char *p = strdup(path);
	if (!j || !p) {
		free(j);
		free(p);
		fail(path, ENOMEM);
		return 0;
	}
	*j = (struct job){ .path = p, .fd = -1 };
	corun_task *t = corun_group_go(st.group, -1, checksum, j);
	if (!t) {
		int err = errno;
		free(j);
		free(p);
		fail(path, err);
		return 0;
	}
	corun_task_detach(t); /* its result comes on the channel */
	st.running++;
	st.found++;
	progress(0);
	return 0;
}

static int by_path(const void *a, const void *b)
{
	return strcmp(((const struct result *)a)->path, ((const struct result *)b)->path);
}

static size_t number(const char *s, const char *what)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v == 0 || v > 4096) {
		fprintf(stderr, "parsum: %s: not a number from 1 to 4096: %s\n", what, s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	size_t threads = 0;
	st.max_jobs = 64;
	for (int c; (c = getopt(argc, argv, "t:j:")) != -1;) {
		if (c == 't')
			threads = number(optarg, "-t");
		else if (c == 'j')
			st.max_jobs = number(optarg, "-j");
		else
			goto usage;
	}
	if (optind == argc)
		goto usage;

	crc_init();
	st.tty = isatty(STDERR_FILENO);
	/* Room for every result that may be in flight: a task never waits to
	 * send, so nothing but main's pace holds up a worker. */
	results = corun_chan_make_shared(sizeof(struct result), st.max_jobs);
	st.group = corun_group_start(threads, 0);
	if (!results || !st.group) {
		perror("parsum");
		return 1;
	}

	for (int i = optind; i < argc; i++)
		if (nftw(argv[i], visit, 16, FTW_PHYS) < 0)
			fail(argv[i], errno);
	while (st.running > 0)
		collect();
	progress(1);

	/* Every task has sent its result, so every task has ended or is
	 * about to: the drain waits for those last few instructions. */
	if (corun_group_stop(st.group, CORUN_GROUP_DRAIN) < 0) {
		perror("parsum: corun_group_stop");
		return 1;
	}
	corun_chan_free(results);

	int status = 0;
	qsort(st.v, st.n, sizeof(*st.v), by_path);
	for (size_t i = 0; i < st.n; i++) {
		struct result *r = &st.v[i];
		if (r->err) {
			fflush(stdout); /* keep the order where both go to one file */
			fprintf(stderr, "parsum: %s: %s\n", r->path, strerror(r->err));
			status = 1;
		} else {
			printf("%" PRIu32 " %" PRIu64 " %s\n", r->crc, r->size, r->path);
		}
		free(r->path);
	}
	free(st.v);
	if (st.nomem) {
		fprintf(stderr, "parsum: out of memory: some files are missing\n");
		status = 1;
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		perror("parsum: stdout");
		status = 1;
	}
	return status;

usage:
	fprintf(stderr, "usage: parsum [-t THREADS] [-j JOBS] DIR...\n");
	return 2;
}
