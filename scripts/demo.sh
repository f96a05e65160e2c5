#!/usr/bin/env bash
# Set up (first time) and run the customer-onboarding demo on the embedded SQLite default.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export ONBOARDING_LEDGER="${ONBOARDING_LEDGER:-onboarding-payments.json}"
# The stand-in payment provider's ledger belongs to the database: job keys start again in a
# new database, so a ledger left from an earlier one would make its charges look done.
[ -e legato.db ] || rm -f "$ONBOARDING_LEDGER"
# The score and the identity number (idNumber) are sensitive (the process declares them):
# the commands print them masked, as they do for anyone without the reveal permission.
echo "== a good credit score is approved automatically =="
.venv/bin/legato run examples/onboarding/onboarding.bpmn \
  --handlers examples/onboarding/handlers.py --var score=720 --var customer=Ada \
  --var idNumber=756.1234.5678.97
echo
echo "== a low score waits for a manager =="
.venv/bin/legato run examples/onboarding/onboarding.bpmn \
  --handlers examples/onboarding/handlers.py --var score=640 --var customer=Bob \
  --var idNumber=756.9876.5432.10
.venv/bin/legato tasks
task=$(.venv/bin/legato tasks --json | .venv/bin/python -c 'import json,sys; print(json.load(sys.stdin)[-1]["user_task_key"])')
.venv/bin/legato complete "$task" --var approved=true --user grace --handlers examples/onboarding/handlers.py
.venv/bin/legato instances --limit 5
