#!/usr/bin/env bash
# Builds one libFuzzer target, seeds its corpus from ../shared/conformance (read at run time:
# third-party inputs are never copied into the repository) and fuzzes it.
#
# Usage: tests/fuzz/run.sh parser|expand [SECONDS] [extra libFuzzer flags...]
# Env: BUILD (build-fuzz), WORK (/tmp/kiln-fuzz), CONFORMANCE (../shared/conformance)
# Findings land in $WORK/<target>/crash-* (and leak-*, timeout-*, oom-*).
set -euo pipefail
cd "$(dirname "$0")/../.."
TARGET=${1:?usage: run.sh parser|expand [SECONDS]}
SECONDS_TO_RUN=${2:-600}
shift $(( $# >= 2 ? 2 : 1 ))
BUILD=${BUILD:-build-fuzz}
WORK=${WORK:-/tmp/kiln-fuzz}
CONFORMANCE=${CONFORMANCE:-../shared/conformance}

if [ ! -f "$BUILD/build.ninja" ]; then
  CC=clang-14 CXX=clang++-14 cmake -S . -B "$BUILD" -G Ninja -DKILN_FUZZ=ON -DKILN_WERROR=OFF >/dev/null
fi
cmake --build "$BUILD" -j2 --target "kiln_${TARGET}_fuzz" >/dev/null

SEEDS=$WORK/$TARGET-seeds
CORPUS=$WORK/$TARGET-corpus
ARTIFACTS=$WORK/$TARGET/
mkdir -p "$SEEDS" "$CORPUS" "$ARTIFACTS"

extra=()
case $TARGET in
parser)
  extra=(-dict=tests/fuzz/dockerfile.dict)
  p=$CONFORMANCE/buildkit-parser
  for f in "$p"/cases/*/Dockerfile "$p"/negative/*/Dockerfile "$p"/heredoc/Dockerfile* \
           "$p"/line-info/Dockerfile "$p"/warnings/Dockerfile; do
    [ -f "$f" ] || continue
    name=${f#"$p"/}
    cp "$f" "$SEEDS/${name//\//_}"
  done
  ;;
expand)
  # One seed per test word; byte 0 is the mode byte (bit 0: backtick escape, see
  # expand_fuzz.cpp), 0x00 = backslash escape with default options.
  python3 - "$CONFORMANCE/shell" "$SEEDS" <<'PY'
import json, os, sys
src, out = sys.argv[1], sys.argv[2]
words = []
for name in ("envVarTest", "wordsTest"):
    path = os.path.join(src, name)
    if os.path.exists(path):
        for line in open(path, encoding="utf-8", errors="surrogateescape"):
            if "|" in line and not line.startswith("#"):
                body = line.split("|", 2)
                words.append((body[1] if name == "envVarTest" else body[0]).strip())
path = os.path.join(src, "process-word-cases.json")
if os.path.exists(path):
    words += [c["input"] for c in json.load(open(path, encoding="utf-8"))["cases"]]
for i, w in enumerate(words):
    for mode in (0x00, 0x01):
        with open(os.path.join(out, f"seed-{i}-{mode}"), "wb") as f:
            f.write(bytes([mode]) + w.encode("utf-8", "surrogateescape"))
PY
  ;;
*) echo "unknown target $TARGET (parser|expand)" >&2; exit 2 ;;
esac
echo "seeds: $(ls "$SEEDS" | wc -l) in $SEEDS" >&2

# One job: the machine is shared. -timeout/-rss_limit_mb make slow or greedy inputs findings.
exec "$BUILD/tests/fuzz/kiln_${TARGET}_fuzz" "$CORPUS" "$SEEDS" \
  -artifact_prefix="$ARTIFACTS" -max_total_time="$SECONDS_TO_RUN" \
  -timeout=1 -rss_limit_mb=2048 -print_final_stats=1 "${extra[@]}" "$@"
