"""The dialect strategy: what SQLite and PostgreSQL are asked to do differently."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from legato.store.dialects import POSTGRES, SQLITE, dialect_of
from legato.store.schema import jobs


def test_each_database_name_has_its_strategy() -> None:
    assert dialect_of("sqlite") is SQLITE
    assert dialect_of("postgresql") is POSTGRES
    with pytest.raises(ValueError, match="mysql"):
        dialect_of("mysql")


def test_only_postgresql_locks_the_rows_it_claims() -> None:
    query = sa.select(jobs).where(jobs.c.job_key > 0)
    assert SQLITE.skip_locked(query) is query
    assert SQLITE.lock_row(query) is None
    claimed = str(POSTGRES.skip_locked(query).compile(dialect=postgresql.dialect()))
    assert claimed.endswith("FOR UPDATE SKIP LOCKED")
    only_jobs = POSTGRES.skip_locked(query, of=jobs).compile(dialect=postgresql.dialect())
    assert str(only_jobs).endswith("FOR UPDATE OF jobs SKIP LOCKED")
    locked = POSTGRES.lock_row(query)
    assert locked is not None
    assert str(locked.compile(dialect=postgresql.dialect())).endswith("FOR UPDATE")


def test_key_lists_are_padded_in_lists_on_sqlite_and_arrays_on_postgresql() -> None:
    assert list(SQLITE.key_lists([7, 8, 9])) == [(4, {"k0": 7, "k1": 8, "k2": 9, "k3": 9})]
    assert list(POSTGRES.key_lists([7, 8, 9])) == [(0, {"k": [7, 8, 9]})]
    keys = list(range(1, 1202))
    assert [size for size, _ in SQLITE.key_lists(keys)] == [512, 512, 256]
    assert [len(values["k"]) for _, values in POSTGRES.key_lists(keys)] == [500, 500, 201]


def test_a_value_list_is_never_split() -> None:
    assert SQLITE.value_list(["a", "b", "c"]) == (4, {"k0": "a", "k1": "b", "k2": "c", "k3": "c"})
    assert POSTGRES.value_list(["a", "b", "c"]) == (0, {"k": ["a", "b", "c"]})
    names = [f"t{n}" for n in range(700)]
    size, values = SQLITE.value_list(names)
    assert (size, list(values.values())) == (700, names)
    assert POSTGRES.value_list(names) == (0, {"k": names})


def test_each_database_gets_its_own_insert_construct() -> None:
    assert isinstance(SQLITE.insert(jobs), sqlite.Insert)
    assert isinstance(POSTGRES.insert(jobs), postgresql.Insert)
    sqlite_keys = str(SQLITE.key_array(jobs.c.job_key, "keys").compile(dialect=sqlite.dialect()))
    assert "IN" in sqlite_keys
    postgres_keys = POSTGRES.key_array(jobs.c.job_key, "keys").compile(dialect=postgresql.dialect())
    assert "ANY" in str(postgres_keys)
