"""The per-system report as one self-contained HTML file: Jinja2 template, inline CSS, inline SVG charts.

The file loads nothing (no script, no stylesheet, no font, no image from anywhere), so it opens offline and on
air-gapped machines, and prints. Every value from the store is untrusted: the template autoescapes, and the SVG
charts built here escape every label themselves before they are marked safe. A Content-Security-Policy in the
file forbids scripts and remote loads as a second line of defence.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal, get_args

from markupsafe import Markup, escape

from anzhi.errors import InputError
from anzhi.findings import Severity
from anzhi.govern._report import (
    RESULT_NAMES,
    SEVERITY_NAMES,
    STATUS_NAMES,
    TREATMENT_NAMES,
    Names,
    SystemReport,
)
from anzhi.store import ItemResult, RiskLevel, RiskStatus

if TYPE_CHECKING:
    from jinja2 import Environment

__all__ = ["LEVEL_COLOURS", "ReportLang", "render_report_html"]

ReportLang = Literal["zh", "en", "both"]

#: One colour per level, low (green) to extremely severe (dark purple); used in charts and badges.
LEVEL_COLOURS: dict[RiskLevel, str] = {
    RiskLevel.LOW: "#43a047",
    RiskLevel.MEDIUM: "#f9a825",
    RiskLevel.HIGH: "#fb8c00",
    RiskLevel.VERY_HIGH: "#e53935",
    RiskLevel.EXTREME: "#6a1b9a",
}
_STATUS_COLOURS: dict[RiskStatus, str] = {
    RiskStatus.IDENTIFIED: "#90a4ae",
    RiskStatus.ASSESSED: "#64b5f6",
    RiskStatus.TREATING: "#ffb74d",
    RiskStatus.VERIFYING: "#ba68c8",
    RiskStatus.MONITORING: "#4db6ac",
    RiskStatus.CLOSED: "#81c784",
    RiskStatus.ACCEPTED: "#a1887f",
}
_RESULT_COLOURS: dict[ItemResult, str] = {
    ItemResult.MEETS: "#43a047",
    ItemResult.DOES_NOT_MEET: "#e53935",
    ItemResult.NOT_APPLICABLE: "#9e9e9e",
    ItemResult.PENDING: "#e0e0e0",
}
_OPEN_COLOUR, _SETTLED_COLOUR = "#1e88e5", "#bbdefb"
_OUTCOME_NAMES: dict[str, Names] = {
    "met": Names("满足", "met"),
    "not_met": Names("不满足", "not met"),
    "insufficient_sample": Names("样本不足", "insufficient sample"),
    "metric_missing": Names("缺少指标", "metric missing"),
}
_CONFIDENCE_NAMES: dict[str, Names] = {
    "high": Names("高", "high"),
    "medium": Names("中", "medium"),
    "low": Names("低", "low"),
}
_FONT = 'font-size="12"'


@dataclass(frozen=True)
class _Labeller:
    """Chooses Chinese, English or both for a pair of names."""

    lang: ReportLang

    def __call__(self, zh: str, en: str) -> str:
        if self.lang == "zh":
            return zh
        if self.lang == "en":
            return en
        return zh if zh == en else f"{zh} / {en}"

    def names(self, pair: Names) -> str:
        return self(pair.zh, pair.en)

    def lines(self, zh: str, en: str) -> list[str]:
        """The label as lines: one per language shown."""
        if self.lang == "both" and zh != en:
            return [zh, en]
        return [self(zh, en)]


# -- SVG charts ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Segment:
    value: int
    colour: str
    label: str


def _char_width(ch: str) -> float:
    return 12.0 if ord(ch) >= 0x2E80 else 7.0


def _text_width(text: str) -> float:
    """Rough width in pixels of a 12 px label: wide (CJK) characters count about double."""
    return sum(_char_width(ch) for ch in text)


def _clip(text: str, max_px: float) -> str:
    """The label cut to fit ``max_px`` (with an ellipsis); the full text goes into a tooltip."""
    if _text_width(text) <= max_px:
        return text
    out, used = [], _char_width("…")
    for ch in text:
        used += _char_width(ch)
        if used > max_px:
            break
        out.append(ch)
    return "".join(out) + "…"


def _svg(width: int, height: int, title: str, body: list[str]) -> Markup:
    label = escape(title)
    head = (f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" style="max-width:{width}px" '
            f'role="img" aria-label="{label}"><title>{label}</title>')
    return Markup(head + "".join(body) + "</svg>")  # noqa: S704 - every piece of text in body is escaped


def _vertical_bars(title: str, bars: Sequence[tuple[list[str], int, str]], empty: str) -> Markup:
    """One bar per (label lines, value, colour), values printed on top."""
    width, height, top, bottom, left = 600, 230, 24, 46, 10
    plot = height - top - bottom
    peak = max((v for _, v, _ in bars), default=0)
    slot = (width - 2 * left) / max(len(bars), 1)
    body: list[str] = []
    for index, (lines, value, colour) in enumerate(bars):
        bar_h = 0.0 if peak == 0 else plot * value / peak
        x = left + index * slot + slot * 0.18
        y = top + plot - bar_h
        label = " / ".join(lines)
        body.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.64:.1f}" height="{bar_h:.1f}" '
                    f'fill="{colour}"><title>{escape(label)}: {value}</title></rect>')
        cx = left + index * slot + slot / 2
        body.append(f'<text x="{cx:.1f}" y="{y - 5:.1f}" text-anchor="middle" {_FONT}>{value}</text>')
        for line_no, line in enumerate(lines):
            body.append(f'<text x="{cx:.1f}" y="{top + plot + 16 + 15 * line_no:.1f}" text-anchor="middle" '
                        f"{_FONT}>{escape(_clip(line, slot - 4))}</text>")
    body.append(f'<line x1="{left}" y1="{top + plot}" x2="{width - left}" y2="{top + plot}" stroke="#555"/>')
    if peak == 0:
        body.append(f'<text x="{width / 2:.0f}" y="{top + plot / 2:.0f}" text-anchor="middle" {_FONT} '
                    f'fill="#777">{escape(empty)}</text>')
    return _svg(width, height, title, body)


def _horizontal_bars(title: str, rows: Sequence[tuple[list[str], Sequence[_Segment]]], legend: Sequence[_Segment],
                     empty: str, *, normalise: bool = False) -> Markup:
    """One row per (label lines, segments): stacked bars, scaled to the largest row or each to 100 %.

    Values are printed inside segments wide enough to hold them, and each row's total after its bar.
    """
    width, label_w, gap, pad = 720, 260, 8, 10
    lines_per_row = max((len(lines) for lines, _ in rows), default=1)
    row_h = 20 if lines_per_row == 1 else 32
    legend_h = 26 if legend else 0
    height = pad * 2 + legend_h + max(len(rows), 1) * (row_h + gap)
    bar_w = width - label_w - 50
    peak = max((sum(s.value for s in segs) for _, segs in rows), default=0)
    body: list[str] = []
    x_legend = float(pad)
    for item in legend:
        body.append(f'<rect x="{x_legend:.1f}" y="{pad}" width="12" height="12" fill="{item.colour}" '
                    'stroke="#999" stroke-width="0.5"/>')
        text = _clip(item.label, 280)
        body.append(f'<text x="{x_legend + 16:.1f}" y="{pad + 10}" {_FONT}>{escape(text)}</text>')
        x_legend += 30 + _text_width(text)
    for index, (lines, segments) in enumerate(rows):
        y = pad + legend_h + index * (row_h + gap)
        total = sum(s.value for s in segments)
        scale_to = total if normalise else peak
        first_line = y + row_h / 2 + 4 - 7 * (len(lines) - 1)
        tooltip = escape(" / ".join(lines))
        for line_no, line in enumerate(lines):
            body.append(f'<text x="{label_w - 8}" y="{first_line + 14 * line_no:.0f}" text-anchor="end" {_FONT}>'
                        f"<title>{tooltip}</title>{escape(_clip(line, label_w - 12))}</text>")
        body.append(f'<rect x="{label_w}" y="{y}" width="{bar_w}" height="{row_h}" fill="#f5f5f5"/>')
        x = float(label_w)
        for segment in segments:
            if segment.value <= 0 or scale_to == 0:
                continue
            seg_w = bar_w * segment.value / scale_to
            body.append(f'<rect x="{x:.1f}" y="{y}" width="{seg_w:.1f}" height="{row_h}" fill="{segment.colour}">'
                        f"<title>{escape(segment.label)}: {segment.value}</title></rect>")
            if normalise and seg_w >= _text_width(str(segment.value)) + 6:
                body.append(f'<text x="{x + seg_w / 2:.1f}" y="{y + row_h / 2 + 4:.0f}" text-anchor="middle" '
                            f'{_FONT}>{segment.value}</text>')
            x += seg_w
        body.append(f'<text x="{label_w + bar_w + 6}" y="{y + row_h / 2 + 4:.0f}" {_FONT}>{total}</text>')
    if not rows:
        body.append(f'<text x="{width / 2:.0f}" y="{pad + legend_h + 14}" text-anchor="middle" {_FONT} '
                    f'fill="#777">{escape(empty)}</text>')
    return _svg(width, height, title, body)


def _class_lines(t: _Labeller, clause: str | None, zh: str, en: str) -> list[str]:
    lines = t.lines(zh, en)
    return [f"{clause} {lines[0]}", *lines[1:]] if clause else lines


def _charts(report: SystemReport, t: _Labeller) -> dict[str, Markup]:
    none = t("无数据", "no data")
    posture = report.posture
    levels = _vertical_bars(
        t("按等级统计的未关闭风险", "Open risks by level"),
        [(t.lines(c.name_zh, c.name_en), c.open, LEVEL_COLOURS[c.level]) for c in posture.by_level], none,
    )
    open_label, settled_label = t("未关闭", "open"), t("已关闭或已接受", "closed or accepted")
    classes = _horizontal_bars(
        t("按分类统计的风险", "Risks by taxonomy class"),
        [(_class_lines(t, c.clause, c.title_zh, c.title_en),
          [_Segment(c.open, _OPEN_COLOUR, open_label), _Segment(c.total - c.open, _SETTLED_COLOUR, settled_label)])
         for c in posture.by_class],
        [_Segment(0, _OPEN_COLOUR, open_label), _Segment(0, _SETTLED_COLOUR, settled_label)], none,
    )
    statuses = _horizontal_bars(
        t("按闭环状态统计的风险", "Risks by status in the loop"),
        [([t(s.name_zh, s.name_en)], [_Segment(s.count, _STATUS_COLOURS[s.status], t(s.name_zh, s.name_en))])
         for s in posture.by_status], [], none,
    )
    result_legend = [_Segment(0, _RESULT_COLOURS[r], t.names(RESULT_NAMES[r])) for r in ItemResult]
    catalogs = _horizontal_bars(
        t("各标准目录的评估结果", "Assessment results per catalog"),
        [(t.lines(a.catalog_name_zh, a.catalog_name_en),
          [_Segment(getattr(a.summary, r.value), _RESULT_COLOURS[r], t.names(RESULT_NAMES[r])) for r in ItemResult])
         for a in report.assessments],
        result_legend, t("尚无评估", "no assessment yet"), normalise=True,
    )
    return {"levels": levels, "classes": classes, "statuses": statuses, "catalogs": catalogs}


# -- template ------------------------------------------------------------------------------------------------


def _fmt_time(value: datetime | str | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
    else:
        moment = value
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _fmt_date(value: date | None) -> str:
    return "—" if value is None else value.isoformat()


def _fmt_pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def _fmt_num(value: Any) -> str:
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else f"{value:g}"
    return str(value)


def _fmt_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(", ", ": "), default=str)


@functools.cache
def _environment() -> Environment:
    from jinja2 import Environment, PackageLoader, StrictUndefined  # loaded on first render only

    env = Environment(
        loader=PackageLoader("anzhi.govern", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(time=_fmt_time, day=_fmt_date, pct=_fmt_pct, num=_fmt_num, compact_json=_fmt_json)
    return env


def render_report_html(report: SystemReport, *, lang: ReportLang = "both") -> str:
    """Render a report as one self-contained, printable HTML document.

    Args:
        report: what :func:`build_report` returned.
        lang: ``zh``, ``en`` or ``both`` (headings read "中文 / English").

    Returns:
        The HTML text (UTF-8 when written to a file).

    Raises:
        InputError: an unknown ``lang``.
    """
    if lang not in get_args(ReportLang):
        raise InputError(f"lang must be one of {', '.join(get_args(ReportLang))}; got {lang!r}")
    t = _Labeller(lang)
    shown_findings = {f.id for f in report.findings}
    shown_risks = {r.id for r in (*report.open_risks, *report.accepted_risks)}
    return _environment().get_template("report.html.j2").render(
        r=report,
        t=t,
        lang=lang,
        html_lang="en" if lang == "en" else "zh-CN",
        charts=_charts(report, t),
        shown_findings=shown_findings,
        shown_risks=shown_risks,
        status_names={s.value: t.names(n) for s, n in STATUS_NAMES.items()},
        treatment_names={k.value: t.names(n) for k, n in TREATMENT_NAMES.items()},
        result_names={k.value: t.names(n) for k, n in RESULT_NAMES.items()},
        severity_names={k.value: t.names(n) for k, n in SEVERITY_NAMES.items()},
        outcome_names={k: t.names(n) for k, n in _OUTCOME_NAMES.items()},
        confidence_names={k: t.names(n) for k, n in _CONFIDENCE_NAMES.items()},
        level_colours={k.value: v for k, v in LEVEL_COLOURS.items()},
        result_colours={k.value: v for k, v in _RESULT_COLOURS.items()},
        severities=[s.value for s in Severity],
    )
