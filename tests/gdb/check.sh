#!/bin/sh
# tools/gdb/corun-gdb.py on gdb_target (gdb_target.c): stopped inside a
# coroutine, `info coroutines` must list every coroutine with its name,
# state and what it waits on, and `coroutine ID|NAME bt` must show each
# suspended one's own frames; then the same on core files of the stopped
# program: the kernel's (killed there by SIGABRT) and gdb's gcore.
# Usage: check.sh PROGRAM SCRIPT WORKDIR [asm|ucontext]
set -eu
prog=$1 script=$2 dir=$3 kind=${4:-asm}
if ! command -v gdb >/dev/null 2>&1; then
	echo "gdb is not installed: skipped"
	exit 77
fi
if [ "$kind" != asm ] || [ "$(uname -m)" != x86_64 ]; then
	echo "corun-gdb.py reads saved contexts of the x86_64 switch only: skipped"
	exit 77
fi
rm -rf "$dir"
mkdir -p "$dir"
fail=0
bad() {
	echo "FAIL ($where): $*"
	fail=1
}

# The commands both sessions run, each output after a marker line.
cmds="$dir/cmds.gdb"
cat >"$cmds" <<'EOC'
echo @@info\n
info coroutines
echo @@objects\n
python print("chan %#x wg %#x fd %d" % (int(gdb.parse_and_eval("chan")), int(gdb.parse_and_eval("wg")), int(gdb.parse_and_eval("pipefd[0]"))))
echo @@bt-by-id\n
python gdb.execute("coroutine %d bt" % int(gdb.parse_and_eval("gdb_ids[1]")))
echo @@bt-handle-line\n
python gdb.execute("coroutine %d" % int(gdb.parse_and_eval("handles[2]")))
EOC
for n in main parker sleeper receiver joiner reader grouped stopper fresh; do
	printf 'echo @@bt-%s\\n\ncoroutine %s bt\n' "$n" "$n" >>"$cmds"
done
cat >>"$cmds" <<'EOC'
echo @@bt-full\n
coroutine receiver bt full
echo @@bt-1\n
coroutine joiner bt 1
echo @@real-bt\n
bt
echo @@end\n
EOC

section() { # NAME < output: the lines after @@NAME up to the next marker
	awk -v m="@@$1" '$0 == m { on = 1; next } /^@@/ { on = 0 } on'
}

check() { # OUTPUT-FILE
	out=$1
	if grep -qE 'Python Exception|Error occurred in Python|corrupt|Cannot access memory|previous frame inner' "$out"; then
		bad "gdb complained:"
		grep -E 'Python Exception|Error occurred|corrupt|Cannot access|previous frame' "$out" | head -5
	fi
	info=$(section info <"$out")
	line() { echo "$info" | awk -v n="$1" '$3 == n || $2 == n'; }
	expect() { # NAME PATTERN WHAT
		l=$(line "$1")
		[ -n "$l" ] || { bad "$1 is not listed"; return; }
		echo "$l" | grep -qE "$2" || bad "$1: expected $3 in: $l"
	}
	expect main ' 0 +main ' "id 0"
	expect parker ' runnable +- .*park_loop at gdb_target\.c:[0-9]+$' "runnable in park_loop"
	expect sleeper ' waiting +deadline [0-9]+\.[0-9]+s.* sleep_long at gdb_target\.c' "a deadline, in sleep_long"
	# The objects named are the program's own.
	objs=$(section objects <"$out")
	chan=$(echo "$objs" | awk '{ print $2 }') wg=$(echo "$objs" | awk '{ print $4 }')
	rfd=$(echo "$objs" | awk '{ print $6 }')
	expect receiver " waiting +channel $chan \\(receive\\) .*recv_one at gdb_target\\.c" "a receive on $chan"
	sleeper_id=$(line sleeper | awk '{ print $1 }')
	expect joiner " waiting +join of $sleeper_id sleeper .*join_sleeper at gdb_target\.c" "the join of sleeper ($sleeper_id)"
	expect reader " waiting +fd $rfd \\(read\\) .*read_pipe at gdb_target\\.c" "a read on fd $rfd"
	expect grouped " waiting +wait group $wg .*wait_group at gdb_target\\.c" "wait group $wg"
	expect stopper '^\* +[0-9]+ +stopper +running .*gdb_stop_here at gdb_target\.c' "running, in gdb_stop_here"
	expect fresh ' runnable \(not started\) .*not started: fresh' "not started"
	echo "$info" | grep -qE '0x[0-9a-f]+-0x[0-9a-f]+ [0-9]+\.[0-9] KiB used' || bad "no stack ranges and use"
	n=$(echo "$info" | grep -cE '^[ *] +[0-9]+ ' || true)
	[ "$n" = 9 ] || bad "expected 9 rows (main and 8 coroutines), got $n"

	bt() { # NAME FUNCTION...: the backtrace has each of them
		b=$(section "bt-$1" <"$out")
		shift
		echo "$b" | grep -q '^#0 ' || bad "no frame #0 in: $b"
		for f in "$@"; do
			echo "$b" | grep -qE "^#[0-9]+ .*\b$f\b" || bad "$f not in the backtrace: $b"
		done
		if echo "$b" | grep -qE 'gdb_stop_here|stop_in_coroutine'; then
			bad "the stopped thread's own frames leaked in: $b"
		fi
	}
	# The user's function and corun's entry trampoline (clang's DWARF for
	# the .S shows corun__ctx_start as corun.ctx_start); corun's public call
	# may be missing, when the compiler made it a tail call.
	start='corun(__|\.)ctx_start'
	bt parker park_loop "$start"
	bt sleeper sleep_long "$start"
	bt receiver recv_one "$start"
	bt joiner join_sleeper "$start"
	bt reader read_pipe "$start"
	bt grouped wait_group "$start"
	bt by-id sleep_long
	bt main main
	bt fresh 'fresh \(not started'
	b=$(section bt-stopper <"$out")
	echo "$b" | grep -qE '^#0 .*gdb_stop_here' || bad "stopper's bt does not start in gdb_stop_here: $b"
	echo "$b" | grep -qE 'stop_in_coroutine' || bad "stopper's bt lacks stop_in_coroutine: $b"
	section bt-handle-line <"$out" | grep -qE '^[0-9]+ receiver waiting channel' ||
		bad "coroutine HANDLE: $(section bt-handle-line <"$out")"
	section bt-full <"$out" | grep -qE '^ +v = ' || bad "bt full shows no locals of recv_one"
	n=$(section bt-1 <"$out" | grep -cE '^#' || true)
	[ "$n" = 1 ] || bad "coroutine joiner bt 1 showed $n frames"
	# The real stack is back afterwards.
	b=$(section real-bt <"$out")
	echo "$b" | grep -qE '^#0 .*gdb_stop_here' || bad "bt after the commands: $b"
	echo "$b" | grep -qE '^#1 .*stop_in_coroutine' || bad "bt after the commands: $b"
}

