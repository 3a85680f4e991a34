#!/usr/bin/env bash
# One entry point for a fresh Debian bookworm machine.
#   ./bootstrap.sh          install dependencies, build, generate text with the default model
#   ./bootstrap.sh test     install dependencies, build, run the whole test suite
# Environment: AXE_MODEL (default ../shared/models/stories260K/stories260K.bin),
#   AXE_BUILD_DIR (default build), AXE_CMAKE_ARGS (extra CMake arguments).
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(cmake ninja-build g++ pkg-config libtbb-dev libhwy-dev libxsimd-dev doctest-dev libbenchmark-dev
  libeigen3-dev nlohmann-json3-dev libpcre2-dev clang libclang-rt-14-dev)

install_dependencies() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [[ ${#missing[@]} -eq 0 ]] && return
  echo "bootstrap: installing ${missing[*]}" >&2
  local sudo=()
  [[ $(id -u) -ne 0 ]] && sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
}

build() {
  local dir=${AXE_BUILD_DIR:-build}
  # shellcheck disable=SC2086
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release ${AXE_CMAKE_ARGS:-} >/dev/null
  cmake --build "$dir" -j"$(nproc)"
}

install_dependencies
build
dir=${AXE_BUILD_DIR:-build}
case "${1:-run}" in
  run)
    model=${AXE_MODEL:-../shared/models/stories260K/stories260K.bin}
    "$dir/axe" generate -m "$model" -n 256 --temp 0
    ;;
  test)
    ctest --test-dir "$dir" -j"$(nproc)" --output-on-failure
    ;;
  *)
    echo "usage: $0 [run|test]" >&2
    exit 2
    ;;
esac
