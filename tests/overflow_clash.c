/* Compiled with -fstack-clash-protection and the compiler's default probe
 * interval. A frame far larger than the guard is probed as it grows, so its
 * first probe past the stack's end lands in the guard instead of in a
 * neighbour's memory. A frame larger than a page but under 64 KiB is probed
 * page by page on x86_64 (and RISC-V), and not at all by GCC for AArch64,
 * which counts on a guard of 64 KiB: its first store may land that far
 * below the stack. */
#include <stddef.h>

int clash_frame(size_t n);
int clash_mid_frame(size_t n);

int clash_frame(size_t n)
{
	volatile char big[256 * 1024];
	big[n % sizeof big] = 1;
	return big[0];
}

int clash_mid_frame(size_t n)
{
	volatile char mid[48 * 1024];
	mid[n % sizeof mid] = 1; /* n = 0: the frame's lowest byte first */
	return mid[sizeof mid - 1];
}
