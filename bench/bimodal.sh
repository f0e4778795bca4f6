#!/bin/sh
# Is park's run-to-run spread corun's placement or the machine? Runs the
# switch section of corun_bench in RUNS fresh processes, with address-space
# randomisation on and then off (setarch -R: every address the same in every
# run), and prints per run the calibration loop (6 independent adds: plain
# code, no memory, no branches to speak of), corun_park and Boost's
# jump_fcontext. If a slow run is slow with ASLR off too, and its
# calibration is slow as well, the cause is the CPU the run got, not where
# corun put anything.
# Then, in one process, what placement alone can do: corun_alias switches
# between two contexts at every pair of offsets within a page.
# Usage: bench/bimodal.sh BUILD_DIR [RUNS]
set -eu
build=${1:?usage: bimodal.sh BUILD_DIR [RUNS]}
runs=${2:-20}
prog=$build/bench/corun_bench
one() {
	"$@" "$prog" --only switch --trials 3 | awk '
		/calibration/ { c = $(NF-3) }
		/corun_park, 2 coroutines  / { p = $(NF-3) }
		/boost.context jump_fcontext/ { b = $(NF-3) }
		END { printf "%12s %12s %14s\n", c, p, (b == "" ? "-" : b) }'
}
for mode in on off; do
	echo "ASLR $mode: calibration ns, corun_park ns, boost jump_fcontext ns (medians of 3)"
	i=0
	while [ $i -lt "$runs" ]; do
		if [ $mode = on ]; then one env; else one setarch -R; fi
		i=$((i + 1))
	done
done
echo
"$build/bench/corun_alias"
