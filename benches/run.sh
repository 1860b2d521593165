#!/usr/bin/env bash
# Side-by-side upload benchmark (not part of CI): builds the release CLI and the bench runner,
# installs the official tus server and tus-js-client from npm, and prints the tables that go
# into docs/PERFORMANCE.md. Extra arguments go to the runner, e.g. --size-mib 512 --runs 5.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v /usr/bin/time >/dev/null || { echo "needs /usr/bin/time (apt-get install time)"; exit 1; }
command -v curl >/dev/null || { echo "needs curl"; exit 1; }
npm ci --prefix tests/tus-server --no-audit --no-fund >/dev/null
npm ci --prefix benches/js --no-audit --no-fund >/dev/null || echo "tus-js-client unavailable: skipped"
cargo build --release --examples --bins --features cli
exec target/release/examples/bench "$@"
