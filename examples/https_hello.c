/*
 * http_hello over TLS (OpenSSL): the same answers to the same requests,
 * keep-alive and pipelining included, with the handshake and every record
 * on corun's waits (tls_conn.c: a BIO over corun_read and corun_write).
 *
 *   https_hello [-c CERT -k KEY] [-T SECONDS] [-t THREADS] [-g] PORT
 *
 * -c, -k: the certificate (chain) and private key, PEM files; without
 * them, a self-signed certificate for CN=localhost made at start. Make a
 * pair with
 *   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
 *     -subj /CN=localhost -days 30 -keyout key.pem -out cert.pem
 * -T: how long a client may take over its handshake, and a connection may
 * stay idle between requests, before it is dropped (default 10 seconds).
 * A client that connects and sends nothing, or stops in the middle of its
 * ClientHello, holds a coroutine and a descriptor that long, no more.
 * -t, -g: threads, as for http_hello (serve.c).
 *
 * It prints "listening on PORT" once it accepts, then serves until killed.
 * Try `curl --insecure https://localhost:PORT/` or
 * `wrk -c 100 -d 5s https://localhost:PORT/`.
 *
 * Build: cc https_hello.c tls_conn.c serve.c $(pkg-config --cflags --libs corun openssl)
 */
#define _GNU_SOURCE
#include "http_head.h"
#include "serve.h"
#include "tls_conn.h"

#include <corun.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * A handshake goes deep: key exchange, signing, the transcript's hashes.
 * With a P-256 certificate on x86_64 and OpenSSL 3.0 it touched 12 KiB
 * (tests/net/tls_cancel.c prints it), close to CORUN_STACK_MIN already;
 * RSA keys, other builds of OpenSSL and other processors go deeper. A
 * stack costs only the pages it touches, so the margin is cheap.
 */
#define CONN_STACK ((size_t)128 << 10)

/* On the heap: SSL_read hands over at most one record, 16 KiB. */
enum { IN = 16 << 10, OUT = 16 << 10 };
struct buffers {
	char in[IN];
	char out[OUT];
};

static SSL_CTX *ctx;
static int64_t timeout_ns = (int64_t)10 * 1000 * 1000 * 1000;

static int64_t deadline(void)
{
	return corun_now() + timeout_ns;
}

static int flush(void *arg, const char *out, size_t n)
{
	return tls_write(arg, out, n, deadline()) < 0 ? -1 : 0;
}

static void serve(int fd)
{
	struct buffers *b = malloc(sizeof *b);
	SSL *ssl = b ? tls_new(ctx, fd) : NULL;
	struct http_stream st = { 0, 0 };
	size_t len = 0, out = 0;
	if (!ssl || tls_handshake(ssl, deadline()) < 0)
		goto done;
	/* From here on, as http_hello's loop, through TLS. */
	while (!st.closing) {
		ssize_t n = tls_read(ssl, b->in + len, IN - len, deadline());
		if (n < 0)
			goto done; /* failed, or idle too long: no close_notify */
		if (n == 0)
			break;
		len += (size_t)n;
		long pos = http_answer(&st, b->in, len, b->out, OUT, &out, flush, ssl);
		/* Answer everything this read completed: one record, one write. */
		if (pos < 0 || (out && flush(ssl, b->out, out) < 0))
			goto done;
		out = 0;
		memmove(b->in, b->in + pos, len - (size_t)pos);
		len -= (size_t)pos;
		if (len == IN) /* a head that does not fit: give up on it */
			break;
	}
	/* The peer closed, or the last answer said "Connection: close". */
	tls_shutdown(ssl, deadline());
done:
	tls_free(ssl);
	free(b);
	corun_close(fd);
}

static int usage(const char *prog)
{
	fprintf(stderr, "usage: %s [-c CERT -k KEY] [-T SECONDS] [-t THREADS] [-g] PORT\n", prog);
	return 2;
}

int main(int argc, char **argv)
{
	const char *cert = NULL, *key = NULL;
	/* Ours taken out, the rest (-t, -g, PORT) goes on to serve_main. */
	char *rest[8] = { argv[0] };
	int nrest = 1, opt;
	while ((opt = getopt(argc, argv, "c:k:T:t:g")) != -1) {
		char *end;
		switch (opt) {
		case 'c':
			cert = optarg;
			break;
		case 'k':
			key = optarg;
			break;
		case 'T': {
			double s = strtod(optarg, &end);
			if (*end || !(s > 0 && s < 1e6)) {
				fprintf(stderr, "%s: -T wants seconds, more than 0\n", argv[0]);
				return 2;
			}
			timeout_ns = (int64_t)(s * 1e9);
			break;
		}
		case 't':
			rest[nrest++] = "-t";
			rest[nrest++] = optarg;
			break;
		case 'g':
			rest[nrest++] = "-g";
			break;
		default:
			return usage(argv[0]);
		}
	}
	if (optind != argc - 1 || !cert != !key || nrest > 4)
		return usage(argv[0]);
	rest[nrest++] = argv[optind];
	optind = 1; /* serve_main parses the rest afresh */

	ctx = tls_server_ctx(cert, key);
	if (!ctx) {
		fprintf(stderr, "%s: no TLS context (certificate %s)\n", argv[0],
			cert ? cert : "self-signed");
		return 1;
	}
	serve_stack_size = CONN_STACK;
	return serve_main("https_hello", nrest, rest, serve);
}
