"""``anzhi assess``: compliance assessment of one system against one standards catalog, item by item."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.text import Text

from anzhi.cli._common import add_row, emit_json, make_table, open_workspace, out, say, settings
from anzhi.cli._views import assessment_item_view, assessment_view
from anzhi.govern import (
    attest_item,
    create_assessment,
    find_system,
    get_assessment,
    list_assessments,
    refresh_assessment,
    summarize_assessment,
    system_names,
)
from anzhi.store import Assessment, ItemResult
from anzhi.taxonomy import Taxonomy

__all__ = ["app"]

app = typer.Typer(
    help=(
        "Compliance assessment against a catalog / 合规评估.\n\n"
        "assess run SYSTEM CATALOG starts one (check-bound items are decided from the latest check runs); "
        "assess attest decides the others; assess refresh re-reads the evidence."
    ),
    no_args_is_help=True,
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON / 以JSON输出")]
AssessmentId = Annotated[int, typer.Argument(help="Assessment id / 评估编号")]
_RESULT_STYLE = {"meets": "green", "does_not_meet": "red", "not_applicable": "dim", "pending": "yellow"}


class AttestResult(StrEnum):
    """What a person may attest (an attestation must decide)."""

    MEETS = "meets"
    DOES_NOT_MEET = "does_not_meet"
    NOT_APPLICABLE = "not_applicable"


def _view(assessment: Assessment, taxonomy: Taxonomy, system_name: str) -> dict[str, Any]:
    view = assessment_view(assessment)
    view["system"] = system_name
    view["summary"] = summarize_assessment(assessment).as_dict()
    for item in view["items"]:
        requirement = taxonomy.requirements.get(f"{assessment.catalog_id}:{item['requirement_id']}")
        item["title_zh"] = requirement.title_zh if requirement else ""
        item["title_en"] = requirement.title_en if requirement else ""
        item["kind"] = requirement.kind.value if requirement else ""
    return view


def _print_summary(view: dict[str, Any]) -> None:
    s = view["summary"]
    say(f"Assessment #{view['id']} {view['title']} — system {view['system']}, catalog {view['catalog_id']}",
        style="bold")
    say(f"{s['total']} items: {s['meets']} meet, {s['does_not_meet']} do not meet, {s['not_applicable']} not "
        f"applicable, {s['pending']} pending — completion {s['completion']:.0%}, compliance {s['compliance']:.0%}")


def _print_items(view: dict[str, Any]) -> None:
    table = make_table("Items / 评估项", "requirement", "kind", "title", "result", "source", "why")
    for item in view["items"]:
        why = item["note"] or str(item["evidence"].get("reason_en", ""))
        title = item["title_zh"] + (f" / {item['title_en']}" if item["title_en"] else "")
        table.add_row(Text(item["requirement_id"]), Text(item["kind"]), Text(title),
                      Text(item["result"], style=_RESULT_STYLE.get(item["result"], "")), Text(item["source"]),
                      Text(why))
    out().print(table)


def _system_name(names: dict[int, str], system_id: int) -> str:
    return names.get(system_id, str(system_id))


@app.command("run")
def _run(
    system: Annotated[str, typer.Argument(help="System name or id / 系统")],
    catalog: Annotated[str, typer.Argument(help="Catalog id, see: anzhi catalog list / 标准目录")],
    title: Annotated[str, typer.Option(help="Title (default: SYSTEM × CATALOG) / 标题")] = "",
    json_output: JsonFlag = False,
) -> None:
    """Start an assessment and show its summary / 发起合规评估."""
    actor = settings().actor_name
    with open_workspace() as workspace, workspace.session() as session:
        target = find_system(session, system)
        assessment = create_assessment(session, target.id, catalog, taxonomy=workspace.taxonomy, actor=actor,
                                       title=title)
        view = _view(assessment, workspace.taxonomy, target.name)
    if json_output:
        emit_json(view)
        return
    _print_summary(view)
    say(f"See the items with: anzhi assess show {view['id']}", style="dim")


@app.command("list")
def _list(
    system: Annotated[str | None, typer.Option("--system", "-s", help="System name or id / 系统")] = None,
    json_output: JsonFlag = False,
) -> None:
    """List assessments, newest first / 列出评估."""
    with open_workspace() as workspace, workspace.session(write=False) as session:
        system_id = find_system(session, system).id if system is not None else None
        views = []
        names = system_names(session)
        for assessment in list_assessments(session, system_id):
            view = assessment_view(assessment, items=False)
            view["system"] = _system_name(names, assessment.system_id)
            view["summary"] = summarize_assessment(assessment).as_dict()
            views.append(view)
    if json_output:
        emit_json(views)
        return
    table = make_table("Assessments / 合规评估", "id", "system", "catalog", "items", "pending", "compliance",
                       "created", "refreshed")
    for v in views:
        s = v["summary"]
        add_row(table, [v["id"], v["system"], v["catalog_id"], s["total"], s["pending"], f"{s['compliance']:.0%}",
                        (v["created_at"] or "")[:16].replace("T", " "),
                        (v["refreshed_at"] or "")[:16].replace("T", " ")])
    out().print(table)


@app.command("show")
def _show(assessment_id: AssessmentId, json_output: JsonFlag = False) -> None:
    """Show an assessment: summary and every item / 查看评估详情."""
    with open_workspace() as workspace, workspace.session(write=False) as session:
        assessment = get_assessment(session, assessment_id)
        view = _view(assessment, workspace.taxonomy, _system_name(system_names(session), assessment.system_id))
    if json_output:
        emit_json(view)
        return
    _print_summary(view)
    _print_items(view)


@app.command("refresh")
def _refresh(assessment_id: AssessmentId, json_output: JsonFlag = False) -> None:
    """Re-decide check-bound items from the newest check runs / 根据最新检测结果刷新评估."""
    actor = settings().actor_name
    with open_workspace() as workspace, workspace.session() as session:
        assessment = refresh_assessment(session, assessment_id, taxonomy=workspace.taxonomy, actor=actor)
        view = _view(assessment, workspace.taxonomy, _system_name(system_names(session), assessment.system_id))
    if json_output:
        emit_json(view)
        return
    _print_summary(view)


@app.command("attest")
def _attest(
    assessment_id: AssessmentId,
    requirement_id: Annotated[str, typer.Argument(help="Requirement id (or catalog:id) / 条款编号")],
    result: Annotated[AttestResult, typer.Argument(help="meets, does_not_meet or not_applicable / 结论")],
    note: Annotated[str, typer.Option(help="What the judgement rests on (required) / 依据说明")],
    json_output: JsonFlag = False,
) -> None:
    """Record a person's judgement on one item / 人工认定评估项."""
    actor = settings().actor_name
    with open_workspace() as workspace, workspace.session() as session:
        assessment = get_assessment(session, assessment_id)
        prefix = f"{assessment.catalog_id}:"
        local_id = requirement_id.removeprefix(prefix)
        item = attest_item(session, assessment.id, local_id, ItemResult(result.value), note=note, actor=actor)
        view = assessment_item_view(item)
    if json_output:
        emit_json(view)
        return
    say(f"Assessment #{assessment_id} item {view['requirement_id']}: {view['result']} (attested by "
        f"{view['attested_by']})", style="green")
