"""Building the per-system report from the store in one read.

``build_report`` collects a system's profile, risk posture, open and accepted risks, recent risk events, the latest
run of every check, the newest assessment per catalog (items, evidence, attestations), open findings and, when
given, the audit-chain verification. ``report.model_dump(mode="json")`` is the JSON form; for the same database
state and ``generated_at`` it is identical (everything is ordered by stable keys, and "today" for overdue
treatments is the UTC date of ``generated_at``).

Nothing here copies more than the store holds: finding evidence is masked upstream and passed through unchanged.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, selectinload

from anzhi.errors import InputError, UnknownIdError
from anzhi.findings import Severity
from anzhi.govern._assessment import list_assessments, summarize_assessment
from anzhi.govern._audit import AuditVerification
from anzhi.govern._grading import LEVEL_NAME_STATUS, LEVEL_NAMES, level_rank
from anzhi.govern._inventory import get_system
from anzhi.govern._report import (
    SEVERITY_NAMES,
    STATUS_NAMES,
    AssessmentCounts,
    Attestation,
    AuditProblemEntry,
    AuditStatus,
    ClassCount,
    EvidenceRun,
    ItemEvidence,
    LevelCount,
    ReportAssessment,
    ReportAssessmentItem,
    ReportAsset,
    ReportCheckRun,
    ReportControl,
    ReportFinding,
    ReportRisk,
    ReportRiskEvent,
    ReportSystem,
    RiskPosture,
    SeverityCount,
    SourceNote,
    StatusCount,
    SystemReport,
)
from anzhi.store import (
    Assessment,
    AssessmentItem,
    CheckRun,
    FindingRecord,
    FindingStatus,
    Risk,
    RiskEvent,
    RiskLevel,
    RiskStatus,
    utcnow,
)
from anzhi.taxonomy import Requirement, SourceStatus, Taxonomy, Threshold

__all__ = ["build_report"]

_LEVELS: tuple[RiskLevel, ...] = tuple(sorted(RiskLevel, key=level_rank))
_CLOSED_STATES = (RiskStatus.CLOSED, RiskStatus.ACCEPTED)
_SEVERITIES: tuple[Severity, ...] = tuple(sorted(Severity, key=lambda s: s.rank, reverse=True))
_MAX_AUDIT_PROBLEMS = 50


class _TaxonomyView:
    """Lookups on the taxonomy that never fail: ids missing from it fall back to what the store holds."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        self.taxonomy = taxonomy

    def risk_titles(self, taxonomy_id: str, stored_title: str) -> tuple[str, str, SourceStatus | None]:
        if self.taxonomy.has_risk(taxonomy_id):
            item = self.taxonomy.risk(taxonomy_id)
            return item.title_zh, item.title_en, item.status
        return stored_title, stored_title, None

    def risk_class(self, taxonomy_id: str) -> ClassCount:
        tax = self.taxonomy
        if tax.has_risk(taxonomy_id):
            item = tax.risk(taxonomy_id)
            ancestors = tax.ancestors(taxonomy_id)
            top = ancestors[-1] if ancestors else (item if tax.children(taxonomy_id) else None)
            if top is not None:
                return ClassCount(class_id=top.id, taxonomy=top.taxonomy, clause=top.clause, title_zh=top.title_zh,
                                  title_en=top.title_en, total=0, open=0)
            prefix = item.taxonomy
        else:
            prefix = taxonomy_id.split(".", 1)[0]
        info = tax.taxonomies.get(prefix)
        name_zh, name_en = (info.name_zh, info.name_en) if info is not None else (prefix, prefix)
        return ClassCount(class_id=prefix, taxonomy=prefix, clause=None, title_zh=name_zh, title_en=name_en,
                          total=0, open=0)

    def requirement(self, catalog_id: str, requirement_id: str) -> Requirement | None:
        try:
            return self.taxonomy.catalog(catalog_id).requirements.get(requirement_id)
        except UnknownIdError:
            return None


