/*
 * Unloading corun: a host that does not link corun loads a plugin that
 * does (libcorun.so), uses it on two threads, and unloads it with dlclose
 * while the second thread still holds its runtime. libcorun.so is linked
 * with -z nodelete, so it stays: without that, dlclose would unmap the
 * SIGSEGV handler corun installed over the host's, and the key destructor
 * that releases a thread's runtime, and the process would die of a fault in
 * unmapped code, at that thread's exit or at the next fault.
 *
 * Checked, in order: the plugin's coroutines run; dlclose succeeds and the
 * plugin is gone; the holding thread then exits cleanly (its runtime
 * released by corun's key destructor); a real SIGSEGV afterwards reaches
 * the host's own handler, through corun's, which chains to it.
 *
 * Usage: test_unload PLUGIN.so
 */
#include "../check.h"

#include <dlfcn.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef VALGRIND_DISABLE_ERROR_REPORTING /* no valgrind.h */
#define VALGRIND_DISABLE_ERROR_REPORTING ((void)0)
#define VALGRIND_ENABLE_ERROR_REPORTING ((void)0)
#endif

typedef long (*run_fn)(int);
typedef int (*count_fn)(void);

static run_fn plugin_run;
static count_fn plugin_count;

/* The thread that holds a runtime: reports when it has one, then waits for
 * the host to unload the plugin. Its code is the host's, so it still exists
 * after dlclose. */
static int ready[2], release_pipe[2];

static void *holder(void *arg)
{
	(void)arg;
	char c = plugin_run(3) == 1 + 4 + 9 ? 'y' : 'n';
	CHECK_EQ(write(ready[1], &c, 1), 1);
	CHECK_EQ(read(release_pipe[0], &c, 1), 1);
	return NULL; /* the runtime goes with the thread, in corun's destructor */
}

/* dlsym's object pointer into a function pointer, which ISO C has no cast
 * for (POSIX guarantees the representations agree). */
static void lookup(void *plugin, const char *name, void *fn, size_t size)
{
	void *sym = dlsym(plugin, name);
	if (!sym)
		CHECK_FAIL("dlsym %s: %s", name, dlerror());
	CHECK_EQ(size, sizeof sym);
	memcpy(fn, &sym, size);
}

static sigjmp_buf back;
static void *volatile fault_page;
static volatile sig_atomic_t own_ran;

static void own_handler(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (sig == SIGSEGV && si->si_addr == fault_page)
		own_ran = 1;
	siglongjmp(back, 1);
}

int main(int argc, char **argv)
{
	CHECK_EQ(argc, 2);
	long pg = sysconf(_SC_PAGESIZE);

	/* The host's crash handler comes first, as a host's does. */
	install_segv_handler(own_handler);

	void *plugin = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (!plugin)
		CHECK_FAIL("dlopen: %s", dlerror());
	lookup(plugin, "plugin_run", &plugin_run, sizeof plugin_run);
	lookup(plugin, "plugin_count", &plugin_count, sizeof plugin_count);

	/* Coroutines on this thread, which keeps its runtime (and corun's
	 * handler is installed by its first spawn). */
	CHECK_EQ(plugin_run(10), 385);
	CHECK_EQ(plugin_count(), 0);

	/* A second thread with a runtime, still alive during dlclose. */
	CHECK_EQ(pipe(ready), 0);
	CHECK_EQ(pipe(release_pipe), 0);
	pthread_t t;
	CHECK_EQ(pthread_create(&t, NULL, holder, NULL), 0);
	char c;
	CHECK_EQ(read(ready[0], &c, 1), 1);
	CHECK_EQ(c, 'y');

	plugin_run = NULL;
	plugin_count = NULL;
	if (dlclose(plugin) != 0)
		CHECK_FAIL("dlclose: %s", dlerror());
	/* The plugin itself is unloaded; corun stays behind it. */
	CHECK(dlopen(argv[1], RTLD_NOW | RTLD_NOLOAD) == NULL);

	/* The holder exits holding its runtime. */
	c = 'x';
	CHECK_EQ(write(release_pipe[1], &c, 1), 1);
	CHECK_EQ(pthread_join(t, NULL), 0);

	/* A real fault, not in a corun guard: corun's handler passes it on to
	 * the host's, which jumps back here. */
	void *p = mmap(NULL, (size_t)pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(p != MAP_FAILED);
	fault_page = p;
	/* memcheck would count the write as an invalid one, and make the
	 * exit status its own; the fault is wanted here. */
	VALGRIND_DISABLE_ERROR_REPORTING;
	if (sigsetjmp(back, 1) == 0) {
		*(volatile char *)p = 1;
		CHECK_FAIL("writing to a PROT_NONE page did not fault");
	}
	VALGRIND_ENABLE_ERROR_REPORTING;
	CHECK_EQ(own_ran, 1);
	CHECK_EQ(munmap(p, (size_t)pg), 0);
	for (int i = 0; i < 2; i++) {
		close(ready[i]);
		close(release_pipe[i]);
	}
	fprintf(stderr, "unload: plugin unloaded; the holding thread exited; the host's handler ran\n");
	return 0;
}
