/*
 * The kernel's limit on mappings per process (vm.max_map_count, 65530 by
 * default) is shared by everything in the process: malloc's arenas, the
 * dynamic loader, a sanitizer's allocator, the program's own mmaps. With
 * mprotect guards each stack splits its slab's mapping twice, so corun
 * alone could use the limit to the last mapping, and whoever maps next would
 * fail instead of corun_go (ASan's allocator, which then aborts the
 * process). So corun counts, process-wide, the mappings it may have made,
 * and refuses (ENOMEM) to make more once they would leave less than a
 * margin: an eighth of the limit, and at least 1,024.
 *
 * The count is an upper bound (a guard at the end of a slab splits it once,
 * and the kernel may merge neighbouring slabs), so corun never uses more
 * than its share. With MADV_GUARD_INSTALL guards only slabs count, one each.
 */
#include "stack.h"
#include "../failpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#define MARGIN_MIN 1024

static _Atomic size_t used;
static size_t budget;
static pthread_once_t budget_once = PTHREAD_ONCE_INIT;

static void read_limit(void)
{
	int saved = errno;
	long limit = 65530; /* the kernel's default */
	int fd = open("/proc/sys/vm/max_map_count", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		char buf[32];
		ssize_t n = read(fd, buf, sizeof buf - 1);
		close(fd);
		if (n > 0) {
			buf[n] = '\0';
			long v = strtol(buf, NULL, 10);
			if (v > 0)
				limit = v;
		}
	}
	long margin = limit / 8 > MARGIN_MIN ? limit / 8 : MARGIN_MIN;
	budget = limit > margin ? (size_t)(limit - margin) : 0;
	errno = saved;
}

size_t corun__maps_budget(void)
{
	pthread_once(&budget_once, read_limit);
	return budget;
}

int corun__maps_reserve(size_t n)
{
	if (corun__fail(CORUN__FAIL_MAP_LIMIT)) {
		errno = ENOMEM;
		return -1;
	}
	size_t cap = corun__maps_budget();
	size_t cur = atomic_load_explicit(&used, memory_order_relaxed);
	do {
		if (cur + n > cap) {
			errno = ENOMEM;
			return -1;
		}
	} while (!atomic_compare_exchange_weak_explicit(&used, &cur, cur + n, memory_order_relaxed,
							memory_order_relaxed));
	return 0;
}

void corun__maps_release(size_t n)
{
	atomic_fetch_sub_explicit(&used, n, memory_order_relaxed);
}
