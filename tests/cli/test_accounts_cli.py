"""``legato users`` and ``legato keys`` end to end: what they print, what they store, and
that the credentials they make sign in."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from legato.cli.accounts import first_admin
from legato.cli.app import app
from legato.security.accounts import Accounts
from legato.store.sql import SqlStore

LEGATO = str(Path(sys.executable).with_name("legato"))


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'accounts.db'}"
    monkeypatch.setenv("LEGATO_DB", url)
    return url


@pytest.fixture
def cli(db: str) -> CliRunner:
    return CliRunner()


def accounts_of(db: str) -> tuple[Accounts, SqlStore]:
    store = SqlStore(db)
    return Accounts(store), store


def signs_in(db: str, name: str, secret: str) -> bool:
    accounts, store = accounts_of(db)
    try:
        return accounts.authenticate_basic(name, secret) is not None
    finally:
        store.close()


def invoke(cli: CliRunner, *args: str, stdin: str | None = None) -> str:
    result = cli.invoke(app, list(args), input=stdin)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_a_user_is_added_from_a_prompt_that_does_not_echo(cli: CliRunner, db: str) -> None:
    result = cli.invoke(
        app,
        ["users", "add", "grace", "--role", "operator", "--role", "user", "--group", "billing"],
        input="pa55word\npa55word\n",
    )

    assert result.exit_code == 0, result.output
    assert "added user grace (roles: operator, user)" in result.stdout
    assert "pa55word" not in result.output
    assert signs_in(db, "grace", "pa55word")


def test_a_script_gives_the_password_on_standard_input(cli: CliRunner, db: str) -> None:
    invoke(cli, "users", "add", "robot", "--role", "developer", "--password-stdin", stdin="pw\n")

    assert signs_in(db, "robot", "pw")


def test_users_are_listed_as_text_and_json(cli: CliRunner) -> None:
    invoke(cli, "users", "add", "ada", "-r", "admin", "--password", "pw")
    invoke(cli, "users", "add", "grace", "-r", "user", "-g", "billing", "--password", "pw")
    invoke(cli, "users", "disable", "grace")

    text = invoke(cli, "users", "list")
    listed = json.loads(invoke(cli, "users", "list", "--json"))

    assert re.search(r"^ada\s+admin\s+-\s+enabled\s", text, re.MULTILINE)
    assert re.search(r"^grace\s+user\s+billing\s+disabled\s", text, re.MULTILINE)
    assert [(u["name"], u["roles"], u["groups"], u["disabled"]) for u in listed] == [
        ("ada", ["admin"], [], False),
        ("grace", ["user"], ["billing"], True),
    ]
    assert "password" not in json.dumps(listed)


def test_passwords_roles_and_removal(cli: CliRunner, db: str) -> None:
    invoke(cli, "users", "add", "ada", "-r", "admin", "--password", "pw")
    invoke(cli, "users", "add", "grace", "-r", "user", "--password", "old")

    invoke(cli, "users", "passwd", "grace", stdin="new\nnew\n")
    assert not signs_in(db, "grace", "old")
    assert signs_in(db, "grace", "new")

    assert "grace now has the roles operator, auditor" in invoke(
        cli, "users", "roles", "grace", "--role", "auditor", "--role", "operator"
    )
    invoke(cli, "users", "remove", "grace")
    assert [u["name"] for u in json.loads(invoke(cli, "users", "list", "--json"))] == ["ada"]


def test_mistakes_are_one_line_errors(cli: CliRunner) -> None:
    invoke(cli, "users", "add", "ada", "-r", "admin", "--password", "pw")

    for args, message in [
        (
            ["users", "add", "bob", "-r", "robot", "--password", "x"],
            "error: unknown role 'robot'; the roles are admin, developer, operator, worker, "
            "user, auditor",
        ),
        (["users", "add", "ada", "-r", "user", "--password", "x"], "exists already"),
        (["users", "add", "bob", "-r", "user", "--password", ""], "the password is empty"),
        (["users", "remove", "nobody"], "error: no user named 'nobody'"),
        (["users", "remove", "ada"], "no enabled admin"),
        (["keys", "revoke", "lk_nope"], "error: no API key 'lk_nope'"),
    ]:
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 1, (args, result.output)
        assert message in result.output
        assert "Traceback" not in result.output


def test_both_password_options_at_once_are_refused(cli: CliRunner) -> None:
    result = cli.invoke(
        app, ["users", "add", "bob", "-r", "user", "--password", "x", "--password-stdin"]
    )

    assert result.exit_code == 2
    assert "not both" in result.output


def test_a_key_is_printed_once_with_the_lines_to_paste(cli: CliRunner, db: str) -> None:
    output = invoke(cli, "keys", "create", "billing worker", "--role", "worker", "-t", "charge")

    key_id, secret = re.search(r"^  (lk_\w{16}):(\S+)$", output, re.MULTILINE).groups()  # type: ignore[union-attr]
    assert f"Authorization: Bearer {key_id}:{secret}" in output
    assert "shown only now" in output
    assert signs_in(db, key_id, secret)
    listing = invoke(cli, "keys", "list")
    assert key_id in listing and secret not in listing
    assert re.search(rf"^{key_id}\s+billing worker\s+worker\s+charge\s+valid\s", listing, re.M)


def test_a_key_as_json_and_its_revocation(cli: CliRunner, db: str) -> None:
    made = json.loads(invoke(cli, "keys", "create", "ops", "-r", "operator", "--json"))

    assert made["basic"] == f"{made['key_id']}:{made['secret']}"
    assert made["job_types"] is None and made["roles"] == ["operator"]
    assert signs_in(db, made["key_id"], made["secret"])

    invoke(cli, "keys", "revoke", made["key_id"])

    assert not signs_in(db, made["key_id"], made["secret"])
    [listed] = json.loads(invoke(cli, "keys", "list", "--json"))
    assert listed["key_id"] == made["key_id"] and listed["revoked_at"] is not None
    assert "secret" not in listed


def test_the_first_admin_of_a_server(db: str) -> None:
    accounts, store = accounts_of(db)
    lines: list[str] = []
    try:
        first_admin(accounts, lines.append, environ={})
        first_admin(accounts, lines.append, environ={})
    finally:
        store.close()

    [line] = lines
    password = re.search(r"the password (\S+) \(shown only now\)", line).group(1)  # type: ignore[union-attr]
    assert signs_in(db, "admin", password)


def test_the_first_admin_password_from_the_environment_is_not_printed(db: str) -> None:
    accounts, store = accounts_of(db)
    lines: list[str] = []
    try:
        first_admin(accounts, lines.append, environ={"LEGATO_ADMIN_PASSWORD": "from-env"})
    finally:
        store.close()

    assert lines == ["created the user 'admin' with the password of LEGATO_ADMIN_PASSWORD"]
    assert signs_in(db, "admin", "from-env")


def test_the_installed_command_makes_a_key(db: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [LEGATO, "keys", "create", "w", "-r", "worker", "--json"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )

    assert done.returncode == 0, done.stderr
    made = json.loads(done.stdout)
    assert signs_in(db, made["key_id"], made["secret"])


def test_users_and_keys_are_limited_to_processes(cli: CliRunner, db: str) -> None:
    added = invoke(
        cli, "users", "add", "ann", "-r", "operator", "-p", "billing-*", "--password", "pw"
    )
    made = json.loads(
        invoke(cli, "keys", "create", "ci", "-r", "worker", "-p", "billing", "--json")
    )

    assert "processes: billing-*" in added
    assert made["processes"] == ["billing"]
    assert re.search(r"^ann\s.*billing-\*$", invoke(cli, "users", "list"), re.MULTILINE)
    assert "now may see and act on the processes: all" in invoke(
        cli, "keys", "processes", made["key_id"], "--all"
    )
    invoke(cli, "users", "processes", "ann", "-p", "hr", "-p", "billing-*")
    accounts, store = accounts_of(db)
    try:
        assert accounts.user("ann").processes == ("billing-*", "hr")
        assert accounts.api_keys()[0].processes is None
    finally:
        store.close()
    refused = cli.invoke(app, ["users", "processes", "ann", "-p", "x", "--all"])
    assert refused.exit_code != 0
    assert "not both" in refused.output
