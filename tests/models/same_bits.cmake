# cmake -DFILES="a.bin;b.bin;..." -P same_bits.cmake: fails unless every file has the bytes of
# the first (a model's outputs from builds for different instruction sets).
list(GET FILES 0 first)
foreach(f ${FILES})
  if(NOT EXISTS ${f})
    message(FATAL_ERROR "${f} missing: its model test failed or did not run")
  endif()
  execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${first} ${f} RESULT_VARIABLE differ)
  if(differ)
    message(FATAL_ERROR "${f} differs from ${first}")
  endif()
endforeach()
list(LENGTH FILES n)
message(STATUS "${n} builds gave the same bits")
