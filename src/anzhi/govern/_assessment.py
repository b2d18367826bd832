"""Compliance assessment: one system against one catalog, item by item.

An item whose requirement is bound to checks is decided by the latest run of those checks on the system: by the
requirement's threshold over the run's metrics where there is one, otherwise by whether the run left findings
open for the requirement's risks. Every other item is decided by attestation (who, when, why). An attested
"not applicable" always stands; otherwise check evidence, once it exists, wins over an attestation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from anzhi.errors import InputError, NotFoundError
from anzhi.govern._audit import record_audit
from anzhi.govern._inventory import get_system
from anzhi.store import Assessment, AssessmentItem, CheckRun, FindingRecord, FindingStatus, ItemResult, utcnow
from anzhi.taxonomy import Requirement, Taxonomy, ThresholdResult

__all__ = [
    "AssessmentSummary",
    "attest_item",
    "create_assessment",
    "get_assessment",
    "list_assessments",
    "refresh_assessment",
    "summarize_assessment",
]

_MAX_EVIDENCE_FINDINGS = 20


@dataclass(frozen=True)
class AssessmentSummary:
    """Counts of an assessment's items by result, and how complete it is."""

    total: int
    meets: int
    does_not_meet: int
    not_applicable: int
    pending: int

    @property
    def completion(self) -> float:
        """Share of items decided (anything but pending), 0..1."""
        return 0.0 if self.total == 0 else (self.total - self.pending) / self.total

    @property
    def compliance(self) -> float:
        """Share of applicable decided items that meet, 0..1."""
        applicable = self.meets + self.does_not_meet
        return 0.0 if applicable == 0 else self.meets / applicable

    def as_dict(self) -> dict[str, Any]:
        """Plain dict with the derived ratios."""
        return {
            "total": self.total,
            "meets": self.meets,
            "does_not_meet": self.does_not_meet,
            "not_applicable": self.not_applicable,
            "pending": self.pending,
            "completion": round(self.completion, 4),
            "compliance": round(self.compliance, 4),
        }


def get_assessment(session: Session, assessment_id: int) -> Assessment:
    """An assessment by id, or :class:`NotFoundError`."""
    assessment = session.get(Assessment, assessment_id)
    if assessment is None:
        raise NotFoundError("assessment", assessment_id)
    return assessment


def list_assessments(session: Session, system_id: int | None = None) -> list[Assessment]:
    """Assessments, newest first, optionally of one system."""
    statement = select(Assessment).order_by(Assessment.id.desc())
    if system_id is not None:
        statement = statement.where(Assessment.system_id == system_id)
    return list(session.execute(statement).scalars())


def summarize_assessment(assessment: Assessment) -> AssessmentSummary:
    """Counts by result."""
    counts = dict.fromkeys(ItemResult, 0)
    for item in assessment.items:
        counts[item.result] += 1
    return AssessmentSummary(
        total=len(assessment.items),
        meets=counts[ItemResult.MEETS],
        does_not_meet=counts[ItemResult.DOES_NOT_MEET],
        not_applicable=counts[ItemResult.NOT_APPLICABLE],
        pending=counts[ItemResult.PENDING],
    )


def create_assessment(
    session: Session, system_id: int, catalog_id: str, *, taxonomy: Taxonomy, actor: str, title: str = ""
) -> Assessment:
    """Start an assessment with one item per requirement of the catalog, and fill what checks can decide."""
    system = get_system(session, system_id)
    catalog = taxonomy.catalog(catalog_id)
    assessment = Assessment(
        system_id=system.id, catalog_id=catalog.id, created_by=actor, title=title or f"{system.name} × {catalog.id}"
    )
    assessment.items = [AssessmentItem(requirement_id=req.id) for req in catalog.requirements.values()]
    session.add(assessment)
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="assessment.created",
        entity_type="assessment",
        entity_id=assessment.id,
        data={"system_id": system.id, "catalog_id": catalog.id, "items": len(assessment.items)},
    )
    refresh_assessment(session, assessment.id, taxonomy=taxonomy, actor=actor)
    return assessment


def _latest_runs(session: Session, system_id: int, check_ids: set[str]) -> dict[str, CheckRun]:
    latest: dict[str, CheckRun] = {}
    if not check_ids:
        return latest
    runs = session.execute(
        select(CheckRun)
        .where(CheckRun.system_id == system_id, CheckRun.check_id.in_(check_ids), CheckRun.status == "completed")
        .order_by(CheckRun.started_at, CheckRun.id)
    ).scalars()
    for run in runs:
        latest[run.check_id] = run
    return latest


