"""A testing kit for users' own processes: an engine on a virtual clock, in memory or on a
database (``TestEngine("sqlite:///test.db")``, see :mod:`legato.testing.stores`).

```python
from datetime import timedelta
from legato.testing import TestEngine

def test_onboarding():
    engine = TestEngine()
    engine.deploy("onboarding.bpmn")
    engine.task("credit-check")(lambda job: {"score": 720})
    instance = engine.start("onboarding", variables={"name": "Ada"})
    engine.run_until_idle()
    engine.assert_that(instance).is_completed().has_passed("auto-approve")
    engine.clock.advance(timedelta(days=3))   # runs whatever became due
```
"""

from legato.testing.engine import InstanceAssert, TestClock, TestEngine
from legato.testing.stores import StoreFactory, use_stores

__all__ = ["InstanceAssert", "StoreFactory", "TestClock", "TestEngine", "use_stores"]
