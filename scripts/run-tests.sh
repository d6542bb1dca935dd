#!/usr/bin/env bash
# The whole check: style, then every test. Called by `make test` (and so by .ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
echo "== ruff"
$BIN/ruff check .
echo "== pytest"
exec $BIN/python -m pytest -q -ra "$@"
