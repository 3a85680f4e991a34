#!/usr/bin/env bash
# Same-run, side-by-side speed of axe and llama.cpp on identical random weights.
#
#   bench/vs_llamacpp.sh [--shapes stories110M,tinyllama-1.1B] [--formats f32,q8,q4,bf16,gguf-q8,gguf-q4]
#                        [-p 512]
#                        [-n 128] [-r 3] [-t 1,2] [--rounds 2] [--stat best|median] [--work DIR]
#                        [--peer DIR] [--build DIR] [--tokenizer FILE] [--tokenizer-model FILE]
#                        [--llama-amx auto|on|off] [--mem-time S]
#
# What it does, per shape (stories110M: 768/2048/12/12/12/32000/1024; tinyllama-1.1B:
# 2048/5632/22/32/4/32000/2048):
#  1. writes a random llama2.c checkpoint with an UNTIED classifier
#     (build/bench/axe_make_random_model --untied: negative vocab in the header, the classifier
#     after freq_cis), so that the embedding and the classifier are separate tensors in both
#     programs and both read the same bytes;
#  2. converts it for llama.cpp: F32 GGUF with llama-convert-llama2c-to-ggml (vocabulary from the
#     Llama 2 tokenizer.bin), then, for the formats asked for (--formats), Q8_0, Q4_0 and BF16 with
#     llama-quantize; and checks, once, that every tensor of the F32 GGUF holds exactly the bytes of
#     the llama2.c file (python3, no numpy);
#  3. makes axe's files from the same checkpoint: W8A8 and W4A8 RTN with axe's defaults (lanes x16
#     plan, P_I = 32) (not for gguf-q8/gguf-q4, where axe runs llama.cpp's own GGUF); for BF16, a
#     Hugging Face folder with bf16 safetensors
#     (build/bench/axe_make_hf_folder --dtype bf16, Llama 2's tokenizer.model copied in), checked
#     once to hold the same bf16 values as llama.cpp's BF16 GGUF (python3, no numpy);
#  4. runs llama-bench and axe bench alternately, one configuration (shape, format pair, thread
#     count) at a time, `--rounds` times over all configurations, with the same -p -n -r -t;
#  5. prints one markdown table: per shape and format pair, llama.cpp t/s / axe t/s (axe ÷
#     llama.cpp) for pp and tg at each thread count, the best (default) or the median t/s over
#     the rounds (each figure is the program's own mean over -r repetitions); and, when F32 and
#     another format are both measured, a second table: each program's t/s in that format ÷ its
#     own F32 t/s (e.g. what halving the bytes with BF16 gives each program);
#  6. measures, after each configuration's two program runs, the machine's read bandwidth at that
#     thread count (build/bench/axe_bench_int8, memory/read: a 1 GiB STREAM-style read over a tbb
#     arena of that many threads), and prints a third table for the tg test: per shape, format,
#     program and thread count, t/s, the weight bytes one generated token reads, the GB/s that
#     implies (bytes/token x t/s) and its share of the measured read bandwidth at that thread
#     count (the median of its measurements over every configuration and round).
# Every file is cached in the work dir (default /tmp/axe-vs-llamacpp; ~1.7 GB for stories110M,
# ~13 GB for tinyllama-1.1B with the default formats, 4.4 GB more with bf16) and reused; delete it
# to start over. Raw results of every run go to WORK/results-DATE.tsv, tool logs to WORK/logs/.
#
# Choices, and why:
#  - Format pairs: llama.cpp F32 vs axe F32 (the same bytes), Q8_0 vs W8A8, Q4_0 vs W4A8. Each
#    tool uses its own defaults: llama-quantize makes output.weight Q6_K for Q4_0 (Q8_0 for Q8_0)
#    and the embedding the file type; axe quantize does what its build does with the classifier
#    and the embedding (the size column shows it: with both kept in fp32, axe's 8-bit file is
#    twice llama.cpp's). The quantized files come from the same float weights but are different
#    quantizations (per-32-block scales vs axe's per-row scales; 8-bit activations in both).
#    .axe files are remade whenever the axe binary changes (WORK/*.axe.made-by).
#  - gguf-q8, gguf-q4 (not in the default formats): both programs run the very same file, the
#    Q8_0 or Q4_0 GGUF from llama-quantize (axe bench -m X.gguf). axe runs its Q8_0 and Q4_0
#    tensors natively on its groupwise kernels (runtime/linear_group; activations quantized per
#    block of 32 as llama.cpp's q8_0 activations are); other quantized linear layers, here the
#    Q4_0 file's Q6_K classifier (llama-quantize's default), are converted to Q8_0 at load
#    (llama.cpp reads it as Q6_K), and the embedding is dequantized to F32 (only looked up). The
#    size column is each program's own count: axe's includes the embedding at F32.
#  - BF16 (not in the default formats; --formats f32,bf16 adds it beside F32): llama.cpp's BF16
#    GGUF from llama-quantize and axe's bf16 Hugging Face folder hold the same bf16 values (both
#    round to nearest even; the q/k rows of the folder are in Hugging Face's rotate_half order, as
#    transformers' converter writes them; llama.cpp keeps the norm gains F32, the folder bf16). The
#    arithmetic differs: llama.cpp rounds the activations to bf16 and, on a CPU with AVX512-BF16,
#    multiplies bf16 by bf16 (vdpbf16ps in llamafile's tinyBLAS); axe widens the weights to fp32 in
#    the kernel and keeps fp32 activations. axe reads the folder's tokenizer.model (the Llama 2
#    SentencePiece model beside tokenizer.bin, or --tokenizer-model); the folder is remade when
#    axe_make_hf_folder changes (WORK/*-bf16-hf.made-by).
#  - Weight repacking and AMX: llama-bench of this llama.cpp (de3ff81) has no --no-repack option
#    (llama-cli's --no-repack clears use_extra_bufts; llama-bench never does), and `-ot .*=CPU`
#    does not help: an override to CPU still picks among the CPU's extra buffer types
#    (llama-model-loader.cpp). Those are, in order, AMX (built in by GGML_NATIVE on a CPU with
#    amx_int8) and CPU_REPACK. On the development VM (Sapphire Rapids class, AMX flags, the kernel
#    grants the tile state) llama.cpp's AMX matmul crashes at prefill: SIGILL in
#    tinygemm_kernel_amx<block_q8_0> for Q8_0, SIGSEGV in ggml_backend_amx_mul_mat for Q4_0
#    (decode, M = 1, works). So --llama-amx auto (the default) probes llama-bench's prefill on
#    the Q8_0 and Q4_0 files once when lscpu lists amx_int8, and, if it fails, runs llama-bench
#    with AMX refused (the shim below), which ggml handles as a kernel without AMX ("AMX is not
#    ready to be used!"). llama.cpp then runs its ordinary x86 path, the one any AVX2/AVX-512
#    CPU without AMX gets: Q4_0 repacked to q4_0_8x8 (CPU_REPACK, its fastest x86 Q4_0 path),
#    Q8_0 and F32 not repacked (repack.cpp repacks Q8_0 only on ARM and RISC-V). This keeps
#    repacking, unlike llama-cli's --no-repack, and is the fastest llama.cpp path that works here.
#    --llama-amx on|off forces either. ggml's AMX kernels take only quantized types (Q4_0, Q8_0,
#    K-quants...), so when neither Q8_0 nor Q4_0 is among the formats there is no probe and AMX is
#    left as it is (F32 and BF16 never use it). The table's header says which was used.
#    Everything else is llama-bench's default (flash attention auto, f16 KV cache, batch 2048,
#    ubatch 512, mmap);
#    axe bench has no such knobs (fp32 KV cache).
#  - The converter puts every tensor into one ggml context of a fixed 2 GiB, so it aborts on models
#    over ~2 GiB (the tinyllama-1.1B shape is 4.4 GB in fp32: "not enough space in the context's
#    memory pool"). For those only, this script preloads the shim, which enlarges ggml_init's
#    memory pool to the checkpoint's size; the converter's code is unchanged (it then peaks at
#    about twice the checkpoint in RAM, 9 GB for tinyllama-1.1B). The converter also records
#    context_length = 128 whatever seq_len is: when -p + -n exceeds it llama.cpp only warns
#    ("possible training context overflow"; freq_scale stays 1), so the speed is unaffected.
#  - Threads: the thread count of each run is passed to both (-t). axe quantize uses nproc threads.
#  - Decode against the read bandwidth (the third table): the bandwidth is measured in the same
#    run, between the programs' runs, so that it sees the same machine state (other tenants of a
#    VM, frequency, page cache). axe_bench_int8 registers memory/read for 1 and 2 threads and for
#    every count in AXE_BENCH_MEMORY_THREADS, which this script sets to its -t list; each
#    measurement is one `--benchmark_min_time` (--mem-time seconds, default 1) of whole 1 GiB
#    reads, its GB/s counter taken from the JSON output. Only the weights are counted, not the
#    KV cache (what it reads grows with the position; at the tg test's positions it is small
#    beside the weights: 2 x n_layers x kv_dim x position values per token), nor the activations.
#    axe's bytes per token are axe bench's own decode_bytes (-o csv, one tg1 run per file before
#    the rounds): every linear layer with the classifier, the norm gains, one embedding row.
#    llama.cpp's are derived from its GGUF (python3, no numpy): model_size (the sum of every
#    tensor's bytes, what llama-bench's size column shows; checked against it) minus the
#    token_embd tensor plus one of its rows (llama.cpp looks the row up with ggml_get_rows; with
#    a tied classifier, not made here, the whole of token_embd is read as the classifier), the
#    bytes per weight from the tensor's own GGML type (F32 4, F16/BF16 2, Q8_0 34/32, Q4_0 18/32,
#    Q6_K 210/256), read from the file rather than assumed: llama-quantize's Q4_0 file has a
#    Q6_K classifier (output.weight), which its model_size already counts at its real size.
#    Repacking (Q4_0 to q4_0_8x8) moves the bytes, it does not add any. Without python3, or
#    with a tensor type outside that list, llama.cpp's rows say n/a. The t/s is each program's
#    tg figure with the table's --stat; the bandwidth is always the median (a best-of would
#    flatter the denominator's noise). A row whose bytes per token fit in the L3 cache (its size
#    from /sys/devices/system/cpu/cpu0/cache) is marked: between tokens its weights can stay in
#    the cache (the development VM reports 480 MiB of L3, more than stories110M's F32 weights), so
#    its GB/s can pass the read bandwidth and says nothing about memory; compare the larger shape.
set -euo pipefail

