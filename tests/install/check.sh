#!/bin/sh
# Install corun the way users do (configured with no install prefix, then
# `cmake --install build --prefix P`), then build and run a user program
# against it three ways: pkg-config (shared), pkg-config --static, and
# CMake's find_package(corun). Then move the whole prefix elsewhere and do it
# again: the installed .pc and CMake files must find their own directory, not
# the one they were installed to. Usage: check.sh SOURCE_DIR WORK_DIR
set -eu
src=$1
work=$2
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v pkg-config >/dev/null 2>&1; then
	echo "pkg-config is not installed: skipped"
	exit 77
fi
rm -rf "$work"
mkdir -p "$work"
log=$work/log

fail() {
	echo "install: $*" >&2
	echo "(the build log is $log)" >&2
	exit 1
}

# The physical path of a directory, to compare paths that pkg-config left
# unnormalised (${pcfiledir}/../..).
real() { (cd "$1" && pwd -P); }

# check PREFIX LIBDIR TAG [CMAKE_ARGS...]: the user program built and run
# against the corun found in PREFIX, whose libraries are in PREFIX/LIBDIR.
check() {
	prefix=$1
	libdir=$prefix/$2
	tag=$3
	out=$work/use-$tag
	shift 3
	mkdir -p "$out"
	export PKG_CONFIG_PATH="$libdir/pkgconfig"

	# pkg-config must point into this prefix, whatever the build was
	# configured with.
	for v in prefix:"$prefix" libdir:"$libdir" includedir:"$prefix/include"; do
		got=$(pkg-config --variable="${v%%:*}" corun)
		[ -d "$got" ] || fail "$tag: pkg-config's ${v%%:*} is $got, not a directory"
		[ "$(real "$got")" = "$(real "${v#*:}")" ] ||
			fail "$tag: pkg-config's ${v%%:*} is $got, not ${v#*:}"
	done

	# shellcheck disable=SC2046 # word splitting of the flags is wanted
	cc -o "$out/user_shared" "$here/consumer/user.c" $(pkg-config --cflags --libs corun) ||
		fail "$tag: cc with pkg-config --cflags --libs failed"
	LD_LIBRARY_PATH=$libdir "$out/user_shared"
	# The shared one must really be the library in this prefix.
	LD_LIBRARY_PATH=$libdir ldd "$out/user_shared" | grep -q "$libdir/libcorun.so" ||
		fail "$tag: user_shared is not linked with $libdir/libcorun.so"

	# The archive itself, then what it needs (Libs.private: -pthread, and
	# -luring in a build with the io_uring backend), without -lcorun.
	# shellcheck disable=SC2046
	cc -static-libgcc -o "$out/user_static" "$here/consumer/user.c" \
		$(pkg-config --cflags corun) "$libdir/libcorun.a" \
		$(pkg-config --libs --static corun | sed 's/-lcorun\b//; s/-L[^ ]*//g') ||
		fail "$tag: cc with pkg-config --static failed"
	"$out/user_static"

	cmake -S "$here/consumer" -B "$out/consumer" -DCMAKE_PREFIX_PATH="$prefix" "$@" \
		>>"$log" 2>&1 ||
		fail "$tag: find_package(corun) failed"
	cmake --build "$out/consumer" >>"$log" 2>&1 || fail "$tag: the find_package consumer did not build"
	LD_LIBRARY_PATH=$libdir "$out/consumer/user"
	"$out/consumer/user_static"
	LD_LIBRARY_PATH=$libdir ldd "$out/consumer/user" | grep -q "$libdir/libcorun.so" ||
		fail "$tag: the find_package consumer is not linked with $libdir/libcorun.so"
}

# install BUILD_ARGS...: configure, build and install into $work/prefix.
install_at() {
	rm -rf "$work/prefix"
	cmake -S "$src" -B "$work/build" -DCORUN_BUILD_TESTS=OFF -DCORUN_BUILD_EXAMPLES=OFF \
		-DCORUN_BUILD_BENCH=OFF "$@" >>"$log" 2>&1 || fail "configuring failed"
	cmake --build "$work/build" -j2 >>"$log" 2>&1 || fail "building failed"
	cmake --install "$work/build" --prefix "$work/prefix" >>"$log" 2>&1 || fail "installing failed"
	# No installed text file may name the prefix it was installed to.
	if grep -rlF "$work/prefix" "$work/prefix" --include='*.pc' --include='*.cmake'; then
		fail "the files above name the install prefix: they break when it moves"
	fi
}

# The default library directory, as users install.
install_at
# The man pages, where the build could render them (cmake/man.cmake).
if command -v scdoc >/dev/null 2>&1; then
	[ -f "$work/prefix/share/man/man3/corun_chan_send.3" ] ||
		fail "scdoc is installed, but share/man/man3/corun_chan_send.3 is not"
	[ -f "$work/prefix/share/man/man3/corun_chan_recv.3" ] ||
		fail "no link page share/man/man3/corun_chan_recv.3"
	if command -v man >/dev/null 2>&1; then
		MANPATH=$work/prefix/share/man man -w corun_chan_recv >/dev/null ||
			fail "man -w corun_chan_recv finds no page with MANPATH=$work/prefix/share/man"
	fi
fi
lib=$(cd "$work/prefix" && echo lib*/pkgconfig/corun.pc | sed 's,/pkgconfig/corun.pc$,,')
[ -f "$work/prefix/$lib/libcorun.so" ] || fail "no libcorun.so in $work/prefix/lib*"
check "$work/prefix" "$lib" installed
mkdir -p "$work/moved"
mv "$work/prefix" "$work/moved/prefix"
check "$work/moved/prefix" "$lib" moved

# A deeper library directory, as Debian's multiarch one: the .pc file's way
# back to the prefix is one step longer. find_package looks in lib/<arch>
# only when the compiler's <arch> is that one, so it is told where to look.
install_at -DCMAKE_INSTALL_LIBDIR=lib/x86_64-linux-gnu
rm -rf "$work/moved"
mkdir -p "$work/moved"
mv "$work/prefix" "$work/moved/prefix"
check "$work/moved/prefix" lib/x86_64-linux-gnu multiarch \
	-Dcorun_DIR="$work/moved/prefix/lib/x86_64-linux-gnu/cmake/corun"

# Only the API is exported from the shared library (type A: the version
# node of cmake/corun.map, CORUN_0, which names no code or data).
so=$work/moved/prefix/lib/x86_64-linux-gnu/libcorun.so
bad=$(nm -D --defined-only "$so" | awk '$2 != "A" {print $3}' | grep -v '^corun_' | grep -v '^_' || true)
if [ -n "$bad" ]; then
	echo "exported beyond the API: $bad"
	exit 1
fi
# ...and every function the header declares with CORUN_API, all in the
# version node (cmake/corun.map).
missing=$(grep -v '#define' "$src/include/corun.h" | grep -o 'CORUN_API[^(]*(' | sed 's/ *($//; s/.*[ *]//' |
	while read -r f; do
		nm -D --defined-only "$so" | grep -q " $f@@CORUN_0\$" || echo "$f"
	done)
if [ -n "$missing" ]; then
	echo "declared in corun.h but not exported (as CORUN_0): $missing"
	exit 1
fi
# The soname carries the ABI's number (docs/install.md).
soname=$(readelf -dW "$so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
case $soname in
libcorun.so.[0-9]*) ;;
*) echo "libcorun.so's soname is '$soname', not libcorun.so.N"; exit 1 ;;
esac
echo "install: pkg-config, pkg-config --static and find_package all work, installed and moved"
