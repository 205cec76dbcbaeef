#!/usr/bin/env bash
# kiln push/pull benchmark against skopeo copy in the same run, to a loopback registry
# (Debian's docker-registry, plain HTTP on a free 127.0.0.1 port, storage under $WORK): the
# archive bench's image (one incompressible BIG_MB (512) MiB layer + the 5,000-file layer of
# the copytree context). Medians of RUNS (5) hyperfine runs and kiln/skopeo ratios:
#   push, empty registry, layer blobs already kept (as after a save or a pull)
#   push, empty registry, nothing kept yet (includes compressing once): gzip and zstd
#   push again, unchanged image (one manifest HEAD)
#   pull into an empty store (kiln pull, when this kiln has it)
# skopeo pushes from containers-storage (a private podman store; compresses on the way, as in
# ../shared/bench/BASELINE.md) and pulls into an empty private one; its blob-info cache is
# emptied before each run (a private bind mount over /var/lib/containers/cache).
#
# Usage (root): bench/registry.sh      Env: RUNS, BIG_MB, WORK (/tmp/kiln-bench-registry), KILN
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
REPO=$(pwd)
RUNS=${RUNS:-5}
BIG_MB=${BIG_MB:-512}
WORK=${WORK:-/tmp/kiln-bench-registry}
KILN=${KILN:-$REPO/build/kiln}
SHARED_BENCH=${SHARED_BENCH:-$REPO/../shared/bench}
IMAGE=localhost/registry-bench:1
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
command -v hyperfine >/dev/null || { log "hyperfine missing: run scripts/setup"; exit 1; }
command -v docker-registry >/dev/null || { log "docker-registry missing: run scripts/setup"; exit 1; }
[ "$(id -u)" -eq 0 ] || { log "needs root"; exit 1; }

if [ "${1:-}" = _inner ]; then
  INNER=1
else
  # skopeo's blob-info cache lets a later copy skip work: an empty private one per run.
  mkdir -p "$WORK/bic" /var/lib/containers/cache
  exec unshare -m --propagation private sh -c 'mount --bind "$1" /var/lib/containers/cache && shift && exec "$@"' \
    sh "$WORK/bic" "$0" _inner
fi
: "$INNER"

mkdir -p "$WORK/results"
STORE=$WORK/store
kiln() { "$KILN" --root "$STORE" "$@"; }
PODMAN="$REPO/tests/integration/tools/podman-private $WORK/podman"
export PODMAN_DRIVER=${PODMAN_DRIVER:-overlay}
declare -A M
bench() {  # bench LABEL PREPARE COMMAND → prints and records the median in seconds
  local label=$1 prepare="$2 && sync" cmd=$3 json=$WORK/results/$1.json
  hyperfine -N --runs "$RUNS" --prepare "$prepare" --export-json "$json" "$cmd" >/dev/null 2>&1 ||
    hyperfine --runs "$RUNS" --prepare "$prepare" --export-json "$json" "$cmd" >/dev/null
  M[$label]=$(median "$json")
  printf '%-44s %8s s\n' "$label" "${M[$label]}"
}
ratio() {  # ratio KILN SKOPEO → "skopeo/kiln = N.NN×" (above 1: kiln is faster)
  python3 -c "import sys; k, s = float(sys.argv[1]), float(sys.argv[2]); print(f'  {sys.argv[3]}: skopeo/kiln = {s / k:.2f}x')" \
    "${M[$1]}" "${M[$2]}" "$1 vs $2"
}

# ------------------------------------------------------------------------ the image
big_image_context "$WORK/ctx" "$BIG_MB" "$SHARED_BENCH"
if ! kiln images | grep -q registry-bench; then
  scripts/make-busybox-rootfs "$WORK/busybox.tar" >/dev/null
  kiln import "$WORK/busybox.tar" localhost/busybox:latest >/dev/null
  kiln build -q -t "$IMAGE" "$WORK/ctx" >/dev/null
  # The state before any compressed blob exists, copied afresh for every "cold" run.
  rm -rf "$WORK/store-pristine" && cp -a "$STORE" "$WORK/store-pristine"
fi
if ! $PODMAN image exists "$IMAGE" 2>/dev/null; then
  kiln save -o "$WORK/image.tar" "$IMAGE"
  $PODMAN load -q -i "$WORK/image.tar" >/dev/null
  rm -f "$WORK/image.tar"