gdbq() {
	gdb -nx -batch -ex 'set debuginfod enabled off' -ex 'set pagination off' \
		-ex 'set width 0' -ex "source $script" "$@"
}

where=live
gdbq -ex 'break gdb_stop_here' -ex run -x "$cmds" -ex kill "$prog" >"$dir/live.out" 2>&1 || true
cat "$dir/live.out"
check "$dir/live.out"

# Core files. check_core NAME FILE: the same commands on it.
check_core() {
	where=$1
	if [ ! -s "$2" ]; then
		bad "no core file written"
		return
	fi
	gdbq -x "$cmds" "$prog" "$2" >"$dir/$1.out" 2>&1 || true
	cat "$dir/$1.out"
	check "$dir/$1.out"
	grep -q 'found by registry' "$dir/$1.out" || bad "the runtime was not found in the registry"
	rm -f "$2"
}

# As a crash leaves one: the kernel's, of the program killed by SIGABRT at
# the breakpoint (it writes a guard page as a hole and every stack in full).
# Only where the kernel writes cores to a file named core in the working
# directory (core_pattern "core"; not a pipe to a collector).
case $(cat /proc/sys/kernel/core_pattern 2>/dev/null) in
core | core.%p)
	(cd "$dir" && ulimit -c unlimited 2>/dev/null &&
		gdbq -ex 'break gdb_stop_here' -ex run -ex 'signal SIGABRT' "$prog" \
			>"$dir/kernel-dump.out" 2>&1) || true
	check_core kernel-core "$(ls "$dir"/core* 2>/dev/null | head -n 1)"
	;;
*) echo "kernel core dumps go elsewhere (core_pattern): only gcore is checked" ;;
esac

# gdb's own, gcore: it reads each mapping through the kernel, and a read
# that meets a guard page installed with MADV_GUARD_INSTALL (Linux >= 6.13)
# fails, so gdb 13 leaves the whole slab of stacks out of the core. With
# mprotect guards, each guard is a mapping of its own, which gcore skips.
CORUN_GUARD=mprotect gdbq -ex 'break gdb_stop_here' -ex run -ex "gcore $dir/gcore" -ex kill \
	"$prog" >"$dir/gcore-dump.out" 2>&1 || true
check_core gcore "$dir/gcore"
[ $fail = 0 ] && echo "corun-gdb.py: live and core file checks passed"
exit $fail
