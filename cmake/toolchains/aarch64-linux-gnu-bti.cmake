# AArch64 with branch protection: every object, corun's switch included, is
# built with -mbranch-protection=standard (BTI landing pads and return
# address signing), so the linked programs carry the BTI property and qemu
# (-cpu max) maps their code as guarded: an indirect branch that lands
# anywhere but on a landing pad faults.
#   cmake -S . -B build-bti --toolchain cmake/toolchains/aarch64-linux-gnu-bti.cmake
include(${CMAKE_CURRENT_LIST_DIR}/aarch64-linux-gnu.cmake)
set(CMAKE_C_FLAGS_INIT "-mbranch-protection=standard")
set(CMAKE_ASM_FLAGS_INIT "-mbranch-protection=standard")
