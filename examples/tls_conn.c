/*
 * TLS over corun descriptors (tls_conn.h): a custom BIO whose read and
 * write are corun_read and corun_write.
 *
 * Why a BIO, and not a socket BIO on the non-blocking descriptor with each
 * SSL_ERROR_WANT_READ/WRITE turned into a corun_wait_fd and a retry:
 *  - corun_read and corun_write are corun's fast path on whichever backend
 *    the thread has: on io_uring the read is one submission, where
 *    WANT_READ would take a failed recv, a readiness wait and a second
 *    recv; on epoll corun remembers what the kernel last said is ready,
 *    and skips the recv bound to fail. A retry loop around SSL calls could
 *    only ever wait for readiness.
 *  - The deadline and the reason a wait ended travel in the BIO's data:
 *    the descriptor, the deadline of the SSL call under way, and the errno
 *    corun gave (ETIMEDOUT, ECANCELED, EBADF). Through SSL_get_error they
 *    would come back as SSL_ERROR_SYSCALL with errno long overwritten.
 *  - The SSL calls stay plain sequential calls, one per operation, as in
 *    libdill's tls.c and Photon's socket-stream BIO.
 * What it costs: OpenSSL asks for 5 bytes (a record's header) and then
 * the record, two reads per record; read-ahead (tls_new) lets it ask for
 * as much as its buffer holds instead, one read for what has come.
 *
 * OpenSSL keeps its error queue per thread, and the coroutines of a thread
 * share it: one coroutine's SSL call may fail while another waits inside
 * its own. So each call here empties the queue before it starts (as
 * SSL_get_error requires), empties it again after a failure, and trusts
 * the BIO's own errno over SSL_get_error's verdict, which another
 * coroutine's leftovers could spoil.
 */
#define _GNU_SOURCE
#include "tls_conn.h"

#include <corun.h>
#include <errno.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdlib.h>

/* What the BIO knows: its descriptor, the deadline of the call under way,
 * and how its last read or write ended. */
struct tls_io {
	int fd;
	int64_t deadline;
	int err; /* errno of the corun call that failed; 0: none */
	int eof; /* the peer closed its side (a read returned 0) */
};

static int bio_read(BIO *b, char *buf, size_t n, size_t *got)
{
	struct tls_io *io = BIO_get_data(b);
	BIO_clear_retry_flags(b); /* never "try again": corun_read waited */
	*got = 0;
	ssize_t r = corun_read(io->fd, buf, n, io->deadline);
	if (r > 0) {
		*got = (size_t)r;
		return 1;
	}
	if (r == 0)
		io->eof = 1;
	else
		io->err = errno;
	return 0;
}

static int bio_write(BIO *b, const char *buf, size_t n, size_t *put)
{
	struct tls_io *io = BIO_get_data(b);
	BIO_clear_retry_flags(b);
	*put = 0;
	ssize_t r = corun_write(io->fd, buf, n, io->deadline);
	if (r == (ssize_t)n) {
		*put = n;
		return 1;
	}
	/* Some of it may have gone: the stream is broken either way. */
	io->err = r < 0 ? errno : EIO;
	return 0;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)num;
	(void)ptr;
	struct tls_io *io = BIO_get_data(b);
	switch (cmd) {
	case BIO_CTRL_FLUSH: /* every write went out whole: nothing is held */
		return 1;
	case BIO_CTRL_EOF:
		return io->eof;
	default: /* BIO_CTRL_PUSH, _POP, the kTLS queries...: not this BIO */
		return 0;
	}
}

static int bio_destroy(BIO *b)
{
	free(BIO_get_data(b));
	BIO_set_data(b, NULL);
	return 1;
}

static BIO_METHOD *method;

static void make_method(void)
{
	BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "corun");
	if (m && BIO_meth_set_read_ex(m, bio_read) && BIO_meth_set_write_ex(m, bio_write) &&
	    BIO_meth_set_ctrl(m, bio_ctrl) && BIO_meth_set_destroy(m, bio_destroy)) {
		method = m;
		return;
	}
	BIO_meth_free(m);
}

/* One method for the process, made by whichever thread comes first. */
static BIO_METHOD *corun_bio_method(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, make_method);
	return method;
}

static struct tls_io *io_of(SSL *ssl)
{
	return BIO_get_data(SSL_get_rbio(ssl));
}

SSL *tls_new(SSL_CTX *ctx, int fd)
{
	BIO_METHOD *m = corun_bio_method();
	struct tls_io *io = calloc(1, sizeof *io);
	BIO *b = m && io ? BIO_new(m) : NULL;
	SSL *ssl = b ? SSL_new(ctx) : NULL;
	if (!ssl) {
		if (b)
			BIO_free(b); /* and io with it */
		else
			free(io);
		ERR_clear_error();
		errno = ENOMEM;
		return NULL;
	}
	io->fd = fd;
	io->deadline = -1;
	BIO_set_data(b, io);
	BIO_set_init(b, 1);
	SSL_set_bio(ssl, b, b); /* the SSL owns the BIO now */
	SSL_set_read_ahead(ssl, 1);
	return ssl;
}

