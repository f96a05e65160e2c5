"""A wrong type passed to any public method of the engine is a ``LegatoError`` naming the
argument: never a ``TypeError``, an ``AttributeError`` or an internal error from deep inside."""

from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bpmn_helpers import chain, process, service
from legato import (
    CancelElement,
    Engine,
    InvalidCommandError,
    JobRequest,
    LegatoError,
    MigrationPlan,
    RetryPolicy,
    StartBefore,
)
from legato.security.sensitive import Viewer
from legato.testing import TestEngine

MODEL = process(
    '<bpmn:startEvent id="s"/>' + service("t", "work") + '<bpmn:userTask id="u"/>'
    '<bpmn:endEvent id="e"/>' + chain("s", "t", "u", "e")
)

SECOND = dt.timedelta(seconds=1)

# A right value for every parameter name of the public methods (the wrong one is swapped in).
VALID: dict[str, Any] = {
    "url": None,
    "store": None,
    "clock": None,
    "retry_policy": RetryPolicy(),
    "batch_size": 10,
    "worker_name": "w",
    "random_source": lambda: 0.5,
    "start": None,
    "source": MODEL,
    "decision_id": "d",
    "variables": {"a": 1},
    "job_type": "work",
    "timeout": SECOND,
    "function": lambda job: None,
    "choose": lambda tx, subscriptions: subscriptions,
    "correlation_keys": ["k", 7, None],
    "module": {},
    "process_id": "p",
    "business_key": "bk",
    "request_id": "r",
    "version": 1,
    "business_keys": None,
    "instance_key": 0,
    "instance": 0,
    "status": None,
    "limit": 10,
    "scope_key": None,
    "reason": "why",
    "state": None,
    "assignee": None,
    "candidate_group": None,
    "user_task_key": 0,
    "user": None,
    "incident_key": 0,
    "retries": None,
    "worker": "w",
    "max_jobs": 1,
    "request_timeout": SECOND,
    "job_key": 0,
    "error_message": "failed",
    "retryable": True,
    "retry_after": None,
    "error_code": "E",
    "poll_interval": 0.1,
    "heartbeat_interval": SECOND,
    "node_timeout": SECOND,
    "max_timers": 1,
    "name": "m",
    "correlation_key": "k",
    "time_to_live": SECOND,
    "message_id": None,
    "messages": [("m", "k", {"a": 1})],
    "concurrency": 2,
    "job_lease": SECOND,
    "isolated": False,
    "shutdown_grace": SECOND,
    "feel_limits": None,
    "validation": "strict",
    "max_parked_fetches": 5,
    "metrics": False,
    "analytics": False,
    "tracing": False,
    "requests": [JobRequest("work", SECOND)],
    "use_priority": False,
    "local_variables": {"a": 1},
    "error_details": None,
    "candidate_user": None,
    "candidate_groups": None,
    "visible_to": None,
    "definition_key": None,
    "element_id": None,
    "include_assigned": True,
    "unassigned_only": False,
    "sort": [("created_at", "asc")],
    "offset": 0,
    "allow_override": True,
    "by": None,
    "form_id": "f",
    "form_key": None,
    "variable": None,
    "started_from": None,
    "started_before": None,
    "ended_from": None,
    "ended_before": None,
    "parent_instance_key": None,
    "after": None,
    "with_count": False,
    "count_cap": 10,
    "group": "g",
    "kind": "cancel",
    "keys": [1],
    "filter": None,
    "dry_run": True,
    "name_contains": None,
    "local": False,
    "batch_key": 1,
    "plan": MigrationPlan("p", 1, 1, "p", 2, 2),
    "instance_keys": [1],
    "rate": None,
    "mappings": None,
    "recreate_timers": False,
    "source_version": 1,
    "target_version": 2,
    "target_process_id": None,
    "a": 1,
    "b": 2,
    "rule": None,
    "split": None,
    "version_tag": None,
    "instructions": [CancelElement("t"), StartBefore("u")],
    "alerts": None,
    "webhooks": (),
    "secrets": None,
    "fetched": [],
    "include_resolved": False,
    "alert_key": 0,
    "expected": dt.timedelta(hours=1),
    "threshold": None,
    "secret": None,
    "kinds": None,
    "webhook_key": 0,
    "viewer": None,
    "policy": None,
    "incidents": [],
    "jobs": [],
    "keyring": None,
    "encryption": "sensitive",
    "sensitive": None,
}

