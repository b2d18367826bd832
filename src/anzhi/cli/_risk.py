"""``anzhi risk``: the risk register and its closed loop (identify → assess → treat → verify → monitor → close)."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

import typer
from rich.text import Text
from sqlalchemy.orm import Session

from anzhi.cli._common import (
    LEVEL_STYLE,
    add_row,
    emit_json,
    make_table,
    open_workspace,
    out,
    page_line,
    parse_date,
    parse_datetime,
    say,
    settings,
)
from anzhi.cli._views import finding_view, risk_event_view, risk_view
from anzhi.govern import (
    RiskFilter,
    TransitionRequest,
    allowed_targets,
    find_control,
    find_system,
    get_risk,
    list_findings,
    list_risks,
    risk_history,
    system_names,
    transition_risk,
)
from anzhi.store import RiskLevel, RiskStatus, Treatment

__all__ = ["app"]

app = typer.Typer(help="The risk register and its closed loop / 风险台账与闭环管理", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON / 以JSON输出")]
RiskId = Annotated[int, typer.Argument(help="Risk id / 风险编号")]
_SHOWN_FINDINGS = 20


@app.command("list")
def _list(
    system: Annotated[str | None, typer.Option("--system", "-s", help="System name or id / 系统")] = None,
    status: Annotated[RiskStatus | None, typer.Option(help="Loop status / 状态")] = None,
    level: Annotated[RiskLevel | None, typer.Option(help="Risk level / 风险等级")] = None,
    taxonomy: Annotated[str | None, typer.Option(help="Risk id prefix, e.g. owasp-llm. / 风险编号前缀")] = None,
    open_only: Annotated[bool, typer.Option("--open", help="Only risks not closed or accepted / 仅未关闭")] = False,
    limit: Annotated[int, typer.Option(min=1, max=500, help="Page size / 每页条数")] = 100,
    offset: Annotated[int, typer.Option(min=0, help="Skip this many / 跳过条数")] = 0,
    json_output: JsonFlag = False,
) -> None:
    """List risks, newest first / 列出风险."""
    with open_workspace(sweep=True) as workspace, workspace.session(write=False) as session:
        system_id = find_system(session, system).id if system is not None else None
        where = RiskFilter(system_id=system_id, status=status, level=level, taxonomy_prefix=taxonomy,
                           open_only=open_only)
        page = list_risks(session, where, limit=limit, offset=offset)
        names = system_names(session)
        items = [risk_view(r, names.get(r.system_id)) for r in page.items]
    if json_output:
        emit_json({"items": items, "total": page.total, "limit": page.limit, "offset": page.offset})
        return
    if not items:
        say(f"No risks match / 无匹配风险 ({page_line(page.offset, 0, page.total)})")
        return
    table = make_table("Risks / 风险", "id", "system", "taxonomy id", "title", "level", "status", "open", "owner",
                       "due")
    for r in items:
        add_row(table, [r["id"], r["system"], r["taxonomy_id"], r["title"], r["level"], r["status"],
                        r["open_findings"], r["owner"], r["due_date"]])
    out().print(table)
    say(page_line(page.offset, len(items), page.total), style="dim")


@app.command("show")
def _show(risk_id: RiskId, json_output: JsonFlag = False) -> None:
    """Show a risk: details, allowed next statuses, findings and history / 查看风险详情."""
    with open_workspace(sweep=True) as workspace, workspace.session(write=False) as session:
        risk = get_risk(session, risk_id)
        view = risk_view(risk, system_names(session).get(risk.system_id))
        view["allowed_next"] = sorted(s.value for s in allowed_targets(risk.status))
        findings = list_findings(session, risk_id=risk.id, limit=_SHOWN_FINDINGS)
        view["findings"] = [finding_view(f) for f in findings.items]
        view["findings_total"] = findings.total
        view["history"] = [risk_event_view(e) for e in risk_history(session, risk.id)]
    if json_output:
        emit_json(view)
        return
    _print_risk(view)


def _print_risk(view: dict[str, Any]) -> None:
    console = out()
    title = Text(f"Risk #{view['id']} {view['title']}  ", style="bold")
    title.append(view["level"], style=LEVEL_STYLE.get(view["level"], ""))
    title.append(f"  {view['status']}")
    console.print(title, soft_wrap=True)
    details = make_table("", "field", "value")
    for key in ("system", "taxonomy_id", "likelihood", "impact", "level", "graded", "treatment", "treatment_plan",
                "owner", "due_date", "accepted_until", "treatment_started_at", "verified_at", "open_findings",
                "reopen_count", "created_at", "closed_at"):
        add_row(details, [key, view[key]])
    add_row(details, ["controls", ", ".join(view["controls"])])
    console.print(details)
    allowed = ", ".join(view["allowed_next"]) or "none (reopens by itself if a finding recurs)"
    say(f"next / 可转入: {allowed}", style="cyan")
    findings = make_table(f"Findings ({view['findings_total']}) / 检测发现", "id", "check", "rule", "severity",
                          "status", "seen", "title")
    for f in view["findings"]:
        add_row(findings, [f["id"], f["check_id"], f["rule_id"], f["severity"], f["status"], f["count"], f["title"]])
    console.print(findings)
    history = make_table("History / 历史", "at", "actor", "event", "from", "to", "note")
    for e in view["history"]:
        add_row(history, [e["at"][:19].replace("T", " "), e["actor"], e["kind"], e["from_status"], e["to_status"],
                          e["note"]])
    console.print(history)


def _control_ids(session: Session, keys: list[str]) -> tuple[int, ...]:
    return tuple(dict.fromkeys(find_control(session, key).id for key in keys))


@app.command("transition")
def _transition(
    risk_id: RiskId,
    target: Annotated[RiskStatus, typer.Argument(help="Status to move to / 目标状态")],
    likelihood: Annotated[int | None, typer.Option(min=1, max=5, help="1-5, needed to assess / 可能性")] = None,
    impact: Annotated[int | None, typer.Option(min=1, max=5, help="1-5, needed to assess / 影响")] = None,
    treatment: Annotated[
        Treatment | None, typer.Option(help="mitigate, transfer or avoid (for treating) / 处置方式")
    ] = None,
    plan: Annotated[str | None, typer.Option(help="Treatment plan / 处置计划")] = None,
    owner: Annotated[str | None, typer.Option(help="Owner of the treatment or acceptance / 责任人")] = None,
    due: Annotated[str | None, typer.Option(help="Due date YYYY-MM-DD / 截止日期")] = None,
    accepted_until: Annotated[
        str | None, typer.Option(help="ISO date-time the acceptance ends (UTC if no zone) / 接受截止时间")
    ] = None,
    control: Annotated[
        list[str] | None, typer.Option("--control", help="Control key, repeatable / 控制措施")
    ] = None,
    note: Annotated[str, typer.Option(help="Why / 说明")] = "",
    json_output: JsonFlag = False,
) -> None:
    """Move a risk to another status in the loop / 风险状态流转.

    identified → assessed (give --likelihood and --impact) → treating (--treatment, --owner) → verifying →
    monitoring or closed (only after a clean re-run of the check). accepted needs --owner and --accepted-until.
    An illegal move is refused with the allowed moves named, and changes nothing.
    """
    request = TransitionRequest(
        target=target, note=note, likelihood=likelihood, impact=impact, treatment=treatment, treatment_plan=plan,
        owner=owner, due_date=parse_date(due, "--due"),
        accepted_until=parse_datetime(accepted_until, "--accepted-until"),
    )
    actor = settings().actor_name
    with open_workspace(sweep=True) as workspace, workspace.session() as session:
        previous = get_risk(session, risk_id).status
        request = replace(request, control_ids=_control_ids(session, control or []))
        risk = transition_risk(session, risk_id, request, actor=actor)
        view = risk_view(risk)
        view["allowed_next"] = sorted(s.value for s in allowed_targets(risk.status))
    if json_output:
        emit_json(view)
        return
    line = Text(f"risk #{view['id']}: {previous.value} → {view['status']}  (level ", style="green")
    line.append(view["level"], style=LEVEL_STYLE.get(view["level"], ""))
    line.append(")")
    out().print(line, soft_wrap=True)
    say(f"next / 可转入: {', '.join(view['allowed_next']) or 'none'}", style="dim")
