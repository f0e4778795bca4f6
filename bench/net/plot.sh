#!/bin/sh
# Chart of the echo servers' CPU time per round trip against the number of
# connections, from bench/net/run.sh's CSV: bench/results/net.svg. Needs
# gnuplot (Debian: gnuplot-nox). Usage: bench/net/plot.sh [CSV] [SVG]
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
csv=${1:-$here/results/net.csv}
svg=${2:-$here/results/net.svg}
command -v gnuplot >/dev/null || { echo "gnuplot is not installed (apt-get install gnuplot-nox)"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The machine, from the CSV's first line: "# corun network benchmarks: MODEL, ..."
model=$(sed -n '1s/^# corun network benchmarks: \([^,]*\),.*/\1/p' "$csv")
plot=""
for s in corun-uring corun-epoll c-uring c-epoll go; do
	# echo,SERVER,CONNS,cpu_ns,VALUE -> CONNS VALUE
	awk -F, -v s="$s" '$1 == "echo" && $2 == s && $4 == "cpu_ns" { print $3, $5 }' "$csv" >"$tmp/$s"
	case $s in
	corun-uring) title="corun echo\\\\_server on io\\\\_uring (a coroutine per connection)" ;;
	corun-epoll) title="corun echo\\\\_server on epoll" ;;
	c-uring) title="hand-written C liburing loop" ;;
	c-epoll) title="hand-written C epoll loop" ;;
	go) title="Go, a goroutine per connection, GOMAXPROCS=1" ;;
	esac
	[ -s "$tmp/$s" ] && plot="$plot${plot:+, }\"$tmp/$s\" using 1:2 with linespoints lw 2 pt 7 title \"$title\""
done
[ -n "$plot" ] || { echo "no echo cpu_ns rows in $csv"; exit 1; }
gnuplot <<GP
set terminal svg size 720,420 font "sans,12" background rgb "white"
set output "$svg"
set title "Echo, 64-byte ping-pong: server CPU time per round trip\\n{/*0.8 $model; server and load pinned to a CPU each}"
set xlabel "connections (log scale)"
set ylabel "server CPU ns per round trip (median)"
set logscale x 10
set xrange [0.5:20000]
set yrange [0:*]
set grid xtics ytics
set key top right
set format x "10^{%L}"
plot $plot
GP
echo "wrote $svg"
