#!/usr/bin/env bash
# Set up (first time) and run every check: lint, types, layer contracts and the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== ruff" && .venv/bin/ruff check src tests examples bench
echo "== ruff format" && .venv/bin/ruff format --check src tests examples bench
echo "== mypy --strict" && .venv/bin/mypy
echo "== import-linter" && .venv/bin/lint-imports
echo "== pytest" && .venv/bin/pytest "$@"
