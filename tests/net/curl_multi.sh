#!/bin/sh
# examples/curl_multi (libcurl's multi interface on corun coroutines)
# against http_hello: 50 URLs fetched at once, every body checked; then
# the overall deadline: URLs of a server that never answers (mute_server)
# end at the deadline as "no answer by the deadline", while the others
# beside them are answered. Skipped (77) when the build has no libcurl.
# Usage: curl_multi.sh HTTP_HELLO CURL_MULTI|- MUTE_SERVER
set -eu
if [ "$2" = - ]; then
	echo "examples/curl_multi not built (no libcurl development files): skipped"
	exit 77
fi
. "$(dirname "$0")/server.sh"
hello=$1 fetch=$2 mute=$3
work=$(mktemp -d)
mute_pid=
cleanup() {
	stop_server
	if [ -n "$mute_pid" ]; then
		kill "$mute_pid" 2>/dev/null || :
		wait "$mute_pid" 2>/dev/null || :
	fi
	rm -rf "$work"
}
start_server "$hello" 0
trap cleanup EXIT

# fetch ARGS...: run curl_multi; its exit status in $rc, its stdout in
# $work/out; fail on anything on its stderr (a sanitizer's report).
fetch() {
	rc=0
	${NET_WRAPPER:-} "$fetch" "$@" >"$work/out" 2>"$work/err" || rc=$?
	if [ -s "$work/err" ]; then
		echo "curl_multi wrote to stderr:" >&2
		cat "$work/err" >&2
		exit 1
	fi
}

n=50
urls=
for i in $(seq $n); do
	urls="$urls http://127.0.0.1:$port/$i"
done
mkdir "$work/bodies"
# shellcheck disable=SC2086 # the URLs are words
fetch -d 60000 -o "$work/bodies" $urls
if [ "$rc" -ne 0 ]; then
	echo "curl_multi exited $rc:" >&2
	cat "$work/out" >&2
	exit 1
fi
ok=$(grep -c ': HTTP 200, 5 bytes$' "$work/out" || :)
if [ "$ok" -ne $n ]; then
	echo "$ok of $n fetched:" >&2
	cat "$work/out" >&2
	exit 1
fi
for i in $(seq $n); do
	if [ "$(cat "$work/bodies/$i")" != hello ]; then
		echo "body $i is not hello:" >&2
		od -c "$work/bodies/$i" | head >&2
		exit 1
	fi
done
echo "$n URLs fetched at once, every body right"

# The deadline. mute_server listens and never answers, so its clients
# connect, send and wait: without the deadline they would wait forever.
"$mute" >"$work/mute" 2>&1 &
mute_pid=$!
tries=0
while ! grep -q '^listening on [0-9]' "$work/mute"; do
	tries=$((tries + 1))
	if [ "$tries" -gt 100 ]; then
		echo "mute_server not ready:" >&2
		cat "$work/mute" >&2
		exit 1
	fi
	sleep 0.1
done
mute_port=$(sed -n 's/^listening on \([0-9]*\)$/\1/p' "$work/mute")
deadline_ms=1000
start=$(date +%s%N)
fetch -d $deadline_ms "http://127.0.0.1:$port/a" "http://127.0.0.1:$mute_port/x" \
	"http://127.0.0.1:$port/b" "http://127.0.0.1:$mute_port/y" "http://127.0.0.1:$port/c"
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
cat "$work/out"
echo "ended after $elapsed_ms ms, with a deadline of $deadline_ms ms"
if [ "$rc" -ne 1 ] ||
	[ "$(grep -c ': HTTP 200, 5 bytes$' "$work/out")" -ne 3 ] ||
	[ "$(grep -c "^http://127.0.0.1:$mute_port/.: no answer by the deadline$" "$work/out")" -ne 2 ]; then
	echo "expected 3 answers and 2 timeouts, and exit status 1 (got $rc)" >&2
	exit 1
fi
# Not before the deadline; after it, by no more than a slow start (under a
# checker such as valgrind) explains.
if [ "$elapsed_ms" -lt $deadline_ms ] || [ "$elapsed_ms" -gt $((deadline_ms + 20000)) ]; then
	echo "the deadline did not end the run in time" >&2
	exit 1
fi
check_server
