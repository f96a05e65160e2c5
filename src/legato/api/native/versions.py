"""Process versions and rollout under ``/legato/v1`` (the engine's
:mod:`legato.runtime.versions`):

- ``GET /processes/{processId}/versions``: every version with its tag, suspended state,
  rollout share, instance counts and cycle times;
- ``GET /processes/{processId}/versions/diff?from=1&to=2``: elements added, removed and
  changed, each change named;
- ``POST`` and ``DELETE /processes/{processId}/versions/{version}/suspension``: suspend a
  version (no new instances; running ones go on) and resume it;
- ``PUT /processes/{processId}/versions/{version}/tag``: tag a version (``{"versionTag":
  "1.2"}``; null removes the tag);
- ``GET``, ``PUT`` and ``DELETE /processes/{processId}/rollout``: the rule that chooses the
  version of new instances: ``{"split": {"1": 90, "2": 10}}`` or ``{"rule": "if region =
  \\"EU\\" then 2 else 1"}``.

Reading needs ``definitions:read``; changing needs ``definitions:deploy`` (the ``admin`` and
``developer`` roles). Bad input (a split that does not add up, a rule that is not FEEL) is a
400 naming what is wrong; an unknown process or version a 404; a tag another version has, or
a suspension the rollout rules out, a 409. A start refused because its version is suspended
is a 409 too.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import Field

from legato.api.deps import EngineDep, require
from legato.api.problems import BadRequest
from legato.api.v2.common import KeyText, Out, Strict, iso
from legato.errors import InvalidCommandError
from legato.runtime.diff import ElementDiff
from legato.runtime.rollout import Rollout
from legato.security import DEFINITIONS_READ, DEPLOY, INSTANCES_READ, Principal

router = APIRouter(tags=["versions"])

Changer = Annotated[Principal, Depends(require(DEPLOY))]
ProcessPath = Annotated[str, Path(description="The process's id.")]
VersionPath = Annotated[int, Path(description="The version number.", ge=1)]


class VersionResult(Out):
    processId: str
    version: int
    definitionKey: KeyText
    versionTag: str | None
    suspended: bool
    name: str | None
    resourceName: str
    deployedAt: str | None
    activeInstances: int
    completedInstances: int
    terminatedInstances: int
    openIncidents: int
    rolloutPercent: int | None
    """Its share of new instances under a percentage split (null without one)."""
    cycleTimeMeanSeconds: float | None
    cycleTimeMedianSeconds: float | None
    cycleTimeSample: int
    """How many of the process's latest 1,000 completed instances ran on this version."""


class ElementChangeResult(Out):
    elementId: str
    kind: str
    name: str | None
    changes: list[str]


class DiffResult(Out):
    processId: str
    fromVersion: int
    toVersion: int
    added: list[ElementChangeResult]
    removed: list[ElementChangeResult]
    changed: list[ElementChangeResult]
    processChanges: list[str]
    lines: list[str]
    """The whole diff in words, one line each."""


class RolloutResult(Out):
    processId: str
    split: dict[str, int] | None
    """Percent by version number (null for a rule)."""
    rule: str | None
    description: str
    revision: int
    updatedAt: str | None
    updatedBy: str | None


class RolloutChange(Strict):
    split: dict[str, int] | None = None
    """Percent by version number (``{"1": 90, "2": 10}``), adding up to 100."""
    rule: str | None = Field(default=None, max_length=10_000)
    """A FEEL expression over the start variables and ``businessKey`` giving a version
    number or tag."""


class TagChange(Strict):
    versionTag: str | None = Field(max_length=255)


def _elements(found: tuple[ElementDiff, ...]) -> list[ElementChangeResult]:
    return [
        ElementChangeResult(
            elementId=e.element_id, kind=e.kind, name=e.name, changes=list(e.changes)
        )
        for e in found
    ]


def _rollout(rollout: Rollout) -> RolloutResult:
    return RolloutResult(
        processId=rollout.process_id,
        split={str(v): p for v, p in rollout.split.items()} if rollout.split else None,
        rule=rollout.rule,
        description=rollout.description,
        revision=rollout.revision,
        updatedAt=iso(rollout.updated_at),
        updatedBy=rollout.updated_by,
    )


