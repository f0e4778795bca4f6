#!/bin/bash
# File benchmark (issue 20): 4 KiB random reads of one file, corun_pread
# against fio, in one run.
#
#   N readers, each with one read in flight, N = 1, 32 and 256, for a fixed
#   time; IOPS, and CPU time per read where known:
#     fio-uring    fio --ioengine=io_uring --rw=randread --bs=4k --iodepth=N
#                  (one thread, N reads in flight; fio's defaults otherwise)
#     corun-uring  bench/files/corun_fileread.c: N coroutines on one thread,
#                  each a loop of corun_pread, CORUN_IO=io_uring
#     corun-epoll  the same with CORUN_IO=epoll: each read a job for the
#                  blocking pool (up to N pool threads at once)
#     fio-psync    fio --ioengine=psync --numjobs=N --thread: N threads, each
#                  with one pread in flight, for reference (what corun-epoll
#                  does, without a runtime in between)
#     fio-batch    fio-uring with --iodepth_batch_submit=N
#                  --iodepth_batch_complete_max=N --gtod_reduce=1, for
#                  reference: fio submitting and reaping in batches without
#                  its clock reads per read, nearer what io_uring can do here
#   in two settings:
#     cached       buffered reads of a file held in the page cache (read
#                  through once first; fincore says how much of it is there)
#     direct       O_DIRECT reads of a file larger than this machine's memory
#                  where the disk has room for one (else as large as half
#                  the free space), every read going to the device
#
# The runs of one trial are interleaved (for each N, all in turn) so
# that a noisy moment hits all of them; figures are medians of TRIALS
# trials, and a ratio to fio-uring is the median over the trials of the
# ratio within a trial. Nothing is pinned: corun-epoll's pool and fio's
# psync threads use every CPU, as they would.
#
# Usage: bench/files/run.sh BUILD_DIR [--quick]
#   BUILD_DIR has bench/corun_fileread; fio must be installed (apt-get
#   install fio; without it the benchmark is skipped). Writes
#   bench/results/files.{csv,txt} (--quick: a smoke test with short runs,
#   small files and no direct setting for N = 256, written to a temporary
#   folder).
# Environment: TRIALS (3), SECS (4, per measured window), WARM (1),
#   FILE_DIR (/var/tmp: where the files go), CACHED_MIB (1024: the cached
#   file), LARGE_GIB (the direct file; default as said above),
#   KEEP=1 (keep the files for the next run; by default a file this run
#   made is removed at the end, a file it found is reused and kept).
set -u
here=$(cd "$(dirname "$0")" && pwd)
bench=$(dirname "$here")
build=${1:?usage: run.sh BUILD_DIR [--quick]}
build=$(cd "$build" && pwd)
quick=0
[ "${2:-}" = "--quick" ] && quick=1

trials=${TRIALS:-3}
secs=${SECS:-4}
warm=${WARM:-1}
depths="1 32 256"
dir=${FILE_DIR:-/var/tmp}
cached_mib=${CACHED_MIB:-1024}
large_mib=
[ -n "${LARGE_GIB:-}" ] && large_mib=$((LARGE_GIB << 10))
if [ $quick = 1 ]; then
	trials=1 secs=0.5 warm=0.2 depths="1 32" cached_mib=64 large_mib=256
fi

reader=$build/bench/corun_fileread
[ -x "$reader" ] || { echo "$reader is missing: cmake --build $build --target corun_fileread"; exit 1; }
command -v fio >/dev/null 2>&1 || { echo "fio is not installed (apt-get install fio): file benchmark skipped"; exit 0; }

tmp=$(mktemp -d /tmp/corun-files-XXXXXX)
made=()
cleanup() {
	rm -rf "$tmp"
	[ "${KEEP:-0}" = 1 ] || for f in "${made[@]}"; do rm -f "$f"; done
}
trap cleanup EXIT
if [ $quick = 1 ]; then
	results=$tmp/results
	mkdir -p "$results"
	dir=$tmp
else
	results=$bench/results
fi
csv=$results/files.csv
txt=$results/files.txt
mkdir -p "$dir"

