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
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from legato.errors import StoreError
from legato.store._rules import dump_json, load_json, utc
from legato.store.schema import JsonText, UtcTimestamp, from_micros, to_micros

_Processor = Callable[[Any], Any]
_row_class: Callable[[list[str]], Any] = functools.partial(namedtuple, "Row")


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    positional: bool
    names: tuple[str, ...]
    bind_processors: tuple[tuple[int, _Processor], ...]
    """(position in ``names``, processor) of the parameters that are converted."""
    defaults: Mapping[str, Any]
    row_type: Callable[..., Any] | None
    result_processors: tuple[tuple[int, _Processor], ...]
    """(column position, processor) of the result columns that are converted."""
    bind: Callable[[Mapping[str, Any]], Any]
    """The driver-ready parameters of one execution (see :func:`bind_parameters`)."""


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

    @property
    def table_name(self) -> str:
        """The table an INSERT, UPDATE or DELETE writes."""
        table = getattr(self._statement, "table", None)
        if not isinstance(table, sa.Table):
            raise StoreError("statement writes no table")
        return table.name

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
        result_processors: tuple[tuple[int, _Processor], ...] = ()
        selected = getattr(self._statement, "selected_columns", None)
        if selected is not None:
            columns = list(selected)
            row_type = _row_class([column.key for column in columns])._make
            result_processors = _present(
                [_result_processor(column.type, dialect) for column in columns]
            )
        bind_processors = _present([_bind_processor(bind.type, dialect) for bind in binds])
        # Literals written into the construct (e.g. ``name == "default"``) become binds with
        # a value; the caller does not pass those.
        defaults = {
            name: bind.value
            for name, bind in zip(names, binds, strict=True)
            if bind.value is not None
        }
        positional = bool(compiled.positional)
        return _Compiled(
            sql=compiled.string,
            positional=positional,
            names=names,
            bind_processors=bind_processors,
            defaults=defaults,
            row_type=row_type,
            result_processors=result_processors,
            bind=_binder(names, dict(bind_processors), defaults, positional),
        )


def _present(processors: Sequence[_Processor | None]) -> tuple[tuple[int, _Processor], ...]:
    return tuple((i, p) for i, p in enumerate(processors) if p is not None)


def _utc_result(value: datetime) -> datetime:
    return value.astimezone(UTC)


_PLAIN: dict[str, dict[type[Any], tuple[_Processor, _Processor]]] = {
    "sqlite": {UtcTimestamp: (to_micros, from_micros), JsonText: (dump_json, load_json)},
    "postgresql": {UtcTimestamp: (utc, _utc_result), JsonText: (dump_json, load_json)},
}
"""The (bind, result) conversions of the engine's own column types, per dialect.

SQLAlchemy's processor of a TypeDecorator wraps ``process_bind_param`` in a closure that also
checks for an implementation processor (BIGINT, TEXT and psycopg's timestamptz have none):
those two calls per value were most of the cost of binding a job or an instance row. These
functions are what the types' ``process_bind_param`` and ``process_result_value`` do on each
dialect (None never reaches them).
"""


def _plain(
    type_: sa.types.TypeEngine[Any], dialect: Dialect
) -> tuple[_Processor, _Processor] | None:
    by_type = _PLAIN.get(dialect.name)
    return by_type.get(type(type_)) if by_type else None


def _bind_processor(type_: sa.types.TypeEngine[Any], dialect: Dialect) -> _Processor | None:
    plain = _plain(type_, dialect)
    return plain[0] if plain else type_.bind_processor(dialect)


def _result_processor(type_: sa.types.TypeEngine[Any], dialect: Dialect) -> _Processor | None:
    plain = _plain(type_, dialect)
    return plain[1] if plain else type_.result_processor(dialect, None)


def bind_parameters(compiled: _Compiled, values: Mapping[str, Any]) -> Any:
    """Driver-ready parameters for one execution: processed values in the compiled order (a
    list for a positional driver, else a dict).

    None is passed as it is (NULL); the processors only see values.
    """
    return compiled.bind(values)


def _binder(
    names: Sequence[str],
    processors: Mapping[int, _Processor],
    defaults: Mapping[str, Any],
    positional: bool,
) -> Callable[[Mapping[str, Any]], Any]:
    """Write (once per compiled statement) the function that binds one execution's values.

    Every row the engine writes goes through it, and doing it generically (a loop over the
    names, then one over the processors, with an index operation per value) cost more than
    the statement itself on SQLite. As ``dataclasses`` writes ``__init__``, the function is
    generated: one lookup per name, and the conversion only where the column's type has one.
    The source is made of indexes and ``repr`` of the names only.
    """
    namespace: dict[str, Any] = {}
    lines = ["def bind(values):"]
    for index, name in enumerate(names):
        if name in defaults:
            namespace[f"d{index}"] = defaults[name]
            lines.append(f"    v{index} = values[{name!r}] if {name!r} in values else d{index}")
        else:
            lines.append(f"    v{index} = values[{name!r}]")
        if index in processors:
            namespace[f"p{index}"] = processors[index]
            lines.append(f"    if v{index} is not None: v{index} = p{index}(v{index})")
    if positional:
        lines.append(f"    return [{', '.join(f'v{i}' for i in range(len(names)))}]")
    else:
        pairs = (f"{name!r}: v{index}" for index, name in enumerate(names))
        lines.append(f"    return {{{', '.join(pairs)}}}")
    exec("\n".join(lines), namespace)  # built above from indexes and reprs  # nosec B102
    bind: Callable[[Mapping[str, Any]], Any] = namespace["bind"]
    return bind


def result_rows(compiled: _Compiled, raw_rows: Sequence[Sequence[Any]]) -> list[Any]:
    """Rows with attribute access and processed values (aware datetimes, decoded JSON)."""
    row_type = compiled.row_type
    if row_type is None:
        raise StoreError("statement returns no rows")
    processors = compiled.result_processors
    if not processors:
        return [row_type(raw) for raw in raw_rows]
    rows = []
    for raw in raw_rows:
        values = list(raw)
        for index, processor in processors:
            value = values[index]
            if value is not None:
                values[index] = processor(value)
        rows.append(row_type(values))
    return rows
