"""What the benchmark scripts share: machine facts for the reports, and RESULTS.md sections.

Each script rewrites only its own section of ``bench/RESULTS.md`` (:func:`write_section`).
"""

from __future__ import annotations

import math
import os
import platform
import resource
import subprocess
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

import sqlalchemy as sa

from legato import Engine

REPO = Path(__file__).resolve().parents[1]


def percentile(samples: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(samples)
    rank = max(math.ceil(pct / 100.0 * len(ordered)), 1)
    return ordered[rank - 1]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def file_mb(path: Path) -> float:
    """Size of a SQLite database with its WAL, in MiB."""
    total = 0
    for candidate in (path, path.with_name(path.name + "-wal")):
        if candidate.exists():
            total += candidate.stat().st_size
    return total / (1024.0 * 1024.0)


def sqlite_pragmas(engine: Engine) -> dict[str, str]:
    """journal_mode and synchronous as a new connection of the engine's store sees them."""
    sa_engine = getattr(engine.store, "engine", None)
    if not isinstance(sa_engine, sa.Engine):
        return {"journal_mode": "?", "synchronous": "?"}
    names = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
    with sa_engine.connect() as connection:
        journal = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
        sync = connection.exec_driver_sql("PRAGMA synchronous").scalar()
    synchronous = names.get(sync, str(sync)) if isinstance(sync, int) else str(sync)
    return {"journal_mode": str(journal).upper(), "synchronous": synchronous}


def git_revision() -> str:
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
            env=env,
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", "src"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
            env=env,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{rev} (with uncommitted changes in src/)" if changed else rev


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def display_path(path: Path) -> str:
    """The path relative to the repository (no machine-specific absolute paths in reports)."""
    return os.path.relpath(path.resolve(), REPO)


def version_of(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "unknown"


def yes(value: bool) -> str:
    return "yes" if value else "**no**"


def write_section(results: Path, title: str, section: str) -> None:
    """Replace (or append) this benchmark's section of RESULTS.md, keeping the others."""
    text = results.read_text(encoding="utf-8") if results.exists() else "# Benchmark results\n"
    lines = text.splitlines()
    heading = f"## {title}"
    if heading in lines:
        begin = lines.index(heading)
        end = next(
            (i for i in range(begin + 1, len(lines)) if lines[i].startswith("## ")), len(lines)
        )
        new_lines = [*lines[:begin], *section.rstrip("\n").splitlines(), "", *lines[end:]]
    else:
        new_lines = [*lines, "", *section.rstrip("\n").splitlines()]
    results.write_text("\n".join(new_lines).rstrip("\n") + "\n", encoding="utf-8")


def machine_facts(versions: dict[str, str]) -> dict[str, str]:
    """What a report says about the machine: cores, system, Python, the given versions, and
    the Legato revision measured."""
    return {
        "Machine": f"{os.cpu_count()} cores ({cpu_model()}), {platform.system()} "
        f"{platform.release()}",
        "Python": platform.python_version(),
        **versions,
        "Legato": f"{version_of('legato')}, commit {git_revision()}",
    }


def publish(section: str, title: str, results: Path, write: bool) -> None:
    """Print a report section and, unless told not to, write it into RESULTS.md."""
    print()
    print(section)
    if write:
        write_section(results, title, section)
        print(f"written to {display_path(results)}", flush=True)