# make FILE BYTES: write it for real (an fallocated or sparse file would be
# read as zeros without touching the device), unless it is there already.
make_file() {
	local f=$1 bytes=$2
	if [ -f "$f" ] && [ "$(stat -c %s "$f")" -ge "$bytes" ]; then
		echo "reusing $f ($(($(stat -c %s "$f") >> 20)) MiB)"
		return 0
	fi
	echo "writing $f ($((bytes >> 20)) MiB)..."
	made+=("$f")
	# O_DIRECT, not to fill the page cache with it; buffered where the
	# file system has no O_DIRECT (tmpfs).
	fio --name=make --filename="$f" --rw=write --bs=1M --size="$bytes" --direct=1 \
		--ioengine=libaio --iodepth=8 --output=/dev/null 2>/dev/null ||
		fio --name=make --filename="$f" --rw=write --bs=1M --size="$bytes" --end_fsync=1 \
			--output=/dev/null || { echo "writing $f failed"; exit 1; }
}
# Sizes in shell arithmetic (64 bits): mawk's printf %d stops at 2^31.
mem_kb=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)
if [ -z "$large_mib" ]; then
	# 5/4 of memory in whole GiB, or half of what the disk has free
	# (counting a file of ours that is already there), whichever is less.
	avail_kb=$(df -Pk "$dir" | awk 'NR == 2 { print $4 }')
	[ -f "$dir/corun-files-large.dat" ] && avail_kb=$((avail_kb + $(stat -c %s "$dir/corun-files-large.dat") / 1024))
	large_mib=$(((mem_kb * 5 / 4 / 1048576 + 1) << 10))
	[ $((avail_kb / 2 / 1024)) -lt "$large_mib" ] && large_mib=$((avail_kb / 2 / 1024))
fi
cached=$dir/corun-files-cached.dat
large=$dir/corun-files-large.dat
make_file "$cached" $((cached_mib << 20))
cached_mib=$(($(stat -c %s "$cached") >> 20))
large_bytes=$((large_mib << 20))
if [ "$large_bytes" -lt $((64 << 20)) ]; then
	echo "no room for a file to read with O_DIRECT in $dir: the direct setting skipped"
	large=
elif ! dd if="$cached" of=/dev/null bs=4k count=1 iflag=direct 2>/dev/null; then
	echo "$dir ($(df -PT "$dir" | awk 'NR == 2 { print $2 }')) has no O_DIRECT: the direct setting skipped"
	large=
else
	make_file "$large" "$large_bytes"
	large_bytes=$(stat -c %s "$large")
fi
cat "$cached" >/dev/null
incache() { # file -> "P% in the page cache", when fincore is there
	command -v fincore >/dev/null 2>&1 || return 0
	fincore -b -n -o RES,SIZE "$1" 2>/dev/null | awk '{ printf "%.0f%% of it in the page cache", $2 ? 100 * $1 / $2 : 0 }'
}

