/*
 * What the example servers (echo_server, http_hello) share: the command
 * line `[-t N] [-g] PORT`, the listening sockets, one runtime per thread,
 * and the accept loop. A server only says what to do with one connection.
 */
#ifndef CORUN_EXAMPLE_SERVE_H
#define CORUN_EXAMPLE_SERVE_H

#include <stddef.h>

/*
 * Serve one connection: runs in a coroutine of its own (detached, on a
 * serve_stack_size stack, below, in SO_REUSEPORT mode, so big buffers
 * belong on the heap; a group task's default stack in hand-off mode), owns
 * fd and must corun_close it before it returns.
 */
typedef void (*serve_conn_fn)(int fd);

/* The connections' stack size in SO_REUSEPORT mode: CORUN_STACK_MIN unless
 * the server sets more before serve_main (https_hello: OpenSSL's handshake
 * needs more). */
extern size_t serve_stack_size;

/*
 * Parse `[-t N] [-g] PORT`, listen on PORT (0: a free one) from N threads,
 * each with its own socket bound with SO_REUSEPORT and its own runtime
 * (or, with -g, from the main thread alone, which hands each connection
 * to a worker group of N threads), print "listening on PORT" with the real
 * port, and hand every accepted connection to conn. Returns only on a
 * usage or setup error, with the program's exit status.
 */
int serve_main(const char *prog, int argc, char **argv, serve_conn_fn conn);

/* Set the soft limit on descriptors to the hard limit. */
void raise_nofile_limit(void);

#endif
