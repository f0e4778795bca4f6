# Reading the man pages' sources (docs/man/*.3.scd) and the header from
# CMake: used by cmake/man.cmake (which link pages to write) and by
# tests/man_pages.cmake (what each page must say).

# The lines of FILE as a CMake list. The characters that CMake's lists give
# a meaning to are replaced first, so that a line is one element whatever it
# holds: ';' by <sc>, '[' and ']' by <lb> and <rb>, '\' by <bs>.
function(corun_man_lines file out)
  file(READ "${file}" text)
  string(REPLACE "\\" "<bs>" text "${text}")
  string(REPLACE ";" "<sc>" text "${text}")
  string(REPLACE "[" "<lb>" text "${text}")
  string(REPLACE "]" "<rb>" text "${text}")
  string(REPLACE "\n" ";" text "${text}")
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

# The text of section SECTION ("NAME", "ERRORS", ...) of a page, its lines
# joined by spaces: from the line "# SECTION" to the next "# " heading.
function(corun_man_section lines section out)
  set(in 0)
  set(text "")
  foreach(line IN LISTS lines)
    if(line MATCHES "^# (.*)$")
      if(CMAKE_MATCH_1 STREQUAL section)
        set(in 1)
      else()
        set(in 0)
      endif()
    elseif(in)
      string(APPEND text " ${line}")
    endif()
  endforeach()
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

# The names a page covers: its NAME line, "a, b, c - what they do". The
# first is the page's own (the file's name); the others get link pages.
function(corun_man_names file out)
  corun_man_lines("${file}" lines)
  corun_man_section("${lines}" NAME text)
  string(STRIP "${text}" text)
  if(NOT text MATCHES "^([a-z0-9_, ]+) - ")
    message(FATAL_ERROR "${file}: the NAME section is not \"name, name - what\": ${text}")
  endif()
  string(REPLACE "," ";" names "${CMAKE_MATCH_1}")
  set(list "")
  foreach(n IN LISTS names)
    string(STRIP "${n}" n)
    list(APPEND list "${n}")
  endforeach()
  set(${out} "${list}" PARENT_SCOPE)
endfunction()
