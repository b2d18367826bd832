"""``anzhi user`` and ``anzhi token``: local admin tasks for API users and their tokens."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from anzhi.cli._common import add_row, emit_json, make_table, open_workspace, out, say, settings
from anzhi.cli._views import token_view, user_view
from anzhi.errors import InputError
from anzhi.govern import create_user, find_user, issue_token, list_tokens, list_users, revoke_token
from anzhi.store import Role

__all__ = ["token_app", "user_app"]

user_app = typer.Typer(help="API users and roles / 用户与角色", no_args_is_help=True)
token_app = typer.Typer(help="API tokens (shown once, stored hashed) / 访问令牌", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON / 以JSON输出")]


def _show_secret(secret: str, user: str) -> None:
    console = out()
    console.print(Text(f"API token for {user} — shown ONCE, save it now / 令牌只显示一次，请立即保存:",
                       style="bold yellow"), soft_wrap=True)
    console.print(Text(secret, style="bold"), soft_wrap=True)
    console.print(Text("Use it as the header  Authorization: Bearer <token>", style="dim"), soft_wrap=True)


@user_app.command("add")
def _user_add(
    name: Annotated[str, typer.Argument(help="Unique user name / 用户名")],
    role: Annotated[Role, typer.Option(help="admin, assessor or viewer / 角色")] = Role.VIEWER,
    token: Annotated[bool, typer.Option("--token", help="Also issue an API token now / 同时签发令牌")] = False,
    json_output: JsonFlag = False,
) -> None:
    """Add an API user / 新增用户."""
    name = name.strip()
    if not name or len(name) > 200:
        raise InputError("a user name needs 1 to 200 characters")
    actor = settings().actor_name
    secret: str | None = None
    with open_workspace() as workspace, workspace.session() as session:
        user = create_user(session, name, role, actor=actor)
        if token:
            secret, _ = issue_token(session, user, actor=actor, name="issued with the user")
        view = user_view(user)
    if json_output:
        emit_json({**view, "token": secret})
        return
    say(f"Added user #{view['id']} {view['name']} ({view['role']})", style="green")
    if secret:
        _show_secret(secret, view["name"])


@user_app.command("list")
def _user_list(json_output: JsonFlag = False) -> None:
    """List users / 列出用户."""
    with open_workspace() as workspace, workspace.session(write=False) as session:
        users = [user_view(u) for u in sorted(list_users(session), key=lambda u: u.id)]
    if json_output:
        emit_json(users)
        return
    table = make_table("Users / 用户", "id", "name", "role", "disabled", "created")
    for u in users:
        add_row(table, [u["id"], u["name"], u["role"], "yes" if u["disabled"] else "", u["created_at"][:10]])
    out().print(table)


@token_app.command("issue")
def _token_issue(
    user: Annotated[str, typer.Argument(help="User name or id / 用户")],
    name: Annotated[str, typer.Option(help="A label, e.g. ci-pipeline / 标签")] = "",
    json_output: JsonFlag = False,
) -> None:
    """Issue an API token for a user (shown once) / 签发令牌."""
    actor = settings().actor_name
    with open_workspace() as workspace, workspace.session() as session:
        owner = find_user(session, user)
        secret, record = issue_token(session, owner, actor=actor, name=name)
        view = token_view(record)
    if json_output:
        emit_json({**view, "token": secret})
        return
    say(f"Issued token #{view['id']} ({view['prefix']}…) for {view['user']}", style="green")
    _show_secret(secret, view["user"])


@token_app.command("list")
def _token_list(
    user: Annotated[str | None, typer.Option(help="Only this user's tokens / 指定用户")] = None,
    json_output: JsonFlag = False,
) -> None:
    """List API tokens (prefixes only, never secrets) / 列出令牌."""
    with open_workspace() as workspace, workspace.session(write=False) as session:
        owner_id = find_user(session, user).id if user is not None else None
        tokens = [token_view(t) for t in list_tokens(session, owner_id)]
    if json_output:
        emit_json(tokens)
        return
    table = make_table("API tokens / 令牌", "id", "user", "name", "prefix", "created", "last used", "revoked")
    for t in tokens:
        add_row(table, [t["id"], t["user"], t["name"], t["prefix"], (t["created_at"] or "")[:16].replace("T", " "),
                        (t["last_used_at"] or "")[:16].replace("T", " "),
                        (t["revoked_at"] or "")[:16].replace("T", " ")])
    out().print(table)


@token_app.command("revoke")
def _token_revoke(
    token_id: Annotated[int, typer.Argument(help="Token id (see: anzhi token list) / 令牌编号")],
    json_output: JsonFlag = False,
) -> None:
    """Revoke an API token now / 吊销令牌."""
    actor = settings().actor_name
    with open_workspace() as workspace, workspace.session() as session:
        view = token_view(revoke_token(session, token_id, actor=actor))
    if json_output:
        emit_json(view)
        return
    say(f"Revoked token #{view['id']} ({view['prefix']}…) of {view['user']}", style="green")
