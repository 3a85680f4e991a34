#!/usr/bin/env bash
# End-to-end speed at real model shapes with random weights (llama2.c files
# written by axe_make_random_model into $AXE_BENCH_MODELS, default
# /tmp/axe-models; ~4.6 GB for all three), then llama-bench's table.
#   bench/run_e2e.sh [build-dir]        (run it on a quiet machine)
set -euo pipefail
build=${1:-build}
models=${AXE_BENCH_MODELS:-/tmp/axe-models}
mkdir -p "$models"
cp -n "$(dirname "$0")/../../shared/models/llama2-tokenizer/tokenizer.bin" "$models/" 2>/dev/null || true
for preset in stories15M stories110M tinyllama-1.1B; do
  [[ -f "$models/$preset.bin" ]] || "$build/bench/axe_make_random_model" "$models/$preset.bin" --preset "$preset"
done
for preset in stories110M tinyllama-1.1B; do
  reps=5
  [[ $preset == tinyllama-1.1B ]] && reps=2
  "$build/axe" bench -m "$models/$preset.bin" -p 512 -n 128 -t 1,2 -r "$reps"
done
