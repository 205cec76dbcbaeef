#!/usr/bin/env bash
# kiln benchmarks: cold and fully cached builds of the reference contexts and container
# start latency, each the median of RUNS (default 10) hyperfine runs. With PEERS=1 the same
# run also measures the peers it finds installed (crun on an OCI bundle, buildah bud), so
# ratios compare figures taken side by side on one machine.
#
# Usage (root): bench/run.sh [build] [start] [graph] [copy100k] [cachemount]
#               (default: build and start)
# Env: RUNS (10), WORK (/tmp/kiln-bench-kiln), KILN (build/kiln), SHARED_BENCH
#      (../shared/bench: the reference contexts), PEERS (0), CONTEXTS (all four).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
RUNS=${RUNS:-10}
WORK=${WORK:-/tmp/kiln-bench-kiln}
KILN=${KILN:-$REPO/build/kiln}
SHARED_BENCH=${SHARED_BENCH:-$REPO/../shared/bench}
CONTEXTS=${CONTEXTS:-steps20 copytree multistage bigrun}
PEERS=${PEERS:-0}
RESULTS=$WORK/results
mkdir -p "$WORK" "$RESULTS"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
command -v hyperfine >/dev/null || { log "hyperfine missing: run scripts/setup"; exit 1; }
[ -x "$KILN" ] || { log "$KILN missing: run scripts/setup"; exit 1; }
[ "$(id -u)" -eq 0 ] || { log "needs root (containers, overlayfs)"; exit 1; }

ROOTFS_TAR=$WORK/busybox-rootfs.tar
KILN_ROOTFS_TAR=$ROOTFS_TAR
[ -f "$ROOTFS_TAR" ] || scripts/make-busybox-rootfs "$ROOTFS_TAR"
STORE=$WORK/store
kiln() { "$KILN" --root "$STORE" "$@"; }

# summary JSON LABEL: "label  median (min-max) n=N" from hyperfine's JSON.
summary() {
  python3 - "$@" <<'EOPY'
import json, statistics, sys
r = json.load(open(sys.argv[1]))["results"][0]
t = sorted(r["times"]); med = statistics.median(t)
unit, k = ("ms", 1000.0) if med < 1.0 else ("s", 1.0)
print(f"{sys.argv[2]:<48} {med*k:9.3f} {unit:<2} ({t[0]*k:.3f}-{t[-1]*k:.3f}) n={len(t)}")
EOPY
}
median_of() { python3 -c 'import json,statistics,sys; print(statistics.median(json.load(open(sys.argv[1]))["results"][0]["times"]))' "$1"; }
measure() {  # measure ID LABEL HYPERFINE-ARGS...
  local id=$1 label=$2; shift 2
  hyperfine --style none --export-json "$RESULTS/$id.json" "$@" >/dev/null
  summary "$RESULTS/$id.json" "$label" | tee -a "$RESULTS/table.txt"
}
ratio() {  # ratio LABEL KILN_ID PEER_ID: kiln's median over the peer's (< 1: kiln is faster)
  python3 - "$1" "$(median_of "$RESULTS/$2.json")" "$(median_of "$RESULTS/$3.json")" <<'EOPY' | tee -a "$RESULTS/table.txt"
import sys
label, kiln, peer = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
verdict = "kiln faster" if peer > kiln else "peer faster"
print(f"{label:<48} kiln/peer = {kiln / peer:.2f} ({verdict})")
EOPY
}

fresh_store() { rm -rf "$STORE"; kiln import "$ROOTFS_TAR" localhost/busybox:latest >/dev/null; }

context_of() {
  local c=$1 d=$WORK/ctx/$1
  if [ "$c" = copytree ]; then
    "$SHARED_BENCH/dockerfiles/copytree/gen-context.sh" "$d" >/dev/null 2>&1
  else
    rm -rf "$d"; mkdir -p "$d"; cp -a "$SHARED_BENCH/dockerfiles/$c/." "$d/"
  fi
  echo "$d"
}

