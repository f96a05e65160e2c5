"""FEEL (Friendly Enough Expression Language, DMN 1.5): compile once, evaluate many times.

```python
from legato import feel

expression = feel.compile("a + 1 > 2")
expression.evaluate({"a": 5})                 # True
feel.evaluate("x * 2", {"x": 3})              # Decimal("6")
feel.compile_unary_tests("< 10").matches(3)   # True
```

Numbers are ``decimal.Decimal`` (34 significant digits); errors never raise out of an
evaluation: they yield null and a warning (see :meth:`CompiledExpression.evaluate_detailed`).
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
from legato.feel.errors import FeelError, FeelEvaluationError, FeelSyntaxError
from legato.feel.lexer import MAX_LENGTH
from legato.feel.parser import MAX_DEPTH
from legato.feel.runtime import FeelFunction
from legato.feel.values import Range, YearsMonthsDuration

__all__ = [
    "MAX_DEPTH",
    "MAX_LENGTH",
    "CompiledExpression",
    "CompiledUnaryTests",
    "EvaluationResult",
    "FeelError",
    "FeelEvaluationError",
    "FeelFunction",
    "FeelSyntaxError",
    "Range",
    "YearsMonthsDuration",
    "compile",
    "compile_unary_tests",
    "evaluate",
]
