# sofie_generate(TARGET <name> MODEL <file.onnx> [OPTIMIZE 0|basic|extended] [NAMESPACE <ns>]
#                [WEIGHTS embed|file] [DISPATCH none|avx512] [DIMS NAME=VALUE ...] [PROFILE]
#                [VERIFY <inputs folder>] [INPUT_SHAPES NAME=SHAPE ...] [PYTHON <interpreter>]
#                [KERAS_WEIGHTS <weights.h5>])
# Runs sofiec at build time (again whenever the model changes) and makes <name> an INTERFACE
# library carrying the generated header's folder and the BLAS link. The header is
# <build>/sofiec_generated/<name>/<name>.hxx; its namespace defaults to <name>. PROFILE: the
# Session times each node (sofiec --profile). VERIFY: a test <name>.verify (with
# enable_testing()) runs `sofiec verify` on the inputs in the folder (and the expected outputs
# beside them), at OPTIMIZE against -O 0, built with CMAKE_CXX_COMPILER. A PyTorch MODEL (.pt,
# .pth, .ts TorchScript; .pt2) needs INPUT_SHAPES (sofiec --input-shape) and is exported by the
# torch of PYTHON (default: python3). A Keras MODEL (.h5, .keras) is read as it is; a Keras
# architecture (.json) needs KERAS_WEIGHTS.
# SOFIEC_EXECUTABLE must name the compiler (set by sofiecConfig.cmake or the sofiec build).
if(NOT COMMAND sofie_generate)
function(sofie_generate)
  cmake_parse_arguments(ARG "PROFILE" "TARGET;MODEL;OPTIMIZE;NAMESPACE;WEIGHTS;DISPATCH;VERIFY;PYTHON;KERAS_WEIGHTS"
                        "DIMS;INPUT_SHAPES" ${ARGN})
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
  set(profile_arg)
  if(ARG_PROFILE)
    set(profile_arg --profile)
  endif()
  foreach(s IN LISTS ARG_INPUT_SHAPES)
    list(APPEND profile_arg --input-shape ${s})
  endforeach()
  if(ARG_PYTHON)
    list(APPEND profile_arg --python-exe ${ARG_PYTHON})
  endif()
  set(keras_arg)
  set(model_files ${ARG_MODEL})
  if(ARG_KERAS_WEIGHTS)
    get_filename_component(keras_weights ${ARG_KERAS_WEIGHTS} ABSOLUTE BASE_DIR ${CMAKE_CURRENT_SOURCE_DIR})
    set(keras_arg --keras-weights ${keras_weights})
    list(APPEND model_files ${keras_weights})
  endif()
  set(outputs ${header})
  if(ARG_WEIGHTS STREQUAL "file")
    list(APPEND outputs ${header}.dat)
  endif()
  add_custom_command(
    OUTPUT ${outputs}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${out_dir}
    COMMAND ${SOFIEC_EXECUTABLE} ${ARG_MODEL} -O ${ARG_OPTIMIZE} --namespace ${ARG_NAMESPACE}
            --weights ${ARG_WEIGHTS} --dispatch ${ARG_DISPATCH} ${dim_args} ${profile_arg} ${keras_arg} -o ${header}
    DEPENDS ${model_files} ${SOFIEC_EXECUTABLE_TARGET}
    COMMENT "sofiec: generating ${ARG_TARGET}.hxx from ${ARG_MODEL}"
    VERBATIM)
  add_custom_target(${ARG_TARGET}_generate DEPENDS ${outputs})
  add_library(${ARG_TARGET} INTERFACE)
  add_dependencies(${ARG_TARGET} ${ARG_TARGET}_generate)
  target_include_directories(${ARG_TARGET} INTERFACE ${out_dir})
  target_compile_features(${ARG_TARGET} INTERFACE cxx_std_17)
  find_package(BLAS REQUIRED)
  target_link_libraries(${ARG_TARGET} INTERFACE ${BLAS_LIBRARIES})
  if(ARG_VERIFY)
    if(ARG_INPUT_SHAPES)
      message(FATAL_ERROR "sofie_generate(${ARG_TARGET}): VERIFY takes ONNX models (export the PyTorch model first)")
    endif()
    get_filename_component(verify_dir ${ARG_VERIFY} ABSOLUTE BASE_DIR ${CMAKE_CURRENT_SOURCE_DIR})
    add_test(NAME ${ARG_TARGET}.verify
             COMMAND ${SOFIEC_EXECUTABLE} verify ${ARG_MODEL} -O ${ARG_OPTIMIZE} --inputs ${verify_dir}
                     --cxx ${CMAKE_CXX_COMPILER} ${keras_arg})
  endif()