prog=vs_llamacpp
die() { echo "$prog: error: $*" >&2; exit 1; }
note() { echo "$prog: $*" >&2; }

usage() {
  cat <<'EOF'
usage: bench/vs_llamacpp.sh [options]

Same-run speed comparison of axe against llama.cpp (llama-bench) on random-weight
models at real shapes, identical fp32 weights in both, plus 8-bit and 4-bit formats
and (--formats ...,bf16) the same bf16 weights in both.

options:
  --shapes LIST      comma-separated: stories110M, tinyllama-1.1B (default both)
  --formats LIST     comma-separated format pairs (llama.cpp vs axe): f32 (F32 vs F32), q8 (Q8_0 vs
                     W8A8), q4 (Q4_0 vs W4A8), bf16 (BF16 GGUF vs a bf16 Hugging Face folder),
                     gguf-q8 / gguf-q4 (llama-quantize's Q8_0 / Q4_0 GGUF, the same file in both)
                     (default f32,q8,q4)
  -p N               prompt tokens, pp test; 0 skips it (default 512)
  -n N               generated tokens, tg test; 0 skips it (default 128)
  -r N               repetitions per test in each program (default 3)
  -t LIST            thread counts, comma-separated (default 1,2)
  --rounds R         times every configuration is run, alternating the programs (default 2)
  --stat best|median how the rounds are combined in the table (default best)
  --work DIR         cache of models and results (default /tmp/axe-vs-llamacpp)
  --peer DIR         folder of llama.cpp's binaries (default: ../shared/tools/llama.cpp-peer.sh)
  --build DIR        axe's build folder (default: build in the repository)
  --tokenizer FILE   llama2.c tokenizer.bin, vocabulary 32000
                     (default ../shared/models/llama2-tokenizer/tokenizer.bin)
  --tokenizer-model FILE  the same vocabulary as SentencePiece's tokenizer.model, copied into the
                     bf16 folder (default: tokenizer.model beside --tokenizer)
  --llama-amx MODE   auto: on a CPU with AMX, probe llama.cpp's AMX prefill once and, if it
                     crashes, refuse llama.cpp the AMX tile state; on/off: force (default auto)
  --mem-time S       seconds of each read-bandwidth measurement (axe_bench_int8 memory/read, after
                     each configuration, for the decode-bandwidth table) (default 1)
  -h, --help         this help

Example (a quick check): bench/vs_llamacpp.sh --shapes stories110M -p 16 -n 8 -r 1 --rounds 1 -t 1
16-bit weights:          bench/vs_llamacpp.sh --shapes tinyllama-1.1B --formats f32,bf16
The same GGUF files:     bench/vs_llamacpp.sh --formats gguf-q8,gguf-q4 --rounds 3
EOF
}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
shapes=stories110M,tinyllama-1.1B
n_prompt=512
n_gen=128
reps=3
threads=1,2
rounds=2
stat=best
work=/tmp/axe-vs-llamacpp
peer=""
build="$root/build"
tokenizer="$root/../shared/models/llama2-tokenizer/tokenizer.bin"
tokenizer_model=""
formats=f32,q8,q4
llama_amx=auto
mem_min_time=1

need_value() { [[ $2 -ge 2 && -n $3 ]] || die "$1 needs a value (see --help)"; }
while [[ $# -gt 0 ]]; do
  case $1 in
    -h|--help) usage; exit 0 ;;
    --shapes) need_value "$1" $# "${2-}"; shapes=$2; shift 2 ;;
    --formats) need_value "$1" $# "${2-}"; formats=$2; shift 2 ;;
    -p) need_value "$1" $# "${2-}"; n_prompt=$2; shift 2 ;;
    -n) need_value "$1" $# "${2-}"; n_gen=$2; shift 2 ;;
    -r) need_value "$1" $# "${2-}"; reps=$2; shift 2 ;;
    -t) need_value "$1" $# "${2-}"; threads=$2; shift 2 ;;
    --rounds) need_value "$1" $# "${2-}"; rounds=$2; shift 2 ;;
    --stat) need_value "$1" $# "${2-}"; stat=$2; shift 2 ;;
    --work) need_value "$1" $# "${2-}"; work=$2; shift 2 ;;
    --peer) need_value "$1" $# "${2-}"; peer=$2; shift 2 ;;
    --build) need_value "$1" $# "${2-}"; build=$2; shift 2 ;;
    --tokenizer) need_value "$1" $# "${2-}"; tokenizer=$2; shift 2 ;;
    --tokenizer-model) need_value "$1" $# "${2-}"; tokenizer_model=$2; shift 2 ;;
    --llama-amx) need_value "$1" $# "${2-}"; llama_amx=$2; shift 2 ;;
    --mem-time) need_value "$1" $# "${2-}"; mem_min_time=$2; shift 2 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done