# Where a parameter name means something else.
VALID_IN: dict[tuple[str, str], Any] = {
    ("start_many", "variables"): [{"a": 1}],
    ("claim_user_task", "user"): "ada",
    ("delegate_user_task", "user"): "ada",
    ("alerts", "kind"): None,
    ("add_webhook", "url"): "http://127.0.0.1:9/alerts",
    ("shown_incidents", "viewer"): Viewer(),
    ("shown_jobs", "viewer"): Viewer(),
}

# Where a value that is wrong for a parameter name elsewhere is right (a query's filters).
RIGHT_IN: dict[tuple[str, str], list[Any]] = {
    ("migrate_in_batch", "instance_keys"): [None],
    ("user_tasks", "user_task_key"): [None],
    ("count_user_tasks", "user_task_key"): [None],
    ("user_tasks", "limit"): [None],
    ("alerts", "kind"): [None],
    ("webhook_deliveries", "alert_key"): [None],
}

# Values of a wrong type for each parameter, beside ``object()`` which is wrong for all.
WRONG: dict[str, list[Any]] = {
    "url": [5, Path("x.db")],
    "store": ["sqlite://"],
    "clock": [dt.datetime.now()],
    "retry_policy": [{"max_attempts": 3}],
    "batch_size": ["10", 2.5, True, 2**63],
    "worker_name": [5],
    "random_source": [0.5],
    "start": ["2024-01-01"],
    "source": [5, None, ["<xml/>"]],
    "decision_id": [5, None],
    "variables": ["a=1", 5, [("a", 1)], {1: "one"}],
    "job_type": [5, None, ["work"]],
    "timeout": [5, "5s", dt.timedelta.max],
    "function": ["handler", None],
    "choose": ["all", None, 5],
    "correlation_keys": [5, [1.5], [object()], None],
    "module": ["module.py", 5],
    "process_id": [5, b"p"],
    "business_key": [5],
    "request_id": [5],
    "version": ["1", 1.0, True, 2**70],
    "business_keys": ["ab", [1]],
    "instance_key": ["1", 1.5, True, 2**70, -(2**70)],
    "instance": ["1", None, 2**70],
    "status": [5, True],
    "limit": ["10", None, 2**70],
    "scope_key": ["1", 2**70],
    "reason": [5],
    "state": [5, True],
    "assignee": [5],
    "candidate_group": [["managers"]],
    "user_task_key": ["1", None, 2**70],
    "user": [5],
    "incident_key": ["1", None, 2**70],
    "retries": ["3", 2.5, 2**70],
    "worker": [5, None],
    "max_jobs": ["1", 2.5, 2**70],
    "request_timeout": [1, None, dt.timedelta.max],
    "job_key": ["1", None, True, 2**70],
    "error_message": [5, None],
    "retryable": ["yes", 1],
    "retry_after": [5, dt.timedelta.max],
    "error_code": [5, None],
    "poll_interval": ["0.1", None, True, float("inf"), float("nan")],
    "heartbeat_interval": [5, None, dt.timedelta.max],
    "node_timeout": [5, None, dt.timedelta.min],
    "max_timers": ["1", 1.5, 2**70],
    "name": [5, None],
    "correlation_key": [True, 1.5, ["k"], {"k": 1}, 2**70],
    "time_to_live": [5, None, dt.timedelta.max],
    "message_id": [5],
    "messages": ["m", [("m", True, None)], [("m", "k")], [5]],
    "concurrency": ["2", 2.5, True, 0, -1],
    "job_lease": [5, None, dt.timedelta.max, dt.timedelta(0)],
    "isolated": ["yes", 1],
    "shutdown_grace": [5, None, dt.timedelta.max],
    "feel_limits": [5, {"iterations": 1}],
    "validation": ["lenient", None, True],
    "max_parked_fetches": ["5", 2.5, True, None, 0, -1],
    "metrics": ["yes", 1, None],
    "analytics": ["yes", 1, None],
    "tracing": ["yes", 1, {"endpoint": "http://localhost:4318"}],
    "requests": ["work", [("work", SECOND)], None, ["work"]],
    "use_priority": ["yes", 1, None],
    "local_variables": ["a=1", 5, [("a", 1)], {1: "one"}],
    "error_details": [5],
    "candidate_user": [5, ["ada"]],
    "candidate_groups": ["sales", [5], 5],
    "visible_to": ["ada", ("ada",), ("ada", [5]), (5, [])],
    "definition_key": ["1", 2**70],
    "element_id": [5, ["t"]],
    "include_assigned": ["yes", 1],
    "unassigned_only": ["yes", 1],
    "sort": ["created_at", [("created_at",)], [(1, "asc")], [("assignee", "asc")]],
    "offset": ["0", 1.5, None, 2**70, -1],
    "allow_override": ["yes", 1, None],
    "by": [5],
    "form_id": [5],
    "form_key": ["1", 2**70],
    "variable": ["tier", ("tier",), 5],
    "started_from": ["2024-01-01", 5],
    "started_before": ["2024-01-01", 5],
    "ended_from": ["2024-01-01", 5],
    "ended_before": ["2024-01-01", 5],
    "parent_instance_key": ["1", 1.5, 2**70],
    "after": [5, ["c"]],
    "with_count": ["yes", 1],
    "count_cap": ["10", None, 2**70],
    "group": [5, None],
    "kind": [5, None, "delete"],
    "keys": ["1", 5, [1.5], [2**70]],
    "instructions": ["t", [("cancel", "t")], [5], None, CancelElement("t")],
    "filter": [5, {"process_id": "p"}],
    "dry_run": ["yes", 1, None],
    "name_contains": [5, ["approve"]],
    "local": ["yes", 1, None],
    "batch_key": ["1", None, True, 2**70],
    "plan": ["p", None, {"process_id": "p"}],
    "instance_keys": ["1", 5, [1.5], [2**70], None],
    "rate": ["5", True, float("nan")],
    "mappings": ["a=b", {1: "b"}],
    "recreate_timers": ["yes", 1, None],
    "source_version": ["1", None, True, 2**70],
    "target_version": ["2", None, 2.0],
    "target_process_id": [5, b"p"],
    "a": ["1", None, True],
    "b": ["2", None, 2.5],
    "rule": [5, ["a"]],
    "split": ["90/10", {"1": 90}],
    "version_tag": [5, ["v1"]],
    "alerts": [5, {"threshold": 2}],
    "webhooks": ["http://x", [5], 5],
    "secrets": ["CRM_TOKEN=x", {"CRM_TOKEN": "x"}, 5],
    "fetched": [5, None, [5]],
    "include_resolved": ["yes", 1, None],
    "alert_key": ["1", 1.5, None, 2**70],
    "expected": [5, None, "PT1H", dt.timedelta(0)],
    "threshold": ["2", True],
    "secret": [5],
    "kinds": ["error_rate", [5], ["bogus"]],
    "webhook_key": ["1", 1.5, None],
    "viewer": ["admin", 5],
    "policy": [5, ["a.toml"]],
    "incidents": [5, [5]],
    "jobs": [5, [5]],
    "keyring": [5, b"keys.json", {"k1": "x"}],
    "encryption": ["all", 5, None],
    "sensitive": [5, "ssn", ["ssn"]],
}

