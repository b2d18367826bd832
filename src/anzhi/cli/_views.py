"""Plain-dict views of stored objects, for ``--json`` output (built inside the session that loaded them)."""

from __future__ import annotations

from typing import Any

from anzhi.cli._common import iso
from anzhi.store import (
    ApiToken,
    Assessment,
    AssessmentItem,
    Asset,
    Control,
    FindingRecord,
    Risk,
    RiskEvent,
    System,
    User,
)

__all__ = [
    "assessment_item_view",
    "assessment_view",
    "asset_view",
    "control_view",
    "finding_view",
    "risk_event_view",
    "risk_view",
    "system_view",
    "token_view",
    "user_view",
]


def system_view(system: System) -> dict[str, Any]:
    """A system's profile."""
    return {
        "id": system.id, "name": system.name, "owner": system.owner, "sector": system.sector,
        "scenario": system.scenario, "intelligence_level": system.intelligence_level,
        "deployment_mode": system.deployment_mode, "lifecycle_stage": system.lifecycle_stage,
        "description": system.description, "created_at": iso(system.created_at), "updated_at": iso(system.updated_at),
    }


def asset_view(asset: Asset) -> dict[str, Any]:
    """An asset of a system."""
    return {
        "id": asset.id, "system_id": asset.system_id, "kind": asset.kind.value, "name": asset.name, "uri": asset.uri,
        "sha256": asset.sha256, "attributes": asset.attributes, "created_at": iso(asset.created_at),
    }


def control_view(control: Control) -> dict[str, Any]:
    """A control."""
    return {
        "id": control.id, "key": control.key, "title": control.title, "description": control.description,
        "catalog_ref": control.catalog_ref, "owner": control.owner, "created_at": iso(control.created_at),
    }


def risk_view(risk: Risk, system_name: str | None = None) -> dict[str, Any]:
    """A risk in the register (controls included: call inside the session)."""
    return {
        "id": risk.id, "system_id": risk.system_id, "system": system_name, "taxonomy_id": risk.taxonomy_id,
        "title": risk.title, "status": risk.status.value, "likelihood": risk.likelihood, "impact": risk.impact,
        "level": risk.level.value, "graded": risk.graded,
        "treatment": risk.treatment.value if risk.treatment else None, "treatment_plan": risk.treatment_plan,
        "owner": risk.owner, "due_date": iso(risk.due_date), "accepted_until": iso(risk.accepted_until),
        "treatment_started_at": iso(risk.treatment_started_at), "verified_run_id": risk.verified_run_id,
        "verified_at": iso(risk.verified_at), "open_findings": risk.open_findings, "reopen_count": risk.reopen_count,
        "controls": [control.key for control in risk.controls],
        "created_at": iso(risk.created_at), "updated_at": iso(risk.updated_at), "closed_at": iso(risk.closed_at),
    }


def finding_view(finding: FindingRecord) -> dict[str, Any]:
    """A stored finding."""
    return {
        "id": finding.id, "system_id": finding.system_id, "risk_id": finding.risk_id,
        "fingerprint": finding.fingerprint, "check_id": finding.check_id, "scope": finding.scope,
        "rule_id": finding.rule_id, "taxonomy_id": finding.taxonomy_id, "taxonomy_ids": finding.taxonomy_ids,
        "severity": finding.severity, "confidence": finding.confidence, "title": finding.title,
        "description": finding.description, "location": finding.location, "evidence": finding.evidence,
        "standards": finding.standards, "status": finding.status.value, "count": finding.count,
        "first_seen_at": iso(finding.first_seen_at), "last_seen_at": iso(finding.last_seen_at),
        "first_run_id": finding.first_run_id, "last_run_id": finding.last_run_id,
        "resolved_run_id": finding.resolved_run_id,
    }


def risk_event_view(event: RiskEvent) -> dict[str, Any]:
    """One entry of a risk's history."""
    return {
        "id": event.id, "at": iso(event.at), "actor": event.actor, "kind": event.kind,
        "from_status": event.from_status, "to_status": event.to_status, "note": event.note, "data": event.data,
    }


def assessment_item_view(item: AssessmentItem) -> dict[str, Any]:
    """One item of an assessment."""
    return {
        "id": item.id, "requirement_id": item.requirement_id, "result": item.result.value, "source": item.source,
        "evidence": item.evidence, "attested_by": item.attested_by, "attested_at": iso(item.attested_at),
        "note": item.note, "updated_at": iso(item.updated_at),
    }


def assessment_view(assessment: Assessment, *, items: bool = True) -> dict[str, Any]:
    """An assessment, with its items unless ``items`` is False."""
    view: dict[str, Any] = {
        "id": assessment.id, "system_id": assessment.system_id, "catalog_id": assessment.catalog_id,
        "title": assessment.title, "created_by": assessment.created_by, "created_at": iso(assessment.created_at),
        "refreshed_at": iso(assessment.refreshed_at),
    }
    if items:
        view["items"] = [assessment_item_view(item) for item in assessment.items]
    return view


def user_view(user: User) -> dict[str, Any]:
    """A user (never a token)."""
    return {
        "id": user.id, "name": user.name, "role": user.role.value, "disabled": user.disabled,
        "created_at": iso(user.created_at),
    }


def token_view(token: ApiToken) -> dict[str, Any]:
    """A token's record: its prefix, never the secret."""
    return {
        "id": token.id, "user": token.user.name, "name": token.name, "prefix": token.prefix,
        "created_at": iso(token.created_at), "last_used_at": iso(token.last_used_at),
        "revoked_at": iso(token.revoked_at),
    }
