"""Evaluating the decision requirements graph: requirements first, each decision once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from legato.dmn._boxed import DmnFunction, evaluate
from legato.dmn._evaluation import Evaluation
from legato.dmn.model import (
    BusinessKnowledgeModel,
    Decision,
    DecisionService,
    DecisionTable,
    FunctionDefinition,
    Href,
    InputData,
    Requirements,
)
from legato.dmn.types import TypeRegistry, coerce
from legato.feel import FeelFunction
from legato.feel.runtime import Run

_MISSING: Any = object()


class GraphModel(Protocol):
    """What evaluating the graph reads of a loaded model (its elements by id, its types and
    the models it imports); :class:`~legato.dmn.decision_model.DecisionModel` is one."""

    @property
    def name(self) -> str: ...

    @property
    def namespace(self) -> str: ...

    @property
    def types(self) -> TypeRegistry: ...

    @property
    def imports(self) -> Mapping[str, GraphModel]: ...

    @property
    def decisions_by_id(self) -> Mapping[str, Decision]: ...

    @property
    def inputs_by_id(self) -> Mapping[str, InputData]: ...

    @property
    def knowledge_by_id(self) -> Mapping[str, BusinessKnowledgeModel]: ...

    @property
    def services_by_id(self) -> Mapping[str, DecisionService]: ...


class DrgRun:
    """One evaluation of the graph: inputs, the values computed so far, the functions made."""

    def __init__(
        self, inputs: Mapping[str, Any], ev: Evaluation, context: Mapping[str, Any] | None = None
    ) -> None:
        self.inputs = inputs
        self.ev = ev
        self.context = dict(context or {})
        """Variables every element sees beneath its requirements (a process's variables)."""
        self.values: dict[tuple[str, str], Any] = {}
        self.outputs: dict[str, Any] = {}
        self._active: set[tuple[str, str]] = set()
        self._functions: dict[tuple[str, str], FeelFunction] = {}

    def supply(self, model: GraphModel, decision: Decision, value: Any) -> None:
        """Use ``value`` for ``decision`` instead of evaluating it (a service's input)."""
        ev = self.ev.within(decision.name, model.types)
        self.values[(model.namespace, decision.element_id)] = ev.conform(
            value, decision.type_ref, f"decision '{decision.name}'"
        )

    def decision(self, model: GraphModel, decision: Decision, path: tuple[str, ...]) -> Any:
        """The value of ``decision``, evaluating its requirements first (once per run)."""
        key = (model.namespace, decision.element_id)
        if key in self.values:
            return self.values[key]
        if key in self._active:
            self.ev.warn(f"decision '{decision.name}' requires itself")
            return None
        self._active.add(key)
        try:
            ev = self.ev.within(decision.name, model.types)
            env = self.environment(model, decision.requirements, path)
            value = evaluate(decision.expression, env, ev)
            value = ev.conform(value, decision.type_ref, f"decision '{decision.name}'")
        finally:
            self._active.discard(key)
        self.values[key] = value
        if not path:
            self.outputs[decision.name] = value
        return value

    def environment(
        self, model: GraphModel, requirements: Requirements, path: tuple[str, ...]
    ) -> dict[str, Any]:
        """The variables an element sees: its required decisions, inputs and knowledge."""
        env: dict[str, Any] = dict(self.context)
        for href in requirements.decisions:
            found = self._resolve(model, href, path)
            if found is not None:
                target, prefix, where = found
                element = target.decisions_by_id.get(href.element_id)
                if element is None:
                    self.ev.warn(f"required decision '{href.element_id}' is not in the model")
                    continue
                value = self.decision(target, element, where)
                _bind(env, prefix, element.name, value)
                alias = _output_name(element)
                if prefix is None and alias is not None:
                    env.setdefault(alias, value)
        for href in requirements.inputs:
            found = self._resolve(model, href, path)
            if found is not None:
                target, prefix, where = found
                data = target.inputs_by_id.get(href.element_id)
                if data is None:
                    self.ev.warn(f"required input '{href.element_id}' is not in the model")
                    continue
                _bind(env, prefix, data.name, self.input_value(target, data, where))
        for href in requirements.knowledge:
            found = self._resolve(model, href, path)
            if found is not None:
                target, prefix, where = found
                function = self.function(target, href.element_id, where)
                if function is not None:
                    _bind(env, prefix, function.name, function)
        return env

    def input_value(self, model: GraphModel, data: InputData, path: tuple[str, ...]) -> Any:
        """The caller's value of an input, converted to its type (null when it does not fit)."""
        key = (model.namespace, data.element_id)
        if key not in self.values:
            inputs = self.inputs
            if not path and type(inputs) is dict:
                value = inputs.get(data.name, _MISSING)
            else:
                value = _lookup(inputs, path, data.name)
            if value is _MISSING:
                value = self.inputs.get(f"{{{model.namespace}}}{data.name}")
            if value is not None and data.type_ref is not None:
                dmn_type = model.types.resolve(data.type_ref)
                if dmn_type is not None and not dmn_type.test(value):
                    ev = self.ev.within(data.name, model.types)
                    value = ev.conform(value, data.type_ref, f"input '{data.name}'")
            self.values[key] = value
        return self.values[key]

    def function(
        self, model: GraphModel, element_id: str, path: tuple[str, ...]
    ) -> FeelFunction | None:
        """The function a business knowledge model or decision service denotes."""
        key = (model.namespace, element_id)
        if key in self._functions:
            return self._functions[key]
        bkm = model.knowledge_by_id.get(element_id)
        service = model.services_by_id.get(element_id)
        function: FeelFunction
        if bkm is not None:
            function = self._bkm_function(model, bkm, path)
        elif service is not None:
            function = ServiceFunction(model, service, self.ev)
            self._functions[key] = function
        else:
            self.ev.warn(f"required knowledge '{element_id}' is not in the model")
            return None
        return function

    def _bkm_function(
        self, model: GraphModel, bkm: BusinessKnowledgeModel, path: tuple[str, ...]
    ) -> FeelFunction:
        env: dict[str, Any] = {}
        logic = bkm.logic or FunctionDefinition((), None)
        function = DmnFunction(bkm.name, logic, env, self.ev.within(bkm.name, model.types))
        self._functions[(model.namespace, bkm.element_id)] = function
        env.update(self.environment(model, bkm.requirements, path))
        return function

    def _resolve(
        self, model: GraphModel, href: Href, path: tuple[str, ...]
    ) -> tuple[GraphModel, str | None, tuple[str, ...]] | None:
        if href.namespace is None or href.namespace == model.namespace:
            return model, None, path
        for name, imported in model.imports.items():
            if imported.namespace == href.namespace:
                return imported, name, (*path, name)
        self.ev.warn(f"no import of namespace '{href.namespace}' in model '{model.name}'")
        return None


def _output_name(decision: Decision) -> str | None:
    """The name of the one output of a decision table, when it is not the decision's name.

    Camunda 7 shows a required decision's result to the decisions that require it under its
    output name (``desiredDish`` of the decision ``Dish``); the name is bound too, beneath
    everything the specification binds, so such models evaluate as they do there.
    """
    table = decision.expression
    if not isinstance(table, DecisionTable) or len(table.outputs) != 1:
        return None
    name = table.outputs[0].name
    return name if name and name != decision.name else None


def _bind(env: dict[str, Any], prefix: str | None, name: str, value: Any) -> None:
    if prefix is None:
        env[name] = value
        return
    scope = env.setdefault(prefix, {})
    if isinstance(scope, dict):
        scope[name] = value


def _lookup(inputs: Mapping[str, Any], path: tuple[str, ...], name: str) -> Any:
    scope: Any = inputs
    for step in path:
        if not isinstance(scope, Mapping) or step not in scope:
            return _MISSING
        scope = scope[step]
    if isinstance(scope, Mapping) and name in scope:
        return scope[name]
    return _MISSING


def evaluate_service(
    model: GraphModel, service: DecisionService, args: Mapping[str, Any], ev: Evaluation
) -> tuple[Any, dict[str, Any]]:
    """Evaluate a decision service: its value and the value of each output decision."""
    run = DrgRun(args, ev)
    for href in service.input_decisions:
        decision = model.decisions_by_id.get(href.element_id)
        if decision is not None:
            run.supply(model, decision, args.get(decision.name))
    outputs: dict[str, Any] = {}
    for href in service.output_decisions:
        decision = model.decisions_by_id.get(href.element_id)
        if decision is None:
            ev.warn(f"{service.name}: output decision '{href.element_id}' is not in the model")
            continue
        outputs[decision.name] = run.decision(model, decision, ())
    value: Any = next(iter(outputs.values())) if len(outputs) == 1 else dict(outputs)
    typed = ev.within(service.name, model.types).conform(
        value, service.type_ref, f"decision service '{service.name}'"
    )
    if typed is None and value is not None:
        outputs = dict.fromkeys(outputs)
    return typed, outputs


def service_parameters(model: GraphModel, service: DecisionService) -> list[str]:
    """The parameter names of the function a decision service denotes, in order."""
    return [name for name, _ in service_signature(model, service)]


def service_signature(model: GraphModel, service: DecisionService) -> list[tuple[str, str | None]]:
    """The parameters (name, type) of a decision service: input data, then input decisions."""
    params = [
        (data.name, data.type_ref)
        for data in (model.inputs_by_id.get(h.element_id) for h in service.input_data)
        if data is not None
    ]
    params += [
        (decision.name, decision.type_ref)
        for decision in (model.decisions_by_id.get(h.element_id) for h in service.input_decisions)
        if decision is not None
    ]
    return params


class ServiceFunction(FeelFunction):
    """The function a decision service denotes (invoked from another decision)."""

    def __init__(self, model: GraphModel, service: DecisionService, ev: Evaluation) -> None:
        self.name = service.name
        self.model = model
        self.service = service
        self.ev = ev

    def invoke(self, run: Run, args: Sequence[Any], names: Sequence[str] | None = None) -> Any:
        """Evaluate the service with the arguments as its input decisions and data."""
        signature = service_signature(self.model, self.service)
        params = [name for name, _ in signature]
        if names:
            unknown = [name for name in names if name not in params]
            if unknown:
                run.warn(f"{self.name}: no parameter named '{unknown[0]}'")
                return None
            bound = dict(zip(names, args, strict=True))
        elif len(args) != len(params):
            run.warn(f"{self.name}: expects {len(params)} arguments, got {len(args)}")
            return None
        else:
            bound = dict(zip(params, args, strict=True))
        ev = Evaluation(run.now, run.warn, self.ev.matches, self.model.types, self.name)
        for name, type_ref in signature:
            _, ok = coerce(bound.get(name), self.model.types.resolve(type_ref))
            if not ok:
                run.warn(f"{self.name}: argument '{name}' does not conform to type '{type_ref}'")
                return None
        value, _ = evaluate_service(self.model, self.service, bound, ev)
        return value
