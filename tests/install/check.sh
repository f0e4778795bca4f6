#!/bin/sh
# Install corun into a scratch prefix, then build and run a user program
# against it three ways: pkg-config (shared), pkg-config --static, and CMake's
# find_package(corun). Usage: check.sh SOURCE_DIR WORK_DIR
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
prefix=$work/prefix

cmake -S "$src" -B "$work/build" -DCMAKE_INSTALL_PREFIX="$prefix" \
	-DCORUN_BUILD_TESTS=OFF -DCORUN_BUILD_EXAMPLES=OFF >"$work/log" 2>&1
cmake --build "$work/build" -j2 >>"$work/log" 2>&1
cmake --install "$work/build" >>"$work/log" 2>&1

pc=$(dirname "$(find "$prefix" -name corun.pc)")
libdir=$(PKG_CONFIG_PATH=$pc pkg-config --variable=libdir corun)
export PKG_CONFIG_PATH="$pc"

# shellcheck disable=SC2046 # word splitting of the flags is wanted
cc -o "$work/user_shared" "$here/consumer/user.c" $(pkg-config --cflags --libs corun)
LD_LIBRARY_PATH=$libdir "$work/user_shared"
# The shared one must really be the installed library.
LD_LIBRARY_PATH=$libdir ldd "$work/user_shared" | grep -q "$libdir/libcorun.so"

# shellcheck disable=SC2046
cc -static-libgcc -o "$work/user_static" "$here/consumer/user.c" \
	$(pkg-config --cflags corun) "$libdir/libcorun.a" $(pkg-config --libs-only-other --static corun)
"$work/user_static"

cmake -S "$here/consumer" -B "$work/consumer" -DCMAKE_PREFIX_PATH="$prefix" >>"$work/log" 2>&1
cmake --build "$work/consumer" >>"$work/log" 2>&1
LD_LIBRARY_PATH=$libdir "$work/consumer/user"
"$work/consumer/user_static"

# Only the API is exported from the shared library.
bad=$(nm -D --defined-only "$libdir/libcorun.so" | awk '{print $3}' | grep -v '^corun_' | grep -v '^_' || true)
if [ -n "$bad" ]; then
	echo "exported beyond the API: $bad"
	exit 1
fi
echo "install: pkg-config, pkg-config --static and find_package all work"