is_uint() { [[ $1 =~ ^(0|[1-9][0-9]*)$ ]]; }
is_uint "$n_prompt" || die "-p: expected a number, got '$n_prompt'"
is_uint "$n_gen" || die "-n: expected a number, got '$n_gen'"
(( n_prompt > 0 || n_gen > 0 )) || die "-p and -n are both 0: nothing to measure"
[[ $reps =~ ^[1-9][0-9]*$ ]] || die "-r: expected a positive number, got '$reps'"
[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "--rounds: expected a positive number, got '$rounds'"
[[ $threads =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || die "-t: expected thread counts like 1,2, got '$threads'"
[[ $stat == best || $stat == median ]] || die "--stat: expected best or median, got '$stat'"
[[ $llama_amx == auto || $llama_amx == on || $llama_amx == off ]] ||
  die "--llama-amx: expected auto, on or off, got '$llama_amx'"
IFS=, read -r -a thread_list <<<"$threads"
IFS=, read -r -a shape_list <<<"$shapes"
(( ${#shape_list[@]} > 0 )) || die "--shapes is empty"
for s in "${shape_list[@]}"; do
  [[ $s == stories110M || $s == tinyllama-1.1B ]] || die "unknown shape '$s' (stories110M, tinyllama-1.1B)"
done
# Format pairs, in the order given; llama.cpp's and axe's names are accepted too.
pairs=()
IFS=, read -r -a format_list <<<"$formats"
for f in "${format_list[@]}"; do
  case ${f,,} in
    f32) p=f32 ;;
    q8|q8_0|w8a8) p=q8 ;;
    q4|q4_0|w4a8) p=q4 ;;
    bf16) p=bf16 ;;
    gguf-q8|gguf-q8_0) p=gguf-q8 ;;
    gguf-q4|gguf-q4_0) p=gguf-q4 ;;
    *) die "unknown format '$f' (f32, q8, q4, bf16, gguf-q8, gguf-q4)" ;;
  esac
  [[ " ${pairs[*]} " == *" $p "* ]] || pairs+=("$p")
