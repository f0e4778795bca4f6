# Read by cpack (CPACK_PROJECT_CONFIG_FILE, cmake/packaging.cmake) before it
# makes the packages.
if(NOT CPACK_CORUN_CONFIGURED_PREFIX STREQUAL "/usr")
  message(WARNING "corun: this build was configured for ${CPACK_CORUN_CONFIGURED_PREFIX}: "
    "its packages put the library in /usr/lib, not Debian's multiarch directory, "
    "and leave out gdb's auto-load file. Configure with -DCMAKE_INSTALL_PREFIX=/usr "
    "(docs/install.md).")
endif()
