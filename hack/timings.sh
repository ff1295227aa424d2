# Sourced by the build scripts. record_build PART SECONDS: the wall time of a build that ran
# (not of a cached part), kept in the cache beside what it built, where `make bench`
# (bench/builds.py) reads it: the cold-build figures come from real builds, not from memory.
record_build() {
  local dir="${MODELOPS_CACHE:-$HOME/.cache/modelops}/timings" commit
  mkdir -p "$dir"
  commit=$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --short HEAD 2>/dev/null || echo unknown)
  printf '{"part": "%s", "seconds": %d, "date": "%s", "commit": "%s", "cpus": %d}\n' \
    "$1" "$2" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$commit" "$(nproc)" > "$dir/$1.json"
}
