"""Events: start, end, catch and throw events of every kind, receive tasks and event-based
gateways.

Start and boundary events are entered once their event has happened, so they complete at
once. A catch event (and a receive task) waits for its timer, message, signal or condition.
Throw events throw: errors and escalations go up the scopes to their catch events, signals and
messages go to the runtime to be broadcast or correlated; a message throw event with a job
type is a job, like a send task.
"""

from __future__ import annotations

from legato.engine import events as ev
from legato.engine.commands import (
    BroadcastSignal,
    EscalateFromChild,
    PublishMessage,
    ThrowErrorFromChild,
)
from legato.engine.incident import IncidentError
from legato.engine.processors.base import ActivityProcessor, ElementProcessor
from legato.engine.processors.compensation import cancel, compensate
from legato.engine.processors.errors import throw_error, throw_escalation
from legato.engine.processors.signals import catch_signal
from legato.engine.processors.tasks import create_job
from legato.engine.processors.waits import correlation_value, open_wait
from legato.engine.protocols import Processing
from legato.engine.state import ElementInstance
from legato.model import (
    Activity,
    BoundaryEvent,
    CancelEventDefinition,
    CompensateEventDefinition,
    EndEvent,
    ErrorEventDefinition,
    EscalationEventDefinition,
    Event,
    EventDefinition,
    Gateway,
    IntermediateCatchEvent,
    LinkEventDefinition,
    MessageEventDefinition,
    SignalEventDefinition,
    StartEvent,
    TerminateEventDefinition,
)
from legato.model.queries import definition_of, waits_for_something