# Where a parameter name takes other values: None is a right worker where it only checks the
# holder of a job (completing, failing, extending).
WRONG_IN: dict[tuple[str, str], list[Any]] = {
    (method, "worker"): [5]
    for method in ("complete_job", "complete_job_async", "fail_job", "throw_error", "update_job")
}


def _public_methods(cls: type) -> Iterator[tuple[str, Callable[..., Any]]]:
    for name, member in inspect.getmembers(cls):
        if (not name.startswith("_") or name == "__init__") and inspect.isfunction(member):
            yield name, member


def _parameters(function: Callable[..., Any]) -> list[inspect.Parameter]:
    return [
        p
        for p in list(inspect.signature(function).parameters.values())[1:]
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]


@pytest.mark.parametrize("cls", [Engine, TestEngine], ids=["Engine", "TestEngine"])
def test_every_parameter_of_every_public_method_is_covered_here(cls: type) -> None:
    for name, function in _public_methods(cls):
        for parameter in _parameters(function):
            assert parameter.name in VALID and parameter.name in WRONG, (name, parameter.name)


def _calls(cls: type) -> Iterator[tuple[str, str, Any, bool]]:
    """(method, parameter, wrong value, positional?) for every public method of ``cls``."""
    for name, function in _public_methods(cls):
        for parameter in _parameters(function):
            right = RIGHT_IN.get((name, parameter.name), [])
            wrongs = WRONG_IN.get((name, parameter.name), WRONG[parameter.name])
            for wrong in [object(), *wrongs]:
                if any(wrong is value for value in right):
                    continue
                yield name, parameter.name, wrong, False
                if parameter.kind is parameter.POSITIONAL_OR_KEYWORD:
                    yield name, parameter.name, wrong, True


