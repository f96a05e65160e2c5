"""One timer on the real clock: it waits a second, then fires once.

The node's poll interval is an hour, so the instance completes only if the node wakes when
the timer is due; nothing asserts how soon after that (a loaded machine may be late).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from legato import Engine

WAIT = 120.0
"""Seconds the test waits for the timer before it gives up (a bound, not a measurement)."""

MODEL = """<?xml version="1.0"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="d" targetNamespace="t">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="wait"/>
    <bpmn:intermediateCatchEvent id="wait"><bpmn:timerEventDefinition>
      <bpmn:timeDuration xsi:type="bpmn:tFormalExpression">PT1S</bpmn:timeDuration>
    </bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="e"/><bpmn:endEvent id="e"/>
  </bpmn:process>
</bpmn:definitions>"""


def test_a_one_second_timer_fires_after_a_second(tmp_path: Path) -> None:
    engine = Engine(f"sqlite:///{tmp_path / 'clock.db'}")
    engine.deploy(MODEL)
    instance = engine.start("p")
    server = threading.Thread(target=engine.serve, kwargs={"poll_interval": 3600.0})
    server.start()
    try:
        deadline = time.monotonic() + WAIT
        while engine.instance(instance.key).status == "active" and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        engine.stop()
        server.join(timeout=5)
    info = engine.instance(instance.key)
    assert info.status == "completed"
    assert info.ended_at is not None
    waited = (info.ended_at - info.started_at).total_seconds()
    assert waited >= 1.0
    fired = [h for h in engine.history(instance.key) if h.event_type == "TimerTriggered"]
    assert len(fired) == 1
    engine.close()
