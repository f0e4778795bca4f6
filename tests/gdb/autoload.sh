#!/bin/sh
# The gdb commands load with libcorun.so, from its .debug_gdb_scripts
# section, with no `source`: gdb_target linked with the shared library,
# stopped inside a coroutine, lists its coroutines. gdb loads embedded
# scripts only from directories on its auto-load safe-path; LIBDIR is added.
# Then the same program with a copy of libcorun.so stripped as distributions
# ship it (strip --strip-all, which removes that section too, and every
# symbol but the exported functions): the script, sourced, finds the
# library's registry by its section and lists the coroutines all the same.
# Usage: autoload.sh PROGRAM LIBDIR SCRIPT WORKDIR
set -eu
prog=$1 libdir=$2 script=$3 dir=$4
if ! command -v gdb >/dev/null 2>&1; then
	echo "gdb is not installed: skipped"
	exit 77
fi
out=$(gdb -nx -batch -iex 'set debuginfod enabled off' -iex "add-auto-load-safe-path $libdir" \
	-ex 'set width 0' -ex 'break gdb_stop_here' -ex run -ex 'info auto-load python-scripts' \
	-ex 'info coroutines' -ex 'coroutine receiver bt' -ex kill "$prog" 2>&1)
echo "$out"
fail=0
echo "$out" | grep -qE '^Yes +corun-gdb\.py' || { echo "FAIL: corun-gdb.py was not auto-loaded"; fail=1; }
echo "$out" | grep -qE '^\* +[0-9]+ +stopper +running' || { echo "FAIL: info coroutines"; fail=1; }
echo "$out" | grep -qE '^#[0-9]+ .*recv_one' || { echo "FAIL: coroutine receiver bt"; fail=1; }

# The stripped copy, found first (LD_LIBRARY_PATH comes before the
# program's RUNPATH).
rm -rf "$dir"
mkdir -p "$dir"
soname=$(readelf -dW "$libdir/libcorun.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
strip --strip-all -o "$dir/$soname" "$libdir/libcorun.so"
out=$(LD_LIBRARY_PATH="$dir" gdb -nx -batch -iex 'set debuginfod enabled off' \
	-iex "add-auto-load-safe-path $dir" -ex 'set width 0' -ex "source $script" \
	-ex 'break gdb_stop_here' -ex run -ex 'info sharedlibrary' -ex 'info coroutines' \
	-ex 'coroutine receiver bt' -ex kill "$prog" 2>&1)
echo "$out"
echo "$out" | grep -qF "$dir/$soname" || { echo "FAIL: the stripped copy was not loaded"; fail=1; }
echo "$out" | grep -qE '^ +[0-9]+ +receiver +waiting +channel 0x[0-9a-f]+ \(receive\)' ||
	{ echo "FAIL: info coroutines with a stripped libcorun.so"; fail=1; }
echo "$out" | grep -qE '^#[0-9]+ .*recv_one' ||
	{ echo "FAIL: coroutine receiver bt with a stripped libcorun.so"; fail=1; }
[ $fail = 0 ] && echo "corun-gdb.py auto-loads with libcorun.so, and works with a stripped one"
exit $fail
