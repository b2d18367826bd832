"""``anzhi control``: safeguards that treat risks, usually bound to a catalog requirement."""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import ValidationError

from anzhi.cli._common import add_row, emit_json, make_table, open_workspace, out, say, settings, validation_message
from anzhi.cli._views import control_view
from anzhi.errors import InputError
from anzhi.govern import ControlSpec, create_control, list_controls

__all__ = ["app"]

app = typer.Typer(help="Controls (safeguards) that treat risks / 控制措施", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON / 以JSON输出")]


@app.command("add")
def _add(
    key: Annotated[str, typer.Argument(help="Unique key, e.g. GUARD-01 / 唯一标识")],
    title: Annotated[str, typer.Argument(help="Title / 名称")],
    catalog_ref: Annotated[
        str | None, typer.Option(help="Requirement it implements, catalog:requirement / 对应标准条款")
    ] = None,
    description: Annotated[str, typer.Option(help="What it does / 说明")] = "",
    owner: Annotated[str, typer.Option(help="Who runs it / 负责人")] = "",
    json_output: JsonFlag = False,
) -> None:
    """Add a control / 新增控制措施."""
    try:
        spec = ControlSpec(key=key, title=title, catalog_ref=catalog_ref, description=description, owner=owner)
    except ValidationError as exc:
        raise InputError(f"invalid control: {validation_message(exc)}") from None
    actor = settings().actor_name
    with open_workspace() as workspace, workspace.session() as session:
        view = control_view(create_control(session, spec, taxonomy=workspace.taxonomy, actor=actor))
    if json_output:
        emit_json(view)
    else:
        bound = f" for {view['catalog_ref']}" if view["catalog_ref"] else ""
        say(f"Added control #{view['id']} {view['key']}{bound}", style="green")


@app.command("list")
def _list(json_output: JsonFlag = False) -> None:
    """List controls / 列出控制措施."""
    with open_workspace() as workspace, workspace.session(write=False) as session:
        controls = [control_view(c) for c in list_controls(session)]
    if json_output:
        emit_json(controls)
        return
    if not controls:
        say("No controls yet; add one with: anzhi control add KEY TITLE")
        return
    table = make_table("Controls / 控制措施", "id", "key", "title", "requirement", "owner")
    for c in controls:
        add_row(table, [c["id"], c["key"], c["title"], c["catalog_ref"], c["owner"]])
    out().print(table)
