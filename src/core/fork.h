/*
 * fork (fork.c): what a child keeps of corun, and what it must not share
 * with its parent.
 */
#ifndef CORUN_FORK_H
#define CORUN_FORK_H

/* Install the handlers that fork(2) runs (pthread_atfork), once per
 * process; called as each runtime is made, before any can have anything
 * to share. */
void corun__fork_watch(void);

#endif
