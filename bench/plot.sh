#!/bin/sh
# Chart of park cost against the number of coroutines, on a log scale, from
# the suite's CSV: bench/results/park.svg. Needs gnuplot (Debian:
# gnuplot-nox). Usage: bench/plot.sh [CSV] [SVG]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
csv=${1:-$here/results/bench.csv}
svg=${2:-$here/results/park.svg}
command -v gnuplot >/dev/null || { echo "gnuplot is not installed (apt-get install gnuplot-nox)"; exit 1; }
data=$(mktemp)
trap 'rm -f "$data"' EXIT
# park,corun_park,N=100000,median,min,max,ns,trials -> N median min max
awk -F, '$1 == "park" { sub("N=", "", $3); print $3, $4, $5, $6 }' "$csv" >"$data"
[ -s "$data" ] || { echo "no park rows in $csv"; exit 1; }
boost=$(awk -F, '$1 == "switch" && $2 ~ /boost/ { print $4 }' "$csv")
gnuplot <<GP
set terminal svg size 720,420 font "sans,12" background rgb "white"
set output "$svg"
set title "corun\\\\_park: cost of one park against the number of coroutines"
set xlabel "coroutines parking round robin (N, log scale)"
set ylabel "ns per park (median, min-max bars)"
set logscale x 10
set logscale y 2
set xrange [1:3e6]
set yrange [2:64]
set grid xtics ytics mytics
set key top left
set format x "10^{%L}"
$( [ -n "$boost" ] && echo "boost = $boost" || echo "boost = NaN" )
plot "$data" using 1:2:3:4 with yerrorlines lw 2 pt 7 title "corun\\\\_park (16 KiB stacks)", \
     boost with lines dt 2 lw 1.5 title "Boost.Context jump\\\\_fcontext (one switch, no scheduler)"
GP
echo "wrote $svg"
