"""Grading: likelihood × impact (1–5 each) → one of five levels.

The five level names 低 / 中 / 高 / 很高 / 极其严重 follow a third-party template of the TC260 framework 2.0
risk grading; the names and the framework's own grading table are **unconfirmed** (standards note §4.2). The
score bands below are anzhi's own choice and are documented as such.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from anzhi.findings import Confidence, Severity
from anzhi.store import RiskLevel

__all__ = ["LEVEL_NAMES", "LEVEL_NAME_STATUS", "LevelName", "grade", "level_rank", "suggest_likelihood_impact"]

#: How sure we are of the level names: carried into reports.
LEVEL_NAME_STATUS = "unconfirmed"


class LevelName(NamedTuple):
    """A level's display names."""

    zh: str
    en: str


LEVEL_NAMES: dict[RiskLevel, LevelName] = {
    RiskLevel.LOW: LevelName("低", "low"),
    RiskLevel.MEDIUM: LevelName("中", "medium"),
    RiskLevel.HIGH: LevelName("高", "high"),
    RiskLevel.VERY_HIGH: LevelName("很高", "very high"),
    RiskLevel.EXTREME: LevelName("极其严重", "extremely severe"),
}

# Upper bound of the score (likelihood × impact) for each level, in order.
_BANDS: tuple[tuple[int, RiskLevel], ...] = (
    (3, RiskLevel.LOW),
    (6, RiskLevel.MEDIUM),
    (12, RiskLevel.HIGH),
    (16, RiskLevel.VERY_HIGH),
    (25, RiskLevel.EXTREME),
)

_ORDER = {level: rank for rank, (_, level) in enumerate(_BANDS, start=1)}


def level_rank(level: RiskLevel) -> int:
    """1 for low up to 5 for extremely severe."""
    return _ORDER[level]


def grade(likelihood: int, impact: int) -> RiskLevel:
    """The level for a likelihood and an impact, each 1 (rare / negligible) to 5 (almost certain / severe).

    Raises:
        ValueError: a value outside 1..5.
    """
    for name, value in (("likelihood", likelihood), ("impact", impact)):
        if not isinstance(value, int) or not 1 <= value <= 5:
            raise ValueError(f"{name} must be an integer from 1 to 5, got {value!r}")
    score = likelihood * impact
    for upper, level in _BANDS:
        if score <= upper:
            return level
    raise AssertionError("unreachable: score is at most 25")  # pragma: no cover


_IMPACT_BY_SEVERITY = {
    Severity.CRITICAL: 5,
    Severity.HIGH: 4,
    Severity.MEDIUM: 3,
    Severity.LOW: 2,
    Severity.INFO: 1,
}
_LIKELIHOOD_BY_CONFIDENCE = {Confidence.HIGH: 4, Confidence.MEDIUM: 3, Confidence.LOW: 2}


def suggest_likelihood_impact(findings: Iterable[tuple[Severity, Confidence, int]]) -> tuple[int, int]:
    """A provisional (likelihood, impact) from findings' (severity, confidence, occurrences).

    Impact follows the worst severity; likelihood the best confidence, one step higher when the problem was
    seen ten times or more. An assessor confirms or changes both when assessing the risk.
    """
    impact, likelihood, occurrences = 1, 1, 0
    for severity, confidence, count in findings:
        impact = max(impact, _IMPACT_BY_SEVERITY[severity])
        likelihood = max(likelihood, _LIKELIHOOD_BY_CONFIDENCE[confidence])
        occurrences += count
    if occurrences >= 10:
        likelihood = min(5, likelihood + 1)
    return likelihood, impact