done
(( ${#pairs[@]} > 0 )) || die "--formats is empty"
want() { [[ " ${pairs[*]} " == *" $1 "* ]]; }

# axe
axe="$build/axe"
make_model="$build/bench/axe_make_random_model"
[[ -x $axe && -x $make_model ]] ||
  die "no $axe or $make_model: build axe first (cmake --build build), or give --build DIR"
grep -q -- --untied <("$make_model" 2>&1 || true) ||
  die "$make_model has no --untied option: rebuild it (cmake --build build --target axe_make_random_model)"
[[ -f $tokenizer ]] || die "no tokenizer at $tokenizer (give --tokenizer FILE)"
# The read bandwidth (the third table); without the benchmark the table is left out.
bench_int8="$build/bench/axe_bench_int8"
[[ $mem_min_time =~ ^[0-9]*\.?[0-9]+$ ]] || die "--mem-time: expected seconds, got '$mem_min_time'"
if [[ ! -x $bench_int8 ]]; then
  note "warning: no $bench_int8 (cmake --build build --target axe_bench_int8): not measuring the read bandwidth"
  bench_int8=""
fi
if want bf16; then
  make_folder="$build/bench/axe_make_hf_folder"
  [[ -x $make_folder ]] ||
    die "no $make_folder: build it (cmake --build build --target axe_make_hf_folder), or give --build DIR"
  [[ -n $tokenizer_model ]] || tokenizer_model="$(dirname "$tokenizer")/tokenizer.model"
  [[ -f $tokenizer_model ]] ||
    die "no $tokenizer_model: the bf16 folder needs SentencePiece's tokenizer.model (give --tokenizer-model FILE)"
  folder_id=$(sha256sum "$make_folder" | cut -c 1-16)
fi

# llama.cpp
if [[ -z $peer ]]; then
  peer_script="$root/../shared/tools/llama.cpp-peer.sh"
  [[ -x $peer_script ]] || die "no $peer_script: give llama.cpp's binary folder with --peer DIR"
  note "finding llama.cpp with $peer_script (builds it the first time)"
  peer=$("$peer_script" | tail -n 1) || die "$peer_script failed"
fi
for b in llama-bench llama-quantize llama-convert-llama2c-to-ggml; do
  [[ -x $peer/$b ]] || die "no $peer/$b (--peer must be the folder of llama.cpp's binaries)"
done

mkdir -p "$work/logs" || die "cannot create the work dir $work"
work=$(cd "$work" && pwd)
nproc=$(nproc)
axe_id=$(sha256sum "$axe" | cut -c 1-16)

# Runs a command with its output in a log; on failure shows the log's end and stops.
run_logged() {
  local log=$1
  shift
  if ! "$@" >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    die "failed: $* (whole log: $log)"
  fi
}

# A small LD_PRELOAD shim for llama.cpp's programs, compiled once into the work dir; each hook
# acts only when its variable is set, and only public interfaces are declared (ggml.h's struct
# ggml_init_params, libc's syscall):
#  - AXE_GGML_POOL_BYTES=N: ggml_init's memory pool is at least N bytes, so that
#    llama-convert-llama2c-to-ggml, which puts every tensor in one fixed 2 GiB context, can hold
#    a larger model;
#  - AXE_NO_AMX=1: the request for AMX tile state (arch_prctl ARCH_REQ_XCOMP_PERM) fails, as on
#    a kernel without AMX support; ggml then leaves its AMX buffer type out.
shim() {
  local so="$work/llamacpp_shim.so"
  if [[ ! -f $so ]]; then
    command -v cc >/dev/null || die "a C compiler (cc) is needed for $work/llamacpp_shim.c"
    cat >"$work/llamacpp_shim.c" <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/syscall.h>
struct ggml_init_params { size_t mem_size; void *mem_buffer; bool no_alloc; };
void *ggml_init(struct ggml_init_params p) {
  static void *(*real)(struct ggml_init_params);
  if (!real) real = (void *(*)(struct ggml_init_params))dlsym(RTLD_NEXT, "ggml_init");
  const char *e = getenv("AXE_GGML_POOL_BYTES");
  if (e && !p.mem_buffer && !p.no_alloc) {
    size_t m = strtoull(e, NULL, 10);
    if (p.mem_size < m) p.mem_size = m;
  }
  return real(p);
}
long syscall(long n, ...) {
  static long (*real)(long, ...);
  long a[6];
  va_list ap;
  va_start(ap, n);
  for (int i = 0; i < 6; ++i) a[i] = va_arg(ap, long);
  va_end(ap);
  if (n == SYS_arch_prctl && a[0] == 0x1023 /* ARCH_REQ_XCOMP_PERM */ && getenv("AXE_NO_AMX")) {
    errno = EPERM;
    return -1;
  }
  if (!real) real = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
  return real(n, a[0], a[1], a[2], a[3], a[4], a[5]);
}
EOF
    cc -O2 -Wall -Wextra -shared -fPIC -o "$so.tmp" "$work/llamacpp_shim.c" -ldl ||
      die "could not compile $work/llamacpp_shim.c"
    mv "$so.tmp" "$so"
  fi
  echo "$so"
}

# Checks that every tensor of the F32 GGUF holds exactly the bytes of the llama2.c checkpoint.
verify_gguf() {
  PYTHONPATH="$root/bench" python3 - "$1" "$2" <<'EOF'
import struct, sys
from gguf_tensors import gguf_tensors
bin_path, gguf_path = sys.argv[1], sys.argv[2]
with open(bin_path, 'rb') as f:
    D, H, L, NH, NKV, V, S = struct.unpack('<7i', f.read(28))
untied, V = V < 0, abs(V)
HD = D // NH
KV = HD * NKV
regions, off = {}, 28
def put(name, n):
    global off
    if name:
        regions[name] = (off, n * 4)
    off += n * 4
def layers(fmt, n):
    for l in range(L):
        put(fmt.format(l), n)
put('token_embd.weight', V * D)
layers('blk.{}.attn_norm.weight', D)
layers('blk.{}.attn_q.weight', D * D)
layers('blk.{}.attn_k.weight', KV * D)
layers('blk.{}.attn_v.weight', KV * D)
layers('blk.{}.attn_output.weight', D * D)
layers('blk.{}.ffn_norm.weight', D)
layers('blk.{}.ffn_gate.weight', H * D)
layers('blk.{}.ffn_down.weight', D * H)
layers('blk.{}.ffn_up.weight', H * D)
put('output_norm.weight', D)
put(None, S * HD)  # freq_cis
if untied:
    put('output.weight', V * D)
else:
    regions['output.weight'] = regions['token_embd.weight']

version, tensors = gguf_tensors(gguf_path)
names = set(tensors)
if names != set(regions):
    raise SystemExit(f'{gguf_path}: tensors differ from the checkpoint: missing {sorted(set(regions) - names)[:5]}, '
                     f'extra {sorted(names - set(regions))[:5]}')
with open(bin_path, 'rb') as b, open(gguf_path, 'rb') as g:
    for name, (dims, ttype, toff) in tensors.items():
        boff, nbytes = regions[name]
        n = 1
        for d in dims: n *= d
        if ttype != 0 or n * 4 != nbytes:
            raise SystemExit(f'{gguf_path}: {name} is type {ttype} with {n} elements, expected F32 with {nbytes // 4}')
        g.seek(toff); b.seek(boff)
        left = nbytes
        while left:
            k = min(left, 1 << 24)
            if g.read(k) != b.read(k):
                raise SystemExit(f'{gguf_path}: {name} differs from the checkpoint at byte {nbytes - left}..')
            left -= k
print(f'{len(tensors)} tensors, {sum(v[1] for k, v in regions.items() if k != "output.weight" or untied) / 2**20:.1f} MiB: '
      f'identical bytes (GGUF v{version}, classifier {"untied" if untied else "tied"})')
EOF
}

# Checks that llama.cpp's BF16 GGUF and axe's bf16 folder (one model.safetensors) hold the same
# values: every matrix the same bf16 bytes (q/k rows mapped from Hugging Face's rotate_half order
# to llama2.c's, the GGUF's), every F32 norm gain of the GGUF the folder's bf16 gain once rounded.
verify_bf16() {
  PYTHONPATH="$root/bench" python3 - "$1" "$2" <<'EOF'
import json, struct, sys
from gguf_tensors import gguf_tensors
gguf_path, folder = sys.argv[1], sys.argv[2]
st_path = folder + '/model.safetensors'
with open(folder + '/config.json') as f:
    cfg = json.load(f)
HD = cfg['hidden_size'] // cfg['num_attention_heads']

def hf_name(n):
    top = {'token_embd.weight': 'model.embed_tokens.weight', 'output_norm.weight': 'model.norm.weight',
           'output.weight': 'lm_head.weight'}
    if n in top: return top[n]
    _, l, rest = n.split('.', 2)
    sub = {'attn_norm.weight': 'input_layernorm.weight', 'attn_q.weight': 'self_attn.q_proj.weight',
           'attn_k.weight': 'self_attn.k_proj.weight', 'attn_v.weight': 'self_attn.v_proj.weight',
           'attn_output.weight': 'self_attn.o_proj.weight', 'ffn_norm.weight': 'post_attention_layernorm.weight',
           'ffn_gate.weight': 'mlp.gate_proj.weight', 'ffn_up.weight': 'mlp.up_proj.weight',
           'ffn_down.weight': 'mlp.down_proj.weight'}[rest]
    return f'model.layers.{l}.{sub}'

def bf16_of_f32(b):  # round to nearest even, as both converters do (no NaNs in these weights)
    return b''.join(struct.pack('<H', ((x + 0x7FFF + ((x >> 16) & 1)) >> 16) & 0xFFFF)
                    for (x,) in struct.iter_unpack('<I', b))

_, gg = gguf_tensors(gguf_path)
with open(st_path, 'rb') as st:
    n = struct.unpack('<Q', st.read(8))[0]
    header = json.loads(st.read(n))
    st_base = 8 + n
header.pop('__metadata__', None)
if {hf_name(k) for k in gg} != set(header):
    raise SystemExit(f'{gguf_path} and {st_path} hold different tensors')
total = 0
with open(gguf_path, 'rb') as g, open(st_path, 'rb') as st:
    for name, (dims, ttype, off) in gg.items():
        h = header[hf_name(name)]
        b0, b1 = h['data_offsets']
        if h['dtype'] != 'BF16': raise SystemExit(f'{st_path}: {hf_name(name)} is {h["dtype"]}, not BF16')
        ne = 1
        for d in dims: ne *= d
        if ne * 2 != b1 - b0: raise SystemExit(f'{name}: {ne} values, {hf_name(name)} has {(b1 - b0) // 2}')
        total += ne
        g.seek(off); st.seek(st_base + b0)
        if ttype == 0 and len(dims) == 1:  # a norm gain, kept F32 by llama.cpp
            if bf16_of_f32(g.read(ne * 4)) != st.read(ne * 2): raise SystemExit(f'{name}: bf16 values differ')
            continue
        if ttype != 30: raise SystemExit(f'{gguf_path}: {name} is GGML type {ttype}, not BF16 (30)')
        cols, rows = dims[0], ne // dims[0]
        if name.endswith(('attn_q.weight', 'attn_k.weight')):  # HF row r is llama2.c row lr
            hf = st.read(rows * cols * 2)
            for r in range(rows):
                hh, i, half = r // HD, r % HD, HD // 2
                lr = hh * HD + (2 * i if i < half else 2 * (i - half) + 1)
                g.seek(off + lr * cols * 2)
                if g.read(cols * 2) != hf[r * cols * 2:(r + 1) * cols * 2]:
                    raise SystemExit(f'{name}: row {lr} differs from {hf_name(name)} row {r}')
            continue
        left = ne * 2
        while left:
            k = min(left, 1 << 24)
            if g.read(k) != st.read(k): raise SystemExit(f'{name}: differs from {hf_name(name)} near byte {ne * 2 - left}')
            left -= k
print(f'{len(gg)} tensors, {total / 1e6:.1f} M values: the same bf16 values in the GGUF and the folder')
EOF
}

# The weight bytes one generated token of llama.cpp reads from a GGUF (see the header): prints
# "BYTES_PER_TOKEN MODEL_SIZE EMBD_TYPE CLASSIFIER_TYPE", MODEL_SIZE the sum of every tensor's
# bytes; fails on a tensor type whose size is not listed.
gguf_decode_bytes() {
  PYTHONPATH="$root/bench" python3 - "$1" <<'EOF'
import sys
from gguf_tensors import gguf_tensors
path = sys.argv[1]
# GGML type: (name, bytes per block, weights per block)
types = {0: ('F32', 4, 1), 1: ('F16', 2, 1), 30: ('BF16', 2, 1), 8: ('Q8_0', 34, 32), 2: ('Q4_0', 18, 32),
         14: ('Q6_K', 210, 256)}
total, embd, row, names = 0, None, None, {}
for name, (dims, ttype, _) in gguf_tensors(path)[1].items():
    if ttype not in types: raise SystemExit(f'{path}: {name} has GGML type {ttype}, whose size is not listed')
    tname, block_bytes, block = types[ttype]
    n = 1
    for d in dims: n *= d
    if dims[0] % block: raise SystemExit(f'{path}: {name} is not whole blocks of {tname}')
    nbytes = n // block * block_bytes
    total += nbytes
    names[name] = tname
    if name == 'token_embd.weight':
        embd, row = nbytes, dims[0] // block * block_bytes
if embd is None: raise SystemExit(f'{path}: no token_embd.weight')
# A tied classifier (no output.weight) is token_embd itself: read whole for every token.
per_token = total - embd + row if 'output.weight' in names else total
print(per_token, total, names['token_embd.weight'], names.get('output.weight', 'tied'))
EOF
}

prepare_shape() {
  local shape=$1 bin="$work/$1.bin" f32="$work/$1-f32.gguf" vocab size need
  if [[ ! -s $bin ]]; then
    note "$shape: writing the random untied llama2.c checkpoint $bin"
    run_logged "$work/logs/$shape-make.log" "$make_model" "$bin" --preset "$shape" --untied
  fi
  vocab=$(od -An -t d4 -j 20 -N 4 "$bin" | tr -d ' ')
  (( vocab < 0 )) || die "$bin has a tied classifier (vocab $vocab in its header): delete it and rerun"
  if [[ ! -s $f32 ]]; then
    note "$shape: converting to F32 GGUF with llama-convert-llama2c-to-ggml"
    size=$(stat -c %s "$bin")
    need=$(( size + 64 * 1024 * 1024 ))
    local -a pre=()
    if (( need > 2 * 1024 * 1024 * 1024 )); then
      pre=(env "LD_PRELOAD=$(shim)" "AXE_GGML_POOL_BYTES=$need")
      note "$shape: $size bytes is over the converter's fixed 2 GiB context: preloading $work/llamacpp_shim.so"
    fi
    run_logged "$work/logs/$shape-convert.log" "${pre[@]}" "$peer/llama-convert-llama2c-to-ggml" \
      --copy-vocab-from-model "$tokenizer" --llama2c-model "$bin" --llama2c-output-model "$f32.tmp"
    mv "$f32.tmp" "$f32"
    rm -f "$f32.verified"
  fi
  if [[ ! -f $f32.verified ]]; then
    if command -v python3 >/dev/null; then
      note "$shape: checking the F32 GGUF's tensors against the checkpoint's bytes"
      verify_gguf "$bin" "$f32" >"$f32.verified.tmp" || die "$f32 does not hold the weights of $bin"
      mv "$f32.verified.tmp" "$f32.verified"
      note "$shape: $(cat "$f32.verified")"
    else
      note "warning: no python3: not checking that $f32 holds the bytes of $bin"
    fi
  fi
  local q
  for q in Q8_0 Q4_0 BF16; do
    case $q in
      Q8_0) want q8 || want gguf-q8 || continue ;;
      Q4_0) want q4 || want gguf-q4 || continue ;;
      BF16) want bf16 || continue ;;
    esac
    local out="$work/$shape-${q,,}.gguf"
    if [[ ! -s $out ]]; then
      note "$shape: llama-quantize to $q"
      run_logged "$work/logs/$shape-${q,,}.log" "$peer/llama-quantize" "$f32" "$out.tmp" "$q" "$nproc"
      mv "$out.tmp" "$out"
    fi
  done
  # .axe files depend on the quantizer: they are remade when the axe binary changes.
  local bits
  for bits in 8 4; do
    want "q$bits" || continue
    local out="$work/$shape-w${bits}a8.axe"
    if [[ -s $out && $(cat "$out.made-by" 2>/dev/null) != "$axe_id" ]]; then
      note "$shape: $out was made by another axe build: quantizing again"
      rm -f "$out"
    fi
    if [[ ! -s $out ]]; then
      note "$shape: axe quantize W${bits}A8 RTN"
      rm -f "$work/$shape-w${bits}a8.tmp.axe"
      run_logged "$work/logs/$shape-w${bits}a8.log" "$axe" quantize -m "$bin" --tokenizer "$tokenizer" \
        --wbits "$bits" --abits 8 -o "$work/$shape-w${bits}a8.tmp.axe" -t "$nproc"
      mv "$work/$shape-w${bits}a8.tmp.axe" "$out"
      echo "$axe_id" >"$out.made-by"
    fi
  done
  if want bf16; then
    local dir="$work/$shape-bf16-hf"
    if [[ -d $dir && $(cat "$dir.made-by" 2>/dev/null) != "$folder_id" ]]; then
      note "$shape: $dir was made by another axe_make_hf_folder: writing it again"
      rm -rf "$dir" "$dir.verified"
    fi
    if [[ ! -f $dir/tokenizer.model ]]; then
      note "$shape: writing the bf16 Hugging Face folder $dir with axe_make_hf_folder"
      rm -rf "$dir" "$dir.verified"
      run_logged "$work/logs/$shape-bf16-hf.log" "$make_folder" "$bin" "$dir" --dtype bf16
      cp "$tokenizer_model" "$dir/tokenizer.model.tmp"
      mv "$dir/tokenizer.model.tmp" "$dir/tokenizer.model"
      echo "$folder_id" >"$dir.made-by"
    fi
    if [[ ! -f $dir.verified ]]; then
      if command -v python3 >/dev/null; then
        note "$shape: checking that the BF16 GGUF and the bf16 folder hold the same values"
        verify_bf16 "$work/$shape-bf16.gguf" "$dir" >"$dir.verified.tmp" ||
          die "$work/$shape-bf16.gguf and $dir do not hold the same values"
        mv "$dir.verified.tmp" "$dir.verified"
        note "$shape: $(cat "$dir.verified")"
      else
        note "warning: no python3: not checking that $dir holds the values of $work/$shape-bf16.gguf"
      fi
    fi
  fi
}

