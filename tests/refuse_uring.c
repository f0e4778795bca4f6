/*
 * refuse_uring EPERM|ENOSYS PROGRAM [ARG...]: run PROGRAM where io_uring is
 * refused with that errno, as in a container whose seccomp profile blocks
 * it (Docker's default: EPERM) or on a kernel without it (ENOSYS). The
 * filter (helpers.c) is inherited across exec, so tests/CMakeLists.txt
 * runs whole descriptor test programs under it: each must pass on the
 * epoll fallback as it does on the backend it would have chosen.
 */
#define _GNU_SOURCE
#include "helpers.h"

#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 3 || (strcmp(argv[1], "EPERM") != 0 && strcmp(argv[1], "ENOSYS") != 0)) {
		fprintf(stderr, "usage: refuse_uring EPERM|ENOSYS PROGRAM [ARG...]\n");
		return 2;
	}
	int err = strcmp(argv[1], "EPERM") == 0 ? EPERM : ENOSYS;
	if (refuse_io_uring(err) != 0) {
		/* No filter for this processor: the program runs unfiltered,
		 * which proves nothing about the fallback; say so. */
		fprintf(stderr, "refuse_uring: cannot install the filter (%s); skipped\n",
			strerror(errno));
		return 77;
	}
	CHECK_EQ(io_uring_refusal(), err);
	execvp(argv[2], argv + 2);
	fprintf(stderr, "refuse_uring: cannot run %s: %s\n", argv[2], strerror(errno));
	return 127;
}