bench_build() {
  if [ ! -d "$SHARED_BENCH/dockerfiles" ]; then
    log "skipped builds: reference contexts not found at $SHARED_BENCH/dockerfiles"
    return
  fi
  local prep="rm -rf '$STORE' && '$KILN' --root '$STORE' import '$ROOTFS_TAR' localhost/busybox:latest >/dev/null"
  for c in $CONTEXTS; do
    local ctx; ctx=$(context_of "$c")
    measure "kiln-$c-cold" "kiln build $c cold" --runs "$RUNS" --prepare "$prep" \
      "'$KILN' --root '$STORE' build -q -t bench/$c '$ctx'"
    measure "kiln-$c-warm" "kiln build $c fully cached" --runs "$RUNS" --warmup 1 \
      "'$KILN' --root '$STORE' build -q -t bench/$c '$ctx'"
    if [ "$PEERS" = 1 ] && buildah_ready; then
      measure "buildah-$c-cold" "buildah bud --layers $c cold (chroot)" --runs 3 --prepare "$BUILDAH_COLD_PREP" \
        "buildah bud --layers --isolation chroot -q -t localhost/bench/$c '$ctx'"
      measure "buildah-$c-warm" "buildah bud --layers $c fully cached (chroot)" --runs 3 --warmup 1 \
        "buildah bud --layers --isolation chroot -q -t localhost/bench/$c '$ctx'"
      ratio "$c cold vs buildah" "kiln-$c-cold" "buildah-$c-cold"
      ratio "$c cached vs buildah" "kiln-$c-warm" "buildah-$c-warm"
    fi
  done
}

# The three-stage context built cold stage by stage (--jobs 1) and with independent
# stages at once (the default, one job per core), and buildah bud --layers on it.
bench_graph() {
  local c=multistage ctx prep
  [ -d "$SHARED_BENCH/dockerfiles/$c" ] || { log "skipped graph: $SHARED_BENCH/dockerfiles/$c not found"; return; }
  ctx=$(context_of $c)
  fresh_store
  prep="'$KILN' --root '$STORE' rmi -f bench/$c >/dev/null 2>&1 || true"
  measure "kiln-$c-jobs1" "kiln build $c --no-cache --jobs 1" --runs "$RUNS" --prepare "$prep" \
    "'$KILN' --root '$STORE' build -q --no-cache --jobs 1 -t bench/$c '$ctx'"
  measure "kiln-$c-jobs-default" "kiln build $c --no-cache (jobs: $(nproc) cores)" --runs "$RUNS" --prepare "$prep" \
    "'$KILN' --root '$STORE' build -q --no-cache -t bench/$c '$ctx'"
  ratio "$c: --jobs 1 over default" "kiln-$c-jobs-default" "kiln-$c-jobs1"
  if buildah_ready; then
    measure "buildah-$c-cold" "buildah bud --layers $c cold (chroot)" --runs "$RUNS" --prepare "$BUILDAH_COLD_PREP" \
      "buildah bud --layers --isolation chroot -q -t localhost/bench/$c '$ctx'"
    ratio "$c cold (default jobs) vs buildah" "kiln-$c-jobs-default" "buildah-$c-cold"
  fi
}

# True when buildah is installed, its private storage and configs (shared/bench/lib.sh's
# working settings, under $WORK) then in force in this shell; says why when it is not.
BUILDAH_COLD_PREP="buildah rm --all >/dev/null 2>&1; podman rmi -af >/dev/null 2>&1; podman import -q '$ROOTFS_TAR' localhost/busybox:latest >/dev/null"
buildah_ready() {
  command -v buildah >/dev/null || { log "skipped buildah: not installed"; return 1; }
  [ -f "$SHARED_BENCH/lib.sh" ] || { log "skipped buildah: $SHARED_BENCH/lib.sh not found"; return 1; }
  if [ -z "${BUILDAH_CONFIGURED:-}" ]; then
    # shellcheck source=/dev/null
    . "$SHARED_BENCH/lib.sh"
    write_container_configs
    # Debian 12 ships no netavark; the builds need no network backend beyond CNI.
    command -v netavark >/dev/null || [ -x /usr/lib/podman/netavark ] ||
      sed -i 's/^network_backend = .*/network_backend = "cni"/' "$WORK/etc/containers.conf"
    BUILDAH_CONFIGURED=1
  fi
}

