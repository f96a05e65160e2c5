"""Keeps the engine's long-lived objects out of the cyclic garbage collector's full scans.

An engine keeps up to ``cache_size`` instance states in memory (some 40 container objects
each), plus its compiled definitions. Left to itself, CPython's collector scans all of them
in every full collection: with 10,000 instances cached such a collection paused the process
for 170 ms. Switching the collector off while a batch runs would avoid the scans, but for the
whole process of the user, not only for the engine.

Instead, once the batches committed since the last time have run ``every`` commands, the
engine collects what is not frozen (a full collection that scans only the objects made since
then) and freezes what survives (:func:`gc.freeze`): the states it caches, its definitions,
and whatever else was alive. Frozen objects are still freed by reference counting when they
are dropped (an evicted or finished state; instance states hold no reference cycles), but a
collection no longer scans them, so each pause stays bounded by what ``every`` commands
leave behind. The cost: objects of the process that were alive when frozen and later become
garbage in a reference cycle are reclaimed only after :func:`gc.unfreeze`. So that such
garbage cannot pile up in a long-running process (a server freezes the requests it has in
flight too), every :data:`THAW_EVERY` freezes the policy unfreezes everything and runs one
full collection over the whole heap before freezing again: one long pause (as long as an
ordinary full collection without freezing) every ``every * THAW_EVERY`` commands, in exchange
for a bound on what freezing can keep alive.

With the collector's default thresholds, the youngest generation is collected after
:data:`YOUNG_THRESHOLD` allocations instead of 700: a batch allocates many short-lived
objects, and collecting them less often roughly halves the time the collector takes, while
each young collection stays short. A process that switched the collector off itself keeps it
so (nothing is collected or frozen then), and one that set its own thresholds keeps them.
"""

from __future__ import annotations

import gc

FREEZE_EVERY = 125
"""Commands between two freezes (see :class:`CollectorPolicy`). Measured on the onboarding
workload with 10,000 instances cached, in CPU time on a machine where CPython is about half as
fast as the first one measured: every 250 commands, the longest collection took 10.6-13.8 ms;
every 125, 7.4-9.4 ms, for 0.02 ms per instance more of the collector's CPU (0.11 against 0.09).
(On the first machine, every 250: 6.6 ms; 500: 9-11 ms; 2,000: 20 ms; without freezing, full
collections took 170-200 ms.)"""

THAW_EVERY = 400
"""Freezes between two full collections of everything (see the module): with
:data:`FREEZE_EVERY` commands between freezes, one whole-heap collection per 50,000
commands."""

DEFAULT_YOUNG_THRESHOLD = 700
"""CPython's threshold for the youngest generation."""

YOUNG_THRESHOLD = 20_000
"""The threshold the engine sets for the youngest generation, if it is CPython's default.
Measured on the onboarding workload (5,000 instances, a CPU clock in the collector's
callbacks): with 5,000, 230 young collections cost 0.155 ms per instance; with 20,000, the
freezes' own collections come first and young ones almost never run (0-12), and the engine's
CPU per instance fell by a tenth. The price is cyclic garbage living longer in the whole
process: statements built per call (SQLAlchemy constructs) leave such garbage, which is why
the paged reads of a streamed export are prepared once (an event-log export's peak was 2.9
MB with 20,000 before they were, 1.9 MB with 5,000)."""


class CollectorPolicy:
    """Decides when to collect and freeze the objects the engine made (see the module)."""

    def __init__(self, every: int = FREEZE_EVERY, thaw_every: int = THAW_EVERY) -> None:
        self._every = every
        self._thaw_every = thaw_every
        self._since = 0
        self._freezes = 0
        self._frozen = False

    def ran(self, commands: int) -> None:
        """Called after a batch of ``commands`` committed: collect and freeze when due."""
        self._since += commands
        if self._frozen and self._since < self._every:
            return
        self._since = 0
        if not gc.isenabled():
            return  # switched off by the process itself: its choice stays
        if self._frozen:
            self._freezes += 1
            if self._freezes >= self._thaw_every:
                self._freezes = 0
                gc.unfreeze()  # garbage kept alive by earlier freezes is collected now
            gc.collect()
        else:
            young, middle, old = gc.get_threshold()
            if young == DEFAULT_YOUNG_THRESHOLD:
                gc.set_threshold(YOUNG_THRESHOLD, middle, old)
        self._frozen = True
        gc.freeze()

    def release(self) -> None:
        """The engine closes: what its freezes kept out of collections is collected again
        (:func:`gc.unfreeze`), so that a process that opens and closes engines does not keep
        each closed one's objects that are in reference cycles. Other engines of the process
        freeze theirs again after their next ``every`` commands."""
        if self._frozen:
            self._frozen = False
            self._since = 0
            gc.unfreeze()
