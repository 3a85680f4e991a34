#!/usr/bin/env bash
# The CLI: help, flag errors (exit 2), failures (exit 1), golden outputs.
set -u
AXE=$1
SHARED=$2
MODEL=$SHARED/models/stories260K/stories260K.bin
pass=0 fail=0
expect() {  # expect NAME WANT_STATUS PATTERN -- command...
  local name=$1 want=$2 pattern=$3
  shift 4
  local out status
  out=$("$@" 2>&1 </dev/null)
  status=$?
  if [[ $status -eq $want ]] && grep -qE -- "$pattern" <<<"$out"; then
    pass=$((pass + 1))
  else
    fail=$((fail + 1))
    echo "FAIL: $name: status $status (want $want), output:"
    head -c 600 <<<"$out"
    echo
  fi
}

expect "usage" 2 "usage: axe COMMAND" -- "$AXE"
expect "help" 0 "generate" -- "$AXE" --help
expect "unknown command" 2 "unknown command 'frob'" -- "$AXE" frob
for cmd in generate chat perplexity bench quantize verify tokenize; do
  expect "$cmd --help" 0 "usage: axe $cmd" -- "$AXE" $cmd --help
done
for cmd in generate chat perplexity bench quantize; do
  expect "$cmd unknown flag" 2 "unknown argument '--bogus'" -- "$AXE" $cmd -m "$MODEL" --bogus
done
expect "verify unknown flag" 2 "unknown argument '--bogus'" -- "$AXE" verify x.axe --bogus
expect "missing model" 2 "missing -m" -- "$AXE" generate -p hi
expect "bad int" 2 "invalid value 'abc' for -n" -- "$AXE" generate -m "$MODEL" -n abc
expect "bad range" 2 "out of range" -- "$AXE" generate -m "$MODEL" -t 0
expect "missing value" 2 "needs a value" -- "$AXE" generate -m "$MODEL" --temp
expect "bad score" 2 "expected half or all" -- "$AXE" perplexity -m "$MODEL" -f x --score most
expect "bad output" 2 "expected md, csv or json" -- "$AXE" bench -m "$MODEL" -o xml
expect "missing model file" 1 "nope.bin: cannot open" -- "$AXE" generate -m /nonexistent/nope.bin
expect "bad target" 1 "unknown SIMD target" -- "$AXE" generate -m "$MODEL" --target avx9000 -n 1
expect "golden greedy" 0 "^Once upon a time, there was a little girl named Lily. She loved to play outside in the park." -- \
  "$AXE" generate -m "$MODEL" --temp 0 -n 40
expect "timings" 0 "prefill: 1 tokens .* decode: 40 tokens" -- "$AXE" generate -m "$MODEL" --temp 0 -n 40
expect "prompt" 0 "^Lily and Tom" -- "$AXE" generate -m "$MODEL" -p "Lily and Tom" -n 20 -s 7
a=$("$AXE" generate -m "$MODEL" -n 60 -s 11 --temp 0.9 2>/dev/null)
b=$("$AXE" generate -m "$MODEL" -n 60 -s 11 --temp 0.9 2>/dev/null)
c=$("$AXE" generate -m "$MODEL" -n 60 -s 12 --temp 0.9 2>/dev/null)
if [[ "$a" == "$b" && "$a" != "$c" ]]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: seeds"; fi
expect "perplexity" 0 "Final estimate: PPL = [0-9.]+ \+/- [0-9.]+" -- \
  "$AXE" perplexity -m "$MODEL" -f "$SHARED/data/tinystories/eval.txt" -c 128 --chunks 8
expect "perplexity too short" 1 "fewer than one chunk" -- "$AXE" perplexity -m "$MODEL" -f "$SHARED/models/stories260K/LICENSE" -c 4096
expect "bench md" 0 "\| llama 260K F32 \| .* \| pp32 \| [0-9.]+ ± [0-9.]+ \|" -- "$AXE" bench -m "$MODEL" -p 32 -n 8 -r 2 -t 1
expect "bench tg bandwidth" 0 "tg8 t=1: [0-9.]+ t/s  \([0-9.]+ MB/token, [0-9.]+ GB/s\)" -- \
  "$AXE" bench -m "$MODEL" -p 0 -n 8 -r 1 -t 1