fs=$(df -PT "$dir" | awk 'NR == 2 { print $2 }')
dev=$(df -P "$dir" | awk 'NR == 2 { print $1 }')
{
	echo "corun file benchmark, $(date -u +%F): $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs,"
	echo "  $((mem_kb >> 20)) GiB of memory, Linux $(uname -r), $(fio --version); files in $dir ($fs on $dev);"
	echo "  $trials trial(s) of ${secs} s after ${warm} s of warm-up; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$tmp/head"

# ---- one run: sets out to "iops cpu_us_per_read extra" (empty on failure)
ms() { awk -v s="$1" 'BEGIN { printf "%dms", s * 1000 + 0.5 }'; }
fio_run() { # engine direct file n [more fio options]
	local engine=$1 direct=$2 file=$3 n=$4 line
	shift 4
	local common=(--name=r --filename="$file" --rw=randread --bs=4k --direct="$direct"
		--invalidate=0 --norandommap --randrepeat=0 --time_based
		--runtime="$(ms "$secs")" --ramp_time="$(ms "$warm")" --output-format=terse)
	if [ "$engine" = io_uring ]; then
		line=$(fio "${common[@]}" --ioengine=io_uring --iodepth="$n" "$@" 2>"$tmp/fio.err")
	else
		line=$(fio "${common[@]}" --ioengine=psync --numjobs="$n" --thread --group_reporting \
			2>"$tmp/fio.err")
	fi
	# terse v3: 5 error, 6 KiB read, 8 read IOPS, 9 read ms, 88/89 usr/sys CPU %
	# (of one CPU, over the job's run: for one job only)
	out=$(echo "$line" | awk -F';' -v n="$n" -v e="$engine" '$1 == 3 && $5 == 0 && $8 > 0 {
		cpu = "-"
		if (e == "io_uring") cpu = sprintf("%.3f", ($88 + $89) / 100 * $9 * 1000 / ($6 / 4))
		print $8, cpu, "-" }')
	[ -n "$out" ] || { echo "    fio failed:"; echo "$line" | head -3; cat "$tmp/fio.err"; }
}
corun_run() { # backend direct file n
	local line opt=()
	[ "$2" = 1 ] && opt=(-D)
	line=$(env CORUN_IO="$1" "$reader" -n "$4" -d "$secs" -w "$warm" "${opt[@]}" "$3" 2>"$tmp/corun.err")
	out=$(echo "$line" | tr ' ' '\n' | awk -F= -v want="$1" '
		{ v[$1] = $2 }
		END { if (v["iops"] > 0) printf "%d %s %s%s\n", v["iops"], v["cpu_us_per_read"],
			v["enters_per_read"], v["backend"] == want ? "" : "@" v["backend"] }')
	[ -n "$out" ] || {
		echo "    corun_fileread failed: $(cat "$tmp/corun.err")"
		# the message without the offset, so that sort -u keeps one a kind
		echo "corun-${1#io_} $setting: $(head -1 "$tmp/corun.err" | sed 's/ (at [0-9]*)$//')" >>"$tmp/failures"
	}
}
runners="fio-uring corun-uring corun-epoll fio-psync fio-batch"
run() { # runner direct file n
	case $1 in
	fio-uring) fio_run io_uring "$2" "$3" "$4" ;;
	fio-psync) fio_run psync "$2" "$3" "$4" ;;
	fio-batch) fio_run io_uring "$2" "$3" "$4" --iodepth_batch_submit="$4" \
		--iodepth_batch_complete_max="$4" --gtod_reduce=1 ;;
	corun-uring) corun_run io_uring "$2" "$3" "$4" ;;
	corun-epoll) corun_run epoll "$2" "$3" "$4" ;;
	esac
}

: >"$tmp/trials"
: >"$tmp/failures"
settings="cached"
[ -n "$large" ] && settings="cached direct"
for setting in $settings; do
	if [ "$setting" = cached ]; then
		file=$cached direct=0
		cat "$cached" >/dev/null
		echo "cached: $cached, $((cached_mib)) MiB, buffered reads; $(incache "$cached")" | tee "$tmp/cached.note"
	else
		file=$large direct=1
		echo "direct: $large, $((large_bytes >> 20)) MiB ($(awk -v b="$large_bytes" -v m="$mem_kb" \
			'BEGIN { printf "%.2f", b / 1024 / m }')x memory), O_DIRECT reads" | tee "$tmp/direct.note"
	fi
	for t in $(seq "$trials"); do
		for n in $depths; do
			# The direct setting at 256 in --quick would only be slow.
			[ $quick = 1 ] && [ "$setting" = direct ] && [ "$n" -gt 32 ] && continue
			for r in $runners; do
				run "$r" "$direct" "$file" "$n"
				[ -n "$out" ] || continue
				echo "  $setting trial $t $r n=$n: iops cpu_us/read enters/read: $out"
				echo "$t $setting $r $n $out" >>"$tmp/trials"
			done
		done
	done
	[ "$setting" = cached ] && echo "  after: $(incache "$cached")" | tee -a "$tmp/cached.note"
done

