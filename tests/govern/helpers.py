"""Builders shared by the governance tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from anzhi.findings import CheckRunInfo, Confidence, Finding, FindingBatch, Location, Severity


def finding(
    rule: str = "R-1",
    taxonomy: str = "gbt45654.A4.e",
    *,
    check: str = "model.scan",
    file: str = "model.pkl",
    severity: Severity = Severity.HIGH,
) -> Finding:
    return Finding(
        check_id=check,
        rule_id=rule,
        taxonomy_ids=(taxonomy,),
        severity=severity,
        confidence=Confidence.HIGH,
        title=f"{rule} in {file}",
        location=Location(file=file),
    )


def batch(
    *findings: Finding,
    check: str = "model.scan",
    scope: str = "",
    started: datetime | None = None,
    metrics: dict[str, float] | None = None,
) -> FindingBatch:
    run = CheckRunInfo(check_id=check, scope=scope, started_at=started or datetime.now(UTC), metrics=metrics or {})
    return FindingBatch(run=run, findings=findings)


def later(seconds: float = 1.0) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)
