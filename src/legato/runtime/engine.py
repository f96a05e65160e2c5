"""The embedded engine: deploy models, start instances, run handlers, operate incidents.

```python
engine = Engine("sqlite:///legato.db")
engine.deploy("onboarding.bpmn")

@engine.task("credit-check")
def credit_check(job):
    return {"score": 742}

instance = engine.start("onboarding", variables={"name": "Ada"}, business_key="cust-42")
engine.run_until_idle()
```
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from legato import dmn
from legato.bpmn import Profile
from legato.engine import commands as cmd
from legato.engine.state import InstanceState
from legato.engine.values import checked_variables
from legato.errors import (
    ExpressionError,
    InvalidCommandError,
    NotFoundError,
    StoreError,
    StoreUnavailableError,
)
from legato.feel import FeelLimits, use_limits
from legato.model import ConditionalEventDefinition, RetryPolicy, StartEvent
from legato.model.queries import definition_of
from legato.model.sensitive import SensitiveSelector
from legato.runtime import queries
from legato.runtime.alerting import AlertMethods
from legato.runtime.arguments import checked_arguments
from legato.runtime.batches import run_batch
from legato.runtime.clock import Clock, DatabaseClock, SystemClock
from legato.runtime.cockpit import CockpitMethods
from legato.runtime.definitions import DECISION_PREFIX, DefinitionRegistry, Deployment
from legato.runtime.delivery import EventDelivery
from legato.runtime.deploy import Deployer
from legato.runtime.encryption import DeclaredSensitivity, encrypted_store, selector_of
from legato.runtime.executor import BatchObserver, CommandExecutor, Outcome
from legato.runtime.external import MAX_PARKED_FETCHES, ExternalJobs, FetchParking
from legato.runtime.gauges import DatabaseGauges
from legato.runtime.groupcommit import GroupCommit
from legato.runtime.handlers import (
    Handler,
)
from legato.runtime.jobs import JobRunner, report_noted, secret_references
from legato.runtime.keys import KeyAllocator
from legato.runtime.masking import Masking
from legato.runtime.metrics import EngineMetrics
from legato.runtime.migrating import MigrationMethods
from legato.runtime.migration_batches import MigrationBatches
from legato.runtime.node import NodeAgent
from legato.runtime.rollout import VersionChooser
from legato.runtime.sla import AlertConfig
from legato.runtime.slots import Finished
from legato.runtime.tasks import UserTaskMethods
from legato.runtime.types import (
    ActivatedJob,
    BatchResult,
    HistoryEntry,
    InstanceFilter,
    InstanceInfo,
    Job,
    JobContext,
    JobRequest,
    PublishResult,
)
from legato.runtime.versions import VersionMethods
from legato.runtime.webhooks import Webhook, WebhookDelivery
from legato.safexml import ModelSource
from legato.security.keyring import KeyRing
from legato.security.secrets import EnvironmentSecrets, SecretsProvider, resolve
from legato.security.sensitive import SensitiveData, SensitivePolicy, Viewer, load_policy
from legato.store.instances import Instances
from legato.store.ports import Listener, Store, Transaction
from legato.store.records import (
    SUSPENDED,
    DefinitionRecord,
    IncidentRecord,
    JobRecord,
    MessageRecord,
    NodeRecord,
    SubscriptionRecord,
)

if TYPE_CHECKING:
    from legato.runtime.tracing import Tracing

F = TypeVar("F", bound=Handler)
logger = logging.getLogger("legato.engine")

DEFAULT_DATABASE = "sqlite:///legato.db"


@checked_arguments
class Engine(UserTaskMethods, CockpitMethods, VersionMethods, AlertMethods, MigrationMethods):
    """A Legato engine over a database (SQLite by default).

    Args:
        url: a SQLAlchemy database URL; ``sqlite:///legato.db`` when omitted.
        store: a store to use instead of ``url`` (the testing kit passes a memory store).
        clock: where time comes from (the system clock by default).
        retry_policy: the default for jobs whose model sets none.
        batch_size: how many jobs (and timers) are run and committed together at most.
        worker_name: the name under which this engine holds jobs.
        concurrency: how many handler calls run at once (and so how many jobs this engine
            holds at once): plain handlers on as many threads, ``async def`` ones on one
            event loop.
        job_lease: how long a job this engine holds is leased to it; the lease is extended
            every third of it while the handler runs, so when this process dies its jobs go
            to other workers within one lease.
        feel_limits: what one FEEL evaluation may do at most (its iterations, the sizes of
            what it builds, its nesting); an expression that passes a limit becomes an
            incident. FEEL's defaults when omitted.
        validation: the validation profile of :meth:`deploy`: ``"compatible"`` (what
            Camunda and SpiffWorkflow accept; some broken rules are warnings, returned on the
            deployment) or ``"strict"`` (every broken rule of the specification refuses the
            model). See :mod:`legato.bpmn.validate`.
        max_parked_fetches: how many calls may wait for jobs at once (long polling with
            :meth:`fetch_jobs`, :meth:`fetch_jobs_async` or :meth:`activate_jobs`); one more
            raises :class:`~legato.errors.TooManyRequestsError`.
        metrics: keep Prometheus metrics (:meth:`metrics_text`, the server's ``/metrics``);
            see :mod:`legato.runtime.metrics`.
        tracing: OpenTelemetry traces (see :mod:`legato.runtime.tracing`; needs the
            ``otel`` extra): an SDK ``SpanExporter`` or ``SpanProcessor`` to send the spans
            to, True for OTLP as the ``OTEL_EXPORTER_OTLP_*`` variables say, False for none;
            None (the default) traces to OTLP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set.
        analytics: keep the analytics facts (``legato.store.facts``: instance, element
            and incident facts and their hourly and daily rollups) in each command's
            transaction, for the dashboard (:mod:`legato.analytics.dashboard`) and SLA
            checks. False skips those writes: the facts then miss what this engine runs
            (``legato analytics rebuild`` recomputes them from the history).
        alerts: when SLA, error-rate and job-queue alerts are raised (see
            :mod:`legato.runtime.sla`); the defaults when omitted.
        webhooks: webhooks to register (once per URL) that alerts are posted to.
        policy: the deployment's policy on sensitive data (a
            :class:`~legato.security.sensitive.SensitivePolicy`, or the path of its TOML
            file): variables sensitive beside those the models declare, and the detectors
            switched on. See :mod:`legato.security.sensitive`.
        keyring: encryption at rest (see :mod:`legato.runtime.encryption`): a
            :class:`~legato.security.keyring.KeyRing`, or the path of a key file (``legato
            encryption-keys init``). None: the key file or JSON that ``LEGATO_KEYRING`` names,
            and no encryption when it is not set.
        encryption: with a key ring, what is encrypted: ``"sensitive"`` (the sensitive
            values that ``sensitive`` selects, and the texts quoting them) or
            ``"everything"`` (every variable, message and event value).
        sensitive: a selector of your own
            (:class:`~legato.model.sensitive.SensitiveSelector`: paths, a detector), asked
            beside the models' declarations and ``policy``, for masking and encryption alike.
        secrets: where the secrets that job headers and input mappings name
            (``secrets.CRM_TOKEN``) are resolved when a handler runs (see
            :mod:`legato.security.secrets`); None: environment variables prefixed
            ``LEGATO_SECRET_``.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        store: Store | None = None,
        clock: Clock | None = None,
        retry_policy: RetryPolicy | None = None,
        batch_size: int = 200,
        worker_name: str | None = None,
        random_source: Callable[[], float] = random.random,
        concurrency: int = 32,
        job_lease: timedelta = timedelta(seconds=30),
        feel_limits: FeelLimits | None = None,
        validation: Profile = "compatible",
        max_parked_fetches: int = MAX_PARKED_FETCHES,
        metrics: bool = True,
        tracing: object = None,
        analytics: bool = True,
        alerts: AlertConfig | None = None,
        webhooks: Sequence[Webhook] = (),
        policy: SensitivePolicy | str | os.PathLike[str] | None = None,
        keyring: KeyRing | str | Path | None = None,
        encryption: Literal["sensitive", "everything"] = "sensitive",
        sensitive: SensitiveSelector | None = None,
        secrets: SecretsProvider | None = None,
    ) -> None:
        if policy is not None and not isinstance(policy, SensitivePolicy):
            policy = load_policy(policy)
        parking = FetchParking(max_parked_fetches)
        if store is None:
            from legato.store.sql import SqlStore

            store = SqlStore(url or DEFAULT_DATABASE)
        # The store seals what the models of the versions it has read declare, the policy and
        # ``sensitive``: it never reads the definitions while it writes.
        declared = DeclaredSensitivity()
        sealed = selector_of(declared, SensitiveData(policy, extra=sensitive))
        store = encrypted_store(store, keyring, encryption, sealed)
        self.store = store
        self.clock: Clock = clock or _default_clock(store)
        self.retry_policy = retry_policy or RetryPolicy()
        self.worker_name = worker_name or f"{socket.gethostname()}:{os.getpid()}"
        self._definitions = DefinitionRegistry(store)
        declared.registry = self._definitions
        self.sensitive = SensitiveData(policy, self._definitions.sensitive_paths, extra=sensitive)
        """What is sensitive in each process (the models' declarations, the policy's, the
        detectors', ``sensitive``'s): the selector that masking asks."""
        self.masking = Masking(self.sensitive)
        """Masks what the read methods return for a viewer."""
        self._keys = keys = KeyAllocator()
        self.feel_limits = feel_limits
        self.validation: Profile = validation
        """The validation profile of :meth:`deploy`."""
        self._executor = CommandExecutor(
            store,
            self._definitions,
            keys,
            self.clock,
            self.retry_policy,
            random_source,
            feel_limits=feel_limits,
        )
        self._migrations = MigrationBatches(store, self._executor, self.clock.now, keys)
        self._executor.analytics = analytics
        self._group_commit = GroupCommit(
            lambda units: self._executor.execute(
                [command for command, _ in units], guards=[guard for _, guard in units]
            )
        )
        self._jobs = JobRunner(
            store,
            self._executor,
            self._definitions,
            self.clock,
            self.retry_policy,
            self.worker_name,
            batch_size,
            concurrency=concurrency,
            lease=job_lease,
            secrets=secrets if secrets is not None else EnvironmentSecrets(),
        )
        # Failed attempts and incidents are logged with the instance's sensitive values masked.
        self._executor.on_noted = functools.partial(report_noted, masking=self.masking)
        self._events = EventDelivery(
            store,
            self._executor,
            self._definitions,
            keys,
            self.clock,
            lambda: job_lease,
            batch_size,
        )
        self._deployer = Deployer(
            store,
            self._definitions,
            keys,
            lambda: self.clock.now(),
            lambda: self.validation,
            self._executor.lock,
            self._events.timers_changed,
        )
        self._versions = VersionChooser(store, lambda: self.feel_limits, lambda: self.clock.now())
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._listener: Listener | None = None
        self._listener_lock = threading.Lock()
        self._listen_refused = False
        self._external = ExternalJobs(
            store, self._executor, self.clock, parking, self._long_poll_interval, self._definitions
        )
        self._external.group_commit = self._group_commit
        parking.probe = self._external.available_types
        # Jobs that become available in this process wake the fetches parked here at once
        # (other processes' jobs arrive through the store's listener, see _work_arrived).
        self._executor.on_jobs_available = parking.notify
        self._jobs.on_released = parking.notify
        self.metrics: EngineMetrics | None = None
        """The engine's Prometheus metrics (None with ``metrics=False``)."""
        self._gauges = DatabaseGauges(store, self.clock, self._definitions, self.worker_name)
        if metrics:
            self.metrics = EngineMetrics(self._describe)
            self.metrics.registry.register(self._gauges)
            self._executor.observer = self.metrics
            self._events.on_fired = self.metrics.timers_fired
        self.tracing: Tracing | None = _tracing(tracing, self._executor.observer)
        """The engine's tracing (None while it traces nothing)."""
        if self.tracing is not None:
            self.tracing.masking = self.masking
            self._executor.observer = self.tracing
            self._jobs.traceparent = self.tracing.handed_out
        self.alert_config = alerts or AlertConfig()
        self.webhook_delivery = WebhookDelivery(store, self.clock, random_source=random_source)
        self._last_sweep = None
        self._setup_alerts(webhooks)

    def _describe(self, definition_key: int) -> tuple[str, int, Callable[[str], str]]:
        deployed = self._definitions.get(definition_key)
        nodes = deployed.plan.nodes

        def kind(element_id: str) -> str:
            node = nodes.get(element_id)
            return node.kind if node is not None else "unknown"

        return deployed.process_id, deployed.version, kind

    def metrics_text(self) -> bytes:
        """The engine's metrics in Prometheus' text format (what ``/metrics`` serves).

        Counts and durations are this process's since it started (see
        :mod:`legato.runtime.metrics`); the database-wide gauges are the last reading, taken
        by the serving node or, in an engine that does not serve, again when older than a
        few seconds (see :mod:`legato.runtime.gauges`).

        Raises:
            InvalidCommandError: the engine was made with ``metrics=False``.
        """
        if self.metrics is None:
            raise InvalidCommandError("this engine keeps no metrics (metrics=False)")
        self._gauges.refresh_if_stale()
        return self.metrics.text()

    @property
    def batch_size(self) -> int:
        """How many jobs (and timers) are run and committed together."""
        return self._jobs.batch_size

    @batch_size.setter
    def batch_size(self, value: int) -> None:
        self._jobs.batch_size = self._events.batch_size = value

    # -- models ----------------------------------------------------------------------------------

    def deploy(self, source: ModelSource) -> Deployment:
        """Deploy a BPMN, DMN or Camunda form file (a path, or the XML or form JSON itself), or
        a directory's ``.form``, ``.dmn`` and ``.bpmn`` files (in that order, each by name).

        Each executable process (decision, form) becomes a new version, unless the content is
        the same as the latest version's (then that version is returned and nothing changes).
        The broken rules that the engine's validation profile accepts are returned as
        ``deployment.warnings``. A user task linked to a form (``formId``, ``formRef``) binds
        the form's latest version when the task is created.

        Raises:
            BpmnParseError: the file is malformed or hostile XML.
            FormParseError: a form file is not form JSON, is too large, or has no id.
            BpmnValidationError: the model breaks a rule that the validation profile refuses;
                every issue names the rule, file, line and element.
            DmnValidationError: a DMN model calls a function that is neither a FEEL built-in
                nor defined in the model; the issue names file, line, element and function.
        """
        deployment = self._deployer.deploy(source)
        self._versions.forget()
        return deployment

    def evaluate_decision(
        self, decision_id: str, variables: Mapping[str, Any] | None = None
    ) -> dmn.DecisionResult:
        """Evaluate the latest deployed version of a decision.

        Raises:
            NotFoundError: no such decision is deployed.
        """
        deployed = self._definitions.decision(decision_id)
        if deployed is None:
            raise NotFoundError(f"no decision '{decision_id}' is deployed")
        values = dict(variables or {})
        with use_limits(self.feel_limits):
            return deployed.model.evaluate(
                deployed.decision_id, values, now=self.clock.now(), context=values
            )

    # -- handlers --------------------------------------------------------------------------------

    def task(
        self, job_type: str, *, timeout: timedelta | None = None, isolated: bool = False
    ) -> Callable[[F], F]:
        """Register the decorated function as the handler of ``job_type`` jobs.

        The handler takes ``(job)`` or ``(job, context)``, may be ``async``, returns a dict of
        variables (or None), raises to fail the attempt (retried with backoff), raises
        :class:`~legato.NonRetryableError` for an incident at once, or raises
        :class:`~legato.BpmnError` to report a business error.

        A call that takes longer than ``timeout`` fails its attempt and is abandoned (its
        result is discarded; the slot carries on with a new thread). ``isolated`` runs the
        handler in a child process instead, killed when it passes the timeout; it must then
        be a module-level function and its job, context and result must pickle.
        """

        def decorate(function: F) -> F:
            self.register(job_type, function, timeout=timeout, isolated=isolated)
            return function

        return decorate

    def register(
        self,
        job_type: str,
        function: Handler,
        *,
        timeout: timedelta | None = None,
        isolated: bool = False,
    ) -> None:
        """Register ``function`` as the handler of ``job_type`` jobs (see :meth:`task`)."""
        self._jobs.register(job_type, function, timeout, isolated)

    def register_module(self, module: ModuleType | Mapping[str, Any]) -> list[str]:
        """Register every function of ``module`` marked with :func:`legato.handler`.

        Returns the job types registered.
        """
        return self._jobs.register_module(module)

    @property
    def job_types(self) -> list[str]:
        """The job types this engine has handlers for."""
        return self._jobs.job_types

    # -- instances -------------------------------------------------------------------------------

    def start(
        self,
        process_id: str,
        variables: Mapping[str, Any] | None = None,
        *,
        business_key: str | None = None,
        request_id: str | None = None,
        version: int | None = None,
        version_tag: str | None = None,
    ) -> InstanceInfo:
        """Start an instance of a process: of the given version (or version tag), else of
        the version the process's rollout rule chooses (see :meth:`set_rollout`), else of
        the latest version. ``InstanceInfo.version_reason`` says which.

        It runs at once to its first wait states (jobs, user tasks) in one transaction.
        With a ``request_id``, a repeated call (with the same business key) returns the
        instance the first call started instead of starting another.

        Raises:
            NotFoundError: no such process (version, version tag) is deployed.
            InvalidCommandError: the variables cannot be stored; the version is suspended
                (see :meth:`suspend_version`).
        """
        token = f"{business_key or ''}\x1f{request_id}" if request_id is not None else None
        if token is not None:
            with self.store.transaction() as tx:
                existing = tx.find_start_request(token)
            if existing is not None:
                return self.instance(existing)
        definition_key, reason = self._versions.choose(
            process_id,
            version=version,
            version_tag=version_tag,
            variables=variables,
            business_key=business_key,
        )
        command = cmd.StartInstance(
            instance_key=cmd.NEW_INSTANCE,
            definition_key=definition_key,
            variables=dict(variables or {}),
            business_key=business_key,
            version_reason=reason,
        )
        try:
            outcome = self._submit(command, request_token=token)
        except _AlreadyStarted as started:
            return self.instance(started.instance_key)
        except StoreError:
            if token is None:
                raise
            # Another caller started it at the same moment: its instance is the answer.
            with self.store.transaction() as tx:
                existing = tx.find_start_request(token)
            if existing is None:
                raise
            return self.instance(existing)
        assert outcome.result is not None
        return _info_from_state(outcome.result.state)

    def evaluate_start_conditions(
        self, variables: Mapping[str, Any] | None = None
    ) -> list[InstanceInfo]:
        """Start the processes whose conditional start event's condition holds for
        ``variables`` (the latest version of each, unless it is suspended), with those
        variables.

        Returns the instances started.

        Raises:
            InvalidCommandError: the variables cannot be stored.
        """
        values = checked_variables(variables or {})
        commands: list[cmd.Command] = []
        with self.store.transaction() as tx:
            records = tx.list_definitions()
        latest: dict[str, DefinitionRecord] = {}
        for record in records:
            if not record.process_id.startswith(DECISION_PREFIX):
                latest[record.process_id] = record
        now = self.clock.now()
        for definition_key in (r.definition_key for r in latest.values() if not r.suspended):
            process = self._definitions.get(definition_key).process
            for element_id in process.children.get(process.process_id, ()):
                start = process.element(element_id)
                definition = definition_of(start)
                if not isinstance(definition, ConditionalEventDefinition) or not isinstance(
                    start, StartEvent
                ):
                    continue
                condition = definition.condition
                try:
                    with use_limits(self.feel_limits):
                        holds = condition is not None and condition.evaluate(values, now) is True
                except ExpressionError:
                    holds = False
                if holds:
                    commands.append(
                        cmd.StartInstance(
                            instance_key=cmd.NEW_INSTANCE,
                            definition_key=definition_key,
                            variables=values,
                            start_element_id=element_id,
                        )
                    )
        outcomes = self._executor.execute(commands, all_or_nothing=True)
        return [_info_from_state(o.result.state) for o in outcomes if o.result is not None]

    def start_many(
        self,
        process_id: str,
        variables: Sequence[Mapping[str, Any]],
        *,
        business_keys: Sequence[str | None] | None = None,
        version: int | None = None,
        version_tag: str | None = None,
    ) -> list[InstanceInfo]:
        """Start several instances in one transaction (one commit for all of them); each
        gets its version as in :meth:`start`.

        Raises:
            NotFoundError: no such process (version, version tag) is deployed.
            InvalidCommandError: the variables of one of them cannot be stored, or a version
                is suspended (then none is started).
        """
        keys = business_keys or [None] * len(variables)
        commands: list[cmd.Command] = []
        for values, key in zip(variables, keys, strict=True):
            definition_key, reason = self._versions.choose(
                process_id,
                version=version,
                version_tag=version_tag,
                variables=values,
                business_key=key,
            )
            commands.append(
                cmd.StartInstance(
                    instance_key=cmd.NEW_INSTANCE,
                    definition_key=definition_key,
                    variables=dict(values),
                    business_key=key,
                    version_reason=reason,
                )
            )
        outcomes = self._executor.execute(commands, all_or_nothing=True)
        for outcome in outcomes:
            if outcome.error is not None:
                raise outcome.error
        return [_info_from_state(o.result.state) for o in outcomes if o.result is not None]

    def _submit(self, command: cmd.Command, request_token: str | None = None) -> Outcome:
        if request_token is not None:

            def remember(tx: Instances, outcomes: list[Outcome]) -> None:
                result = outcomes[0].result
                assert result is not None
                # Another node may have started it since start() looked (a batch that lost
                # the race for the request id runs again and ends here).
                existing = tx.find_start_request(request_token)
                if existing is not None:
                    raise _AlreadyStarted(existing)
                tx.insert_start_request(request_token, result.state.instance_key, self.clock.now())

            outcome = self._executor.execute_with([command], remember)[0]
        else:
            outcome = self._group_commit.submit(command)
        if outcome.error is not None:
            raise outcome.error
        return outcome

    def sensitive_paths(self, process_id: str) -> list[str]:
        """The sensitive variables and paths of a process (``applicant.ssn``): those that
        any deployed version declares and those of the policy."""
        return [".".join(path) for path in self.sensitive.paths(process_id)]

    def instance(self, instance_key: int, *, viewer: Viewer | None = None) -> InstanceInfo:
        """An instance as it is now (its sensitive variables masked unless ``viewer`` may
        see them; unmasked without a viewer).

        Raises:
            NotFoundError: no such instance.
        """
        info = queries.instance(self.store, instance_key)
        return info if viewer is None else self.masking.instance(viewer, info)

    def instances(
        self,
        *,
        status: str | None = None,
        process_id: str | None = None,
        business_key: str | None = None,
        limit: int = 100,
        viewer: Viewer | None = None,
    ) -> list[InstanceInfo]:
        """Instances, newest first, each with where it waits and its root variables (masked
        as for :meth:`instance`).

        ``status`` ``active`` takes the suspended instances too; ``suspended`` only those.

        Raises:
            InvalidCommandError: ``status`` is none of ``active``, ``suspended``,
                ``completed``, ``terminated``.
        """
        found = queries.instances(
            self.store,
            status=status,
            process_id=process_id,
            business_key=business_key,
            limit=limit,
        )
        if viewer is None:
            return found
        return [self.masking.instance(viewer, info) for info in found]

    def state(self, instance_key: int, *, viewer: Viewer | None = None) -> InstanceState:
        """The engine state of an instance (tokens, scopes, variables) as stored, or with a
        ``viewer`` a copy with every scope's variables masked as for :meth:`instance`."""
        found = queries.state(self.store, instance_key)
        return found if viewer is None else self.masking.state(viewer, found)

    def history(self, instance_key: int, *, viewer: Viewer | None = None) -> list[HistoryEntry]:
        """An instance's history, in order; with a ``viewer``, the variables that events
        carry and the sensitive values quoted in their texts masked as for :meth:`instance`."""
        entries = queries.history(self.store, instance_key)
        if viewer is None or not entries:
            return entries
        try:
            found = queries.state(self.store, instance_key)
        except NotFoundError:
            process_id = _process_of(entries)
            return self.masking.history(viewer, process_id, entries, (), instance_key)
        known = found.variables.values()
        return self.masking.history(viewer, found.process_id, entries, known, instance_key)

    def replay(self, instance_key: int) -> InstanceState:
        """Rebuild an instance's state from its stored history alone."""
        return queries.replay(self.store, instance_key)

    def set_variables(
        self,
        instance_key: int,
        variables: Mapping[str, Any],
        *,
        scope_key: int | None = None,
        by: str | None = None,
    ) -> None:
        """Set variables of an instance (its root scope, or an element instance's scope).

        The history records the change (a ``VariablesEdited`` event with each variable's old
        and new value) and ``by``, who made it. Allowed while the instance is suspended.

        Raises:
            NotFoundError: no such instance.
            InvalidCommandError: the instance ended, the scope is not active in it, or a
                value cannot be stored.
        """
        self._submit(
            cmd.SetVariables(
                instance_key=instance_key, variables=dict(variables), scope_key=scope_key, by=by
            )
        )

    def cancel(
        self, instance_key: int, reason: str = "cancelled", *, by: str | None = None
    ) -> None:
        """Terminate an instance and everything it runs (called children included); the
        history records ``reason`` and ``by``, who cancelled it. A suspended instance can be
        cancelled.

        Raises:
            NotFoundError: no such instance.
            InvalidCommandError: the instance ended already, or was called by another (cancel
                that one).
        """
        state = self.state(instance_key)
        if state.parent_instance_key is not None:
            raise InvalidCommandError(
                f"instance {instance_key} was called by instance {state.parent_instance_key}: "
                "cancel that one"
            )
        self._submit(cmd.CancelInstance(instance_key=instance_key, reason=reason, by=by))

    def suspend(self, instance_key: int, *, by: str | None = None) -> None:
        """Hold an instance where it is, with the instances it called, until :meth:`resume`.

        Meanwhile no worker gets its jobs (a job held when it is suspended loses its lease,
        and its result is refused), its timers do not fire (those that fell due fire when it
        is resumed), no message or signal reaches it (a buffered message may reach it after
        it is resumed) and its user tasks cannot be completed. It can be cancelled and its
        variables changed. Its status reads ``suspended``; the history records
        ``InstanceSuspended`` with ``by``.

        Raises:
            NotFoundError: no such instance.
            InstanceSuspendedError: it is suspended already.
            InvalidCommandError: it ended.
        """
        self._submit(cmd.SuspendInstance(instance_key=instance_key, by=by))

    def resume(self, instance_key: int, *, by: str | None = None) -> None:
        """Let a suspended instance (and the instances it called) go on; the history records
        ``InstanceResumed`` with ``by``.

        Raises:
            NotFoundError: no such instance.
            InstanceSuspendedError: it is not suspended.
            InvalidCommandError: it ended.
        """
        self._submit(cmd.ResumeInstance(instance_key=instance_key, by=by))
        self._events.timers_changed()  # its timers are back, some due already

    def modify(
        self,
        instance_key: int,
        instructions: Sequence[cmd.Instruction],
        *,
        by: str | None = None,
    ) -> None:
        """Start and cancel tokens of a running instance by hand, to repair one a model bug
        left stuck: :class:`~legato.StartBefore` an element, :class:`~legato.StartAfter` one
        (along its one outgoing flow), :class:`~legato.CancelElement` (every token at an
        element) and :class:`~legato.CancelElementInstance`. The instructions apply together
        or not at all, cancellations first; a scope whose last token is cancelled completes.
        The history records ``InstanceModified`` with ``by``. See
        :mod:`legato.engine.modification`.

        Raises:
            NotFoundError: no such instance.
            InvalidCommandError: the instance ended or is suspended, or an instruction does
                not fit it (an unknown element, no active token to cancel, a start inside a
                multi-instance sub-process, ...): the message names the instance and the
                element; nothing changed.
        """
        self._submit(
            cmd.ModifyInstance(instance_key=instance_key, instructions=tuple(instructions), by=by)
        )
        self._events.timers_changed()

    def batch(
        self,
        kind: str,
        *,
        keys: Sequence[int] | None = None,
        filter: InstanceFilter | None = None,
        by: str | None = None,
        dry_run: bool = False,
    ) -> BatchResult:
        """Cancel (``kind="cancel"``) or retry (``"retry"``: resolve every open incident,
        giving failed jobs one more attempt) many instances, named by ``keys`` or matched by
        ``filter`` (exactly one), at most 10,000, in transactions of 100 instances.

        Instances that cannot take it (ended, unknown, called by another for a cancel,
        suspended or without an open incident for a retry, or refused by the engine) are
        skipped, each with the reason. ``dry_run`` reports what it would do and changes
        nothing. The history of each instance records ``by``.

        Raises:
            InvalidCommandError: an unknown ``kind`` or status, neither or both of ``keys``
                and ``filter``, or more than 10,000 instances.
        """
        result = run_batch(self.store, self._executor, kind, keys, filter, by=by, dry_run=dry_run)
        self._events.timers_changed()
        return result

    # -- incidents -------------------------------------------------------------------------------

    def incidents(
        self,
        *,
        state: str | None = "open",
        instance_key: int | None = None,
        viewer: Viewer | None = None,
    ) -> list[IncidentRecord]:
        """Incidents (open ones by default), oldest first; with a ``viewer``, the sensitive
        values of their instances that a message or stack trace quotes are masked.

        Raises:
            InvalidCommandError: ``state`` is neither ``open`` nor ``resolved``.
        """
        found = queries.incidents(self.store, state=state, instance_key=instance_key)
        return found if viewer is None else self.shown_incidents(found, viewer)

    def shown_incidents(
        self, incidents: Sequence[IncidentRecord], viewer: Viewer
    ) -> list[IncidentRecord]:
        """Incidents as ``viewer`` may see them: the sensitive values of their instances
        that a message or stack trace quotes masked (for readers of the store's records)."""
        texts = self._sensitive_texts(viewer, {r.instance_key for r in incidents})
        return [self.masking.incident(r, texts.get(r.instance_key, [])) for r in incidents]

    def shown_jobs(self, jobs: Sequence[JobRecord], viewer: Viewer) -> list[JobRecord]:
        """Jobs as ``viewer`` may see them: the sensitive values of their instances that an
        error message or stack trace quotes masked."""
        texts = self._sensitive_texts(viewer, {j.instance_key for j in jobs if j.error_message})
        return [self.masking.job(j, texts.get(j.instance_key, [])) for j in jobs]

    def _sensitive_texts(self, viewer: Viewer, instance_keys: set[int]) -> dict[int, list[str]]:
        """The sensitive values of each instance that ``viewer`` may not see, as texts."""
        texts: dict[int, list[str]] = {}
        for key in instance_keys:
            try:
                found = queries.state(self.store, key)
            except NotFoundError:
                continue
            texts[key] = self.masking.texts(viewer, found.process_id, found.variables.values())
        return texts

    def retry(
        self,
        incident_key: int,
        *,
        retries: int | None = None,
        variables: Mapping[str, Any] | None = None,
        by: str | None = None,
    ) -> None:
        """Resolve an incident and try again, after optionally fixing variables, in one
        command (the fix and the retry commit together or not at all).

        ``variables`` are set in the root scope of the instance first (recorded with their
        old values, as :meth:`set_variables` does); a job incident gets ``retries`` new
        attempts (default 1). The history records ``by``, who retried it.

        Raises:
            NotFoundError: no such incident.
            InvalidCommandError: it is resolved already, ``retries`` is below 1 for a job, or
                a value cannot be stored.
            InstanceSuspendedError: its instance is suspended.
        """
        with self.store.transaction() as tx:
            incident = tx.get_incident(incident_key)
        if incident is None:
            raise NotFoundError(f"no incident with key {incident_key}")
        self._submit(
            cmd.ResolveIncident(
                instance_key=incident.instance_key,
                incident_key=incident_key,
                retries=retries,
                variables=dict(variables or {}),
                by=by,
            )
        )

    # -- jobs for external workers ---------------------------------------------------------------

    def fetch_jobs(
        self,
        requests: Sequence[JobRequest],
        *,
        worker: str,
        max_jobs: int,
        request_timeout: timedelta = timedelta(0),
        use_priority: bool = False,
    ) -> list[ActivatedJob]:
        """Lease up to ``max_jobs`` jobs to an external worker, across ``requests`` (one per
        job type, in their order, each with its lease and filters).

        Every job is handed out once: the filters on the business key, process and version
        apply before anything is locked, and each job is leased by a conditional update in one
        transaction, also when several engines share a PostgreSQL database. When nothing is
        available, the call waits up to ``request_timeout`` (long polling) and answers as soon
        as a job of the types becomes available: created (on any node), given back, unlocked,
        due again after a failure's backoff or new retries, or with a lease that ran out. It
        answers ``[]`` when the wait ends without one.

        Args:
            requests: what to fetch, one :class:`JobRequest` per job type.
            worker: the name the jobs are leased to.
            max_jobs: how many jobs at most, across all requests.
            request_timeout: how long to wait when nothing is available (0: answer at once).
            use_priority: within each request, hand out jobs of higher priority
                (``camunda:taskPriority``) first, else the oldest due first.

        Raises:
            TooManyRequestsError: ``max_parked_fetches`` calls wait already (only when
                ``request_timeout`` is positive).
            InvalidCommandError: a request's timeout is not positive.
        """
        self._prepare_long_poll(request_timeout)
        jobs = self._external.fetch(requests, worker, max_jobs, request_timeout, use_priority)
        return self._traced(jobs)

    async def fetch_jobs_async(
        self,
        requests: Sequence[JobRequest],
        *,
        worker: str,
        max_jobs: int,
        request_timeout: timedelta = timedelta(0),
        use_priority: bool = False,
    ) -> list[ActivatedJob]:
        """:meth:`fetch_jobs` for an event loop (an HTTP server): each look at the database
        runs on a thread (``asyncio.to_thread``), the waits in between hold no thread, so
        hundreds of parked calls are cheap. A call cancelled while it looks gives back the
        jobs that look leased.

        Raises:
            TooManyRequestsError: ``max_parked_fetches`` calls wait already.
            InvalidCommandError: a request's timeout is not positive.
        """
        if request_timeout > timedelta(0) and self._listener is None and not self._listen_refused:
            await asyncio.to_thread(self._prepare_long_poll, request_timeout)
        jobs = await self._external.fetch_async(
            requests, worker, max_jobs, request_timeout, use_priority
        )
        return self._traced(jobs)

    def _traced(self, jobs: list[ActivatedJob]) -> list[ActivatedJob]:
        """While tracing: the jobs with their attempt's ``traceparent`` header."""
        tracing = self.tracing
        if tracing is None or not jobs:
            return jobs
        now = self.clock.now()
        return [
            dataclasses.replace(
                job,
                headers={
                    **job.headers,
                    TRACEPARENT: tracing.handed_out(job.instance_key, job.key, job.retries, now),
                },
            )
            for job in jobs
        ]

    def activate_jobs(
        self,
        job_type: str,
        *,
        worker: str,
        max_jobs: int = 10,
        timeout: timedelta = timedelta(minutes=5),
        request_timeout: timedelta = timedelta(0),
    ) -> list[Job]:
        """Hand due jobs of ``job_type`` to an external worker for ``timeout``.

        With a ``request_timeout``, an empty answer waits up to that long for jobs to arrive
        (long polling), as :meth:`fetch_jobs` does.
        """
        self._prepare_long_poll(request_timeout)
        fetched = self._external.fetch(
            [JobRequest(job_type, timeout)], worker, max_jobs, request_timeout
        )
        return [self._job_of(job) for job in self._traced(fetched)]

    def reveal_secrets(self, fetched: Sequence[ActivatedJob]) -> list[ActivatedJob]:
        """``fetched`` with the secrets each job's headers and input mappings name
        (``secrets.CRM_TOKEN``) resolved into its headers and variables, for an external
        worker allowed to read them (the server decides who is; see
        :mod:`legato.security.secrets`). Nothing is stored. A job naming a secret the
        provider does not have is failed with an incident naming it, and left out.
        """
        revealed = []
        for job in fetched:
            try:
                process = self._definitions.get(job.definition_key).process
                element = process.elements.get(job.element_id)
            except KeyError:
                element = None
            headers, inputs = secret_references(job.headers, element)
            if not headers and not inputs:
                revealed.append(job)
                continue
            resolved = resolve(self._jobs.secrets, [*headers.values(), *inputs.values()])
            if resolved.missing:
                names = ", ".join(repr(n) for n in resolved.missing)
                self.fail_job(
                    job.key,
                    f"the secret {names} of job type {job.type!r} is not set in the engine's "
                    "secrets provider",
                    retryable=False,
                    worker=job.worker or None,
                )
                continue
            values = resolved.values
            revealed.append(
                dataclasses.replace(
                    job,
                    headers={**job.headers, **{h: values[n] for h, n in headers.items()}},
                    variables={**job.variables, **{t: values[n] for t, n in inputs.items()}},
                )
            )
        return revealed

    def _job_of(self, job: ActivatedJob) -> Job:
        """The :class:`Job` view of a fetched job, with its attempt as the retry policy of
        its element counts it."""
        try:
            process = self._definitions.get(job.definition_key).process
            element = process.elements.get(job.element_id)
        except KeyError:
            element = None
        policy = getattr(element, "retry_policy", None) or self.retry_policy
        context = JobContext(
            idempotency_key=str(job.key),
            attempt=max(policy.max_attempts - job.retries + 1, 1),
            deadline=job.deadline,
            worker=job.worker,
            timeout=getattr(element, "timeout", None),
            traceparent=job.headers.get(TRACEPARENT) if self.tracing is not None else None,
        )
        return Job(
            key=job.key,
            type=job.type,
            element_id=job.element_id,
            instance_key=job.instance_key,
            element_instance_key=job.element_instance_key,
            variables=job.variables,
            retries=job.retries,
            headers=job.headers,
            process_id=job.process_id,
            business_key=job.business_key,
            context=context,
        )

    def _prepare_long_poll(self, request_timeout: timedelta) -> None:
        if request_timeout > timedelta(0):
            # Listening before the first look: a job created by another node between the
            # look and the wait wakes the wait (its NOTIFY is not lost).
            self._listen()

    def _long_poll_interval(self) -> float:
        """How long a parked fetch waits without a wake before it looks again: long where
        the store tells of other processes' new work, short where it cannot."""
        if self._listener is None:
            return _LONG_POLL_INTERVAL
        return max(_LISTENED_POLL_INTERVAL, _LONG_POLL_INTERVAL)

    def _listen(self) -> None:
        """Start listening for other processes' new work (once per engine)."""
        with self._listener_lock:
            if self._listener is None and not self._listen_refused:
                self._listener = self.store.listen(self._work_arrived)
                self._listen_refused = self._listener is None

    def _work_arrived(self) -> None:
        # Another node scheduled a timer or created a job: timers are looked for again at
        # once instead of at the next poll.
        self._events.timers_changed()
        self._wake.set()
        self._jobs.pool.wake()
        self._external.parking.notify()

    def complete_job(
        self,
        job_key: int,
        variables: Mapping[str, Any] | None = None,
        *,
        worker: str | None = None,
        local_variables: Mapping[str, Any] | None = None,
    ) -> None:
        """Complete a job an external worker holds; the instance moves on at once.

        ``variables`` are the job's result (merged into the scopes as a handler's result
        is); ``local_variables`` are set in the job's element instance scope (seen by its
        output mappings).

        Raises:
            NotFoundError: no such job (completed already, cancelled, or never created).
            JobStateError: the job is not activated (never fetched, given back, failed, or
                its lease ran out: a stale lease), or ``worker`` is given and another worker
                holds it ("Job X cannot be completed by worker 'W'. It is locked by worker
                'V'.").
            InvalidCommandError: a variable cannot be stored.
        """
        self._external.complete(job_key, variables, worker, local_variables)

    async def complete_job_async(
        self,
        job_key: int,
        variables: Mapping[str, Any] | None = None,
        *,
        worker: str | None = None,
        local_variables: Mapping[str, Any] | None = None,
    ) -> None:
        """:meth:`complete_job` for a coroutine (an ASGI server's): the completion joins
        the next group commit and the event loop stays free until it is durable. Raises
        what :meth:`complete_job` raises."""
        await self._external.complete_async(job_key, variables, worker, local_variables)

    def fail_job(
        self,
        job_key: int,
        error_message: str,
        *,
        retryable: bool = True,
        retry_after: timedelta | None = None,
        retries: int | None = None,
        worker: str | None = None,
        error_details: str | None = None,
        variables: Mapping[str, Any] | None = None,
        local_variables: Mapping[str, Any] | None = None,
    ) -> None:
        """Fail one attempt of a job an external worker holds.

        Without ``retries``, one attempt fewer is left and the job is due again after the
        retry policy's backoff (or ``retry_after``); an incident when none is left or the
        failure is not ``retryable``. With ``retries`` (the worker decides, as in Camunda),
        exactly that many are left: 0 raises an incident at once with ``error_message`` (and
        ``error_details``), more makes the job fetchable again after ``retry_after`` (at once
        without it). ``variables`` are set from the job's scope up (where each is defined,
        else in the root), ``local_variables`` in the job's element instance scope.

        Raises:
            NotFoundError: no such job.
            JobStateError: the job is not held as :meth:`complete_job` requires.
            InvalidCommandError: ``retries`` is negative, or a variable cannot be stored.
        """
        failure = cmd.FailJob(
            instance_key=0,
            job_key=job_key,
            error_message=error_message,
            details=error_details,
            retryable=retryable,
            retry_after=retry_after,
            retries=retries,
        )
        self._external.fail(job_key, failure, worker, variables, local_variables)

    def throw_error(
        self,
        job_key: int,
        error_code: str,
        error_message: str = "",
        variables: Mapping[str, Any] | None = None,
        *,
        worker: str | None = None,
    ) -> None:
        """Report a BPMN error for a job an external worker holds.

        The nearest error boundary event or event sub-process that catches ``error_code``
        takes it (``variables`` are set where it is caught); an error nothing catches is an
        incident (``unhandled_error``) on the job's element.

        Raises:
            NotFoundError: no such job.
            JobStateError: the job is not held as :meth:`complete_job` requires.
        """
        error = cmd.ThrowError(
            instance_key=0,
            job_key=job_key,
            error_code=error_code,
            error_message=error_message,
            variables=dict(variables or {}),
        )
        self._external.throw_error(job_key, error, worker)

    def update_job(
        self,
        job_key: int,
        *,
        retries: int | None = None,
        timeout: timedelta | None = None,
        worker: str | None = None,
    ) -> None:
        """Extend a job's lease and/or set its retries (in one transaction).

        ``timeout`` makes the lease end ``timeout`` from now; the job must be activated with
        a lease that has not run out, held by ``worker`` when given. ``retries`` sets the
        attempts left: a failed job waiting in an incident given retries > 0 has its incident
        resolved and is fetchable at once; a job that is due or held keeps its place and
        lease; 0 stops a job that is not failed with an incident.

        Raises:
            NotFoundError: no such job.
            JobStateError: ``timeout`` is given and the job is not activated, its lease ran
                out ("cannot extend a lock that expired"), or another worker holds it.
            InvalidCommandError: ``retries`` is negative or ``timeout`` not positive.
        """
        self._external.update(job_key, retries, timeout, worker)

    def lock_job(self, job_key: int, *, worker: str, timeout: timedelta) -> None:
        """Lease a job to ``worker`` for ``timeout`` without fetching it (also a job that is
        not due yet); ``worker`` may lock again a job it holds.

        Raises:
            NotFoundError: no such job.
            JobStateError: another worker holds an unexpired lease, or the job failed and
                waits for an operator.
            InvalidCommandError: ``timeout`` is not positive.
        """
        self._external.lock(job_key, worker, timeout)

    def unlock_job(self, job_key: int) -> None:
        """End a job's lease: any worker may fetch it at once (parked fetches are woken). A
        job that no worker holds is left as it is.

        Raises:
            NotFoundError: no such job.
        """
        self._external.unlock(job_key)

    def job(self, job_key: int) -> ActivatedJob:
        """A job as it is now, whatever its state (see :attr:`ActivatedJob.state`): its
        worker and ``deadline`` while one holds it, its retries and last error; its
        ``variables`` are empty (a worker gets them by fetching).

        Raises:
            NotFoundError: no such job (completed, cancelled or never created).
        """
        return self._external.job(job_key)

    def jobs(
        self,
        *,
        instance_key: int | None = None,
        state: str | None = None,
        viewer: Viewer | None = None,
    ) -> list[JobRecord]:
        """Jobs, oldest first; with a ``viewer``, the sensitive values of their instances
        that an error message or stack trace quotes are masked.

        Raises:
            InvalidCommandError: ``state`` is none of ``activatable``, ``activated``,
                ``failed``.
        """
        found = queries.jobs(self.store, instance_key=instance_key, state=state)
        return found if viewer is None else self.shown_jobs(found, viewer)

    # -- running handlers ------------------------------------------------------------------------

    def run_until_idle(self, *, max_jobs: int | None = None) -> int:
        """Run due jobs with the registered handlers until nothing is left for them.

        Jobs waiting for a retry's backoff are waited for (a virtual clock skips ahead), so
        this returns when every instance waits for something only the outside world can give
        (a person, an external worker, another node that holds a job, an operator) or has
        ended. Returns the jobs run.
        """
        done = 0
        if self._migrations.run_local(self.clock.sleep):
            self._events.timers_changed()
        while max_jobs is None or done < max_jobs:
            fired = self.fire_due_timers()
            ran = fired + (self._jobs.run_batch(look_ahead=True) if self.job_types else 0)
            done += ran
            # The transaction that committed the last jobs' outcomes looked for more (when
            # they made none for this process) and knows when the next is due; without it,
            # one more transaction asks.
            idle = self._jobs.idle()
            if idle is not None:
                # Timers that fell due while the jobs ran come first, as in another round.
                fired = self.fire_due_timers()
                done += fired
                if fired:
                    continue
                next_due = idle.next_due
            elif ran:
                continue
            else:
                with self.store.transaction() as tx:
                    # Jobs another worker holds are its to run: their leases are not waited
                    # for.
                    next_due = tx.next_job_due_at(self.job_types, held=False)
            if next_due is None or not self.job_types:
                break
            wait = (next_due - self.clock.now()).total_seconds()
            self.clock.sleep(max(wait, 0.0))
        return done

    def serve(
        self,
        *,
        poll_interval: float = 0.5,
        heartbeat_interval: timedelta = timedelta(seconds=5),
        node_timeout: timedelta = timedelta(seconds=30),
        shutdown_grace: timedelta = timedelta(seconds=30),
    ) -> None:
        """Run as an engine node: fire timers and run jobs until :meth:`stop` is called.

        Several nodes (processes, machines) may serve one PostgreSQL database: each
        heartbeats in the ``nodes`` table (``legato nodes``), a dead node's jobs are released
        to the others, and one node at a time expires buffered messages and sweeps for SLA
        alerts (see :mod:`legato.runtime.node` and :mod:`legato.runtime.alerting`); webhooks
        are posted from a thread of their own. When idle it sleeps until the next timer or
        job is due, at most ``poll_interval``; on PostgreSQL a ``NOTIFY`` from a node that
        created work wakes it at once. While the database is unreachable it retries with a
        growing pause.

        Handlers run on ``concurrency`` slots (see :class:`Engine`); the node takes a job only
        when a slot is free to start it. After :meth:`stop` the node takes no more work, lets
        running handlers finish within ``shutdown_grace`` and commits their outcomes, then
        gives back the jobs still held without charging an attempt. An exception (such as
        ``KeyboardInterrupt``) gives back every held job at once and is raised.

        Args:
            poll_interval: the longest idle sleep, in seconds.
            heartbeat_interval: how often this node writes its heartbeat.
            node_timeout: how long a node may stay silent before the others release its jobs.
            shutdown_grace: how long running handlers may take to finish after :meth:`stop`.
        """
        self._stop.clear()
        self._wake.clear()
        node = NodeAgent(
            self.store,
            self.clock,
            self.worker_name,
            duties=self._node_duties,
            on_beat=self._on_beat,
            heartbeat_interval=heartbeat_interval,
            node_timeout=node_timeout,
        )
        self._gauges.node_timeout = node_timeout
        self._until_available(node.start)
        self._gauges.serving = self.metrics is not None
        self._listen()
        self.webhook_delivery.start()
        pause = _PAUSE
        try:
            while not self._stop.is_set():
                try:
                    wait = self._serve_once(node, poll_interval)
                    pause = _PAUSE
                except StoreError as exc:
                    logger.warning(
                        "engine node %s: %s; retrying in %.1f s", node.node_id, exc, pause
                    )
                    wait, pause = pause, min(pause * 2, _MAX_PAUSE)
                if wait > 0:
                    self._wake.wait(wait)
                    self._wake.clear()
            self._jobs.shutdown(shutdown_grace.total_seconds())
        except BaseException:
            self._jobs.give_back()
            raise
        finally:
            self._gauges.serving = False
            self.webhook_delivery.stop()
            node.record(abandoned=self._jobs.pool.abandoned)
            node.stop()

    def _serve_once(self, node: NodeAgent, poll_interval: float) -> float:
        """One round of work; returns how long to sleep before the next (0 when the round
        already waited for running handlers)."""
        started = time.monotonic()
        fired = self.fire_due_timers() + self._migrations.run_due()
        jobs = self._jobs
        began = jobs.start() if self.job_types else []
        ended: list[Finished] = []
        waited = 0.0
        if jobs.pool.running:
            # Handlers run: wait for one to end (a new job or stop() wakes the wait too).
            before = time.monotonic()
            ended = jobs.collect(0.0 if fired or began else poll_interval)
            waited = time.monotonic() - before
            jobs.commit(ended)
        if fired or began or ended or jobs.pool.running:
            node.record(
                jobs=len(ended),
                timers=fired,
                busy_seconds=time.monotonic() - started - waited,
                abandoned=jobs.pool.abandoned,
            )
            return 0.0
        now = self.clock.now()
        with self.store.transaction() as tx:
            dues = [
                tx.next_job_due_at(self.job_types),
                tx.next_timer_due_at(),
                self._migrations.next_due(),
            ]
        wait = poll_interval
        for due in dues:
            if due is not None:
                wait = min(wait, max((due - now).total_seconds(), 0.0))
        return wait

    def _node_duties(self, tx: Transaction) -> None:
        self._events.expire_messages_in(tx)
        self._sweep_if_due(tx)

    def _until_available(self, action: Callable[[], object]) -> None:
        pause = _PAUSE
        while True:
            try:
                action()
                return
            except StoreUnavailableError as exc:
                if self._stop.is_set():
                    raise
                logger.warning("database unavailable (%s); retrying in %.1f s", exc, pause)
                self._stop.wait(pause)
                pause = min(pause * 2, _MAX_PAUSE)

    def _on_beat(self) -> None:
        if isinstance(self.clock, DatabaseClock):
            self.clock.sync()
        if self.metrics is not None:
            # After this node's own row was written at least once (the first beat reads
            # before it is, so the reading follows at the next one).
            self._gauges.refresh()

    def stop(self) -> None:
        """Make :meth:`serve` return (after letting running handlers finish, see there).

        Safe to call from a signal handler or another thread."""
        self._stop.set()
        self._wake.set()
        self._jobs.pool.wake()

    def nodes(self) -> list[NodeRecord]:
        """The engine nodes that serve this database, with their last heartbeat and load."""
        return queries.nodes(self.store)

    def run_once(self) -> int:
        """Fire due timers, then run one batch of due jobs with their handlers, committing
        the outcomes together. Returns how many timers and jobs were handled.

        Jobs that commands of this engine just created for its own handlers come first (they
        are already held for it); then due jobs are activated from the database.
        """
        fired = self.fire_due_timers()
        if not self.job_types:
            return fired
        return fired + self._jobs.run_batch()

    # -- timers, messages, signals ---------------------------------------------------------------

    def fire_due_timers(self, *, max_timers: int | None = None) -> int:
        """Fire the timers that are due now; returns how many fired.

        Each tick fires once: a timer is claimed with a lease, and its firing and the removal
        of its row commit together; a node that dies in between leaves the claim to expire and
        another firing to happen.
        """
        return self._events.fire_due_timers(max_timers=max_timers)

    def publish_message(
        self,
        name: str,
        correlation_key: str | int | None = None,
        variables: Mapping[str, Any] | None = None,
        *,
        time_to_live: timedelta = timedelta(0),
        message_id: str | None = None,
    ) -> PublishResult:
        """Publish a message: it reaches every instance waiting for ``name`` with an equal
        correlation key, and starts the processes with a message start event of that name.

        A message nobody waits for is kept for ``time_to_live`` and delivered to the first
        subscription that opens for it; with a ``message_id``, publishing the same message
        again while it is kept is a no-op.
        """
        return self._events.publish_message(
            name, correlation_key, variables, time_to_live=time_to_live, message_id=message_id
        )

    def publish_messages(
        self, messages: Sequence[tuple[str, str | int | None, Mapping[str, Any] | None]]
    ) -> list[PublishResult]:
        """Publish many ``(name, correlation_key, variables)`` messages in one transaction."""
        return self._events.publish_messages(messages)

    def correlate_message(
        self,
        name: str,
        variables: Mapping[str, Any] | None = None,
        *,
        choose: Callable[[Transaction, list[SubscriptionRecord]], Sequence[SubscriptionRecord]],
        correlation_keys: Sequence[str | int | None] = (None,),
        business_key: str | None = None,
    ) -> PublishResult:
        """Deliver a message to the receivers ``choose`` picks, in one transaction.

        ``choose`` gets the open subscriptions of ``name`` whose correlation key is one of
        ``correlation_keys`` (and the message start events of ``name``) and returns those to
        deliver to; it may raise to deliver to none (the transaction rolls back). This is how
        Camunda 7's correlation (by business key, instance and variables, exactly one
        receiver unless ``all``) is served. An instance a message start event starts gets
        ``business_key``. Unlike :meth:`publish_message`, nothing is buffered.
        """
        keys = [None if k is None else str(k) for k in correlation_keys]
        return self._events.correlate_message(name, keys, variables, choose, business_key)

    def broadcast_signal(
        self, name: str, variables: Mapping[str, Any] | None = None
    ) -> PublishResult:
        """Broadcast a signal to every element waiting for it (and start the processes with a
        signal start event of that name)."""
        return self._events.broadcast_signal(name, variables)

    def expire_messages(self) -> list[MessageRecord]:
        """Drop the buffered messages whose time to live ran out; each is logged."""
        return self._events.expire_messages()

    def close(self) -> None:
        """Give back the jobs this engine holds, stop its handler slots, release the
        database. Fetches waiting for jobs answer with what they have (nothing)."""
        self._external.parking.close()
        self._group_commit.close()
        self._jobs.close()
        if self.tracing is not None:
            self.tracing.shutdown()
        with self._listener_lock:
            if self._listener is not None:
                self._listener.close()
                self._listener = None
        self.store.close()
        self._executor.release_collector()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


