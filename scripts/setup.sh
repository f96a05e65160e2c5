#!/usr/bin/env bash
# Create .venv (if missing) and install Legato with its development tools into it.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  if ! python3 -m venv .venv 2>/dev/null; then
    apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv .venv
  fi
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
.venv/bin/python -m pip install -q -e '.[dev]' 2>&1 | grep -v -E '^(WARNING|DEPRECATION)' || true
.venv/bin/python -c 'import legato' >/dev/null

# The web app's front-end bundle (src/legato/web/static/dist/, not committed): built with npm
# from web/ unless it is newer than every source file there.
bundle=src/legato/web/static/dist/app.js
if [ ! -f "$bundle" ] || [ -n "$(find web/package.json web/package-lock.json web/src -newer "$bundle" 2>/dev/null | head -n 1)" ]; then
  if ! command -v npm >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
  fi
  bash scripts/build-web.sh >/dev/null
fi
