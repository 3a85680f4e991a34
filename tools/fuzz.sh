#!/usr/bin/env bash
# Coverage-guided fuzzing of every parser (fuzz/README.md):
#   tools/fuzz.sh [SECONDS_PER_HARNESS]      (default 30)
# Builds fuzz/ with clang (libFuzzer, ASan, UBSan) in build-fuzz, writes the
# seed corpora to a temporary directory, then runs each harness for
# SECONDS_PER_HARNESS over the seeds and fuzz/regressions/<harness>/.
# Exits 1 naming the harness and the reproducer when any harness finds a
# crash, sanitizer report, leak, timeout (> 10 s) or out-of-memory (> 4 GB).
# Environment: AXE_FUZZ_BUILD_DIR (default build-fuzz), AXE_SHARED_DIR
# (default ../shared beside the repository), AXE_FUZZ_HARNESSES (a subset),
# AXE_FUZZ_KEEP_GOING=1 (fork mode: keep fuzzing after a finding, collecting
# every reproducer), AXE_FUZZ_KEEP=1 (keep the work directory).
# Installs nothing: ./bootstrap.sh installs clang and libclang-rt-14-dev.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-30}
[[ $secs =~ ^[0-9]+$ ]] || { echo "usage: $0 [SECONDS_PER_HARNESS]" >&2; exit 2; }
shared=$(cd "${AXE_SHARED_DIR:-$repo/../shared}" && pwd)
build=${AXE_FUZZ_BUILD_DIR:-$repo/build-fuzz}
harnesses=(${AXE_FUZZ_HARNESSES:-fuzz_llama2c fuzz_tokenizer_bin fuzz_axe fuzz_axe_metadata fuzz_tokenize fuzz_kld fuzz_tokenizer_json fuzz_tokenize_json fuzz_sentencepiece fuzz_hf_folder fuzz_gguf})
for tool in clang clang++ cmake ninja; do
  command -v "$tool" >/dev/null || { echo "fuzz.sh: $tool is missing (./bootstrap.sh installs it)" >&2; exit 2; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/axe-fuzz.XXXXXX")
cleanup() { [[ ${AXE_FUZZ_KEEP:-0} == 1 ]] || rm -rf "$work"; }
trap cleanup EXIT

echo "== build ($build) =="
cmake -S "$repo/fuzz" -B "$build" -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DAXE_SHARED_DIR="$shared" >/dev/null
cmake --build "$build" -j"$(nproc)"

echo "== seeds =="
export AXE_FUZZ_SHARED_DIR=$shared AXE_FUZZ_TMPDIR=$work/tmp
mkdir -p "$AXE_FUZZ_TMPDIR"
"$build/fuzz_make_seeds" "$work/seeds"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
fork=()
[[ ${AXE_FUZZ_KEEP_GOING:-0} == 1 ]] && fork=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
failed=()
findings=${TMPDIR:-/tmp}/axe-fuzz-findings-$(date +%Y%m%d-%H%M%S)-$$  # outlives the work directory
for h in "${harnesses[@]}"; do
  echo "== $h: ${secs}s =="
  corpus=$work/corpus/$h artifacts=$work/artifacts/$h
  mkdir -p "$corpus" "$artifacts"
  dirs=("$corpus" "$work/seeds/$h")
  [[ -d $repo/fuzz/regressions/$h ]] && dirs+=("$repo/fuzz/regressions/$h")
  dict=()
  [[ -f $repo/fuzz/$h.dict ]] && dict=(-dict="$repo/fuzz/$h.dict")
  rc=0
  # The outer timeout only guards against a hung fuzzer: libFuzzer stops itself.
  timeout --signal=INT --kill-after=30 $((secs + 120)) \
    "$build/$h" -max_total_time="$secs" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "${fork[@]}" "${dict[@]}" "${dirs[@]}" >"$work/$h.log" 2>&1 || rc=$?
  grep -E '^(#[0-9]+ +DONE|stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb))|INITED' "$work/$h.log" | tail -5 || true
  shopt -s nullglob
  found=("$artifacts"/*)
  shopt -u nullglob
  if [[ $rc -ne 0 || ${#found[@]} -gt 0 ]]; then
    keep=$findings/$h
    mkdir -p "$keep"
    cp "$work/$h.log" "$keep/" 2>/dev/null || true
    for f in "${found[@]}"; do cp "$f" "$keep/"; done
    grep -m3 -E 'ERROR: |runtime error|SUMMARY|differs|AXE_ERR_INTERNAL' "$work/$h.log" || true
    echo "FOUND: $h (exit $rc); reproducers and log in $keep:"
    for f in "${found[@]}"; do echo "  $keep/$(basename "$f")"; done
    echo "  replay: $build/$h <file>   (or ${h}_replay)"
    failed+=("$h")
  fi
done
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz.sh: findings in ${failed[*]}"
  exit 1
fi
echo "fuzz.sh: no findings (${#harnesses[@]} harnesses, ${secs}s each)"
