#!/usr/bin/env bash
# The benchmark (not part of CI): builds the release CLI and the runner (examples/bench/), installs
# the official tus server and tus-js-client from npm, runs the sections and prints the tables
# that go into docs/PERFORMANCE.md; the chart goes to docs/perf-batch.svg.
#
#   bash benches/run.sh                      # batch folder single caps expect, then the chart
#   bash benches/run.sh batch --runs 7       # one section (batch folder single caps expect
#                                            #   chart ingest parallel), options after it
#   bash benches/run.sh single --sets 4 --runs 9 --clients curl,ours,ours-8m,tus-js
#
# Numbers of each section are also saved as JSON in target/bench-results/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v /usr/bin/time >/dev/null || { echo "needs /usr/bin/time (apt-get install time)"; exit 1; }
command -v curl >/dev/null || { echo "needs curl"; exit 1; }
command -v node >/dev/null || { echo "needs node (>= 20.19)"; exit 1; }
npm ci --prefix testkit/tus-server --no-audit --no-fund >/dev/null
npm ci --prefix benches/js --no-audit --no-fund >/dev/null || echo "tus-js-client unavailable: skipped"
cargo build --release --workspace --examples --bins
exec target/release/examples/bench "$@"