# ---- results
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
col() { # setting runner n column -> the median over trials (column 5: iops, 6: cpu, 7: enters)
	awk -v s="$1" -v r="$2" -v n="$3" -v c="$4" '$2 == s && $3 == r && $4 == n && $c != "-" { sub("@.*", "", $c); print $c }' \
		"$tmp/trials" | median
}
vsfio() { # setting runner n -> median over trials of iops / fio-uring's iops
	awk -v s="$1" -v r="$2" -v n="$3" '$2 == s && $4 == n {
			if ($3 == r) x[$1] = $5; if ($3 == "fio-uring") y[$1] = $5 }
		END { for (t in x) if (t in y && y[t] > 0) printf "%.4f\n", x[t] / y[t] }' "$tmp/trials" | median
}
fell_back() { # setting runner -> the backend it got instead, if it fell back
	awk -v s="$1" -v r="$2" '$2 == s && $3 == r && $7 ~ /@/ { sub(".*@", "", $7); print $7; exit }' "$tmp/trials"
}
{
	echo "# $(tr '\n' ' ' <"$tmp/head")"
	echo "setting,runner,n,metric,value"
	for setting in $settings; do
		for n in $depths; do
			for r in $runners; do
				v=$(col "$setting" "$r" "$n" 5)
				[ -n "$v" ] || continue
				echo "$setting,$r,$n,iops,$v"
				v=$(col "$setting" "$r" "$n" 6)
				[ -n "$v" ] && echo "$setting,$r,$n,cpu_us_per_read,$v"
				v=$(col "$setting" "$r" "$n" 7)
				[ -n "$v" ] && echo "$setting,$r,$n,enters_per_read,$v"
				v=$(vsfio "$setting" "$r" "$n")
				[ -n "$v" ] && [ "$r" != fio-uring ] && echo "$setting,$r,$n,iops_vs_fio_uring,$v"
			done
		done
	done
} >"$csv"
get() { awk -F, -v s="$1" -v r="$2" -v n="$3" -v m="$4" '$1 == s && $2 == r && $3 == n && $4 == m { print $5 }' "$csv"; }
fmt() { # value format -> the value so formatted, or -
	if [ -n "$1" ]; then awk -v v="$1" -v f="$2" 'BEGIN { printf f, v }'; else echo -; fi
}
{
	cat "$tmp/head"
	echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo
	echo "4 KiB random reads, N readers with one read in flight each (medians of $trials)"
	echo "  iops: reads per second in the measured window; /fio: median over the trials of the"
	echo "  ratio to fio-uring's IOPS in the same trial (issue 20's target for corun-uring: >= 0.90);"
	echo "  cpu us: CPU time per read of the whole process (corun: its threads, the pool's and the"
	echo "  kernel's io_uring workers; fio-uring, fio-batch: fio's usr+sys of its job; fio-psync: -);"
	echo "  enters: corun's io_uring_enter calls per read"
	for setting in $settings; do
		echo
		sed 's/^/  /' "$tmp/$setting.note"
		for r in corun-uring corun-epoll; do
			b=$(fell_back "$setting" "$r")
			[ -n "$b" ] && echo "  NOTE: $r ran on $b (corun fell back): its rows are not ${r#corun-}'s"
		done
		for r in $runners; do
			grep -q "^$setting,$r," "$csv" || echo "  NOTE: no figures for $r: every run of it failed (see below)"
		done
		printf "  %-12s %5s %10s %8s %8s %8s\n" runner N iops /fio "cpu us" enters
		for n in $depths; do
			for r in $runners; do
				v=$(get "$setting" "$r" "$n" iops)
				[ -n "$v" ] || continue
				printf "  %-12s %5s %10.0f %8s %8s %8s\n" "$r" "$n" "$v" \
					"$(fmt "$(get "$setting" "$r" "$n" iops_vs_fio_uring)" %.2fx)" \
					"$(fmt "$(get "$setting" "$r" "$n" cpu_us_per_read)" %.2f)" \
					"$(fmt "$(get "$setting" "$r" "$n" enters_per_read)" %.3f)"
			done
		done
	done
	if [ -s "$tmp/failures" ]; then
		echo
		echo "runs that failed (runner setting: its first error line):"
		sort -u "$tmp/failures" | sed 's/^/  /'
	fi
	echo
	echo "machine:"
	lscpu | grep -v '^Flags:' | head -n 14 | sed 's/^/  /'
	echo "  kernel: $(uname -srvm)"
} >"$txt"
cat "$txt"
echo "wrote $csv and $txt"
