/*
 * The layout tables of the runtime, the records, the waits and the saved
 * frame, for debuggers (layout.h).
 */
#include "layout.h"
#include "wait.h"

#include <elf.h>

#define OFF CORUN__LAYOUT_OFF
#define VAL CORUN__LAYOUT_VAL

const struct corun__layout_entry corun__layout_core[] = {
	/* the runtime, and how the registry links runtimes */
	OFF("rt.current", struct corun__rt, current),
	OFF("rt.main", struct corun__rt, main),
	OFF("rt.live", struct corun__rt, sched.live),
	OFF("rt.reg_next", struct corun__rt, reg.next),
	OFF("rt.reg_tid", struct corun__rt, reg.tid),
	/* the handle table: a live slot holds a coroutine's record */
	OFF("rt.slots", struct corun__rt, handles.slots),
	OFF("rt.nslots", struct corun__rt, handles.n),
	VAL("slot.size", sizeof(struct corun__slot)),
	OFF("slot.serial", struct corun__slot, serial),
	OFF("slot.co", struct corun__slot, u.co),
	OFF("slot.state", struct corun__slot, state),
	VAL("slot.live", CORUN__SLOT_LIVE),
	VAL("handle.slot_bits", CORUN__SLOT_BITS),
	/* a coroutine's record */
	OFF("co.sp", struct corun__co, sp),
	OFF("co.state", struct corun__co, state),
	OFF("co.flags", struct corun__co, flags),
	OFF("co.slot", struct corun__co, slot),
	OFF("co.fn", struct corun__co, fn),
	OFF("co.arg", struct corun__co, arg),
	OFF("co.stack_lo", struct corun__co, stack.lo),
	OFF("co.stack_size", struct corun__co, stack.size),
	OFF("co.armed", struct corun__co, armed),
	OFF("co.wait_reason", struct corun__co, wait_reason),
	OFF("co.wait_obj", struct corun__co, wait_obj),
	OFF("co.name", struct corun__co, name),
	VAL("state.runnable", CORUN__RUNNABLE),
	VAL("state.blocked", CORUN__BLOCKED),
	VAL("state.ended", CORUN__ENDED),
	VAL("flag.named", CORUN__F_NAMED),
	VAL("flag.canceled", CORUN__F_CANCELED),
	VAL("flag.shielded", CORUN__F_SHIELDED),
	VAL("flag.cancel_held", CORUN__F_CANCEL_HELD),
	VAL("flag.armed", CORUN__F_ARMED),
	/* why a coroutine waits (co.wait_reason), each reason by its name in
	 * co.h's list, and what on (co.wait_obj) */
#define REASON(NAME, name) VAL("reason." #name, CORUN__WAIT_##NAME),
	CORUN__WAIT_REASON_LIST(REASON)
#undef REASON
	/* a select's cases, which are its object: the waiters it armed have
	 * the indexes of the cases they wait for as ids */
	VAL("case.size", sizeof(corun_case)),
	OFF("case.chan", corun_case, chan),
	OFF("case.op", corun_case, op),
	VAL("op.send", CORUN_SEND),
	VAL("op.recv", CORUN_RECV),
	/* until when: among its armed waiters, the deadline's (the waiter
	 * first in struct corun__timer) is the one with id id.deadline */
	OFF("waiter.next_armed", struct corun__waiter, next_armed),
	OFF("waiter.id", struct corun__waiter, id),
	VAL("id.deadline", (uint64_t)(int64_t)CORUN__ID_DEADLINE),
	OFF("timer.deadline", struct corun__timer, deadline),
	CORUN__LAYOUT_END
};

/*
 * A suspended context's saved frame (src/arch/switch.h): the coroutine's
 * sp is its address. frame.machine is the ELF machine it is for; frame.pc
 * is where the resume address is; reg.NAME, where each callee-saved
 * register is, by gdb's name for it (the ucontext fallback's general ones
 * only); frame.sp, where the stack pointer is, or, where it is absent, the
 * caller's stack pointer is the frame's end, frame.size bytes up. A fresh
 * context's frame sits right below its record: its sp + frame.size is the
 * record's address until it first runs.
 */
#define REG(name, off) VAL("reg." #name, off),
#if defined(__x86_64__)
#define MACHINE EM_X86_64
#elif defined(__aarch64__)
#define MACHINE EM_AARCH64
#elif defined(__riscv)
#define MACHINE EM_RISCV
#else
#define MACHINE EM_NONE /* no frame a debugger knows */
#endif

#if defined(CORUN__SWITCH_UCONTEXT)
/* What swapcontext saved, in the uframe's ucontext_t (ucontext/ctx.h). */
#define UC(name, member) VAL(name, offsetof(struct corun__uframe, uc.uc_mcontext.member)),
#if defined(__x86_64__)
#define UREGS(X)                                                                          \
	UC("frame.pc", gregs[REG_RIP]) UC("frame.sp", gregs[REG_RSP])                       \
	X("reg.rbp", gregs[REG_RBP]) X("reg.rbx", gregs[REG_RBX]) X("reg.r12", gregs[REG_R12]) \
	X("reg.r13", gregs[REG_R13]) X("reg.r14", gregs[REG_R14]) X("reg.r15", gregs[REG_R15])
#elif defined(__aarch64__) && defined(__GLIBC__)
/* glibc's swapcontext saves as pc a stub of its own, which returns through
 * x1, where it saved its caller's return address: the resume address. */
#define UREGS(X)                                                                        \
	UC("frame.pc", regs[1]) UC("frame.sp", sp)                                        \
	X("reg.x19", regs[19]) X("reg.x20", regs[20]) X("reg.x21", regs[21])              \
	X("reg.x22", regs[22]) X("reg.x23", regs[23]) X("reg.x24", regs[24])              \
	X("reg.x25", regs[25]) X("reg.x26", regs[26]) X("reg.x27", regs[27])              \
	X("reg.x28", regs[28]) X("reg.x29", regs[29])
#elif defined(__riscv) && __riscv_xlen == 64
#define UREGS(X)                                                                        \
	UC("frame.pc", __gregs[REG_PC]) UC("frame.sp", __gregs[REG_SP])                   \
	X("reg.fp", __gregs[REG_S0]) X("reg.s1", __gregs[REG_S1])                         \
	X("reg.s2", __gregs[REG_S2]) X("reg.s3", __gregs[REG_S2 + 1])                     \
	X("reg.s4", __gregs[REG_S2 + 2]) X("reg.s5", __gregs[REG_S2 + 3])                 \
	X("reg.s6", __gregs[REG_S2 + 4]) X("reg.s7", __gregs[REG_S2 + 5])                 \
	X("reg.s8", __gregs[REG_S2 + 6]) X("reg.s9", __gregs[REG_S2 + 7])                 \
	X("reg.s10", __gregs[REG_S2 + 8]) X("reg.s11", __gregs[REG_S2 + 9])
#else
#undef MACHINE
#define MACHINE EM_NONE
#define UREGS(X)
#endif
#endif

const struct corun__layout_entry corun__layout_frame[] = {
	VAL("frame.machine", MACHINE),
	VAL("frame.size", CORUN__CTX_FRAME),
#if defined(CORUN__SWITCH_UCONTEXT)
	VAL("frame.ucontext", 1),
	UREGS(UC)
#else
	VAL("frame.pc", CORUN__CTX_PC),
	CORUN__CTX_REGS(REG)
#endif
	CORUN__LAYOUT_END
};

const struct corun__layout_entry *const corun__layouts[] = {
	corun__layout_core,
	corun__layout_frame,
	NULL,
};