def _aware_utc(moment: datetime | None) -> datetime:
    if moment is None:
        return utcnow()
    if moment.tzinfo is None:
        raise InputError("generated_at must be timezone-aware (UTC); got a naive datetime")
    return moment.astimezone(UTC)


def _is_open(risk: Risk) -> bool:
    return risk.status not in _CLOSED_STATES


def _report_risk(risk: Risk, view: _TaxonomyView, today: date) -> ReportRisk:
    title_zh, title_en, status = view.risk_titles(risk.taxonomy_id, risk.title)
    names = LEVEL_NAMES[risk.level]
    overdue = _is_open(risk) and risk.due_date is not None and risk.due_date < today
    return ReportRisk(
        id=risk.id, taxonomy_id=risk.taxonomy_id, taxonomy_title_zh=title_zh, taxonomy_title_en=title_en,
        taxonomy_status=status, class_id=view.risk_class(risk.taxonomy_id).class_id, title=risk.title,
        level=risk.level, level_zh=names.zh, level_en=names.en, graded=risk.graded, likelihood=risk.likelihood,
        impact=risk.impact, status=risk.status, owner=risk.owner, due_date=risk.due_date, overdue=overdue,
        open_findings=risk.open_findings, reopen_count=risk.reopen_count, treatment=risk.treatment,
        treatment_plan=risk.treatment_plan, accepted_until=risk.accepted_until,
        controls=[ReportControl(id=c.id, key=c.key, title=c.title, catalog_ref=c.catalog_ref) for c in risk.controls],
        updated_at=risk.updated_at,
    )


def _posture(risks: list[Risk], view: _TaxonomyView, today: date) -> RiskPosture:
    level_total = Counter(r.level for r in risks)
    level_open = Counter(r.level for r in risks if _is_open(r))
    by_status = Counter(r.status for r in risks)
    classes: dict[str, ClassCount] = {}
    class_total: Counter[str] = Counter()
    class_open: Counter[str] = Counter()
    for risk in risks:
        cls = view.risk_class(risk.taxonomy_id)
        classes.setdefault(cls.class_id, cls)
        class_total[cls.class_id] += 1
        class_open[cls.class_id] += int(_is_open(risk))
    return RiskPosture(
        as_of=today, total=len(risks), open=sum(level_open.values()), closed=by_status[RiskStatus.CLOSED],
        accepted=by_status[RiskStatus.ACCEPTED], ungraded_open=sum(1 for r in risks if _is_open(r) and not r.graded),
        by_level=[
            LevelCount(level=level, rank=level_rank(level), name_zh=LEVEL_NAMES[level].zh,
                       name_en=LEVEL_NAMES[level].en, total=level_total[level], open=level_open[level])
            for level in _LEVELS
        ],
        by_status=[StatusCount(status=s, name_zh=STATUS_NAMES[s].zh, name_en=STATUS_NAMES[s].en, count=by_status[s])
                   for s in RiskStatus],
        by_class=[cls.model_copy(update={"total": class_total[cid], "open": class_open[cid]})
                  for cid, cls in sorted(classes.items())],
        overdue_risk_ids=[r.id for r in risks if _is_open(r) and r.due_date is not None and r.due_date < today],
        reopened_risk_ids=[r.id for r in risks if r.reopen_count > 0],
        level_names_status=LEVEL_NAME_STATUS,
    )


