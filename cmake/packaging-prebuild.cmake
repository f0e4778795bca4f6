# Run by cpack (CPACK_PRE_BUILD_SCRIPTS, cmake/packaging.cmake) on the staged
# files, before they are packed: what Debian's packages carry and a plain
# `cmake --install` need not.
#  - Manual pages compressed (policy 12.1), a page that only names another
#    (".so man3/x.3") turned into a symbolic link to the other's .gz, as
#    Debian packages link them.
#  - A changelog.gz in each package's doc directory (policy 12.7).
file(GLOB_RECURSE _pages "${CPACK_TEMPORARY_INSTALL_DIRECTORY}/*.3")
list(FILTER _pages INCLUDE REGEX "/man3/[^/]*\\.3$")
foreach(page ${_pages})
  file(READ "${page}" _text)
  get_filename_component(_name "${page}" NAME)
  if(_text MATCHES "^\\.so man3/([^\n]+)\n$")
    file(REMOVE "${page}")
    file(CREATE_LINK "${CMAKE_MATCH_1}.gz" "${page}.gz" SYMBOLIC)
  else()
    # -n: no name or time stamp inside, so that two builds give one file.
    execute_process(COMMAND gzip -9n "${page}" RESULT_VARIABLE _rc)
    if(NOT _rc EQUAL 0)
      message(FATAL_ERROR "corun: gzip ${page} failed")
    endif()
  endif()
endforeach()
file(GLOB_RECURSE _docs "${CPACK_TEMPORARY_INSTALL_DIRECTORY}/copyright")
list(FILTER _docs INCLUDE REGEX "/share/doc/[^/]*/copyright$")
string(TIMESTAMP _date "%a, %d %b %Y %H:%M:%S +0000" UTC)
foreach(copyright ${_docs})
  get_filename_component(_dir "${copyright}" DIRECTORY)
  get_filename_component(_pkg "${_dir}" NAME)
  file(WRITE "${_dir}/changelog"
    "${_pkg} (${CPACK_PACKAGE_VERSION}) unstable; urgency=medium\n\n"
    "  * Built from the corun sources; the project's history is its git log.\n\n"
    " -- ${CPACK_PACKAGE_CONTACT}  ${_date}\n")
  execute_process(COMMAND gzip -9n "${_dir}/changelog")
endforeach()
