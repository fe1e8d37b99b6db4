#!/bin/sh
# The main job, end to end on a fresh Debian 12 machine: install the dependencies, build
# sofiec, compile the shipped example model to a header, build a small app against it with
# plain g++ and run it.
set -eu
cd "$(dirname "$0")/.."
tools/install_deps.sh
cmake -S . -B build -DSOFIEC_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build --target sofiec -j"$(nproc)"
mkdir -p build/example
build/sofiec models/example/jet_tagger.onnx -O extended -o build/example/jet_tagger.hxx
echo "sofiec wrote build/example/jet_tagger.hxx"
g++ -O2 -std=c++17 -Wall -Wextra -I build/example models/example/app.cpp -o build/example/app -lopenblas
build/example/app
