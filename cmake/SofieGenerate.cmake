# sofie_generate(TARGET <name> MODEL <file.onnx> [OPTIMIZE 0|basic|extended] [NAMESPACE <ns>]
#                [WEIGHTS embed|file] [DISPATCH none|avx512] [DIMS NAME=VALUE ...])
# Runs sofiec at build time (again whenever the model changes) and makes <name> an INTERFACE
# library carrying the generated header's folder and the BLAS link. The header is
# <build>/sofiec_generated/<name>/<name>.hxx; its namespace defaults to <name>.
# SOFIEC_EXECUTABLE must name the compiler (set by sofiecConfig.cmake or the sofiec build).
if(NOT COMMAND sofie_generate)
function(sofie_generate)
  cmake_parse_arguments(ARG "" "TARGET;MODEL;OPTIMIZE;NAMESPACE;WEIGHTS;DISPATCH" "DIMS" ${ARGN})
  if(NOT ARG_TARGET OR NOT ARG_MODEL)
    message(FATAL_ERROR "sofie_generate: TARGET and MODEL are required")
  endif()
  if(NOT ARG_OPTIMIZE)
    set(ARG_OPTIMIZE extended)
  endif()
  if(NOT ARG_NAMESPACE)
    set(ARG_NAMESPACE ${ARG_TARGET})
  endif()
  if(NOT ARG_WEIGHTS)
    set(ARG_WEIGHTS embed)
  endif()
  if(NOT ARG_DISPATCH)
    set(ARG_DISPATCH none)
  endif()
  set(out_dir ${CMAKE_CURRENT_BINARY_DIR}/sofiec_generated/${ARG_TARGET})
  set(header ${out_dir}/${ARG_TARGET}.hxx)
  set(dim_args)
  foreach(d IN LISTS ARG_DIMS)
    list(APPEND dim_args --dim ${d})
  endforeach()
  set(outputs ${header})
  if(ARG_WEIGHTS STREQUAL "file")
    list(APPEND outputs ${header}.dat)
  endif()
  add_custom_command(
    OUTPUT ${outputs}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${out_dir}
    COMMAND ${SOFIEC_EXECUTABLE} ${ARG_MODEL} -O ${ARG_OPTIMIZE} --namespace ${ARG_NAMESPACE}
            --weights ${ARG_WEIGHTS} --dispatch ${ARG_DISPATCH} ${dim_args} -o ${header}
    DEPENDS ${ARG_MODEL} ${SOFIEC_EXECUTABLE_TARGET}
    COMMENT "sofiec: generating ${ARG_TARGET}.hxx from ${ARG_MODEL}"
    VERBATIM)
  add_custom_target(${ARG_TARGET}_generate DEPENDS ${outputs})
  add_library(${ARG_TARGET} INTERFACE)
  add_dependencies(${ARG_TARGET} ${ARG_TARGET}_generate)
  target_include_directories(${ARG_TARGET} INTERFACE ${out_dir})
  target_compile_features(${ARG_TARGET} INTERFACE cxx_std_17)
  find_package(BLAS REQUIRED)
  target_link_libraries(${ARG_TARGET} INTERFACE ${BLAS_LIBRARIES})
endfunction()
endif()