# A context of 100,000 small files (1,000 folders of 100) copied whole: cold, then rebuilt
# fully cached, which must read none of the unchanged files (kiln remembers each file's
# digest by path, size, mtime, inode and device); strace counts the files it opens.
bench_copy100k() {
  local ctx=$WORK/ctx/copy100k
  if [ ! -f "$ctx/Dockerfile" ]; then
    rm -rf "$ctx"; mkdir -p "$ctx"
    python3 - "$ctx" <<'EOPY'
import os, sys
root = sys.argv[1]
for d in range(1000):
    sub = os.path.join(root, "src", f"d{d:03}")
    os.makedirs(sub)
    for f in range(100):
        with open(os.path.join(sub, f"f{f:02}.txt"), "w") as out:
            out.write(f"file {d}/{f}\n")
open(os.path.join(root, "Dockerfile"), "w").write("FROM localhost/busybox\nCOPY src /src\n")
EOPY
  fi
  # ext4 without a journal (this machine's) will not reuse an inode freed in the last few
  # seconds and scans past every one: after removing 100,000 files each new file would
  # cost a scan. Each prepare waits that out, for both builders.
  # kiln's old stores are moved aside rather than removed, and removed at the end.
  local settle="sync && sleep 6" trash=$WORK/trash
  mkdir -p "$trash"
  local prep="{ [ ! -d '$STORE' ] || mv '$STORE' \$(mktemp -d '$trash/store-XXXXXX'); } && '$KILN' --root '$STORE' import '$ROOTFS_TAR' localhost/busybox:latest >/dev/null && $settle"
  measure kiln-copy100k-cold "kiln build copy100k cold (100,000 files)" --runs "$RUNS" --prepare "$prep" \
    "'$KILN' --root '$STORE' build -q -t bench/copy100k '$ctx'"
  measure kiln-copy100k-warm "kiln build copy100k fully cached" --runs "$RUNS" --warmup 1 \
    "'$KILN' --root '$STORE' build -q -t bench/copy100k '$ctx'"
  if command -v strace >/dev/null; then
    strace -f -qq -e trace=openat,open -o "$RESULTS/copy100k-warm.strace" \
      "$KILN" --root "$STORE" build -q -t bench/copy100k "$ctx" >/dev/null
    local opened
    # kiln opens a context file by its name under its folder's fd (openat(dirfd, "f42.txt")),
    # never by its full path: count every open of a name shaped like the context's files.
    # A cold build counts 300,000 here (read for the key, read to copy, the layer read back).
    opened=$(grep -E '"f[0-9]{2}\.txt"' "$RESULTS/copy100k-warm.strace" | grep -v O_DIRECTORY | grep -c O_RDONLY || true)
    printf '%-48s %9d files\n' "context files opened by the cached rebuild" "$opened" | tee -a "$RESULTS/table.txt"
  else
    log "skipped the open count: strace not installed"
  fi
  rm -rf "$trash"
  if buildah_ready; then
    measure buildah-copy100k-cold "buildah bud --layers copy100k cold (chroot)" --runs 3 --prepare "$BUILDAH_COLD_PREP && $settle" \
      "buildah bud --layers --isolation chroot -q -t localhost/bench/copy100k '$ctx'"
    measure buildah-copy100k-warm "buildah bud --layers copy100k fully cached (chroot)" --runs 3 --warmup 1 \
      "buildah bud --layers --isolation chroot -q -t localhost/bench/copy100k '$ctx'"
    ratio "copy100k cold vs buildah" kiln-copy100k-cold buildah-copy100k-cold
    ratio "copy100k cached vs buildah" kiln-copy100k-warm buildah-copy100k-warm
  fi
}

# A rebuild after a source change whose RUN step finds its expensive work (a 50 MB
# "download") in a RUN --mount=type=cache from the build before, as a package manager's
# cache would; each timed run changes the source first.
bench_cachemount() {
  local ctx=$WORK/ctx/cachemount
  rm -rf "$ctx"; mkdir -p "$ctx"
  cat >"$ctx/Dockerfile" <<'EODF'
FROM localhost/busybox
COPY src.txt /src.txt
RUN --mount=type=cache,target=/cache sh -c '[ -f /cache/dep ] || { dd if=/dev/urandom of=/cache/dep bs=1M count=50 2>/dev/null && sleep 2; }; cat /src.txt /cache/dep | md5sum > /built'
EODF
  echo 0 >"$ctx/src.txt"
  local change="sh -c 'date +%s%N > $ctx/src.txt'"
  fresh_store
  kiln build -q -t bench/cachemount "$ctx" >/dev/null
  measure kiln-cachemount "kiln build cache-mount rebuild after a change" --runs "$RUNS" --prepare "$change" \
    "'$KILN' --root '$STORE' build -q -t bench/cachemount '$ctx'"
  if buildah_ready; then
    sh -c "$BUILDAH_COLD_PREP"
    buildah bud --layers --isolation chroot -q -t localhost/bench/cachemount "$ctx" >/dev/null
    measure buildah-cachemount "buildah bud --layers cache-mount rebuild (chroot)" --runs 3 --prepare "$change" \
      "buildah bud --layers --isolation chroot -q -t localhost/bench/cachemount '$ctx'"
    ratio "cache-mount rebuild vs buildah" kiln-cachemount buildah-cachemount
  fi
}

