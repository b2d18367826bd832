"""The root ``anzhi`` command: its groups, ``--version``, and the one place expected errors become exit codes."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.text import Text
from sqlalchemy.exc import InterfaceError, OperationalError
from typer.core import TyperGroup

from anzhi import __version__
from anzhi.cli import _access, _assess, _audit, _control, _findings, _report, _risk, _scan, _setup, _system, _taxonomy
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


class _AnzhiGroup(TyperGroup):
    """The root group: every subcommand runs inside its ``invoke``, so expected errors are caught here once."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except AnzhiError as exc:
            raise _fail(str(exc), exit_code_for(exc)) from None
        except (OperationalError, InterfaceError) as exc:  # the database went away mid-command
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else type(exc).__name__
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


_PANEL_SETUP = "Workspace / 工作区"
_PANEL_GOVERN = "Governance / 治理"
_PANEL_DATA = "Standards / 标准"
_PANEL_ADMIN = "Administration / 管理"

app.command("init", rich_help_panel=_PANEL_SETUP)(_setup.init)
app.command("serve", rich_help_panel=_PANEL_SETUP)(_setup.serve)
app.add_typer(_system.app, name="system", rich_help_panel=_PANEL_GOVERN)
app.add_typer(_findings.app, name="findings", rich_help_panel=_PANEL_GOVERN)
app.add_typer(_scan.app, name="scan", rich_help_panel="Checks / 检测")
app.add_typer(_risk.app, name="risk", rich_help_panel=_PANEL_GOVERN)
app.add_typer(_control.app, name="control", rich_help_panel=_PANEL_GOVERN)
app.add_typer(_assess.app, name="assess", rich_help_panel=_PANEL_GOVERN)
app.command("report", rich_help_panel=_PANEL_GOVERN)(_report.report)
app.add_typer(_taxonomy.taxonomy_app, name="taxonomy", rich_help_panel=_PANEL_DATA)
app.add_typer(_taxonomy.catalog_app, name="catalog", rich_help_panel=_PANEL_DATA)
app.add_typer(_audit.app, name="audit", rich_help_panel=_PANEL_ADMIN)
app.add_typer(_access.user_app, name="user", rich_help_panel=_PANEL_ADMIN)
app.add_typer(_access.token_app, name="token", rich_help_panel=_PANEL_ADMIN)


def main() -> None:
    """Console-script entry point (``anzhi``)."""
    app(prog_name="anzhi")
