"""``anzhi init`` and ``anzhi serve``: create or migrate the workspace, and run the platform server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer
from rich.text import Text

from anzhi.cli._common import emit_json, open_workspace, out, say, settings
from anzhi.errors import ConfigurationError
from anzhi.workspace import Workspace

__all__ = ["init", "serve", "show_first_token"]


def show_first_token(token: str) -> None:
    """Print the first admin token once, with the note that it cannot be shown again."""
    console = out()
    console.print()
    console.print(
        Text("First admin token (user 'admin') — shown ONCE, save it now; only its hash is stored.\n"
             "首个管理员令牌只显示这一次，请立即妥善保存。", style="bold yellow"),
        soft_wrap=True,
    )
    console.print(Text(token, style="bold"), soft_wrap=True)
    console.print(Text("Use it as the header  Authorization: Bearer <token>", style="dim"), soft_wrap=True)
    console.print()


def init(
    json_output: Annotated[bool, typer.Option("--json", help="Print the result as JSON / 以JSON输出")] = False,
) -> None:
    """Create or migrate the workspace database / 创建或升级工作区数据库.

    On a fresh workspace this also creates the first admin and prints its API token once.
    Running it again is safe: it says the schema is current.
    """
    with open_workspace(check_schema=False) as workspace:
        store = workspace.store
        before = store.current_revision()
        head = store.head_revision()
        token = workspace.initialise()
        url = store.url
        home = workspace.settings.home
    if before is None:
        action, message = "created", f"Created the anzhi schema ({head}) at {url}"
    elif before != head:
        action, message = "migrated", f"Migrated the schema from {before} to {head} at {url}"
    else:
        action, message = "current", f"Schema is current ({head}) at {url}; nothing to do"
    if json_output:
        emit_json({"action": action, "revision": head, "database": url, "home": str(home), "admin_token": token})
        return
    say(message, style="green")
    if token:
        show_first_token(token)
    elif action == "current":
        say("The workspace is already initialised; make more API tokens with: anzhi token issue USER", style="dim")


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", ""):  # noqa: S104 - only used to print a URL a browser can open
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _server() -> Callable[[Workspace, str, int], None]:
    try:
        from anzhi.api import serve as run_server  # FastAPI and uvicorn load only when serving
    except ModuleNotFoundError as exc:
        raise ConfigurationError(
            f"cannot start the server: {exc}; install anzhi with its server dependencies (fastapi, uvicorn)"
        ) from exc
    return run_server


def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default ANZHI_HOST) / 监听地址")] = None,
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="Port to bind (default ANZHI_PORT) / 监听端口")
    ] = None,
) -> None:
    """Run the platform server (API + console) / 启动平台服务.

    Initialises the workspace first if needed (printing the first admin token once when it creates it).
    """
    config = settings()
    bind_host = host or config.host
    bind_port = port or config.port
    run = _server()
    with open_workspace(check_schema=False) as workspace:
        token = workspace.initialise()
        if token:
            show_first_token(token)
        base = f"http://{_url_host(bind_host)}:{bind_port}"
        say(f"anzhi server: {base}/", style="bold green")
        say(f"API docs / 接口文档: {base}/docs")
        say("Log in / 登录: send the header  Authorization: Bearer <token>  "
            "(make a token with: anzhi token issue USER)")
        say(f"Database / 数据库: {workspace.store.url}", style="dim")
        run(workspace, bind_host, bind_port)
