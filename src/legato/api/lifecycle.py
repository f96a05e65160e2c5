"""The application's life: readiness, and the stop that answers waiting requests.

The server runner calls :func:`begin_stop` when a stop begins (from a signal handler or any
thread); requests that wait (long polls) run their wait through :func:`until_stopping`,
which gives up the wait at once when the stop begins, so the server need not wait for them.
"""

from __future__ import annotations

import asyncio
from contextlib import suppress
from typing import TypeVar

from starlette.applications import Starlette

T = TypeVar("T")


def begin_stop(app: Starlette) -> None:
    """Mark the application as stopping: ``/ready`` answers 503 and waiting requests end.
    Safe from a signal handler and from any thread."""
    app.state.ready = False
    app.state.stopping = True
    loop: asyncio.AbstractEventLoop | None = getattr(app.state, "stop_loop", None)
    event: asyncio.Event | None = getattr(app.state, "stop_event", None)
    if loop is not None and event is not None and not loop.is_closed():
        loop.call_soon_threadsafe(event.set)


def _stop_event(app: Starlette) -> asyncio.Event:
    event: asyncio.Event | None = getattr(app.state, "stop_event", None)
    if event is None:
        event = asyncio.Event()
        app.state.stop_event = event
        app.state.stop_loop = asyncio.get_running_loop()
    if app.state.stopping:
        event.set()
    return event


async def until_stopping(app: Starlette, waiting: asyncio.Future[T]) -> T | None:
    """The result of ``waiting``, or None when the application begins to stop first (then
    ``waiting`` is cancelled)."""
    stopped: asyncio.Future[object] = asyncio.ensure_future(_stop_event(app).wait())
    both: set[asyncio.Future[object]] = {waiting, stopped}  # type: ignore[arg-type]
    try:
        done, _ = await asyncio.wait(both, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        waiting.cancel()
        raise
    finally:
        stopped.cancel()
    if waiting in done:
        return waiting.result()
    waiting.cancel()
    with suppress(asyncio.CancelledError):
        # It may have finished meanwhile: then its result stands.
        return await waiting
    return None
