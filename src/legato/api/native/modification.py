"""``POST /instances/{instanceKey}/modification``: an operator starts and cancels tokens of a
running instance (see :mod:`legato.engine.modification`).

```json
{"instructions": [
  {"cancel": "wait_payment"},
  {"startAfter": "wait_payment", "variables": {"paid": true}},
  {"startBefore": "review"},
  {"cancelInstance": "2251799813685290"}
]}
```

All instructions apply together or none, cancellations first: 204 on success, 400 naming
the instance and the element when one does not fit (or the instance ended or is suspended),
404 for an unknown instance. Needs ``instances:modify`` (the ``operator`` and ``admin``
roles); the history records ``InstanceModified`` with the caller's name.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response
from pydantic import Field

from legato.api.deps import EngineDep, require
from legato.api.problems import BadRequest
from legato.api.v2.common import Key, Strict, Variables, parse_key
from legato.engine import commands as cmd
from legato.errors import InvalidCommandError
from legato.security import INSTANCES_MODIFY, Principal

router = APIRouter(tags=["operations"])

Operator = Annotated[Principal, Depends(require(INSTANCES_MODIFY))]


class Instruction(Strict):
    """One instruction: exactly one of ``startBefore``, ``startAfter``, ``cancel``,
    ``cancelInstance``."""

    startBefore: str | None = None
    """A new token enters this element."""
    startAfter: str | None = None
    """A new token leaves this element along its one outgoing sequence flow."""
    cancel: str | None = None
    """Every active token at this element ends."""
    cancelInstance: Key | None = None
    """This element instance ends."""
    variables: Variables = None
    """For a start: set in the scope the new token runs in."""


class Modification(Strict):
    instructions: list[Instruction] = Field(min_length=1, max_length=1000)


@router.post("/instances/{instanceKey}/modification", status_code=204)
def modify_instance(
    instanceKey: Annotated[str, Path(description="The process instance's key.")],
    body: Modification,
    engine: EngineDep,
    principal: Operator,
) -> Response:
    """Start and cancel tokens of a running instance, all instructions together or none."""
    key = parse_key(instanceKey, "instanceKey")
    instructions = [_instruction(i, n) for n, i in enumerate(body.instructions)]
    try:
        engine.modify(key, instructions, by=principal.name)
    except InvalidCommandError as exc:
        raise BadRequest(str(exc)) from None
    return Response(status_code=204)


def _instruction(wanted: Instruction, index: int) -> cmd.Instruction:
    given = {
        name: value
        for name, value in (
            ("startBefore", wanted.startBefore),
            ("startAfter", wanted.startAfter),
            ("cancel", wanted.cancel),
            ("cancelInstance", wanted.cancelInstance),
        )
        if value is not None
    }
    where = f"instructions[{index}]"
    if len(given) != 1:
        raise BadRequest(
            f"{where}: give exactly one of startBefore, startAfter, cancel, cancelInstance"
        )
    variables = wanted.variables or {}
    if wanted.startBefore is not None:
        return cmd.StartBefore(wanted.startBefore, variables)
    if wanted.startAfter is not None:
        return cmd.StartAfter(wanted.startAfter, variables)
    if variables:
        raise BadRequest(f"{where}: variables go with startBefore or startAfter")
    if wanted.cancel is not None:
        return cmd.CancelElement(wanted.cancel)
    assert wanted.cancelInstance is not None
    return cmd.CancelElementInstance(wanted.cancelInstance)
