"""DMN benchmark: decision table evaluations per second, Legato against SpiffWorkflow 3.2.

Three workloads, each evaluated by both engines in one run:

1. ``0004-simpletable-U``: the DMN TCK table (``<repo>/../shared/corpora/dmn-tck/TestCases/
   compliance-level-2/0004-simpletable-U``), decision "Approval Status", hit policy UNIQUE,
   3 inputs and 4 rules; the inputs are the three cases of its ``*-test-01.xml`` (their expected
   results are checked too). SpiffWorkflow reads ``bench/simpletable_spiff.dmn``.
2. ``fees`` FIRST: ``bench/fees.dmn``, decision "Fees first": 10 inputs (numbers, strings,
   booleans, a date), 50 rules, two outputs. SpiffWorkflow reads ``bench/fees_spiff_first.dmn``.
3. ``fees`` COLLECT: the same rules, decision "Fees collect" (every matching rule's outputs).
   SpiffWorkflow reads ``bench/fees_spiff_collect.dmn``.

SpiffWorkflow's DMN engine evaluates Python expressions, not FEEL, so its tables are the same
rules written as Python (``"a","b"`` becomes ``? in ("a", "b")``, ``[1..5)`` becomes
``1 <= ? < 5``, ``true`` becomes ``True``, ``date("2025-07-01")`` becomes
``date(2025, 7, 1)`` with ``datetime.date`` given to its script environment). It knows only the
hit policies UNIQUE and COLLECT, and its UNIQUE stops at the first matching rule, which is what
FIRST does: its tables use UNIQUE where Legato's use FIRST (fees) or UNIQUE (the TCK table; Legato
checks every rule there, as UNIQUE requires). SpiffWorkflow is driven as its business rule task
drives it, ``DMNEngine.result(task)``, with a minimal task (``data`` and the script engine).

The fee inputs are seeded random candidates, kept so that every rule that can match first is
represented (up to ``--per-rule`` inputs each); every evaluation cycles through that list.
Before timing, every input of every workload is evaluated by both engines and the results must
be equal (Legato without errors). Timing: ``--evaluations`` evaluations per engine and workload,
``time.perf_counter``, best of ``--repeats`` (the engines alternate).

Run from the repository root::

    .venv/bin/python bench/dmn.py                 # full run, writes RESULTS.md
    .venv/bin/python bench/dmn.py --evaluations 2000 --repeats 1 --no-write   # quick check

The results replace the section "DMN: decision tables" of ``bench/RESULTS.md`` (other sections
are kept) unless ``--no-write`` is given. When Legato misses the target on a workload, a cProfile
of Legato on that workload is added to the report (``--profile always|never`` to force or skip).
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import os
import pstats
import random
import shlex
import sys
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from _report import (
    display_path,
    machine_facts,
    publish,
    version_of,
    yes,
)
from lxml import etree
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment  # type: ignore[import-untyped]
from SpiffWorkflow.dmn.engine.DMNEngine import DMNEngine  # type: ignore[import-untyped]
from SpiffWorkflow.dmn.parser.BpmnDmnParser import BpmnDmnParser  # type: ignore[import-untyped]

from legato import dmn

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
DEFAULT_TCK = (
    REPO.parent
    / "shared"
    / "corpora"
    / "dmn-tck"
    / "TestCases"
    / "compliance-level-2"
    / "0004-simpletable-U"
)
DEFAULT_RESULTS = BENCH / "RESULTS.md"
SECTION_TITLE = "DMN: decision tables"
TARGET_RATIO = 5.0

Inputs = dict[str, Any]
Normalized = Hashable


# -- SpiffWorkflow ---------------------------------------------------------------------------------


class SpiffTask:
    """What SpiffWorkflow's DMN engine reads of a task: ``data``, the workflow's script engine."""

    def __init__(self, script_engine: PythonScriptEngine) -> None:
        self.data: Inputs = {}
        self.workflow = self
        self.script_engine = script_engine


class SpiffDecision:
    """One SpiffWorkflow decision table, evaluated as its business rule task does."""

    def __init__(self, path: Path, decision_id: str) -> None:
        parser = BpmnDmnParser()
        parser.add_dmn_file(str(path))
        self.engine: DMNEngine = parser.get_engine(decision_id, None)
        environment = TaskDataEnvironment({"date": dt.date})
        self.task = SpiffTask(PythonScriptEngine(environment=environment))

    def evaluate(self, inputs: Inputs) -> Any:
        self.task.data = inputs
        return self.engine.result(self.task)


# -- workloads -------------------------------------------------------------------------------------


@dataclass
class Workload:
    name: str
    description: str
    hit_policies: str
    model: dmn.DecisionModel
    decision: str
    spiff: SpiffDecision
    inputs: list[Inputs]
    legato_value: Callable[[Any], Normalized]
    spiff_value: Callable[[Any], Normalized]
    expected: list[Normalized] | None = None

    def legato(self, inputs: Inputs) -> dmn.DecisionResult:
        return self.model.evaluate(self.decision, inputs)


def number(value: Any) -> Decimal:
    """Legato returns ``Decimal``, SpiffWorkflow Python numbers: compare them as decimals."""
    return value if isinstance(value, Decimal) else Decimal(str(value))


def fee_row(row: Mapping[str, Any]) -> tuple[Decimal, str]:
    return number(row["fee"]), str(row["code"])


def spiff_collect(result: Mapping[str, list[Any]]) -> tuple[tuple[Decimal, str], ...]:
    fees, codes = result.get("fee", []), result.get("code", [])
    return tuple(fee_row({"fee": f, "code": c}) for f, c in zip(fees, codes, strict=True))


def legato_collect(value: Any) -> tuple[tuple[Decimal, str], ...]:
    return tuple(fee_row(row) for row in value or [])


XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"


def tck_value(element: etree._Element) -> Any:
    kind = (element.get(XSI_TYPE) or "").split(":")[-1]
    text = element.text or ""
    if kind == "decimal":
        return Decimal(text)
    if kind == "boolean":
        return text == "true"
    return text


def read_tck_cases(folder: Path) -> tuple[list[Inputs], list[Normalized]]:
    """The inputs and expected decision values of the TCK test file's cases."""
    test_file = next(iter(sorted(folder.glob("*-test-01.xml"))))
    root = etree.parse(str(test_file)).getroot()
    inputs: list[Inputs] = []
    expected: list[Normalized] = []
    for case in root.iter("{*}testCase"):
        case_inputs: Inputs = {}
        for node in case.iter("{*}inputNode"):
            value = node.find("{*}value")
            if value is not None:
                case_inputs[str(node.get("name"))] = tck_value(value)
        inputs.append(case_inputs)
        result = case.find("{*}resultNode/{*}expected/{*}value")
        expected.append(tck_value(result) if result is not None else None)
    return inputs, expected


