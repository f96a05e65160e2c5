#!/usr/bin/env bash
# Static security checks of CI (scripts/test.sh runs this):
# - bandit over src/ with the skips of pyproject.toml ([tool.bandit], each with its reason);
#   any finding fails.
# - pip-audit over the installed packages against the PyPI vulnerability service. A known
#   vulnerability fails. When the service cannot be reached (no network, or a package index
#   mirror that does not serve vulnerability data) nothing was checked: this says so clearly
#   and does not fail, as no fact about the dependencies was learnt.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== bandit" && .venv/bin/bandit -q -c pyproject.toml -r src
echo "== pip-audit"
report="$(mktemp)"
trap 'rm -f "$report"' EXIT
status=0
.venv/bin/pip-audit --progress-spinner off --local --format json >"$report" 2>"$report.err" || status=$?
.venv/bin/python - "$report" "$status" "$report.err" <<'PY'
import json
import sys
from pathlib import Path

report, status, errors = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
try:
    found = json.loads(report.read_text() or "{}").get("dependencies", [])
except ValueError:
    found = []
vulnerable = [d for d in found if d.get("vulns")]
checked = [d for d in found if "skip_reason" not in d]
for dependency in vulnerable:
    ids = ", ".join(v["id"] for v in dependency["vulns"])
    print(f"VULNERABLE {dependency['name']} {dependency.get('version', '')}: {ids}")
if vulnerable:
    sys.exit(1)
if status != 0 or not checked:
    if found:
        why = f"all {len(found)} packages skipped: {found[0]['skip_reason']}"
    else:
        why = (errors.read_text().strip().splitlines() or ["no answer"])[-1]
    print(f"pip-audit: NOT CHECKED, the vulnerability service was not reachable ({why})")
    sys.exit(0)
print(f"pip-audit: {len(checked)} packages checked, no known vulnerability")
PY
rm -f "$report.err"
