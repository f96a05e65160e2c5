"""Log-scale duration buckets: percentiles from counts, within a known relative error.

A duration of ``d`` microseconds (``d >= 1``) falls in bucket ``floor(log(d) / log(RATIO))``;
bucket ``i`` holds ``[RATIO**i, RATIO**(i+1))`` and stands for its geometric middle
``RATIO**(i + 0.5)``. Any duration in the bucket is within a factor ``sqrt(RATIO)`` of that
value, so a percentile read from the counts is off by at most ``sqrt(RATIO) - 1`` of the
true one (:data:`RELATIVE_ERROR`, 4.9 % with ``RATIO = 1.1``). Zero durations have a bucket
of their own (:data:`ZERO`). A year in microseconds is bucket 326: a few hundred rows per
element and day at most, usually a few dozen.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

RATIO = 1.1
"""The ratio of a bucket's upper bound to its lower bound."""

RELATIVE_ERROR = math.sqrt(RATIO) - 1
"""The largest relative error of a percentile read from the buckets (about 0.0488)."""

ZERO = -1
"""The bucket of zero durations."""

_LOG_RATIO = math.log(RATIO)


def bucket_of(duration_us: int) -> int:
    """The bucket of a duration in microseconds (negative durations count as zero)."""
    if duration_us <= 0:
        return ZERO
    index = int(math.log(duration_us) / _LOG_RATIO)
    # Floating point may put an exact power of RATIO one bucket low or high.
    if RATIO ** (index + 1) <= duration_us:
        index += 1
    elif RATIO**index > duration_us:
        index -= 1
    return index


def bucket_value(index: int) -> float:
    """The duration in microseconds that bucket ``index`` stands for."""
    return 0.0 if index == ZERO else RATIO ** (index + 0.5)


def percentile(counts: Iterable[tuple[int, int]], total: int, fraction: float) -> float:
    """The ``fraction`` percentile (0 < fraction <= 1, nearest rank) in microseconds of the
    durations counted as (bucket, count) pairs sorted by bucket; 0 when ``total`` is 0."""
    if total <= 0:
        return 0.0
    rank = max(1, math.ceil(fraction * total))
    seen = 0
    last = ZERO
    for index, count in counts:
        seen += count
        last = index
        if seen >= rank:
            return bucket_value(index)
    return bucket_value(last)