/* Start an SSL call: its deadline, and a clean slate (see the top). */
static struct tls_io *begin(SSL *ssl, int64_t deadline)
{
	struct tls_io *io = io_of(ssl);
	io->deadline = deadline;
	io->err = 0;
	ERR_clear_error();
	return io;
}

/* An SSL call returned ret <= 0: -1 with errno, or 0 for the peer's end of
 * the connection when that is not an error (reads). */
static int failed(SSL *ssl, struct tls_io *io, int ret, int eof_ok)
{
	int e = SSL_get_error(ssl, ret);
	unsigned long lib = ERR_peek_error();
	ERR_clear_error();
	if (io->err) { /* the BIO's corun call failed: its errno says why */
		errno = io->err;
		return -1;
	}
	if (e == SSL_ERROR_ZERO_RETURN || io->eof) {
		if (eof_ok)
			return 0;
		errno = ECONNABORTED;
		return -1;
	}
	errno = ERR_GET_REASON(lib) == ERR_R_MALLOC_FAILURE ? ENOMEM : EPROTO;
	return -1;
}

int tls_handshake(SSL *ssl, int64_t deadline)
{
	struct tls_io *io = begin(ssl, deadline);
	int r = SSL_is_server(ssl) ? SSL_accept(ssl) : SSL_connect(ssl);
	return r == 1 ? 0 : failed(ssl, io, r, 0);
}

ssize_t tls_read(SSL *ssl, void *buf, size_t n, int64_t deadline)
{
	struct tls_io *io = begin(ssl, deadline);
	size_t got;
	int r = SSL_read_ex(ssl, buf, n, &got);
	return r == 1 ? (ssize_t)got : failed(ssl, io, r, 1);
}

ssize_t tls_write(SSL *ssl, const void *buf, size_t n, int64_t deadline)
{
	struct tls_io *io = begin(ssl, deadline);
	size_t put;
	/* Without SSL_MODE_ENABLE_PARTIAL_WRITE, all of it or a failure. */
	int r = SSL_write_ex(ssl, buf, n, &put);
	return r == 1 ? (ssize_t)put : failed(ssl, io, r, 0);
}

int tls_shutdown(SSL *ssl, int64_t deadline)
{
	struct tls_io *io = io_of(ssl);
	if (io->err || io->eof || !SSL_is_init_finished(ssl))
		return 0;
	io = begin(ssl, deadline);
	/* 0: ours is sent and the peer's has not come, which is all we ask. */
	int r = SSL_shutdown(ssl);
	return r >= 0 ? 0 : failed(ssl, io, r, 1);
}

void tls_free(SSL *ssl)
{
	SSL_free(ssl);
}

static SSL_CTX *new_ctx(const SSL_METHOD *m)
{
	SSL_CTX *ctx = SSL_CTX_new(m);
	if (!ctx)
		return NULL;
	/* A peer that closes TCP without close_notify ends the connection as
	 * if it had sent one: HTTP clients (curl, wrk) do, and HTTP/1.1 says
	 * where each message ends, so no truncation goes unseen. */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* A self-signed certificate for CN=localhost, valid for 30 days from now,
 * and its P-256 key, put into ctx. */
static int self_signed(SSL_CTX *ctx)
{
	int ok = 0;
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = key ? X509_new() : NULL;
	X509_NAME *name = x ? X509_get_subject_name(x) : NULL;
	if (name && X509_set_version(x, X509_VERSION_3) &&
	    ASN1_INTEGER_set(X509_get_serialNumber(x), 1) &&
	    X509_gmtime_adj(X509_getm_notBefore(x), 0) &&
	    X509_gmtime_adj(X509_getm_notAfter(x), 30L * 24 * 3600) && X509_set_pubkey(x, key) &&
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost",
				       -1, -1, 0) &&
	    X509_set_issuer_name(x, name) && X509_sign(x, key, EVP_sha256()) &&
	    SSL_CTX_use_certificate(ctx, x) == 1 && SSL_CTX_use_PrivateKey(ctx, key) == 1)
		ok = 1;
	X509_free(x);
	EVP_PKEY_free(key);
	return ok;
}

SSL_CTX *tls_server_ctx(const char *cert, const char *key)
{
	SSL_CTX *ctx = new_ctx(TLS_server_method());
	int ok = ctx != NULL;
	if (ok && cert)
		ok = SSL_CTX_use_certificate_chain_file(ctx, cert) == 1 &&
		     SSL_CTX_use_PrivateKey_file(ctx, key ? key : cert, SSL_FILETYPE_PEM) == 1;
	else if (ok)
		ok = self_signed(ctx);
	if (ok && SSL_CTX_check_private_key(ctx) == 1)
		return ctx;
	ERR_print_errors_fp(stderr);
	SSL_CTX_free(ctx);
	return NULL;
}

SSL_CTX *tls_client_ctx(void)
{
	SSL_CTX *ctx = new_ctx(TLS_client_method());
	if (!ctx)
		ERR_print_errors_fp(stderr);
	else
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	return ctx;
}
