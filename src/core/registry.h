/*
 * The registry (registry.c): every runtime of the process, for debuggers
 * (tools/gdb/corun-gdb.py). A debugger finds a thread's runtime here by the
 * thread's kernel id, reading memory only: the thread-local corun__tls can
 * be read from outside only through libthread_db, which a core file of a
 * static program, or one read on another machine, does without. Kept under
 * a lock, and only when a runtime is made or released: neither a switch
 * nor a spawn touches it. A debugger that stops the process while a thread
 * is linking or unlinking may see the list half updated; links are
 * written so that a reader from head always meets whole runtimes (a new
 * one is complete before it is linked).
 *
 * It lives alone in the section CORUN__REGISTRY_SECTION, which strip keeps
 * (it is loaded data): a debugger finds it by the section in the program or
 * library's section headers, where the symbol corun__registry is gone (a
 * stripped program: it is a hidden symbol, in no dynamic symbol table).
 * From it, the layout tables (layout.h) give every offset and constant the
 * debugger needs, so it needs no debug information either.
 *
 * The layout of this struct is an interface with the debugger script, as
 * is the entry format of the tables: change them together, and bump
 * version. Version 2 added layout.
 */
#ifndef CORUN_REGISTRY_H
#define CORUN_REGISTRY_H

#include <stdint.h>

struct corun__rt;

/* The runtime's part: its links on the list. */
struct corun__reg {
	struct corun__rt *next, *prev;
	uintptr_t thread;       /* pthread_self() of its thread */
	int32_t tid;            /* its thread's kernel id (gettid) */
};

#define CORUN__REGISTRY_MAGIC 0x636f7275726567ull /* "corureg" */
#define CORUN__REGISTRY_VERSION 2u
#define CORUN__REGISTRY_SECTION "corun_registry"

struct corun__layout_entry;

struct corun__registry {
	uint64_t magic;          /* CORUN__REGISTRY_MAGIC */
	uint32_t version;        /* CORUN__REGISTRY_VERSION */
	uint32_t count;          /* runtimes on the list */
	struct corun__rt *head;  /* newest first, through reg.next */
	const struct corun__layout_entry *const *layout; /* corun__layouts */
};

extern struct corun__registry corun__registry;

/* Around a fork (fork.c): the lock is held across it, so that the child
 * finds the list whole; the child's step keeps only its own runtime (rt,
 * NULL if its thread has none) on the list, and lets the lock go. */
void corun__registry_lock(void);
void corun__registry_unlock(void);
void corun__registry_fork_child(struct corun__rt *rt);

/* A runtime made and complete goes on the list; one being released comes
 * off it. */
void corun__registry_add(struct corun__rt *rt);
void corun__registry_remove(struct corun__rt *rt);

#endif
