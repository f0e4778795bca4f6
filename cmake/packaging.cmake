# Debian packages of corun, by CPack's DEB generator, one per install
# component (CMakeLists.txt names them):
#   libcorun<soversion>  the shared library (component runtime), named after
#                        its soname as Debian's policy names library
#                        packages (8.1), so that two sonames can be
#                        installed side by side while programs move over;
#   libcorun-dev         everything else (component dev): corun.h,
#                        libcorun.a, the libcorun.so link, corun.pc, the
#                        CMake package, man pages, the gdb script.
# Made from a build configured for the distribution's layout:
#   cmake -S . -B build-deb -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr
#   cmake --build build-deb -j2 --target package
# (docs/install.md; tests/install/deb.sh builds, installs and removes them).

set(_corun_lib_pkg libcorun${CORUN_SOVERSION}) # CMakeLists.txt: the soname's number

# With prefix /usr, GNUInstallDirs gives Debian's multiarch library
# directory (lib/x86_64-linux-gnu). The packages always install under /usr;
# from a build configured for another prefix they would hold lib/, not
# lib/<arch>, and no gdb auto-load file: cmake/packaging-check.cmake says so
# when cpack runs (not at every configure: most builds make no package).
set(CPACK_CORUN_CONFIGURED_PREFIX "${CMAKE_INSTALL_PREFIX}")
set(CPACK_PROJECT_CONFIG_FILE ${CMAKE_CURRENT_LIST_DIR}/packaging-check.cmake)
# Compressed man pages and a changelog (the script says why).
set(CPACK_PRE_BUILD_SCRIPTS ${CMAKE_CURRENT_LIST_DIR}/packaging-prebuild.cmake)

# gdb loads <datadir>/gdb/auto-load/<the library's real path>-gdb.py with
# the library, from a directory its default safe-path allows: the package's
# library is stripped, as Debian's are, and stripping drops the embedded
# copy of the commands (.debug_gdb_scripts). Only for prefix /usr, where
# gdb's own datadir is.
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  install(FILES ${CMAKE_CURRENT_SOURCE_DIR}/tools/gdb/corun-gdb.py
    DESTINATION ${CMAKE_INSTALL_DATADIR}/gdb/auto-load${CMAKE_INSTALL_FULL_LIBDIR}
    RENAME libcorun.so.${PROJECT_VERSION}-gdb.py
    COMPONENT runtime)
endif()

# Each package carries the licence as Debian's policy asks (12.5):
# /usr/share/doc/<package>/copyright, in the machine-readable format.
file(READ ${CMAKE_CURRENT_SOURCE_DIR}/LICENSE _corun_license)
string(REGEX REPLACE "\n\n" "\n.\n" _corun_license "${_corun_license}")
string(REGEX REPLACE "\n" "\n " _corun_license "${_corun_license}")
file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/deb/copyright
  "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
  "Upstream-Name: corun\n\n"
  "Files: *\nCopyright: 2026 the corun authors\nLicense: MIT\n ${_corun_license}\n")
foreach(_c runtime dev)
  if(_c STREQUAL runtime)
    set(_p libcorun${CORUN_SOVERSION})
  else()
    set(_p libcorun-dev)
  endif()
  install(FILES ${CMAKE_CURRENT_BINARY_DIR}/deb/copyright
    DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/${_p} COMPONENT ${_c})
endforeach()

set(CORUN_PACKAGE_MAINTAINER "corun developers <corun@localhost>" CACHE STRING
    "The Maintainer field of the Debian packages (Name <address>)")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME corun)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${CORUN_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
# Only these two: an install() rule elsewhere without COMPONENT is "dev".
set(CPACK_COMPONENTS_ALL runtime dev)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT) # name_version_arch.deb
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Directories the packages share with others (/usr, /usr/lib/<arch>, ...)
# are not listed as theirs.
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME ${_corun_lib_pkg})
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_RUNTIME_DESCRIPTION "stackful coroutines for C on Linux
corun runs many coroutines, each with its own stack, on one thread or
several: channels, select, timers, cancellation, and reads, writes and
accepts that suspend the coroutine rather than the thread (io_uring or
epoll).
.
This package contains the shared library.")
# The shlibs file: a program built against this version needs at least it
# (a later release with the same soname may add functions, never remove
# or change one).
# (For every package: only libcorun0 holds a shared object.)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
# ldconfig's links and cache by dpkg's trigger, as Debian's library
# packages do. (CPack also writes a postinst and postrm that run ldconfig
# themselves; lintian calls that redundant, which it is, and harmless.)
file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/deb/triggers "activate-noawait ldconfig\n")
set(CPACK_DEBIAN_RUNTIME_PACKAGE_CONTROL_EXTRA ${CMAKE_CURRENT_BINARY_DIR}/deb/triggers)
# The C library's and liburing's packages, with the versions the library's
# symbols need, from dpkg-shlibdeps (dpkg-dev) where it is installed;
# where it is not, what it says on Debian 12.
find_program(CORUN_DPKG_SHLIBDEPS dpkg-shlibdeps)
mark_as_advanced(CORUN_DPKG_SHLIBDEPS)
if(CORUN_DPKG_SHLIBDEPS)
  set(CPACK_DEBIAN_RUNTIME_PACKAGE_SHLIBDEPS ON)
else()
  set(_corun_deps "libc6 (>= 2.35)")
  if(CORUN_HAVE_URING)
    string(APPEND _corun_deps ", liburing2 (>= 2.3)")
  endif()
  set(CPACK_DEBIAN_RUNTIME_PACKAGE_DEPENDS "${_corun_deps}")
endif()

set(CPACK_DEBIAN_DEV_PACKAGE_NAME libcorun-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
# The library of exactly this version (the link libcorun.so points at its
# file), and what libcorun.a and corun.pc's Libs.private name.
set(_corun_dev_deps "${_corun_lib_pkg} (= ${PROJECT_VERSION})")
if(CORUN_HAVE_URING)
  string(APPEND _corun_dev_deps ", liburing-dev")
endif()
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "${_corun_dev_deps}")
set(CPACK_DEBIAN_DEV_PACKAGE_SHLIBDEPS OFF)
set(CPACK_DEBIAN_DEV_DESCRIPTION "stackful coroutines for C on Linux (development files)
corun runs many coroutines, each with its own stack, on one thread or
several: channels, select, timers, cancellation, and reads, writes and
accepts that suspend the coroutine rather than the thread (io_uring or
epoll).
.
This package contains the header, the static library, the pkg-config and
CMake package files, the manual pages and the gdb commands.")

include(CPack)
