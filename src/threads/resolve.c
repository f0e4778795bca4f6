/*
 * Name resolution with a deadline (corun_getaddrinfo) and "connect to
 * host:port" (corun_dial), over the blocking pool (blocking.h).
 *
 * getaddrinfo(3) has no asynchronous form in glibc worth the name
 * (getaddrinfo_a runs a thread per request and signals), and may block for
 * seconds on a DNS server: it runs on a pool thread, as neco and libuv run
 * it. Its arguments are copied into the job, since a caller whose
 * deadline passes leaves while the pool thread still reads them; an answer
 * that comes after it left is freed there (freeaddrinfo).
 */
#include "blocking.h"

#include <corun.h>
#include <errno.h>
#include <netdb.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* What the pool thread reads and writes: in the job's own memory. */
struct request {
	struct addrinfo hints; /* only its four numbers: the rest is NULL, 0 */
	int has_hints;
	size_t node, service; /* offsets into text; SIZE_MAX for NULL */
	int rc;               /* getaddrinfo's */
	int sys;              /* its errno, for EAI_SYSTEM */
	struct addrinfo *res;
	char text[];
};

static void *resolve(void *arg)
{
	struct request *rq = arg;
	const char *node = rq->node == SIZE_MAX ? NULL : rq->text + rq->node;
	const char *service = rq->service == SIZE_MAX ? NULL : rq->text + rq->service;
	errno = 0;
	rq->rc = getaddrinfo(node, service, rq->has_hints ? &rq->hints : NULL, &rq->res);
	rq->sys = errno;
	return rq;
}

/* The caller left before the answer came. */
static void forget(void *result, void *arg)
{
	(void)result;
	struct request *rq = arg;
	if (rq->rc == 0)
		freeaddrinfo(rq->res);
}

int corun_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
		      struct addrinfo **res, int64_t deadline)
{
	/* Every failure of corun's own is EAI_SYSTEM, with errno. */
	if (!res) {
		errno = EINVAL;
		return EAI_SYSTEM;
	}
	if (corun__blocking_may(deadline) < 0)
		return EAI_SYSTEM;
	size_t nlen = node ? strlen(node) + 1 : 0, slen = service ? strlen(service) + 1 : 0;
	struct corun__job *j = corun__job_make(sizeof(struct request) + nlen + slen);
	if (!j)
		return EAI_SYSTEM;
	struct request *rq = corun__job_extra(j);
	if (hints) {
		rq->has_hints = 1;
		rq->hints.ai_flags = hints->ai_flags;
		rq->hints.ai_family = hints->ai_family;
		rq->hints.ai_socktype = hints->ai_socktype;
		rq->hints.ai_protocol = hints->ai_protocol;
	}
	rq->node = rq->service = SIZE_MAX;
	if (node) {
		rq->node = 0;
		memcpy(rq->text, node, nlen);
	}
	if (service) {
		rq->service = nlen;
		memcpy(rq->text + nlen, service, slen);
	}
	if (corun__job_run(j, resolve, rq, forget, NULL, deadline) < 0)
		return EAI_SYSTEM;
	int rc = rq->rc;
	if (rc == 0)
		*res = rq->res;
	else if (rc == EAI_SYSTEM)
		errno = rq->sys;
	corun__job_free(j);
	return rc;
}

/* corun_dial's errno for a resolution that failed (corun.h). */
static int dial_errno(int rc)
{
	switch (rc) {
	case EAI_SYSTEM:
		return errno;
	case EAI_NONAME:
	case EAI_SERVICE:
#ifdef EAI_NODATA
	case EAI_NODATA:
#endif
#ifdef EAI_ADDRFAMILY
	case EAI_ADDRFAMILY:
#endif
		return ENOENT;
	case EAI_AGAIN:
		return EAGAIN;
	case EAI_MEMORY:
		return ENOMEM;
	default: /* EAI_FAIL: the name server failed for good; others */
		return EIO;
	}
}

int corun_dial(const char *host, const char *port, int64_t deadline)
{
	if (!host || !port) {
		errno = EINVAL;
		return -1;
	}
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res;
	int rc = corun_getaddrinfo(host, port, &hints, &res, deadline);
	if (rc) {
		errno = dial_errno(rc);
		return -1;
	}
	int err = ENOENT; /* an empty answer: not expected */
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
				ai->ai_protocol);
		if (fd < 0) { /* EAFNOSUPPORT: a family this host lacks */
			err = errno;
			continue;
		}
		if (corun_connect(fd, ai->ai_addr, ai->ai_addrlen, deadline) == 0) {
			freeaddrinfo(res);
			return fd;
		}
		err = errno;
		corun_close(fd);
		/* The deadline is the caller's, for every address: once it has
		 * passed (rather than the kernel's own connect timeout), or the
		 * caller was canceled, no other address is tried. */
		if (err == ECANCELED ||
		    (err == ETIMEDOUT && deadline >= 0 && corun_now() >= deadline))
			break;
	}
	freeaddrinfo(res);
	errno = err;
	return -1;
}