def _decide_by_checks(
    session: Session, system_id: int, requirement: Requirement, runs: dict[str, CheckRun]
) -> tuple[ItemResult, dict[str, Any]] | None:
    bound = [runs[c] for c in requirement.checks if c in runs]
    if not bound:
        return None
    threshold = requirement.threshold
    if threshold is not None:
        for run in bound:
            outcome = threshold.evaluate(run.metrics)
            if outcome.result is ThresholdResult.METRIC_MISSING:
                continue
            result = ItemResult.MEETS if outcome.met else ItemResult.DOES_NOT_MEET
            return result, {
                "check_id": run.check_id,
                "run_id": run.id,
                "run_started_at": run.started_at.isoformat(),
                "threshold": threshold.model_dump(mode="json"),
                "outcome": outcome.result.value,
                "metrics": {
                    k: run.metrics[k] for k in (threshold.metric, threshold.sample_metric) if k and k in run.metrics
                },
                "reason_zh": outcome.reason_zh,
                "reason_en": outcome.reason_en,
            }
    risk_ids = set(requirement.risks)
    open_ids: list[int] = []
    for run in bound:
        statement = select(FindingRecord.id, FindingRecord.taxonomy_ids).where(
            FindingRecord.system_id == system_id,
            FindingRecord.check_id == run.check_id,
            FindingRecord.status == FindingStatus.OPEN,
        )
        for finding_id, taxonomy_ids in session.execute(statement):
            if not risk_ids or risk_ids.intersection(taxonomy_ids):
                open_ids.append(finding_id)
    evidence: dict[str, Any] = {
        "checks": [{"check_id": r.check_id, "run_id": r.id, "run_started_at": r.started_at.isoformat()} for r in bound],
        "open_findings": len(open_ids),
        "finding_ids": open_ids[:_MAX_EVIDENCE_FINDINGS],
    }
    if open_ids:
        evidence["reason_zh"] = f"最近一次检查仍有 {len(open_ids)} 个未解决的发现"
        evidence["reason_en"] = f"the latest check run left {len(open_ids)} finding(s) open"
        return ItemResult.DOES_NOT_MEET, evidence
    if threshold is not None:
        # The checks ran but none reported the metric the threshold judges: no evidence either way yet.
        evidence["outcome"] = "metric_missing"
        evidence["reason_zh"] = f"检查已运行，但未报告阈值所需的指标 {threshold.metric}"
        evidence["reason_en"] = f"the checks ran but reported no {threshold.metric!r}, which the threshold judges"
        return ItemResult.PENDING, evidence
    evidence["reason_zh"] = "最近一次检查未发现相关问题"
    evidence["reason_en"] = "the latest check run found no open problem for this requirement"
    return ItemResult.MEETS, evidence


def refresh_assessment(session: Session, assessment_id: int, *, taxonomy: Taxonomy, actor: str) -> Assessment:
    """Re-decide every check-bound item from the newest evidence; attested items keep their attestation."""
    assessment = get_assessment(session, assessment_id)
    catalog = taxonomy.catalog(assessment.catalog_id)
    requirements = dict(catalog.requirements)
    all_checks = {check for req in catalog.requirements.values() for check in req.checks}
    runs = _latest_runs(session, assessment.system_id, all_checks)
    changed = 0
    now = utcnow()
    for item in assessment.items:
        requirement = requirements.get(item.requirement_id)
        if requirement is None:
            continue  # the catalog dropped it; the stored item stays as history
        if item.source == "attestation" and item.result is ItemResult.NOT_APPLICABLE:
            continue
        decided = _decide_by_checks(session, assessment.system_id, requirement, runs)
        if decided is None:
            continue
        result, evidence = decided
        if result is ItemResult.PENDING and item.source == "attestation":
            continue  # missing evidence does not undo a person's judgement
        if item.result is not result or item.source != "check" or item.evidence != evidence:
            item.result, item.source, item.evidence, item.updated_at = result, "check", evidence, now
            changed += 1
    assessment.refreshed_at = now
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="assessment.refreshed",
        entity_type="assessment",
        entity_id=assessment.id,
        data={"changed_items": changed, "checks_with_runs": sorted(runs)},
    )
    return assessment


def attest_item(
    session: Session, assessment_id: int, requirement_id: str, result: ItemResult, *, note: str, actor: str
) -> AssessmentItem:
    """Record a person's judgement on one item (who, when, why). A note is required."""
    if result is ItemResult.PENDING:
        raise InputError("an attestation must decide: meets, does_not_meet or not_applicable")
    if not note.strip():
        raise InputError("an attestation needs a note saying what the judgement rests on")
    assessment = get_assessment(session, assessment_id)
    item = next((i for i in assessment.items if i.requirement_id == requirement_id), None)
    if item is None:
        raise NotFoundError("assessment item", f"{assessment.catalog_id}:{requirement_id}")
    previous = item.result
    now = utcnow()
    item.result, item.source, item.note = result, "attestation", note.strip()
    item.attested_by, item.attested_at, item.updated_at = actor, now, now
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="assessment.attested",
        entity_type="assessment_item",
        entity_id=item.id,
        data={
            "assessment_id": assessment.id,
            "requirement_id": requirement_id,
            "from": previous.value,
            "to": result.value,
            "note": item.note,
        },
    )
    return item
