# Installs the build into a scratch prefix, then configures, builds and runs the consumer.
file(REMOVE_RECURSE ${WORK})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${WORK}/prefix COMMAND_ERROR_IS_FATAL ANY
                OUTPUT_QUIET)
execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/package -B ${WORK}/build
                        -DCMAKE_PREFIX_PATH=${WORK}/prefix -DMODEL=${SOURCE_DIR}/models/example/jet_tagger.onnx
                        -DAPP=${SOURCE_DIR}/models/example/app.cpp
                        -DKERAS_DIR=${SOURCE_DIR}/tests/keras/data/jet_tagger
                COMMAND_ERROR_IS_FATAL ANY OUTPUT_QUIET)
execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK}/build COMMAND_ERROR_IS_FATAL ANY OUTPUT_QUIET)
execute_process(COMMAND ${WORK}/build/app COMMAND_ERROR_IS_FATAL ANY)
