/*
 * The stack report (report.c): with CORUN_STACK_REPORT=1 in the
 * environment when a runtime is made, the most stack each coroutine name
 * used, printed to stderr when the runtime is released or the process
 * exits.
 *
 * Only in that mode do coroutines start at the measured start function
 * (coroutine.c), and end through corun__exit_measured, which makes
 * corun__exit give the stack back from the next one's stack: there, off
 * the stack, corun__report_end measures what it used and gives the pages
 * below its top back, so that its next user is measured from a clean
 * state.
 */
#ifndef CORUN_REPORT_H
#define CORUN_REPORT_H

struct corun__rt;
struct corun__co;

/* The runtime's part is a pointer, NULL unless the mode is on: the
 * table lives in report.c. */
struct corun__report;

void corun__report_init(struct corun__rt *rt);
_Noreturn void corun__exit_measured(struct corun__rt *rt, struct corun__co *co);
void corun__report_end(struct corun__rt *rt, struct corun__co *co);
void corun__report_fini(struct corun__rt *rt);

#endif
