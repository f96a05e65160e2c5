"""A loaded DMN model, ready to evaluate its decisions, services and knowledge models."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from legato.dmn._drg import DrgRun, evaluate_service
from legato.dmn._evaluation import Evaluation, invoke
from legato.dmn.model import (
    BusinessKnowledgeModel,
    Decision,
    DecisionService,
    Definitions,
    InputData,
)
from legato.dmn.result import DecisionResult, RuleMatch
from legato.dmn.types import TypeRegistry
from legato.errors import DecisionError
from legato.feel import FeelLimitError
from legato.feel.limits import sharing_budget
from legato.feel.values import to_feel


class DecisionModel:
    """One DMN model (a ``definitions`` file), compiled; evaluation never touches XML.

    Evaluations are independent: a model may be shared between threads.
    """

    def __init__(self, definitions: Definitions, types: TypeRegistry) -> None:
        self.definitions = definitions
        """The compiled model objects."""
        self.types = types
        """The model's item definitions, resolved."""
        self.imports: dict[str, DecisionModel] = {}
        """The imported models, by import name."""
        self.decisions_by_id = {d.element_id: d for d in definitions.decisions}
        self.inputs_by_id = {i.element_id: i for i in definitions.inputs}
        self.knowledge_by_id = {k.element_id: k for k in definitions.knowledge_models}
        self.services_by_id = {s.element_id: s for s in definitions.services}

    @property
    def name(self) -> str:
        """The model name."""
        return self.definitions.name

    @property
    def namespace(self) -> str:
        """The model namespace."""
        return self.definitions.namespace

    @property
    def decisions(self) -> tuple[Decision, ...]:
        """The decisions, in document order."""
        return self.definitions.decisions

    @property
    def inputs(self) -> tuple[InputData, ...]:
        """The input data, in document order."""
        return self.definitions.inputs

    @property
    def problems(self) -> tuple[str, ...]:
        """Expressions that did not compile (they evaluate to null with this error)."""
        return self.definitions.problems

    def link(self, import_name: str, model: DecisionModel) -> None:
        """Resolve the import ``import_name`` to ``model`` (done by the loaders)."""
        self.imports[import_name] = model
        self.types.link(import_name, model.types)

    def evaluate(
        self,
        decision: str,
        inputs: Mapping[str, Any] | None = None,
        *,
        now: dt.datetime | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> DecisionResult:
        """Evaluate a decision and, first, every decision it requires.

        Args:
            decision: The decision's name or id.
            inputs: Values of the input data by name (Python or FEEL values). Inputs of an
                imported model go in a nested mapping under the import name, or under the
                key ``"{namespace}name"``.
            now: The instant ``now()`` and ``today()`` return (default: the system clock).
            context: Variables every decision sees beneath what it requires, as a process
                engine passes its variables to a business rule task (the spec's strict
                scoping when omitted).

        Raises:
            DecisionError: If the model has no such decision.
        """
        found = self._decision(decision)
        ev, errors, matches = self._evaluation(now)
        given = to_feel(inputs if type(inputs) is dict else dict(inputs or {}))
        run = DrgRun(given, ev, to_feel(dict(context)) if context else None)

        def evaluate() -> tuple[Any, Mapping[str, Any]]:
            return run.decision(self, found, ()), run.outputs

        value, outputs = _within_limits(evaluate, errors)
        return _result(found.name, value, errors, matches, outputs)

    def evaluate_service(
        self,
        service: str,
        inputs: Mapping[str, Any] | None = None,
        *,
        now: dt.datetime | None = None,
    ) -> DecisionResult:
        """Evaluate a decision service with its input decisions and data given by name.

        The value is the output decision's value, or a context of them when there are
        several; :attr:`DecisionResult.outputs` has each output decision's value.

        Raises:
            DecisionError: If the model has no such decision service.
        """
        found = self._service(service)
        ev, errors, matches = self._evaluation(now)
        given = to_feel(dict(inputs or {}))
        value, outputs = _within_limits(lambda: evaluate_service(self, found, given, ev), errors)
        return _result(found.name, value, errors, matches, outputs)

    def invoke(
        self,
        knowledge_model: str,
        arguments: Sequence[Any] | Mapping[str, Any],
        *,
        now: dt.datetime | None = None,
    ) -> DecisionResult:
        """Invoke a business knowledge model (or a decision service) as a function.

        Args:
            knowledge_model: Its name or id.
            arguments: Positional arguments, or arguments by parameter name.
            now: The instant ``now()`` and ``today()`` return.

        Raises:
            DecisionError: If the model has no such knowledge model or service.
        """
        element = self._knowledge(knowledge_model)
        ev, errors, matches = self._evaluation(now)
        function = DrgRun({}, ev).function(self, element.element_id, ())
        if isinstance(arguments, Mapping):
            args = [to_feel(v) for v in arguments.values()]
            names: list[str] | None = list(arguments)
        else:
            args, names = [to_feel(v) for v in arguments], None
        value, _ = _within_limits(lambda: (invoke(function, args, names, ev), {}), errors)
        return _result(element.name, value, errors, matches, {})

    def _evaluation(self, now: dt.datetime | None) -> tuple[Evaluation, list[str], list[RuleMatch]]:
        errors: list[str] = []
        matches: list[RuleMatch] = []
        instant = now or dt.datetime.now(dt.UTC)
        return Evaluation(instant, errors.append, matches, self.types), errors, matches

    def _decision(self, key: str) -> Decision:
        for decision in self.definitions.decisions:
            if key in (decision.name, decision.element_id):
                return decision
        raise DecisionError(f"model '{self.name}' has no decision '{key}'")

    def _service(self, key: str) -> DecisionService:
        for service in self.definitions.services:
            if key in (service.name, service.element_id):
                return service
        raise DecisionError(f"model '{self.name}' has no decision service '{key}'")

    def _knowledge(self, key: str) -> BusinessKnowledgeModel | DecisionService:
        for bkm in self.definitions.knowledge_models:
            if key in (bkm.name, bkm.element_id):
                return bkm
        for service in self.definitions.services:
            if key in (service.name, service.element_id):
                return service
        raise DecisionError(f"model '{self.name}' has no business knowledge model '{key}'")

    def __repr__(self) -> str:
        return f"DecisionModel({self.name!r}, {len(self.decisions)} decisions)"


def _within_limits(
    evaluate: Callable[[], tuple[Any, Mapping[str, Any]]], errors: list[str]
) -> tuple[Any, Mapping[str, Any]]:
    """Run an evaluation of the model whose expressions share one budget of FEEL limits.

    Passing a limit stops the whole evaluation: its value is null, with the error.
    """
    try:
        return sharing_budget(evaluate)
    except FeelLimitError as error:
        errors.append(str(error))
        return None, {}


def _result(
    name: str,
    value: Any,
    errors: list[str],
    matches: list[RuleMatch],
    outputs: Mapping[str, Any],
) -> DecisionResult:
    unique = tuple(dict.fromkeys(errors))
    return DecisionResult(name, value, unique, tuple(matches), dict(outputs))
