#!/usr/bin/env bash
# Build fuzz_runtime with clang into BUILD_DIR and fuzz a copy of the seed
# corpus for a bounded time. Exits non-zero on any crash, leak, timeout or
# other finding; the reproducer is left in BUILD_DIR/fuzz-work/artifacts/.
#
# Usage: fuzz/run.sh BUILD_DIR
#   FUZZ_RUNS     number of inputs to run (default 200000)
#   FUZZ_SECONDS  stop after this many seconds (default 120)
#   FUZZ_TIMEOUT  seconds one input may take before it counts as a hang (10)
set -euo pipefail

if [ $# -ne 1 ]; then
	echo "usage: $0 BUILD_DIR" >&2
	exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
src=$(dirname "$here")
build=$1
runs=${FUZZ_RUNS:-200000}
secs=${FUZZ_SECONDS:-120}
timeout=${FUZZ_TIMEOUT:-10}

cmake -S "$src" -B "$build" -DCMAKE_C_COMPILER=clang -DCORUN_FUZZ=ON \
	-DCORUN_BUILD_TESTS=OFF -DCORUN_BUILD_BENCH=OFF -DCORUN_BUILD_EXAMPLES=OFF >/dev/null
cmake --build "$build" --target fuzz_runtime -j"$(nproc)"
exe=$build/fuzz/fuzz_runtime
if [ ! -x "$exe" ]; then
	echo "$0: $exe was not built (is the top level adding fuzz/ with CORUN_FUZZ?)" >&2
	exit 1
fi

work=$build/fuzz-work
rm -rf "$work"
mkdir -p "$work/corpus" "$work/artifacts"
cp "$here"/corpus/* "$work/corpus/"

start=$(date +%s)
status=0
"$exe" -runs="$runs" -max_total_time="$secs" -timeout="$timeout" \
	-artifact_prefix="$work/artifacts/" -print_final_stats=1 \
	"$work/corpus" || status=$?
echo "fuzz_runtime: exit status $status after $(($(date +%s) - start)) s"

if [ -n "$(ls -A "$work/artifacts")" ]; then
	echo "fuzz_runtime: findings in $work/artifacts:" >&2
	ls -l "$work/artifacts" >&2
	[ "$status" -ne 0 ] || status=1
fi
exit "$status"