def _latest_check_runs(session: Session, system_id: int) -> list[ReportCheckRun]:
    ranked = (
        select(
            CheckRun.id.label("run_id"),
            func.row_number().over(partition_by=CheckRun.check_id,
                                   order_by=(CheckRun.started_at.desc(), CheckRun.id.desc())).label("position"),
            func.count().over(partition_by=CheckRun.check_id).label("runs_total"),
        )
        .where(CheckRun.system_id == system_id)
        .subquery()
    )
    rows = session.execute(
        select(CheckRun, ranked.c.runs_total).join(ranked, ranked.c.run_id == CheckRun.id)
        .where(ranked.c.position == 1).order_by(CheckRun.check_id)
    ).all()
    return [
        ReportCheckRun(
            id=run.id, check_id=run.check_id, started_at=run.started_at, finished_at=run.finished_at,
            status=run.status, tool=run.tool, tool_version=run.tool_version, scope=run.scope,
            metrics=dict(sorted(run.metrics.items())), finding_count=run.finding_count, new_count=run.new_count,
            resolved_count=run.resolved_count, runs_total=int(total),
        )
        for run, total in rows
    ]


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _evidence(raw: dict[str, Any]) -> ItemEvidence | None:
    """Normalise the two evidence shapes the assessment stores (threshold over metrics / open findings)."""
    if not raw:
        return None
    listed = raw.get("checks")
    run_dicts: list[Any] = listed if isinstance(listed, list) else [raw] if "check_id" in raw else []
    runs = [
        EvidenceRun(check_id=str(entry.get("check_id", "")), run_id=_int_or_none(entry.get("run_id")),
                    run_started_at=_str_or_none(entry.get("run_started_at")))
        for entry in run_dicts if isinstance(entry, dict)
    ]
    threshold_zh = threshold_en = None
    if isinstance(raw.get("threshold"), dict):
        try:
            threshold = Threshold.model_validate(raw["threshold"])
        except ValidationError:
            pass  # evidence from an older threshold shape: show the item without its threshold line
        else:
            threshold_zh, threshold_en = threshold.summary_zh, threshold.summary_en
    metrics = raw.get("metrics")
    ids = raw.get("finding_ids")
    return ItemEvidence(
        runs=runs, outcome=_str_or_none(raw.get("outcome")), threshold_zh=threshold_zh, threshold_en=threshold_en,
        metrics=dict(sorted(metrics.items())) if isinstance(metrics, dict) else {},
        reason_zh=_str_or_none(raw.get("reason_zh")), reason_en=_str_or_none(raw.get("reason_en")),
        open_findings=_int_or_none(raw.get("open_findings")),
        finding_ids=[i for i in ids if _int_or_none(i) is not None] if isinstance(ids, list) else [],
    )


def _report_item(item: AssessmentItem, catalog_id: str, view: _TaxonomyView) -> ReportAssessmentItem:
    requirement = view.requirement(catalog_id, item.requirement_id)
    attestation = None
    if item.attested_by is not None:
        attestation = Attestation(by=item.attested_by, at=item.attested_at, note=item.note)
    return ReportAssessmentItem(
        requirement_id=item.requirement_id,
        title_zh=requirement.title_zh if requirement else item.requirement_id,
        title_en=requirement.title_en if requirement else item.requirement_id,
        clause=requirement.clause if requirement else None,
        kind=requirement.kind.value if requirement else None,
        requirement_status=requirement.status if requirement else None,
        threshold_status=requirement.threshold.status if requirement and requirement.threshold else None,
        result=item.result, source=item.source,
        evidence=_evidence(item.evidence) if item.source == "check" else None,
        attestation=attestation, updated_at=item.updated_at,
    )


def _assessments(session: Session, system_id: int, view: _TaxonomyView) -> list[ReportAssessment]:
    newest: dict[str, Assessment] = {}
    older: Counter[str] = Counter()
    for assessment in list_assessments(session, system_id):  # newest first
        if assessment.catalog_id in newest:
            older[assessment.catalog_id] += 1
        else:
            newest[assessment.catalog_id] = assessment
    out: list[ReportAssessment] = []
    for catalog_id, assessment in sorted(newest.items()):
        try:
            catalog = view.taxonomy.catalog(catalog_id)
            name_zh, name_en, status = catalog.name_zh, catalog.name_en, catalog.status
        except UnknownIdError:
            name_zh, name_en, status = catalog_id, catalog_id, None
        summary = summarize_assessment(assessment).as_dict()
        out.append(ReportAssessment(
            id=assessment.id, catalog_id=catalog_id, catalog_name_zh=name_zh, catalog_name_en=name_en,
            catalog_status=status, title=assessment.title, created_by=assessment.created_by,
            created_at=assessment.created_at, refreshed_at=assessment.refreshed_at, older_assessments=older[catalog_id],
            summary=AssessmentCounts.model_validate(summary),
            items=[_report_item(item, catalog_id, view) for item in assessment.items],
        ))
    return out


