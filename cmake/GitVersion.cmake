# Writes ${OUT} with the current `git describe`, touching it only when the text changes, so
# run manifests name the commit that was built (not the one CMake was configured at).
execute_process(COMMAND git describe --always --dirty --tags
  WORKING_DIRECTORY ${SOURCE_DIR} OUTPUT_VARIABLE GIT_DESCRIBE OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT GIT_DESCRIBE)
  set(GIT_DESCRIBE "unknown")
endif()
set(TEXT "#pragma once\n#define CITYTWIN_GIT \"${GIT_DESCRIBE}\"\n")
if(EXISTS ${OUT})
  file(READ ${OUT} OLD)
endif()
if(NOT "${OLD}" STREQUAL "${TEXT}")
  file(WRITE ${OUT} "${TEXT}")
endif()
