"""Instance migration for operators: a plan, a check of each instance, and the move.

A :class:`MigrationPlan` names a source and a target process version and the element mappings
where ids differ (same ids map by themselves), optional variables to set (FEEL, evaluated per
instance) and whether timers whose definition changed are set anew. The check runs the
engine's own migration on a copy of each instance's stored state, so it reports exactly what
the migration would do, or why the instance cannot move (see
:mod:`legato.engine.migration_planner`); nothing is written. The migration checks every
instance first and then moves them all in one transaction: one instance that does not fit, or
that changed meanwhile, moves none.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from legato.engine import commands as cmd
from legato.engine import events as ev
from legato.engine.context import DeployedProcess
from legato.engine.state import InstanceState
from legato.engine.step import step
from legato.errors import LegatoError, MigrationError, NotFoundError
from legato.model import Expression
from legato.runtime.definitions import DefinitionRegistry
from legato.runtime.executor import CommandExecutor
from legato.store._rules import iter_chunks
from legato.store.ports import Store

MAX_INSTANCES = 10_000
"""The most instances one call migrates (one transaction)."""
_READ_CHUNK = 500
"""Instance states a dry run reads per transaction."""


@dataclass(frozen=True, slots=True)
class MigrationPlan:
    """Which version moves to which, and how (see :meth:`legato.Engine.migration_plan`)."""

    process_id: str
    source_version: int
    source_definition_key: int
    target_process_id: str
    target_version: int
    target_definition_key: int
    mappings: tuple[tuple[str, str], ...] = ()
    """``(source element id, target element id)`` where the ids differ."""
    variables: tuple[tuple[str, str], ...] = ()
    """``(name, FEEL expression)`` set on the root scope of each migrated instance."""
    recreate_timers: bool = False

    def command(self, instance_key: int, by: str | None = None) -> cmd.MigrateInstance:
        """The engine command that migrates one instance by this plan."""
        return cmd.MigrateInstance(
            instance_key=instance_key,
            target_definition_key=self.target_definition_key,
            mappings=self.mappings,
            variables=self.variables,
            recreate_timers=self.recreate_timers,
            by=by,
        )


@dataclass(frozen=True, slots=True)
class MigrationCheck:
    """What migrating one instance would do: ``ok`` and the ``changes`` in words, or the
    ``reason`` it cannot."""

    instance_key: int
    ok: bool
    reason: str | None = None
    changes: tuple[str, ...] = ()


def make_plan(
    store: Store,
    definitions: DefinitionRegistry,
    process_id: str,
    source_version: int,
    target_version: int,
    mappings: Mapping[str, str] | None,
    *,
    target_process_id: str | None,
    variables: Mapping[str, str] | None,
    recreate_timers: bool,
) -> MigrationPlan:
    """A plan, its element ids and expressions checked against the two versions.

    Raises:
        NotFoundError: a version is not deployed.
        MigrationError: a mapping names an element a version does not have, or a variable
            expression is not FEEL.
    """
    target_id = target_process_id or process_id
    with store.transaction() as tx:
        source_record = tx.find_definition(process_id, source_version)
        target_record = tx.find_definition(target_id, target_version)
    if source_record is None:
        raise NotFoundError(f"process '{process_id}' has no version {source_version}")
    if target_record is None:
        raise NotFoundError(f"process '{target_id}' has no version {target_version}")
    source = definitions.get(source_record.definition_key)
    target = definitions.get(target_record.definition_key)
    pairs = tuple(sorted((mappings or {}).items()))
    for before, after in pairs:
        _known(source, before, "source")
        _known(target, after, "target")
    for name, expression in (variables or {}).items():
        try:
            Expression.compile(expression)
        except LegatoError as exc:
            raise MigrationError(f"the variable '{name}' of the plan: {exc}") from None
    return MigrationPlan(
        process_id=process_id,
        source_version=source_version,
        source_definition_key=source.definition_key,
        target_process_id=target_id,
        target_version=target_version,
        target_definition_key=target.definition_key,
        mappings=pairs,
        variables=tuple((variables or {}).items()),
        recreate_timers=recreate_timers,
    )


def _known(deployed: DeployedProcess, element_id: str, side: str) -> None:
    if element_id not in deployed.process.elements:
        raise MigrationError(
            f"the plan maps the {side} element '{element_id}', and version {deployed.version} "
            f"of '{deployed.process_id}' has no element with that id"
        )


def check(
    store: Store, executor: CommandExecutor, plan: MigrationPlan, instance_keys: Sequence[int]
) -> list[MigrationCheck]:
    """One check per instance, in the order given; nothing is written."""
    _bounded(instance_keys)
    fresh = itertools.count(-1, -1)  # keys for the dry run only: negative, never stored
    wanted = list(dict.fromkeys(instance_keys))
    states: dict[int, InstanceState] = {}
    for chunk in iter_chunks(wanted, _READ_CHUNK):
        with store.transaction() as tx:
            for record in tx.get_instances(chunk):
                data = dict(record.state)
                data.pop("history_length", None)
                states[record.instance_key] = InstanceState.from_json(data)
    results = []
    for key in wanted:
        state = states.get(key)
        if state is None:
            results.append(MigrationCheck(key, False, f"no instance with key {key}"))
            continue
        reason = _unfit(state, plan)
        if reason is not None:
            results.append(MigrationCheck(key, False, reason))
            continue
        context = dataclasses.replace(executor.context(), new_key=lambda: next(fresh))
        try:
            outcome = step(state, plan.command(key), context)
        except LegatoError as exc:
            results.append(MigrationCheck(key, False, str(exc)))
            continue
        results.append(MigrationCheck(key, True, None, _changes(outcome.events, key)))
    return results


def migrate(
    store: Store,
    executor: CommandExecutor,
    plan: MigrationPlan,
    instance_keys: Sequence[int],
    by: str | None,
) -> list[int]:
    """Migrate every instance of ``instance_keys`` or none (see the module docstring).

    Raises:
        MigrationError: an instance does not fit the plan (``problems`` says why, for each);
            nothing was migrated.
    """
    checks = check(store, executor, plan, instance_keys)
    problems = {c.instance_key: c.reason or "" for c in checks if not c.ok}
    if problems:
        first = next(iter(problems.items()))
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise MigrationError(
            f"nothing was migrated: instance {first[0]} cannot move: {first[1]}{more}", problems
        )
    keys = [c.instance_key for c in checks]
    outcomes = executor.execute([plan.command(k, by) for k in keys], all_or_nothing=True)
    for outcome in outcomes:
        if outcome.error is not None:
            raise MigrationError(
                f"nothing was migrated: instance {outcome.command.instance_key} changed "
                f"meanwhile: {outcome.error}",
                {outcome.command.instance_key: str(outcome.error)},
            )
    return keys


def _bounded(instance_keys: Sequence[int]) -> None:
    if len(instance_keys) > MAX_INSTANCES:
        raise MigrationError(
            f"at most {MAX_INSTANCES:,} instances per migration, not {len(instance_keys):,}"
        )


def _unfit(state: InstanceState, plan: MigrationPlan) -> str | None:
    key = state.instance_key
    if not state.is_active:
        return f"instance {key} is {state.status}"
    if state.definition_key != plan.source_definition_key:
        return (
            f"instance {key} runs version {state.version} of '{state.process_id}', and the plan "
            f"migrates version {plan.source_version} of '{plan.process_id}'"
        )
    return None


def _changes(events: Sequence[ev.Event], instance_key: int) -> tuple[str, ...]:
    """What a migration's events do, in words."""
    changes: list[str] = []
    for event in events:
        if isinstance(event, ev.InstanceMigrated):
            changes.append(f"moves to version {event.version} of '{event.process_id}'")
            changes += [
                f"the token at '{before}' moves to '{after}'"
                if before != after
                else f"the token at '{before}' stays at '{after}'"
                for key, before, after in event.elements
                if key != instance_key
            ]
            changes += [f"job {key} gets the type '{kind}'" for key, kind in event.job_types]
        elif isinstance(event, ev.TimerScheduled):
            changes.append(f"waits for the timer '{event.element_id}' until {event.due_at}")
        elif isinstance(event, ev.SubscriptionOpened):
            changes.append(f"waits for the {event.kind} '{event.name}' at '{event.element_id}'")
        elif isinstance(event, ev.IncidentRaised):
            changes.append(f"an incident at '{event.element_id}': {event.message}")
        elif isinstance(event, ev.VariableSet):
            changes.append(f"sets the variable '{event.name}'")
    return tuple(changes)