_PAUSE = 0.1
_LONG_POLL_INTERVAL = 0.5
_LISTENED_POLL_INTERVAL = 5.0
"""A parked fetch looks again this often where other nodes' new work is notified (a lost
notification, as during a reconnect, delays a job by this much at most)."""
_MAX_PAUSE = 5.0


_OTLP_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
"""Set in the environment, they switch OTLP export on (``Engine(tracing=None)``)."""

TRACEPARENT = "traceparent"
"""The job header that carries a job attempt's W3C trace context to external workers."""


def _tracing(setting: object, also: BatchObserver | None) -> Tracing | None:
    """The engine's tracing as ``Engine(tracing=...)`` asks (see there)."""
    if setting is None:
        if not any(os.environ.get(name) for name in _OTLP_VARIABLES):
            return None
        setting = True
    if setting is False:
        return None
    from legato.runtime.tracing import tracing_for  # OpenTelemetry only when asked for

    return tracing_for(setting, also)


def _default_clock(store: Store) -> Clock:
    """The system clock, corrected to the database server's clock where nodes on several
    machines share it (PostgreSQL), so that leases and due times mean the same to all."""

    def read() -> datetime | None:
        with store.transaction() as tx:
            return tx.database_now()

    clock = DatabaseClock(read)
    return clock if clock.sync() is not None else SystemClock()


class _AlreadyStarted(Exception):
    """A start request id that another caller used first (rolls the second start back)."""

    def __init__(self, instance_key: int) -> None:
        super().__init__(instance_key)
        self.instance_key = instance_key


def _info_from_state(state: InstanceState) -> InstanceInfo:
    assert state.started_at is not None
    return InstanceInfo(
        key=state.instance_key,
        process_id=state.process_id,
        version=state.version,
        status=SUSPENDED if state.suspended else state.status,
        business_key=state.business_key,
        started_at=state.started_at,
        ended_at=state.ended_at,
        variables=dict(state.variables.get(state.instance_key, {})),
        active_elements=_active_elements(state),
        incidents=len(state.incidents),
        parent_instance_key=state.parent_instance_key,
        version_reason=state.version_reason,
    )


def _active_elements(state: InstanceState) -> tuple[str, ...]:
    return tuple(
        e.element_id for e in state.elements.values() if e.parent_key is not None and not e.children
    )


def _process_of(entries: list[HistoryEntry]) -> str:
    """The process id an instance's history names (in its first event)."""
    for entry in entries:
        process_id = entry.details.get("process_id")
        if isinstance(process_id, str):
            return process_id
    return ""