fi

# ------------------------------------------------------------------------ the registry
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ADDR=127.0.0.1:$PORT
mkdir -p "$WORK/registry/data"
cat > "$WORK/registry/config.yml" <<EOC
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $WORK/registry/data
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: $ADDR
EOC
docker-registry serve "$WORK/registry/config.yml" >"$WORK/registry/log" 2>&1 </dev/null &
REGISTRY_PID=$!
trap 'kill $REGISTRY_PID 2>/dev/null; wait $REGISTRY_PID 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -sf "http://$ADDR/v2/" >/dev/null && break; sleep 0.1; done
curl -sf "http://$ADDR/v2/" >/dev/null || { log "registry did not start: $(tail -3 "$WORK/registry/log")"; exit 1; }
log "registry on $ADDR (pid $REGISTRY_PID)"
WIPE="rm -rf $WORK/registry/data/docker $WORK/bic/*"
SKOPEO_SRC="containers-storage:[$PODMAN_DRIVER@$WORK/podman/storage+$WORK/podman/run]$IMAGE"
SKOPEO_DST=docker://$ADDR/skopeo/bench:1
KILN_DST=$ADDR/kiln/bench:1

echo "== push, empty registry"
kiln tag "$IMAGE" "$KILN_DST"
kiln push -q "$KILN_DST" >/dev/null  # the first push gzips the layers once and keeps the blobs
bench kiln-push-kept "$WIPE" "$KILN --root $STORE push -q $KILN_DST"
bench kiln-push-cold-gzip "$WIPE && rm -rf $WORK/store-cold && cp -a $WORK/store-pristine $WORK/store-cold && $KILN --root $WORK/store-cold tag $IMAGE $KILN_DST" \
  "$KILN --root $WORK/store-cold push -q $KILN_DST"
bench kiln-push-cold-zstd "$WIPE && rm -rf $WORK/store-cold && cp -a $WORK/store-pristine $WORK/store-cold && $KILN --root $WORK/store-cold tag $IMAGE $KILN_DST" \
  "$KILN --root $WORK/store-cold push -q --compression zstd $KILN_DST"
bench skopeo-push "$WIPE" "skopeo copy -q --dest-tls-verify=false $SKOPEO_SRC $SKOPEO_DST"
ratio kiln-push-kept skopeo-push
ratio kiln-push-cold-gzip skopeo-push
ratio kiln-push-cold-zstd skopeo-push

echo "== push again, unchanged image"
kiln push -q "$KILN_DST" >/dev/null
skopeo copy -q --dest-tls-verify=false "$SKOPEO_SRC" "$SKOPEO_DST"
bench kiln-push-again "true" "$KILN --root $STORE push -q $KILN_DST"
bench skopeo-push-again "true" "skopeo copy -q --dest-tls-verify=false $SKOPEO_SRC $SKOPEO_DST"
ratio kiln-push-again skopeo-push-again

echo "== pull into an empty store"
if "$KILN" pull --help >/dev/null 2>&1; then
  bench kiln-pull "rm -rf $WORK/store-pull" "$KILN --root $WORK/store-pull pull -q $KILN_DST"
  PULLSTORE="$PODMAN_DRIVER@$WORK/pullstore+$WORK/pullrun"
  # containers-storage's overlay driver leaves its home bind-mounted on itself (a private
  # mount, in this namespace), so the store cannot simply be removed: unmount, then remove.
  cat > "$WORK/fresh-pullstore" <<EOS
#!/bin/sh
set -e
for dir in "$WORK/pullstore" "$WORK/pullrun"; do
  findmnt -rn -o TARGET | grep -x -e "\$dir" -e "\$dir/.*" | sort -r | while read -r m; do umount "\$m"; done
done
rm -rf "$WORK/pullstore" "$WORK/pullrun" "$WORK"/bic/*
sync
EOS
  chmod +x "$WORK/fresh-pullstore"
  bench skopeo-pull "$WORK/fresh-pullstore" \
    "skopeo copy -q --src-tls-verify=false docker://$KILN_DST containers-storage:[$PULLSTORE]localhost/pulled:1"
  ratio kiln-pull skopeo-pull
else
  echo "(kiln pull is not in this build: skipped)"
fi
