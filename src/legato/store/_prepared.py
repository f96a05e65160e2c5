"""Hot-path statements: Core constructs compiled once, then run straight on the DBAPI cursor.

SQLAlchemy's ``Connection.execute`` spends most of a small statement's time on bookkeeping
(cache key, parameter processing set-up, result metadata), several times what SQLite needs
to run it. The engine commits many small transactions, so the statements it issues on every
command are compiled here once per dialect, with SQLAlchemy's own bind and result
processors (so :class:`~legato.store.schema.UtcTimestamp` and
:class:`~legato.store.schema.JsonText` behave exactly as on the Core path), and executed on
the same DBAPI connection inside the transaction that SQLAlchemy began.
"""

from __future__ import annotations

import functools
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from legato.errors import StoreError

_Processor = Callable[[Any], Any]
_row_class: Callable[[list[str]], Any] = functools.partial(namedtuple, "Row")


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    positional: bool
    names: tuple[str, ...]
    bind_processors: tuple[_Processor | None, ...]
    defaults: Mapping[str, Any]
    row_type: Callable[..., Any] | None
    result_processors: tuple[_Processor | None, ...]


class Prepared:
    """A statement compiled on first use for a dialect.

    Args:
        statement: an INSERT, UPDATE, DELETE or SELECT without expanding (``IN``) parameters.
        column_keys: for INSERT/UPDATE, the columns the parameters set (the SET/VALUES list).
    """

    __slots__ = ("_by_dialect", "_column_keys", "_statement")

    def __init__(self, statement: sa.Executable, column_keys: Sequence[str] | None = None) -> None:
        self._statement = statement
        self._column_keys = list(column_keys) if column_keys is not None else None
        self._by_dialect: dict[tuple[str, str], _Compiled] = {}

    def compiled(self, dialect: Dialect) -> _Compiled:
        """The statement compiled for ``dialect`` (cached)."""
        # Keyed by driver too: the SQL text carries the driver's parameter style.
        key = (dialect.name, dialect.driver)
        found = self._by_dialect.get(key)
        if found is None:
            found = self._by_dialect[key] = self._compile(dialect)
        return found

    def _compile(self, dialect: Dialect) -> _Compiled:
        statement: Any = self._statement  # every Executable built here is a ClauseElement
        compiled = statement.compile(dialect=dialect, column_keys=self._column_keys)
        names = tuple(compiled.positiontup or compiled.binds)
        binds = [compiled.binds[name] for name in names]
        row_type = None
        result_processors: tuple[_Processor | None, ...] = ()
        selected = getattr(self._statement, "selected_columns", None)
        if selected is not None:
            columns = list(selected)
            row_type = _row_class([column.key for column in columns])._make
            result_processors = tuple(
                column.type.result_processor(dialect, None) for column in columns
            )
        return _Compiled(
            sql=compiled.string,
            positional=bool(compiled.positional),
            names=names,
            bind_processors=tuple(bind.type.bind_processor(dialect) for bind in binds),
            # Literals written into the construct (e.g. ``name == "default"``) become binds
            # with a value; the caller does not pass those.
            defaults={
                name: bind.value
                for name, bind in zip(names, binds, strict=True)
                if bind.value is not None
            },
            row_type=row_type,
            result_processors=result_processors,
        )


def bind_parameters(compiled: _Compiled, values: Mapping[str, Any]) -> Any:
    """Driver-ready parameters for one execution: processed values in the compiled order."""
    defaults = compiled.defaults
    processed = []
    for name, processor in zip(compiled.names, compiled.bind_processors, strict=True):
        value = values[name] if name in values else defaults[name]
        processed.append(value if processor is None or value is None else processor(value))
    if compiled.positional:
        return processed
    return dict(zip(compiled.names, processed, strict=True))


def result_rows(compiled: _Compiled, raw_rows: Sequence[Sequence[Any]]) -> list[Any]:
    """Rows with attribute access and processed values (aware datetimes, decoded JSON)."""
    row_type = compiled.row_type
    if row_type is None:
        raise StoreError("statement returns no rows")
    processors = compiled.result_processors
    return [
        row_type(
            [
                value if processor is None or value is None else processor(value)
                for processor, value in zip(processors, raw, strict=True)
            ]
        )
        for raw in raw_rows
    ]