def _invoke(target: Any, method: str, parameter: str, wrong: Any, positional: bool) -> None:
    function = getattr(target, method) if method != "__init__" else target
    cls = target if isinstance(target, type) else type(target)
    parameters = _parameters(getattr(cls, method))
    kwargs = {p.name: VALID_IN.get((method, p.name), VALID[p.name]) for p in parameters}
    kwargs[parameter] = wrong
    if not positional:
        function(**kwargs)
        return
    args = []
    for p in parameters:
        if p.kind is not p.POSITIONAL_OR_KEYWORD:
            break
        args.append(kwargs.pop(p.name))
        if p.name == parameter:
            break
    function(*args, **kwargs)


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestEngine]:
    monkeypatch.chdir(tmp_path)  # an Engine() that got through would create legato.db here
    engine = TestEngine()
    engine.deploy(MODEL)
    engine.start("p")
    yield engine
    engine.close()


@pytest.mark.parametrize("cls", [Engine, TestEngine], ids=["Engine", "TestEngine"])
def test_wrong_types_are_refused_with_a_legato_error_naming_the_argument(
    cls: type, engine: TestEngine
) -> None:
    refused = 0
    for method, parameter, wrong, positional in _calls(cls):
        target: Any = cls if method == "__init__" else engine
        where = f"{cls.__name__}.{method}({parameter}={wrong!r}, positional={positional})"
        try:
            _invoke(target, method, parameter, wrong, positional)
        except InvalidCommandError as exc:
            assert f"{parameter} must be" in str(exc), (where, str(exc))
            refused += 1
        except LegatoError as exc:  # pragma: no cover - reported as a failure below
            pytest.fail(f"{where} raised {type(exc).__name__} ({exc}), not naming the argument")
        except Exception as exc:  # pragma: no cover - what this test is here to catch
            pytest.fail(f"{where} leaked {type(exc).__name__}: {exc}")
        else:  # pragma: no cover
            pytest.fail(f"{where} was accepted")
    assert refused > 300
    # Nothing that was refused changed anything.
    assert [i.status for i in engine.instances()] == ["active"]


def test_a_property_setter_checks_its_value(engine: TestEngine) -> None:
    for wrong in ("10", 2.5, None):
        with pytest.raises(InvalidCommandError, match="batch_size must be a 64-bit integer"):
            engine.batch_size = wrong  # type: ignore[assignment]
    engine.batch_size = 5
    assert engine.batch_size == 5


def test_a_correlation_key_of_a_wrong_type_is_an_invalid_command(engine: TestEngine) -> None:
    # It used to leak the engine's internal IncidentError, which is no LegatoError.
    with pytest.raises(
        InvalidCommandError, match="correlation_key must be a string, a 64-bit integer"
    ):
        engine.publish_message("m", True)  # type: ignore[arg-type]
    with pytest.raises(InvalidCommandError, match="correlation_key must be a string, a 64-bit"):
        engine.publish_message("m", 10**400)
    with pytest.raises(InvalidCommandError, match="messages must be a list of tuples"):
        engine.publish_messages([("m", None, None), ("m", True, None)])


def test_a_handler_registered_through_the_decorator_is_checked(engine: TestEngine) -> None:
    with pytest.raises(InvalidCommandError, match="function must be a callable"):
        engine.task("work")("not a function")  # type: ignore[type-var]
    with pytest.raises(InvalidCommandError, match="timeout must be a timedelta of at most 1000"):
        engine.task("work", timeout=5)  # type: ignore[arg-type]
