"""Users and API keys limited to processes: kept in the store, carried by their principals
and tokens, and ``Principal.may_on`` answers per process id and pattern."""

from __future__ import annotations

import pytest

from legato.errors import AccountError
from legato.security import INSTANCES_MODIFY, Principal
from legato.security.accounts import Accounts


def test_may_on_matches_ids_and_prefixes() -> None:
    team = Principal("t", frozenset({"operator"}), processes=frozenset({"billing-*", "hr"}))
    everyone = Principal("o", frozenset({"operator"}))
    reader = Principal("a", frozenset({"auditor"}), processes=frozenset({"billing-*"}))

    assert team.may_on(INSTANCES_MODIFY, "billing-invoice")
    assert team.may_on(INSTANCES_MODIFY, "hr")
    assert not team.may_on(INSTANCES_MODIFY, "hr-onboarding")  # exact id, not a prefix
    assert not team.may_on(INSTANCES_MODIFY, "shipping")
    assert everyone.may_on(INSTANCES_MODIFY, "anything")
    assert not reader.may_on(INSTANCES_MODIFY, "billing-invoice")  # the role grants it not


def test_a_users_limit_is_stored_and_carried_by_its_principal_and_tokens(
    accounts: Accounts,
) -> None:
    accounts.create_user("ann", "pw", ["operator"], processes=["billing-*", "hr"])

    principal = accounts.authenticate_basic("ann", "pw")
    token, _ = accounts.issue_token("ann", "pw") or ("", 0)
    bearer = accounts.authenticate_bearer(token)

    assert accounts.user("ann").processes == ("billing-*", "hr")
    assert principal is not None and principal.processes == frozenset({"billing-*", "hr"})
    assert bearer is not None and bearer.processes == principal.processes
    accounts.set_user_processes("ann", ["*"])  # every process: the limit is lifted
    assert accounts.user("ann").processes is None
    lifted = accounts.authenticate_basic("ann", "pw")
    assert lifted is not None and lifted.processes is None


def test_a_keys_limit_is_stored_changed_and_carried(accounts: Accounts) -> None:
    key_id, secret = accounts.create_api_key("ci", ["worker"], ["charge"], processes=["billing"])

    found = accounts.authenticate_basic(key_id, secret)
    accounts.set_key_processes(key_id, ["billing", "billing-*"])

    assert found is not None and found.processes == frozenset({"billing"})
    [key] = accounts.api_keys()
    assert key.processes == ("billing", "billing-*")
    changed = accounts.authenticate_basic(key_id, secret)
    assert changed is not None and changed.processes == frozenset({"billing", "billing-*"})


@pytest.mark.parametrize("pattern", ["bill*ing", "*-billing", " billing", ""])
def test_a_pattern_that_cannot_be_used_is_refused_by_name(accounts: Accounts, pattern: str) -> None:
    with pytest.raises(AccountError, match="process pattern"):
        accounts.create_user("bob", "pw", ["user"], processes=[pattern])
    with pytest.raises(AccountError, match="at least one process"):
        accounts.create_user("bob", "pw", ["user"], processes=[])
