/* Compiled with -fstack-clash-protection: a frame far larger than the
 * guard page is probed page by page as it grows, so its first probe past
 * the stack's end lands in the guard instead of in a neighbour's memory. */
#include <stddef.h>

int clash_frame(size_t n);

int clash_frame(size_t n)
{
	volatile char big[256 * 1024];
	big[n % sizeof big] = 1;
	return big[0];
}
