#!/usr/bin/env bash
# Installs the pinned Python tus server (requirements.txt) into testkit/py-server/.venv.
#
# Idempotent: does nothing when .venv/.installed equals requirements.txt (it is written last, so
# a half-finished install is redone from scratch). Run by .ci/run and, when the venv is missing
# or stale, by the test harness (testkit/src/py_server.rs) under a cross-process lock.
# Needs python3 (>= 3.10) with the venv module; WMU_PYTHON names another interpreter.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

if [ -f .venv/.installed ] && cmp -s .venv/.installed requirements.txt; then
  exit 0
fi
python="${WMU_PYTHON:-python3}"
rm -rf .venv
"$python" -m venv .venv
.venv/bin/python -m pip install --disable-pip-version-check --no-input --quiet \
  --require-hashes -r requirements.txt
.venv/bin/resumable-upload --version
cp requirements.txt .venv/.installed
