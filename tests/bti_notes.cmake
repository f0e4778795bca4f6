# The BTI build's programs and libraries keep the branch-protection
# property: the linker ANDs it over every object it links, so one object
# without the GNU property note (an assembly file is written by hand, corun's
# switch among them) takes it from the whole program, silently, and the
# program then runs with no landing pad enforced.
# Usage: cmake -DREADELF=... -DFEATURE="BTI, PAC" -DCC=... -DFILES=a,b,...
#              [-DLINKED=1] -P bti_notes.cmake
# Without LINKED, FILES are corun's own objects (libcorun.a): each must have
# the note. With LINKED, FILES are linked programs and libraries: where they
# lack it because the toolchain's startup objects do (Debian 12's arm64
# C library is built without branch protection), there is nothing corun
# can do, and the check says "skipped" (CTest's SKIP_REGULAR_EXPRESSION).
# Each file must show "AArch64 feature: FEATURE" in `readelf -n`; an archive
# must show it for every member. When a file lacks it, the C runtime's
# startup objects that CC links into every program are checked too, to tell
# a note missing from corun's objects from one missing from the toolchain's.
string(REPLACE "," ";" files "${FILES}")
set(want "AArch64 feature: ${FEATURE}")

# Sets ${var} to the blocks of readelf -n's output for f that lack the note
# (the member's name for an archive, f itself otherwise), and ${var}_n to
# how many blocks were checked.
function(lacking f var)
  execute_process(COMMAND ${READELF} -n ${f} OUTPUT_VARIABLE out RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${READELF} -n ${f} failed (${rc})")
  endif()
  if(f MATCHES "\\.a$")
    # One "File: lib.a(member.o)" block per member.
    string(REPLACE "\nFile: " ";" blocks "\n${out}")
    list(REMOVE_AT blocks 0)
  elseif(out STREQUAL "")
    set(blocks "(no notes)")
  else()
    set(blocks "${out}")
  endif()
  set(missing "")
  list(LENGTH blocks n)
  foreach(b ${blocks})
    if(NOT b MATCHES "${want}\n")
      if(f MATCHES "\\.a$")
        string(REGEX MATCH "^[^\n]+" name "${b}")
      else()
        set(name "${f}")
      endif()
      list(APPEND missing "${name}")
    endif()
  endforeach()
  set(${var} "${missing}" PARENT_SCOPE)
  set(${var}_n ${n} PARENT_SCOPE)
endfunction()

set(failed "")
foreach(f ${files})
  lacking(${f} missing)
  if(missing_n EQUAL 0)
    message(FATAL_ERROR "${f}: nothing to check in readelf -n's output")
  endif()
  if(missing)
    string(REPLACE ";" "\n    " missing "${missing}")
    message(STATUS "${f}: no \"${want}\" in\n    ${missing}")
    list(APPEND failed ${f})
  else()
    message(STATUS "${f}: ${want} (${missing_n} checked)")
  endif()
endforeach()

if(failed)
  set(startup "")
  foreach(o Scrt1.o crti.o crtbeginS.o crtendS.o crtn.o)
    execute_process(COMMAND ${CC} -print-file-name=${o} OUTPUT_VARIABLE p
      OUTPUT_STRIP_TRAILING_WHITESPACE)
    if(EXISTS "${p}")
      lacking(${p} m)
      if(m)
        list(APPEND startup ${p})
      endif()
    endif()
  endforeach()
  if(startup AND LINKED)
    string(REPLACE ";" "\n    " startup "${startup}")
    message(STATUS "skipped: the C runtime's startup objects, linked into every program, "
      "lack the property:\n    ${startup}\n"
      "  so no program of this toolchain keeps it, whatever corun's objects claim "
      "(bti_notes checks those)")
    return()
  endif()
  if(startup)
    string(REPLACE ";" "\n    " startup "${startup}")
    message(STATUS "the C runtime's startup objects, linked into every program, lack it too:\n"
      "    ${startup}\n"
      "  so no program of this toolchain keeps the property, whatever corun's objects claim: "
      "it needs a C library built with branch protection")
  endif()
  message(FATAL_ERROR "the BTI property is missing (above)")
endif()
