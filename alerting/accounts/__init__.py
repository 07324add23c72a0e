"""Local accounts of the review service: users with roles, argon2 password hashes, server-side
sessions with CSRF tokens, and login rate limiting. Every login, failed login, new user and role
change is written to the review store's hash-chained audit log by the web layer."""

from alerting.accounts.roles import Permission, Role, allows
from alerting.accounts.store import (
    AccountStore,
    LoginRateLimited,
    LoginRefused,
    Session,
    User,
)

__all__ = [
    "AccountStore",
    "LoginRateLimited",
    "LoginRefused",
    "Permission",
    "Role",
    "Session",
    "User",
    "allows",
]