expect "bench csv" 0 "^model,size_bytes" -- "$AXE" bench -m "$MODEL" -p 16 -n 0 -r 1 -o csv
expect "bench csv decode_bytes" 0 "^model,.*,stddev_ts,decode_bytes$" -- "$AXE" bench -m "$MODEL" -p 16 -n 0 -r 1 -o csv
expect "bench json" 0 "\"test\": \"tg8\"" -- "$AXE" bench -m "$MODEL" -p 0 -n 8 -r 1 -o json
expect "bench json decode_bytes" 0 "\], \"decode_bytes\": [1-9][0-9]*\}$" -- "$AXE" bench -m "$MODEL" -p 0 -n 8 -r 1 -o json
out=$(printf 'Lily went\n/reset\nTom saw\n' | "$AXE" chat -m "$MODEL" --temp 0 -n 16 2>/dev/null)
status=$?
if [[ $status -eq 0 && $(grep -c "context cleared" <<<"$out") -eq 1 ]]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: chat: $out"; fi
out=$(printf 'Lily went\n/quit\nnot read\n' | "$AXE" chat -m "$MODEL" --temp 0 -n 4 2>/dev/null)
if [[ $? -eq 0 ]]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: chat /quit"; fi

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
expect "quantize needs -o" 2 "missing -o" -- "$AXE" quantize -m "$MODEL"
expect "axe needs acc" 2 "need --acc" -- "$AXE" quantize -m "$MODEL" -o "$TMP/x.axe" --axe
expect "bad algo" 2 "expected rtn, optq or gpfq" -- "$AXE" quantize -m "$MODEL" -o "$TMP/x.axe" --algo gptq
expect "optq needs calib" 2 "needs --calib" -- "$AXE" quantize -m "$MODEL" -o "$TMP/x.axe" --algo optq
expect "bad acc" 2 "out of range" -- "$AXE" quantize -m "$MODEL" -o "$TMP/x.axe" --acc 40
expect "acc order" 2 "P_O must be at least P_I" -- "$AXE" quantize -m "$MODEL" -o "$TMP/x.axe" --acc 16,12
expect "quantize axe" 0 "plan holds" -- "$AXE" quantize -m "$MODEL" -o "$TMP/w4.axe" --wbits 4 --abits 8 --axe --acc 13 -t 2
expect "verify ok" 0 "OK: the plan holds" -- "$AXE" verify "$TMP/w4.axe"
expect "verify counts" 0 "checked: 36 layers, 3512 rows, 56192 tiles" -- "$AXE" verify "$TMP/w4.axe"
expect "generate axe" 0 "^Once upon a time" -- "$AXE" generate -m "$TMP/w4.axe" --temp 0 -n 8
expect "bench axe" 0 "llama 260K W4A8" -- "$AXE" bench -m "$TMP/w4.axe" -p 16 -n 4 -r 1 -t 1
expect "quantize unconstrained" 0 "plan does NOT hold" -- "$AXE" quantize -m "$MODEL" -o "$TMP/u4.axe" --wbits 4 --acc 12
expect "acc-sim axe" 0 "overflows: 0 tile steps, 0 row steps" -- "$AXE" perplexity -m "$TMP/w4.axe" -f "$SHARED/data/tinystories/eval.txt" -c 128 --chunks 4 --acc-sim 13
expect "acc-sim unconstrained" 0 "overflows: [1-9][0-9]* tile steps" -- "$AXE" perplexity -m "$TMP/u4.axe" -f "$SHARED/data/tinystories/eval.txt" -c 128 --chunks 4 --acc-sim 12,32,sat
expect "acc-sim float" 1 "needs a quantized .axe model" -- "$AXE" generate -m "$MODEL" -n 2 --acc-sim 16
expect "acc-sim bad" 2 "expected P_I" -- "$AXE" generate -m "$MODEL" -n 2 --acc-sim 16,20,24
expect "naive" 0 "plan lanes x16, P_I=12, P_O=32, W4A4, activations \[0, 15\].*plan holds" -- "$AXE" quantize -m "$MODEL" -o "$TMP/n.axe" --wbits 4 --abits 8 --naive --acc 12
expect "naive and axe" 2 "alternatives" -- "$AXE" quantize -m "$MODEL" -o "$TMP/n.axe" --naive --axe --acc 12
expect "search needs calib" 2 "needs a calibrated algorithm" -- "$AXE" quantize -m "$MODEL" -o "$TMP/s.axe" --search --acc 12
expect "gpfq needs calib" 2 "needs --calib" -- "$AXE" quantize -m "$MODEL" -o "$TMP/s.axe" --algo gpfq
expect "ep-init" 0 "W4A8, activations .*plan holds" -- "$AXE" quantize -m "$MODEL" -o "$TMP/e.axe" --wbits 4 --ep-init --acc 13
expect "search" 0 "per layer.*plan holds" -- "$AXE" quantize -m "$MODEL" -o "$TMP/s.axe" --wbits 4 --algo gpfq --search --acc 12 --calib "$SHARED/data/tinystories/calib.txt" --calib-samples 8 --calib-len 64
expect "verify search" 0 "OK: the plan holds" -- "$AXE" verify "$TMP/s.axe"
for t in 1 2; do
  "$AXE" quantize -m "$MODEL" -o "$TMP/det$t.axe" --wbits 4 --algo optq --axe --act-order --acc 13 --calib "$SHARED/data/tinystories/calib.txt" --calib-samples 8 --calib-len 64 -t $t > /dev/null 2>&1