# Start latency, each against its target (issue #9 item 8), with the installed peers on the
# same busybox rootfs in the same run: crun and runc on an OCI bundle, podman run --rm.
# hyperfine runs each command without a shell (-N), so no shell start-up is subtracted.
START_RUNS=${START_RUNS:-30}
bench_start() {
  fresh_store
  measure kiln-run-true "kiln run --rm busybox true" -N --runs "$START_RUNS" --warmup 3 \
    "$KILN --root $STORE run --rm localhost/busybox true"
  # The default bridge's cost per run: the same start with a namespace of only lo.
  measure kiln-run-true-none "kiln run --rm --network none busybox true" -N --runs "$START_RUNS" --warmup 3 \
    "$KILN --root $STORE run --rm --network none localhost/busybox true"
  python3 - "$(median_of "$RESULTS/kiln-run-true.json")" "$(median_of "$RESULTS/kiln-run-true-none.json")" <<'EOPY' | tee -a "$RESULTS/table.txt"
import sys
bridge, none = float(sys.argv[1]), float(sys.argv[2])
print(f"{'bridge setup per run (bridge - none medians)':<48} {(bridge - none) * 1000:9.3f} ms")
EOPY
  bench_start_peers
  bench_detached
  bench_monitor_memory
  targets
}

bundle_of() {  # an OCI bundle of the busybox rootfs, running `true`
  local bundle=$WORK/bundle
  if [ ! -f "$bundle/config.json" ]; then
    rm -rf "$bundle"; mkdir -p "$bundle/rootfs" && tar -xf "$ROOTFS_TAR" -C "$bundle/rootfs"
    (cd "$bundle" && { if command -v crun >/dev/null; then crun spec; else runc spec; fi; } && python3 - <<'EOPY'
import json
c = json.load(open("config.json"))
c["process"]["terminal"] = False; c["process"]["args"] = ["true"]
json.dump(c, open("config.json", "w"))
EOPY
    )
  fi
  echo "$bundle"
}

bench_start_peers() {
  local bundle
  if command -v crun >/dev/null; then
    bundle=$(bundle_of)
    # crun 1.8 refuses the hybrid cgroup layout, so it runs in a mount namespace in which
    # cgroup2 is unmounted (the host is not changed). hyperfine runs inside that namespace,
    # so no run pays for it; what one run would pay is measured on its own below.
    local in_v1ns=(unshare -m --propagation private sh -c 'umount -l /sys/fs/cgroup/unified 2>/dev/null; exec "$@"' sh)
    "${in_v1ns[@]}" hyperfine -N --style none --export-json "$RESULTS/crun-run-true.json" --runs "$START_RUNS" \
      --warmup 3 "crun --root $WORK/crun run --bundle $bundle kb-crun" >/dev/null
    summary "$RESULTS/crun-run-true.json" "crun run (bundle, hyperfine in v1-only mount ns)" | tee -a "$RESULTS/table.txt"
    measure v1ns-wrapper "  the v1-only mount ns wrapper alone (not in crun's row)" -N --runs "$START_RUNS" --warmup 3 \
      "unshare -m --propagation private sh -c 'umount -l /sys/fs/cgroup/unified 2>/dev/null; exec true'"
    ratio "kiln run --rm vs crun run" kiln-run-true crun-run-true
  fi
  if command -v runc >/dev/null; then
    bundle=$(bundle_of)
    measure runc-run-true "runc run (bundle)" -N --runs "$START_RUNS" --warmup 3 \
      "runc --root $WORK/runc run --bundle $bundle kb-runc"
    ratio "kiln run --rm vs runc run" kiln-run-true runc-run-true
  fi
  if command -v podman >/dev/null && [ -f "$SHARED_BENCH/lib.sh" ]; then
    # podman with the private configs of shared/bench (runc; its ulimits fit this machine).
    (
      WORK=$WORK/podman
      # shellcheck source=/dev/null
      . "$SHARED_BENCH/lib.sh"
      write_container_configs
      # Debian 12's podman ships no netavark; --network none needs no backend beyond CNI.
      command -v netavark >/dev/null || [ -x /usr/lib/podman/netavark ] ||
        sed -i 's/^network_backend = .*/network_backend = "cni"/' "$WORK/etc/containers.conf"
      podman rm -af >/dev/null 2>&1 || true
      podman image exists "$BASE_IMAGE" || podman import -q "$KILN_ROOTFS_TAR" "$BASE_IMAGE" >/dev/null
      measure podman-run-true "podman run --rm --network none (runc, reference)" -N --runs "$START_RUNS" \
        --warmup 3 "podman run --rm --network none $BASE_IMAGE true"
      # Podman's own default network (the bench's containers.conf sets netns "none", so it
      # is named): a CNI bridge with NAT, as kiln's default bridge.
      measure podman-run-true-bridge "podman run --rm --network bridge (runc)" -N --runs "$START_RUNS" \
        --warmup 3 "podman run --rm --network bridge $BASE_IMAGE true"
    )
    ratio "kiln run --rm --network none vs podman's" kiln-run-true-none podman-run-true
    ratio "kiln run --rm vs podman run --rm (default nets)" kiln-run-true podman-run-true-bridge
  fi
}

