#!/bin/sh
# parsum against cksum(1): a tree of a few hundred files of many sizes (0
# bytes, around the 64 KiB chunk, one over 1 MiB), nested directories, a
# name with spaces, and what parsum must skip (a symbolic link, a FIFO:
# find -type f skips them too). Its output must be byte for byte that of
# find | sort | cksum, with nothing on stderr. Then, where permissions
# bind (not as root), an unreadable file and an unreadable directory:
# reported on stderr, exit status 1, the rest still printed.
# Usage: parsum.sh PARSUM (WRAPPER: a command to put before it, e.g.
# qemu-user in a cross build)
set -eu
parsum=$1
export LC_ALL=C # sort as parsum does: byte by byte

dir=$(mktemp -d)
trap 'chmod -R u+rwx "$dir" 2>/dev/null; rm -rf "$dir"' EXIT
tree=$dir/tree
mkdir -p "$tree/a/b/c/d" "$tree/with space" "$tree/e"

# 300 files; sizes from a fixed sequence, spread over 0..200,000 bytes.
i=0
while [ $i -lt 300 ]; do
	case $((i % 5)) in
	0) d=$tree ;;
	1) d=$tree/a ;;
	2) d=$tree/a/b ;;
	3) d=$tree/a/b/c/d ;;
	4) d=$tree/e ;;
	esac
	head -c $((i * i * 2221 % 200003)) /dev/urandom >"$d/f$i"
	i=$((i + 1))
done
for n in 0 1 65535 65536 65537 131072; do
	head -c $n /dev/urandom >"$tree/with space/size $n"
done
head -c 1572869 /dev/urandom >"$tree/a/big file"
ln -s "big file" "$tree/a/link"
mkfifo "$tree/a/fifo"

find "$tree" -type f -print0 | sort -z | xargs -0 cksum >"$dir/want"
${WRAPPER:-} "$parsum" -t 2 -j 8 "$tree" >"$dir/got" 2>"$dir/err"
if ! cmp "$dir/want" "$dir/got"; then
	diff "$dir/want" "$dir/got" | head -20
	echo "parsum: output differs from cksum's" >&2
	exit 1
fi
# Nothing on stderr (not a terminal: no progress line); under a wrapper,
# nothing of parsum's (valgrind may have its say there).
if [ -z "${WRAPPER:-}" ] && [ -s "$dir/err" ] || grep -q '^parsum' "$dir/err"; then
	cat "$dir/err"
	echo "parsum: wrote on stderr" >&2
	exit 1
fi
echo "$(wc -l <"$dir/got") files, as cksum"

# Two trees at once, one worker, one job at a time: the same lines.
find "$tree/e" "$tree/a" -type f -print0 | sort -z | xargs -0 cksum >"$dir/want"
${WRAPPER:-} "$parsum" -t 1 -j 1 "$tree/e" "$tree/a" >"$dir/got"
cmp "$dir/want" "$dir/got"

if [ "$(id -u)" = 0 ]; then
	echo "as root: the unreadable-file part is skipped"
	exit 0
fi
chmod 000 "$tree/a/f1" "$tree/a/b/c"
find "$tree" -type f -print0 2>/dev/null | sort -z | xargs -0 cksum >"$dir/want" 2>/dev/null || :
status=0
${WRAPPER:-} "$parsum" -t 2 -j 8 "$tree" >"$dir/got" 2>"$dir/err" || status=$?
cmp "$dir/want" "$dir/got"
printf 'parsum: %s: Permission denied\n' "$tree/a/b/c" "$tree/a/f1" >"$dir/want_err"
grep '^parsum' "$dir/err" >"$dir/err_parsum" || :
if ! cmp "$dir/want_err" "$dir/err_parsum" || [ $status != 1 ]; then
	cat "$dir/err"
	echo "parsum: exit status $status, errors as above" >&2
	exit 1
fi
echo "unreadable file and directory: reported, status 1"
