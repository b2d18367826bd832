"""The scan report as a console table: ``write_table(report, stream)`` (and ``render_table`` for a Rich console).

One row per file, verdict coloured; archive members with something to say get their own indented rows. Reasons are
abbreviated to rule ids (with a count when one repeats) and the first message; the full text is in JSON and SARIF.
"""

from __future__ import annotations

from collections import Counter
from typing import TextIO

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from anzhi.develop.models._result import FileResult, ScanReport, Verdict

__all__ = ["VERDICT_STYLE", "render_table", "summary_line", "write_table"]

VERDICT_STYLE = {
    Verdict.DANGEROUS: "bold red",
    Verdict.REVIEW: "yellow",
    Verdict.INVALID: "magenta",
    Verdict.CLEAN: "green",
}
_MESSAGE_WIDTH = 90


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"  # pragma: no cover


def _reasons(result: FileResult) -> str:
    if not result.reasons:
        return ""
    counts = Counter(r.rule_id for r in result.reasons)
    ids = ", ".join(f"{rule_id}×{n}" if n > 1 else rule_id for rule_id, n in counts.items())
    worst = max(result.reasons, key=lambda r: (r.verdict == Verdict.DANGEROUS, r.severity.rank))
    message = worst.message if len(worst.message) <= _MESSAGE_WIDTH else worst.message[: _MESSAGE_WIDTH - 1] + "…"
    return f"{ids}: {message}"


def _row(table: Table, result: FileResult, label: str) -> None:
    verdict = result.verdict
    table.add_row(Text(verdict.value, style=VERDICT_STYLE[verdict]), Text(result.format.value), Text(label),
                  Text(_size(result.size), justify="right"), Text(_reasons(result)))


def _member_rows(table: Table, result: FileResult, depth: int) -> None:
    for member in result.members:
        if member.verdict is Verdict.CLEAN and not member.reasons:
            continue
        name = member.path.rsplit("!", 1)[-1]
        _row(table, member, "  " * depth + "└ " + name)
        _member_rows(table, member, depth + 1)


def summary_line(report: ScanReport) -> str:
    """``12 files: 2 dangerous, 1 review, 0 invalid, 9 clean in 0.41 s``."""
    counts = report.counts()
    parts = ", ".join(f"{counts[v.value]} {v.value}" for v in (Verdict.DANGEROUS, Verdict.REVIEW, Verdict.INVALID,
                                                               Verdict.CLEAN))
    files = len(report.results)
    return f"{files} file{'s' if files != 1 else ''}: {parts} in {report.elapsed_s:.2f} s"


def render_table(report: ScanReport) -> Group:
    """The table and its summary line, ready for a Rich console."""
    table = Table(title="Model scan / 模型文件扫描", title_justify="left", header_style="bold")
    for column in ("verdict", "format", "file", "size", "reasons"):
        table.add_column(column, overflow="fold")
    for result in report.results:
        _row(table, result, result.path)
        _member_rows(table, result, 1)
    return Group(table, Text(summary_line(report)))


def write_table(report: ScanReport, stream: TextIO) -> None:
    """Write the table to a text stream (coloured only when the stream is a terminal)."""
    console = Console(file=stream, highlight=False, soft_wrap=False,
                      width=None if stream.isatty() else 200)
    console.print(render_table(report))
