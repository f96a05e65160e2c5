"""FEEL arithmetic and comparison operators; failures raise FeelEvaluationError."""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from legato.feel import temporal
from legato.feel.errors import FeelEvaluationError
from legato.feel.semantics import compare, equals, time_seconds, type_name
from legato.feel.values import DECIMAL_CONTEXT as CTX
from legato.feel.values import FarDate, YearsMonthsDuration

YMD = YearsMonthsDuration
Operator = Callable[[Any, Any], Any]


def _mismatch(verb: str, left: Any, right: Any) -> FeelEvaluationError:
    return FeelEvaluationError(f"can't {verb} {type_name(left)} and {type_name(right)}")


def _is_datetime(value: Any) -> bool:
    return isinstance(value, dt.datetime)


def _is_date(value: Any) -> bool:
    return isinstance(value, dt.date) and not isinstance(value, dt.datetime)


def add(left: Any, right: Any) -> Any:
    """``left + right``."""
    if left is None or right is None:
        return None
    if isinstance(left, Decimal) and isinstance(right, Decimal):
        return CTX.add(left, right)
    if isinstance(left, str) and isinstance(right, str):
        return left + right
    if isinstance(left, dt.timedelta | YMD) and not isinstance(right, dt.timedelta | YMD):
        left, right = right, left
    result = _add_duration(left, right)
    if result is None:
        raise _mismatch("add", left, right)
    return result


def _add_duration(value: Any, duration: Any) -> Any:
    if isinstance(value, FarDate) and isinstance(duration, dt.timedelta | YMD):
        return temporal.shift(value, duration)
    if isinstance(value, dt.date) and isinstance(duration, dt.timedelta | YMD):
        try:
            return _add_to_date(value, duration)
        except (OverflowError, ValueError):  # beyond year 9999 (or before 1): a far date
            return temporal.shift(value, duration)
    if isinstance(duration, YMD):
        if isinstance(value, YMD):
            return YMD(value.months + duration.months)
        return None
    if not isinstance(duration, dt.timedelta) or isinstance(value, bool):
        return None
    if isinstance(value, dt.timedelta):
        return value + duration
    if isinstance(value, dt.time):
        moved = dt.datetime.combine(dt.date(2000, 1, 1), value.replace(tzinfo=None)) + duration
        return moved.time().replace(tzinfo=value.tzinfo)
    return None


def subtract(left: Any, right: Any) -> Any:
    """``left - right``."""
    if left is None or right is None:
        return None
    if isinstance(left, Decimal) and isinstance(right, Decimal):
        return CTX.subtract(left, right)
    if isinstance(right, dt.timedelta | YMD) and not isinstance(left, bool):
        result = _add_duration(left, _negate_duration(right))
        if result is not None:
            return result
    result = _difference(left, right)
    if result is None:
        raise _mismatch("subtract", left, right)
    return result


def _add_to_date(value: dt.date, duration: dt.timedelta | YMD) -> dt.date:
    if isinstance(duration, YMD):
        return temporal.add_months(value, duration.months)
    if isinstance(value, dt.datetime):
        return value + duration
    return (dt.datetime.combine(value, dt.time()) + duration).date()


def _negate_duration(value: dt.timedelta | YMD) -> dt.timedelta | YMD:
    return YMD(-value.months) if isinstance(value, YMD) else -value


def _difference(left: Any, right: Any) -> dt.timedelta | None:
    if isinstance(left, FarDate) or isinstance(right, FarDate):
        return _far_difference(left, right)
    if _is_date(left) and _is_date(right):
        return _as_datetime(left) - _as_datetime(right)
    if _is_date(left) and _is_datetime(right) and right.utcoffset() is not None:
        return _as_datetime(left).replace(tzinfo=dt.UTC) - _as_datetime(right)
    if _is_datetime(left) and _is_date(right) and left.utcoffset() is not None:
        return _as_datetime(left) - _as_datetime(right).replace(tzinfo=dt.UTC)
    if _is_datetime(left) and _is_datetime(right):
        if (left.utcoffset() is None) != (right.utcoffset() is None):
            return None
        difference: dt.timedelta = left - right
        return difference
    if isinstance(left, dt.time) and isinstance(right, dt.time):
        (a, a_aware), (b, b_aware) = time_seconds(left), time_seconds(right)
        if a_aware != b_aware:
            return None
        return temporal.seconds_duration(a - b)
    return None


