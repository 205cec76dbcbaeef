#!/usr/bin/env bash
# Dockerfile parse benchmark: builds kiln_parse_bench (Release), generates the deterministic
# 50,000-line Dockerfile and prints
#   parse: X MB/s (median of N), peak RSS Y MiB, input Z MB / 50000 lines
# Target (issue #3): >= 50 MB/s.
#
# Usage: bench/parse.sh
# Env: RUNS (20), LINES (50000), BUILD (build-pbench), WORK (/tmp/kiln-bench-parse)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-20}
LINES=${LINES:-50000}
BUILD=${BUILD:-build-pbench}
WORK=${WORK:-/tmp/kiln-bench-parse}
mkdir -p "$WORK"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# Release, so the figure is what users get. -Werror is off here only because g++ 12 at -O3
# reports false -Wrestrict positives inside libstdc++ that the default -O2 build does not.
if [ ! -f "$BUILD/build.ninja" ] && [ ! -f "$BUILD/Makefile" ]; then
  log "configuring $BUILD (Release)"
  generator=()
  command -v ninja >/dev/null && generator=(-G Ninja)
  cmake -S . -B "$BUILD" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DKILN_WERROR=OFF >/dev/null
fi
log "building kiln_parse_bench"
cmake --build "$BUILD" -j2 --target kiln_parse_bench >/dev/null

INPUT=$WORK/Dockerfile.$LINES
python3 bench/gen-dockerfile.py --lines "$LINES" "$INPUT"
log "input: $INPUT ($(wc -c <"$INPUT") bytes, $(wc -l <"$INPUT") lines)"

"$BUILD/bench/kiln_parse_bench" "$INPUT" "$RUNS"
