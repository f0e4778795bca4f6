/*
 * Wait groups and mutexes (sync.c): what the rest of the runtime needs of
 * them.
 */
#ifndef CORUN_SYNC_H
#define CORUN_SYNC_H

#include "runtime.h"

/* co has ended holding the mutexes on co->held (CORUN__F_HOLDS): hand each
 * to its next waiter, whose lock fails with EOWNERDEAD holding it, or
 * leave it free and abandoned, for the next corun_mutex_lock to say so. */
void corun__mutex_orphans(struct corun__rt *rt, struct corun__co *co);

#endif
