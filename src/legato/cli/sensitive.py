"""Sensitive values on the command line: masked in what the commands print unless
``--reveal`` is given, and each reveal recorded in the audit trail.

Whoever runs a command with the database's URL could read the tables themselves; masking
still keeps sensitive values out of terminals, scrollback and pasted output by default, and
``--reveal`` leaves a trace of who looked. The policy file of the deployment
(:mod:`legato.security.sensitive`) is read from ``LEGATO_POLICY`` when set.
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Annotated

import typer

from legato.cli.audit import record_command
from legato.errors import LegatoError
from legato.runtime.engine import Engine
from legato.security import Principal
from legato.security.audit import Resource
from legato.security.sensitive import SensitivePolicy, Viewer, load_policy

POLICY_VARIABLE = "LEGATO_POLICY"
"""The environment variable that names the policy file on sensitive data."""

RevealOption = Annotated[
    bool,
    typer.Option(
        "--reveal",
        help="Show sensitive variables unmasked (recorded in the audit trail as value.reveal).",
    ),
]


def policy_from_env(given: Path | None = None) -> SensitivePolicy | None:
    """The policy file ``given`` (a ``--policy`` flag), or else the one that
    ``LEGATO_POLICY`` names, read; None when neither is set.

    Raises:
        typer.BadParameter: the file cannot be used (the message names it and the key).
    """
    path = str(given) if given is not None else os.environ.get(POLICY_VARIABLE)
    if not path:
        return None
    try:
        return load_policy(path)
    except LegatoError as exc:
        raise typer.BadParameter(str(exc), param_hint=POLICY_VARIABLE) from None


def cli_viewer(reveal: bool) -> Viewer:
    """Whom a command shows values to: nobody in particular (masked), or with ``--reveal``
    the one running it, who may see them."""
    if not reveal:
        return Viewer()
    return Viewer(Principal(_login(), frozenset({"admin"})))


def record_reveal(engine: Engine, viewer: Viewer) -> None:
    """Record a ``value.reveal`` when the command showed sensitive values unmasked."""
    if not viewer.revealed:
        return
    keys = {key for _, key in viewer.revealed}
    resource = Resource("instance", str(next(iter(keys)))) if len(keys) == 1 else None
    record_command(engine.store, "value.reveal", resource, viewer.reveal_details())


def _login() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name to be found (a bare container)
        return "cli"
