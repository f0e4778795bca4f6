/*
 * The file benchmark's corun side (bench/files/run.sh): N coroutines on one
 * thread, each reading 4 KiB at a random 4 KiB-aligned offset of one file
 * with corun_pread, one read in flight each, over and over for a fixed
 * time; fio --rw=randread --bs=4k --iodepth=N is its counterpart. The
 * reads are buffered by default, so that a file in the page cache is read
 * from memory (run.sh reads it into the cache first); -D opens the file
 * with O_DIRECT, every read then going to the device.
 *
 * Which backend serves the reads is the environment's choice
 * (CORUN_IO=io_uring or epoll; on epoll each read is a job for the
 * blocking pool, up to N pool threads at once) and is printed, as corun
 * reports it, so that a run that fell back from io_uring says so.
 *
 * After a warm-up it counts the reads completed in a window and prints
 * one line:
 *   n=N secs=S reads=R iops=X backend=io_uring|epoll direct=0|1
 *   cpu_us_per_read=C enters_per_read=E
 * cpu: user and system time of the whole process (the pool's threads and
 * the kernel's io_uring workers are threads of it) in the window, per
 * read; enters: io_uring_enter calls per read (0 on epoll).
 *
 * Usage: corun_fileread [-n N] [-d SECS] [-w WARMUP_S] [-D] FILE
 */
#define _GNU_SOURCE
#include <corun.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define BS 4096

static int fd;
static uint64_t blocks;		/* BS-byte blocks in the file */
static uint64_t done;		/* reads completed, by all readers */
static int stopping;
static int failed;

struct reader {
	uint64_t rng;	/* xorshift64 state, never 0 */
	char *buf;	/* BS bytes, BS-aligned (O_DIRECT wants it) */
};

static uint64_t next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void *reader(void *arg)
{
	struct reader *r = arg;
	while (!stopping) {
		off_t off = (off_t)(next(&r->rng) % blocks * BS);
		ssize_t n = corun_pread(fd, r->buf, BS, off, -1);
		if (n != BS) {
			if (!failed)
				fprintf(stderr, "corun_pread: %s (at %lld)\n",
					n < 0 ? strerror(errno) : "short read", (long long)off);
			failed = 1;
			stopping = 1;
			break;
		}
		done++;
	}
	return NULL;
}

static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static struct corun_stats stats(void)
{
	struct corun_stats s = { .size = sizeof s };
	corun_stats(&s);
	return s;
}

static void usage(void)
{
	fprintf(stderr, "usage: corun_fileread [-n N] [-d SECS] [-w WARMUP_S] [-D] FILE\n");
	exit(2);
}

int main(int argc, char **argv)
{
	long n = 1;
	double secs = 5, warm = 1;
	int direct = 0, opt;
	while ((opt = getopt(argc, argv, "n:d:w:D")) != -1) {
		switch (opt) {
		case 'n': n = atol(optarg); break;
		case 'd': secs = atof(optarg); break;
		case 'w': warm = atof(optarg); break;
		case 'D': direct = 1; break;
		default: usage();
		}
	}
	if (optind != argc - 1 || n < 1 || secs <= 0 || warm < 0)
		usage();
	const char *path = argv[optind];
	fd = open(path, O_RDONLY | O_CLOEXEC | (direct ? O_DIRECT : 0));
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		perror(path);
		return 1;
	}
	blocks = (uint64_t)st.st_size / BS;
	if (blocks == 0) {
		fprintf(stderr, "%s: smaller than %d bytes\n", path, BS);
		return 1;
	}

	struct reader *rs = calloc((size_t)n, sizeof *rs);
	corun_t *hs = calloc((size_t)n, sizeof *hs);
	if (!rs || !hs)
		return 1;
	for (long i = 0; i < n; i++) {
		rs[i].rng = 0x9E3779B97F4A7C15u * (uint64_t)(i + 1);
		if (posix_memalign((void **)&rs[i].buf, BS, BS) != 0 ||
		    (hs[i] = corun_go(reader, &rs[i])) < 0) {
			perror("setup");
			return 1;
		}
	}

	/* main sleeps through the warm-up and the window; the scheduler runs
	 * the readers meanwhile. */
	corun_sleep((int64_t)(warm * 1e9));
	uint64_t d0 = done;
	uint64_t e0 = stats().io_enters;
	double c0 = cpu_s();
	int64_t t0 = corun_now();
	corun_sleep((int64_t)(secs * 1e9));
	uint64_t d1 = done;
	uint64_t e1 = stats().io_enters;
	double c1 = cpu_s();
	int64_t t1 = corun_now();
	stopping = 1;
	for (long i = 0; i < n; i++)
		corun_join(hs[i], NULL);
	if (failed)
		return 1;

	struct corun_stats s = stats();
	double w = (double)(t1 - t0) / 1e9, reads = (double)(d1 - d0);
	printf("n=%ld secs=%.3f reads=%llu iops=%.0f backend=%s direct=%d "
	       "cpu_us_per_read=%.3f enters_per_read=%.4f\n",
	       n, w, (unsigned long long)(d1 - d0), reads / w,
	       s.io_backend == CORUN_IO_URING ? "io_uring" :
	       s.io_backend == CORUN_IO_EPOLL ? "epoll" : "none",
	       direct, reads > 0 ? (c1 - c0) * 1e6 / reads : 0,
	       reads > 0 ? (double)(e1 - e0) / reads : 0);
	return 0;
}
