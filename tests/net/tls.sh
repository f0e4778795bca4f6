#!/bin/sh
# https_hello driven by other TLS clients, with a certificate made here by
# the openssl command: curl (three URLs on one command line must share one
# connection: keep-alive through TLS), openssl s_client (TLS 1.3 and 1.2:
# the handshake, two requests, the answers, the close), wrk over HTTPS, the
# hand-off mode (-g) once, and, with python3, tls_check.py (its ssl client,
# and clients that connect and stall before or in the middle of their
# ClientHello, which the server must drop at its -T deadline). Skipped
# (77) without curl or openssl; wrk and python3 parts are skipped alone.
# Usage: tls.sh HTTPS_HELLO
set -eu
for tool in curl openssl; do
	if ! command -v $tool >/dev/null 2>&1; then
		echo "$tool not installed: skipped"
		exit 77
	fi
done
. "$(dirname "$0")/server.sh"
here=$(cd "$(dirname "$0")" && pwd)
server=$1

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# After each start_server, whose own trap stops the server.
cleanup() {
	stop_server
	rm -rf "$dir"
}
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
	-days 2 -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null

# The handshake and idle deadline: short, for the stalling clients, and
# long enough for a checker's slow handshakes.
T=2
start_server "$server" -c "$dir/cert.pem" -k "$dir/key.pem" -T $T -t 2 0
trap cleanup EXIT
url=https://127.0.0.1:$port

echo "curl: three requests, one connection"
body=$(curl -sS --insecure -v --max-time 30 "$url/" "$url/two" "$url/three" 2>"$dir/curl.err")
if [ "$body" != hellohellohello ]; then
	echo "curl got '$body':" >&2
	cat "$dir/curl.err" >&2
	exit 1
fi
if [ "$(grep -c 'Re-using existing connection' "$dir/curl.err")" -ne 2 ] ||
	[ "$(grep -c 'SSL connection using' "$dir/curl.err")" -ne 1 ]; then
	echo "curl did not keep its one TLS connection:" >&2
	cat "$dir/curl.err" >&2
	exit 1
fi

# Two requests in one go; the second asks to close, and the server's close
# (its close_notify, then TCP's) ends s_client.
for version in -tls1_3 -tls1_2; do
	echo "openssl s_client $version"
	printf 'GET / HTTP/1.1\r\nHost: localhost\r\n\r\nGET /2 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' |
		timeout 30 openssl s_client -brief -ign_eof $version -connect "127.0.0.1:$port" \
			-servername localhost >"$dir/s_client.out" 2>&1 || {
		echo "s_client failed:" >&2
		cat "$dir/s_client.out" >&2
		exit 1
	}
	v=$(echo "$version" | sed 's/-tls1_/TLSv1./')
	if ! grep -q "Protocol version: $v" "$dir/s_client.out" ||
		[ "$(grep -c '^hello' "$dir/s_client.out")" -ne 2 ] ||
		! grep -q '^Connection: close' "$dir/s_client.out"; then
		echo "s_client $version: no handshake, or not two answers:" >&2
		cat "$dir/s_client.out" >&2
		exit 1
	fi
done

if command -v wrk >/dev/null 2>&1; then
	if [ -n "${NET_WRAPPER:-}" ]; then c=10; else c=50; fi
	echo "wrk -t 2 -c $c -d 2s $url/"
	out=$(wrk -t 2 -c $c -d 2s "$url/")
	echo "$out"
	requests=$(echo "$out" | sed -n 's/^ *\([0-9][0-9]*\) requests in .*/\1/p')
	if [ -z "$requests" ] || [ "$requests" -eq 0 ] ||
		echo "$out" | grep -q -e 'Socket errors' -e 'Non-2xx'; then
		echo "wrk over TLS: no answers, or errors" >&2
		exit 1
	fi
else
	echo "wrk not installed: its part skipped"
fi

if command -v python3 >/dev/null 2>&1; then
	echo "tls_check.py (deadline $T s)"
	python3 "$here/tls_check.py" "$port" "$T"
else
	echo "python3 not installed: tls_check.py skipped (tests/net/tls_cancel.c covers the deadlines)"
fi
check_server

echo "hand-off mode (-g), self-signed certificate"
stop_server
start_server "$server" -t 2 -g 0
trap cleanup EXIT
body=$(curl -sS --insecure --max-time 30 "https://127.0.0.1:$port/" "https://127.0.0.1:$port/2")
[ "$body" = hellohello ] || {
	echo "-g: curl got '$body'" >&2
	exit 1
}
check_server
echo "all passed"
