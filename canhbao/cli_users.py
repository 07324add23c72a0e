"""`canhbao users …`: local accounts of the review UI. Every change is audited."""

from __future__ import annotations

import getpass
import os
import sys
from typing import Annotated, Literal

import typer

from canhbao._cli_common import fail, load_settings
from schemas.exceptions import CanhbaoError

__all__ = ["users_app"]

users_app = typer.Typer(no_args_is_help=True, help="Review UI accounts (audited).")


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return f"cli:uid{os.getuid()}"


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Mật khẩu / password: ")
    if first != getpass.getpass("Nhập lại / again: "):
        raise typer.BadParameter("the passwords differ")
    return first


@users_app.command("add")
def add(
    username: str,
    role: Annotated[
        Literal["analyst", "supervisor", "admin", "official"], typer.Option()
    ] = "analyst",
    password_stdin: Annotated[bool, typer.Option(help="read the password from stdin")] = False,
) -> None:
    """Add an account (the password is asked for, never passed as an argument)."""
    from alerting.accounts import Role
    from canhbao.wiring import open_accounts, open_store
    from schemas import AuditAction

    settings = load_settings()
    chosen = Role(role)
    try:
        accounts, store = open_accounts(settings), open_store(settings)
        user = accounts.add_user(username, _password(password_stdin), chosen)
        store.record_audit(
            _actor(),
            AuditAction.USER_ADDED,
            f"user:{user.username}",
            None,
            {"role": user.role.value},
        )
    except CanhbaoError as exc:
        raise fail(exc) from exc
    typer.echo(f"added {user.username} ({user.role.value})")


@users_app.command("list")
def list_users() -> None:
    """List accounts and their roles."""
    from canhbao.wiring import open_accounts

    for user in open_accounts(load_settings()).users():
        typer.echo(f"{user.username}\t{user.role.value}\t{'active' if user.active else 'inactive'}")


@users_app.command("set-role")
def set_role(
    username: str,
    role: Annotated[Literal["analyst", "supervisor", "admin", "official"], typer.Argument()],
    reason: Annotated[str, typer.Option()] = "",
) -> None:
    """Change an account's role (its sessions end)."""
    from alerting.accounts import Role
    from canhbao.wiring import open_accounts, open_store
    from schemas import AuditAction

    settings = load_settings()
    try:
        before, after = open_accounts(settings).set_role(username, Role(role))
        open_store(settings).record_audit(
            _actor(),
            AuditAction.USER_ROLE_CHANGED,
            f"user:{username}",
            reason or None,
            {"from": before.value, "to": after.value},
        )
    except (CanhbaoError, ValueError) as exc:
        raise fail(exc) from exc
    typer.echo(f"{username}: {before.value} → {after.value}")


@users_app.command("deactivate")
def deactivate(username: str, reason: Annotated[str, typer.Option()] = "") -> None:
    """Disable an account (kept for the audit trail; its sessions end)."""
    from canhbao.wiring import open_accounts, open_store
    from schemas import AuditAction

    settings = load_settings()
    try:
        open_accounts(settings).set_active(username, False)
        open_store(settings).record_audit(
            _actor(), AuditAction.USER_DEACTIVATED, f"user:{username}", reason or None
        )
    except CanhbaoError as exc:
        raise fail(exc) from exc
    typer.echo(f"{username}: deactivated")


token_app = typer.Typer(
    no_args_is_help=True,
    help="API tokens: each belongs to an account and acts with its role (audited).",
)
users_app.add_typer(token_app, name="token")


@token_app.command("issue")
def token_issue(
    username: str,
    label: Annotated[str, typer.Option(help="what the token is for, e.g. 'ticket bridge'")] = "api",
) -> None:
    """Issue an API token for an active account. The token is printed once; only its hash is
    kept."""
    from canhbao.wiring import open_accounts, open_store
    from schemas import AuditAction

    settings = load_settings()
    try:
        record, token = open_accounts(settings).issue_token(username, label)
        open_store(settings).record_audit(
            _actor(),
            AuditAction.USER_TOKEN_ISSUED,
            f"user:{username}",
            None,
            {"token_id": record.token_id, "label": record.label},
        )
    except CanhbaoError as exc:
        raise fail(exc) from exc
    typer.echo(f"token {record.token_id} for {username} ({record.label}); shown only now:")
    typer.echo(token)


@token_app.command("list")
def token_list(username: Annotated[str | None, typer.Argument()] = None) -> None:
    """List API tokens (ids, owners, labels, last use; never the tokens)."""
    from datetime import UTC, datetime

    from alerting.views import local_display
    from canhbao.wiring import open_accounts

    def when(stamp: float | None) -> str:
        return local_display(datetime.fromtimestamp(stamp, UTC)) if stamp else "—"

    for t in open_accounts(load_settings()).tokens(username):
        state = "active" if t.active else f"revoked {when(t.revoked_at)}"
        typer.echo(
            f"{t.token_id}\t{t.username}\t{t.label}\tissued {when(t.created_at)}"
            f"\tlast used {when(t.last_used_at)}\t{state}"
        )


@token_app.command("revoke")
def token_revoke(token_id: str, reason: Annotated[str, typer.Option()] = "") -> None:
    """Revoke an API token at once."""
    from canhbao.wiring import open_accounts, open_store
    from schemas import AuditAction

    settings = load_settings()
    try:
        record = open_accounts(settings).revoke_token(token_id)
        open_store(settings).record_audit(
            _actor(),
            AuditAction.USER_TOKEN_REVOKED,
            f"user:{record.username}",
            reason or None,
            {"token_id": token_id},
        )
    except CanhbaoError as exc:
        raise fail(exc) from exc
    typer.echo(f"token {token_id} of {record.username}: revoked")
