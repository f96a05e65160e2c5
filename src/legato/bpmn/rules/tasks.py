"""Rules about single tasks of executable processes: scripts and instantiating receive tasks."""

from __future__ import annotations

from legato.bpmn.rules.context import ModelContext, child, flag, text_of
from legato.errors import ValidationIssue


def check_script_formats(ctx: ModelContext) -> list[ValidationIssue]:
    """A script task with a script names its script format (EXT053)."""
    return [
        ctx.issue(
            "EXT053",
            f"the script task '{ctx.node_id(task)}' has a script but no scriptFormat",
            task,
        )
        for task in ctx.bpmn_elements("scriptTask", "globalScriptTask")
        if text_of(child(task, "script"))
        and not (task.get("scriptFormat") or "").strip()
        and ctx.is_executable(task)
    ]


def check_instantiating_receive_tasks(ctx: ModelContext) -> list[ValidationIssue]:
    """A receive task that instantiates the process has no incoming sequence flow (EXT049)."""
    return [
        ctx.issue(
            "EXT049",
            f"the receive task '{ctx.node_id(task)}' instantiates the process, so it cannot "
            "have incoming sequence flows",
            task,
        )
        for task in ctx.bpmn_elements("receiveTask")
        if flag(task, "instantiate", False) and ctx.incoming(task) and ctx.is_executable(task)
    ]


RULES = [check_script_formats, check_instantiating_receive_tasks]
