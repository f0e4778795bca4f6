/*
 * TLS (OpenSSL) on corun descriptors: the handshake and every record go
 * through corun_read and corun_write, so an SSL call waits as any corun
 * call does (other coroutines run meanwhile), until a deadline, and fails
 * with ECANCELED when its coroutine is canceled. Used by https_hello.c and
 * tests/net/tls_cancel.c; tls_conn.c says how.
 *
 * Each call takes a deadline, as corun's blocking calls do (absolute, from
 * corun_now(); -1: none), and returns -1 with errno:
 *   ETIMEDOUT, ECANCELED, EBADF...  from corun_read or corun_write, as the
 *              BIO met them (the peer stalled, the coroutine was canceled,
 *              the descriptor was closed under it), or the socket's own
 *              errors (ECONNRESET, EPIPE)
 *   ECONNABORTED  the peer closed the connection during the handshake
 *   EPROTO     TLS failed: a bad record, no common cipher, a certificate
 *              the client refused (OpenSSL's reason is left unprinted)
 *   ENOMEM     OpenSSL ran out of memory
 * The descriptor stays the caller's: tls_free does not close it.
 */
#ifndef CORUN_EXAMPLE_TLS_CONN_H
#define CORUN_EXAMPLE_TLS_CONN_H

#include <openssl/ssl.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * A server context from a PEM certificate (chain) and private key; with
 * cert and key NULL, from a self-signed P-256 certificate for CN=localhost
 * made in memory now (for tests and trying things out). TLS 1.2 and 1.3.
 * NULL on failure, with OpenSSL's errors printed on stderr.
 */
SSL_CTX *tls_server_ctx(const char *cert, const char *key);

/* A client context that checks no certificate (tests only). */
SSL_CTX *tls_client_ctx(void);

/* A connection over fd, with the corun BIO; NULL with errno ENOMEM. */
SSL *tls_new(SSL_CTX *ctx, int fd);

/* The handshake: SSL_accept for a server context, SSL_connect for a
 * client's. 0, or -1 with errno. */
int tls_handshake(SSL *ssl, int64_t deadline);

/* SSL_read: 1 to n bytes, 0 when the peer has ended the connection (a
 * close_notify, or TCP's end of stream without one), or -1 with errno. */
ssize_t tls_read(SSL *ssl, void *buf, size_t n, int64_t deadline);

/* SSL_write, all of it: n, or -1 with errno. */
ssize_t tls_write(SSL *ssl, const void *buf, size_t n, int64_t deadline);

/*
 * Send close_notify, unless the connection has failed or the peer has
 * closed TCP (nobody would read it). It does not wait for the peer's: a
 * server that closes next has no more use for the connection, and HTTP
 * marks the end of each answer itself (RFC 9112, 9.8). 0, or -1 with errno.
 */
int tls_shutdown(SSL *ssl, int64_t deadline);

/* SSL_free (its BIO with it); the descriptor stays open. NULL: nothing. */
void tls_free(SSL *ssl);

#endif