# Rows of a llama-bench-style markdown table as "test<TAB>threads<TAB>t/s<TAB>size<TAB>params",
# columns found by their headers.
parse_md() {
  awk -F'|' '
    function trim(s) { gsub(/^[ \t]+|[ \t]+$/, "", s); return s }
    /^\|/ {
      if (!have) {
        for (i = 2; i < NF; ++i) col[trim($i)] = i
        if (("test" in col) && ("threads" in col) && ("t/s" in col)) have = 1
        else delete col
        next
      }
      if ($0 ~ /^\|[ -:|]+$/) next
      split(trim($col["t/s"]), ts, " ")
      printf "%s\t%s\t%s\t%s\t%s\n", trim($col["test"]), trim($col["threads"]), ts[1], \
        ("size" in col) ? trim($col["size"]) : "?", ("params" in col) ? trim($col["params"]) : "?"
    }' "$1"
}

for shape in "${shape_list[@]}"; do prepare_shape "$shape"; done

# llama.cpp's AMX path: see the header. llama_pre is the prefix of every llama-bench command.
llama_pre=()
amx_note="not used (no amx_int8 in lscpu)"
if grep -qw amx_int8 <(lscpu); then
  amx_note="used (--llama-amx on)"
  probe_list=()
  { want q8 || want gguf-q8; } && probe_list+=(q8_0)
  { want q4 || want gguf-q4; } && probe_list+=(q4_0)
  if [[ $llama_amx == auto && ${#probe_list[@]} == 0 ]]; then
    amx_note="not refused, not probed: ggml's AMX kernels take none of the formats measured"
  elif [[ $llama_amx == auto ]]; then
    amx_note="used (its prefill passed a probe)"
    for q in "${probe_list[@]}"; do
      probe="$work/logs/amx-probe-${shape_list[0]}-$q"
      rc=0
      { "$peer/llama-bench" -m "$work/${shape_list[0]}-$q.gguf" -p 32 -n 0 -r 1 -t 1 >"$probe.md" 2>"$probe.err"; } 2>/dev/null || rc=$?
      if (( rc != 0 )); then
        llama_amx=off
        sig=""
        (( rc > 128 )) && sig=" (signal $(kill -l $(( rc - 128 )) 2>/dev/null || echo $(( rc - 128 ))))"
        note "llama.cpp's AMX prefill failed on ${shape_list[0]} $q: exit $rc$sig (logs: $probe.md, $probe.err); running llama-bench with AMX refused"
        amx_note="refused: llama.cpp's AMX prefill crashed in a probe (${shape_list[0]} ${q^^}); ordinary AVX-512 paths, Q4_0 repacked"
        break
      fi
    done
  fi
  if [[ $llama_amx == off ]]; then
    llama_pre=(env "LD_PRELOAD=$(shim)" AXE_NO_AMX=1)
    [[ $amx_note == refused* ]] || amx_note="refused (--llama-amx off); ordinary AVX-512 paths, Q4_0 repacked"
  fi
fi

stamp=$(date +%Y%m%d-%H%M%S)
# The repository's revision when the measurements start (it may move during a long run).
axe_rev=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$root" diff --quiet HEAD -- 2>/dev/null || axe_rev="$axe_rev (with local changes)"
results="$work/results-$stamp.tsv"
printf 'round\tshape\tpair\tprogram\ttest\tthreads\tt/s\tsize\tparams\tload1\n' >"$results"
llama_file() {
  case $2 in
    f32) echo "$work/$1-f32.gguf" ;; q8|gguf-q8) echo "$work/$1-q8_0.gguf" ;;
    q4|gguf-q4) echo "$work/$1-q4_0.gguf" ;; bf16) echo "$work/$1-bf16.gguf" ;;
  esac
}
axe_file() {
  case $2 in
    f32) echo "$work/$1.bin" ;; q8) echo "$work/$1-w8a8.axe" ;; q4) echo "$work/$1-w4a8.axe" ;;
    bf16) echo "$work/$1-bf16-hf" ;;
    gguf-q8|gguf-q4) llama_file "$1" "$2" ;;  # the very same file
  esac
}