FEE_DOMAINS: dict[str, Sequence[Any]] = {
    "currency": ("EUR", "USD", "GBP", "CHF", "JPY"),
    "channel": ("online", "mobile", "branch"),
    "tier": ("gold", "silver", "standard"),
    "business": (True, False),
    "country": ("DE", "FR", "NL", "US", "GB", "JP"),
    "express": (True, False),
}


def random_fee_inputs(rng: random.Random) -> Inputs:
    inputs: Inputs = {name: rng.choice(values) for name, values in FEE_DOMAINS.items()}
    inputs["amount"] = Decimal(rng.randrange(0, 2_000_000)) / 100
    inputs["accountAge"] = rng.randrange(0, 121)
    inputs["monthlyCount"] = rng.randrange(0, 201)
    inputs["bookingDate"] = dt.date(2025, 1, 1) + dt.timedelta(days=rng.randrange(365))
    return inputs


def fee_inputs(
    model: dmn.DecisionModel, candidates: int, per_rule: int, seed: int
) -> tuple[list[Inputs], int]:
    """Seeded random inputs, up to ``per_rule`` for each rule that matches first.

    Returns the inputs (grouped rules interleaved, so consecutive evaluations match different
    rules) and how many distinct rules match first.
    """
    rng = random.Random(seed)
    by_rule: dict[int, list[Inputs]] = {}
    for _ in range(candidates):
        inputs = random_fee_inputs(rng)
        first = model.evaluate("Fees first", inputs).matched_rules[0].index
        group = by_rule.setdefault(first, [])
        if len(group) < per_rule:
            group.append(inputs)
    groups = [by_rule[rule] for rule in sorted(by_rule)]
    ordered = [g[i] for i in range(per_rule) for g in groups if i < len(g)]
    return ordered, len(by_rule)


