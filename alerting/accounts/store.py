"""Accounts in SQLite (always local, whichever backend holds the alerts): users, sessions, API
tokens, login pre-sessions and recent failed logins.

Passwords are hashed with argon2id (argon2-cffi's defaults, RFC 9106's second recommendation).
Session and API tokens are random 256-bit values; only their SHA-256 is stored, so a copy of the
database does not let anyone log in. Sessions expire after `idle_s` without use and `max_s` in
all. An API token belongs to an account and acts with its role; it stops working when revoked or
when the account is deactivated.

Failed logins are throttled per account *and client address* with exponential backoff, so that
a stranger guessing from elsewhere cannot lock the real user out; and per address alone, more
loosely, so that spraying many accounts from one place is slow too.
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
    "ApiToken",
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
CREATE TABLE IF NOT EXISTS api_tokens (
    token_id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    username TEXT NOT NULL REFERENCES users(username),
    label TEXT NOT NULL,
    created_at REAL NOT NULL,
    last_used_at REAL,
    revoked_at REAL
);
CREATE TABLE IF NOT EXISTS login_presessions (
    id_hash TEXT PRIMARY KEY,
    csrf TEXT NOT NULL,
    created_at REAL NOT NULL
);
"""
# A login form is good for this long; the pre-session is used once.
_PRESESSION_S = 3600.0
# Failures per address, over all accounts, before that address is slowed down.
_CLIENT_FAILURE_FACTOR = 4
# Within the window (failures older than it are forgotten), the wait doubles up to this.
_BACKOFF_CAP_S = 900.0
# Writing `last_used_at` on every API call would make each read a write.
_TOKEN_TOUCH_S = 60.0
_TOKEN_PREFIX = "cbt_"  # noqa: S105 (a marker that makes leaked tokens greppable, not a secret)


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
class ApiToken:
    token_id: str
    username: str
    label: str
    created_at: float
    last_used_at: float | None
    revoked_at: float | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class Session:
    user: User
    csrf_token: str
    token_hash: str


# Passwords that appear at the top of every breach list, in Vietnamese and English usage, and
# words that people build passwords around here. Checked after removing digits and symbols, so
# "Matkhau@2026!!" is refused as well as "matkhau".
_COMMON_WORDS = frozenset(
    [
        "password",
        "passw0rd",
        "matkhau",
        "matkhaumoi",
        "anhyeuem",
        "emyeuanh",
        "iloveyou",
        "yeuem",
        "admin",
        "administrator",
        "qwerty",
        "qwertyuiop",
        "asdfgh",
        "zxcvbn",
        "abc",
        "abcdef",
        "letmein",
        "welcome",
        "changeme",
        "secret",
        "baomat",
        "canhbao",
        "congan",
        "sotttt",
        "vietnam",
        "hanoi",
        "saigon",
        "hochiminh",
        "dragon",
        "monkey",
        "football",
        "superman",
        "batman",
        "master",
        "login",
        "user",
        "test",
        "guest",
        "default",
        "root",
        "toor",
    ]
)
# Digits wrap around ("…7890123"), as people type them.
_SEQUENCES = ("abcdefghijklmnopqrstuvwxyz", "0123456789" * 3, "qwertyuiopasdfghjklzxcvbnm")


