"""Accounts: argon2 hashes, password policy, rate-limited logins, expiring sessions."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from alerting.accounts import AccountStore, LoginRateLimited, LoginRefused, Permission, Role, allows
from alerting.accounts.store import AccountError

PASSWORD = "mat-khau-du-dai-123"


class Clock:
    def __init__(self) -> None:
        self.now = 1_790_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def accounts(tmp_path: Path, clock: Clock) -> AccountStore:
    # Cheap argon2 parameters: the tests check behaviour, not the work factor.
    fast = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    return AccountStore(tmp_path / "accounts.db", clock=clock, hasher=fast, idle_s=100, max_s=1000)


def test_passwords_are_stored_as_argon2id_hashes(accounts: AccountStore, tmp_path: Path) -> None:
    accounts.add_user("lan", PASSWORD, Role.ANALYST)
    accounts.close()
    with sqlite3.connect(tmp_path / "accounts.db") as db:
        [(stored,)] = db.execute("SELECT password_hash FROM users").fetchall()
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


@pytest.mark.parametrize(
    ("username", "password", "message"),
    [("lan", "ngan", "at least 12"), ("lan", "lan-lan-lan-lan", "user name"),
     ("bad name", PASSWORD, "letters, digits")],
)  # fmt: skip
def test_policy(accounts: AccountStore, username: str, password: str, message: str) -> None:
    with pytest.raises(AccountError, match=message):
        accounts.add_user(username, password, Role.ANALYST)


def test_duplicate_user(accounts: AccountStore) -> None:
    accounts.add_user("lan", PASSWORD, Role.ANALYST)
    with pytest.raises(AccountError, match="exists"):
        accounts.add_user("lan", PASSWORD, Role.ADMIN)


def test_login_and_refusals_do_not_say_which_part_was_wrong(accounts: AccountStore) -> None:
    accounts.add_user("lan", PASSWORD, Role.SUPERVISOR)
    assert accounts.authenticate("lan", PASSWORD, "10.0.0.1").role is Role.SUPERVISOR
    with pytest.raises(LoginRefused) as wrong_password:
        accounts.authenticate("lan", "sai-mat-khau-123", "10.0.0.1")
    with pytest.raises(LoginRefused) as no_user:
        accounts.authenticate("khong-co", PASSWORD, "10.0.0.1")
    assert str(wrong_password.value) == str(no_user.value)
    accounts.set_active("lan", False)
    with pytest.raises(LoginRefused):
        accounts.authenticate("lan", PASSWORD, "10.0.0.1")


def test_failed_logins_are_rate_limited_per_account_and_per_client(
    accounts: AccountStore, clock: Clock
) -> None:
    accounts.add_user("lan", PASSWORD, Role.ANALYST)
    for _ in range(5):
        with pytest.raises(LoginRefused):
            accounts.authenticate("lan", "wrong-password-x", "10.0.0.1")
    with pytest.raises(LoginRateLimited) as limited:
        accounts.authenticate("lan", PASSWORD, "10.0.0.2")  # right password, other client
    assert 0 < limited.value.retry_after_s <= 900
    with pytest.raises(LoginRateLimited):  # the same client, another account
        accounts.authenticate("minh", PASSWORD, "10.0.0.1")
    clock.now += 901
    assert accounts.authenticate("lan", PASSWORD, "10.0.0.2").username == "lan"


def test_sessions_expire_when_idle_or_old_and_end_on_role_change(
    accounts: AccountStore, clock: Clock
) -> None:
    user = accounts.add_user("lan", PASSWORD, Role.ANALYST)
    token, session = accounts.open_session(user)
    assert accounts.session(token) == session
    assert accounts.session("forged") is None
    clock.now += 99
    assert accounts.session(token) is not None  # activity resets the idle timer
    clock.now += 101
    assert accounts.session(token) is None
    token, _ = accounts.open_session(user)
    for _ in range(11):
        clock.now += 95
        accounts.session(token)
    assert accounts.session(token) is None  # over max_s in all, however active
    token, _ = accounts.open_session(user)
    accounts.set_role("lan", Role.SUPERVISOR)
    assert accounts.session(token) is None
    token, _ = accounts.open_session(accounts.authenticate("lan", PASSWORD, "x"))
    renewed = accounts.session(token)
    assert renewed is not None
    assert renewed.user.role is Role.SUPERVISOR
    accounts.close_session(token)
    assert accounts.session(token) is None


def test_role_permissions() -> None:
    assert allows(Role.ANALYST, Permission.DECIDE)
    assert not allows(Role.ANALYST, Permission.VIEW_AUDIT)
    assert not allows(Role.ANALYST, Permission.DECIDE_ESCALATED)
    assert allows(Role.SUPERVISOR, Permission.EXPORT_AUDIT)
    assert not allows(Role.SUPERVISOR, Permission.MANAGE_USERS)
    assert allows(Role.ADMIN, Permission.MANAGE_USERS)
    assert [p for p in Permission if allows(Role.OFFICIAL, p)] == [Permission.VIEW_DIGESTS]
