"""For tests that call the pure core's ``step()`` directly, with no store or runtime."""

from __future__ import annotations

from legato.engine.context import DeployedDecision, DeployedProcess


class OneProcess:
    """The deployed definitions of a context that knows one process and nothing else."""

    def __init__(self, deployed: DeployedProcess) -> None:
        self.deployed = deployed

    def get(self, definition_key: int) -> DeployedProcess:
        return self.deployed

    def latest(self, process_id: str) -> DeployedProcess | None:
        return self.deployed

    def decision(self, decision_id: str) -> DeployedDecision | None:
        return None

    def latest_form_key(
        self, form_id: str, version_tag: str | None = None, version: int | None = None
    ) -> int | None:
        return None
