"""Timer events: when a timer a catch event, boundary event or event sub-process waits on
falls due (a date, a duration or a cycle, each a FEEL expression evaluated as it starts)."""

from __future__ import annotations

from legato.engine import events as ev
from legato.engine import timers
from legato.engine.incident import IncidentError
from legato.engine.protocols import Processing
from legato.engine.state import ElementInstance
from legato.model import FlowNode, IntermediateCatchEvent, TimerEventDefinition


def schedule_timer(
    p: Processing, owner: ElementInstance, event: FlowNode, definition: TimerEventDefinition
) -> None:
    """Make ``owner`` wait for the timer of ``event``."""
    schedule = _schedule(p, definition, owner, event)
    p.emit(
        ev.TimerScheduled(
            at=p.ctx.now,
            timer_key=p.ctx.new_key(),
            element_instance_key=owner.key,
            element_id=event.element_id,
            due_at=schedule.due_at,
            repetitions=schedule.repetitions,
            cycle=schedule.cycle,
        )
    )


def _schedule(
    p: Processing, definition: TimerEventDefinition, owner: ElementInstance, event: FlowNode
) -> timers.Schedule:
    try:
        if definition.time_date is not None:
            return timers.at_date(p.evaluate(definition.time_date, owner.key))
        if definition.time_duration is not None:
            return timers.after_duration(p.evaluate(definition.time_duration, owner.key), p.ctx.now)
        if definition.time_cycle is not None:
            value = p.evaluate(definition.time_cycle, owner.key)
            if isinstance(event, IntermediateCatchEvent):
                # Its token leaves at the first firing: it waits for the cycle's next occurrence.
                return timers.next_occurrence(value, p.ctx.now)
            return timers.cycle(value, p.ctx.now)
    except timers.TimerError as exc:
        raise IncidentError("timer", f"timer '{event.element_id}': {exc}") from exc
    raise IncidentError("timer", f"timer '{event.element_id}' has no date, duration or cycle")
