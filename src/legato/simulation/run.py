"""Running a scenario on one model, or on two to compare them (in two processes)."""

from __future__ import annotations

import dataclasses
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

from legato.simulation.database import open_database
from legato.simulation.driver import Simulation
from legato.simulation.history import apply_history
from legato.simulation.model import prepare_model
from legato.simulation.reader import load_scenario
from legato.simulation.report import SimulationReport
from legato.simulation.scenario import Scenario


def simulate(
    model: str | Path,
    scenario: str | Path | Scenario,
    *,
    seed: int | None = None,
    db: str | None = None,
    append: bool = False,
) -> SimulationReport:
    """Simulate ``scenario`` (a file, or one parsed) on the model file ``model``.

    ``seed`` replaces the scenario's own. ``db``: a database URL to run on, in ``runtime``
    mode, leaving the instances and analytics facts there (see
    :mod:`legato.simulation.database`); ``append`` lets it hold the process's instances
    already.

    Raises:
        ScenarioError: a mistake in the scenario, or an element the model does not have.
        BpmnParseError, BpmnValidationError: the model cannot be read or deployed.
        SimulationDatabaseError: ``db`` holds instances of the process and not ``append``.
        StoreError: ``db`` cannot be opened.
    """
    chosen = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    if seed is not None:
        chosen = dataclasses.replace(chosen, seed=seed)
    prepared = prepare_model(model, chosen)
    chosen = apply_history(chosen, prepared.process)
    prepared = prepare_model(model, chosen) if chosen.branches else prepared
    if db is None:
        return Simulation(prepared, chosen, str(model)).run()
    chosen = dataclasses.replace(chosen, mode="runtime")
    process_id = prepared.process.process_id
    engine = open_database(db, chosen.arrivals.start, process_id, append)
    try:
        return Simulation(prepared, chosen, str(model), engine).run()
    finally:
        engine.close()


def compare(
    model: str | Path,
    other: str | Path,
    scenario: str | Path,
    *,
    seed: int | None = None,
    parallel: bool = True,
) -> tuple[SimulationReport, SimulationReport]:
    """Simulate one scenario file, with one seed, on two models; each in a process of its
    own when ``parallel`` (the two runs share nothing).

    Raises:
        ScenarioError, BpmnParseError, BpmnValidationError: as :func:`simulate`, for either.
    """
    if not parallel:
        return simulate(model, scenario, seed=seed), simulate(other, scenario, seed=seed)
    # Spawned, not forked: a fork copies the caller's threads' locks in whatever state they are.
    with ProcessPoolExecutor(max_workers=2, mp_context=get_context("spawn")) as pool:
        first = pool.submit(simulate, model, scenario, seed=seed)
        second = pool.submit(simulate, other, scenario, seed=seed)
        return first.result(), second.result()
