#!/bin/sh
# Run a libFuzzer target on a scratch copy of its seed corpus.
# Usage: run-fuzz.sh TARGET CORPUS_DIR
#
# By default a fixed number of inputs from a fixed seed in one process, so a
# given tree always fuzzes the same inputs and CI cannot turn red because this
# run happened to stumble on something new; a finding then shows up on the
# commit that causes it. FUZZ_RUNS changes the count (default 2000000, about
# 30 s), FUZZ_SEED the seed (default 1). FUZZ_SECONDS instead fuzzes for that
# long from a random seed (or FUZZ_SEED): for campaigns, not CI.
set -eu

target=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
seeds=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/fuzz-dns.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

mkdir "$work/corpus" "$work/artifacts"
cp "$seeds"/* "$work/corpus/"
ln -s "$target" "$work/fuzz-target"

if [ -n "${FUZZ_SECONDS:-}" ]; then
  budget="-max_total_time=$FUZZ_SECONDS -seed=${FUZZ_SEED:-0}"
else
  budget="-runs=${FUZZ_RUNS:-2000000} -seed=${FUZZ_SEED:-1}"
fi

# A fixed seed alone does not replay: libFuzzer files comparison operands by
# the comparing code's address and counts stack depth, both of which move with
# address-space randomisation and with the size of the environment and
# arguments on the initial stack (meson sets a random MALLOC_PERTURB_), and
# -reload rereads the corpus on a timer. So randomisation is off, the target
# runs with an empty environment and the same relative paths, and never reloads.
norandom=
if setarch "$(uname -m)" -R true 2>/dev/null; then
  norandom="setarch $(uname -m) -R"
elif [ -z "${FUZZ_SECONDS:-}" ]; then
  echo "run-fuzz.sh: cannot turn off address randomisation; this run may not replay" >&2
fi

# libFuzzer exits non-zero on a crash, leak, timeout or out-of-memory; the
# crashing input lands in artifacts/ and is printed so CI logs keep it. The
# per-input timeout is generous so a loaded machine cannot trip it; a real
# hang still does. One process and no -jobs: forked workers would not replay.
# shellcheck disable=SC2086 # $norandom and $budget are several words
if ! (cd "$work" && $norandom env -i ./fuzz-target $budget -reload=0 -timeout=30 \
    -rss_limit_mb=1024 -artifact_prefix=artifacts/ -print_final_stats=1 corpus); then
  for f in "$work"/artifacts/*; do
    [ -e "$f" ] || continue
    echo "crashing input $f (base64):"
    base64 "$f"
  done
  exit 1
fi