done
expect "quantize deterministic across threads" 0 "" -- cmp "$TMP/det1.axe" "$TMP/det2.axe"
# The codes wait in a scratch file beside the output, unlinked at once: the
# folder ends with the output alone.
mkdir -p "$TMP/clean"
"$AXE" quantize -m "$MODEL" -o "$TMP/clean/q.axe" --wbits 4 --algo optq --calib "$SHARED/data/tinystories/calib.txt" --calib-samples 8 --calib-len 64 > /dev/null 2>&1
expect "quantize leaves only its output" 0 "^q\.axe$" -- ls -A "$TMP/clean"
expect "quantize leaves one file" 0 "^1$" -- bash -c 'ls -A "$0" | wc -l' "$TMP/clean"
expect "rotate bad" 2 "expected none or hadamard" -- "$AXE" quantize -m "$MODEL" -o "$TMP/r.axe" --rotate givens
expect "rotate seed bad" 2 "--rotate-seed" -- "$AXE" quantize -m "$MODEL" -o "$TMP/r.axe" --rotate hadamard --rotate-seed -1
expect "rotate seed alone" 2 "--rotate-seed needs --rotate hadamard" -- "$AXE" quantize -m "$MODEL" -o "$TMP/r.axe" --rotate-seed 3
expect "output bits and f32" 2 "alternatives" -- "$AXE" quantize -m "$MODEL" -o "$TMP/r.axe" --wbits-output 4 --keep-output-f32
expect "group not 32k" 2 "expected a multiple of 32" -- "$AXE" quantize -m "$MODEL" -o "$TMP/g.axe" --group 48
expect "act group alone" 2 "--act-group needs --group G" -- "$AXE" quantize -m "$MODEL" -o "$TMP/g.axe" --act-group 32
expect "group asym" 2 "needs symmetric activations" -- "$AXE" quantize -m "$MODEL" -o "$TMP/g.axe" --group 32 --act asym
expect "group act group" 1 "do not cover whole weight groups" -- "$AXE" quantize -m "$MODEL" -o "$TMP/g.axe" --group 64 --act-group 32
expect "group tiles" 2 "the tiles are the groups" -- "$AXE" quantize -m "$MODEL" -o "$TMP/g.axe" --group 32 --plan lanes
expect "group quantize" 0 "G=32, act per 32.*plan holds" -- "$AXE" quantize -m "$MODEL" -o "$TMP/g32.axe" --wbits 4 --group 32 --axe --acc 14
expect "group verify" 0 "OK: the plan holds" -- "$AXE" verify "$TMP/g32.axe"
expect "group acc-sim" 0 "overflows: 0 tile steps" -- "$AXE" perplexity -m "$TMP/g32.axe" -f "$SHARED/data/tinystories/eval.txt" -c 128 --chunks 4 --acc-sim 14
expect "gguf out" 0 "Q8_0/Q4_0 tensors .*P_I=14 holds" -- "$AXE" quantize -m "$MODEL" -o "$TMP/g32.gguf" --wbits 4 --group 32 --axe --acc 14
expect "gguf out verify" 0 "" -- "$AXE" verify "$TMP/g32.gguf" --acc 14 --act sym8
expect "gguf out per row" 1 "quantize with --group 32" -- "$AXE" quantize -m "$MODEL" -o "$TMP/row.gguf" --wbits 4
for t in 1 2; do
  expect "rotate -t $t" 0 "W4A8.*plan holds" -- "$AXE" quantize -m "$MODEL" -o "$TMP/rot$t.axe" --wbits 4 --algo optq --axe --acc 13 --rotate hadamard --rotate-seed 9 --calib "$SHARED/data/tinystories/calib.txt" --calib-samples 8 --calib-len 64 -t $t
