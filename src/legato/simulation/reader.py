"""Reading a scenario file: every key checked, every mistake a :class:`ScenarioError` with
the line of the key (``tomllib`` gives no lines once it has parsed: they are found in the
text, see :mod:`legato.simulation.toml_lines`)."""

from __future__ import annotations

import math
import re
import tomllib
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import isodate

from legato.simulation.calendar import DAY_NAMES, WorkCalendar
from legato.simulation.distributions import (
    Constant,
    Distribution,
    Exponential,
    LogNormal,
    Normal,
    Triangular,
    Uniform,
    WeightedChoice,
)
from legato.simulation.scenario import (
    DEFAULT_START,
    MODES,
    PROBABILITY_TOLERANCE,
    RATES,
    Arrivals,
    HistorySource,
    IntRange,
    Literal,
    PoolSpec,
    Scenario,
    ScenarioError,
    TaskSpec,
    clock_time,
    open_seconds_per_day,
)
from legato.simulation.toml_lines import KeyLines


def load_scenario(path: str | Path) -> Scenario:
    """Read and check a scenario file (see the module's docstring).

    Raises:
        ScenarioError: the file cannot be read or has a mistake (with its line).
    """
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"cannot read the scenario: {exc.strerror or exc}", file) from exc
    return parse_scenario(text, file)