@router.get(
    "/processes/{processId}/versions",
    response_model=list[VersionResult],
    dependencies=[Depends(require(DEFINITIONS_READ)), Depends(require(INSTANCES_READ))],
)
def list_versions(processId: ProcessPath, engine: EngineDep) -> list[VersionResult]:
    """Every version of a process, oldest first, with its instances."""
    return [
        VersionResult(
            processId=v.process_id,
            version=v.version,
            definitionKey=str(v.definition_key),
            versionTag=v.version_tag,
            suspended=v.suspended,
            name=v.name,
            resourceName=v.resource_name,
            deployedAt=iso(v.deployed_at),
            activeInstances=v.active_instances,
            completedInstances=v.completed_instances,
            terminatedInstances=v.terminated_instances,
            openIncidents=v.open_incidents,
            rolloutPercent=v.rollout_percent,
            cycleTimeMeanSeconds=v.cycle_time_mean,
            cycleTimeMedianSeconds=v.cycle_time_median,
            cycleTimeSample=v.cycle_time_sample,
        )
        for v in engine.process_versions(processId)
    ]


@router.get(
    "/processes/{processId}/versions/diff",
    response_model=DiffResult,
    dependencies=[Depends(require(DEFINITIONS_READ))],
)
def diff_versions(
    processId: ProcessPath,
    engine: EngineDep,
    from_version: Annotated[int, Query(alias="from", ge=1)],
    to_version: Annotated[int, Query(alias="to", ge=1)],
) -> DiffResult:
    """What changed from one version of a process to another."""
    diff = engine.diff_versions(processId, from_version, to_version)
    return DiffResult(
        processId=diff.process_id,
        fromVersion=diff.from_version,
        toVersion=diff.to_version,
        added=_elements(diff.added),
        removed=_elements(diff.removed),
        changed=_elements(diff.changed),
        processChanges=list(diff.process_changes),
        lines=diff.lines(),
    )


@router.post("/processes/{processId}/versions/{version}/suspension", status_code=204)
def suspend_version(
    processId: ProcessPath, version: VersionPath, engine: EngineDep, principal: Changer
) -> Response:
    """Suspend a version: no new instance starts on it (explicitly, as the latest or through
    the rollout), its start events start nothing; its running instances go on."""
    engine.suspend_version(processId, version)
    return Response(status_code=204)


@router.delete("/processes/{processId}/versions/{version}/suspension", status_code=204)
def resume_version(
    processId: ProcessPath, version: VersionPath, engine: EngineDep, principal: Changer
) -> Response:
    """Resume a suspended version: new instances may start on it again."""
    engine.resume_version(processId, version)
    return Response(status_code=204)


@router.put("/processes/{processId}/versions/{version}/tag", status_code=204)
def tag_version(
    processId: ProcessPath,
    version: VersionPath,
    body: TagChange,
    engine: EngineDep,
    principal: Changer,
) -> Response:
    """Set (or, with null, remove) a version's tag; 409 when another version has it."""
    engine.tag_version(processId, version, body.versionTag)
    return Response(status_code=204)


@router.get(
    "/processes/{processId}/rollout",
    response_model=RolloutResult | None,
    dependencies=[Depends(require(DEFINITIONS_READ))],
)
def get_rollout(processId: ProcessPath, engine: EngineDep) -> RolloutResult | None:
    """The process's rollout rule; null when new instances get the latest version."""
    rollout = engine.rollout(processId)
    return _rollout(rollout) if rollout is not None else None


@router.put("/processes/{processId}/rollout", response_model=RolloutResult)
def set_rollout(
    processId: ProcessPath, body: RolloutChange, engine: EngineDep, principal: Changer
) -> RolloutResult:
    """Set the rule that chooses the version of new instances (a split or a FEEL rule); it
    applies at once. Setting the previous rule again rolls back."""
    split = None
    if body.split is not None:
        try:
            split = {int(version): percent for version, percent in body.split.items()}
        except ValueError:
            raise BadRequest("split: the keys are version numbers") from None
    try:
        rollout = engine.set_rollout(processId, split, rule=body.rule, by=principal.name)
    except InvalidCommandError as exc:
        raise BadRequest(str(exc)) from None
    return _rollout(rollout)


@router.delete("/processes/{processId}/rollout", status_code=204)
def clear_rollout(processId: ProcessPath, engine: EngineDep, principal: Changer) -> Response:
    """Remove the rollout rule: new instances get the latest version again."""
    engine.clear_rollout(processId)
    return Response(status_code=204)