# exec into a running container, run -d's return time, and ps over 100 running containers.
bench_detached() {
  kiln run -d --name bench-exec localhost/busybox sleep 100000 >/dev/null
  measure kiln-exec-true "kiln exec (running container) true" -N --runs "$START_RUNS" --warmup 3 \
    "$KILN --root $STORE exec bench-exec true"
  kiln rm -f bench-exec >/dev/null
  # Each run starts from an empty store (prepare), so no run pays for the ones before.
  measure kiln-run-d "kiln run -d busybox sleep (return time)" -N --runs "$START_RUNS" --warmup 1 \
    --prepare "sh -c '$KILN --root $STORE rm -f \$($KILN --root $STORE ps -aq) >/dev/null 2>&1; true'" \
    "$KILN --root $STORE run -d localhost/busybox sleep 100000"
  # shellcheck disable=SC2046
  kiln rm -f $(kiln ps -aq) >/dev/null 2>&1 || true
  for _ in $(seq 100); do kiln run -d localhost/busybox sleep 100000 >/dev/null; done
  measure kiln-ps-100 "kiln ps (100 running containers)" -N --runs "$START_RUNS" --warmup 1 \
    "$KILN --root $STORE ps"
  measure kiln-ps-a-100 "kiln ps -a (100 running containers)" -N --runs "$START_RUNS" --warmup 1 \
    "$KILN --root $STORE ps -a"
}

# Private_Dirty of the idle monitors of the 100 containers bench_detached left running
# (a monitor is its container's parent), then removes them.
bench_monitor_memory() {
  local pids=()
  for id in $(kiln ps -q --no-trunc); do
    local pid; pid=$(kiln inspect -f '{{.State.Pid}}' "$id")
    pids+=("$(awk '{print $4}' "/proc/$pid/stat")")
  done
  python3 - "${pids[@]}" <<'EOPY' | tee -a "$RESULTS/table.txt" | tee "$RESULTS/monitor-private-dirty.txt"
import statistics, sys
kb = []
for pid in sys.argv[1:]:
    total = 0
    for line in open(f"/proc/{pid}/smaps"):
        if line.startswith("Private_Dirty:"):
            total += int(line.split()[1])
    kb.append(total)
kb.sort()
print(f"{'idle monitor Private_Dirty (smaps, 100 monitors)':<48} {statistics.median(kb):9.0f} kB ({kb[0]}-{kb[-1]}) n={len(kb)}")
EOPY
  # shellcheck disable=SC2046
  kiln rm -f $(kiln ps -aq) >/dev/null
}

# Each median against its target in issue #9 item 8.
targets() {
  python3 - "$RESULTS" <<'EOPY' | tee -a "$RESULTS/table.txt"
import json, os, re, statistics, sys
res = sys.argv[1]
def med(i):
    p = os.path.join(res, i + ".json")
    return statistics.median(json.load(open(p))["results"][0]["times"]) * 1000 if os.path.exists(p) else None
crun = med("crun-run-true")
rows = [("run --rm true <= crun run", med("kiln-run-true"), crun),
        ("run -d returns < 30 ms", med("kiln-run-d"), 30.0),
        ("exec true < 10 ms", med("kiln-exec-true"), 10.0),
        ("ps with 100 containers < 20 ms", med("kiln-ps-100"), 20.0)]
for label, got, limit in rows:
    if got is None or limit is None: continue
    print(f"target {label:<41} {got:9.3f} ms vs {limit:.3f}: {'met' if got <= limit else 'MISSED'}")
m = re.search(r"\s(\d+) kB", open(os.path.join(res, "monitor-private-dirty.txt")).read())
if m:
    kb = int(m.group(1))
    print(f"target {'idle monitor Private_Dirty < 1 MB':<41} {kb:9d} kB vs 1024: {'met' if kb < 1024 else 'MISSED'}")
EOPY
}

sections=${*:-build start}
for s in $sections; do
  case $s in
    build) bench_build ;;
    start) bench_start ;;
    graph) bench_graph ;;
    copy100k) bench_copy100k ;;
    cachemount) bench_cachemount ;;
    *) log "unknown section $s"; exit 1 ;;
  esac
done
log "table: $RESULTS/table.txt"
