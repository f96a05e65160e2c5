"""Moving a running instance to another process version (``MigrateInstance``).

The migration is first checked against the instance and its moves worked out
(:mod:`legato.engine.migration_planner`, which says when it is refused); then this module
carries them out.

What moves, all in the one step: element instances keep their keys; jobs keep theirs (so the
idempotency keys handlers see stay valid), retyped where the target's job type differs; user
tasks keep key, assignee and claim; incidents move with their element. A wait whose event has
a counterpart stays, under a fresh key: a timer keeps its due time (unless the command asks
for timers whose definition changed to be set anew), a message wait its correlation key. A
boundary event or event sub-process start with no counterpart stops waiting, and one the
target adds starts waiting (a timer from now). The history records ``InstanceMigrated``
between the waits closed and the waits opened.
"""

from __future__ import annotations

from functools import partial

from legato.engine import commands as cmd
from legato.engine import events as ev
from legato.engine.migration_planner import Moves, Planner, Wait
from legato.engine.processing import Processing
from legato.engine.processors.waits import open_wait
from legato.engine.state import ElementInstance
from legato.model import EventBasedGateway, FlowNode
from legato.model.queries import waits_for_something


def migrate(p: Processing, command: cmd.MigrateInstance) -> Processing:
    """Migrate ``p``'s instance (checked first: refused with :class:`MigrationError`, the
    state unchanged); the processing of the target version that carries on."""
    state, source = p.state, p.deployed
    target = p.ctx.definitions.get(command.target_definition_key)
    moves = Planner(state, source, target, command, p).plan()
    for wait in (*moves.closed, *(w for w, _ in moves.kept), *(w for w, _ in moves.renewed)):
        _close(p, wait)
    p.emit(
        ev.InstanceMigrated(
            at=p.now,
            source_definition_key=source.definition_key,
            definition_key=target.definition_key,
            process_id=target.process_id,
            version=target.version,
            elements=[
                [key, state.elements[key].element_id, after] for key, after in moves.targets.items()
            ],
            renamed=[[a, b] for a, b in moves.renamed.items() if a != b],
            job_types=[[key, job_type] for key, job_type in moves.job_types.items()],
            task_names=[
                [task, target.process.elements[moves.targets[owner]].name]
                for task, owner in state.user_tasks.items()
            ],
            incidents=[
                [i.incident_key, i.element_id, moves.targets.get(i.element_instance_key)]
                for i in state.incidents.values()
            ],
            by=command.by,
        )
    )
    q = Processing(state, target, p.ctx)
    q.events = p.events
    for wait, event_id in moves.kept:
        _reopen(q, wait, event_id)
    for wait, event in moves.renewed:
        _open(q, wait.owner, event)
    _open_added_waits(q, moves)
    for name, value in moves.variables:
        q.set_local(state.instance_key, name, value)
    return q


def _close(p: Processing, wait: Wait) -> None:
    for timer in wait.timers:
        p.emit(ev.TimerCanceled(at=p.now, timer_key=timer.timer_key))
    for sub in wait.subscriptions:
        p.emit(ev.SubscriptionClosed(at=p.now, subscription_key=sub.subscription_key))


def _reopen(q: Processing, wait: Wait, event_id: str) -> None:
    """The wait again under a fresh key and the target's event id, as it was: the same due
    time, the same message and correlation key."""
    for timer in wait.timers:
        q.emit(
            ev.TimerScheduled(
                at=q.now,
                timer_key=q.ctx.new_key(),
                element_instance_key=wait.owner.key,
                element_id=event_id,
                due_at=timer.due_at,
                repetitions=timer.repetitions,
                cycle=timer.cycle,
            )
        )
    for sub in wait.subscriptions:
        q.emit(
            ev.SubscriptionOpened(
                at=q.now,
                subscription_key=q.ctx.new_key(),
                kind=sub.kind,
                name=event_id if sub.kind == "conditional" else sub.name,
                element_instance_key=wait.owner.key,
                element_id=event_id,
                correlation_key=sub.correlation_key,
                interrupting=sub.interrupting,
            )
        )


def _open_added_waits(q: Processing, moves: Moves) -> None:
    """Open the waits the target version adds to the instance's active elements."""
    plan = q.plan
    for key, target_id in moves.targets.items():
        owner = q.state.elements.get(key)
        if owner is None:
            continue
        node = plan.root if target_id == plan.root.element_id else plan.nodes[target_id]
        events: list[FlowNode] = []
        parent = q.state.elements.get(owner.parent_key or -1)
        inner = parent is not None and parent.is_mi_body and parent.element_id == owner.element_id
        if not inner and not (node.is_multi_instance and not owner.is_mi_body):
            events += node.waiting_boundaries
        events += node.waiting_event_starts
        element = node.element if target_id != plan.root.element_id else None
        if isinstance(element, EventBasedGateway):
            events += [
                f.target.element for f in node.outgoing if waits_for_something(f.target.element)
            ]
        for event in events:
            if (key, event.element_id) not in moves.covered:
                _open(q, owner, event)


def _open(q: Processing, owner: ElementInstance, event: FlowNode) -> None:
    """Open a wait of the target version; a failure (a timer expression, a correlation key)
    is an incident on its owner, as when the owner is entered."""
    q.guarded(owner, "activate", partial(open_wait, q, owner, event))
