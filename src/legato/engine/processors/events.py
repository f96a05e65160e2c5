"""Events: none start, end, throw and catch events, terminate and link events.

Timer, message, signal, error, escalation, compensation and conditional events are not
executable yet; reaching one raises an incident naming it.
"""

from __future__ import annotations

from legato.engine.processing import IncidentError, Processing
from legato.engine.processors.base import ElementProcessor
from legato.engine.state import ElementInstance
from legato.model import (
    EndEvent,
    Event,
    IntermediateCatchEvent,
    LinkEventDefinition,
    TerminateEventDefinition,
)


class EventProcessor(ElementProcessor[Event]):
    """None events pass through; link throws jump to their catch; terminate ends the scope."""

    def execute(self, p: Processing, instance: ElementInstance, element: Event) -> None:
        definitions = element.event_definitions
        if not definitions:
            p.complete(instance)
            return
        definition = definitions[0]
        if isinstance(definition, TerminateEventDefinition) and isinstance(element, EndEvent):
            self._terminate_scope(p, instance)
            p.complete(instance)
            return
        if isinstance(definition, LinkEventDefinition):
            if isinstance(element, IntermediateCatchEvent):
                p.complete(instance)
                return
            self._jump(p, instance, element, definition)
            return
        kind = type(definition).__name__.removesuffix("EventDefinition").lower()
        raise IncidentError(
            "unsupported",
            f"{kind} event '{element.element_id}' cannot be executed in this version",
        )

    def _terminate_scope(self, p: Processing, instance: ElementInstance) -> None:
        assert instance.parent_key is not None
        scope = p.state.elements[instance.parent_key]
        for key in sorted(scope.children, reverse=True):
            sibling = p.state.elements.get(key)
            if sibling is not None and key != instance.key:
                p.terminate(sibling)
        for slot in [s for s in p.state.joins if s[0] == scope.key]:
            flows = p.state.joins[slot]
            from legato.engine import events as ev

            p.emit(
                ev.JoinTokensConsumed(
                    at=p.ctx.now, scope_key=slot[0], element_id=slot[1], consumed=dict(flows)
                )
            )

    def _jump(
        self, p: Processing, instance: ElementInstance, element: Event, link: LinkEventDefinition
    ) -> None:
        for candidate_id in p.process.children.get(element.scope_id, ()):
            candidate = p.process.element(candidate_id)
            if isinstance(candidate, IntermediateCatchEvent) and any(
                isinstance(d, LinkEventDefinition) and d.name == link.name
                for d in candidate.event_definitions
            ):
                scope_key = instance.parent_key
                assert scope_key is not None
                self.map_outputs(p, instance, element)
                p.finish(instance, [])
                p.activate(candidate, scope_key, None)
                return
        raise IncidentError("link", f"no link catch event named '{link.name}' in this scope")