def _is_repetition(text: str) -> bool:
    """Made of one short unit repeated: "aaaaaaaaaaaa", "abcabcabcabc", "123412341234"."""
    return any(
        len(text) % size == 0 and text[:size] * (len(text) // size) == text
        for size in range(1, len(text) // 2 + 1)
    )


def _is_sequence(text: str) -> bool:
    if len(text) < 4:
        return False
    return any(text in seq or text in seq[::-1] for seq in _SEQUENCES)


def check_password_policy(password: str, username: str) -> None:
    """At least `MIN_PASSWORD_CHARS`, not the user name, not repetitive, not a keyboard or
    alphabet run, not a common password with digits or symbols around it."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise AccountError(f"the password needs at least {MIN_PASSWORD_CHARS} characters")
    folded = password.casefold()
    if username.casefold() in folded:
        raise AccountError("the password must not contain the user name")
    if len(set(folded)) < 5 or _is_repetition(folded):
        raise AccountError("the password is too repetitive: use more different characters")
    if _is_sequence(folded):
        raise AccountError("the password is a keyboard or alphabet sequence")
    letters = "".join(c for c in folded if c.isalpha())
    if letters in _COMMON_WORDS or any(
        word in letters and len(word) >= len(letters) - 2 for word in _COMMON_WORDS
    ):
        raise AccountError("the password is too common: pick an unusual phrase")


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
        backoff_s: float = 30.0,
        clock: Callable[[], float] = time.time,
        hasher: PasswordHasher | None = None,
    ) -> None:
        self._db = open_local_db(path, _SCHEMA, "account store")
        self._lock = threading.Lock()
        self._idle, self._max = idle_s, max_s
        self._max_failures, self._window = max_failures, window_s
        self._client_failures = max_failures * _CLIENT_FAILURE_FACTOR
        self._backoff = backoff_s
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

    def _locked_for(self, failures: list[float], allowed: int, now: float) -> float:
        """Seconds left before another try: none until `allowed` failures, then a wait that
        doubles with every further failure (capped)."""
        if len(failures) < allowed:
            return 0.0
        wait = min(_BACKOFF_CAP_S, self._backoff * 2.0 ** (len(failures) - allowed))
        return max(0.0, float(failures[-1]) + wait - now)

    def authenticate(self, username: str, password: str, client: str) -> User:
        """The user, or `LoginRefused` / `LoginRateLimited`. Throttled per account at this
        address (so an attacker elsewhere cannot lock the user out) and per address."""
        now = self._clock()
        pair = f"user:{username.casefold()}|client:{client}"
        limits = [(pair, self._max_failures), (f"client:{client}", self._client_failures)]
        with self._lock:
            self._db.execute("DELETE FROM login_failures WHERE at <= ?", (now - self._window,))
            for key, allowed in limits:
                wait = self._locked_for(self._recent_failures(key, now), allowed, now)
                if wait > 0:
                    raise LoginRateLimited(math.ceil(wait))
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
                    "INSERT INTO login_failures (key, at) VALUES (?, ?)",
                    [(key, now) for key, _ in limits],
                )
            raise LoginRefused("wrong user name or password")
        assert row is not None
        with self._lock:
            self._db.execute("DELETE FROM login_failures WHERE key = ?", (pair,))
            if self._hasher.check_needs_rehash(row[0]):
                self._db.execute(
                    "UPDATE users SET password_hash = ? WHERE username = ?",
                    (self._hasher.hash(password), username),
                )
        return User(username, Role(row[1]), True)

    # login pre-sessions: the login form's CSRF token, bound to server-side state ---------

    def open_presession(self) -> tuple[str, str]:
        """(cookie value, form token) for one login form."""
        ident, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = self._clock()
        with self._lock:
            self._db.execute(
                "DELETE FROM login_presessions WHERE created_at <= ?", (now - _PRESESSION_S,)
            )
            self._db.execute(
                "INSERT INTO login_presessions (id_hash, csrf, created_at) VALUES (?, ?, ?)",
                (_digest(ident), csrf, now),
            )
        return ident, csrf

    def consume_presession(self, ident: str, csrf: str) -> bool:
        """True once for a live pre-session whose form token matches; it is gone after."""
        now = self._clock()
        with self._lock:
            row = self._db.execute(
                "DELETE FROM login_presessions WHERE id_hash = ? RETURNING csrf, created_at",
                (_digest(ident),),
            ).fetchone()
        if row is None or now - row[1] > _PRESESSION_S:
            return False
        return secrets.compare_digest(row[0].encode(), csrf.encode())

    # API tokens ---------------------------------------------------------------------------

    def issue_token(self, username: str, label: str) -> tuple[ApiToken, str]:
        """A new API token for an active account: (its record, the token, shown once)."""
        user = self.get_user(username)
        if user is None or not user.active:
            raise AccountError(f"no active user {username!r}")
        label = label.strip()[:100] or "api"
        token_id = secrets.token_hex(6)
        token = f"{_TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
        now = self._clock()
        with self._lock:
            self._db.execute(
                "INSERT INTO api_tokens (token_id, token_hash, username, label, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (token_id, _digest(token), username, label, now),
            )
        return ApiToken(token_id, username, label, now, None, None), token

    def _token_rows(self, where: str, params: tuple[str, ...]) -> list[ApiToken]:
        sql = (
            "SELECT token_id, username, label, created_at, last_used_at, revoked_at FROM api_tokens"
        )
        with self._lock:
            rows = self._db.execute(f"{sql}{where} ORDER BY created_at", params).fetchall()
        return [ApiToken(*row) for row in rows]

    def tokens(self, username: str | None = None) -> list[ApiToken]:
        if username:
            return self._token_rows(" WHERE username = ?", (username,))
        return self._token_rows("", ())

    def revoke_token(self, token_id: str) -> ApiToken:
        now = self._clock()
        with self._lock:
            changed = self._db.execute(
                "UPDATE api_tokens SET revoked_at = ? WHERE token_id = ? AND revoked_at IS NULL",
                (now, token_id),
            ).rowcount
        found = self._token_rows(" WHERE token_id = ?", (token_id,))
        if not found:
            raise AccountError(f"no API token {token_id!r}")
        if not changed:
            raise AccountError(f"API token {token_id} was revoked already")
        return found[0]

    def token_user(self, token: str) -> User | None:
        """The account behind an API token, if the token is live and the account active."""
        if not token.startswith(_TOKEN_PREFIX):
            return None
        now = self._clock()
        with self._lock:
            row = self._db.execute(
                "SELECT t.token_id, t.last_used_at, u.username, u.role, u.active"
                " FROM api_tokens t JOIN users u USING (username)"
                " WHERE t.token_hash = ? AND t.revoked_at IS NULL",
                (_digest(token),),
            ).fetchone()
            if row is None or not row[4]:
                return None
            if row[1] is None or now - row[1] > _TOKEN_TOUCH_S:
                self._db.execute(
                    "UPDATE api_tokens SET last_used_at = ? WHERE token_id = ?", (now, row[0])
                )
        return User(row[2], Role(row[3]), True)

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