def build_workloads(args: argparse.Namespace) -> tuple[list[Workload], int]:
    tck_dir: Path = args.tck
    tck_model_path = next(iter(sorted(tck_dir.glob("*.dmn"))))
    tck_inputs, tck_expected = read_tck_cases(tck_dir)
    simple = Workload(
        name="TCK 0004-simpletable-U",
        description=(
            f'`{display_path(tck_model_path)}`, decision "Approval Status": 3 inputs, 4 rules; '
            f"the {len(tck_inputs)} cases of its test file"
        ),
        hit_policies="Legato UNIQUE, Spiff UNIQUE (stops at first match)",
        model=dmn.load(tck_model_path),
        decision="Approval Status",
        spiff=SpiffDecision(BENCH / "simpletable_spiff.dmn", "approval_status"),
        inputs=tck_inputs,
        legato_value=lambda value: value,
        spiff_value=lambda result: result.get("Approval Status"),
        expected=tck_expected,
    )
    fees_model = dmn.load(BENCH / "fees.dmn")
    inputs, distinct = fee_inputs(fees_model, args.candidates, args.per_rule, args.seed)
    first = Workload(
        name="fees, FIRST",
        description='`bench/fees.dmn`, decision "Fees first": 10 inputs, 50 rules, 2 outputs',
        hit_policies="Legato FIRST, Spiff UNIQUE (stops at first match)",
        model=fees_model,
        decision="Fees first",
        spiff=SpiffDecision(BENCH / "fees_spiff_first.dmn", "fees_first"),
        inputs=inputs,
        legato_value=fee_row,
        spiff_value=fee_row,
    )
    collect = Workload(
        name="fees, COLLECT",
        description='`bench/fees.dmn`, decision "Fees collect": the same 50 rules',
        hit_policies="Legato COLLECT, Spiff COLLECT",
        model=fees_model,
        decision="Fees collect",
        spiff=SpiffDecision(BENCH / "fees_spiff_collect.dmn", "fees_collect"),
        inputs=inputs,
        legato_value=legato_collect,
        spiff_value=spiff_collect,
    )
    return [simple, first, collect], distinct


@dataclass
class Check:
    inputs: int
    distinct_rules: int
    mean_matches: float


def verify(workload: Workload) -> Check:
    """Both engines agree on every input (and with the TCK's expectations); Legato has no errors."""
    rules: set[int] = set()
    matches = 0
    for i, inputs in enumerate(workload.inputs):
        result = workload.legato(inputs)
        if result.errors:
            raise AssertionError(f"{workload.name}: Legato errors for {inputs}: {result.errors}")
        ours = workload.legato_value(result.value)
        theirs = workload.spiff_value(workload.spiff.evaluate(dict(inputs)))
        if ours != theirs:
            raise AssertionError(f"{workload.name}: {inputs}: Legato {ours!r}, Spiff {theirs!r}")
        if workload.expected is not None and ours != workload.expected[i]:
            raise AssertionError(f"{workload.name}: {inputs}: expected {workload.expected[i]!r}")
        rules.update(match.index for match in result.matched_rules)
        matches += len(result.matched_rules)
    return Check(len(workload.inputs), len(rules), matches / len(workload.inputs))


# -- timing ----------------------------------------------------------------------------------------


def time_calls(call: Callable[[Inputs], Any], sequence: Sequence[Inputs]) -> float:
    start = time.perf_counter()
    for inputs in sequence:
        call(inputs)
    return time.perf_counter() - start


@dataclass
class Timing:
    evaluations: int
    legato_runs: list[float]
    spiff_runs: list[float]

    @property
    def legato_rate(self) -> float:
        return self.evaluations / min(self.legato_runs)

    @property
    def spiff_rate(self) -> float:
        return self.evaluations / min(self.spiff_runs)

    @property
    def ratio(self) -> float:
        return self.legato_rate / self.spiff_rate


def measure(workload: Workload, evaluations: int, repeats: int, warm_up: int) -> Timing:
    sequence = [workload.inputs[i % len(workload.inputs)] for i in range(evaluations)]
    time_calls(workload.legato, sequence[:warm_up])
    time_calls(workload.spiff.evaluate, sequence[:warm_up])
    timing = Timing(evaluations, [], [])
    for _ in range(repeats):
        timing.legato_runs.append(time_calls(workload.legato, sequence))
        timing.spiff_runs.append(time_calls(workload.spiff.evaluate, sequence))
    return timing


@dataclass
class ProfileRow:
    function: str
    calls: int
    tottime: float
    cumtime: float


