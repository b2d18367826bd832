"""``anzhi taxonomy`` and ``anzhi catalog``: browse risk ids and standards catalogs (standards as data)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from anzhi.cli._common import add_row, emit_json, make_table, out, say, settings
from anzhi.taxonomy import Requirement, Taxonomy, default_taxonomy, load_taxonomy

__all__ = ["catalog_app", "taxonomy_app"]

taxonomy_app = typer.Typer(help="Risk taxonomies (risk ids) / 风险分类", no_args_is_help=True)
catalog_app = typer.Typer(help="Standards catalogs and their requirements / 标准条款目录", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON / 以JSON输出")]


def _taxonomy() -> Taxonomy:
    extra = settings().extra_taxonomy_dirs
    return load_taxonomy(extra) if extra else default_taxonomy()


def _requirements_of(taxonomy: Taxonomy, catalog_id: str) -> list[Requirement]:
    return [req for req in taxonomy.requirements.values() if req.catalog == catalog_id]


@taxonomy_app.command("list")
def _taxonomy_list(json_output: JsonFlag = False) -> None:
    """List risk taxonomies / 列出风险分类."""
    taxonomy = _taxonomy()
    counts: dict[str, int] = {}
    for item in taxonomy.risks.values():
        counts[item.taxonomy] = counts.get(item.taxonomy, 0) + 1
    rows = [{**info.model_dump(mode="json"), "items": counts.get(info.id, 0)} for info in taxonomy.taxonomies.values()]
    if json_output:
        emit_json(rows)
        return
    table = make_table("Risk taxonomies / 风险分类", "id", "name", "version", "status", "items")
    for r in rows:
        add_row(table, [r["id"], f"{r['name_zh']} / {r['name_en']}", r["version"], r["status"], r["items"]])
    out().print(table)


@taxonomy_app.command("show")
def _taxonomy_show(
    taxonomy_or_risk_id: Annotated[str, typer.Argument(help="A taxonomy id or a risk id / 分类或风险编号")],
    json_output: JsonFlag = False,
) -> None:
    """Show a taxonomy's risk ids, or one risk with its requirements / 查看风险分类或风险项."""
    taxonomy = _taxonomy()
    key = taxonomy_or_risk_id
    if key in taxonomy.taxonomies or "." not in key:
        items = taxonomy.items(key)  # unknown → UnknownIdError with the known ids
        info = taxonomy.taxonomies[key]
        if json_output:
            emit_json({**info.model_dump(mode="json"), "items": [i.model_dump(mode="json") for i in items]})
            return
        say(f"{info.id}: {info.name_zh} / {info.name_en} ({info.status.value})", style="bold")
        say(f"source: {info.source}" + (f" {info.url}" if info.url else ""), style="dim")
        table = make_table("", "id", "clause", "title", "status")
        for item in items:
            depth = len(taxonomy.ancestors(item.id))
            add_row(table, [item.id, item.clause, "  " * depth + f"{item.title_zh} / {item.title_en}",
                            item.status.value])
        out().print(table)
        return
    item = taxonomy.risk(key)
    requirements = taxonomy.requirements_for_risk(item.id)
    view: dict[str, Any] = {
        **item.model_dump(mode="json"),
        "children": [child.id for child in taxonomy.children(item.id)],
        "requirements": [req.ref for req in requirements],
        "related": [{"id": other, "relation": rel.value} for other, rel in taxonomy.related(item.id)],
    }
    if json_output:
        emit_json(view)
        return
    say(f"{item.id}: {item.title_zh} / {item.title_en}", style="bold")
    for label, value in (("clause", item.clause), ("status", item.status.value), ("parent", item.parent),
                         ("children", ", ".join(view["children"])), ("note", item.note)):
        if value:
            say(f"  {label}: {value}")
    if requirements:
        table = make_table("Requirements that address it / 相关条款", "requirement", "title", "checks")
        for req in requirements:
            add_row(table, [req.ref, f"{req.title_zh} / {req.title_en}", ", ".join(req.checks)])
        out().print(table)
    for related in view["related"]:
        say(f"  {related['relation']}: {related['id']}", style="dim")


@catalog_app.command("list")
def _catalog_list(json_output: JsonFlag = False) -> None:
    """List standards catalogs / 列出标准目录."""
    taxonomy = _taxonomy()
    rows = []
    for catalog in taxonomy.catalogs.values():
        row = catalog.model_dump(mode="json", exclude={"groups", "requirements"})
        row["requirements"] = len(_requirements_of(taxonomy, catalog.id))
        rows.append(row)
    if json_output:
        emit_json(rows)
        return
    table = make_table("Standards catalogs / 标准目录", "id", "name", "version", "effective", "status",
                       "requirements")
    for r in rows:
        add_row(table, [r["id"], f"{r['name_zh']} / {r['name_en']}", r["version"], r["effective"], r["status"],
                        r["requirements"]])
    out().print(table)


@catalog_app.command("show")
def _catalog_show(
    catalog_id: Annotated[str, typer.Argument(help="Catalog id, or catalog:requirement / 目录或条款编号")],
    json_output: JsonFlag = False,
) -> None:
    """Show a catalog's requirements, or one requirement / 查看标准目录或条款."""
    taxonomy = _taxonomy()
    if ":" in catalog_id:
        requirement = taxonomy.requirement(catalog_id)
        if json_output:
            emit_json({**requirement.model_dump(mode="json"), "ref": requirement.ref})
            return
        _print_requirement(requirement)
        return
    catalog = taxonomy.catalog(catalog_id)
    requirements = _requirements_of(taxonomy, catalog.id)
    if json_output:
        emit_json({**catalog.model_dump(mode="json", exclude={"groups", "requirements"}),
                   "requirements": [req.model_dump(mode="json") for req in requirements]})
        return
    say(f"{catalog.id}: {catalog.name_zh} / {catalog.name_en} ({catalog.status.value})", style="bold")
    say(f"source: {catalog.source}" + (f" {catalog.url}" if catalog.url else ""), style="dim")
    table = make_table("", "id", "clause", "kind", "title", "threshold", "checks", "status")
    for req in requirements:
        threshold = req.threshold.summary_en if req.threshold else ""
        add_row(table, [req.id, req.clause, req.kind.value, f"{req.title_zh} / {req.title_en}", threshold,
                        ", ".join(req.checks), req.status.value])
    out().print(table)


def _print_requirement(req: Requirement) -> None:
    say(f"{req.ref}: {req.title_zh} / {req.title_en}", style="bold")
    for label, value in (("clause", req.clause), ("kind", req.kind.value), ("status", req.status.value),
                         ("group", req.group), ("effective", req.effective), ("risks", ", ".join(req.risks)),
                         ("checks", ", ".join(req.checks)), ("note", req.note)):
        if value:
            say(f"  {label}: {value}")
    if req.threshold is not None:
        say(f"  threshold: {req.threshold.summary_en} ({req.threshold.status.value})")
        say(f"  阈值: {req.threshold.summary_zh}")
