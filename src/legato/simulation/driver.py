"""The simulation driver: the real engine (see :mod:`legato.simulation.engines`) fed generated
instances by a discrete-event queue.

The queue holds arrivals, the ends of sampled work (and message delays), pool openings and
due timers, in time order. The driver moves the clock to the next event, runs every command
due at that instant as one batch, and reads what the engine did from the batch's events: a
job or a user task created is work to do, an instance completed ends a cycle. Work done by
a pool waits for a free member within the pool's working hours: that wait is the queue time.
Time is kept in seconds since the start of the simulation; random numbers come from streams
of their own (arrivals, instance variables, each element's durations), so a seed repeats a
run exactly and two models compared on one scenario see the same arrivals.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from legato.engine import commands as cmd
from legato.engine import events as ev
from legato.simulation.calendar import WorkCalendar
from legato.simulation.distributions import Constant, Distribution, WeightedChoice
from legato.simulation.engines import CoreEngine, DrivenEngine, SimulationEngine, Steps
from legato.simulation.model import SimulatedModel
from legato.simulation.report import DurationSummary, SimulationReport, SlaReport
from legato.simulation.scenario import Scenario, TaskSpec, generate_variables
from legato.simulation.tally import (
    JOB,
    MESSAGE,
    USER_TASK,
    ElementTally,
    PoolTally,
    Work,
)

_ARRIVAL, _DONE, _OPEN, _TIMER = 0, 1, 2, 3
PURGE_EVERY = 5_000
"""Completed instances are deleted from the memory store in batches of this many."""
DRAIN_LIMIT = timedelta(days=365)
"""After the last arrival, at most this much simulated time for the instances to finish."""


_NO_WORK = TaskSpec(Constant(0.0))


class Simulation:
    """One run of a scenario on a model (see the module docstring)."""

    def __init__(
        self,
        model: SimulatedModel,
        scenario: Scenario,
        model_name: str,
        engine: SimulationEngine | None = None,
    ) -> None:
        """``engine``: one on a database (see :mod:`legato.simulation.database`) instead of
        a new one in memory; its clock starts at the scenario's start."""
        self.model = model
        self.scenario = scenario
        self.model_name = model_name
        self.start = scenario.arrivals.start
        deployed = engine or SimulationEngine(self.start)
        deployed.deploy(model.xml)
        self.core = scenario.mode == "core"
        self.engine: DrivenEngine = CoreEngine(deployed) if self.core else deployed
        self.definition_key = self.engine.definition_key(model.process.process_id)
        seed = scenario.seed
        self.arrival_rng = random.Random(f"{seed}:arrivals")
        self.instance_rng = random.Random(f"{seed}:instances")
        self.task_rngs: dict[str, random.Random] = {}
        self.branches = {
            gateway: WeightedChoice.of(list(p), list(p.values()))
            for gateway, p in scenario.branches.items()
        }
        self.pools = {name: PoolTally(spec, spec.size) for name, spec in scenario.pools.items()}
        self.heap: list[tuple[float, int, int, Any]] = []
        self.sequence = 0
        self.arrived = 0
        self.horizon = scenario.arrivals.horizon.total_seconds()
        self.started: dict[int, float] = {}
        self.work: dict[int, Work] = {}
        self.cycle_times: list[float] = []
        self.elements: dict[str, ElementTally] = {}
        self.sla_counts: dict[str, list[int]] = {key: [0, 0] for key in scenario.sla}
        self.incidents = 0
        self.ended: list[int] = []
        self.now = 0.0
        self._readers: dict[type[ev.Event], Callable[[int, Any, set[str]], None]] = {
            ev.JobCreated: self._job_created,
            ev.UserTaskCreated: self._user_task_created,
            ev.InstanceCreated: self._instance_created,
            ev.InstanceCompleted: self._instance_completed,
            ev.InstanceTerminated: self._instance_terminated,
            ev.TimerScheduled: self._timer_scheduled,
            ev.JobCanceled: self._job_canceled,
            ev.UserTaskCanceled: self._user_task_canceled,
            ev.IncidentRaised: self._incident_raised,
            ev.SubscriptionOpened: self._subscription_opened,
            ev.SubscriptionClosed: self._subscription_closed,
        }
        """The reader of each event the driver reads (the others, most, are skipped)."""

    # -- the queue -----------------------------------------------------------------------------

    def _push(self, at: float, kind: int, item: Any) -> None:
        self.sequence += 1
        heapq.heappush(self.heap, (at, self.sequence, kind, item))

    def _moment(self, seconds: float) -> datetime:
        return self.start + timedelta(seconds=seconds)

    def _seconds(self, moment: datetime) -> float:
        return (moment - self.start).total_seconds()

    def _next_arrival(self, after: float) -> None:
        arrivals = self.scenario.arrivals
        if arrivals.limit is not None and self.arrived >= arrivals.limit:
            return
        gap = arrivals.interarrival.sample(self.arrival_rng)
        calendar = arrivals.calendar
        if calendar is None:
            at = after + gap
        else:
            at = self._seconds(calendar.add_work(self._moment(after), gap))
        if at < self.horizon:
            self._push(at, _ARRIVAL, None)

    # -- running -------------------------------------------------------------------------------

    def run(self) -> SimulationReport:
        """Simulate until nothing is left to do (or the drain limit); the report."""
        self._next_arrival(0.0)
        limit = self.horizon + DRAIN_LIMIT.total_seconds()
        engine = self.engine
        heap = self.heap
        while heap and heap[0][0] <= limit:
            now = heap[0][0]
            self.now = now
            commands: list[cmd.Command] = []
            touched: set[str] = set()
            fire = False
            while heap and heap[0][0] == now:
                _, _, kind, item = heapq.heappop(heap)
                if kind == _ARRIVAL:
                    self.arrived += 1
                    commands.append(self._start_command())
                    self._next_arrival(now)
                elif kind == _DONE:
                    completion = self._finish(item, touched)
                    if completion is not None:
                        commands.append(completion)
                elif kind == _OPEN:
                    item.opening_scheduled = False
                    touched.add(item.spec.name)
                elif self.core:
                    commands.append(cmd.TriggerTimer(instance_key=item[0], timer_key=item[1]))
                else:
                    fire = True
            self._read_steps(engine.run(commands, self._moment(now), fire), touched)
            for name in sorted(touched):  # in a fixed order: a seed repeats a run
                self._dispatch(self.pools[name])
            if len(self.ended) >= PURGE_EVERY:
                self._purge()
        return self._report()

    def _start_command(self) -> cmd.StartInstance:
        variables = generate_variables(self.scenario.variables, self.instance_rng)
        for gateway, choice in self.branches.items():
            variables[self.model.branch_variables[gateway]] = choice.pick(self.instance_rng)
        return cmd.StartInstance(
            instance_key=cmd.NEW_INSTANCE, definition_key=self.definition_key, variables=variables
        )

    def _finish(self, work: Work, touched: set[str]) -> cmd.Command | None:
        """The end of sampled work: its member is free again, its element's figures noted."""
        pool_name = work.spec.pool
        if pool_name is not None:
            self.pools[pool_name].free += 1
            touched.add(pool_name)
        self.work.pop(work.key, None)
        if work.cancelled:
            return None
        waiting = work.started - work.created
        processing = self.now - work.started
        tally = self.elements.get(work.element_id)
        if tally is None:
            tally = self.elements[work.element_id] = ElementTally()
        tally.add(waiting, processing)
        sla = self.sla_counts.get(work.element_id)
        if sla is not None:
            sla[0] += 1
            if waiting + processing > self.scenario.sla[work.element_id]:
                sla[1] += 1
        if work.kind == JOB:
            return cmd.CompleteJob(instance_key=work.instance_key, job_key=work.key)
        if work.kind == USER_TASK:
            return cmd.CompleteUserTask(instance_key=work.instance_key, user_task_key=work.key)
        name, correlation_key = work.message
        return cmd.CorrelateMessage(
            instance_key=work.instance_key,
            subscription_key=work.key,
            name=name,
            correlation_key=correlation_key,
        )

    def _read_steps(self, steps: Steps, touched: set[str]) -> None:
        """What the engine did in the last batch: new work, ended instances, timers.

        Most events say nothing the driver needs: one lookup of the event's class skips
        them, and finds the reader of the others."""
        readers = self._readers
        for state, events in steps:
            for event in events:
                reader = readers.get(type(event))
                if reader is not None:
                    reader(state.instance_key, event, touched)

    def _job_created(self, instance_key: int, event: Any, touched: set[str]) -> None:
        self._new_work(instance_key, event.element_id, event.job_key, JOB, touched)

    def _user_task_created(self, instance_key: int, event: Any, touched: set[str]) -> None:
        self._new_work(instance_key, event.element_id, event.user_task_key, USER_TASK, touched)

    def _subscription_opened(self, instance_key: int, event: Any, _: set[str]) -> None:
        if event.element_id in self.scenario.messages:
            self._new_message(instance_key, event)

    def _subscription_closed(self, _key: int, event: Any, _: set[str]) -> None:
        closed = self.work.get(event.subscription_key)
        if closed is not None and closed.kind == MESSAGE:
            closed.cancelled = True

    def _instance_created(self, instance_key: int, _event: Any, _: set[str]) -> None:
        self.started[instance_key] = self.now

    def _instance_completed(self, instance_key: int, _event: Any, _: set[str]) -> None:
        self._ended(instance_key, True)

    def _instance_terminated(self, instance_key: int, _event: Any, _: set[str]) -> None:
        self._ended(instance_key, False)

    def _timer_scheduled(self, instance_key: int, event: Any, _: set[str]) -> None:
        due = max(self._seconds(event.due_at), self.now)
        self._push(due, _TIMER, (instance_key, event.timer_key))

    def _job_canceled(self, _key: int, event: Any, _: set[str]) -> None:
        self._cancel(event.job_key)

    def _user_task_canceled(self, _key: int, event: Any, _: set[str]) -> None:
        self._cancel(event.user_task_key)

    def _cancel(self, key: int) -> None:
        cancelled = self.work.get(key)
        if cancelled is not None:
            cancelled.cancelled = True

    def _incident_raised(self, _key: int, _event: Any, _: set[str]) -> None:
        self.incidents += 1

    def _new_work(
        self, instance_key: int, element_id: str, key: int, kind: int, touched: set[str]
    ) -> None:
        spec = self.scenario.tasks.get(element_id, _NO_WORK)
        work = Work(instance_key, element_id, key, kind, self.now, spec)
        self.work[key] = work
        if spec.pool is None:
            work.started = self.now
            self._push(self.now + self._sample(element_id, spec.duration), _DONE, work)
            return
        pool = self.pools[spec.pool]
        pool.queue_changed(self.now)
        pool.queue.append(work)
        pool.queue_max = max(pool.queue_max, len(pool.queue))
        touched.add(spec.pool)

    def _new_message(self, instance_key: int, event: ev.SubscriptionOpened) -> None:
        """A message the scenario sends to this subscription after its delay."""
        delay = self.scenario.messages[event.element_id]
        key = event.subscription_key
        work = Work(instance_key, event.element_id, key, MESSAGE, self.now, TaskSpec(delay))
        work.message = (event.name, event.correlation_key)
        work.started = self.now
        self.work[key] = work
        self._push(self.now + self._sample(event.element_id, delay), _DONE, work)

    def _sample(self, element_id: str, duration: Distribution) -> float:
        rng = self.task_rngs.get(element_id)
        if rng is None:
            rng = self.task_rngs[element_id] = random.Random(
                f"{self.scenario.seed}:task:{element_id}"
            )
        return duration.sample(rng)

    def _dispatch(self, pool: PoolTally) -> None:
        """Give queued work to free members while the pool is open."""
        now = self.now
        calendar: WorkCalendar | None = pool.spec.calendar
        while pool.free and pool.queue:
            if calendar is not None:
                moment = self._moment(now)
                opening = calendar.next_open(moment)
                if opening != moment:
                    if not pool.opening_scheduled:
                        pool.opening_scheduled = True
                        self._push(self._seconds(opening), _OPEN, pool)
                    return
            pool.queue_changed(now)
            work = pool.queue.popleft()
            if work.cancelled:
                self.work.pop(work.key, None)
                continue
            pool.free -= 1
            work.started = now
            seconds = self._sample(work.element_id, work.spec.duration)
            pool.busy_seconds += seconds
            if calendar is None:
                end = now + seconds
            else:
                end = self._seconds(calendar.add_work(self._moment(now), seconds))
            self._push(end, _DONE, work)

    def _ended(self, instance_key: int, completed: bool) -> None:
        began = self.started.pop(instance_key, None)
        self.ended.append(instance_key)
        if began is None or not completed:
            return
        cycle = self.now - began
        self.cycle_times.append(cycle)
        sla = self.sla_counts.get("process")
        if sla is not None:
            sla[0] += 1
            if cycle > self.scenario.sla["process"]:
                sla[1] += 1

    def _purge(self) -> None:
        """Drop ended instances from the store: the report needs nothing more of them."""
        self.engine.forget(self.ended)
        self.ended = []

    # -- the report ----------------------------------------------------------------------------

    def _report(self) -> SimulationReport:
        end = self.now
        sla = [
            SlaReport(target, self.scenario.sla[target], counts[0], counts[1])
            for target, counts in self.sla_counts.items()
        ]
        return SimulationReport(
            model=self.model_name,
            process_id=self.model.process.process_id,
            seed=self.scenario.seed,
            started_at=self.start.isoformat(),
            ended_at=self._moment(end).isoformat(),
            instances_started=self.arrived,
            instances_completed=len(self.cycle_times),
            instances_active=len(self.started),
            incidents=self.incidents,
            cycle_time=DurationSummary.of(self.cycle_times),
            elements=[t.report(e) for e, t in sorted(self.elements.items())],
            pools=[p.report(self.start, end) for p in self.pools.values()],
            sla=sla,
        )