class EventProcessor(ElementProcessor[Event]):
    """Every kind of event."""

    def execute(self, p: Processing, instance: ElementInstance, element: Event) -> None:
        definitions = element.event_definitions
        definition = definitions[0] if definitions else None
        assert instance.parent_key is not None
        pretriggered = p.pretriggered.pop((instance.parent_key, element.element_id), None)
        if definition is None or isinstance(element, (StartEvent, BoundaryEvent)):
            p.complete(instance)
        elif pretriggered is not None:
            if pretriggered:
                p.set_all_propagating(instance.key, pretriggered)
            p.complete(instance)
        elif isinstance(element, IntermediateCatchEvent):
            if isinstance(definition, LinkEventDefinition):
                p.complete(instance)
            else:
                open_wait(p, instance, element)
        else:
            self._throw(p, instance, element)

    def _throw(self, p: Processing, instance: ElementInstance, element: Event) -> None:
        definitions = element.event_definitions
        if len(definitions) > 1 and all(
            isinstance(
                d, (SignalEventDefinition, MessageEventDefinition, EscalationEventDefinition)
            )
            for d in definitions
        ):
            # A multiple throw event throws every one of its events.
            for definition in definitions:
                self._throw_one(p, instance, element, definition, complete=False)
                if instance.key not in p.state.elements:
                    return
            p.complete(instance)
            return
        self._throw_one(p, instance, element, definition_of(element), complete=True)

    def _throw_one(
        self,
        p: Processing,
        instance: ElementInstance,
        element: Event,
        definition: EventDefinition | None,
        complete: bool,
    ) -> None:
        if isinstance(definition, TerminateEventDefinition):
            self._terminate_scope(p, instance)
            p.complete(instance)
        elif isinstance(definition, LinkEventDefinition):
            self._jump(p, instance, element, definition)
        elif isinstance(definition, ErrorEventDefinition):
            self._throw_error(p, instance, element, definition)
        elif isinstance(definition, EscalationEventDefinition):
            code = definition.escalation_code or ""
            state = p.state
            caught = throw_escalation(p, instance, code)
            if not caught and state.parent_element_instance_key is not None:
                assert state.parent_instance_key is not None
                p.follow_ups.append(
                    EscalateFromChild(
                        instance_key=state.parent_instance_key,
                        element_instance_key=state.parent_element_instance_key,
                        child_instance_key=state.instance_key,
                        escalation_code=code,
                    )
                )
            if complete and instance.key in p.state.elements:
                p.complete(instance)
        elif isinstance(definition, SignalEventDefinition):
            variables = p.variables_of(instance.key) if element.input_mappings else {}
            name = definition.signal_name or ""
            # The instance's own catch events hear the signal at once, as it is thrown; other
            # instances hear it when the runtime broadcasts it after this step.
            catch_signal(p, name, variables)
            p.signals.append(
                BroadcastSignal(
                    name=name, variables=variables, source_instance_key=p.state.instance_key
                )
            )
            if complete and instance.key in p.state.elements:
                p.complete(instance)
        elif isinstance(definition, MessageEventDefinition):
            self._send(p, instance, element, definition, complete)
        elif isinstance(definition, CompensateEventDefinition):
            compensate(p, instance, definition.activity_ref)
        elif isinstance(definition, CancelEventDefinition) and isinstance(element, EndEvent):
            cancel(p, instance)
        else:
            kind = type(definition).__name__.removesuffix("EventDefinition").lower()
            raise IncidentError(
                "unsupported", f"{kind} event '{element.element_id}' cannot be executed"
            )

    def _throw_error(
        self,
        p: Processing,
        instance: ElementInstance,
        element: Event,
        definition: ErrorEventDefinition,
    ) -> None:
        code = definition.error_code or definition.error_name or ""
        if throw_error(p, instance, code, definition.error_name or "", {}):
            return
        state = p.state
        if state.parent_instance_key is not None and state.parent_element_instance_key is not None:
            p.follow_ups.append(
                ThrowErrorFromChild(
                    instance_key=state.parent_instance_key,
                    element_instance_key=state.parent_element_instance_key,
                    child_instance_key=state.instance_key,
                    error_code=code,
                )
            )
            return
        raise IncidentError(
            "unhandled_error",
            f"error '{code}' thrown by '{element.element_id}' is caught by no event",
        )

    def _send(
        self,
        p: Processing,
        instance: ElementInstance,
        element: Event,
        definition: MessageEventDefinition,
        complete: bool = True,
    ) -> None:
        job_type = getattr(element, "job_type", None)
        if job_type is not None:
            create_job(p, instance, element, job_type)  # a handler sends it
            return
        key = None
        if definition.correlation_key is not None:
            key = correlation_value(p.evaluate(definition.correlation_key, instance.key))
        variables = p.variables_of(instance.key) if element.input_mappings else {}
        p.messages.append(
            PublishMessage(
                name=definition.message_name or "", correlation_key=key, variables=variables
            )
        )
        if complete:
            p.complete(instance)

    def _terminate_scope(self, p: Processing, instance: ElementInstance) -> None:
        assert instance.parent_key is not None
        scope = p.state.elements[instance.parent_key]
        for key in sorted(scope.children, reverse=True):
            sibling = p.state.elements.get(key)
            if sibling is not None and key != instance.key:
                p.terminate(sibling)
        for slot in [s for s in p.state.joins if s[0] == scope.key]:
            flows = p.state.joins[slot]
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
                p.activate(p.plan.nodes[candidate_id], scope_key, None)
                return
        raise IncidentError("link", f"no link catch event named '{link.name}' in this scope")

    def on_terminate(self, p: Processing, instance: ElementInstance, element: Event) -> None:
        if instance.job_key is not None:
            p.emit(ev.JobCanceled(at=p.ctx.now, job_key=instance.job_key))


class ReceiveTaskProcessor(ActivityProcessor):
    """Waits for its message (received already when an instantiating one started the
    instance)."""

    def execute(self, p: Processing, instance: ElementInstance, element: Activity) -> None:
        assert instance.parent_key is not None
        if p.pretriggered.pop((instance.parent_key, element.element_id), None) is not None:
            p.complete(instance)
        else:
            open_wait(p, instance, element)


class EventBasedGatewayProcessor(ElementProcessor[Gateway]):
    """Waits for the first of the events after it; the others are cancelled."""

    def execute(self, p: Processing, instance: ElementInstance, element: Gateway) -> None:
        for flow in p.plan.nodes[element.element_id].outgoing:
            target = flow.target.element
            if waits_for_something(target):
                open_wait(p, instance, target)
