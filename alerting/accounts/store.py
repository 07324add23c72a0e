"""Accounts in SQLite (always local, whichever backend holds the alerts): users, sessions and
recent failed logins.

Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106's second recommendation).
Session tokens are random 256-bit values; only their SHA-256 is stored, so a copy of the
database does not let anyone log in. Sessions expire after `idle_s` without use and `max_s` in
all. Logins are limited per account and per client address (`max_failures` in `window_s`).
"""

from __future__ import annotations

import hashlib
import math
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from alerting.accounts.roles import Role
from alerting.exceptions import AlertingError
from alerting.sqlite_files import open_local_db

__all__ = [
    "AccountError",
    "AccountStore",
    "LoginRateLimited",
    "LoginRefused",
    "Session",
    "User",
    "check_password_policy",
]

MIN_PASSWORD_CHARS = 12

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    username TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY,
    username TEXT NOT NULL REFERENCES users(username),
    csrf TEXT NOT NULL,
    created_at REAL NOT NULL,
    last_seen REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS login_failures (key TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS login_failures_key ON login_failures (key, at);
"""


class AccountError(AlertingError):
    """An account operation is not possible (unknown user, weak password, duplicate name)."""


class LoginRefused(AlertingError):
    """Wrong user name or password, or an inactive account (the message never says which)."""


class LoginRateLimited(AlertingError):
    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many failed logins; try again in {retry_after_s} s")
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class User:
    username: str
    role: Role
    active: bool


@dataclass(frozen=True)
class Session:
    user: User
    csrf_token: str
    token_hash: str


def check_password_policy(password: str, username: str) -> None:
    if len(password) < MIN_PASSWORD_CHARS:
        raise AccountError(f"the password needs at least {MIN_PASSWORD_CHARS} characters")
    if username.casefold() in password.casefold():
        raise AccountError("the password must not contain the user name")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AccountStore:
    def __init__(
        self,
        path: Path,
        *,
        idle_s: float = 8 * 3600,
        max_s: float = 24 * 3600,
        max_failures: int = 5,
        window_s: float = 900,
        clock: Callable[[], float] = time.time,
        hasher: PasswordHasher | None = None,
    ) -> None:
        self._db = open_local_db(path, _SCHEMA, "account store")
        self._lock = threading.Lock()
        self._idle, self._max = idle_s, max_s
        self._max_failures, self._window = max_failures, window_s
        self._clock = clock
        self._hasher = hasher or PasswordHasher()
        # Verifying against this when the user does not exist keeps the timing the same.
        self._dummy_hash = self._hasher.hash(secrets.token_hex(16))

    # users --------------------------------------------------------------------------------

    def add_user(self, username: str, password: str, role: Role) -> User:
        if (
            not username
            or not username.replace(".", "").replace("_", "").replace("-", "").isalnum()
        ):
            raise AccountError("user names use letters, digits, '.', '_' and '-'")
        check_password_policy(password, username)
        with self._lock:
            try:
                self._db.execute(
                    "INSERT INTO users (username, password_hash, role, created_at)"
                    " VALUES (?, ?, ?, ?)",
                    (username, self._hasher.hash(password), role.value, self._clock()),
                )
            except sqlite3.IntegrityError:
                raise AccountError(f"user {username!r} exists already") from None
        return User(username, role, True)

    def get_user(self, username: str) -> User | None:
        with self._lock:
            row = self._db.execute(
                "SELECT username, role, active FROM users WHERE username = ?", (username,)
            ).fetchone()
        return User(row[0], Role(row[1]), bool(row[2])) if row else None

    def users(self) -> list[User]:
        with self._lock:
            rows = self._db.execute(
                "SELECT username, role, active FROM users ORDER BY username"
            ).fetchall()
        return [User(r[0], Role(r[1]), bool(r[2])) for r in rows]

    def set_role(self, username: str, role: Role) -> tuple[Role, Role]:
        """Change a role; returns (before, after). Ends the user's sessions."""
        user = self.get_user(username)
        if user is None:
            raise AccountError(f"no user {username!r}")
        with self._lock:
            self._db.execute("UPDATE users SET role = ? WHERE username = ?", (role.value, username))
            self._db.execute("DELETE FROM sessions WHERE username = ?", (username,))
        return user.role, role

    def set_active(self, username: str, active: bool) -> None:
        with self._lock:
            changed = self._db.execute(
                "UPDATE users SET active = ? WHERE username = ?", (int(active), username)
            ).rowcount
            if not active:
                self._db.execute("DELETE FROM sessions WHERE username = ?", (username,))
        if not changed:
            raise AccountError(f"no user {username!r}")

    # login --------------------------------------------------------------------------------

    def _recent_failures(self, key: str, now: float) -> list[float]:
        rows = self._db.execute(
            "SELECT at FROM login_failures WHERE key = ? AND at > ? ORDER BY at",
            (key, now - self._window),
        ).fetchall()
        return [r[0] for r in rows]

    def authenticate(self, username: str, password: str, client: str) -> User:
        """The user, or `LoginRefused` / `LoginRateLimited`. Checked per account and per
        client address, so neither guessing one account nor spraying many is cheap."""
        now = self._clock()
        keys = [f"user:{username.casefold()}", f"client:{client}"]
        with self._lock:
            self._db.execute("DELETE FROM login_failures WHERE at <= ?", (now - self._window,))
            for key in keys:
                failures = self._recent_failures(key, now)
                if len(failures) >= self._max_failures:
                    raise LoginRateLimited(math.ceil(failures[0] + self._window - now))
            row = self._db.execute(
                "SELECT password_hash, role, active FROM users WHERE username = ?", (username,)
            ).fetchone()
        try:
            self._hasher.verify(row[0] if row else self._dummy_hash, password)
            ok = row is not None and bool(row[2])
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
        if not ok:
            with self._lock:
                self._db.executemany(
                    "INSERT INTO login_failures (key, at) VALUES (?, ?)", [(k, now) for k in keys]
                )
            raise LoginRefused("wrong user name or password")
        assert row is not None
        if self._hasher.check_needs_rehash(row[0]):
            with self._lock:
                self._db.execute(
                    "UPDATE users SET password_hash = ? WHERE username = ?",
                    (self._hasher.hash(password), username),
                )
        return User(username, Role(row[1]), True)

    # sessions -----------------------------------------------------------------------------

    def open_session(self, user: User) -> tuple[str, Session]:
        """A new session: (the cookie token, given out once; the session)."""
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        now = self._clock()
        with self._lock:
            self._db.execute(
                "INSERT INTO sessions (token_hash, username, csrf, created_at, last_seen)"
                " VALUES (?, ?, ?, ?, ?)",
                (_digest(token), user.username, csrf, now, now),
            )
        return token, Session(user, csrf, _digest(token))

    def session(self, token: str) -> Session | None:
        """The live session for a cookie token, its idle timer reset; None if none or expired."""
        now = self._clock()
        digest = _digest(token)
        with self._lock:
            row = self._db.execute(
                "SELECT s.csrf, s.created_at, s.last_seen, u.username, u.role, u.active"
                " FROM sessions s JOIN users u USING (username) WHERE s.token_hash = ?",
                (digest,),
            ).fetchone()
            if row is None:
                return None
            csrf, created, last_seen, username, role, active = row
            if not active or now - last_seen > self._idle or now - created > self._max:
                self._db.execute("DELETE FROM sessions WHERE token_hash = ?", (digest,))
                return None
            self._db.execute(
                "UPDATE sessions SET last_seen = ? WHERE token_hash = ?", (now, digest)
            )
        return Session(User(username, Role(role), True), csrf, digest)

    def close_session(self, token: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM sessions WHERE token_hash = ?", (_digest(token),))

    def close(self) -> None:
        with self._lock:
            self._db.close()
