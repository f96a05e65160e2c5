"""The DMN TCK runner: runs the test cases of the corpus and writes ``tck_results.csv``.

Usage::

    .venv/bin/python tests/conformance/dmn_tck.py --out results/tck_results.csv
    .venv/bin/python tests/conformance/dmn_tck.py --update-ratchet

Rows follow the TCK's own results format, so they line up with other vendors' results:
``"<level>/<folder>","<test file stem>","<testCase id>","SUCCESS|ERROR|IGNORED","<msg>"``.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from lxml import etree

from legato import dmn
from legato.errors import LegatoError
from legato.feel.builtins import BUILTINS
from legato.feel.runtime import Run
from legato.safexml import parse_xml, read_source

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
RATCHET = HERE / "tck_ratchet.txt"
LEVELS = ("compliance-level-2", "compliance-level-3")
TOLERANCE = Decimal("1e-8")
XSI = "http://www.w3.org/2001/XMLSchema-instance"


def tck_root() -> Path:
    """The ``TestCases`` folder of the DMN TCK in the corpora."""
    corpora = Path(os.environ.get("LEGATO_CORPORA", ROOT.parent / "shared" / "corpora"))
    return corpora / "dmn-tck" / "TestCases"


@dataclass(frozen=True)
class CaseResult:
    """The outcome of one test case."""

    folder: str
    """``<level>/<folder>``."""
    test_file: str
    """The test file's stem."""
    case_id: str
    """The testCase id."""
    status: str
    """SUCCESS, ERROR or IGNORED."""
    message: str = ""
    """Why it failed."""

    @property
    def key(self) -> str:
        """The id used in the ratchet: ``folder/test file/case id``."""
        return f"{self.folder}/{self.test_file}/{self.case_id}"


def folders(root: Path | None = None) -> list[Path]:
    """Every test folder of levels 2 and 3, in order."""
    base = root or tck_root()
    return [path for level in LEVELS for path in sorted((base / level).glob("*")) if path.is_dir()]


def run_folder(folder: Path) -> list[CaseResult]:
    """Run every test file of one folder."""
    results: list[CaseResult] = []
    label = f"{folder.parent.name}/{folder.name}"
    for test_file in sorted(folder.glob("*-test-*.xml")):
        results.extend(_run_test_file(label, test_file))
    return results


def _children(element: etree._Element, name: str) -> list[etree._Element]:
    return [c for c in element if isinstance(c.tag, str) and etree.QName(c).localname == name]


def _child(element: etree._Element, name: str) -> etree._Element | None:
    found = _children(element, name)
    return found[0] if found else None


def _run_test_file(label: str, test_file: Path) -> Iterator[CaseResult]:
    data, name = read_source(test_file)
    root = parse_xml(data, name)
    model_name_element = _child(root, "modelName")
    model_name = model_name_element.text if model_name_element is not None else None
    model_file = test_file.parent / (model_name or "").strip()
    cases = _children(root, "testCase")
    try:
        model = dmn.load(model_file)
    except LegatoError as exc:
        for case in cases:
            yield CaseResult(label, test_file.stem, case.get("id", ""), "ERROR", f"load: {exc}")
        return
    for case in cases:
        case_id = case.get("id", "")
        try:
            message = _run_case(model, case)
        except Exception as exc:  # a crash fails the case, it does not stop the run
            message = f"crash: {type(exc).__name__}: {exc}"
        status = "SUCCESS" if message is None else "ERROR"
        yield CaseResult(label, test_file.stem, case_id, status, message or "")


def _run_case(model: dmn.DecisionModel, case: etree._Element) -> str | None:
    inputs: dict[str, Any] = {}
    for node in _children(case, "inputNode"):
        key = node.get("name", "")
        if node.get("namespace"):
            key = f"{{{node.get('namespace')}}}{key}"
        inputs[key] = parse_value(node)
    now = dt.datetime.now(dt.UTC)
    kind = case.get("type", "decision")
    invocable = case.get("invocableName")
    service_result = None
    if kind == "decisionService" and invocable:
        service_result = model.evaluate_service(invocable, inputs, now=now)
    problems = []
    for node in _children(case, "resultNode"):
        name = node.get("name", "")
        expected_element = _child(node, "expected")
        expected = parse_value(expected_element) if expected_element is not None else None
        if service_result is not None:
            value = service_result.outputs.get(name, service_result.value)
            errors = service_result.errors
        else:
            result = model.evaluate(name, inputs, now=now)
            value, errors = result.value, result.errors
        if not same(value, expected):
            problems.append(f"{name}: expected {show(expected)} but got {show(value)} {errors}")
        elif node.get("errorResult") == "true" and not errors:
            problems.append(f"{name}: expected an error, none reported")
    return "; ".join(problems) if problems else None


