#!/usr/bin/env bash
# npm run mutate:rust: cargo-mutants over native/engine (configured in
# native/.cargo/mutants.toml), results in reports/mutation/rust/mutants.out/.
# Installs the pinned cargo-mutants from crates.io when it is missing or another
# version. Extra arguments go to cargo mutants, e.g. one file:
#   npm run mutate:rust -- --file engine/src/index.rs
# or only what a previous run did not catch: -- --iterate
set -euo pipefail

CARGO_MUTANTS_VERSION=27.1.0

root=$(cd "$(dirname "$0")/.." && pwd)
if [ "$(cargo mutants --version 2>/dev/null)" != "cargo-mutants $CARGO_MUTANTS_VERSION" ]; then
  cargo install cargo-mutants --version "$CARGO_MUTANTS_VERSION" --locked
fi
mkdir -p "$root/reports/mutation/rust"
# One job by default: the machine is shared, and each job builds its own copy
# of the workspace (-j N to override).
#
# Two passes. The first tests every mutant against a quarter of each seeded
# campaign (crash, model, summary: CORFU_TEST_SEED_SCALE, engine/tests/common.rs),
# which catches most mutants in a fraction of the time. The second (--iterate)
# reruns only the mutants the first did not catch, against the whole campaigns as
# CI runs them; only its outcomes count as missed.
run() { cargo mutants --dir "$root/native" --output "$root/reports/mutation/rust" --jobs 1 "$@"; }
status=0
CORFU_TEST_SEED_SCALE=0.25 run "$@" || status=$?
# 0: every mutant caught; 2: some missed; 3: some timed out; anything else is a failure of the run itself.
case $status in
  0) exit 0 ;;
  2 | 3) ;;
  *) exit "$status" ;;
esac
echo "mutants.sh: rerunning what the quarter campaigns did not catch against the whole ones" >&2
args=()
for a in "$@"; do [ "$a" = --iterate ] || args+=("$a"); done
CORFU_TEST_SEED_SCALE=1 run "${args[@]}" --iterate