# The decode-bandwidth table's inputs (see the header): the bytes one generated token reads, per
# file (axe: axe bench's decode_bytes; llama.cpp: from its GGUF), and the read bandwidth
# measured after each configuration.
bytes_file="$work/bytes-$stamp.tsv"
bandwidth_file="$work/bandwidth-$stamp.tsv"
measure_bandwidth=""
[[ -n $bench_int8 ]] && (( n_gen > 0 )) && measure_bandwidth=1
if [[ -n $measure_bandwidth ]]; then
  printf 'shape\tpair\tprogram\tbytes/token\tmodel_size\ttoken_embd\toutput\n' >"$bytes_file"
  printf 'round\tshape\tpair\tthreads\tread GB/s\tload1\n' >"$bandwidth_file"
  have_python=""
  if command -v python3 >/dev/null; then
    have_python=1
  else
    note "warning: no python3: llama.cpp's bytes per token (read from its GGUF) are n/a"
  fi
  for shape in "${shape_list[@]}"; do
    for pair in "${pairs[@]}"; do
      af=$(axe_file "$shape" "$pair")
      lf=$(llama_file "$shape" "$pair")
      tok=()
      [[ $pair == f32 ]] && tok=(--tokenizer "$tokenizer")
      out="$work/logs/bytes-$stamp-$shape-$pair"
      if ! "$axe" bench -m "$af" "${tok[@]}" -p 0 -n 1 -r 1 -t 1 -o csv >"$out-axe.csv" 2>"$out-axe.err"; then
        tail -n 20 "$out-axe.err" >&2
        die "failed: $axe bench -m $af -o csv (logs: $out-axe.csv, $out-axe.err)"
      fi
      b=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; ++i) if ($i == "decode_bytes") c = i; next }
                   c { print $c; exit }' "$out-axe.csv")
      [[ $b =~ ^[0-9]+$ ]] || die "no decode_bytes column in $out-axe.csv: this axe is older than the column (rebuild it)"
      printf '%s\t%s\taxe\t%s\t\t\t\n' "$shape" "$pair" "$b" >>"$bytes_file"
      [[ -n $have_python ]] || continue
      if r=$(gguf_decode_bytes "$lf" 2>"$out-llama.err"); then
        read -r b size etype ctype <<<"$r"
        printf '%s\t%s\tllama.cpp\t%s\t%s\t%s\t%s\n' "$shape" "$pair" "$b" "$size" "$etype" "$ctype" >>"$bytes_file"
      else
        note "warning: llama.cpp's bytes per token for $lf are n/a: $(tail -n 1 "$out-llama.err")"
      fi
    done
  done
fi

# The read bandwidth at T threads, appended to the bandwidth file.
measure_read() {
  local round=$1 shape=$2 pair=$3 t=$4 out="$work/logs/read-$stamp-$1-$2-$3-t$4" load gbs
  load=$(cut -d ' ' -f 1 /proc/loadavg 2>/dev/null || echo "?")
  if ! AXE_BENCH_MEMORY_THREADS=$t "$bench_int8" --benchmark_filter="^memory/read/threads:$t/" \
      --benchmark_min_time="$mem_min_time" --benchmark_format=json >"$out.json" 2>"$out.err"; then
    tail -n 20 "$out.err" >&2
    die "failed: $bench_int8 memory/read at $t thread(s) (logs: $out.json, $out.err)"
  fi
  gbs=$(sed -n 's/^ *"GB\/s": *\([0-9.eE+-]*\).*/\1/p' "$out.json" | head -n 1)
  [[ -n $gbs ]] ||
    die "no memory/read/threads:$t result in $out.json: rebuild axe_bench_int8 (AXE_BENCH_MEMORY_THREADS is newer)"
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$shape" "$pair" "$t" "$gbs" "$load" >>"$bandwidth_file"
  note "  read bandwidth: $(awk -v g="$gbs" 'BEGIN { printf "%.2f", g }') GB/s at $t thread(s) (load $load)"
}