@dataclass
class Profile:
    workload: str
    evaluations: int
    seconds: float
    by_own: list[ProfileRow]
    by_cumulative: list[ProfileRow]
    rules: int
    rule_checks: int
    """Calls of the table's per-rule match function (how many rules were tested)."""


def where(filename: str, line: int, function: str) -> str:
    """A function's place without machine-specific paths."""
    path = Path(filename)
    if filename.startswith("~") or not path.is_absolute():
        return f"{function} (built-in)" if filename == "~" else f"{filename}:{line}({function})"
    try:
        shown = path.resolve().relative_to(REPO).as_posix()
    except ValueError:
        shown = path.name
    return f"{shown}:{line}({function})"


def profile(workload: Workload, evaluations: int, top: int) -> Profile:
    sequence = [workload.inputs[i % len(workload.inputs)] for i in range(evaluations)]
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.enable()
    for inputs in sequence:
        workload.legato(inputs)
    profiler.disable()
    seconds = time.perf_counter() - start
    stats: dict[tuple[str, int, str], tuple[int, int, float, float, Any]]
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    rows = [
        ProfileRow(where(*key), calls, own, cumulative)
        for key, (_, calls, own, cumulative, _) in stats.items()
    ]
    own = sorted(rows, key=lambda r: r.tottime, reverse=True)[:top]
    legato_rows = [r for r in rows if r.function.startswith("src/legato/")]
    cumulative = sorted(legato_rows, key=lambda r: r.cumtime, reverse=True)[:top]
    checks = sum(
        r.calls
        for r in rows
        if r.function.startswith("src/legato/dmn/_tables.py:") and r.function.endswith("(_matches)")
    )
    rules = len(workload.spiff.engine.decision_table.rules)
    return Profile(workload.name, evaluations, seconds, own, cumulative, rules, checks)


# -- report ----------------------------------------------------------------------------------------


def load_average() -> str:
    try:
        return ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


