#!/bin/sh
# gdb's backtrace inside a coroutine must end cleanly at corun's entry
# trampoline: no "corrupt stack", no frames of garbage past it. With the
# ucontext switch (SWITCH=ucontext), it must reach the fallback's start()
# and end in libc's makecontext trampoline, whose unwind info corun does
# not write.
# Usage: check.sh PROGRAM [asm|ucontext]
set -eu
if ! command -v gdb >/dev/null 2>&1; then
	echo "gdb is not installed: skipped"
	exit 77
fi
out=$(gdb -nx -batch -ex 'set debuginfod enabled off' -ex 'break bt_stop_here' -ex run -ex bt "$1" 2>&1)
echo "$out"
bt=$(echo "$out" | grep -E '^#[0-9]+ ')
echo "$bt" | grep -q 'bt_stop_here' || { echo "FAIL: did not stop in the coroutine"; exit 1; }
echo "$bt" | grep -q 'level1' || { echo "FAIL: the coroutine's body is not in the backtrace"; exit 1; }
if [ "${2:-asm}" = ucontext ]; then
	echo "$bt" | grep -q ' in start .*switch_ucontext\.c' ||
		{ echo "FAIL: the backtrace does not reach the fallback's start()"; exit 1; }
	if echo "$out" | grep -qiE 'corrupt|previous frame inner|cannot access memory'; then
		echo "FAIL: gdb complained while unwinding"
		exit 1
	fi
	echo "backtrace reaches start() and libc's context trampoline cleanly"
	exit 0
fi
last=$(echo "$bt" | tail -n 1)
# gdb shows clang-assembled DWARF's corun__ctx_start as corun.ctx_start
# (it decodes "__" as Ada would): either spelling is the trampoline.
case "$last" in
*corun__ctx_start* | *corun.ctx_start*) ;;
*) echo "FAIL: the backtrace does not end at corun__ctx_start: $last"; exit 1 ;;
esac
if echo "$out" | grep -qiE 'corrupt|previous frame inner|cannot access memory'; then
	echo "FAIL: gdb complained while unwinding"
	exit 1
fi
echo "backtrace ends cleanly at corun__ctx_start"
