#!/usr/bin/env bash
# kiln save/load benchmark: an image of one incompressible BIG_MB (512) MiB layer plus the
# 5,000-file layer of the copytree context, medians of RUNS (5) hyperfine runs, against
# podman save/load in the same run when podman is installed (a private store, see
# tests/integration/tools/podman-private). Also: save --compression none against dd of the
# same size with conv=fsync, a second gzip save (blobs kept) against the first, and the
# peak RSS of save and load (GNU time).
#
# Usage (root): bench/archive.sh      Env: RUNS, BIG_MB, WORK (/tmp/kiln-bench-archive), KILN
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
REPO=$(pwd)
RUNS=${RUNS:-5}
BIG_MB=${BIG_MB:-512}
WORK=${WORK:-/tmp/kiln-bench-archive}
KILN=${KILN:-$REPO/build/kiln}
SHARED_BENCH=${SHARED_BENCH:-$REPO/../shared/bench}
PODMAN="$REPO/tests/integration/tools/podman-private $WORK/podman"
IMAGE=localhost/archive-bench:1
mkdir -p "$WORK/results"
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
command -v hyperfine >/dev/null || { log "hyperfine missing: run scripts/setup"; exit 1; }
[ "$(id -u)" -eq 0 ] || { log "needs root"; exit 1; }

STORE=$WORK/store
kiln() { "$KILN" --root "$STORE" "$@"; }
bench() {  # bench LABEL PREPARE COMMAND → prints and records the median in seconds
  # sync after PREPARE: dirty pages of the step before must not be flushed inside this one.
  local label=$1 prepare="$2 && sync" cmd=$3 json=$WORK/results/$1.json
  hyperfine -N --runs "$RUNS" --prepare "$prepare" --export-json "$json" "$cmd" >/dev/null 2>&1 ||
    hyperfine --runs "$RUNS" --prepare "$prepare" --export-json "$json" "$cmd" >/dev/null
  printf '%-40s %8s s\n' "$label" "$(median "$json")"
}

big_image_context "$WORK/ctx" "$BIG_MB" "$SHARED_BENCH"
if ! kiln images | grep -q archive-bench; then
  scripts/make-busybox-rootfs "$WORK/busybox.tar" >/dev/null
  kiln import "$WORK/busybox.tar" localhost/busybox:latest >/dev/null
  kiln build -q -t "$IMAGE" "$WORK/ctx" >/dev/null
  # The state before any compressed save, copied afresh for every "first save" run.
  rm -rf "$WORK/store-pristine" && cp -a "$STORE" "$WORK/store-pristine"
fi
ARCHIVE=$WORK/out.tar
kiln save -o "$ARCHIVE" "$IMAGE"
SIZE=$(stat -c %s "$ARCHIVE")
log "image archive: $((SIZE >> 20)) MiB"

echo "== save (docker-archive, uncompressed layers as Docker)"
bench kiln-save "rm -f $WORK/s.tar" "$KILN --root $STORE save -o $WORK/s.tar $IMAGE"
echo "== load (a store without the image each run)"
bench kiln-load "rm -rf $WORK/store-load" "$KILN --root $WORK/store-load load -q -i $ARCHIVE"
if command -v podman >/dev/null; then
  $PODMAN load -q -i "$ARCHIVE" >/dev/null
  bench podman-save "rm -f $WORK/p.tar" "$PODMAN save -q -o $WORK/p.tar $IMAGE"
  bench podman-load "$PODMAN rmi -f $IMAGE" "$PODMAN load -q -i $ARCHIVE"
fi
echo "== save --compression none vs dd conv=fsync of the same size ($((SIZE >> 20)) MiB)"
bench kiln-save-none "rm -f $WORK/s.tar" "$KILN --root $STORE save --format oci-archive --compression none -o $WORK/s.tar $IMAGE"
bench dd "rm -f $WORK/dd.out" "dd if=$ARCHIVE of=$WORK/dd.out bs=1M conv=fsync status=none"
echo "== gzip save: first (compresses) vs second (kept blobs)"
bench kiln-save-gzip-first "rm -rf $WORK/store-first $WORK/g.tar && cp -a $WORK/store-pristine $WORK/store-first" \
  "$KILN --root $WORK/store-first save --format oci-archive -o $WORK/g.tar $IMAGE"
kiln save --format oci-archive -o "$WORK/g.tar" "$IMAGE"
bench kiln-save-gzip-second "rm -f $WORK/g.tar" "$KILN --root $STORE save --format oci-archive -o $WORK/g.tar $IMAGE"

echo "== peak RSS"
rm -rf "$WORK/store-rss"
/usr/bin/time -v "$KILN" --root "$STORE" save -o "$WORK/s.tar" "$IMAGE" 2>&1 | awk '/Maximum resident/ {print "kiln save: " $6 " KiB"}'
/usr/bin/time -v "$KILN" --root "$WORK/store-rss" load -q -i "$ARCHIVE" 2>&1 | awk '/Maximum resident/ {print "kiln load: " $6 " KiB"}'
