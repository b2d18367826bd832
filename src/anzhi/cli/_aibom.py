"""``anzhi aibom PATH``: a CycloneDX 1.6 AI-BOM (ML-BOM) of a model folder or model file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from anzhi.cli._common import EXIT_INPUT, err_console

__all__ = ["aibom"]


def aibom(
    path: Annotated[Path, typer.Argument(help="Model folder or model file / 模型目录或模型文件", show_default=False)],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the JSON here instead of stdout / 输出文件（默认标准输出）"),
    ] = None,
    no_scan: Annotated[
        bool,
        typer.Option("--no-scan", help="List and hash files without scanning them / 不扫描，仅列出并计算哈希"),
    ] = False,
) -> None:
    """Write a CycloneDX 1.6 AI-BOM of a model / 生成模型的AI物料清单 (CycloneDX 1.6).

    One machine-learning-model component with its model card (architecture, task, datasets, licence), one
    file component per file with its SHA-256, format and scan verdict. Nothing in the model is loaded or run.
    """
    from anzhi.develop.aibom import build_aibom, write_aibom  # on use: cyclonedx and the scanner cost ~0.25 s

    if not path.exists():
        err_console().print(
            Text(f"error: {path}: no such file or folder; give a model folder or a model file", style="red"),
            soft_wrap=True,
        )
        raise typer.Exit(EXIT_INPUT)
    result = build_aibom(path, scan=not no_scan)
    if output is None:
        write_aibom(result, sys.stdout)
    else:
        with output.open("w", encoding="utf-8") as handle:
            write_aibom(result, handle)
    verdict = result.verdict
    files = sum(1 for c in result.bom.components if c.bom_ref.value and c.bom_ref.value.startswith("file:"))
    summary = f"AI-BOM of {result.model.name}: {files} files"
    if verdict is not None:
        summary += f", worst verdict {verdict.value}"
    if output is not None:
        summary += f" → {output}"
    style = "red" if verdict is not None and verdict.value == "dangerous" else ""
    err_console().print(Text(summary, style=style), soft_wrap=True)