endfunction()
endif()

# sofiec_add_python_module(NAME <name> MODEL <file.onnx> [OPTIMIZE 0|basic|extended] [WEIGHTS embed|file]
#                          [DISPATCH none|avx512] [DIMS NAME=VALUE ...] [OUTPUT_DIRECTORY <dir>])
# Builds the model as a Python extension module (pybind11, found with find_package(pybind11 CONFIG):
# Debian's pybind11-dev; the interpreter is FindPython's, e.g. -DPython_EXECUTABLE=/usr/bin/python3).
# The module is <name>_<hash> (a hash of the model file and the options: two builds never clash
# in one process), in OUTPUT_DIRECTORY (default <build>/sofiec_python), with <name>.py beside it
# so that `import <name>` works. The model must exist when CMake configures (its hash names the
# module); CMake configures again when it changes. Set the target CPU with CMAKE_CXX_FLAGS
# (-march=...), or DISPATCH avx512.
if(NOT COMMAND sofiec_add_python_module)
function(sofiec_add_python_module)
  cmake_parse_arguments(ARG "" "NAME;MODEL;OPTIMIZE;WEIGHTS;DISPATCH;OUTPUT_DIRECTORY" "DIMS" ${ARGN})
  if(NOT ARG_NAME OR NOT ARG_MODEL)
    message(FATAL_ERROR "sofiec_add_python_module: NAME and MODEL are required")
  endif()
  if(NOT EXISTS ${ARG_MODEL})
    message(FATAL_ERROR "sofiec_add_python_module(${ARG_NAME}): ${ARG_MODEL} does not exist (its hash names the module)")
  endif()
  foreach(option OPTIMIZE WEIGHTS DISPATCH)
    set(default_OPTIMIZE extended)
    set(default_WEIGHTS embed)
    set(default_DISPATCH none)
    if(NOT ARG_${option})
      set(ARG_${option} ${default_${option}})
    endif()
  endforeach()
  if(NOT ARG_OUTPUT_DIRECTORY)
    set(ARG_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/sofiec_python)
  endif()
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${ARG_MODEL})
  file(SHA256 ${ARG_MODEL} model_hash)
  set(dim_args)
  foreach(d IN LISTS ARG_DIMS)
    list(APPEND dim_args --dim ${d})
  endforeach()
  set(options -O ${ARG_OPTIMIZE} --weights ${ARG_WEIGHTS} --dispatch ${ARG_DISPATCH} ${dim_args})
  string(SHA256 name_hash "${model_hash};${options}")
  string(SUBSTRING ${name_hash} 0 8 name_hash)
  set(module ${ARG_NAME}_${name_hash})
  set(src_dir ${CMAKE_CURRENT_BINARY_DIR}/sofiec_python_src/${ARG_NAME})
  set(outputs ${src_dir}/${module}.cpp ${src_dir}/${module}.hxx)
  if(ARG_WEIGHTS STREQUAL "file")
    list(APPEND outputs ${src_dir}/${module}.hxx.dat)
  endif()
  add_custom_command(
    OUTPUT ${outputs}
    COMMAND ${SOFIEC_EXECUTABLE} ${ARG_MODEL} ${options} --python --python-source --python-name ${module} -o ${src_dir}
    DEPENDS ${ARG_MODEL} ${SOFIEC_EXECUTABLE_TARGET}
    COMMENT "sofiec: generating the Python module ${module} from ${ARG_MODEL}"
    VERBATIM)
  if(NOT COMMAND pybind11_add_module)
    set(PYBIND11_FINDPYTHON ON)
    find_package(pybind11 CONFIG REQUIRED)
  endif()
  pybind11_add_module(${ARG_NAME} MODULE ${src_dir}/${module}.cpp)
  target_include_directories(${ARG_NAME} PRIVATE ${src_dir})
  set_target_properties(${ARG_NAME} PROPERTIES OUTPUT_NAME ${module} LIBRARY_OUTPUT_DIRECTORY ${ARG_OUTPUT_DIRECTORY})
  if(ARG_WEIGHTS STREQUAL "file")
    add_custom_command(TARGET ${ARG_NAME} POST_BUILD
      COMMAND ${CMAKE_COMMAND} -E copy ${src_dir}/${module}.hxx.dat ${ARG_OUTPUT_DIRECTORY}/${module}.hxx.dat)
  endif()
  file(WRITE ${ARG_OUTPUT_DIRECTORY}/${ARG_NAME}.py
       "# Written by sofiec_add_python_module: the model under its plain name.\n"
       "from ${module} import *  # noqa: F401,F403\nfrom ${module} import __doc__  # noqa: F401\n")
endfunction()
endif()
