"""The test engine (virtual clock, deterministic retries) and its assertions."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from legato.bpmn import Profile
from legato.feel import FeelLimits
from legato.model import RetryPolicy
from legato.runtime.arguments import checked_arguments
from legato.runtime.clock import VirtualClock
from legato.runtime.engine import Engine
from legato.runtime.sla import AlertConfig
from legato.runtime.types import InstanceInfo
from legato.runtime.waiting import family, unhandled_jobs
from legato.runtime.webhooks import Webhook
from legato.security.sensitive import SensitivePolicy
from legato.store.ports import Store
from legato.testing.stores import new_test_store


class TestClock(VirtualClock):
    """A virtual clock whose :meth:`advance` also runs the work that became due."""

    __test__ = False  # not a pytest test class

    def __init__(self, start: datetime | None = None) -> None:
        super().__init__(start)
        self._on_advance: Callable[[], None] | None = None

    def advance(self, delta: timedelta) -> datetime:
        """Move time forward by ``delta`` and run what is due by then."""
        now = super().advance(delta)
        if self._on_advance is not None:
            self._on_advance()
        return now

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            super().advance(timedelta(seconds=seconds))


@checked_arguments
class TestEngine(Engine):
    """The same API as :class:`~legato.Engine`, on a virtual clock, in memory by default.

    Retries are not jittered, so backoff delays are exact and tests are repeatable. Given a
    ``url`` (or a ``store``) it runs on that database instead, with the same virtual clock:
    test a process against the database it is deployed on, e.g.
    ``TestEngine("postgresql://app@localhost/app_test")``. The tables are created if missing
    and are not emptied; use a database (or PostgreSQL schema) of the tests' own. Without
    either, the store comes from :func:`~legato.testing.use_stores` if a factory is set there.

    Args:
        url: a database URL (``sqlite:///…`` or ``postgresql://…``), as for
            :class:`~legato.Engine`.
        store: a store to use instead of ``url``.
        start: the virtual clock's first reading (now, when omitted).
        retry_policy: the default for jobs whose model sets none.
        concurrency: handler calls run at once (see :class:`~legato.Engine`).
        job_lease: how long a held job is leased (see :class:`~legato.Engine`).
        feel_limits: the limits of FEEL evaluations, as for :class:`~legato.Engine`.
        validation: ``"compatible"`` (the default) or ``"strict"``, as for
            :class:`~legato.Engine`.
        tracing: an OpenTelemetry SDK exporter or span processor to trace to (the SDK's
            ``InMemorySpanExporter`` lets a test assert on its instances' spans); none by
            default, whatever the environment says.
        analytics: keep the analytics facts, as for :class:`~legato.Engine`.
        alerts: when alerts are raised, as for :class:`~legato.Engine`; every
            :meth:`TestClock.advance` sweeps (alerts fire on the virtual clock), and
            :meth:`~legato.Engine.deliver_webhooks` posts what the sweeps enqueued.
        webhooks: webhooks to register, as for :class:`~legato.Engine`.
        policy: the policy on sensitive data, as for :class:`~legato.Engine`.

    Raises:
        ValueError: both ``url`` and ``store`` are given.
        StoreError: the database cannot be opened.
    """

    __test__ = False

    def __init__(
        self,
        url: str | None = None,
        *,
        store: Store | None = None,
        start: datetime | None = None,
        retry_policy: RetryPolicy | None = None,
        concurrency: int = 32,
        job_lease: timedelta = timedelta(seconds=30),
        feel_limits: FeelLimits | None = None,
        validation: Profile = "compatible",
        tracing: object = False,
        analytics: bool = True,
        alerts: AlertConfig | None = None,
        webhooks: Sequence[Webhook] = (),
        policy: SensitivePolicy | str | os.PathLike[str] | None = None,
    ) -> None:
        if url is not None and store is not None:
            raise ValueError("give a url or a store, not both")
        if url is None and store is None:
            store = new_test_store()
        clock = TestClock(start)
        super().__init__(
            url,
            store=store,
            clock=clock,
            retry_policy=retry_policy,
            worker_name="test-engine",
            random_source=lambda: 0.5,
            concurrency=concurrency,
            job_lease=job_lease,
            feel_limits=feel_limits,
            validation=validation,
            tracing=tracing,
            analytics=analytics,
            alerts=alerts,
            webhooks=webhooks,
            policy=policy,
        )
        self.clock: TestClock = clock
        clock._on_advance = self._run_due

    def _run_due(self) -> None:
        self.run_once_all()
        # Alerts fire on the virtual clock as on the wall clock: every advance sweeps.
        self.sweep_alerts()

    def run_once_all(self) -> int:
        """Run every job that is due now (without waiting for later ones)."""
        total = 0
        while ran := self.run_once():
            total += ran
        return total

    def path(self, instance: InstanceInfo | int) -> list[str]:
        """The ids of the elements an instance completed, in order."""
        key = instance if isinstance(instance, int) else instance.key
        return [
            entry.element_id
            for entry in self.history(key)
            if entry.event_type == "ElementCompleted" and entry.element_id is not None
        ]

    def assert_that(self, instance: InstanceInfo | int) -> InstanceAssert:
        """Fluent assertions on an instance's current state and path."""
        key = instance if isinstance(instance, int) else instance.key
        return InstanceAssert(self, key)


class InstanceAssert:
    """Assertions about one instance; each re-reads the instance and returns ``self``."""

    def __init__(self, engine: TestEngine, instance_key: int) -> None:
        self._engine = engine
        self._key = instance_key

    @property
    def info(self) -> InstanceInfo:
        """The instance now."""
        return self._engine.instance(self._key)

    def _fail(self, message: str) -> None:
        info = self.info
        path = self._engine.path(self._key)
        unhandled = unhandled_jobs(family(self._engine.state, [self._key]), self._engine.job_types)
        raise AssertionError(
            f"instance {self._key} ({info.process_id}, {info.status}): {message}\n"
            + (f"  no handler registered for the jobs waiting: {unhandled}\n" if unhandled else "")
            + f"  path taken: {path}\n  waiting at: {list(info.active_elements)}\n"
            f"  variables: {info.variables}"
        )

    def is_completed(self) -> InstanceAssert:
        """The instance has completed."""
        if self.info.status != "completed":
            self._fail("expected it to be completed")
        return self

    def is_terminated(self) -> InstanceAssert:
        """The instance was terminated."""
        if self.info.status != "terminated":
            self._fail("expected it to be terminated")
        return self

    def is_active(self) -> InstanceAssert:
        """The instance is still running."""
        if self.info.status != "active":
            self._fail("expected it to be active")
        return self

    def is_suspended(self) -> InstanceAssert:
        """The instance is suspended (see :meth:`~legato.Engine.suspend`)."""
        if self.info.status != "suspended":
            self._fail("expected it to be suspended")
        return self

    def is_waiting_at(self, *element_ids: str) -> InstanceAssert:
        """Each of these elements holds a token now."""
        active = set(self.info.active_elements)
        missing = [e for e in element_ids if e not in active]
        if missing:
            self._fail(f"expected tokens at {missing}")
        return self

    def has_passed(self, *element_ids: str) -> InstanceAssert:
        """Each of these elements was completed at least once."""
        path = set(self._engine.path(self._key))
        missing = [e for e in element_ids if e not in path]
        if missing:
            self._fail(f"expected it to have passed {missing}")
        return self

    def has_not_passed(self, *element_ids: str) -> InstanceAssert:
        """None of these elements was completed."""
        path = set(self._engine.path(self._key))
        passed = [e for e in element_ids if e in path]
        if passed:
            self._fail(f"expected it not to have passed {passed}")
        return self

    def has_passed_in_order(self, *element_ids: str) -> InstanceAssert:
        """These elements were completed in this order (others may come between)."""
        path = iter(self._engine.path(self._key))
        for element_id in element_ids:
            if not any(step == element_id for step in path):
                self._fail(f"expected the order {list(element_ids)}")
        return self

    def has_variables(self, **expected: Any) -> InstanceAssert:
        """The root scope holds these values (numbers compare by value)."""
        variables = self.info.variables
        wrong = {
            k: variables.get(k, "<missing>") for k, v in expected.items() if variables.get(k) != v
        }
        if wrong:
            self._fail(f"expected variables {expected}, but found {wrong}")
        return self

    def has_incident(self, element_id: str | None = None) -> InstanceAssert:
        """An open incident exists (at ``element_id``)."""
        incidents = self._engine.incidents(instance_key=self._key)
        if not any(element_id in (None, i.element_id) for i in incidents):
            self._fail(f"expected an open incident{' at ' + element_id if element_id else ''}")
        return self