def parse_scenario(text: str, file: str | None = None) -> Scenario:
    """Parse a scenario from its TOML text (``file`` names it in errors).

    Raises:
        ScenarioError: bad TOML (tomllib's message has the line), or a mistake in the scenario.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"\(at line (\d+)", str(exc))
        line = int(found.group(1)) if found else getattr(exc, "lineno", None)
        raise ScenarioError(f"not valid TOML: {exc}", file, line) from exc
    lines = KeyLines(text)
    reader = _Reader(file, lines)
    known = {"seed", "process", "mode", "arrivals", "tasks", "pools", "branches", "variables"}
    known.update(("sla", "messages"))
    known.add("from_history")
    for key in data:
        if key not in known:
            raise reader.error(f"unknown key '{key}' (expected one of {sorted(known)})", key)
    if "arrivals" not in data:
        raise reader.error("the scenario has no [arrivals] table")
    scenario = Scenario(file=file, lines=lines, arrivals=reader.arrivals(data["arrivals"]))
    scenario.seed = reader.integer(data.get("seed", 0), "seed")
    if "mode" in data:
        scenario.mode = reader.string(data["mode"], "mode")
        if scenario.mode not in MODES:
            raise reader.error(f"unknown mode '{scenario.mode}' (expected one of {MODES})", "mode")
    if "process" in data:
        scenario.process_id = reader.string(data["process"], "process")
    for name, table in reader.table(data.get("pools", {}), "pools").items():
        scenario.pools[name] = reader.pool(name, table)
    for element_id, table in reader.table(data.get("tasks", {}), "tasks").items():
        scenario.tasks[element_id] = reader.task(element_id, table, scenario.pools)
    for element_id, table in reader.table(data.get("messages", {}), "messages").items():
        scenario.messages[element_id] = reader.message(element_id, table)
    for gateway_id, table in reader.table(data.get("branches", {}), "branches").items():
        scenario.branches[gateway_id] = reader.branches(gateway_id, table)
    for name, spec in reader.table(data.get("variables", {}), "variables").items():
        scenario.variables[name] = reader.generator(spec, "variables", name)
    for key, value in reader.table(data.get("sla", {}), "sla").items():
        scenario.sla[key] = reader.duration(value, "sla", key)
    if "from_history" in data:
        scenario.from_history = reader.history(data["from_history"])
    return scenario


class _Reader:
    """Checks the parts of a parsed TOML document, raising errors with their lines."""

    def __init__(self, file: str | None, lines: KeyLines) -> None:
        self.file = file
        self.lines = lines

    def error(self, reason: str, *path: str) -> ScenarioError:
        return ScenarioError(reason, self.file, self.lines.line(*path))

    def table(self, value: object, *path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.error(f"[{'.'.join(path)}] must be a table", *path)
        return value

    def string(self, value: object, *path: str) -> str:
        if not isinstance(value, str):
            raise self.error(f"'{'.'.join(path)}' must be a string", *path)
        return value

    def integer(self, value: object, *path: str) -> int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.error(f"'{'.'.join(path)}' must be an integer", *path)
        return value

    def number(self, value: object, *path: str) -> float:
        if not isinstance(value, int | float) or isinstance(value, bool) or math.isnan(value):
            raise self.error(f"'{'.'.join(path)}' must be a number", *path)
        return float(value)

    def duration(self, value: object, *path: str) -> float:
        """Seconds of an ISO-8601 duration string (``PT5M``, ``P2D``), never negative."""
        name = ".".join(path)
        if not isinstance(value, str):
            raise self.error(f"'{name}' must be an ISO-8601 duration such as \"PT5M\"", *path)
        try:
            parsed = isodate.parse_duration(value.strip())
        except (isodate.ISO8601Error, ValueError) as exc:
            raise self.error(f"'{name}': malformed duration '{value}' ({exc})", *path) from exc
        if not isinstance(parsed, timedelta):
            raise self.error(
                f"'{name}': duration '{value}' has years or months; use days instead", *path
            )
        if parsed < timedelta(0):
            raise self.error(f"'{name}': negative duration '{value}'", *path)
        return parsed.total_seconds()

    def keys(self, table: dict[str, Any], allowed: set[str], *path: str) -> None:
        for key in table:
            if key not in allowed:
                raise self.error(
                    f"unknown key '{key}' in [{'.'.join(path)}] (expected one of "
                    f"{sorted(allowed)})",
                    *path,
                    key,
                )

    def distribution(self, value: object, *path: str) -> Distribution:
        if isinstance(value, str):
            return Constant(self.duration(value, *path))
        spec = self.table(value, *path)
        kind = spec.get("distribution")
        shapes: dict[str, tuple[str, ...]] = {
            "constant": ("value",),
            "uniform": ("min", "max"),
            "exponential": ("mean",),
            "normal": ("mean", "sd"),
            "lognormal": ("mean", "sd"),
            "triangular": ("min", "mode", "max"),
        }
        if kind not in shapes:
            raise self.error(
                f"unknown distribution {kind!r} in '{'.'.join(path)}' (expected one of "
                f"{sorted(shapes)})",
                *path,
            )
        needed = shapes[kind]
        self.keys(spec, {"distribution", *needed}, *path)
        missing = [key for key in needed if key not in spec]
        if missing:
            raise self.error(f"the {kind} distribution needs {missing}", *path)
        v = [self.duration(spec[key], *path, key) for key in needed]
        if kind in ("uniform", "triangular") and not v[0] <= v[-1]:
            raise self.error(f"'{'.'.join(path)}': min is above max", *path)
        if kind == "triangular" and not v[0] <= v[1] <= v[2]:
            raise self.error(f"'{'.'.join(path)}': mode is not between min and max", *path)
        built: dict[str, Distribution] = {
            "constant": Constant(v[0]),
            "uniform": Uniform(v[0], v[-1]),
            "exponential": Exponential(v[0]),
            "normal": Normal(v[0], v[-1]),
            "lognormal": LogNormal(v[0], v[-1]),
            "triangular": Triangular(*v) if kind == "triangular" else Constant(0.0),
        }
        return built[kind]

    def calendar(self, spec: dict[str, Any], *path: str) -> WorkCalendar:
        days_spec = spec.get("days", "mon-sun")
        days = self._days(days_spec, *path, "days")
        hours = self.string(spec.get("hours", "00:00-24:00"), *path, "hours")
        try:
            opens_text, closes_text = (part.strip() for part in hours.split("-"))
            opens = clock_time(opens_text)
            closes = clock_time(closes_text)
        except ValueError as exc:
            raise self.error(
                f"'{'.'.join(path)}.hours' must look like \"09:00-17:00\", not '{hours}'",
                *path,
                "hours",
            ) from exc
        if opens >= closes and closes != time(0):
            raise self.error(f"'{'.'.join(path)}.hours': opens after it closes", *path, "hours")
        zone_name = self.string(spec.get("timezone", "UTC"), *path, "timezone")
        try:
            zone = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise self.error(f"unknown time zone '{zone_name}'", *path, "timezone") from exc
        return WorkCalendar(frozenset(days), opens, closes if closes != time(0) else time.max, zone)

    def _days(self, value: object, *path: str) -> set[int]:
        words = value.split(",") if isinstance(value, str) else value
        if not isinstance(words, list) or not words:
            raise self.error(f"'{'.'.join(path)}' must be like \"mon-fri\"", *path)
        days: set[int] = set()
        for word in words:
            text = str(word).strip().lower()[:3] if "-" not in str(word) else str(word).lower()
            if "-" in text:
                first, last = (self._day(part.strip()[:3], *path) for part in text.split("-"))
                days.update(range(first, last + 1) if first <= last else [])
            else:
                days.add(self._day(text, *path))
        return days

    def _day(self, word: str, *path: str) -> int:
        if word not in DAY_NAMES:
            raise self.error(f"unknown day '{word}' in '{'.'.join(path)}'", *path)
        return DAY_NAMES.index(word)

    def arrivals(self, value: object) -> Arrivals:
        spec = self.table(value, "arrivals")
        allowed = {"per_day", "per_hour", "mean_interarrival", "every", "start", "duration"}
        allowed.add("calendar")
        self.keys(spec, {*allowed, "instances"}, "arrivals")
        rates = [key for key in RATES if key in spec]
        if len(rates) != 1:
            raise self.error(f"[arrivals] needs exactly one of {', '.join(RATES)}", "arrivals")
        calendar = None
        if "calendar" in spec:
            calendar = self.calendar(
                self.table(spec["calendar"], "arrivals", "calendar"), "arrivals", "calendar"
            )
        if rates[0] in ("mean_interarrival", "every"):
            mean = self.duration(spec[rates[0]], "arrivals", rates[0])
        else:
            key = rates[0]
            rate = self.number(spec[key], "arrivals", key)
            if rate <= 0:
                raise self.error(f"'arrivals.{key}' must be above 0", "arrivals", key)
            span = 3600.0 if key == "per_hour" else 86400.0
            if calendar is not None and key == "per_day":
                span = open_seconds_per_day(calendar)
            mean = span / rate
        if mean <= 0:
            raise self.error("the mean inter-arrival time must be above 0", "arrivals")
        if "duration" not in spec and "instances" not in spec:
            raise self.error('[arrivals] needs a duration (e.g. "P365D") or instances', "arrivals")
        horizon = self.duration(spec.get("duration", "P36500D"), "arrivals", "duration")
        limit = None
        if "instances" in spec:
            limit = self.integer(spec["instances"], "arrivals", "instances")
            if limit < 0:
                raise self.error("'arrivals.instances' must not be negative", "arrivals")
        gaps: Distribution = Constant(mean) if rates[0] == "every" else Exponential(mean)
        return Arrivals(
            gaps,
            self.start(spec.get("start")),
            timedelta(seconds=horizon),
            calendar,
            limit,
        )

    def start(self, value: object) -> datetime:
        if value is None:
            return DEFAULT_START
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value)
            except ValueError as exc:
                raise self.error(f"'arrivals.start': not a date-time: {exc}", "arrivals") from exc
        if isinstance(value, datetime):
            return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        if isinstance(value, date):
            return datetime.combine(value, time(0), UTC)
        raise self.error("'arrivals.start' must be a date-time", "arrivals", "start")

    def pool(self, name: str, value: object) -> PoolSpec:
        spec = self.table(value, "pools", name)
        self.keys(spec, {"size", "days", "hours", "timezone"}, "pools", name)
        size = self.integer(spec.get("size", 1), "pools", name, "size")
        if size < 1:
            raise self.error(f"pool '{name}' must have at least 1 member", "pools", name, "size")
        has_calendar = any(key in spec for key in ("days", "hours", "timezone"))
        calendar = self.calendar(spec, "pools", name) if has_calendar else None
        return PoolSpec(name, size, calendar)

    def task(self, element_id: str, value: object, pools: dict[str, PoolSpec]) -> TaskSpec:
        spec = self.table(value, "tasks", element_id)
        self.keys(spec, {"duration", "pool"}, "tasks", element_id)
        duration: Distribution = Constant(0.0)
        if "duration" in spec:
            duration = self.distribution(spec["duration"], "tasks", element_id, "duration")
        pool = None
        if "pool" in spec:
            pool = self.string(spec["pool"], "tasks", element_id, "pool")
            if pool not in pools:
                raise self.error(
                    f"unknown pool '{pool}' (no [pools.{pool}])", "tasks", element_id, "pool"
                )
        return TaskSpec(duration, pool)

    def message(self, element_id: str, value: object) -> Distribution:
        spec = self.table(value, "messages", element_id)
        self.keys(spec, {"delay"}, "messages", element_id)
        if "delay" not in spec:
            raise self.error(f"[messages.{element_id}] needs a delay", "messages", element_id)
        return self.distribution(spec["delay"], "messages", element_id, "delay")

    def branches(self, gateway_id: str, value: object) -> dict[str, float]:
        spec = self.table(value, "branches", gateway_id)
        probabilities = {
            flow: self.number(p, "branches", gateway_id, flow) for flow, p in spec.items()
        }
        for flow, p in probabilities.items():
            if not 0 <= p <= 1:
                raise self.error(
                    f"probability of '{flow}' must be between 0 and 1", "branches", gateway_id, flow
                )
        total = sum(probabilities.values())
        if abs(total - 1) > PROBABILITY_TOLERANCE:
            raise self.error(
                f"the probabilities of [branches.{gateway_id}] sum to {total:g}, not 1",
                "branches",
                gateway_id,
            )
        return probabilities

    def generator(self, value: object, *path: str) -> Any:
        if not isinstance(value, dict):
            return Literal(value)
        if len(value) == 1 and "constant" in value:
            return Literal(value["constant"])
        if "choice" in value:
            self.keys(value, {"choice", "weights"}, *path)
            choices = value["choice"]
            if not isinstance(choices, list) or not choices:
                raise self.error(f"'{'.'.join(path)}.choice' must be a list", *path)
            weights = value.get("weights", [1] * len(choices))
            if not isinstance(weights, list) or len(weights) != len(choices):
                raise self.error(f"'{'.'.join(path)}': one weight per choice", *path)
            numbers = [self.number(w, *path) for w in weights]
            if any(w < 0 for w in numbers) or sum(numbers) <= 0:
                raise self.error(f"'{'.'.join(path)}': weights must be positive", *path)
            return WeightedChoice.of(list(choices), numbers)
        for kind in ("uniform_int", "uniform"):
            if kind in value:
                self.keys(value, {kind}, *path)
                bounds = value[kind]
                if not isinstance(bounds, list) or len(bounds) != 2:
                    raise self.error(f"'{'.'.join(path)}.{kind}' must be [low, high]", *path)
                if kind == "uniform_int":
                    low, high = (self.integer(b, *path) for b in bounds)
                    if low > high:
                        raise self.error(f"'{'.'.join(path)}': low is above high", *path)
                    return IntRange(low, high)
                lo, hi = (self.number(b, *path) for b in bounds)
                if lo > hi:
                    raise self.error(f"'{'.'.join(path)}': low is above high", *path)
                return Uniform(lo, hi)
        raise self.error(
            f"unknown generator in '{'.'.join(path)}' (expected choice, uniform_int, uniform "
            "or constant)",
            *path,
        )

    def history(self, value: object) -> HistorySource:
        spec = self.table(value, "from_history")
        self.keys(spec, {"database", "process", "version"}, "from_history")
        for key in ("database", "process"):
            if key not in spec:
                raise self.error(f"from_history needs '{key}'", "from_history")
        version = None
        if "version" in spec:
            version = self.integer(spec["version"], "from_history", "version")
        return HistorySource(
            self.string(spec["database"], "from_history"),
            self.string(spec["process"], "from_history"),
            version,
        )
