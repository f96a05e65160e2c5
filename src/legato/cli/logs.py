"""Log lines of a serving node: one line per failed attempt, new incident or abandoned call."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from legato.runtime.logcontext import JobLogFilter

LOG_FORMATS = ("text", "json")

LogFormatOption = Annotated[
    str | None,
    typer.Option(
        "--log-format",
        envvar="LEGATO_LOG_FORMAT",
        help="text (default) or json: one JSON object per line with the instance, element "
        "and job keys of the lines that concern one.",
    ),
]


def json_logs(log_json: bool, log_format: str | None) -> bool:
    """Whether to log JSON lines (``--log-json`` or ``--log-format json``).

    Raises:
        typer.BadParameter: ``log_format`` is neither ``text`` nor ``json``.
    """
    if log_format is not None and log_format.lower() not in LOG_FORMATS:
        raise typer.BadParameter(
            f"'{log_format}' is not a log format: use text or json", param_hint="--log-format"
        )
    return log_json or (log_format or "").lower() == "json"


class JsonLines(logging.Formatter):
    """One JSON object per record: time, level, logger, message and the record's ``legato``
    fields (instance, element, job, incident keys)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "legato", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class _Stderr(logging.Handler):
    """Writes each record as a line to whatever ``sys.stderr`` is when the record comes (a
    test runner swaps it per command)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:
            self.handleError(record)


@contextmanager
def logging_to_stderr(*, json_lines: bool = False, level: int = logging.INFO) -> Iterator[None]:
    """While the block runs, Legato's log records go to stderr, a line each (JSON objects
    with ``json_lines``); the logger is left as it was afterwards."""
    handler = _Stderr()
    handler.addFilter(JobLogFilter())
    handler.setFormatter(
        JsonLines()
        if json_lines
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    logger = logging.getLogger("legato")
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
