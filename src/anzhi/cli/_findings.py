"""``anzhi findings``: import a check's findings (anzhi JSON or SARIF) into the risk register, and list them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from anzhi.cli._common import add_row, emit_json, make_table, open_workspace, out, page_line, say, settings
from anzhi.cli._views import finding_view
from anzhi.findings import load_findings_file
from anzhi.govern import find_system, ingest_batch, list_findings
from anzhi.store import FindingStatus

__all__ = ["app"]

app = typer.Typer(help="Findings from checks / 检测发现", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON / 以JSON输出")]


@app.command("import")
def _import(
    file: Annotated[Path, typer.Argument(help="anzhi findings JSON or SARIF 2.1.0 (told apart by content)")],
    system: Annotated[str, typer.Option("--system", "-s", help="System name or id / 系统名称或编号")],
    check_id: Annotated[
        str | None, typer.Option("--check-id", help="Check id for SARIF runs (default sarif.<tool>) / 检查编号")
    ] = None,
    taxonomy_id: Annotated[
        str | None,
        typer.Option("--taxonomy", help="Risk id for SARIF results that name none / 默认风险编号"),
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Import a findings file into a system's risk register / 导入检测发现.

    Every run in the file lands in one transaction: all of it or nothing. A run is a complete answer for its
    check and scope, so open findings it no longer reports are resolved (a clean run verifies a treatment).
    """
    actor = settings().actor_name
    with open_workspace() as workspace:
        if taxonomy_id is not None:
            workspace.taxonomy.risk(taxonomy_id)  # unknown id → UnknownIdError with a suggestion
        batches = load_findings_file(file, sarif_check_id=check_id, default_taxonomy_id=taxonomy_id)
        with workspace.session() as session:
            target = find_system(session, system)
            system_name = target.name
            results = [
                ingest_batch(session, target.id, batch, taxonomy=workspace.taxonomy, actor=actor).as_dict()
                for batch in batches
            ]
    if json_output:
        emit_json({"system": system_name, "file": str(file), "runs": results})
        return
    _print_results(system_name, file, results)


def _print_results(system_name: str, file: Path, results: list[dict[str, Any]]) -> None:
    table = make_table(f"Imported {file.name} into {system_name} / 导入结果", "run", "check", "received",
                       "new", "recurring", "resolved")
    for r in results:
        add_row(table, [r["run_id"], r["check_id"], r["received"], r["new"], r["recurring"], r["resolved"]])
    out().print(table)
    totals = {key: sum(r[key] for r in results) for key in ("new", "recurring", "resolved")}
    say(f"findings: {totals['new']} new, {totals['recurring']} recurring, {totals['resolved']} resolved")
    for key, label in (("risks_created", "created"), ("risks_reopened", "reopened"), ("risks_verified", "verified")):
        ids = sorted({risk_id for r in results for risk_id in r[key]})
        style = "yellow" if key == "risks_reopened" and ids else ""
        say(f"risks {label}: {len(ids)}" + (f" ({', '.join(f'#{i}' for i in ids)})" if ids else ""), style=style)


@app.command("list")
def _list(
    system: Annotated[str | None, typer.Option("--system", "-s", help="System name or id / 系统")] = None,
    risk: Annotated[int | None, typer.Option(help="Risk id / 风险编号")] = None,
    status: Annotated[FindingStatus | None, typer.Option(help="open or resolved / 状态")] = None,
    check_id: Annotated[str | None, typer.Option("--check-id", help="Check id / 检查编号")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="Page size / 每页条数")] = 50,
    offset: Annotated[int, typer.Option(min=0, help="Skip this many / 跳过条数")] = 0,
    json_output: JsonFlag = False,
) -> None:
    """List stored findings, newest first / 列出检测发现."""
    with open_workspace() as workspace, workspace.session(write=False) as session:
        system_id = find_system(session, system).id if system is not None else None
        page = list_findings(session, system_id=system_id, risk_id=risk, status=status, check_id=check_id,
                             limit=limit, offset=offset)
        items = [finding_view(f) for f in page.items]
    if json_output:
        emit_json({"items": items, "total": page.total, "limit": page.limit, "offset": page.offset})
        return
    if not items:
        say(f"No findings match / 无匹配发现 ({page_line(page.offset, 0, page.total)})")
        return
    table = make_table("Findings / 检测发现", "id", "risk", "check", "rule", "severity", "status", "seen",
                       "last seen", "title")
    for f in items:
        add_row(table, [f["id"], f["risk_id"], f["check_id"], f["rule_id"], f["severity"], f["status"], f["count"],
                        f["last_seen_at"][:16].replace("T", " "), f["title"]])
    out().print(table)
    say(page_line(page.offset, len(items), page.total), style="dim")