done
expect "rotated deterministic across threads" 0 "" -- cmp "$TMP/rot1.axe" "$TMP/rot2.axe"
expect "verify rotated" 0 "rotation: hadamard, seed 9" -- "$AXE" verify "$TMP/rot1.axe"
expect "acc-sim rotated" 0 "overflows: 0 tile steps, 0 row steps" -- "$AXE" perplexity -m "$TMP/rot1.axe" -f "$SHARED/data/tinystories/eval.txt" -c 128 --chunks 4 --acc-sim 13
expect "generate rotated" 0 "^Once upon a time" -- "$AXE" generate -m "$TMP/rot1.axe" --temp 0 -n 8
expect "verify violation" 1 "FAIL: the plan does not hold" -- "$AXE" verify "$TMP/u4.axe"
head -c 1000 "$TMP/w4.axe" > "$TMP/cut.axe"
expect "verify damaged" 1 "cut.axe" -- "$AXE" verify "$TMP/cut.axe"
expect "verify missing" 2 "missing FILE.axe" -- "$AXE" verify
SWEEP=(-m "$MODEL" --calib "$SHARED/data/tinystories/calib.txt" -f "$SHARED/data/tinystories/eval.txt" --chunks 2 -c 128 --calib-samples 4 --calib-len 64 -t 2)
expect "sweep needs acc" 2 "missing --acc" -- "$AXE" sweep "${SWEEP[@]}" -o "$TMP/sw.csv"
expect "sweep acc-sim" 2 "--acc-sim is not supported" -- "$AXE" sweep "${SWEEP[@]}" -o "$TMP/sw.csv" --acc 13 --acc-sim 13
expect "sweep bad method" 2 "invalid method 'axe-gptq'" -- "$AXE" sweep "${SWEEP[@]}" -o "$TMP/sw.csv" --acc 13 --methods axe-gptq
expect "sweep" 0 "wrote .*sw.csv: 6 runs" -- "$AXE" sweep "${SWEEP[@]}" -o "$TMP/sw.csv" --svg "$TMP/sw.svg" --acc 14,12 --methods optq,axe-gpfq,search-optq
expect "sweep csv" 0 "^search-optq,12,32,.*W4A[2-8]-8 per layer.*,yes," -- cat "$TMP/sw.csv"
expect "sweep svg lines" 0 "^4$" -- grep -c "<polyline" "$TMP/sw.svg"
expect "sweep svg whole" 0 "</svg>" -- tail -c 8 "$TMP/sw.svg"
expect "sweep leaves no model" 2 "No such file" -- ls "$TMP/sw.csv.sweep.axe"
expect "sweep leaves no base" 2 "No such file" -- ls "$TMP/sw.csv.base.kld"
expect "sweep kld columns" 0 "^float,,,.*,0.000000,1.000000$" -- cat "$TMP/sw.csv"
expect "kld base" 0 "wrote the base log-probabilities" -- "$AXE" perplexity -m "$MODEL" -f "$SHARED/data/tinystories/eval.txt" -c 64 --chunks 3 --kl-divergence-base "$TMP/b.kld"
expect "kld score" 0 "Same top p: 100.000" -- "$AXE" perplexity -m "$MODEL" --kl-divergence-base "$TMP/b.kld" --kl-divergence
expect "kld needs base" 2 "needs --kl-divergence-base" -- "$AXE" perplexity -m "$MODEL" --kl-divergence
expect "kld not all" 2 "score half, not all" -- "$AXE" perplexity -m "$MODEL" -f x --score all --kl-divergence-base "$TMP/b.kld"

# Hostile inputs and outputs: refused at once with a non-zero exit, never a hang or a clobbered node.
mkfifo "$TMP/fifo"
expect "fifo model" 1 "not a regular file \\(a FIFO\\)" -- timeout 20 "$AXE" generate -m "$TMP/fifo" -n 4
expect "fifo text" 1 "fifo: not a regular file" -- timeout 20 "$AXE" perplexity -m "$MODEL" -f "$TMP/fifo"
expect "directory text" 1 "not a regular file" -- "$AXE" perplexity -m "$MODEL" -f "$TMP"
expect "device output" 1 "/dev/full: exists and is a device; refusing to replace it" -- "$AXE" quantize -m "$MODEL" -o /dev/full
expect "device kept" 0 "^c" -- stat -c %A /dev/full
# A NaN weight: an error naming the layer and exit 1, not <unk>s or PPL = nan.
cp "$MODEL" "$TMP/nan.bin"
printf '\x00\x00\xc0\x7f' | dd of="$TMP/nan.bin" bs=1 seek=200000 conv=notrunc status=none
expect "nan generate" 1 "layer [0-9]+: .* is not finite" -- "$AXE" generate -m "$TMP/nan.bin" --tokenizer "$SHARED/models/stories260K/tok512.bin" -n 8
expect "nan perplexity" 1 "is not finite" -- "$AXE" perplexity -m "$TMP/nan.bin" --tokenizer "$SHARED/models/stories260K/tok512.bin" -f "$SHARED/data/tinystories/eval.txt" -c 64 --chunks 2

