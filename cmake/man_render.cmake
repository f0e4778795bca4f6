# One man page: scdoc < IN > OUT, with no partial OUT left on failure.
# Usage: cmake -DSCDOC=scdoc -DIN=page.3.scd -DOUT=page.3 -P man_render.cmake
execute_process(COMMAND ${SCDOC} INPUT_FILE ${IN} OUTPUT_FILE ${OUT}.tmp
  ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  file(REMOVE ${OUT}.tmp)
  message(FATAL_ERROR "scdoc failed on ${IN}: ${err}")
endif()
file(RENAME ${OUT}.tmp ${OUT})
