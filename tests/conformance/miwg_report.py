"""The BPMN MIWG corpus as a plain report: one row per file, then ``N passed, M failed``.

Usage: ``.venv/bin/python tests/conformance/miwg_report.py [--out results/miwg.csv]``

A file passes when it reads (or, for a known malformed file, fails with a parse error naming
its line) and, for a tool's export or roundtrip, when its semantic summary equals its
reference model's. Known tool differences are reported as failures here, with their reason:
the report says how the corpus stands, the test suite holds the line.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_miwg import (
    _TOOL_FILE,
    KNOWN_DIFFERENCES,
    MALFORMED,
    read_all,
    summarize,
)

from legato.errors import BpmnParseError
from legato.model import Definitions


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results/miwg.csv"))
    args = parser.parse_args()
    results = read_all()
    rows = []
    for key, result in results.items():
        rows.append((key, *_verdict(key, result, results)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "result", "detail"])
        writer.writerows(rows)
    passed = sum(1 for row in rows if row[1] == "PASS")
    print(f"results written to {args.out}")
    print(f"{passed} passed, {len(rows) - passed} failed")
    return 0


def _verdict(
    key: str,
    result: Definitions | BpmnParseError,
    results: dict[str, Definitions | BpmnParseError],
) -> tuple[str, str]:
    if isinstance(result, BpmnParseError):
        expected = key in MALFORMED and result.location.line is not None
        return ("PASS" if expected else "FAIL", str(result))
    tool, _, name = key.partition("/")
    match = _TOOL_FILE.match(name)
    if tool == "Reference" or not match:
        return ("PASS", "read")
    reference = results.get(f"Reference/{match.group(1)}.bpmn")
    if not isinstance(reference, Definitions):
        return ("PASS", "read (no reference model)")
    if summarize(result) == summarize(reference):
        return ("PASS", "matches the reference model")
    return ("FAIL", KNOWN_DIFFERENCES.get(key, "differs from the reference model"))


if __name__ == "__main__":
    raise SystemExit(main())
