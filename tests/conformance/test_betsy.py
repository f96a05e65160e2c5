"""The betsy execution tests: each model's cases run on the engine and are judged by trace.

A case listed in ``betsy_ratchet.txt`` must keep passing; the others are reported as
expected failures with the reason. ``betsy_report.py --update-ratchet`` regenerates the
ratchet from the current engine.
"""

from __future__ import annotations

from collections import Counter

import pytest
from lxml import etree

from conformance.betsy_harness import (
    RATCHET_FILE,
    BetsyCase,
    BetsyTest,
    adapt_model,
    betsy_root,
    load_tests,
    read_ratchet,
    run_case,
    run_test,
    translate_condition,
)
from legato import Job
from legato.testing import TestEngine

pytestmark = pytest.mark.slow

BETSY_AVAILABLE = (betsy_root() / "expected_traces.json").is_file()
TESTS = load_tests() if BETSY_AVAILABLE else []
RATCHET = set(read_ratchet())

needs_corpus = pytest.mark.skipif(not BETSY_AVAILABLE, reason="betsy corpus not available")
# The tests that run models do so on every store: memory, SQLite and PostgreSQL.
on_every_store = pytest.mark.usefixtures("engine_store")


@needs_corpus
@on_every_store
@pytest.mark.parametrize("test", TESTS, ids=[t.name for t in TESTS])
def test_betsy_model(test: BetsyTest) -> None:
    results = run_test(test)

    regressions = [r for r in results if r.case_id in RATCHET and not r.passed]
    assert not regressions, "\n".join(f"{r.case_id}: {r.reason}" for r in regressions)
    failing = [r for r in results if not r.passed]
    if failing:
        pytest.xfail("; ".join(f"{r.case_id}: {r.reason}" for r in failing))


@needs_corpus
def test_inventory_matches_the_corpus() -> None:
    assert len(TESTS) == 95
    assert sum(len(t.cases) for t in TESTS) == 154
    assert all(t.model.is_file() for t in TESTS)


@needs_corpus
def test_ratchet_lists_only_existing_cases_once() -> None:
    listed = read_ratchet(RATCHET_FILE)
    known = {t.case_id(c) for t in TESTS for c in t.cases}

    assert listed, "the ratchet file is empty or missing"
    assert [i for i, n in Counter(listed).items() if n > 1] == []
    assert sorted(set(listed) - known) == []


# -- the adapter itself ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "feel"),
    [
        ('test.contains("a")', 'contains(test, "a")'),
        ('!test.contains("a")', 'not(contains(test, "a"))'),
        ("integerVariable<3", "integerVariable < 3"),
        ("${integerVariable >= 5}", "integerVariable >= 5"),
        ('test.contains("a")>', 'contains(test, "a")'),
        ("activationCount>=1", "activationCount >= 1"),
        ("a == 1 && (b != 2 || !c)", "a = 1 and (b != 2 or not(c))"),
        ("  true ", "true"),
    ],
)
def test_conditions_translate_to_feel(source: str, feel: str) -> None:
    assert translate_condition(source) == feel


@pytest.mark.parametrize("source", ["", "test.length()", "a +"])
def test_untranslatable_conditions_are_refused(source: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        translate_condition(source)


_MODEL = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"
             xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
             id="ProbeTest" targetNamespace="http://example.org/betsy">
  <process id="Probe" isExecutable="true">
    <startEvent id="s"/>
    <sequenceFlow id="f0" sourceRef="s" targetRef="log"/>
    <scriptTask id="log"><script>CREATE_LOG_FILE</script></scriptTask>
    <sequenceFlow id="f1" sourceRef="log" targetRef="{split}"/>
    {body}
  </process>
</definitions>
"""

_PARALLEL = """
    <parallelGateway id="fork"/>
    <sequenceFlow id="f2" sourceRef="fork" targetRef="one"/>
    <sequenceFlow id="f3" sourceRef="fork" targetRef="two"/>
    <scriptTask id="one"><script>CREATE_TIMESTAMP_LOG_1</script></scriptTask>
    <scriptTask id="two"><script>CREATE_TIMESTAMP_LOG_2</script></scriptTask>
    <sequenceFlow id="f4" sourceRef="one" targetRef="e1"/>
    <sequenceFlow id="f5" sourceRef="two" targetRef="e2"/>
    <endEvent id="e1"/><endEvent id="e2"/>
"""

_SEQUENTIAL = """
    <scriptTask id="one"><script>CREATE_TIMESTAMP_LOG_1</script></scriptTask>
    <sequenceFlow id="f2" sourceRef="one" targetRef="two"/>
    <scriptTask id="two"><script>CREATE_TIMESTAMP_LOG_2</script></scriptTask>
    <sequenceFlow id="f3" sourceRef="two" targetRef="task"/>
    <scriptTask id="task"><script>SCRIPT_task1</script></scriptTask>
    <sequenceFlow id="f4" sourceRef="task" targetRef="e"/>
    <endEvent id="e"/>
"""


def _probe_test(tmp_path_factory: pytest.TempPathFactory, split: str, body: str) -> BetsyTest:
    folder = tmp_path_factory.mktemp("betsy")
    model = folder / "Probe.bpmn"
    model.write_text(_MODEL.replace("{split}", split).replace("{body}", body), encoding="utf-8")
    case = BetsyCase(1, None, 0, False, 22_000, ("EXECUTION_parallel",))
    return BetsyTest("Probe", "TEST", model, "", (case,))


@on_every_store
def test_parallel_probes_overlap_when_branches_run_together(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    result = run_case(*_single(_probe_test(tmp_path_factory, "fork", _PARALLEL)))

    assert result.passed, result.reason


@on_every_store
def test_sequential_probes_do_not_count_as_parallel(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    result = run_case(*_single(_probe_test(tmp_path_factory, "one", _SEQUENTIAL)))

    assert not result.passed
    assert result.actual == ("SCRIPT_task1",)


@on_every_store
def test_probes_still_running_at_gather_time_are_not_parallel(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    test = _probe_test(tmp_path_factory, "fork", _PARALLEL)
    short = BetsyCase(1, None, 0, False, 5_000, ("EXECUTION_parallel",))

    result = run_case(test, short)

    assert result.actual == ()


def _single(test: BetsyTest) -> tuple[BetsyTest, BetsyCase]:
    return test, test.cases[0]


@on_every_store
def test_adapted_script_tasks_carry_their_token_as_a_job_header() -> None:
    body = _MODEL.replace("{split}", "e").replace("{body}", '<endEvent id="e"/>')
    adapted = etree.fromstring(adapt_model(body.encode()))
    zeebe = "{http://camunda.org/schema/zeebe/1.0}"
    header = adapted.find(f".//{zeebe}header")
    definition = adapted.find(f".//{zeebe}taskDefinition")

    assert header is not None and header.get("value") == "CREATE_LOG_FILE"
    assert definition is not None and definition.get("type") == "betsy-script"
    engine = TestEngine()
    tokens: list[str] = []

    def handler(job: Job) -> dict[str, object]:
        tokens.append(job.headers["token"])
        return {}

    engine.register("betsy-script", handler)
    engine.deploy(adapt_model(body.encode()))
    instance = engine.start("Probe", {})
    engine.run_until_idle()

    assert tokens == ["CREATE_LOG_FILE"]
    assert engine.instance(instance.key).status == "completed"
