# Shared by bench/archive.sh and bench/registry.sh. Source it; do not run it.

# median JSON → the median time in seconds of a hyperfine --export-json file
median() {
  python3 - "$1" <<'EOPY'
import json, statistics, sys
t = json.load(open(sys.argv[1]))["results"][0]["times"]
print(f"{statistics.median(t):.3f}")
EOPY
}

# big_image_context DIR MB SHARED_BENCH → DIR/Dockerfile: busybox + one incompressible MB MiB
# file + the 5,000-file tree of the copytree context (made once; kept for later runs).
big_image_context() {
  local dir=$1 mb=$2 shared=$3
  [ -f "$dir/Dockerfile" ] && return 0
  printf '[%s] %s\n' "$(date +%H:%M:%S)" "generating the context ($mb MiB incompressible + 5,000 files)" >&2
  bash "$shared/dockerfiles/copytree/gen-context.sh" "$dir" >/dev/null
  rm -f "$dir/big.bin"
  # head closes the pipe once it has enough: openssl dying of SIGPIPE is expected.
  { openssl enc -aes-256-ctr -nosalt -pass pass:kiln -in /dev/zero 2>/dev/null || true; } | head -c "$((mb << 20))" > "$dir/big.bin"
  printf 'FROM localhost/busybox:latest\nCOPY big.bin /big.bin\nCOPY tree /app/tree\n' > "$dir/Dockerfile"
}
