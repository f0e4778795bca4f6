/*
 * The stack pointer of a context interrupted by a signal, read from the
 * handler's ucontext_t: what the overflow report needs to tell a coroutine
 * that overflowed from a stray store. A property of the processor's ABI and
 * of the kernel's signal frame, not of the switch, so the ucontext fallback
 * uses it too. Needs <ucontext.h> with _GNU_SOURCE.
 */
#ifndef CORUN_ARCH_SIGCTX_H
#define CORUN_ARCH_SIGCTX_H

#include <ucontext.h>

#define CORUN__UC(uc) ((const ucontext_t *)(uc))
#if defined(__x86_64__)
#define CORUN__SIGNAL_SP(uc) ((const char *)CORUN__UC(uc)->uc_mcontext.gregs[REG_RSP])
#elif defined(__aarch64__)
#define CORUN__SIGNAL_SP(uc) ((const char *)CORUN__UC(uc)->uc_mcontext.sp)
#elif defined(__riscv) && __riscv_xlen == 64
#define CORUN__SIGNAL_SP(uc) ((const char *)CORUN__UC(uc)->uc_mcontext.__gregs[REG_SP])
#else
/* Unknown: the report then judges from the faulting address alone. */
#define CORUN__SIGNAL_SP(uc) ((const char *)0)
#endif

#endif
