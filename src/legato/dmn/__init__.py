"""DMN 1.1-1.5 decision models: read once, evaluate many times.

```python
from legato import dmn

model = dmn.load("examples/approval.dmn")        # or the XML text itself
result = model.evaluate("Approval Status", {"Age": 18, "RiskCategory": "Low"})
result.value          # "Approved"
result.matched_rules  # (RuleMatch(table='Approval Status', rule_id='r1', index=1),)
result.errors         # () - a violated hit policy or a value of the wrong type lands here

models = dmn.load_many(["main.dmn", "imported.dmn"])   # models importing each other
models["main"].evaluate_service("Scoring", {"Applicant": {...}})
```

Everything is compiled when loading: item definitions, decision tables (every hit policy),
literal expressions and the boxed expressions (contexts, invocations, lists, relations,
conditionals, filters, iterators, function definitions), business knowledge models,
decision services and imports. Evaluation never raises for a failing expression: the part
that failed becomes null and :attr:`DecisionResult.errors` says why.
"""

from __future__ import annotations

from legato.dmn.decision_model import DecisionModel
from legato.dmn.loader import load, load_many
from legato.dmn.model import Definitions, HitPolicy
from legato.dmn.result import DecisionResult, RuleMatch

__all__ = [
    "DecisionModel",
    "DecisionResult",
    "Definitions",
    "HitPolicy",
    "RuleMatch",
    "load",
    "load_many",
]
