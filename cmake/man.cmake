# The man pages, section 3: docs/man/*.3.scd rendered by scdoc(1) into
# <build>/man/man3 and installed to ${CMAKE_INSTALL_MANDIR}/man3. A page's
# NAME line lists the functions it covers; each after the first gets a link
# page (".so man3/<page>.3", as groff and man-db resolve it). Without scdoc
# nothing is built, and the build says so: the pages are documentation, not
# a reason to fail. docs/man/README.md says why scdoc.
option(CORUN_MAN "Build and install the man pages (needs scdoc)" ON)
set(CORUN_MAN_BUILT OFF)
if(CORUN_MAN)
  find_program(CORUN_SCDOC scdoc)
  if(NOT CORUN_SCDOC)
    message(STATUS "corun: scdoc not found: the man pages are not built (apt-get install scdoc)")
  else()
    include(${CMAKE_CURRENT_LIST_DIR}/man_names.cmake)
    file(GLOB _corun_man_sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/docs/man/*.3.scd)
    set(_corun_man_dir ${PROJECT_BINARY_DIR}/man/man3)
    file(MAKE_DIRECTORY ${_corun_man_dir})
    set(_corun_man_pages "")
    set(_corun_man_links "")
    foreach(src ${_corun_man_sources})
      get_filename_component(page ${src} NAME)
      string(REGEX REPLACE "\\.scd$" "" page ${page})
      add_custom_command(OUTPUT ${_corun_man_dir}/${page}
        COMMAND ${CMAKE_COMMAND} -DSCDOC=${CORUN_SCDOC} -DIN=${src}
          -DOUT=${_corun_man_dir}/${page} -P ${CMAKE_CURRENT_LIST_DIR}/man_render.cmake
        DEPENDS ${src} ${CMAKE_CURRENT_LIST_DIR}/man_render.cmake
        COMMENT "Rendering the man page ${page}" VERBATIM)
      list(APPEND _corun_man_pages ${_corun_man_dir}/${page})
      # The links come from the NAME line, read now: configure again when
      # a page changes.
      set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${src})
      corun_man_names(${src} names)
      list(REMOVE_AT names 0)
      foreach(name ${names})
        file(CONFIGURE OUTPUT ${_corun_man_dir}/${name}.3 CONTENT ".so man3/${page}\n")
        list(APPEND _corun_man_links ${_corun_man_dir}/${name}.3)
      endforeach()
    endforeach()
    add_custom_target(corun_man ALL DEPENDS ${_corun_man_pages})
    install(FILES ${_corun_man_pages} ${_corun_man_links}
      DESTINATION ${CMAKE_INSTALL_MANDIR}/man3)
    set(CORUN_MAN_BUILT ON)
    list(LENGTH _corun_man_pages _n)
    list(LENGTH _corun_man_links _l)
    message(STATUS "corun: man pages: ${_n} rendered by ${CORUN_SCDOC}, ${_l} links")
  endif()
endif()
