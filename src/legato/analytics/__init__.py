"""Reports read from the store: the event log of chosen instances, exported for process
mining as IEEE XES or CSV (:func:`export_xes`, :func:`export_csv`, ``legato export``).

```python
from legato.analytics import export_xes

export_xes(engine, "onboarding.xes", process_id="onboarding", statuses=["completed"])
```

A process's dashboard (throughput, cycle time, error rate, bottlenecks per version) is
:mod:`legato.analytics.dashboard`, read from the analytics facts the engine keeps.

The package sits beside :mod:`legato.runtime` (it reads the store, not the engine), so it
takes an engine or a store alike.
"""

from legato.analytics.eventlog import EventLogSelection, LogCase, LogEvent
from legato.analytics.export import (
    ExportSummary,
    event_log,
    export_csv,
    export_log,
    export_xes,
    selection,
)

__all__ = [
    "EventLogSelection",
    "ExportSummary",
    "LogCase",
    "LogEvent",
    "event_log",
    "export_csv",
    "export_log",
    "export_xes",
    "selection",
]
