#!/bin/sh
# The gdb commands load with libcorun.so, from its .debug_gdb_scripts
# section, with no `source`: gdb_target linked with the shared library,
# stopped inside a coroutine, lists its coroutines. gdb loads embedded
# scripts only from directories on its auto-load safe-path; LIBDIR is added.
# Usage: autoload.sh PROGRAM LIBDIR
set -eu
if ! command -v gdb >/dev/null 2>&1; then
	echo "gdb is not installed: skipped"
	exit 77
fi
out=$(gdb -nx -batch -iex 'set debuginfod enabled off' -iex "add-auto-load-safe-path $2" \
	-ex 'set width 0' -ex 'break gdb_stop_here' -ex run -ex 'info auto-load python-scripts' \
	-ex 'info coroutines' -ex 'coroutine receiver bt' -ex kill "$1" 2>&1)
echo "$out"
fail=0
echo "$out" | grep -qE '^Yes +corun-gdb\.py' || { echo "FAIL: corun-gdb.py was not auto-loaded"; fail=1; }
echo "$out" | grep -qE '^\* +[0-9]+ +stopper +running' || { echo "FAIL: info coroutines"; fail=1; }
echo "$out" | grep -qE '^#[0-9]+ .*recv_one' || { echo "FAIL: coroutine receiver bt"; fail=1; }
[ $fail = 0 ] && echo "corun-gdb.py auto-loads with libcorun.so"
exit $fail
