"""``anzhi scan model``: scan model files, folders and archives; print a table, JSON or SARIF; optionally store.

Exit codes: 0 nothing at or above ``--fail-on``; 1 findings at or above it; 2 scanner error (a missing path, bad
options, nothing that could be scanned). With ``--store`` the findings go into the named system's risk register.
"""

from __future__ import annotations

import dataclasses
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from anzhi.cli._common import EXIT_PROBLEMS, open_workspace, say, settings
from anzhi.errors import InputError
from anzhi.findings import Severity

if TYPE_CHECKING:  # the scanner (and its numpy/h5py imports) loads only when a scan runs
    from anzhi.develop.models import ScanLimits, ScanReport

__all__ = ["ScanFormat", "app", "exit_code", "model"]

app = typer.Typer(help="Scan artefacts for supply-chain risks / 供应链安全扫描", no_args_is_help=True)


class ScanFormat(StrEnum):
    """Output formats of a scan."""

    TABLE = "table"
    JSON = "json"
    SARIF = "sarif"


def exit_code(report: ScanReport, fail_on: Severity) -> int:
    """1 if any finding is at or above ``fail_on``, else 0."""
    from anzhi.develop.models import is_finding

    for top in report.results:
        for item in top.walk():
            if any(is_finding(r) and r.severity.rank >= fail_on.rank for r in item.reasons):
                return EXIT_PROBLEMS
    return 0


def _write(report: ScanReport, fmt: ScanFormat, output: Path | None) -> None:
    from anzhi.develop.models import write_json, write_sarif, write_table

    writer = {ScanFormat.TABLE: write_table, ScanFormat.JSON: write_json, ScanFormat.SARIF: write_sarif}[fmt]
    if output is None or str(output) == "-":
        writer(report, sys.stdout)
        return
    try:
        with output.open("w", encoding="utf-8") as stream:
            writer(report, stream)
    except OSError as exc:
        raise InputError(f"--output: cannot write {output}: {exc.strerror or exc}") from exc


def _notes(to_stderr: bool) -> Console:
    return Console(stderr=to_stderr, highlight=False)


def _print_ingest(console: Console, system_name: str, result: dict[str, Any]) -> None:
    console.print(Text(f"stored in {system_name}: findings {result['new']} new, {result['recurring']} recurring, "
                       f"{result['resolved']} resolved"), soft_wrap=True)
    for key, label in (("risks_created", "created"), ("risks_reopened", "reopened"), ("risks_verified", "verified")):
        ids = result[key]
        console.print(Text(f"risks {label}: {len(ids)}" + (f" ({', '.join(f'#{i}' for i in ids)})" if ids else "")),
                      soft_wrap=True)


def _scope(paths: list[Path]) -> str:
    return " ".join(sorted(str(path.resolve()) for path in paths))[:2000]


@app.command("model")
def model(
    paths: Annotated[list[Path], typer.Argument(help="Files, folders or archives / 模型文件、目录或归档",
                                                show_default=False)],
    fmt: Annotated[ScanFormat, typer.Option("--format", "-f", help="table, json or sarif / 输出格式")] = (
        ScanFormat.TABLE
    ),
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the report to this file / 输出文件")
    ] = None,
    fail_on: Annotated[
        Severity, typer.Option("--fail-on", help="Exit 1 on findings at or above this severity / 失败阈值")
    ] = Severity.HIGH,
    jobs: Annotated[
        int | None, typer.Option("--jobs", "-j", min=1, help="Worker processes (default: all CPUs) / 并行进程数")
    ] = None,
    max_depth: Annotated[
        int | None,
        typer.Option("--max-depth", min=1, help="Archive nesting levels to open (default 4) / 归档嵌套深度"),
    ] = None,
    follow_symlinks: Annotated[
        bool, typer.Option("--follow-symlinks", help="Follow links inside folders (never loops) / 跟随符号链接")
    ] = False,
    store: Annotated[
        bool, typer.Option("--store", help="Send the findings to the risk register (needs --system) / 入库")
    ] = False,
    system: Annotated[
        str | None, typer.Option("--system", "-s", help="System name or id for --store / 系统名称或编号")
    ] = None,
) -> None:
    """Scan model files statically — never loads them / 静态扫描模型文件（不加载、不执行）.

    Pickle, PyTorch, NumPy, joblib, Keras, HDF5, SavedModel, ONNX, GGUF, safetensors, zip and tar, told apart by
    content. Exit 0 clean, 1 findings at or above --fail-on, 2 scanner error.
    """
    from anzhi.develop.models import ScanLimits, to_findings

    missing = [str(p) for p in paths if not p.exists() and not p.is_symlink()]
    if missing:
        raise InputError(f"no such file or folder: {', '.join(missing)}")
    if store and not system:
        raise InputError("--store needs --system NAME: the system whose risk register receives the findings")
    if system and not store:
        raise InputError("--system is only used with --store; add --store to send the findings")
    limits = ScanLimits() if max_depth is None else dataclasses.replace(ScanLimits(), max_depth=max_depth)
    if store:
        from anzhi.govern import find_system, ingest_batch  # only --store needs the platform (and its database)

        # The system is checked first (an unknown one fails before the scan), and no database connection stays
        # open while the scan forks its worker processes.
        with open_workspace() as workspace, workspace.session(write=False) as session:
            find_system(session, system or "")
    report = _scan_and_write(paths, fmt, output, limits, jobs, follow_symlinks)
    if store:
        batch = to_findings(report, scope=_scope(paths))
        with open_workspace() as workspace, workspace.session() as session:
            target = find_system(session, system or "")
            name = target.name
            result = ingest_batch(session, target.id, batch, taxonomy=workspace.taxonomy,
                                  actor=settings().actor_name).as_dict()
        _print_ingest(_notes(to_stderr=output is None and fmt is not ScanFormat.TABLE), name, result)
    code = exit_code(report, fail_on)
    if code:
        raise typer.Exit(code)


def _scan_and_write(paths: list[Path], fmt: ScanFormat, output: Path | None, limits: ScanLimits, jobs: int | None,
                    follow_symlinks: bool) -> ScanReport:
    from anzhi.develop.models import nothing_read, scan_paths, summary_line

    report = scan_paths(paths, limits=limits, jobs=jobs, follow_symlinks=follow_symlinks)
    if not report.results:
        raise InputError(f"nothing to scan in {', '.join(map(str, paths))} (no files)")
    _write(report, fmt, output)
    if output is not None and str(output) != "-":
        say(f"{summary_line(report)}; report written to {output}")
    if nothing_read(report):
        raise InputError("nothing could be scanned: every path is unreadable or a link not followed")
    return report

