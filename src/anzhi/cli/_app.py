"""The root ``anzhi`` command: its groups, ``--version``, and the one place expected errors become exit codes."""

from __future__ import annotations

import importlib
import sys
from typing import Annotated, Any, NamedTuple

import typer
from rich.text import Text
from typer.core import TyperGroup

from anzhi import __version__
from anzhi.cli._common import EXIT_INPUT, EXIT_PROBLEMS, EXIT_STORE, err_console, say
from anzhi.errors import AnzhiError, AuditChainError, StoreUnavailableError

__all__ = ["app", "exit_code_for", "main"]

EPILOG = (
    "[b]Exit codes / 退出码[/b]: "
    "0 done 成功 · "
    "1 problems found 发现问题 (audit verify) · "
    "2 bad input or configuration — nothing was changed 输入或配置错误，未作任何修改 · "
    "3 database unreachable or schema not current (run anzhi init) 数据库不可用或版本不符"
    "\n\n"
    "[b]Settings / 配置[/b]: ANZHI_HOME (default ~/.anzhi), ANZHI_DB_URL (default sqlite:///$ANZHI_HOME/anzhi.db), "
    "ANZHI_HOST, ANZHI_PORT, ANZHI_TAXONOMY_DIRS, ANZHI_ACTOR (name in the audit trail 审计记录中的操作人)"
)


def exit_code_for(error: AnzhiError) -> int:
    """The exit code an expected error ends the command with."""
    if isinstance(error, StoreUnavailableError):
        return EXIT_STORE
    if isinstance(error, AuditChainError):
        return EXIT_PROBLEMS
    return EXIT_INPUT


def _fail(message: str, code: int) -> typer.Exit:
    err_console().print(Text(f"error: {message}", style="red"), soft_wrap=True)
    return typer.Exit(code)


_PANEL_SETUP = "Workspace / 工作区"
_PANEL_GOVERN = "Governance / 治理"
_PANEL_CHECKS = "Checks / 检测"
_PANEL_DATA = "Standards / 标准"
_PANEL_ADMIN = "Administration / 管理"


class _Entry(NamedTuple):
    """Where a subcommand lives: module, attribute (a Typer app or a command function) and help panel."""

    module: str
    attribute: str
    panel: str


#: Subcommands in the order ``--help`` lists them. Each module is imported only when its command is used (or
#: help lists them all), so ``anzhi scan model`` does not pay for the database layer it never touches.
_COMMANDS: dict[str, _Entry] = {
    "init": _Entry("_setup", "init", _PANEL_SETUP),
    "serve": _Entry("_setup", "serve", _PANEL_SETUP),
    "system": _Entry("_system", "app", _PANEL_GOVERN),
    "findings": _Entry("_findings", "app", _PANEL_GOVERN),
    "risk": _Entry("_risk", "app", _PANEL_GOVERN),
    "control": _Entry("_control", "app", _PANEL_GOVERN),
    "assess": _Entry("_assess", "app", _PANEL_GOVERN),
    "report": _Entry("_report", "report", _PANEL_GOVERN),
    "scan": _Entry("_scan", "app", _PANEL_CHECKS),
    "aibom": _Entry("_aibom", "aibom", _PANEL_CHECKS),
    "taxonomy": _Entry("_taxonomy", "taxonomy_app", _PANEL_DATA),
    "catalog": _Entry("_taxonomy", "catalog_app", _PANEL_DATA),
    "audit": _Entry("_audit", "app", _PANEL_ADMIN),
    "user": _Entry("_access", "user_app", _PANEL_ADMIN),
    "token": _Entry("_access", "token_app", _PANEL_ADMIN),
}


def _load(name: str) -> Any:  # a Click command (Typer vendors its own Click, so it is typed loosely)
    entry = _COMMANDS[name]
    target = getattr(importlib.import_module(f"anzhi.cli.{entry.module}"), entry.attribute)
    if isinstance(target, typer.Typer):
        command: Any = typer.main.get_group(target)
    else:
        holder = typer.Typer(rich_markup_mode="rich", context_settings={"help_option_names": ["-h", "--help"]})
        holder.command(name)(target)
        command = typer.main.get_command(holder)
    command.name = name
    command.rich_help_panel = entry.panel
    return command


def _database_failure(exc: Exception) -> str | None:
    """The reason, if ``exc`` is SQLAlchemy's "the database went away" (checked without importing SQLAlchemy)."""
    sa_exc = sys.modules.get("sqlalchemy.exc")
    if sa_exc is None or not isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError)):
        return None
    orig = getattr(exc, "orig", None)
    return str(orig).strip().splitlines()[0] if orig is not None else type(exc).__name__


class _AnzhiGroup(TyperGroup):
    """The root group: loads subcommands on demand; every one runs inside ``invoke``, where expected errors end."""

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *(n for n in _COMMANDS if n not in self.commands)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in _COMMANDS:
            command = _load(cmd_name)
            self.add_command(command, cmd_name)
        return command

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except AnzhiError as exc:
            raise _fail(str(exc), exit_code_for(exc)) from None
        except Exception as exc:
            reason = _database_failure(exc)
            if reason is None:
                raise
            raise _fail(f"database error: {reason}; check ANZHI_DB_URL and that the server runs", EXIT_STORE) from None


app = typer.Typer(
    name="anzhi",
    cls=_AnzhiGroup,
    help=(
        "安治 anzhi — AI security governance: inventory, risk register and its closed loop, standards catalogs, "
        "compliance assessment, reports and a hash-chained audit trail.\n\n"
        "AI安全治理平台：系统登记、风险台账与闭环、标准目录、合规评估、报告与防篡改审计。"
    ),
    epilog=EPILOG,
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _show_version(value: bool) -> None:
    if value:
        say(f"anzhi {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", "-V", callback=_show_version, is_eager=True, help="Show the version / 显示版本"),
    ] = False,
) -> None:
    """安治 anzhi command line."""


def main() -> None:
    """Console-script entry point (``anzhi``)."""
    app(prog_name="anzhi")