def _findings(session: Session, system_id: int, limit: int) -> tuple[list[SeverityCount], int, list[ReportFinding]]:
    is_open = (FindingRecord.system_id == system_id, FindingRecord.status == FindingStatus.OPEN)
    counts: dict[str, int] = dict(session.execute(
        select(FindingRecord.severity, func.count()).where(*is_open).group_by(FindingRecord.severity)
    ).all())
    rank = case({s.value: s.rank for s in Severity}, value=FindingRecord.severity, else_=0)
    rows = session.execute(
        select(FindingRecord).where(*is_open).order_by(rank.desc(), FindingRecord.id).limit(limit)
    ).scalars()
    findings = [
        ReportFinding(
            id=f.id, risk_id=f.risk_id, check_id=f.check_id, rule_id=f.rule_id, taxonomy_id=f.taxonomy_id,
            severity=f.severity, confidence=f.confidence, title=f.title, location=dict(f.location),
            evidence=dict(f.evidence), count=f.count, first_seen_at=f.first_seen_at, last_seen_at=f.last_seen_at,
        )
        for f in rows
    ]
    by_severity = [SeverityCount(severity=s, name_zh=SEVERITY_NAMES[s].zh, name_en=SEVERITY_NAMES[s].en,
                                 count=counts.get(s.value, 0)) for s in _SEVERITIES]
    return by_severity, sum(counts.values()), findings


def _recent_events(session: Session, system_id: int, limit: int) -> tuple[int, list[ReportRiskEvent]]:
    where = (Risk.system_id == system_id,)
    total = session.scalar(select(func.count()).select_from(RiskEvent).join(Risk, Risk.id == RiskEvent.risk_id)
                           .where(*where)) or 0
    rows = session.execute(
        select(RiskEvent, Risk.taxonomy_id).join(Risk, Risk.id == RiskEvent.risk_id).where(*where)
        .order_by(RiskEvent.at.desc(), RiskEvent.id.desc()).limit(limit)
    ).all()
    return total, [
        ReportRiskEvent(id=e.id, risk_id=e.risk_id, taxonomy_id=taxonomy_id, at=e.at, actor=e.actor, kind=e.kind,
                        from_status=e.from_status, to_status=e.to_status, note=e.note)
        for e, taxonomy_id in rows
    ]


def _audit_status(audit: AuditVerification | None) -> AuditStatus | None:
    if audit is None:
        return None
    return AuditStatus(
        ok=audit.ok, checked=audit.checked, problems_total=len(audit.problems),
        problems=[AuditProblemEntry(seq=p.seq, kind=p.kind, message=p.message)
                  for p in audit.problems[:_MAX_AUDIT_PROBLEMS]],
    )


def _source_notes(risks: list[ReportRisk], assessments: list[ReportAssessment],
                  view: _TaxonomyView) -> list[SourceNote]:
    notes = [SourceNote(
        subject="risk level names", status=LEVEL_NAME_STATUS,
        note_zh="五级风险等级名称（低 / 中 / 高 / 很高 / 极其严重）取自 TC260《人工智能安全治理框架》2.0 的第三方模板，"
                "未找到原始出处；分级分值区间为 anzhi 自定。",
        note_en="The five level names (low / medium / high / very high / extremely severe) follow a third-party "
                "template of the TC260 AI Safety Governance Framework 2.0; no primary source was found. The score "
                "bands are anzhi's own choice.",
    )]
    unsure = (SourceStatus.UNCONFIRMED, SourceStatus.SECONDARY)
    taxonomies = sorted({r.taxonomy_id.split(".", 1)[0] for r in risks})
    for tid in taxonomies:
        info = view.taxonomy.taxonomies.get(tid)
        if info is not None and info.status in unsure:
            notes.append(SourceNote(subject=f"taxonomy {tid}", status=info.status.value,
                                    note_zh=f"风险分类「{info.name_zh}」的来源状态为 {info.status.value}。",
                                    note_en=f"The risk taxonomy '{info.name_en}' is {info.status.value}."))
    for assessment in assessments:
        if assessment.catalog_status in unsure:
            status = assessment.catalog_status.value if assessment.catalog_status else ""
            notes.append(SourceNote(
                subject=f"catalog {assessment.catalog_id}", status=status,
                note_zh=f"标准目录「{assessment.catalog_name_zh}」的来源状态为 {status}。",
                note_en=f"The catalog '{assessment.catalog_name_en}' is {status}."))
        for status_value in unsure:
            reqs = sum(1 for i in assessment.items if i.requirement_status is status_value)
            thresholds = sum(1 for i in assessment.items if i.threshold_status is status_value)
            if reqs or thresholds:
                notes.append(SourceNote(
                    subject=f"catalog {assessment.catalog_id} requirements", status=status_value.value,
                    note_zh=f"「{assessment.catalog_name_zh}」中有 {reqs} 条要求、{thresholds} 个阈值的来源状态为 "
                            f"{status_value.value}（表中以 † 标出）。",
                    note_en=f"In '{assessment.catalog_name_en}', {reqs} requirement(s) and {thresholds} "
                            f"threshold(s) are {status_value.value} (marked † in the tables)."))
    return notes


