#!/usr/bin/env bash
# Writes every kind of quantized stories260K file and every score the CLI
# computes into OUT_DIR, so that two builds can be compared byte for byte:
#   tools/golden_outputs.sh OLD/axe /tmp/before
#   tools/golden_outputs.sh build/axe /tmp/after
#   diff -r /tmp/before /tmp/after && echo identical
# A refactoring that must not change behaviour shows an empty diff.
set -euo pipefail
unset AXE_TARGET AXE_INT8_KERNEL  # contexts would follow them; the comparison must not
axe=${1:?usage: $0 AXE_BINARY OUT_DIR [SHARED_DIR]}
out=${2:?usage: $0 AXE_BINARY OUT_DIR [SHARED_DIR]}
shared=${3:-$(dirname "$0")/../../shared}
model=$shared/models/stories260K/stories260K.bin
calib=$shared/data/tinystories/calib.txt
eval=$shared/data/tinystories/eval.txt
mkdir -p "$out"
cal=(--calib "$calib" --calib-samples 16 --calib-len 128 -t 2)
q() {  # name, quantize flags...
  local name=$1
  shift
  "$axe" quantize -m "$model" -o "$out/$name.axe" "$@" 2>/dev/null | sed "s|$out/||" > "$out/$name.quantize.txt"
  "$axe" verify "$out/$name.axe" | sed "s|$out/||" > "$out/$name.verify.txt" || true
  "$axe" perplexity -m "$out/$name.axe" -f "$eval" -c 128 --chunks 8 -t 2 2>/dev/null > "$out/$name.ppl.txt"
}
q rtn-w8a8 --algo rtn
q rtn-axe-w4 --algo rtn --wbits 4 --axe --acc 16
q optq-w4 --algo optq --wbits 4 "${cal[@]}"
q optq-axe-w4 --algo optq --wbits 4 --axe --acc 16 "${cal[@]}"
q optq-axe-actorder-fullerr --algo optq --wbits 4 --axe --acc 15 --act-order --full-error "${cal[@]}"
q gpfq-axe-w4-sym --algo gpfq --wbits 4 --abits 8 --act sym --axe --acc 16 "${cal[@]}"
q gpfq-axe-contig --algo gpfq --wbits 5 --axe --acc 18,20 --plan contiguous --tile 64 --act-order "${cal[@]}"
q search-optq-13 --algo optq --wbits 4 --search --acc 13 "${cal[@]}"
q search-gpfq-12 --algo gpfq --wbits 4 --search --acc 12 "${cal[@]}"
q naive-optq-14 --algo optq --wbits 4 --naive --acc 14 "${cal[@]}"
q ep-optq-16 --algo optq --wbits 4 --ep-init --acc 16 "${cal[@]}"
q ep-rtn-16 --algo rtn --wbits 4 --ep-init --acc 16
"$axe" perplexity -m "$model" -f "$eval" -c 128 --chunks 8 -t 2 2>/dev/null > "$out/float.ppl.txt"
"$axe" perplexity -m "$out/optq-w4.axe" -f "$eval" -c 128 --chunks 4 -t 2 --acc-sim 12 2>/dev/null > "$out/optq-w4.accsim12.txt"
"$axe" perplexity -m "$out/rtn-axe-w4.axe" -f "$eval" -c 128 --chunks 4 -t 2 --target avx2 2>/dev/null > "$out/rtn-axe-w4.avx2.txt"
"$axe" generate -m "$model" -p "Once upon a time" -n 64 --temp 0 2>/dev/null > "$out/float.generate.txt"
"$axe" generate -m "$out/optq-axe-w4.axe" -p "Once upon a time" -n 64 --temp 0.8 -s 7 2>/dev/null > "$out/optq-axe-w4.generate.txt"
