"""Roles and what each may do. Every page and action names the permission it needs."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Permission", "Role", "allows"]


class Role(StrEnum):
    ANALYST = "analyst"  # works the queue: claims, confirms, dismisses, escalates
    SUPERVISOR = "supervisor"  # also decides escalated alerts, reads and exports the audit log
    ADMIN = "admin"  # also manages accounts
    OFFICIAL = "official"  # reads digests only


class Permission(StrEnum):
    VIEW_QUEUE = "view_queue"
    DECIDE = "decide"
    DECIDE_ESCALATED = "decide_escalated"
    ASSIGN = "assign"  # give an alert to an analyst, over their claims
    VIEW_AUDIT = "view_audit"
    EXPORT_AUDIT = "export_audit"
    MANAGE_USERS = "manage_users"
    VIEW_DIGESTS = "view_digests"
    PUBLISH_CLAIMS = "publish_claims"  # publish or retire a known false claim


_ANALYST = {Permission.VIEW_QUEUE, Permission.DECIDE, Permission.VIEW_DIGESTS}
_SUPERVISOR = _ANALYST | {
    Permission.DECIDE_ESCALATED,
    Permission.ASSIGN,
    Permission.VIEW_AUDIT,
    Permission.EXPORT_AUDIT,
    Permission.PUBLISH_CLAIMS,
}
_GRANTS: dict[Role, frozenset[Permission]] = {
    Role.ANALYST: frozenset(_ANALYST),
    Role.SUPERVISOR: frozenset(_SUPERVISOR),
    Role.ADMIN: frozenset(_SUPERVISOR | {Permission.MANAGE_USERS}),
    Role.OFFICIAL: frozenset({Permission.VIEW_DIGESTS}),
}


def allows(role: Role, permission: Permission) -> bool:
    return permission in _GRANTS[role]
