#!/usr/bin/env bash
# Perplexity of stories260K quantized in several ways, both protocols, as the
# markdown tables of docs/RESULTS.md: first single runs, then `axe sweep` over
# accumulator widths for AXE-OPTQ/GPFQ, the per-layer search and the baselines
# (CSV and SVG written to the output directory).
# PART: "base" (unrotated), "rotation" (the same with --rotate hadamard, and
# W4A4), "aim" (the search at T = 64 with and without rotation, both
# protocols), "classifier" (the quantized classifier and 8-bit embedding rows
# against fp32), "groups" (per-row scales against groups of 32 and 64 with
# symmetric activations, --group), or "all" (default).
#   bench/results_stories260k.sh [build-dir] [output-dir] [all|base|rotation|aim|classifier|groups]
set -euo pipefail
build=${1:-build}
outdir=${2:-docs/results}
part=${3:-all}
shared=$(cd "$(dirname "$0")/../../shared" && pwd)
model=$shared/models/stories260K/stories260K.bin
calib=$shared/data/tinystories/calib.txt
eval=$shared/data/tinystories/eval.txt
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ppl() { "$build/axe" perplexity -m "$1" -f "$eval" --score "$2" -t 2 2>/dev/null | sed -n 's/Final estimate: PPL = \([0-9.]*\).*/\1/p'; }
# KL divergence from the float model and the same-top-token rate (llama.cpp's protocol and file).
base=$tmp/float.kld
"$build/axe" perplexity -m "$model" -f "$eval" -t 2 --kl-divergence-base "$base" > /dev/null 2>&1
kld() {
  "$build/axe" perplexity -m "$1" --kl-divergence-base "$base" --kl-divergence -t 2 2>/dev/null |
    awk '/^Mean    KLD:/ {k = $3} /^Same top p:/ {t = $4} END {if (k < 0 && k > -5e-6) k = 0; printf "%.5f | %.2f%%", k, t}'
}
# The tables follow the AXE paper's setup: classifier and embedding in fp32
# (--keep-output-f32); the "classifier" part measures what quantizing them costs.
extra=(--keep-output-f32)
row() {  # row LABEL QUANTIZE-ARGS...
  local label=$1; shift
  local file=$tmp/m.axe use="—" verdict="—"
  if [[ $# -gt 0 ]]; then
    "$build/axe" quantize -m "$model" -o "$file" -t 2 "$@" ${extra[@]+"${extra[@]}"} > "$tmp/q.txt" 2>/dev/null
    use=$(sed -n 's/.*worst tile budget use \([0-9.]*\).*/\1/p' "$tmp/q.txt")
    verdict=$("$build/axe" verify "$file" > /dev/null 2>&1 && echo holds || echo "does not hold")
  else
    file=$model
  fi
  printf '| %s | %s | %s | %s | %s | %s |\n' "$label" "$(ppl "$file" half)" "$(ppl "$file" all)" "$(kld "$file")" "$use" "$verdict"
}
header() {
  echo "| configuration | PPL (llama.cpp: half) | PPL (GPTQ: all) | KLD from float | same top token | worst tile budget use | plan |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
}
if [[ $part == all || $part == base ]]; then
header
row "float"
row "W8A8 RTN" --wbits 8 --abits 8
row "W8A8 OPTQ" --wbits 8 --abits 8 --algo optq --calib "$calib"
row "W4A8 RTN" --wbits 4 --abits 8
row "W4A8 OPTQ" --wbits 4 --abits 8 --algo optq --calib "$calib"
row "W8A8 GPFQ" --wbits 8 --abits 8 --algo gpfq --calib "$calib"
row "W4A8 GPFQ" --wbits 4 --abits 8 --algo gpfq --calib "$calib"
for plan in "lanes 16" "contiguous 64"; do
  set -- $plan
  for pi in 16 15 14 13 12; do
    row "W4A8 AXE-RTN, $1 $2, P_I=$pi" --wbits 4 --abits 8 --axe --acc "$pi" --plan "$1" --tile "$2"
    row "W4A8 AXE-OPTQ, $1 $2, P_I=$pi" --wbits 4 --abits 8 --axe --acc "$pi" --plan "$1" --tile "$2" --algo optq --calib "$calib"
    row "W4A8 AXE-OPTQ full error, $1 $2, P_I=$pi" --wbits 4 --abits 8 --axe --acc "$pi" --plan "$1" --tile "$2" --algo optq --calib "$calib" --full-error
    row "W4A8 OPTQ unconstrained, certified at $1 $2, P_I=$pi" --wbits 4 --abits 8 --acc "$pi" --plan "$1" --tile "$2" --algo optq --calib "$calib"
    row "naive OPTQ (bits lowered from W4A8), $1 $2, P_I=$pi" --wbits 4 --abits 8 --naive --acc "$pi" --plan "$1" --tile "$2" --algo optq --calib "$calib"
  done
done
fi

# sweep_table CSV COLUMN FORMAT: a markdown table of one CSV column (with
# FORMAT; for the KLD column also the same-top rate after it) per method and P_I.
sweep_table() {
  awk -F, -v col="$2" -v fmt="$3" 'NR > 1 && $col != "" {
      m = $1; w = ($2 == "" ? "ref" : $2)
      v = col == 10 ? sprintf(fmt, $10, 100 * $11) : sprintf(fmt, $col)
      if ($2 != "" && $8 != "yes") v = v " (plan broken)"
      if (!(m in seen)) { seen[m] = 1; order[++n] = m }
      cell[m, w] = v
    }
    END {
      split("16 15 14 13 12 11", ws, " ")
      printf "| method | no constraint |"; for (i = 1; i <= 6; ++i) printf " P_I=%s |", ws[i]; print ""
      printf "|---|---:|"; for (i = 1; i <= 6; ++i) printf "---:|"; print ""
      for (j = 1; j <= n; ++j) {
        m = order[j]; printf "| %s | %s |", m, ((m, "ref") in cell ? cell[m, "ref"] : "")
        for (i = 1; i <= 6; ++i) printf " %s |", ((m, ws[i]) in cell ? cell[m, ws[i]] : "")
        print ""
      }
    }' "$1"
}

# The sweep: every method at every width, one CSV and one plot per tile
# partition. sweeps SUFFIX [quantize flags...]
sweeps() {
  local suffix=$1
  shift
  mkdir -p "$outdir"
  for plan in "lanes 16" "contiguous 64"; do
    local kind=${plan% *} tile=${plan#* }
    local name=$outdir/stories260K-$kind$tile$suffix
    "$build/axe" sweep -m "$model" --calib "$calib" -f "$eval" --acc 16,15,14,13,12,11 --plan "$kind" --tile "$tile" \
      --methods optq,gpfq,axe-optq,axe-gpfq,search-optq,search-gpfq,naive-optq,naive-gpfq,ep-optq,ep-gpfq \
      -o "$name.csv" --svg "$name.svg" -t 2 --keep-output-f32 "$@" > /dev/null 2>&1
    echo
    echo "$kind $tile$suffix (PPL, llama.cpp protocol; $name.csv, $name.svg):"
    echo
    # One row per method, one column per P_I; unconstrained methods and float in the first column.
    sweep_table "$name.csv" 5 '%.4f'
    echo
    echo "$kind $tile$suffix (mean KL divergence from the float model, and how often the top token is the float model's):"
    echo
    sweep_table "$name.csv" 10 '%.5f (%.1f%%)'
  done
}
if [[ $part == all || $part == base ]]; then sweeps ""; fi

# Rotation: the single runs with and without it (W4A8 and W4A4), then the
# sweeps rotated.
if [[ $part == all || $part == rotation ]]; then
  echo
  header
  row "float"
  for bits in "4 8" "4 4"; do
    set -- $bits
    for rot in none hadamard; do
      r=$([[ $rot == none ]] && echo "" || echo ", rotated")
      row "W$1A$2 RTN$r" --wbits "$1" --abits "$2" --rotate "$rot"
      row "W$1A$2 OPTQ$r" --wbits "$1" --abits "$2" --algo optq --calib "$calib" --rotate "$rot"
      row "W$1A$2 GPFQ$r" --wbits "$1" --abits "$2" --algo gpfq --calib "$calib" --rotate "$rot"
    done
  done
  sweeps "-rotated" --rotate hadamard
fi

# The aim of docs/RESULTS.md: the search at T = 64, rotated and not, against
# unconstrained W4A8 OPTQ, under both protocols.
if [[ $part == all || $part == aim ]]; then
  echo
  header
  row "W4A8 OPTQ" --wbits 4 --abits 8 --algo optq --calib "$calib"
  row "W4A8 OPTQ, rotated" --wbits 4 --abits 8 --algo optq --calib "$calib" --rotate hadamard
  for pi in 16 14 13 12; do
    for algo in optq gpfq; do
      for rot in none hadamard; do
        r=$([[ $rot == none ]] && echo "" || echo ", rotated")
        row "search-${algo^^}, contiguous 64, P_I=$pi$r" --wbits 4 --abits 8 --search --acc "$pi" --plan contiguous \
          --tile 64 --algo "$algo" --calib "$calib" --rotate "$rot"
      done
    done
  done
fi

# The classifier and the embedding: fp32 (the tables above) against the
# default .axe (classifier quantized and certified, embedding as 8-bit rows).
if [[ $part == all || $part == classifier ]]; then
  echo
  header
  row "float"
  row "W8A8 RTN, fp32 classifier and embedding" --wbits 8 --abits 8
  row "W4A8 OPTQ, fp32 classifier and embedding" --wbits 4 --abits 8 --algo optq --calib "$calib"
  row "W4A8 AXE-OPTQ lanes 16 P_I=16, fp32 classifier and embedding" --wbits 4 --abits 8 --axe --acc 16 --algo optq --calib "$calib"
  extra=()
  row "W8A8 RTN, classifier W8, embedding 8-bit rows" --wbits 8 --abits 8
  row "W4A8 OPTQ, classifier W8, embedding 8-bit rows" --wbits 4 --abits 8 --algo optq --calib "$calib"
  row "W4A8 OPTQ, classifier W4, embedding 8-bit rows" --wbits 4 --abits 8 --algo optq --calib "$calib" --wbits-output 4
  row "W4A8 AXE-OPTQ lanes 16 P_I=16, classifier W4 under AXE, embedding 8-bit rows" --wbits 4 --abits 8 --axe --acc 16 --algo optq --calib "$calib"
fi

# Groupwise: W4A8 with symmetric activations, per-row scales (activations per
# token, tiles of 32 contiguous columns) against --group 32 and --group 64
# (activations per group; the tiles are the groups), every method at every P_I.
if [[ $part == all || $part == groups ]]; then
  mkdir -p "$outdir"
  for cfg in "rows|--act sym --plan contiguous --tile 32" "g32|--group 32" "g64|--group 64"; do
    label=${cfg%%|*}
    read -r -a flags <<< "${cfg#*|}"
    name=$outdir/stories260K-groups-$label
    "$build/axe" sweep -m "$model" --calib "$calib" -f "$eval" --acc 16,15,14,13,12 "${flags[@]}" \
      --methods optq,axe-optq,search-optq,naive-optq -o "$name.csv" --svg "$name.svg" -t 2 --keep-output-f32 \
      --no-kld > /dev/null 2>&1
    echo
    echo "$label (${cfg#*|}; PPL, llama.cpp protocol; $name.csv, $name.svg):"
    echo
    sweep_table "$name.csv" 5 '%.4f'
  done
fi
