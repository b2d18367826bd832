"""Ingesting a check run: findings de-duplicated by fingerprint, mapped to risks, recurrence and verification.

One batch is one transaction: either all of it lands or nothing does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from anzhi.errors import InputError
from anzhi.findings import Confidence, Finding, FindingBatch, Severity
from anzhi.govern._audit import record_audit
from anzhi.govern._grading import grade, suggest_likelihood_impact
from anzhi.govern._inventory import get_system
from anzhi.govern._loop import (
    expire_acceptances,
    record_risk_event,
    refresh_open_counts,
    reopen_risk,
    try_verify_risk,
)
from anzhi.store import CheckRun, FindingRecord, FindingStatus, Risk, RiskStatus, utcnow
from anzhi.taxonomy import Taxonomy

__all__ = ["IngestResult", "ingest_batch"]

_CHUNK = 5000

# Core statements over the table: executemany straight to the driver, without per-row ORM bookkeeping.
_FINDINGS: Table = FindingRecord.__table__  # type: ignore[assignment]
_RECUR = (
    update(_FINDINGS)
    .where(_FINDINGS.c.id == bindparam("row_id"))
    .values(
        {
            name: bindparam(name)
            for name in (
                "count",
                "last_seen_at",
                "last_run_id",
                "status",
                "resolved_run_id",
                "risk_id",
                "scope",
                "severity",
                "evidence",
            )
        }
    )
)


@dataclass
class IngestResult:
    """What one ingested run changed."""

    run_id: int
    check_id: str
    received: int = 0
    new: int = 0
    recurring: int = 0
    resolved: int = 0
    risks_created: list[int] = field(default_factory=list)
    risks_reopened: list[int] = field(default_factory=list)
    risks_verified: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for JSON output."""
        return dict(self.__dict__)


def _validate_taxonomy_ids(findings: Iterable[Finding], taxonomy: Taxonomy) -> None:
    seen: set[str] = set()
    for index, finding in enumerate(findings):
        for taxonomy_id in finding.taxonomy_ids:
            if taxonomy_id in seen:
                continue
            if not taxonomy.has_risk(taxonomy_id):
                try:
                    taxonomy.risk(taxonomy_id)  # raises UnknownIdError with a suggestion
                except InputError as exc:
                    raise InputError(f"findings[{index}] ({finding.rule_id}): {exc}") from exc
            seen.add(taxonomy_id)


def _ensure_risks(
    session: Session,
    system_id: int,
    taxonomy: Taxonomy,
    findings_by_taxonomy: dict[str, list[Finding]],
    actor: str,
    result: IngestResult,
) -> dict[str, Risk]:
    existing = {
        risk.taxonomy_id: risk
        for risk in session.execute(
            select(Risk).where(Risk.system_id == system_id, Risk.taxonomy_id.in_(list(findings_by_taxonomy)))
        ).scalars()
    }
    for taxonomy_id, group in findings_by_taxonomy.items():
        if taxonomy_id in existing:
            continue
        item = taxonomy.risk(taxonomy_id)
        likelihood, impact = suggest_likelihood_impact(
            (Severity(f.severity), Confidence(f.confidence), 1) for f in group
        )
        risk = Risk(
            system_id=system_id,
            taxonomy_id=taxonomy_id,
            title=f"{item.title_zh} / {item.title_en}",
            status=RiskStatus.IDENTIFIED,
            likelihood=likelihood,
            impact=impact,
            level=grade(likelihood, impact),
            graded=False,
        )
        session.add(risk)
        session.flush()
        existing[taxonomy_id] = risk
        result.risks_created.append(risk.id)
        record_risk_event(
            session,
            risk,
            actor,
            "identified",
            note=f"first found by {group[0].check_id}",
            data={
                "system_id": system_id,
                "taxonomy_id": taxonomy_id,
                "rule_id": group[0].rule_id,
                "suggested_level": risk.level.value,
            },
        )
    return existing


