"""``anzhi system``: register AI systems, list and show them, and attach their assets."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from anzhi.cli._common import add_row, emit_json, make_table, open_workspace, out, say, settings, validation_message
from anzhi.cli._views import asset_view, system_view
from anzhi.errors import InputError
from anzhi.govern import (
    SECTORS,
    AssetSpec,
    SystemCounts,
    SystemSpec,
    add_asset,
    create_system,
    find_system,
    list_systems,
    system_counts,
)
from anzhi.store import AssetKind, RiskLevel, RiskStatus

__all__ = ["app"]

app = typer.Typer(help="AI systems and their assets / AI系统及其资产", no_args_is_help=True)
asset_app = typer.Typer(help="Assets of a system: models, datasets, endpoints, applications / 系统资产",
                        no_args_is_help=True)
app.add_typer(asset_app, name="asset")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON / 以JSON输出")]
SystemArg = Annotated[str, typer.Argument(help="System name or id / 系统名称或编号")]


@app.command("add")
def _add(
    name: Annotated[str, typer.Argument(help="Unique name / 唯一名称")],
    owner: Annotated[str, typer.Option(help="Accountable owner / 责任人")] = "",
    sector: Annotated[str, typer.Option(help="Sector / 行业: " + ", ".join(SECTORS))] = "general",
    scenario: Annotated[str, typer.Option(help="Application scenario / 应用场景")] = "",
    intelligence_level: Annotated[str, typer.Option(help="e.g. assistive, autonomous / 智能化水平")] = "",
    deployment_mode: Annotated[str, typer.Option(help="e.g. saas, on-premise, edge, api / 部署方式")] = "",
    stage: Annotated[
        str, typer.Option(help="design, development, testing, production, retired / 生命周期阶段")
    ] = "development",
    description: Annotated[str, typer.Option(help="Free text / 描述")] = "",
    json_output: JsonFlag = False,
) -> None:
    """Register an AI system / 登记AI系统."""
    try:
        spec = SystemSpec(name=name, owner=owner, sector=sector, scenario=scenario,
                          intelligence_level=intelligence_level, deployment_mode=deployment_mode,
                          lifecycle_stage=stage, description=description)
    except ValidationError as exc:
        raise InputError(f"invalid system: {validation_message(exc)}") from None
    actor = settings().actor_name
    with open_workspace() as workspace, workspace.session() as session:
        view = system_view(create_system(session, spec, actor=actor))
    if json_output:
        emit_json(view)
    else:
        say(f"Registered system #{view['id']} {view['name']} "
            f"(sector {view['sector']}, stage {view['lifecycle_stage']})", style="green")


@app.command("list")
def _list(json_output: JsonFlag = False) -> None:
    """List AI systems / 列出AI系统."""
    with open_workspace() as workspace, workspace.session(write=False) as session:
        systems = [system_view(s) for s in list_systems(session)]
        counts = system_counts(session)
    for view in systems:
        of_system = counts.get(view["id"], SystemCounts())
        view["asset_count"] = of_system.assets
        view["open_risk_count"] = of_system.open_risks
    if json_output:
        emit_json(systems)
        return
    if not systems:
        say("No systems yet; register one with: anzhi system add NAME")
        return
    table = make_table("AI systems / AI系统", "id", "name", "sector", "stage", "owner", "assets", "open risks")
    for v in systems:
        add_row(table, [v["id"], v["name"], v["sector"], v["lifecycle_stage"], v["owner"], v["asset_count"],
                        v["open_risk_count"]])
    out().print(table)


def _risk_matrix(counts: SystemCounts) -> dict[str, dict[str, int]]:
    """Risk counts as ``{level: {status: count}}``, only the non-zero ones."""
    matrix: dict[str, dict[str, int]] = {}
    for (level, status), count in counts.risks.items():
        matrix.setdefault(level.value, {})[status.value] = count
    return matrix


@app.command("show")
def _show(system: SystemArg, json_output: JsonFlag = False) -> None:
    """Show a system: profile, assets, risk counts by level and status / 查看系统详情."""
    with open_workspace(sweep=True) as workspace, workspace.session(write=False) as session:
        found = find_system(session, system)
        view: dict[str, Any] = system_view(found)
        view["assets"] = [asset_view(a) for a in found.assets]
        view["risk_counts"] = _risk_matrix(system_counts(session, found.id).get(found.id, SystemCounts()))
    if json_output:
        emit_json(view)
        return
    console = out()
    profile = make_table(f"System #{view['id']} {view['name']} / 系统概况", "field", "value")
    for key in ("owner", "sector", "scenario", "intelligence_level", "deployment_mode", "lifecycle_stage",
                "description", "created_at", "updated_at"):
        add_row(profile, [key, view[key]])
    console.print(profile)
    if view["assets"]:
        assets = make_table("Assets / 资产", "id", "kind", "name", "uri", "sha256")
        for a in view["assets"]:
            add_row(assets, [a["id"], a["kind"], a["name"], a["uri"], (a["sha256"] or "")[:16]])
        console.print(assets)
    else:
        say("No assets; add one with: anzhi system asset add SYSTEM KIND NAME", style="dim")
    counts: dict[str, dict[str, int]] = view["risk_counts"]
    if not counts:
        say("No risks recorded / 暂无风险", style="dim")
        return
    statuses = [s.value for s in RiskStatus]
    matrix = make_table("Risks by level and status / 风险分布", "level", *statuses, "total")
    for level in reversed(list(RiskLevel)):
        row = counts.get(level.value, {})
        if row:
            add_row(matrix, [level.value, *(row.get(s, 0) or "" for s in statuses), sum(row.values())])
    console.print(matrix)


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as exc:
        raise InputError(f"--file {path}: cannot read it ({exc.strerror or exc})") from None
    return digest.hexdigest()


@asset_app.command("add")
def _asset_add(
    system: SystemArg,
    kind: Annotated[AssetKind, typer.Argument(help="model, dataset, endpoint or application / 资产类型")],
    name: Annotated[str, typer.Argument(help="Name, unique within the system / 名称")],
    uri: Annotated[str, typer.Option(help="Where it lives (URL, path, registry ref) / 位置")] = "",
    sha256: Annotated[str | None, typer.Option(help="Content hash, 64 hex digits / 内容哈希")] = None,
    file: Annotated[
        Path | None, typer.Option("--file", help="Hash this local file (sets --uri if not given) / 计算本地文件哈希")
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Attach an asset to a system / 为系统添加资产."""
    if file is not None:
        if sha256 is not None:
            raise InputError("give either --sha256 or --file, not both")
        if not file.is_file():
            raise InputError(f"--file {file}: no such file")
        sha256 = _sha256_of(file)
        uri = uri or file.resolve().as_uri()
    try:
        spec = AssetSpec(kind=kind, name=name, uri=uri, sha256=sha256.lower() if sha256 else None)
    except ValidationError as exc:
        raise InputError(f"invalid asset: {validation_message(exc)}") from None
    actor = settings().actor_name
    with open_workspace() as workspace, workspace.session() as session:
        target = find_system(session, system)
        view = asset_view(add_asset(session, target.id, spec, actor=actor))
        system_name = target.name
    if json_output:
        emit_json(view)
    else:
        digest = f", sha256 {view['sha256'][:16]}…" if view["sha256"] else ""
        say(f"Added {view['kind']} asset #{view['id']} {view['name']} to {system_name}{digest}", style="green")


@asset_app.command("list")
def _asset_list(system: SystemArg, json_output: JsonFlag = False) -> None:
    """List a system's assets / 列出系统资产."""
    with open_workspace() as workspace, workspace.session(write=False) as session:
        target = find_system(session, system)
        assets = [asset_view(a) for a in target.assets]
        system_name = target.name
    if json_output:
        emit_json(assets)
        return
    table = make_table(f"Assets of {system_name} / 资产", "id", "kind", "name", "uri", "sha256")
    for a in assets:
        add_row(table, [a["id"], a["kind"], a["name"], a["uri"], a["sha256"] or ""])
    out().print(table)