# One run of one program: appends its rows to the results, stops on failure or an empty table.
bench_one() {
  local round=$1 shape=$2 pair=$3 name=$4 t=$5
  shift 5
  local out="$work/logs/bench-$stamp-$round-$shape-$pair-$name-t$t" load
  # The 1-minute load average as the run starts: a check on how busy the machine was.
  load=$(cut -d ' ' -f 1 /proc/loadavg 2>/dev/null || echo "?")
  if ! "$@" >"$out.md" 2>"$out.err"; then
    tail -n 20 "$out.err" >&2
    die "failed: $* (logs: $out.md, $out.err)"
  fi
  local rows
  rows=$(parse_md "$out.md")
  [[ -n $rows ]] || die "no result table in $out.md from: $*"
  while IFS=$'\t' read -r test th tps size params; do
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$shape" "$pair" "$name" "$test" "$th" "$tps" "$size" "$params" "$load"
  done <<<"$rows" >>"$results"
  note "  $name: $(awk -F'\t' '{ printf "%s t=%s %s t/s  ", $1, $2, $3 }' <<<"$rows")(load $load)"
}

total=$(( rounds * ${#shape_list[@]} * ${#pairs[@]} * ${#thread_list[@]} ))
step=0
for (( round = 1; round <= rounds; ++round )); do
  for shape in "${shape_list[@]}"; do
    for pair in "${pairs[@]}"; do
      lf=$(llama_file "$shape" "$pair")
      af=$(axe_file "$shape" "$pair")
      tok=()
      [[ $pair == f32 ]] && tok=(--tokenizer "$tokenizer")
      for t in "${thread_list[@]}"; do
        step=$(( step + 1 ))
        note "[$step/$total] round $round, $shape, $pair, $t thread(s)"
        bench_one "$round" "$shape" "$pair" llama.cpp "$t" \
          "${llama_pre[@]}" "$peer/llama-bench" -m "$lf" -p "$n_prompt" -n "$n_gen" -r "$reps" -t "$t" -o md
        bench_one "$round" "$shape" "$pair" axe "$t" \
          "$axe" bench -m "$af" "${tok[@]}" -p "$n_prompt" -n "$n_gen" -r "$reps" -t "$t" -o md
        [[ -z $measure_bandwidth ]] || measure_read "$round" "$shape" "$pair" "$t"
      done
    done
  done
done

# The table.
cpu=$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -n 1)
llama_build=$(grep -h -o 'build: .*' "$work"/logs/bench-"$stamp"-*-llama.cpp-*.md 2>/dev/null | head -n 1 || true)
tests=()
(( n_prompt > 0 )) && tests+=("pp$n_prompt")
(( n_gen > 0 )) && tests+=("tg$n_gen")
echo
echo "CPU: ${cpu:-unknown} ($nproc logical CPUs)"
echo "Date: $(date '+%Y-%m-%d %H:%M %Z')"
echo "llama.cpp: ${llama_build#build: } ($peer), AMX $amx_note; axe: $axe_rev ($build)"
echo "Each cell: llama.cpp t/s / axe t/s (axe ÷ llama.cpp); each program's mean over -r $reps, the $stat of $rounds round(s)."
echo
awk -F'\t' -v stat="$stat" -v tests="${tests[*]}" -v threads="${thread_list[*]}" -v shapes="${shape_list[*]}" \
  -v pairs="${pairs[*]}" '
  NR == 1 { next }
  {
    k = $2 SUBSEP $3 SUBSEP $4 SUBSEP $5 SUBSEP $6
    n[k]++; v[k, n[k]] = $7
    if ($5 == first_test) { size[$2, $3, $4] = $8; params[$2, $3, $4] = $9 }
  }
  BEGIN {
    nt = split(tests, T, " "); nth = split(threads, TH, " "); ns = split(shapes, S, " ")
    first_test = T[1]
    np = split(pairs, P, " ")
    L["f32"] = "F32"; L["q8"] = "Q8_0"; L["q4"] = "Q4_0"; L["bf16"] = "BF16"
    A["f32"] = "F32"; A["q8"] = "W8A8"; A["q4"] = "W4A8"; A["bf16"] = "BF16 (HF folder)"
    L["gguf-q8"] = "Q8_0 GGUF"; A["gguf-q8"] = "the same file"
    L["gguf-q4"] = "Q4_0 GGUF"; A["gguf-q4"] = "the same file"
    for (p = 1; p <= np; ++p) if (P[p] == "f32") have_f32 = 1
  }
  function pick(k,    m, i, j, x, a) {
    m = n[k]
    if (!m) return ""
    for (i = 1; i <= m; ++i) a[i] = v[k, i] + 0
    for (i = 2; i <= m; ++i) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; --j) a[j + 1] = a[j]; a[j + 1] = x }
    if (stat == "best") return a[m]
    return (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
  }
  function fmt(x) { return x >= 100 ? sprintf("%.1f", x) : sprintf("%.2f", x) }
  # The two header lines of a table: the leading columns, then one per (test, threads).
  function header(line, sep,    i, j) {
    for (i = 1; i <= nt; ++i) for (j = 1; j <= nth; ++j) { line = line " " T[i] " t=" TH[j] " |"; sep = sep "---:|" }
    print line; print sep
  }
  END {
    header("| shape | llama.cpp vs axe | size (llama.cpp / axe) |", "|---|---|---|")
    for (s = 1; s <= ns; ++s) for (p = 1; p <= np; ++p) {
      sh = S[s]; pr = P[p]
      ls = size[sh, pr, "llama.cpp"]; as = size[sh, pr, "axe"]
      line = "| " sh " | " L[pr] " vs " A[pr] " | " ls " / " as " |"
      for (i = 1; i <= nt; ++i) for (j = 1; j <= nth; ++j) {
        l = pick(sh SUBSEP pr SUBSEP "llama.cpp" SUBSEP T[i] SUBSEP TH[j])
        a = pick(sh SUBSEP pr SUBSEP "axe" SUBSEP T[i] SUBSEP TH[j])
        if (l == "" || a == "") cell = "n/a"
        else cell = fmt(l) " / " fmt(a) " (" sprintf("%.2f", l > 0 ? a / l : 0) "×)"
        line = line " " cell " |"
      }
      print line
    }
    if (have_f32 && np > 1) {
      print ""
      print "Each program against its own F32: t/s in the format ÷ F32 t/s, llama.cpp / axe."
      print ""
      header("| shape | format (llama.cpp / axe) |", "|---|---|")
      for (s = 1; s <= ns; ++s) for (p = 1; p <= np; ++p) {
        sh = S[s]; pr = P[p]
        if (pr == "f32") continue
        line = "| " sh " | " L[pr] " / " A[pr] " |"
        for (i = 1; i <= nt; ++i) for (j = 1; j <= nth; ++j) {
          cell = ""
          for (g = 1; g <= 2; ++g) {
            prog = (g == 1) ? "llama.cpp" : "axe"
            x = pick(sh SUBSEP pr SUBSEP prog SUBSEP T[i] SUBSEP TH[j])
            f = pick(sh SUBSEP "f32" SUBSEP prog SUBSEP T[i] SUBSEP TH[j])
            r = (x == "" || f == "" || f <= 0) ? "n/a" : sprintf("%.2f×", x / f)
            cell = cell (g == 1 ? "" : " / ") r
          }
          line = line " " cell " |"
        }
        print line
      }
    }
    if (have_f32) {
      for (s = 1; s <= ns; ++s) {
        lp = params[S[s], "f32", "llama.cpp"]; ap = params[S[s], "f32", "axe"]
        printf "\n%s parameters (F32 files): llama.cpp %s, axe %s%s", S[s], lp, ap, (lp == ap ? "" : "  ** MISMATCH **")
      }
      print ""
    }
  }' "$results"
# The decode-bandwidth table (see the header): tg rows against the read bandwidth.
if [[ -n $measure_bandwidth ]]; then
  echo
  echo "Decode (tg$n_gen) against the read bandwidth measured in the same run: weight bytes one token reads x t/s,"
  echo "against axe_bench_int8 memory/read at the same thread count (the median of its measurements, one after"
  echo "each configuration). t/s: each program's mean over -r $reps, the $stat of $rounds round(s); MB = 10^6 bytes."
  echo
  # The L3 cache's size in bytes (0 when unknown), from the first CPU's level-3 cache.
  l3_bytes=0
  for d in /sys/devices/system/cpu/cpu0/cache/index*; do
    [[ $(cat "$d/level" 2>/dev/null) == 3 ]] || continue
    l3=$(cat "$d/size" 2>/dev/null || true)
    case $l3 in
      *K) l3_bytes=$(( ${l3%K} * 1024 )) ;; *M) l3_bytes=$(( ${l3%M} * 1024 * 1024 )) ;;
      *[0-9]) l3_bytes=$l3 ;;
    esac
  done
  awk -F'\t' -v stat="$stat" -v test="tg$n_gen" -v l3="$l3_bytes" -v threads="${thread_list[*]}" -v shapes="${shape_list[*]}" \
    -v pairs="${pairs[*]}" '
    FNR == 1 { ++file; next }
    file == 1 {  # the results
      if ($5 != test) next
      k = $2 SUBSEP $3 SUBSEP $4 SUBSEP $6
      n[k]++; v[k, n[k]] = $7
      if ($4 == "llama.cpp") shown_size[$2, $3] = $8
      next
    }
    file == 2 { bytes[$1, $2, $3] = $4; msize[$1, $2, $3] = $5; etype[$1, $2, $3] = $6; ctype[$1, $2, $3] = $7; next }
    file == 3 { nb[$4]++; bw[$4, nb[$4]] = $5 + 0 }
    BEGIN {
      nth = split(threads, TH, " "); ns = split(shapes, S, " "); np = split(pairs, P, " ")
      L["f32"] = "F32"; L["q8"] = "Q8_0"; L["q4"] = "Q4_0"; L["bf16"] = "BF16"
      A["f32"] = "F32"; A["q8"] = "W8A8"; A["q4"] = "W4A8"; A["bf16"] = "BF16 (HF folder)"
      L["gguf-q8"] = "Q8_0 GGUF"; A["gguf-q8"] = "Q8_0 GGUF"
      L["gguf-q4"] = "Q4_0 GGUF"; A["gguf-q4"] = "Q4_0 GGUF"
    }
    function sorted_pick(arr, key, m, how,    i, j, x, a) {
      if (!m) return ""
      for (i = 1; i <= m; ++i) a[i] = arr[key, i] + 0
      for (i = 2; i <= m; ++i) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; --j) a[j + 1] = a[j]; a[j + 1] = x }
      if (how == "best") return a[m]
      if (how == "min") return a[1]
      return (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
    }
    function fmt(x) { return x >= 100 ? sprintf("%.1f", x) : sprintf("%.2f", x) }
    # llama-bench size column ("511.57 MiB", "1.02 GiB") in bytes, and its rounding step.
    function shown_bytes(s,    f) { split(s, f, " "); return f[1] * (f[2] == "GiB" ? 2^30 : 2^20) }
    function shown_step(s,    f) { split(s, f, " "); return 0.005 * (f[2] == "GiB" ? 2^30 : 2^20) }
    END {
      print "| shape | format | program | threads | t/s | MB/token | GB/s | read GB/s | % of read |"
      print "|---|---|---|---:|---:|---:|---:|---:|---:|"
      for (s = 1; s <= ns; ++s) for (p = 1; p <= np; ++p) for (j = 1; j <= nth; ++j) for (g = 1; g <= 2; ++g) {
        sh = S[s]; pr = P[p]; t = TH[j]; prog = (g == 1) ? "llama.cpp" : "axe"
        k = sh SUBSEP pr SUBSEP prog SUBSEP t
        tps = sorted_pick(v, k, n[k], stat)
        read = sorted_pick(bw, t, nb[t], "median")
        b = bytes[sh, pr, prog]
        line = "| " sh " | " (g == 1 ? L[pr] : A[pr]) " | " prog " | " t " | " (tps == "" ? "n/a" : fmt(tps)) " | "
        if (b == "" || tps == "") line = line (b == "" ? "n/a" : sprintf("%.1f", b / 1e6)) " | n/a | " (read == "" ? "n/a" : fmt(read)) " | n/a |"
        else {
          gbs = b * tps / 1e9
          in_l3 = (l3 > 0 && b + 0 <= l3 + 0)
          if (in_l3) any_l3 = 1
          line = line sprintf("%.1f", b / 1e6) " | " fmt(gbs) " | " (read == "" ? "n/a" : fmt(read)) " | " \
            (read == "" || read <= 0 ? "n/a" : sprintf("%.0f%%", 100 * gbs / read)) (in_l3 ? " *" : "") " |"
        }
        print line
      }
      if (any_l3)
        printf "\n* fits in the L3 cache (%.0f MiB): the weights can stay cached between tokens, so this is no measure of memory bandwidth.\n", l3 / 2^20
      for (t = 1; t <= nth; ++t) if (nb[TH[t]]) {
        m = nb[TH[t]]
        printf "\nRead bandwidth at %d thread(s): %d measurement(s), min %.2f, median %.2f, max %.2f GB/s", TH[t], m,
          sorted_pick(bw, TH[t], m, "min"), sorted_pick(bw, TH[t], m, "median"), sorted_pick(bw, TH[t], m, "best")
      }
      print ""
      for (s = 1; s <= ns; ++s) for (p = 1; p <= np; ++p) {
        sh = S[s]; pr = P[p]; k = sh SUBSEP pr SUBSEP "llama.cpp"
        if (bytes[k] == "") continue
        ls = shown_size[sh, pr]
        check = (ls == "") ? "" : ((msize[k] - shown_bytes(ls))^2 > shown_step(ls)^2) ? "  ** MISMATCH **" : ""
        printf "llama.cpp bytes/token, %s %s: model_size %.0f (the GGUF'\''s tensors; llama-bench: %s%s) - token_embd (%s) + one of its rows; output.weight %s\n",
          sh, L[pr], msize[k], ls == "" ? "?" : ls, check, etype[k], ctype[k]
      }
    }' "$results" "$bytes_file" "$bandwidth_file"
fi
echo
# One load figure per program run (its rows share it).
awk -F'\t' '
  NR > 1 && $10 ~ /^[0-9.]+$/ && !seen[$1, $2, $3, $4, $6]++ { a[++n] = $10 + 0 }
  END {
    if (!n) exit
    for (i = 2; i <= n; ++i) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; --j) a[j + 1] = a[j]; a[j + 1] = x }
    printf "Load average (1 min) as each of the %d runs started: min %.2f, median %.2f, max %.2f\n", n, a[1],
      (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2, a[n]
  }' "$results"
echo "Raw results: $results"
[[ -z $measure_bandwidth ]] || echo "Bytes per token: $bytes_file; read bandwidth: $bandwidth_file"
