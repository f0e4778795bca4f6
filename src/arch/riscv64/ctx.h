/*
 * What the RISC-V 64 switch (switch_lp64d_elf.S) tells the rest of corun
 * about its frame. Included from C and from the .S file.
 */
#ifndef CORUN_ARCH_RISCV64_CTX_H
#define CORUN_ARCH_RISCV64_CTX_H

/* The frame keeps fs0-fs11 whole, which only the LP64D ABI makes
 * callee-saved (LP64 and LP64F have no or narrower ones): anything else
 * needs another frame, or the ucontext fallback. */
#if !defined(__riscv_float_abi_double)
#error "corun's riscv64 switch is for the LP64D ABI: build with -DCORUN_SWITCH=ucontext"
#endif

/* The resume address, twelve callee-saved general registers and twelve
 * callee-saved floating-point ones, and 8 bytes of padding to keep the
 * stack 16-byte aligned. */
#define CORUN__CTX_FRAME 0xd0

#endif