def _far_difference(left: Any, right: Any) -> dt.timedelta | None:
    kinds = {_temporal_kind(left), _temporal_kind(right)}
    if None in kinds or len(kinds) != 1:
        return None
    return temporal.far_difference(left, right)


def _temporal_kind(value: Any) -> tuple[bool, bool] | None:
    """Whether a (possibly far) date has a time, and whether it has a zone; None if no date."""
    plain = value.shifted if isinstance(value, FarDate) else value
    if isinstance(plain, dt.datetime):
        return True, plain.utcoffset() is not None
    return (False, False) if _is_date(plain) else None


def _as_datetime(value: dt.date) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime.combine(value, dt.time())


def multiply(left: Any, right: Any) -> Any:
    """``left * right``."""
    if left is None or right is None:
        return None
    if isinstance(left, Decimal) and isinstance(right, Decimal):
        return CTX.multiply(left, right)
    if isinstance(left, Decimal) and not isinstance(right, Decimal):
        left, right = right, left
    if isinstance(right, Decimal):
        if isinstance(left, dt.timedelta):
            return temporal.seconds_duration(CTX.multiply(temporal.duration_seconds(left), right))
        if isinstance(left, YMD):
            return YMD(
                int(CTX.multiply(Decimal(left.months), right).to_integral_value(decimal.ROUND_DOWN))
            )
    raise _mismatch("multiply", left, right)


def divide(left: Any, right: Any) -> Any:
    """``left / right``; division by zero is an error (null)."""
    if left is None or right is None:
        return None
    if isinstance(right, Decimal) and right == 0 and not isinstance(left, bool):
        raise FeelEvaluationError("division by zero")
    if isinstance(left, Decimal) and isinstance(right, Decimal):
        return CTX.divide(left, right)
    if isinstance(left, dt.timedelta) and isinstance(right, Decimal):
        return temporal.seconds_duration(CTX.divide(temporal.duration_seconds(left), right))
    if isinstance(left, YMD) and isinstance(right, Decimal):
        return YMD(
            int(CTX.divide(Decimal(left.months), right).to_integral_value(decimal.ROUND_DOWN))
        )
    if isinstance(left, dt.timedelta) and isinstance(right, dt.timedelta):
        if not right:
            raise FeelEvaluationError("division by zero")
        a, b = temporal.duration_seconds(left), temporal.duration_seconds(right)
        return CTX.divide(a, b)
    if isinstance(left, YMD) and isinstance(right, YMD):
        if not right.months:
            raise FeelEvaluationError("division by zero")
        return CTX.divide(Decimal(left.months), Decimal(right.months))
    raise _mismatch("divide", left, right)


def power(left: Any, right: Any) -> Any:
    """``left ** right``."""
    if left is None or right is None:
        return None
    if isinstance(left, Decimal) and isinstance(right, Decimal):
        if not left and right < 0:
            raise FeelEvaluationError("division by zero")
        return CTX.power(left, right)
    raise _mismatch("exponentiate", left, right)


def negate(value: Any) -> Any:
    """``-value``."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        return CTX.minus(value)
    if isinstance(value, dt.timedelta | YMD):
        return _negate_duration(value)
    raise FeelEvaluationError(f"can't negate {type_name(value)}")


def _ordering(name: str, test: Callable[[int], bool]) -> Operator:
    def operator(left: Any, right: Any) -> bool | None:
        if left is None or right is None:
            return None
        order = compare(left, right)
        if order is None:
            raise _mismatch(f"compare ({name})", left, right)
        return test(order)

    return operator


def equal(left: Any, right: Any) -> bool | None:
    """``left = right``."""
    result = equals(left, right)
    if result is None and left is not None and right is not None:
        raise _mismatch("compare (=)", left, right)
    return result


def not_equal(left: Any, right: Any) -> bool | None:
    """``left != right``."""
    result = equal(left, right)
    return None if result is None else not result


BINARY: dict[str, Operator] = {
    "+": add,
    "-": subtract,
    "*": multiply,
    "/": divide,
    "**": power,
    "=": equal,
    "!=": not_equal,
    "<": _ordering("<", lambda order: order < 0),
    "<=": _ordering("<=", lambda order: order <= 0),
    ">": _ordering(">", lambda order: order > 0),
    ">=": _ordering(">=", lambda order: order >= 0),
}
"""The binary operators by their symbol."""
