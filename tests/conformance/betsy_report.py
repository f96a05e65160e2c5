"""Run every betsy execution case and write a per-case result file.

Usage::

    python tests/conformance/betsy_report.py [--out results/betsy.csv] [--update-ratchet]
                                             [--test NAME ...]

The CSV has one row per case (test, case, PASS/FAIL, expected, actual, notes); the last
line printed is ``N passed, M failed``. ``--update-ratchet`` rewrites
``betsy_ratchet.txt`` with the cases that pass now.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from conformance.betsy_harness import (
    RATCHET_FILE,
    CaseResult,
    load_tests,
    read_ratchet,
    run_all,
    write_ratchet,
)


def _trace(lines: tuple[str, ...] | None) -> str:
    return "<no trace>" if lines is None else " ".join(sorted(lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results/betsy.csv"))
    parser.add_argument("--update-ratchet", action="store_true")
    parser.add_argument("--test", action="append", default=[], help="run only these tests")
    parser.add_argument("--verbose", "-v", action="store_true", help="print every failure")
    args = parser.parse_args(argv)

    tests = load_tests()
    if args.test:
        tests = [t for t in tests if t.name in set(args.test)]
    results: list[CaseResult] = list(run_all(tests))

    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["test", "case", "result", "expected", "actual", "notes"])
        for r in results:
            writer.writerow(
                [
                    r.test,
                    r.number,
                    "PASS" if r.passed else "FAIL",
                    _trace(r.expected),
                    _trace(r.actual),
                    "; ".join(r.notes),
                ]
            )

    ratchet = set(read_ratchet())
    regressions = [r.case_id for r in results if r.case_id in ratchet and not r.passed]
    new = [r.case_id for r in results if r.passed and r.case_id not in ratchet]
    if args.verbose:
        for r in results:
            if not r.passed:
                print(f"FAIL {r.case_id}: {r.reason}")
    if regressions:
        print(f"regressions against the ratchet: {', '.join(regressions)}")
    if new and not args.update_ratchet:
        print(f"passing but not in the ratchet: {', '.join(new)}")
    if args.update_ratchet:
        if args.test:
            parser.error("--update-ratchet needs a run of every test (no --test)")
        count = write_ratchet(results, RATCHET_FILE)
        print(f"wrote {count} case ids to {RATCHET_FILE.name}")
    passed = sum(r.passed for r in results)
    print(f"results written to {args.out}")
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
