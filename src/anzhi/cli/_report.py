"""``anzhi report``: a system's governance report (profile, risks, assessments, evidence) as HTML or JSON."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

import typer

from anzhi.cli._common import open_workspace, out, say
from anzhi.errors import InputError
from anzhi.govern import build_report, find_system, render_report_html, verify_audit_chain

__all__ = ["ReportFormat", "ReportLang", "default_report_path", "report"]


class ReportFormat(StrEnum):
    """Output formats of a report."""

    HTML = "html"
    JSON = "json"


class ReportLang(StrEnum):
    """Languages of the HTML report."""

    ZH = "zh"
    EN = "en"
    BOTH = "both"


_LANG: dict[ReportLang, Literal["zh", "en", "both"]] = {
    ReportLang.ZH: "zh", ReportLang.EN: "en", ReportLang.BOTH: "both",
}


def default_report_path(home: Path, system_name: str, fmt: ReportFormat, *, now: datetime | None = None) -> Path:
    """``$ANZHI_HOME/reports/<system>-<YYYY-MM-DD>.<ext>``, with the name made safe for a file name."""
    stem = re.sub(r"[^\w.-]+", "_", system_name).strip("._") or "system"
    day = (now or datetime.now(UTC)).date().isoformat()
    return home / "reports" / f"{stem}-{day}.{fmt.value}"


def report(
    system: Annotated[str, typer.Argument(help="System name or id / 系统名称或编号")],
    fmt: Annotated[ReportFormat, typer.Option("--format", "-f", help="html or json / 格式")] = ReportFormat.HTML,
    lang: Annotated[ReportLang, typer.Option(help="Language of the HTML report: zh, en or both / 语言")] = (
        ReportLang.BOTH
    ),
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="File to write, '-' for stdout (default $ANZHI_HOME/reports/) / 输出文件"),
    ] = None,
    audit: Annotated[
        bool, typer.Option("--audit/--no-audit", help="Verify the audit chain and include its status / 含审计链校验")
    ] = True,
) -> None:
    """Write a system's governance report / 生成系统治理报告.

    By default it is written to $ANZHI_HOME/reports/SYSTEM-DATE.html (or .json) and the path is printed.
    """
    with open_workspace(sweep=True) as workspace, workspace.session(write=False) as session:
        chain = verify_audit_chain(session) if audit else None  # first: it clears the session's identity map
        target = find_system(session, system)
        system_name = target.name
        built = build_report(session, target.id, taxonomy=workspace.taxonomy, audit=chain)
        home = workspace.settings.home
    if fmt is ReportFormat.JSON:
        text = json.dumps(built.model_dump(mode="json"), ensure_ascii=False, indent=2) + "\n"
    else:
        text = render_report_html(built, lang=_LANG[lang])
    if output is not None and str(output) == "-":
        out().out(text, highlight=False, end="")
        return
    path = output or default_report_path(home, system_name, fmt)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write the report to {path}: {exc.strerror or exc}") from None
    say(str(path))
