#!/usr/bin/env bash
# Perplexity of the same GGUF files in llama.cpp and in axe, side by side.
#
#   bench/gguf_perplexity.sh [--peer DIR] [--work DIR] [-c CTX] [-t THREADS] AXE TEXT FILE.gguf...
#
# For each FILE, runs llama.cpp's
#   llama-perplexity -m FILE -f TEXT -c CTX -b CTX -t THREADS
# and axe's
#   AXE perplexity -m FILE -f TEXT -c CTX -t THREADS
# (default CTX 128, THREADS 1) and prints one markdown table: file | llama.cpp PPL | axe PPL |
# axe / llama.cpp, each PPL with the program's own +/- figure. axe's perplexity follows
# llama-perplexity's protocol (BOS first, chunks of CTX tokens, each chunk's first token replaced
# by BOS, the second half of each chunk scored), so on the same weights the two differ only by
# their arithmetic (docs/PERFORMANCE.md, "Perplexity of stories260K").
#
# llama.cpp's programs run with AMX refused (AXE_NO_AMX=1 and the LD_PRELOAD shim of
# bench/vs_llamacpp.sh, compiled from that script into the work dir when missing): on the
# development VM llama.cpp's AMX Q8_0/Q4_0 kernels crash at prefill (SIGILL / SIGSEGV); without
# AMX llama.cpp runs its ordinary AVX-512/AVX2 path. On a CPU without AMX the shim changes
# nothing. Logs of every run go to WORK/logs/ (default WORK: /tmp/axe-gguf-perplexity).
set -euo pipefail

die() {
  echo "gguf_perplexity.sh: $*" >&2
  exit 1
}
usage() {
  sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
  exit "${1:-0}"
}

root=$(cd "$(dirname "$0")/.." && pwd)
peer="" work=/tmp/axe-gguf-perplexity ctx=128 threads=1
while [[ $# -gt 0 ]]; do
  case $1 in
    --peer) [[ $# -ge 2 ]] || die "--peer needs a value"; peer=$2; shift 2 ;;
    --work) [[ $# -ge 2 ]] || die "--work needs a value"; work=$2; shift 2 ;;
    -c) [[ $# -ge 2 ]] || die "-c needs a value"; ctx=$2; shift 2 ;;
    -t) [[ $# -ge 2 ]] || die "-t needs a value"; threads=$2; shift 2 ;;
    -h | --help) usage 0 ;;
    --) shift; break ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) break ;;
  esac
done
[[ $# -ge 3 ]] || usage 1
axe=$1 text=$2
shift 2
[[ -x $axe ]] || die "$axe is not an executable (the axe binary, e.g. build/axe)"
[[ -f $text ]] || die "no text file $text"
[[ $ctx =~ ^[0-9]+$ && $ctx -ge 8 ]] || die "-c must be a number of tokens >= 8"
[[ $threads =~ ^[0-9]+$ && $threads -ge 1 ]] || die "-t must be a positive number"
for f in "$@"; do [[ -f $f ]] || die "no file $f"; done

if [[ -z $peer ]]; then
  peer_script="$root/../shared/tools/llama.cpp-peer.sh"
  [[ -x $peer_script ]] || peer_script=/work/shared/tools/llama.cpp-peer.sh
  [[ -x $peer_script ]] || die "no llama.cpp-peer.sh: give llama.cpp's binary folder with --peer DIR"
  peer=$("$peer_script" | tail -n 1) || die "$peer_script failed"
fi
[[ -x $peer/llama-perplexity ]] || die "no $peer/llama-perplexity (--peer must be the folder of llama.cpp's binaries)"
mkdir -p "$work/logs"

# The shim: bench/vs_llamacpp.sh's source, compiled once.
shim="$work/llamacpp_shim.so"
if [[ ! -f $shim ]]; then
  command -v cc >/dev/null || die "a C compiler (cc) is needed for the llama.cpp shim"
  awk '/cat >"\$work\/llamacpp_shim.c" <<.EOF./ {on = 1; next} on && /^EOF$/ {exit} on' \
    "$root/bench/vs_llamacpp.sh" >"$work/llamacpp_shim.c"
  grep -q ARCH_REQ_XCOMP_PERM "$work/llamacpp_shim.c" || die "could not find the shim's source in bench/vs_llamacpp.sh"
  cc -O2 -Wall -Wextra -shared -fPIC -o "$shim.tmp" "$work/llamacpp_shim.c" -ldl || die "could not compile the shim"
  mv "$shim.tmp" "$shim"
fi

# "PPL +/- err" from a log's "Final estimate: PPL = X +/- Y" line.
final() {
  sed -n 's/.*Final estimate: PPL = \([0-9.naif]*\) +\/- \([0-9.naif]*\).*/\1 \2/p' "$1" | tail -n 1
}

rows=()
for f in "$@"; do
  name=$(basename "$f")
  llog="$work/logs/$name.llama-perplexity.log" alog="$work/logs/$name.axe-perplexity.log"
  lcmd=("$peer/llama-perplexity" -m "$f" -f "$text" -c "$ctx" -b "$ctx" -t "$threads")
  acmd=("$axe" perplexity -m "$f" -f "$text" -c "$ctx" -t "$threads")
  echo "+ AXE_NO_AMX=1 LD_PRELOAD=$shim ${lcmd[*]}" >&2
  if ! env AXE_NO_AMX=1 "LD_PRELOAD=$shim" "${lcmd[@]}" >"$llog" 2>&1; then
    tail -n 5 "$llog" >&2
    echo "llama-perplexity failed on $f (log: $llog)" >&2
  fi
  echo "+ ${acmd[*]}" >&2
  if ! "${acmd[@]}" >"$alog" 2>&1; then
    tail -n 5 "$alog" >&2
    echo "axe perplexity failed on $f (log: $alog)" >&2
  fi
  read -r lp le <<<"$(final "$llog")" || true
  read -r ap ae <<<"$(final "$alog")" || true
  ratio=-
  if [[ -n ${lp:-} && -n ${ap:-} ]]; then ratio=$(awk -v a="$ap" -v b="$lp" 'BEGIN { printf "%.5f", a / b }'); fi
  rows+=("| $name | ${lp:-failed}${le:+ ± $le} | ${ap:-failed}${ae:+ ± $ae} | $ratio |")
  unset lp le ap ae
done

echo
echo "Perplexity, $(basename "$text"), -c $ctx, -t $threads; CPU: $(lscpu | sed -n 's/^Model name: *//p' | head -n 1)"
echo
echo "| file | llama.cpp PPL | axe PPL | axe / llama.cpp |"
echo "|---|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
