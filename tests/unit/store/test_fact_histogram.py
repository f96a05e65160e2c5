"""The duration histograms: every duration lands in the bucket that holds it, and a
percentile read from the counts is within the documented relative error of the exact one."""

from __future__ import annotations

import math
import random

import pytest

from legato.store.histogram import RATIO, RELATIVE_ERROR, ZERO, bucket_of, bucket_value, percentile


def test_the_documented_error_is_under_five_percent() -> None:
    assert RELATIVE_ERROR < 0.05
    assert math.isclose(RELATIVE_ERROR, math.sqrt(RATIO) - 1)


@pytest.mark.parametrize("duration", [1, 2, 9, 10, 11, 999_999, 1_000_000, 86_400 * 10**6, 10**15])
def test_a_duration_falls_in_the_bucket_that_holds_it(duration: int) -> None:
    index = bucket_of(duration)
    assert RATIO**index <= duration < RATIO ** (index + 1)
    assert abs(bucket_value(index) / duration - 1) <= RELATIVE_ERROR + 1e-12


def test_zero_and_negative_durations_have_a_bucket_of_their_own() -> None:
    assert bucket_of(0) == bucket_of(-5) == ZERO
    assert bucket_value(ZERO) == 0.0


@pytest.mark.parametrize("seed", range(5))
def test_percentiles_from_the_counts_are_within_the_documented_error(seed: int) -> None:
    chance = random.Random(seed)
    durations = [int(math.exp(chance.uniform(0, math.log(3 * 86_400e6)))) for _ in range(5000)]
    counts: dict[int, int] = {}
    for duration in durations:
        counts[bucket_of(duration)] = counts.get(bucket_of(duration), 0) + 1
    ordered = sorted(durations)
    for fraction in (0.5, 0.9, 0.95, 0.99, 1.0):
        exact = ordered[max(1, math.ceil(fraction * len(ordered))) - 1]
        read = percentile(sorted(counts.items()), len(durations), fraction)
        assert abs(read / exact - 1) <= RELATIVE_ERROR + 1e-12, fraction


def test_no_durations_have_percentile_zero() -> None:
    assert percentile([], 0, 0.5) == 0.0
