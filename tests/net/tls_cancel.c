/*
 * TLS on corun descriptors (examples/tls_conn.c), in one process on
 * loopback TCP: a whole handshake and an exchange between two coroutines;
 * then a server in SSL_accept facing a raw client that sends nothing,
 * half a ClientHello (a real one, cut in two) and stalls, half and then
 * closes, or no TLS at all: the deadline ends the handshake with ETIMEDOUT
 * on time, corun_cancel ends it with ECANCELED at once, a close with
 * ECONNABORTED, garbage with EPROTO; the same deadline and cancellation in
 * SSL_read after a handshake. Every SSL object and context is freed, so
 * that LeakSanitizer sees OpenSSL's memory come back.
 */
#define _GNU_SOURCE
#include "../helpers.h"
#include "tls_conn.h"

#include <corun.h>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

/* As https_hello's connections (see CONN_STACK there). */
#define STACK ((size_t)128 << 10)

/* A connected pair of loopback TCP sockets: fds[0] the client's, fds[1]
 * the server's (accepted). */
static void tcp_pair(int fds[2])
{
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(l >= 0);
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof sa;
	CHECK_EQ(bind(l, (struct sockaddr *)&sa, sizeof sa), 0);
	CHECK_EQ(listen(l, 1), 0);
	CHECK_EQ(getsockname(l, (struct sockaddr *)&sa, &len), 0);
	fds[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(fds[0] >= 0);
	/* Loopback: the kernel completes the connection in the backlog. */
	CHECK_EQ(connect(fds[0], (struct sockaddr *)&sa, sizeof sa), 0);
	fds[1] = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	CHECK(fds[1] >= 0);
	close(l);
}

/* A real ClientHello: what a client SSL writes first, caught in a memory
 * BIO. Its length goes in *len. */
static unsigned char *client_hello(size_t *len)
{
	SSL_CTX *cctx = tls_client_ctx();
	CHECK(cctx);
	SSL *c = SSL_new(cctx);
	CHECK(c);
	BIO *in = BIO_new(BIO_s_mem()), *out = BIO_new(BIO_s_mem());
	CHECK(in && out);
	SSL_set_bio(c, in, out);
	CHECK_EQ(SSL_connect(c), -1); /* it wants the server's answer */
	char *p;
	long n = BIO_get_mem_data(out, &p);
	CHECK(n > 100);
	unsigned char *hello = malloc((size_t)n);
	CHECK(hello);
	memcpy(hello, p, (size_t)n);
	*len = (size_t)n;
	SSL_free(c);
	SSL_CTX_free(cctx);
	ERR_clear_error();
	return hello;
}

/* ---- a whole exchange: handshake, request, answer, close_notify */
static SSL_CTX *server_ctx, *client_ctx;

static void *echo_server(void *arg)
{
	int fd = (int)(intptr_t)arg;
	SSL *ssl = tls_new(server_ctx, fd);
	CHECK(ssl);
	int64_t d = corun_now() + 10000 * MS;
	CHECK_EQ(tls_handshake(ssl, d), 0);
	char buf[64];
	CHECK_EQ(tls_read(ssl, buf, sizeof buf, d), 4);
	CHECK(memcmp(buf, "ping", 4) == 0);
	CHECK_EQ(tls_write(ssl, "pong", 4, d), 4);
	CHECK_EQ(tls_shutdown(ssl, d), 0);
	/* How deep the handshake went: CONN_STACK in https_hello.c. */
	fprintf(stderr, "server stack use: %zu bytes\n", corun_stack_used(0));
	CHECK(corun_stack_used(0) < STACK);
	tls_free(ssl);
	corun_close(fd);
	return NULL;
}

static void *echo_client(void *arg)
{
	int fd = (int)(intptr_t)arg;
	SSL *ssl = tls_new(client_ctx, fd);
	CHECK(ssl);
	int64_t d = corun_now() + 10000 * MS;
	CHECK_EQ(tls_handshake(ssl, d), 0);
	CHECK_EQ(tls_write(ssl, "ping", 4, d), 4);
	char buf[64];
	CHECK_EQ(tls_read(ssl, buf, sizeof buf, d), 4);
	CHECK(memcmp(buf, "pong", 4) == 0);
	CHECK_EQ(tls_read(ssl, buf, sizeof buf, d), 0); /* the close_notify */
	tls_free(ssl);
	corun_close(fd);
	return NULL;
}

static void exchange(void)
{
	server_ctx = tls_server_ctx(NULL, NULL);
	client_ctx = tls_client_ctx();
	CHECK(server_ctx && client_ctx);
	int fds[2];
	tcp_pair(fds);
	corun_t s = spawn_with(echo_server, (void *)(intptr_t)fds[1], STACK, 0);
	corun_t c = spawn_with(echo_client, (void *)(intptr_t)fds[0], STACK, 0);
	CHECK_EQ(corun_join(s, NULL), 0);
	CHECK_EQ(corun_join(c, NULL), 0);
	SSL_CTX_free(server_ctx);
	SSL_CTX_free(client_ctx);
}

/* ---- a server in the handshake, or in a read after it, facing a raw client */
struct accept_run {
	int fd;
	int64_t deadline_in; /* from the start of the call; -1: none */
	int read_after; /* handshake with a real client first, then read */
	int started;    /* the call that is to fail has started */
	int ret, err;
	int64_t took; /* from the start of the call that failed */
};

static void *accepting(void *arg)
{
	struct accept_run *a = arg;
	SSL *ssl = tls_new(server_ctx, a->fd);
	CHECK(ssl);
	if (a->read_after)
		CHECK_EQ(tls_handshake(ssl, corun_now() + 10000 * MS), 0);
	int64_t t0 = corun_now(), d = a->deadline_in < 0 ? -1 : t0 + a->deadline_in;
	char buf[64];
	a->started = 1;
	a->ret = a->read_after ? (int)tls_read(ssl, buf, sizeof buf, d) : tls_handshake(ssl, d);
	a->err = errno;
	a->took = corun_now() - t0;
	tls_free(ssl);
	corun_close(a->fd);
	return NULL;
}

/* The client's part, on its own descriptor: send these bytes (or none),
 * then stall, or close. */
enum then { STALL, CLOSE };

static const unsigned char *hello;
static size_t hello_len;

/* The client's half of a handshake, for the read tests: it connects,
 * completes the handshake and then says nothing. */
static void *quiet_client(void *arg)
{
	int fd = (int)(intptr_t)arg;
	SSL *ssl = tls_new(client_ctx, fd);
	CHECK(ssl);
	CHECK_EQ(tls_handshake(ssl, corun_now() + 10000 * MS), 0);
	char c;
	/* Wait for the server to drop us (its read failed). */
	CHECK(tls_read(ssl, &c, 1, corun_now() + 10000 * MS) <= 0);
	tls_free(ssl);
	return NULL;
}

/*
 * Run a server coroutine on a fresh connection whose client sends
 * send[0..n) and then does what `then` says (with read_after, a real
 * client's handshake instead, then silence). The server's call has a
 * deadline deadline_in after it starts (-1: none); with cancel_after >= 0,
 * main cancels the server that long after the call started. Returns what
 * the server saw.
 */
static struct accept_run run(const void *send, size_t n, enum then then, int read_after,
			     int64_t deadline_in, int64_t cancel_after)
{
	server_ctx = tls_server_ctx(NULL, NULL);
	client_ctx = tls_client_ctx();
	CHECK(server_ctx && client_ctx);
	int fds[2];
	tcp_pair(fds);
	corun_t q = 0;
	if (read_after) {
		q = spawn_with(quiet_client, (void *)(intptr_t)fds[0], STACK, 0);
	} else {
		if (n)
			CHECK_EQ(write(fds[0], send, n), (ssize_t)n);
		if (then == CLOSE)
			CHECK_EQ(close(fds[0]), 0);
	}
	struct accept_run a = { .fd = fds[1], .deadline_in = deadline_in };
	a.read_after = read_after;
	corun_t s = spawn_with(accepting, &a, STACK, 0);
	if (cancel_after >= 0) {
		/* From main, corun_sleep runs the coroutines meanwhile. */
		while (!a.started)
			CHECK_EQ(corun_sleep(MS), 0);
		CHECK_EQ(corun_sleep(cancel_after), 0);
		CHECK_EQ(corun_cancel(s), 0);
	}
	CHECK_EQ(corun_join(s, NULL), 0);
	if (q)
		CHECK_EQ(corun_join(q, NULL), 0);
	if (then == STALL)
		corun_close(fds[0]);
	SSL_CTX_free(server_ctx);
	SSL_CTX_free(client_ctx);
	return a;
}

/* How late a deadline may fire here: generous for valgrind and a loaded
 * machine; what matters is that it fires, and not early. */
#define LATE (3000 * MS)

static void check_timed_out(struct accept_run a, int64_t deadline_in)
{
	CHECK_EQ(a.ret, -1);
	CHECK_EQ(a.err, ETIMEDOUT);
	CHECK(a.took >= deadline_in);
	CHECK(a.took < deadline_in + LATE);
}

static void check_canceled(struct accept_run a, int64_t cancel_after)
{
	CHECK_EQ(a.ret, -1);
	CHECK_EQ(a.err, ECANCELED);
	CHECK(a.took >= cancel_after);
	CHECK(a.took < cancel_after + LATE);
}

static void handshake_silent_deadline(void)
{
	check_timed_out(run(NULL, 0, STALL, 0, 200 * MS, -1), 200 * MS);
}

static void handshake_half_hello_deadline(void)
{
	check_timed_out(run(hello, hello_len / 2, STALL, 0, 200 * MS, -1), 200 * MS);
}

static void handshake_half_hello_cancel(void)
{
	check_canceled(run(hello, hello_len / 2, STALL, 0, -1, 100 * MS), 100 * MS);
}

static void handshake_silent_cancel(void)
{
	check_canceled(run(NULL, 0, STALL, 0, -1, 100 * MS), 100 * MS);
}

static void handshake_half_hello_close(void)
{
	struct accept_run a = run(hello, hello_len / 2, CLOSE, 0, 10000 * MS, -1);
	CHECK_EQ(a.ret, -1);
	CHECK_EQ(a.err, ECONNABORTED);
}

static void handshake_not_tls(void)
{
	static const char req[] = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
	struct accept_run a = run(req, sizeof req - 1, STALL, 0, 10000 * MS, -1);
	CHECK_EQ(a.ret, -1);
	CHECK_EQ(a.err, EPROTO);
}

static void read_deadline(void)
{
	check_timed_out(run(NULL, 0, STALL, 1, 200 * MS, -1), 200 * MS);
}

static void read_cancel(void)
{
	check_canceled(run(NULL, 0, STALL, 1, -1, 100 * MS), 100 * MS);
}

static const struct test tests[] = {
	TEST(exchange),
	TEST(handshake_silent_deadline),
	TEST(handshake_half_hello_deadline),
	TEST(handshake_silent_cancel),
	TEST(handshake_half_hello_cancel),
	TEST(handshake_half_hello_close),
	TEST(handshake_not_tls),
	TEST(read_deadline),
	TEST(read_cancel),
};

int main(int argc, char **argv)
{
	watchdog(60);
	unsigned char *h = client_hello(&hello_len);
	hello = h;
	int r = RUN_TESTS(argc, argv, tests);
	free(h);
	return r;
}
