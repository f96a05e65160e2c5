#!/usr/bin/env bash
# Screenshots of the web app for the README: a server on a temporary SQLite file, seeded
# with the onboarding demo, photographed page by page in Chromium into docs/screenshots/.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || bash scripts/setup.sh
[ -f src/legato/web/static/dist/app.js ] || bash scripts/build-web.sh
.venv/bin/python scripts/screenshots.py "$@"
