"""``anzhi audit``: verify the hash-chained audit trail, and read its newest events."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from anzhi.cli._common import add_row, emit_json, iso, make_table, open_workspace, out, say
from anzhi.errors import AuditChainError
from anzhi.govern import list_audit_events, verify_audit_chain

__all__ = ["app"]

app = typer.Typer(help="The tamper-evident audit trail / 防篡改审计记录", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON / 以JSON输出")]


@app.command("verify")
def _verify(json_output: JsonFlag = False) -> None:
    """Recompute every hash of the audit chain / 校验审计链.

    Exit 0 when every event verifies; exit 1 listing each problem (seq, kind, message) when not.
    """
    with open_workspace() as workspace, workspace.session(write=False) as session:
        result = verify_audit_chain(session)
    problems = [{"seq": p.seq, "kind": p.kind, "message": p.message} for p in result.problems]
    if json_output:
        emit_json({"checked": result.checked, "ok": result.ok, "problems": problems})
    elif result.ok:
        say(f"{result.checked} events verified / 审计链完整", style="green")
    else:
        table = make_table("Audit chain problems / 审计链问题", "seq", "kind", "message")
        for problem in problems:
            add_row(table, [problem["seq"], problem["kind"], problem["message"]], style="red")
        out().print(table)
    if not result.ok:
        raise AuditChainError(
            f"the audit chain does not verify: {len(problems)} problem(s) in {result.checked} events "
            f"(first at event {problems[0]['seq']})"
        )


@app.command("log")
def _log(
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many of the newest events / 条数")] = 20,
    entity_type: Annotated[str | None, typer.Option(help="Only this entity type, e.g. risk / 对象类型")] = None,
    json_output: JsonFlag = False,
) -> None:
    """Show the newest audit events / 查看最近的审计事件."""
    with open_workspace() as workspace, workspace.session(write=False) as session:
        page = list_audit_events(session, entity_type=entity_type or None, limit=limit)
        events: list[dict[str, Any]] = [
            {"seq": e.seq, "at": iso(e.at), "actor": e.actor, "action": e.action, "entity_type": e.entity_type,
             "entity_id": e.entity_id, "data": e.data, "hash": e.hash}
            for e in page.items
        ]
    if json_output:
        emit_json(events)
        return
    table = make_table("Audit events / 审计事件", "seq", "at", "actor", "action", "entity", "hash")
    for e in events:
        add_row(table, [e["seq"], (e["at"] or "")[:19].replace("T", " "), e["actor"], e["action"],
                        f"{e['entity_type']} {e['entity_id']}", e["hash"][:12]])
    out().print(table)
