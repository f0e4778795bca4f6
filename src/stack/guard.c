/*
 * Guards (CORUN__GUARD_SIZE bytes: see stack.h). With Linux >= 6.13,
 * MADV_GUARD_INSTALL marks pages inside an existing mapping as faulting
 * without splitting it, so a slab of a thousand stacks stays one kernel
 * mapping. Elsewhere, mprotect(PROT_NONE) splits the mapping around each
 * guard, two mappings per stack, and vm.max_map_count (65530 by default)
 * caps a process near 32 thousand guarded stacks.
 */
#include "stack.h"
#include "../failpoint.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102 /* linux/mman.h since 6.13 */
#endif

static pthread_once_t probe_once = PTHREAD_ONCE_INIT;
static enum corun__guard_kind kind; /* written once, under probe_once */

/*
 * Does a page guarded by madvise really fault? Ask the kernel to write into
 * it: a real guard makes the system call fail with EFAULT instead of the
 * process taking a SIGSEGV. clock_gettime is called as a raw system call
 * (the vDSO would write from user space and fault for real); it needs no
 * file descriptor, so the answer cannot depend on how many are free.
 */
static int madvise_guard_works(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	int works = 0;
	char *p = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return 0;
	if (madvise(p, page, MADV_GUARD_INSTALL) == 0) {
		long r = syscall(SYS_clock_gettime, CLOCK_MONOTONIC, (struct timespec *)p);
		works = r < 0 && errno == EFAULT;
	}
	munmap(p, 2 * page);
	return works;
}

static void probe(void)
{
	int saved = errno;
	const char *force = getenv("CORUN_GUARD");
	if (force && strcmp(force, "mprotect") == 0)
		kind = CORUN__GUARD_MPROTECT;
	else
		kind = madvise_guard_works() ? CORUN__GUARD_MADVISE : CORUN__GUARD_MPROTECT;
	errno = saved;
}

enum corun__guard_kind corun__guard_kind(void)
{
	pthread_once(&probe_once, probe);
	return kind;
}

int corun__guard_install(void *lo, size_t len)
{
	if (corun__fail(CORUN__FAIL_GUARD)) {
		errno = ENOMEM;
		return -1;
	}
	if (corun__guard_kind() == CORUN__GUARD_MADVISE)
		return madvise(lo, len, MADV_GUARD_INSTALL);
	/* mprotect reports the map limit as ENOMEM, as we document. */
	return mprotect(lo, len, PROT_NONE);
}