def parse_value(node: etree._Element) -> Any:
    """The FEEL value a test file's ``value``/``component``/``list`` content denotes."""
    value = _child(node, "value")
    if value is not None:
        return _scalar(value)
    components = _children(node, "component")
    if components:
        return {c.get("name", ""): parse_value(c) for c in components}
    items = _child(node, "list")
    if items is not None:
        return [parse_value(item) for item in _children(items, "item")]
    return None


def _scalar(value: etree._Element) -> Any:
    if value.get(f"{{{XSI}}}nil") == "true":
        return None
    if _children(value, "component") or _children(value, "list"):
        return parse_value(value)
    text = value.text or ""
    kind = (value.get(f"{{{XSI}}}type") or "string").rpartition(":")[2]
    if kind in ("decimal", "double", "integer", "int", "long", "float"):
        try:
            return Decimal(text.strip())
        except InvalidOperation:
            return None
    if kind == "boolean":
        return text.strip() == "true"
    converters = {"date": "date", "time": "time", "dateTime": "date and time"}
    if kind in converters:
        return BUILTINS[converters[kind]].invoke(Run(), [text.strip()])
    if kind == "duration":
        return BUILTINS["duration"].invoke(Run(), [text.strip()])
    return text


def same(actual: Any, expected: Any) -> bool:
    """Whether a result equals the expected value (numbers within 1e-8)."""
    if expected is None or actual is None:
        return expected is None and actual is None
    if isinstance(expected, bool) or isinstance(actual, bool):
        return actual is expected
    if isinstance(expected, Decimal) and isinstance(actual, Decimal):
        return abs(actual - expected) < TOLERANCE
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(same(a, e) for a, e in zip(actual, expected, strict=True))
        )
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and set(actual) == set(expected)
            and all(same(actual[k], expected[k]) for k in expected)
        )
    if isinstance(expected, dt.datetime) and isinstance(actual, dt.datetime):
        return actual == expected and actual.tzinfo == expected.tzinfo
    return type(actual) is type(expected) and bool(actual == expected)


def show(value: Any) -> str:
    """A short text of a value for failure messages."""
    text = repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


def run_all(root: Path | None = None) -> list[CaseResult]:
    """Run every folder of levels 2 and 3."""
    return [result for folder in folders(root) for result in run_folder(folder)]


def write_csv(results: list[CaseResult], out: Path) -> None:
    """Write the results in the TCK's ``tck_results.csv`` format."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_ALL, lineterminator="\n")
        for r in results:
            writer.writerow([r.folder, r.test_file, r.case_id, r.status, r.message])


def read_ratchet() -> list[str]:
    """The ids of the cases that must keep passing."""
    if not RATCHET.exists():
        return []
    lines = RATCHET.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def write_ratchet(results: list[CaseResult]) -> None:
    """Record every passing case in the ratchet file."""
    keys = sorted(r.key for r in results if r.status == "SUCCESS")
    header = "# DMN TCK cases that pass; tests/conformance/test_dmn_tck.py keeps them passing.\n"
    RATCHET.write_text(header + "\n".join(keys) + "\n", encoding="utf-8")


def _summary(results: list[CaseResult]) -> str:
    lines = []
    for level in LEVELS:
        mine = [r for r in results if r.folder.startswith(level)]
        passed = sum(r.status == "SUCCESS" for r in mine)
        lines.append(f"{level}: {passed}/{len(mine)}")
    passed = sum(r.status == "SUCCESS" for r in results)
    lines.append(f"{passed} passed, {len(results) - passed} failed")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the TCK, write the CSV, print failures and the summary line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results/tck_results.csv"))
    parser.add_argument("--update-ratchet", action="store_true")
    parser.add_argument("--quiet", action="store_true", help="print only the summary")
    args = parser.parse_args(argv)
    results = run_all()
    write_csv(results, args.out)
    if not args.quiet:
        for r in results:
            if r.status != "SUCCESS":
                print(f"FAIL {r.key}: {r.message[:300]}")
    if args.update_ratchet:
        write_ratchet(results)
    print(_summary(results))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    sys.exit(main())
