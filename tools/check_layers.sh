#!/usr/bin/env bash
# Fails when a source file includes from a layer above its own, so that the
# arrows of docs/ARCHITECTURE.md stay true. Layers, bottom to top:
#   include/axe (the public C header: anyone)
#   runtime/        the engine
#   models/llama, models/quant_format.*   the architecture
#   models/formats/ the file formats (build models)
#   quant/          the quantizer
#   api/eval/       evaluation (perplexity, ...)
#   api/            the C API implementation
#   cli/            the axe tool: the public header and its own files only
# tests/, bench/ and examples/ sit outside the layers and may include anything.
# Usage: tools/check_layers.sh [SOURCE_ROOT]   (default: the repository)
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root"

# The rank of a path: the longest matching prefix wins; 0 is "any layer".
rank() {
  case "$1" in
    axe/*|include/axe/*) echo 0 ;;
    runtime/*) echo 10 ;;
    models/formats/*) echo 21 ;;
    models/*) echo 20 ;;
    quant/*) echo 30 ;;
    api/eval/*) echo 40 ;;
    api/*) echo 41 ;;
    cli/*) echo 50 ;;
    *) echo -1 ;;  # not ours (a system or third-party header)
  esac
}

status=0
checked=0
while IFS= read -r file; do
  own=$(rank "$file")
  dir=$(dirname "$file")
  checked=$((checked + 1))
  # Every include, quoted or angled, with its line number, resolved to the
  # file it names in this tree: a quoted one beside the including file first,
  # then from the include roots (the repository and include/), as the
  # compiler searches them.
  while IFS=: read -r line kind target; do
    if [[ $kind == '"' ]]; then candidates=("$dir/$target" "$target" "include/$target")
    else candidates=("$target" "include/$target"); fi
    resolved=""
    for c in "${candidates[@]}"; do
      [[ $c == *..* ]] && c=$(realpath -m --relative-to=. "$c")
      if [[ -f $c ]]; then resolved=$c; break; fi
    done
    # Not in the tree: a system or third-party header, unless it names one of
    # our folders (then it is judged by the name, as if it existed).
    if [[ -z $resolved ]]; then
      c=${candidates[0]}
      [[ $c == *..* ]] && c=$(realpath -m --relative-to=. "$c")
      [[ $kind == '"' && $target != */* ]] && continue
      resolved=$c
    fi
    theirs=$(rank "$resolved")
    (( theirs < 0 )) && continue
    if [[ $file == cli/* && $theirs -ne 0 && $resolved != cli/* ]]; then
      echo "$file:$line: includes \"$target\" ($resolved): the CLI uses the C API (axe/axe.h) only" >&2
      status=1
    elif (( theirs > own )); then
      echo "$file:$line: includes \"$target\" ($resolved) from a higher layer" >&2
      status=1
    fi
  done < <(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*["<]' "$file" |
           sed 's/^\([0-9]*\):[^"<]*\(["<]\)\([^">]*\)[">].*/\1:\2:\3/' || true)
done < <(find runtime models quant api cli include -type f \( -name '*.h' -o -name '*.cpp' -o -name '*.c' \) | sort)

if (( checked == 0 )); then
  echo "check_layers: no sources found under $root" >&2
  exit 2
fi
if (( status == 0 )); then
  echo "check_layers: $checked files, no include from a higher layer"
fi
exit $status
