#!/usr/bin/env bash
# Set up, then run the web app with the onboarding demo on http://127.0.0.1:8080/ (Ctrl-C stops).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python scripts/web_demo.py
