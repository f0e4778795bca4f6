# The rendered man pages (<build>/man/man3, made where scdoc was found) as
# man(1) shows them: each page, and each link page through its ".so", must
# format with groff with no warning (-ww: all of them). Skipped without
# groff. Usage: cmake -DMANDIR=<build>/man -P man_groff.cmake
find_program(GROFF groff)
if(NOT GROFF)
  message(STATUS "groff not found: skipped")
  return()
endif()
file(GLOB pages ${MANDIR}/man3/*.3)
list(LENGTH pages n)
if(n EQUAL 0)
  message(FATAL_ERROR "no rendered pages in ${MANDIR}/man3")
endif()
set(bad 0)
foreach(page ${pages})
  # From MANDIR, where a link's ".so man3/x.3" is found.
  execute_process(COMMAND ${GROFF} -man -Tutf8 -ww -z ${page}
    WORKING_DIRECTORY ${MANDIR} ERROR_VARIABLE err RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0 OR NOT err STREQUAL "")
    message(SEND_ERROR "${page}: groff: ${err}")
    math(EXPR bad "${bad} + 1")
  endif()
endforeach()
if(bad GREATER 0)
  message(FATAL_ERROR "${bad} of ${n} pages do not format cleanly")
endif()
message(STATUS "${n} pages format with groff -man -ww, with no warning")
