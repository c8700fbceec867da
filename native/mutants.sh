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
exec cargo mutants --dir "$root/native" --output "$root/reports/mutation/rust" --jobs 1 "$@"
