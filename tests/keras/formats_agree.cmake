# The three Keras file layouts of one model (tests/keras/data/<model>) must give the same code:
# the header from the Keras 3 archive and from the architecture JSON + save_weights() file is
# the header from the Keras 2 .h5, but for its first line (which names the file). Where
# Keras 3 changed an activation (hard_sigmoid), the archive is run against its own reference
# (output_0.keras3.npy) instead.
#   cmake -DSOFIEC=... -DDIR=<model folder> -DWORK=<scratch folder> [-DCXX=...] -P formats_agree.cmake
cmake_minimum_required(VERSION 3.20)  # list(REMOVE_AT) on file(STRINGS) lists
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})
function(generate name)
  execute_process(COMMAND ${SOFIEC} ${ARGN} --namespace model -o ${WORK}/${name}.hxx
                  RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "sofiec ${ARGN}: ${err}")
  endif()
  file(STRINGS ${WORK}/${name}.hxx lines)
  list(REMOVE_AT lines 0)
  string(SHA256 hash "${lines}")
  set(${name}_hash ${hash} PARENT_SCOPE)
endfunction()
generate(h5 ${DIR}/model.h5)
generate(json ${DIR}/arch.json --keras-weights ${DIR}/weights.h5)
if(NOT json_hash STREQUAL h5_hash)
  message(FATAL_ERROR "arch.json + weights.h5 gives other code than model.h5 (${WORK})")
endif()
if(NOT EXISTS ${DIR}/model.keras)
  message(STATUS "no Keras 3 archive (a layer Keras 3 removed)")
elseif(EXISTS ${DIR}/output_0.keras3.npy)
  file(COPY ${DIR}/input_0.npy DESTINATION ${WORK}/keras3)
  file(COPY_FILE ${DIR}/output_0.keras3.npy ${WORK}/keras3/output_0.npy)
  execute_process(COMMAND ${SOFIEC} verify ${DIR}/model.keras --inputs ${WORK}/keras3 --cxx ${CXX}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "model.keras against Keras 3's reference: ${out}${err}")
  endif()
else()
  generate(keras ${DIR}/model.keras)
  if(NOT keras_hash STREQUAL h5_hash)
    message(FATAL_ERROR "model.keras gives other code than model.h5 (${WORK})")
  endif()
endif()