_STORED_COLUMNS = (
    FindingRecord.id,
    FindingRecord.fingerprint,
    FindingRecord.count.label("seen"),
    FindingRecord.status,
    FindingRecord.risk_id,
    FindingRecord.scope,
)


def _stored_findings(
    session: Session, system_id: int, check_id: str, scope: str, fingerprints: list[str]
) -> dict[str, Any]:
    """Stored findings this run speaks for: all of its check and scope, plus any of its fingerprints elsewhere.

    Reading only these keeps a run's cost proportional to its scope, not to everything the system ever had.
    """
    base = (FindingRecord.system_id == system_id, FindingRecord.check_id == check_id)
    stored = {
        row.fingerprint: row
        for row in session.execute(select(*_STORED_COLUMNS).where(*base, FindingRecord.scope == scope))
    }
    for start in range(0, len(fingerprints), _CHUNK):
        chunk = [fp for fp in fingerprints[start : start + _CHUNK] if fp not in stored]
        if chunk:
            statement = select(*_STORED_COLUMNS).where(*base, FindingRecord.fingerprint.in_(chunk))
            stored.update((row.fingerprint, row) for row in session.execute(statement))
    return stored


def ingest_batch(
    session: Session, system_id: int, batch: FindingBatch, *, taxonomy: Taxonomy, actor: str
) -> IngestResult:
    """Store one check run and its findings for a system; update risks, recurrences and verifications."""
    system = get_system(session, system_id)
    _validate_taxonomy_ids(batch.findings, taxonomy)
    expire_acceptances(session, actor="system")
    info = batch.run
    now = utcnow()
    run = CheckRun(
        system_id=system.id,
        check_id=info.check_id,
        started_at=info.started_at,
        finished_at=info.finished_at or now,
        status=info.status,
        tool=info.tool,
        tool_version=info.tool_version,
        scope=info.scope,
        metrics=dict(info.metrics),
        finding_count=len(batch.findings),
    )
    session.add(run)
    session.flush()
    result = IngestResult(run_id=run.id, check_id=info.check_id, received=len(batch.findings))

    # Collapse repeats inside the batch: one row per fingerprint, counted as often as it appears.
    unique: dict[str, Finding] = {}
    occurrences: dict[str, int] = defaultdict(int)
    for finding in batch.findings:
        unique.setdefault(finding.fingerprint, finding)
        occurrences[finding.fingerprint] += 1
    by_taxonomy: dict[str, list[Finding]] = defaultdict(list)
    for finding in unique.values():
        by_taxonomy[finding.primary_taxonomy_id].append(finding)
    risks = _ensure_risks(session, system.id, taxonomy, by_taxonomy, actor, result)

    stored = _stored_findings(session, system.id, info.check_id, info.scope, list(unique))
    new_rows: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    recurred_risk_ids: set[int] = set()
    for fingerprint, finding in unique.items():
        risk = risks[finding.primary_taxonomy_id]
        previous = stored.get(fingerprint)
        if previous is None:
            new_rows.append(
                {
                    "system_id": system.id,
                    "risk_id": risk.id,
                    "fingerprint": fingerprint,
                    "check_id": finding.check_id,
                    "scope": info.scope,
                    "rule_id": finding.rule_id,
                    "taxonomy_id": finding.primary_taxonomy_id,
                    "taxonomy_ids": list(finding.taxonomy_ids),
                    "severity": finding.severity.value,
                    "confidence": finding.confidence.value,
                    "title": finding.title,
                    "description": finding.description,
                    "location": finding.location.model_dump(exclude_none=True),
                    "evidence": finding.evidence,
                    "standards": list(finding.standards),
                    "status": FindingStatus.OPEN,
                    "count": occurrences[fingerprint],
                    "first_seen_at": now,
                    "last_seen_at": now,
                    "first_run_id": run.id,
                    "last_run_id": run.id,
                }
            )
            continue
        updates.append(
            {
                "row_id": previous.id,
                "count": previous.seen + occurrences[fingerprint],
                "last_seen_at": now,
                "last_run_id": run.id,
                "status": FindingStatus.OPEN,
                "resolved_run_id": None,
                "risk_id": risk.id,
                "scope": info.scope,
                "severity": finding.severity.value,
                "evidence": finding.evidence,
            }
        )
        recurred_risk_ids.add(risk.id)
    for start in range(0, len(new_rows), _CHUNK):
        session.execute(_FINDINGS.insert(), new_rows[start : start + _CHUNK])
    for start in range(0, len(updates), _CHUNK):
        session.execute(_RECUR, updates[start : start + _CHUNK])
    result.new, result.recurring = len(new_rows), len(updates)

    # Open findings of this check and scope that this run did not reproduce are resolved by it.
    # A run that failed is not a complete answer: it reports what it saw but resolves nothing.
    vanished = (
        [
            row
            for fp, row in stored.items()
            if fp not in unique and row.status is FindingStatus.OPEN and row.scope == info.scope
        ]
        if info.status == "completed"
        else []
    )
    gone = [row.id for row in vanished]
    affected_risks = {row.risk_id for row in vanished if row.risk_id is not None}
    for start in range(0, len(gone), _CHUNK):
        session.execute(
            update(FindingRecord)
            .where(FindingRecord.id.in_(gone[start : start + _CHUNK]))
            .values(status=FindingStatus.RESOLVED, resolved_run_id=run.id)
            .execution_options(synchronize_session=False)
        )
    result.resolved = len(gone)
    run.new_count, run.resolved_count = result.new, result.resolved

    # Risks under treatment that this check and scope speak for are candidates for verification.
    under_treatment = set(
        session.execute(
            select(FindingRecord.risk_id)
            .join(Risk, Risk.id == FindingRecord.risk_id)
            .where(
                FindingRecord.system_id == system.id,
                FindingRecord.check_id == info.check_id,
                FindingRecord.scope == info.scope,
                Risk.status.in_([RiskStatus.TREATING, RiskStatus.VERIFYING]),
            )
            .distinct()
        ).scalars()
    )
    touched = sorted({r.id for r in risks.values()} | affected_risks | {i for i in under_treatment if i is not None})
    refresh_open_counts(session, touched)
    session.expire_all()
    for risk in session.execute(select(Risk).where(Risk.id.in_(touched)).order_by(Risk.id)).scalars():
        if risk.id in recurred_risk_ids and risk.status in (RiskStatus.CLOSED, RiskStatus.ACCEPTED):
            reopen_risk(
                session,
                risk,
                actor=actor,
                reason=f"finding(s) recurred in run {run.id} of {info.check_id}",
                data={"run_id": run.id},
            )
            result.risks_reopened.append(risk.id)
        elif risk.id in recurred_risk_ids and risk.status in (RiskStatus.VERIFYING, RiskStatus.MONITORING):
            _verification_failed(session, risk, run.id, actor)
        elif try_verify_risk(session, risk, run.id, actor=actor):
            result.risks_verified.append(risk.id)

    record_audit(
        session,
        actor=actor,
        action="findings.ingested",
        entity_type="check_run",
        entity_id=run.id,
        data={
            "system_id": system.id,
            "check_id": info.check_id,
            "received": result.received,
            "new": result.new,
            "recurring": result.recurring,
            "resolved": result.resolved,
            "metrics": dict(info.metrics),
        },
    )
    return result


def _verification_failed(session: Session, risk: Risk, run_id: int, actor: str) -> None:
    previous = risk.status
    risk.verified_run_id, risk.verified_at = None, None
    if risk.status is RiskStatus.MONITORING:
        risk.status = RiskStatus.TREATING
        risk.treatment_started_at = utcnow()
    risk.updated_at = utcnow()
    session.flush()
    record_risk_event(
        session,
        risk,
        actor,
        "verification_failed",
        from_status=previous,
        note=f"run {run_id} reproduced finding(s): the treatment did not hold",
        data={"run_id": run_id},
    )
