#!/bin/sh
# Builds and runs RTNeural's side of the streaming benchmark (S1-gru8, S2-lstm16).
#
#   benches/rtneural/run.sh PATH_TO_RTNEURAL_CHECKOUT
#
# RTNeural is header-only here: its compile-time API, built with -O3 -march=native, once per
# backend: Eigen (vendored in RTNeural's modules/), xsimd (the git submodule modules/xsimd: run
# `git submodule update --init` in the checkout; skipped when absent) and plain C++ (STL).
set -eu
rtneural="${1:?usage: run.sh PATH_TO_RTNEURAL_CHECKOUT}"
here="$(cd "$(dirname "$0")" && pwd)"
out="${TMPDIR:-/tmp}/rtneural_stream_bench"
build_and_run() { # backend-name flags...
    name="$1"
    shift
    echo "backend $name"
    # Alignment 32 with AVX, as RTNeural's CMake option RTNEURAL_USE_AVX sets it.
    ${CXX:-g++} -std=c++17 -O3 -march=native -DNDEBUG -DRTNEURAL_DEFAULT_ALIGNMENT=32 \
        -DRTNEURAL_NAMESPACE=RTNeural "$@" \
        -I"$rtneural" -I"$rtneural/modules/json" \
        "$here/stream_bench.cpp" -o "$out-$name" 2>"$out-$name.log" ||
        { cat "$out-$name.log"; exit 1; }
    "$out-$name"
}
build_and_run eigen -DRTNEURAL_USE_EIGEN=1 -I"$rtneural/modules/Eigen"
if [ -d "$rtneural/modules/xsimd/include" ]; then
    build_and_run xsimd -DRTNEURAL_USE_XSIMD=1 -I"$rtneural/modules/xsimd/include"
fi
build_and_run stl
