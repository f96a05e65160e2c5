"""Which store a :class:`~legato.testing.TestEngine` built without ``url`` or ``store`` uses.

By default that is a fresh in-memory store. A test suite can run unchanged on a real
database by setting a store factory around its tests, for example in a pytest fixture:

```python
import pytest
from legato.store.sql import SqlStore
from legato.testing import use_stores

@pytest.fixture(autouse=True)
def on_sqlite(tmp_path):
    stores = []

    def new_store():
        stores.append(SqlStore(f"sqlite:///{tmp_path / f'engine{len(stores)}.db'}"))
        return stores[-1]

    with use_stores(new_store):
        yield
    for store in stores:
        store.close()
```

Each call of the factory must give a store of its own: two test engines in one test do not
share their data, as two in-memory engines would not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from legato.store.memory import MemoryStore
from legato.store.ports import Store

StoreFactory = Callable[[], Store]
"""Makes a new, empty store for one test engine."""

# A context variable rather than a global: a factory set in one test (or one thread, or one
# asyncio task) does not leak into another that runs alongside it.
_factory: ContextVar[StoreFactory | None] = ContextVar("legato_test_store_factory", default=None)


@contextmanager
def use_stores(factory: StoreFactory) -> Iterator[None]:
    """Within this block, test engines built without ``url`` or ``store`` take their store
    from ``factory`` (blocks nest; the previous factory is back afterwards)."""
    token = _factory.set(factory)
    try:
        yield
    finally:
        _factory.reset(token)


def new_test_store() -> Store:
    """A store for a new test engine: from the current factory, else in memory."""
    factory = _factory.get()
    return MemoryStore() if factory is None else factory()
