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


def test_failed_logins_back_off_per_account_and_address_not_for_everyone(
    accounts: AccountStore, clock: Clock
) -> None:
    """Finding 7: six wrong passwords from anywhere locked the account for everyone, the right
    password included. Now the guesser's address waits, doubling, and the user logs in."""
    accounts.add_user("lan", PASSWORD, Role.ANALYST)
    for _ in range(5):
        with pytest.raises(LoginRefused):
            accounts.authenticate("lan", "wrong-password-x", "10.0.0.1")
    with pytest.raises(LoginRateLimited) as first:
        accounts.authenticate("lan", PASSWORD, "10.0.0.1")  # the guesser's address waits
    assert first.value.retry_after_s == 30
    # The real user, elsewhere, is not locked out by someone else's guesses.
    assert accounts.authenticate("lan", PASSWORD, "10.0.0.2").username == "lan"
    clock.now += 31
    with pytest.raises(LoginRefused):
        accounts.authenticate("lan", "wrong-password-y", "10.0.0.1")
    with pytest.raises(LoginRateLimited) as second:
        accounts.authenticate("lan", "wrong-password-z", "10.0.0.1")
    assert second.value.retry_after_s == 60  # doubled
    clock.now += 901  # failures age out of the window
    assert accounts.authenticate("lan", PASSWORD, "10.0.0.1").username == "lan"


def test_one_address_spraying_many_accounts_is_slowed(accounts: AccountStore) -> None:
    for i in range(20):
        with pytest.raises(LoginRefused):
            accounts.authenticate(f"user{i}", "wrong-password-x", "10.0.0.9")
    with pytest.raises(LoginRateLimited):
        accounts.authenticate("another", "wrong-password-x", "10.0.0.9")


@pytest.mark.parametrize(
    "password",
    ["aaaaaaaaaaaa", "abcabcabcabc", "123412341234", "abcdefghijklmn", "qwertyuiopas",
     "1234567890123", "Matkhau@2026!!", "password1234", "iloveyou2026", "CanhBao123456"],
)  # fmt: skip
def test_repeated_sequential_and_common_passwords_are_refused(
    accounts: AccountStore, password: str
) -> None:
    """Finding 7: the policy accepted `aaaaaaaaaaaa`."""
    with pytest.raises(AccountError):
        accounts.add_user("lan", password, Role.ANALYST)


@pytest.mark.parametrize("password", [PASSWORD, "tôi thích phở bò tái", "gio-mua-dong-bac-9"])
def test_unusual_phrases_pass_the_policy(accounts: AccountStore, password: str) -> None:
    assert accounts.add_user("lan", password, Role.ANALYST).username == "lan"


def test_api_tokens_act_for_their_account_until_revoked_or_deactivated(
    accounts: AccountStore, clock: Clock, tmp_path: Path
) -> None:
    """Finding 1: tokens were free-standing names. Now each is an account's, stored hashed."""
    accounts.add_user("lan", PASSWORD, Role.ANALYST)
    record, token = accounts.issue_token("lan", "bridge")
    user = accounts.token_user(token)
    assert user is not None
    assert (user.username, user.role) == ("lan", Role.ANALYST)
    assert accounts.token_user(token + "x") is None
    assert accounts.token_user("anything") is None
    with sqlite3.connect(tmp_path / "accounts.db") as db:
        stored = db.execute("SELECT token_hash FROM api_tokens").fetchall()
    assert token not in str(stored)  # only the hash is kept
    [listed] = accounts.tokens("lan")
    assert listed.token_id == record.token_id
    assert listed.last_used_at is not None
    accounts.set_role("lan", Role.SUPERVISOR)  # the role travels with the account
    assert accounts.token_user(token).role is Role.SUPERVISOR  # type: ignore[union-attr]
    accounts.set_active("lan", False)
    assert accounts.token_user(token) is None
    accounts.set_active("lan", True)
    accounts.revoke_token(record.token_id)
    assert accounts.token_user(token) is None
    with pytest.raises(AccountError, match="revoked already"):
        accounts.revoke_token(record.token_id)
    accounts.set_active("lan", False)
    with pytest.raises(AccountError, match="no active user"):
        accounts.issue_token("lan", "again")


def test_login_presessions_are_single_use_and_bound_to_their_token(
    accounts: AccountStore, clock: Clock
) -> None:
    ident, csrf = accounts.open_presession()
    other_ident, other_csrf = accounts.open_presession()
    assert not accounts.consume_presession(ident, other_csrf)  # consumed, and wrong
    assert not accounts.consume_presession(ident, csrf)  # used once only
    assert not accounts.consume_presession("made-up", csrf)
    clock.now += 3601
    assert not accounts.consume_presession(other_ident, other_csrf)  # expired


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
