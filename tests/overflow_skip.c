/* Compiled with -fno-stack-clash-protection: an alloca of n bytes moves the
 * stack pointer by n at once, and the first store lands n bytes down, past
 * the guard page if n is larger. */
#include <alloca.h>
#include <stddef.h>

int skip_frame(size_t n);

int skip_frame(size_t n)
{
	volatile char *p = alloca(n);
	p[0] = 1;
	return p[0];
}
