/*
 * corun's floating-point control state where src/arch/ knows nothing of the
 * ABI: the C rounding mode, which every target with <fenv.h> has. Where
 * the ABI has more callee-saved control (x86_64's FTZ/DAZ and x87 precision,
 * AArch64's FPCR), that ABI's fpctl_*.S is used instead, with either switch.
 */
#include "../switch.h"

#include <fenv.h>

uint64_t corun__fpctl_get(void)
{
	return (uint64_t)(unsigned)fegetround();
}

void corun__fpctl_set(uint64_t state)
{
	(void)fesetround((int)(unsigned)state);
}
