"""A process the migration crash test kills with SIGKILL in the middle of a batch.

Usage: migration_worker.py DATABASE_URL COUNT setup|migrate

``setup`` deploys version 1 of the model, starts COUNT instances (each waits at the user task
``review``, with a timer on its boundary) and deploys version 2. ``migrate`` starts a
migration batch of every active version-1 instance, unless one exists already, and runs the
batches to their end, then prints ``idle``.

With ``LEGATO_TEST_KILL_AT`` (see ``crash_points.py``) it kills itself at that point; its
phase is ``migrate``. Each chunk of the batch re-keys the timers of the instances it
migrates, so ``migrate:commit:N:timers`` is the commit of the Nth chunk.
"""

from __future__ import annotations

import sys

from crash_points import KillSwitch

from legato import Engine
from postgres_slots import wait_for_free_slots


def model(end: str) -> str:
    """The process ``p``: a user task with a reminder timer on its boundary."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d"
    targetNamespace="http://legato.dev/tests">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="s"/>
    <bpmn:userTask id="review"/>
    <bpmn:boundaryEvent id="remind" attachedToRef="review" cancelActivity="false">
      <bpmn:timerEventDefinition><bpmn:timeDuration>P30D</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:endEvent id="{end}"/>
    <bpmn:endEvent id="reminded"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="review"/>
    <bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="{end}"/>
    <bpmn:sequenceFlow id="f3" sourceRef="remind" targetRef="reminded"/>
  </bpmn:process>
</bpmn:definitions>"""


def main() -> None:
    wait_for_free_slots()
    url, count, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    engine = Engine(url)
    if mode == "setup":
        engine.deploy(model("e").encode())
        engine.start_many("p", [{"i": i} for i in range(count)])
        engine.deploy(model("done").encode())
        print("ready", flush=True)
        return
    kill = KillSwitch(engine)
    kill.enter("migrate")
    if not engine.batch_operations():
        engine.migrate_in_batch(engine.migration_plan("p", 1, 2), by="crash-test")
    for operation in engine.batch_operations():
        if operation.status == "running":
            engine.run_batch_operation(operation.key)
    print("idle", flush=True)


if __name__ == "__main__":
    main()
