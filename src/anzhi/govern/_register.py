"""Reading the risk register: filtered, paged lists of risks and findings, counts, and a risk's history."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from anzhi.store import Asset, CheckRun, FindingRecord, FindingStatus, Risk, RiskEvent, RiskLevel, RiskStatus, System

__all__ = [
    "Page",
    "RiskFilter",
    "SystemCounts",
    "count_findings",
    "list_check_runs",
    "list_findings",
    "list_risks",
    "risk_history",
    "system_counts",
]

T = TypeVar("T")
MAX_PAGE = 500

_DONE_STATUSES = (RiskStatus.CLOSED, RiskStatus.ACCEPTED)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of results and the total that matched."""

    items: list[T]
    total: int
    limit: int
    offset: int


@dataclass(frozen=True)
class RiskFilter:
    """What to list: every field optional."""

    system_id: int | None = None
    status: RiskStatus | None = None
    level: RiskLevel | None = None
    taxonomy_prefix: str | None = None
    open_only: bool = False


@dataclass(frozen=True)
class SystemCounts:
    """One system's number of assets, and its risks counted by level and status (only non-zero counts)."""

    assets: int = 0
    risks: Mapping[tuple[RiskLevel, RiskStatus], int] = field(default_factory=dict)

    @property
    def open_risks(self) -> int:
        """Risks not closed or accepted."""
        return sum(n for (_, status), n in self.risks.items() if status not in _DONE_STATUSES)


def where_given(statement: Select[T], equals: Mapping[Any, object]) -> Select[T]:
    """Add ``column == value`` for every value that is not None (the optional filters of a list)."""
    for column, value in equals.items():
        if value is not None:
            statement = statement.where(column == value)
    return statement


def paginate(session: Session, statement: Select[T], limit: int, offset: int, *, max_limit: int = MAX_PAGE) -> Page[T]:
    """One page of ``statement`` (limit clamped to 1..max_limit) and the total it matches."""
    limit = max(1, min(limit, max_limit))
    offset = max(0, offset)
    total = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery())) or 0
    items = list(session.execute(statement.limit(limit).offset(offset)).scalars())
    return Page(items=items, total=total, limit=limit, offset=offset)


def list_risks(session: Session, where: RiskFilter, *, limit: int = 100, offset: int = 0) -> Page[Risk]:
    """Risks matching the filter, worst level first then newest."""
    statement = where_given(
        select(Risk), {Risk.system_id: where.system_id, Risk.status: where.status, Risk.level: where.level}
    )
    if where.taxonomy_prefix:
        statement = statement.where(Risk.taxonomy_id.startswith(where.taxonomy_prefix, autoescape=True))
    if where.open_only:
        statement = statement.where(Risk.status.not_in([RiskStatus.CLOSED, RiskStatus.ACCEPTED]))
    return paginate(session, statement.order_by(Risk.id.desc()), limit, offset)


def _findings(
    system_id: int | None, risk_id: int | None, status: FindingStatus | None, check_id: str | None
) -> Select[FindingRecord]:
    return where_given(
        select(FindingRecord),
        {
            FindingRecord.system_id: system_id,
            FindingRecord.risk_id: risk_id,
            FindingRecord.status: status,
            FindingRecord.check_id: check_id,
        },
    )


def list_findings(
    session: Session,
    *,
    system_id: int | None = None,
    risk_id: int | None = None,
    status: FindingStatus | None = None,
    check_id: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Page[FindingRecord]:
    """Findings, newest last-seen first."""
    statement = _findings(system_id, risk_id, status, check_id)
    return paginate(session, statement.order_by(FindingRecord.id.desc()), limit, offset)


def count_findings(
    session: Session,
    *,
    system_id: int | None = None,
    risk_id: int | None = None,
    status: FindingStatus | None = None,
    check_id: str | None = None,
) -> int:
    """How many findings :func:`list_findings` would list with the same filters."""
    statement = _findings(system_id, risk_id, status, check_id)
    return session.scalar(select(func.count()).select_from(statement.subquery())) or 0


def list_check_runs(
    session: Session, *, system_id: int | None = None, check_id: str | None = None, limit: int = 100, offset: int = 0
) -> Page[CheckRun]:
    """Check runs, newest first."""
    statement = where_given(select(CheckRun), {CheckRun.system_id: system_id, CheckRun.check_id: check_id})
    return paginate(session, statement.order_by(CheckRun.id.desc()), limit, offset)


def risk_history(session: Session, risk_id: int) -> list[RiskEvent]:
    """A risk's events, oldest first."""
    return list(session.execute(select(RiskEvent).where(RiskEvent.risk_id == risk_id).order_by(RiskEvent.id)).scalars())


def system_counts(session: Session, system_id: int | None = None) -> dict[int, SystemCounts]:
    """Assets and risks (by level and status) of every system, or of one; keyed by system id.

    Every registered system is a key, those with nothing counted included; an unknown ``system_id`` gives ``{}``.
    """
    systems = select(System.id)
    assets = select(Asset.system_id, func.count()).group_by(Asset.system_id)
    risks = select(Risk.system_id, Risk.level, Risk.status, func.count()).group_by(
        Risk.system_id, Risk.level, Risk.status
    )
    if system_id is not None:
        systems = systems.where(System.id == system_id)
        assets = assets.where(Asset.system_id == system_id)
        risks = risks.where(Risk.system_id == system_id)
    asset_counts = dict(session.execute(assets).all())
    risk_counts: dict[int, dict[tuple[RiskLevel, RiskStatus], int]] = {}
    for sid, level, status, n in session.execute(risks):
        risk_counts.setdefault(sid, {})[(level, status)] = n
    return {
        sid: SystemCounts(assets=asset_counts.get(sid, 0), risks=risk_counts.get(sid, {}))
        for sid in session.scalars(systems)
    }