@dataclass
class Report:
    command: str
    date: str
    machine: dict[str, str]
    load: tuple[str, str]
    args: argparse.Namespace
    workloads: list[Workload]
    checks: list[Check]
    timings: list[Timing]
    distinct_first: int
    profiles: list[Profile]

    def markdown(self) -> str:
        args = self.args
        lines = [
            f"## {SECTION_TITLE}",
            "",
            f"- Command: `{self.command}` (from the repository root)",
            f"- Date: {self.date}",
            *(f"- {name}: {value}" for name, value in self.machine.items()),
            f"- Load average (1, 5, 15 min) at the start: {self.load[0]}; at the end: "
            f"{self.load[1]} (the machine is shared: other load makes both engines slower)",
            "- Legato: `dmn.load(file).evaluate(decision, inputs)`; SpiffWorkflow: "
            "`DMNEngine.result(task)` as its business rule task calls it, on its own Python-"
            "expression copies of the tables (`bench/simpletable_spiff.dmn`, "
            "`bench/fees_spiff_first.dmn`, `bench/fees_spiff_collect.dmn`).",
            f"- Timing: {args.evaluations:,} evaluations per engine and workload, cycling through "
            f"the workload's inputs, best of {args.repeats} (engines alternating), after "
            f"{args.warm_up} untimed evaluations; `time.perf_counter`.",
            "",
            "Workloads (every input was evaluated by both engines before timing and the results "
            "were equal; Legato reported no error; the TCK cases also gave the test file's "
            "expected values):",
            "",
            "| Workload | Table | Hit policy | Inputs | Rules matched (distinct) "
            "| Matches per evaluation |",
            "|---|---|---|---:|---:|---:|",
        ]
        for w, c in zip(self.workloads, self.checks, strict=True):
            lines.append(
                f"| {w.name} | {w.description} | {w.hit_policies} | {c.inputs} "
                f"| {c.distinct_rules} | {c.mean_matches:.2f} |"
            )
        lines += [
            "",
            f"Fee inputs: {args.candidates:,} seeded random candidates (seed {args.seed}), "
            f"keeping up to {args.per_rule} per rule that matches first ({self.distinct_first} "
            "of the 50 rules can), interleaved so consecutive evaluations hit different rules.",
            "",
            "| Workload | Legato (evaluations/s) | SpiffWorkflow (evaluations/s) "
            f"| Legato / Spiff | Target >= {TARGET_RATIO:g}x |",
            "|---|---:|---:|---:|---|",
        ]
        for w, t in zip(self.workloads, self.timings, strict=True):
            lines.append(
                f"| {w.name} | {t.legato_rate:,.0f} | {t.spiff_rate:,.0f} | {t.ratio:.2f}x "
                f"| {yes(t.ratio >= TARGET_RATIO)} |"
            )
        lines += ["", *self.verdict()]
        for p in self.profiles:
            lines += [
                "",
                f"Profile of Legato, {p.workload}: {p.evaluations:,} evaluations under cProfile "
                f"({p.seconds:.2f} s with profiling overhead); Legato tested "
                f"{p.rule_checks / p.evaluations:.1f} of the table's {p.rules} rules per "
                "evaluation. Top functions by own time:",
                "",
                "| Function | Calls | Own time (s) | Cumulative (s) |",
                "|---|---:|---:|---:|",
                *(
                    f"| `{r.function}` | {r.calls:,} | {r.tottime:.3f} | {r.cumtime:.3f} |"
                    for r in p.by_own
                ),
                "",
                "Legato functions by cumulative time:",
                "",
                "| Function | Calls | Own time (s) | Cumulative (s) |",
                "|---|---:|---:|---:|",
                *(
                    f"| `{r.function}` | {r.calls:,} | {r.tottime:.3f} | {r.cumtime:.3f} |"
                    for r in p.by_cumulative
                ),
            ]
        return "\n".join(lines) + "\n"

    def verdict(self) -> list[str]:
        met = [t.ratio >= TARGET_RATIO for t in self.timings]
        ratios = ", ".join(
            f"{w.name} {t.ratio:.2f}x" for w, t in zip(self.workloads, self.timings, strict=True)
        )
        if all(met):
            return [f"Verdict: the {TARGET_RATIO:g}x target is met on every workload ({ratios})."]
        missed = sum(not m for m in met)
        return [
            f"Verdict: the {TARGET_RATIO:g}x target is **not met** on {missed} of "
            f"{len(met)} workloads ({ratios})."
        ]


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--evaluations", type=int, default=20_000, help="per engine and workload")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs; the best counts")
    parser.add_argument("--warm-up", type=int, default=200, help="untimed evaluations first")
    parser.add_argument("--candidates", type=int, default=5_000, help="random fee inputs tried")
    parser.add_argument("--per-rule", type=int, default=5, help="fee inputs kept per first rule")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--tck", type=Path, default=DEFAULT_TCK, help="0004-simpletable-U folder")
    parser.add_argument("--profile", choices=("auto", "always", "never"), default="auto")
    parser.add_argument("--profile-evaluations", type=int, default=2_000)
    parser.add_argument("--profile-top", type=int, default=12)
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS)
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = parser.parse_args(argv)
    for name in ("evaluations", "repeats", "candidates", "per_rule", "profile_evaluations"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    raw = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(raw)

    def log(message: str) -> None:
        print(message, flush=True)

    machine = machine_facts({"SpiffWorkflow": version_of("SpiffWorkflow")})
    command = shlex.join(["python", "bench/dmn.py", *raw])
    date = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    log(f"{SECTION_TITLE}: {command}")
    for name, value in machine.items():
        log(f"  {name}: {value}")

    load_start = load_average()
    workloads, distinct_first = build_workloads(args)
    checks: list[Check] = []
    for workload in workloads:
        check = verify(workload)
        checks.append(check)
        log(
            f"verified {workload.name}: {check.inputs} inputs, same results; "
            f"{check.distinct_rules} distinct rules matched"
        )

    timings: list[Timing] = []
    profiles: list[Profile] = []
    for workload in workloads:
        log(f"timing {workload.name}: {args.evaluations:,} evaluations x {args.repeats} ...")
        timing = measure(workload, args.evaluations, args.repeats, args.warm_up)
        timings.append(timing)
        log(
            f"  Legato {timing.legato_rate:,.0f}/s, SpiffWorkflow {timing.spiff_rate:,.0f}/s, "
            f"ratio {timing.ratio:.2f}x"
        )
        wanted = args.profile == "always" or (
            args.profile == "auto" and timing.ratio < TARGET_RATIO
        )
        if wanted:
            log(f"  profiling Legato ({args.profile_evaluations:,} evaluations) ...")
            profiles.append(profile(workload, args.profile_evaluations, args.profile_top))

    load = (load_start, load_average())
    report = Report(
        command, date, machine, load, args, workloads, checks, timings, distinct_first, profiles
    )
    publish(report.markdown(), SECTION_TITLE, args.results, write=not args.no_write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
