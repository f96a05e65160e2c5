#!/usr/bin/env bash
# Set up (first time) and run every check: lint, types, layer contracts and the test suite.
#
# The tests run in parallel (pytest-xdist), one worker per core, at most 4 (each worker holds
# connections to the shared PostgreSQL server, which allows 100 to everyone); file by file
# (--dist loadfile), so that a module's fixtures are made once, in the order collected with
# the slow tests first (tests/conftest.py; --no-loadscope-reorder keeps that order). Set
# LEGATO_TEST_WORKERS for another number of workers. Arguments are passed on to pytest after
# these, so that `bash scripts/test.sh -n 0` runs in one process and `-n 3` overrides them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== ruff" && .venv/bin/ruff check src tests examples bench
echo "== ruff format" && .venv/bin/ruff format --check src tests examples bench
echo "== mypy --strict" && .venv/bin/mypy
echo "== import-linter" && .venv/bin/lint-imports
bash scripts/security-checks.sh
workers="${LEGATO_TEST_WORKERS:-$(nproc 2>/dev/null || echo 2)}"
if [ "$workers" -gt 4 ]; then workers=4; fi
echo "== pytest" && .venv/bin/pytest -n "$workers" --dist loadfile --no-loadscope-reorder "$@"
