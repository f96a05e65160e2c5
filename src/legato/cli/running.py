"""``legato run``: drive instances until only the outside world can move them, and say how
they ended.

The instances (and those they called) are driven with this process's handlers: due timers
fire and due jobs run; when nothing is due, the instances' own timers and the retries of
their jobs are waited for (``--timeout`` bounds the wait). A repeating timer without end
(``R/PT1H``) is not waited for: it never stops. What is left then waits for a person, a
message, a signal, an operator (an incident), or a job that no handler here runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from legato.engine.state import InstanceState
from legato.runtime.engine import Engine
from legato.runtime.waiting import family, unhandled_jobs
from legato.security.sensitive import Viewer, mask_text

POLL_SECONDS = 1.0
"""The longest sleep between two looks: another node may move the instances on meanwhile."""

_MIN_SLEEP = 0.01
"""The shortest sleep when something is due but nothing ran (another node holds it)."""

EXIT_FAILED = 1
"""An instance stopped at an incident or was cancelled."""
EXIT_NO_HANDLER = 3
"""An instance waits for jobs of a type that no handler of this run handles."""
EXIT_TIMEOUT = 4
"""``--timeout`` ran out while an instance still waited for a timer or a retry."""


def drive(
    engine: Engine,
    roots: Iterable[int],
    *,
    deadline: float | None = None,
    progress: Callable[[], None] = lambda: None,
) -> bool:
    """Run the work of ``roots`` until nothing of theirs is due or will be by itself.

    ``deadline`` is a ``time.monotonic()`` reading. Returns True when it passed first.
    """
    keys = list(roots)
    while True:
        if deadline is not None and time.monotonic() >= deadline:
            return True
        if engine.run_once():
            progress()
            continue
        due = _next_due(engine, family(engine.state, keys))
        if due is None:
            return False
        wait = max((due - engine.clock.now()).total_seconds(), _MIN_SLEEP)
        if deadline is not None:
            wait = min(wait, max(deadline - time.monotonic(), 0.0))
        engine.clock.sleep(min(wait, POLL_SECONDS))


def _next_due(engine: Engine, states: list[InstanceState]) -> datetime | None:
    """When the next timer of these instances, or the next job of theirs that a handler
    here runs, falls due; None when there is neither."""
    dues = [t.due_at for s in states for t in s.timers.values() if t.repetitions != -1]
    handled = set(engine.job_types)
    for state in states:
        if not any(j.job_type in handled and not j.failed for j in state.jobs.values()):
            continue
        for job in engine.jobs(instance_key=state.instance_key):
            if job.job_type in handled and job.state != "failed":
                held = job.state == "activated" and job.lease_until is not None
                dues.append(job.lease_until if held and job.lease_until else job.due_at)
    return min(dues, default=None)


@dataclass
class Verdict:
    """How a run ended: an exit code and, unless all went well, what to tell."""

    code: int = 0
    problems: list[str] = field(default_factory=list)


def verdict(
    engine: Engine, root: int, *, timed_out: float | None = None, viewer: Viewer | None = None
) -> Verdict:
    """What became of ``root``: cancelled, stopped at an incident, out of time, waiting for
    jobs nobody here handles, or fine (completed, or waiting for a person or a message).
    With a ``viewer``, an incident's message is cleared of the sensitive values it quotes."""
    info = engine.instance(root)
    states = family(engine.state, [root])
    result = Verdict()
    if info.status == "terminated":
        result.code = EXIT_FAILED
        result.problems.append(f"instance {root} was cancelled{_reason(engine, root)}")
    incidents = [(s, i) for s in states for i in s.incidents.values()]
    if incidents:
        result.code = result.code or EXIT_FAILED
        state, first = incidents[0]
        message = first.message
        if viewer is not None:
            texts = engine.masking.texts(viewer, state.process_id, state.variables.values())
            message = mask_text(message, texts)
        more = f" (and {len(incidents) - 1} more)" if len(incidents) > 1 else ""
        result.problems.append(
            f"instance {root} stopped at an incident at '{first.element_id}': {message}{more}"
        )
    unhandled = unhandled_jobs(states, engine.job_types)
    if unhandled:
        result.code = result.code or EXIT_NO_HANDLER
        result.problems.append(
            f"instance {root} waits for jobs that no handler here runs: {unhandled} "
            "(pass --handlers with a handler for them, or run a worker)"
        )
    if timed_out is not None and info.status == "active":
        result.code = result.code or EXIT_TIMEOUT
        result.problems.append(
            f"timed out after {timed_out:g} s: instance {root} still waits for a timer or a retry"
        )
    return result


def _reason(engine: Engine, key: int) -> str:
    for entry in reversed(engine.history(key)):
        if entry.event_type == "InstanceTerminated":
            reason = entry.details.get("reason")
            return f" ({reason})" if reason else ""
    return ""
