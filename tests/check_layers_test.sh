#!/usr/bin/env bash
# The layer check fails on each kind of upward include and passes on the tree.
set -euo pipefail
src=${1:?usage: $0 SOURCE_ROOT}
check="$src/tools/check_layers.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$check" "$src"
expect_failure() {  # file, line to add, what the message must name
  rm -rf "$tmp/tree" && mkdir "$tmp/tree"
  (cd "$src" && tar cf - runtime models quant api cli include) | tar xf - -C "$tmp/tree"
  echo "$2" >> "$tmp/tree/$1"
  if out=$("$check" "$tmp/tree" 2>&1); then
    echo "FAIL: '$2' in $1 was not caught" >&2
    exit 1
  fi
  grep -qF "$3" <<<"$out" || { echo "FAIL: message '$out' does not name $3" >&2; exit 1; }
}
expect_failure runtime/linear.h '#include "models/llama/model.h"' 'runtime/linear.h:'
expect_failure models/llama/model.h '#include "models/formats/axe.h"' 'models/formats/axe.h'
expect_failure models/formats/axe.cpp '#include "quant/optq.h"' 'quant/optq.h'
expect_failure quant/optq.h '#include "api/internal.h"' 'api/internal.h'
expect_failure api/eval/perplexity.cpp '#include "api/internal.h"' 'api/internal.h'
expect_failure cli/args.h '#include "runtime/error.h"' 'C API'
expect_failure runtime/ops/ops.h '  #  include "quant/scales.h"  // spaced' 'quant/scales.h'
expect_failure models/formats/axe.cpp '#include "../../quant/optq.h"' 'quant/optq.h'
expect_failure api/eval/perplexity.cpp '#include "../internal.h"' 'api/internal.h'
expect_failure runtime/linear.h '#include <api/internal.h>' 'api/internal.h'
expect_failure models/llama/model.h '#include "../formats/axe.h"' 'models/formats/axe.h'
expect_failure cli/args.h '#include <quant/scales.h>' 'C API'
echo "check_layers: every upward include caught"