def build_report(session: Session, system_id: int, *, taxonomy: Taxonomy, generated_at: datetime | None = None,
                 audit: AuditVerification | None = None, max_findings: int = 500,
                 max_events: int = 50) -> SystemReport:
    """Collect the governance report of one system from the store.

    Args:
        session: an open session (read-only use; nothing is written).
        system_id: the system to report on.
        taxonomy: the loaded taxonomy, for risk and requirement titles and source statuses.
        generated_at: the report's timestamp (aware; converted to UTC). Defaults to now. Its UTC date is "today"
            for overdue treatments, so a fixed value gives a reproducible report.
        audit: the result of :func:`verify_audit_chain`, to include the audit-chain status.
        max_findings: the most open findings to list (worst severity first); counts always cover all.
        max_events: the most recent risk events to list.

    Returns:
        The report; ``model_dump(mode="json")`` is its JSON form.

    Raises:
        NotFoundError: no such system.
        InputError: a naive ``generated_at`` or a negative limit.
    """
    if max_findings < 0 or max_events < 0:
        raise InputError("max_findings and max_events must be zero or more")
    moment = _aware_utc(generated_at)
    today = moment.date()
    view = _TaxonomyView(taxonomy)
    system = get_system(session, system_id)
    risks = list(session.execute(
        select(Risk).where(Risk.system_id == system.id).options(selectinload(Risk.controls)).order_by(Risk.id)
    ).scalars())
    report_risks = [_report_risk(r, view, today) for r in risks]
    worst_first = sorted(report_risks, key=lambda r: (-level_rank(r.level), r.id))
    assessments = _assessments(session, system.id, view)
    by_severity, open_total, findings = _findings(session, system.id, max_findings)
    events_total, events = _recent_events(session, system.id, max_events)
    return SystemReport(
        generated_at=moment,
        system=ReportSystem(
            id=system.id, name=system.name, owner=system.owner, sector=system.sector, scenario=system.scenario,
            intelligence_level=system.intelligence_level, deployment_mode=system.deployment_mode,
            lifecycle_stage=system.lifecycle_stage, description=system.description, created_at=system.created_at,
            updated_at=system.updated_at,
            assets=[ReportAsset(kind=a.kind, name=a.name, uri=a.uri, sha256=a.sha256)
                    for a in sorted(system.assets, key=lambda a: a.id)],
        ),
        posture=_posture(risks, view, today),
        open_risks=[r for r in worst_first if r.status not in _CLOSED_STATES],
        accepted_risks=[r for r in worst_first if r.status is RiskStatus.ACCEPTED],
        recent_events=events, events_total=events_total,
        check_runs=_latest_check_runs(session, system.id),
        assessments=assessments,
        findings_by_severity=by_severity, open_findings_total=open_total, findings=findings,
        audit=_audit_status(audit),
        sources=_source_notes(report_risks, assessments, view),
    )
