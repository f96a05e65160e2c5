"""FEEL (Friendly Enough Expression Language, DMN 1.5): compile once, evaluate many times.

```python
from legato import feel

expression = feel.compile("a + 1 > 2")
expression.evaluate({"a": 5})                 # True
feel.evaluate("x * 2", {"x": 3})              # Decimal("6")
feel.compile_unary_tests("< 10").matches(3)   # True
```

Numbers are ``decimal.Decimal`` (decimal128: 34 significant digits, exponents up to 6144);
errors never raise out of an evaluation: they yield null and a warning (see
:meth:`CompiledExpression.evaluate_detailed`). The one exception is passing a limit of
:class:`FeelLimits` (iterations, collection sizes, string lengths, memory, nesting): the
evaluation stops and raises :class:`FeelLimitError`, so that a runaway expression can neither
exhaust memory nor quietly turn into null::

    feel.evaluate("for x in 1..10 return x", limits=feel.FeelLimits(iterations=5))  # raises
    with feel.use_limits(feel.FeelLimits(string_length=1_000)):
        ...                                   # evaluations here (also DMN ones) use these

This package is standalone and imports nothing else from Legato.
"""

from __future__ import annotations

from legato.feel.api import (
    CompiledExpression,
    CompiledUnaryTests,
    EvaluationResult,
    compile,
    compile_unary_tests,
    evaluate,
)
from legato.feel.errors import FeelError, FeelEvaluationError, FeelLimitError, FeelSyntaxError
from legato.feel.lexer import MAX_LENGTH
from legato.feel.limits import DEFAULT_LIMITS, FeelLimits, current_limits, use_limits
from legato.feel.parser import MAX_DEPTH
from legato.feel.runtime import FeelFunction
from legato.feel.values import Range, YearsMonthsDuration

__all__ = [
    "DEFAULT_LIMITS",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "CompiledExpression",
    "CompiledUnaryTests",
    "EvaluationResult",
    "FeelError",
    "FeelEvaluationError",
    "FeelFunction",
    "FeelLimitError",
    "FeelLimits",
    "FeelSyntaxError",
    "Range",
    "YearsMonthsDuration",
    "compile",
    "compile_unary_tests",
    "current_limits",
    "evaluate",
    "use_limits",
]