# Hugging Face folders: the same weights as the llama2.c file give the same text, tokens and perplexity.
HF=$SHARED/models/stories260K-hf
expect "folder greedy" 0 "^Once upon a time, there was a little girl named Lily. She loved to play outside in the park." -- \
  "$AXE" generate -m "$HF" --temp 0 -n 40
expect "folder perplexity" 0 "PPL = 5.3567" -- "$AXE" perplexity -m "$HF" -f "$SHARED/data/tinystories/eval.txt"
expect "tokenize ids" 0 "^\[1, 346, 306, 414, 263, 304, 341\]$" -- "$AXE" tokenize -m "$HF" -p "Hello world" --ids
expect "tokenize ids llama2c" 0 "^\[1, 346, 306, 414, 263, 304, 341\]$" -- "$AXE" tokenize -m "$MODEL" -p "Hello world" --ids
expect "tokenize pieces" 0 "^ +1 -> '<s>'" -- "$AXE" tokenize -m "$HF" -p "Hello world"
expect "tokenize no bos" 0 "^\[346, 306" -- "$AXE" tokenize -m "$HF" -p "Hello world" --ids --no-bos
expect "tokenize special" 0 "^\[1, 2, 346" -- "$AXE" tokenize -m "$HF" -p "</s>Hello" --ids --special
expect "tokenize plain" 0 "^\[1, 410, 504" -- "$AXE" tokenize -m "$HF" -p "</s>Hello" --ids
expect "tokenize needs text" 2 "give the text" -- "$AXE" tokenize -m "$HF"
mkdir -p "$TMP/empty-folder"
expect "folder without config" 1 "without config.json" -- "$AXE" generate -m "$TMP/empty-folder" -n 1
expect "quantize folder" 0 "wrote" -- "$AXE" quantize -m "$HF" -o "$TMP/hf.axe" --algo rtn --wbits 8 --abits 8
expect "quantized folder tokens" 0 "^\[1, 346, 306, 414, 263, 304, 341\]$" -- "$AXE" tokenize -m "$TMP/hf.axe" -p "Hello world" --ids
expect "verify folder axe" 0 "plan holds" -- "$AXE" verify "$TMP/hf.axe"
# Chat: a named template formats the turns (llama3's header ids are plain text to this vocabulary, but the
# loop runs: two turns answered, the cache kept), and an unknown name is a usage error.
chat_out=$(printf 'Hello\nMore\n' | "$AXE" chat -m "$HF" --chat-template chatml -sys "Be brief." -n 8 --temp 0 2>&1)
if [[ $(grep -c '^> ' <<<"$chat_out") -ge 2 ]]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: chat turns: $chat_out"; fi
expect "chat unknown template" 2 "is not a template axe recognises" -- "$AXE" chat -m "$HF" --chat-template frob
expect "chat system without template" 2 "needs a chat template" -- "$AXE" chat -m "$MODEL" -sys "x"

# GGUF: llama.cpp's own files run, tokenize, and are checked for a narrow accumulator.
GG=$(cd "$(dirname "$0")" && pwd)/fixtures/gguf
expect "gguf tokens" 0 "^\[1, 346, 306, 414, 263, 304, 341\]$" -- "$AXE" tokenize -m "$GG/stories260K-q8_0.gguf" -p "Hello world" --ids
expect "gguf greedy" 0 "^Once upon a time" -- "$AXE" generate -m "$GG/stories260K-q8_0.gguf" --temp 0 -n 24
expect "gguf verify holds" 0 "OK: every block fits a 20-bit accumulator" -- "$AXE" verify "$GG/stories260K-q8_0.gguf" --acc 20
expect "gguf verify fails" 1 "FAIL: [0-9]+ blocks can overflow a 16-bit accumulator" -- "$AXE" verify "$GG/stories260K-q8_0.gguf" --acc 16
expect "gguf verify q4_0" 0 "smallest accumulator that holds every block" -- "$AXE" verify "$GG/tiny-mix.gguf" --acc 24 --act asym8
expect "gguf verify needs acc" 2 "needs --acc" -- "$AXE" verify "$GG/tiny-mix.gguf"
expect "gguf verify bad act" 2 "expected sym8 or asym8" -- "$AXE" verify "$GG/tiny-mix.gguf" --acc 16 --act s4
expect "axe verify no acc" 2 "are for GGUF files" -- "$AXE" verify "$TMP/hf.axe" --acc 16

echo "cli: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
