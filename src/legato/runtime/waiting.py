"""What instances wait for: the instances they called, and jobs that nobody here handles.

``legato run`` and the testing kit's assertions use it to say why an instance did not get
further: a job of a type with no handler registered waits for ever, silently, otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable

from legato.engine.state import InstanceState


def family(state_of: Callable[[int], InstanceState], roots: Iterable[int]) -> list[InstanceState]:
    """The states of the active instances among ``roots`` and of those they called (at any
    depth), read with ``state_of``."""
    states: list[InstanceState] = []
    pending = list(roots)
    seen: set[int] = set()
    while pending:
        key = pending.pop()
        if key in seen:
            continue
        seen.add(key)
        state = state_of(key)
        if not state.is_active:
            continue
        states.append(state)
        pending += [e.child_instance_key for e in state.elements.values() if e.child_instance_key]
    return states


def unhandled_jobs(states: Iterable[InstanceState], handled: Collection[str]) -> str:
    """The open jobs of these instances whose type is not among ``handled``, as
    ``type 'x' (at 'task')`` phrases; empty when there are none."""
    waiting: dict[str, set[str]] = {}
    for state in states:
        for job in state.jobs.values():
            if job.job_type not in handled and not job.failed:
                element = state.elements.get(job.element_instance_key)
                waiting.setdefault(job.job_type, set()).add(element.element_id if element else "?")
    return ", ".join(
        f"type '{job_type}' (at {', '.join(repr(e) for e in sorted(elements))})"
        for job_type, elements in sorted(waiting.items())
    )
