#!/bin/sh
# Run a libFuzzer target for a while on a scratch copy of its seed corpus.
# Usage: run-fuzz.sh TARGET CORPUS_DIR   (FUZZ_SECONDS overrides the 60 s default)
set -eu

target=$1
seeds=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/fuzz-dns.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

mkdir "$work/corpus" "$work/artifacts"
cp "$seeds"/* "$work/corpus/"

# libFuzzer exits non-zero on a crash, leak, timeout or out-of-memory; the
# crashing input lands in artifacts/ and is printed so CI logs keep it.
if ! "$target" -max_total_time="${FUZZ_SECONDS:-60}" -timeout=5 -rss_limit_mb=1024 \
    -artifact_prefix="$work/artifacts/" -print_final_stats=1 "$work/corpus"; then
  for f in "$work"/artifacts/*; do
    [ -e "$f" ] || continue
    echo "crashing input $f:"
    od -An -tx1 -v "$f"
  done
  exit 1
fi
