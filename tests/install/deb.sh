#!/bin/sh
# The Debian packages, as a user gets them: built by CPack from a Release
# build for prefix /usr, checked for what each holds and needs, installed
# with apt-get, used (the consumer program built with pkg-config and with
# find_package, with nothing pointing at the build: the system's own
# directories), then purged, and every file they installed must be gone.
# Changes the system, so it is .ci/run's (as root), not a ctest test.
# Usage: deb.sh SOURCE_DIR WORK_DIR
# shellcheck disable=SC2086 # $pkgs is a list of names, split on purpose
set -eu
src=$(cd "$1" && pwd)
# Absolute: apt-get takes a relative "dir/x.deb" for a package's name.
mkdir -p "$2"
work=$(cd "$2" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
pkgs="libcorun0 libcorun-dev"

fail() {
	echo "deb: $*" >&2
	exit 1
}

[ "$(id -u)" = 0 ] || fail "must run as root (it installs and removes packages)"
for p in $pkgs; do
	if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
		fail "$p is installed already: remove it first (apt-get remove --purge $p)"
	fi
done
rm -rf "$work"
mkdir -p "$work"

section() { printf -- '-- %s\n' "$1"; }

section "building the packages"
cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
	-DCORUN_BUILD_TESTS=OFF -DCORUN_BUILD_EXAMPLES=OFF -DCORUN_BUILD_BENCH=OFF >"$work/log" 2>&1 ||
	fail "configuring failed (log: $work/log)"
cmake --build "$work/build" -j2 --target package >>"$work/log" 2>&1 ||
	fail "building the packages failed (log: $work/log)"
version=$(sed -n 's/^Version: //p' "$work/build/corun.pc")
arch=$(dpkg --print-architecture)
lib_deb=$work/build/libcorun0_${version}_$arch.deb
dev_deb=$work/build/libcorun-dev_${version}_$arch.deb
for d in "$lib_deb" "$dev_deb"; do
	[ -f "$d" ] || fail "no $d (cpack made: $(ls "$work/build"/*.deb 2>/dev/null))"
	dpkg-deb -I "$d"
	dpkg-deb -c "$d"
done

section "what each package holds"
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
libdir=/usr/lib/$multiarch
# The listing's paths, without ./ and the directories.
dpkg-deb -c "$lib_deb" | awk '$1 !~ /^d/ {print $6}' | sed 's,^\./,/,' >"$work/lib.files"
dpkg-deb -c "$dev_deb" | awk '$1 !~ /^d/ {print $6}' | sed 's,^\./,/,' >"$work/dev.files"
has() { grep -qx "$2" "$work/$1.files" || fail "$1 package lacks $2"; }
hasnt() { ! grep -q "$2" "$work/$1.files" || fail "$1 package holds $2: $(grep "$2" "$work/$1.files")"; }
has lib "$libdir/libcorun.so.0"
has lib "$libdir/libcorun.so.$version"
hasnt lib '/include/'
hasnt lib '\.a$'
hasnt lib 'libcorun\.so$'
hasnt lib '/pkgconfig/'
for f in /usr/include/corun.h "$libdir/libcorun.a" "$libdir/libcorun.so" \
	"$libdir/pkgconfig/corun.pc" "$libdir/cmake/corun/corunConfig.cmake" \
	/usr/share/corun/corun-gdb.py; do
	has dev "$f"
done
hasnt dev 'libcorun\.so\.'
# The library is the soname's, stripped, and exports the API only.
dpkg-deb -x "$lib_deb" "$work/lib-x"
so=$work/lib-x$libdir/libcorun.so.$version
readelf -dW "$so" | grep -q '(SONAME).*\[libcorun\.so\.0\]' || fail "the soname is not libcorun.so.0"
! readelf -SW "$so" | grep -q ' \.symtab ' || fail "the packaged library is not stripped"
bad=$(nm -D --defined-only "$so" | awk '$2 != "A" {print $3}' | grep -v '^corun_[a-z]' || true)
[ -z "$bad" ] || fail "the packaged library exports beyond the API: $bad"
# Dependencies: the C library (from dpkg-shlibdeps, or as written where it
# is missing) and liburing where it links it; -dev on this very version.
lib_dep=$(dpkg-deb -f "$lib_deb" Depends)
dev_dep=$(dpkg-deb -f "$dev_deb" Depends)
echo "$lib_dep" | grep -q 'libc6' || fail "libcorun0 does not depend on libc6: $lib_dep"
if readelf -dW "$so" | grep -q 'NEEDED.*liburing'; then
	echo "$lib_dep" | grep -q 'liburing2' || fail "libcorun0 needs liburing but says: $lib_dep"
	echo "$dev_dep" | grep -q 'liburing-dev' || fail "libcorun-dev does not depend on liburing-dev: $dev_dep"
fi
echo "$dev_dep" | grep -q "libcorun0 (= $version)" || fail "libcorun-dev's Depends: $dev_dep"
dpkg-deb --ctrl-tarfile "$lib_deb" | tar -xO ./shlibs | grep -qx "libcorun 0 libcorun0 (>= $version)" ||
	fail "libcorun0's shlibs file is missing or wrong"
dpkg-deb --ctrl-tarfile "$lib_deb" | tar -xO ./triggers | grep -qx 'activate-noawait ldconfig' ||
	fail "libcorun0 has no ldconfig trigger"

# From here the system has them: take them off again whatever happens.
cleanup() {
	apt-get remove -y -qq --purge $pkgs >/dev/null 2>&1 || true
}
trap cleanup EXIT
section "installing"
apt-get install -y -qq "$lib_deb" "$dev_deb" >>"$work/log" 2>&1 ||
	fail "apt-get install failed (log: $work/log)"
ldconfig -p | grep -q "libcorun\.so\.0 .*=> .*/libcorun\.so\.0$" ||
	fail "ldconfig's cache has no libcorun.so.0 (the trigger did not run)"
dpkg -L $pkgs | sort -u >"$work/installed"

section "a program built with pkg-config"
unset PKG_CONFIG_PATH CMAKE_PREFIX_PATH LD_LIBRARY_PATH
# shellcheck disable=SC2046 # word splitting of the flags is wanted
cc -o "$work/user_pc" "$here/consumer/user.c" $(pkg-config --cflags --libs corun) ||
	fail "cc with pkg-config --cflags --libs corun failed"
"$work/user_pc"
ldd "$work/user_pc" | grep -q "libcorun\.so\.0 => .*/libcorun\.so\.0" ||
	fail "user_pc is not linked with the installed libcorun.so.0: $(ldd "$work/user_pc")"

section "a program built with find_package(corun)"
cmake -S "$here/consumer" -B "$work/consumer" >>"$work/log" 2>&1 ||
	fail "find_package(corun) failed (log: $work/log)"
cmake --build "$work/consumer" >>"$work/log" 2>&1 || fail "the consumer did not build (log: $work/log)"
"$work/consumer/user"
"$work/consumer/user_static"
ldd "$work/consumer/user" | grep -q "libcorun\.so\.0 => .*/libcorun\.so\.0" ||
	fail "the find_package consumer is not linked with the installed libcorun.so.0"
! ldd "$work/consumer/user_static" | grep -q libcorun || fail "user_static loads libcorun.so"

section "manual pages"
page=$(grep '/man3/corun_go\.3' "$work/installed" || true)
if [ -z "$page" ]; then
	echo "libcorun-dev has no corun_go(3) yet: not checked"
elif [ ! -e "$page" ]; then
	# Docker's slim images tell dpkg not to unpack /usr/share/man.
	echo "$page is in the package but not on disk (a dpkg path-exclude?): not checked"
elif ! command -v man >/dev/null 2>&1; then
	echo "man is not installed: corun_go(3) not shown"
else
	man -P cat corun_go 2>/dev/null | grep -q corun_go || fail "man corun_go shows no page"
	echo "man corun_go: found"
fi

section "gdb's commands, loaded with the library"
if command -v gdb >/dev/null 2>&1; then
	out=$(gdb -nx -batch -iex 'set debuginfod enabled off' -ex 'break corun_join' -ex run \
		-ex 'info auto-load python-scripts' -ex 'info coroutines' -ex kill \
		"$work/user_pc" 2>&1)
	echo "$out" | grep -qE "^Yes +/usr/share/gdb/auto-load/.*libcorun\.so\.$version-gdb\.py" ||
		fail "gdb did not load the commands with the library: $out"
	echo "$out" | grep -qE '^\* +[0-9]+ +main +running' ||
		fail "info coroutines, with the packaged library: $out"
	echo "gdb: corun's commands loaded from /usr/share/gdb/auto-load"
else
	echo "gdb is not installed: not checked"
fi

section "removing"
trap - EXIT
apt-get remove -y -qq --purge $pkgs >>"$work/log" 2>&1 || fail "apt-get remove failed"
for p in $pkgs; do
	! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q installed || fail "$p is still installed"
done
# Every file and link, and every directory of corun's own (not /usr/lib,
# which others share).
left=$(while read -r f; do
	if [ -d "$f" ] && [ ! -L "$f" ]; then
		case $f in *corun*) echo "$f" ;; esac
	elif [ -e "$f" ] || [ -L "$f" ]; then
		echo "$f"
	fi
done <"$work/installed")
[ -z "$left" ] || fail "left behind: $left"
! ldconfig -p | grep -q 'libcorun\.so' || fail "ldconfig's cache still has libcorun.so"
echo "deb: built, installed, used (pkg-config, find_package), removed: $(basename "$lib_deb") $(basename "$dev_deb")"
