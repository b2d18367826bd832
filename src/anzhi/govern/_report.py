"""The per-system governance report as data: a versioned pydantic schema, and the display names it uses.

:class:`SystemReport` is what :func:`anzhi.govern.build_report` returns and what the HTML renderer, the API and
the CLI read. ``report.model_dump(mode="json")`` is the report's JSON form, versioned by ``schema_version``
(``anzhi.report/1``): any incompatible change bumps it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict

from anzhi.findings import Severity
from anzhi.store import AssetKind, ItemResult, RiskLevel, RiskStatus, Treatment
from anzhi.taxonomy import SourceStatus

__all__ = [
    "REPORT_SCHEMA_VERSION",
    "RESULT_NAMES",
    "SEVERITY_NAMES",
    "STATUS_NAMES",
    "TREATMENT_NAMES",
    "AssessmentCounts",
    "Attestation",
    "AuditProblemEntry",
    "AuditStatus",
    "ClassCount",
    "EvidenceRun",
    "ItemEvidence",
    "LevelCount",
    "Names",
    "ReportAssessment",
    "ReportAssessmentItem",
    "ReportAsset",
    "ReportCheckRun",
    "ReportControl",
    "ReportFinding",
    "ReportRisk",
    "ReportRiskEvent",
    "ReportSystem",
    "RiskPosture",
    "SeverityCount",
    "SourceNote",
    "StatusCount",
    "SystemReport",
]

#: The version of the report's JSON schema; bumped on any incompatible change.
REPORT_SCHEMA_VERSION = "anzhi.report/1"


class Names(NamedTuple):
    """A value's display names in Chinese and English."""

    zh: str
    en: str


STATUS_NAMES: dict[RiskStatus, Names] = {
    RiskStatus.IDENTIFIED: Names("已识别", "identified"),
    RiskStatus.ASSESSED: Names("已评估", "assessed"),
    RiskStatus.TREATING: Names("处置中", "treating"),
    RiskStatus.VERIFYING: Names("验证中", "verifying"),
    RiskStatus.MONITORING: Names("监测中", "monitoring"),
    RiskStatus.CLOSED: Names("已关闭", "closed"),
    RiskStatus.ACCEPTED: Names("已接受", "accepted"),
}
TREATMENT_NAMES: dict[Treatment, Names] = {
    Treatment.MITIGATE: Names("缓解", "mitigate"),
    Treatment.ACCEPT: Names("接受", "accept"),
    Treatment.TRANSFER: Names("转移", "transfer"),
    Treatment.AVOID: Names("规避", "avoid"),
}
RESULT_NAMES: dict[ItemResult, Names] = {
    ItemResult.MEETS: Names("符合", "meets"),
    ItemResult.DOES_NOT_MEET: Names("不符合", "does not meet"),
    ItemResult.NOT_APPLICABLE: Names("不适用", "not applicable"),
    ItemResult.PENDING: Names("待评估", "pending"),
}
SEVERITY_NAMES: dict[Severity, Names] = {
    Severity.CRITICAL: Names("严重", "critical"),
    Severity.HIGH: Names("高", "high"),
    Severity.MEDIUM: Names("中", "medium"),
    Severity.LOW: Names("低", "low"),
    Severity.INFO: Names("提示", "info"),
}

_FROZEN = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


# -- the model ---------------------------------------------------------------------------------------------


class ReportAsset(BaseModel):
    """A model, dataset, endpoint or application of the system."""

    model_config = _FROZEN

    kind: AssetKind
    name: str
    uri: str
    sha256: str | None


class ReportSystem(BaseModel):
    """The system's profile as registered in the inventory."""

    model_config = _FROZEN

    id: int
    name: str
    owner: str
    sector: str
    scenario: str
    intelligence_level: str
    deployment_mode: str
    lifecycle_stage: str
    description: str
    created_at: datetime
    updated_at: datetime
    assets: list[ReportAsset]


class LevelCount(BaseModel):
    """Risks at one level: all of them and the open ones."""

    model_config = _FROZEN

    level: RiskLevel
    rank: int
    """1 (low) to 5 (extremely severe)."""
    name_zh: str
    name_en: str
    total: int
    open: int


class StatusCount(BaseModel):
    """Risks in one status of the closed loop."""

    model_config = _FROZEN

    status: RiskStatus
    name_zh: str
    name_en: str
    count: int


class ClassCount(BaseModel):
    """Risks under one top-level class of a taxonomy (e.g. GB/T 45654 A.1), or a whole flat taxonomy."""

    model_config = _FROZEN

    class_id: str
    """The top-level class id (``gbt45654.A1``) or, for a flat taxonomy, the taxonomy id (``owasp-llm``)."""
    taxonomy: str
    clause: str | None
    title_zh: str
    title_en: str
    total: int
    open: int


class RiskPosture(BaseModel):
    """Counts over every risk of the system. Open means neither closed nor accepted."""

    model_config = _FROZEN

    as_of: date
    """The UTC date of ``generated_at``: "overdue" means a due date before it."""
    total: int
    open: int
    closed: int
    accepted: int
    ungraded_open: int
    """Open risks whose level is still the provisional one suggested from findings (not yet assessed)."""
    by_level: list[LevelCount]
    by_status: list[StatusCount]
    by_class: list[ClassCount]
    overdue_risk_ids: list[int]
    """Open risks whose treatment due date has passed."""
    reopened_risk_ids: list[int]
    """Risks that were closed or accepted and came back (recurrence, expired acceptance)."""
    level_names_status: str
    """How sure the five level names are (from the grading module): ``unconfirmed`` today."""


class ReportControl(BaseModel):
    """A control treating a risk."""

    model_config = _FROZEN

    id: int
    key: str
    title: str
    catalog_ref: str | None


class ReportRisk(BaseModel):
    """One risk of the register."""

    model_config = _FROZEN

    id: int
    taxonomy_id: str
    taxonomy_title_zh: str
    taxonomy_title_en: str
    taxonomy_status: SourceStatus | None
    """How sure the taxonomy entry is; ``None`` when the id is no longer in the loaded taxonomy."""
    class_id: str
    title: str
    level: RiskLevel
    level_zh: str
    level_en: str
    graded: bool
    """False while the level is only suggested from findings."""
    likelihood: int
    impact: int
    status: RiskStatus
    owner: str
    due_date: date | None
    overdue: bool
    open_findings: int
    reopen_count: int
    treatment: Treatment | None
    treatment_plan: str
    accepted_until: datetime | None
    controls: list[ReportControl]
    updated_at: datetime


class ReportRiskEvent(BaseModel):
    """One entry of a risk's history."""

    model_config = _FROZEN

    id: int
    risk_id: int
    taxonomy_id: str
    at: datetime
    actor: str
    kind: str
    from_status: str | None
    to_status: str | None
    note: str


class ReportCheckRun(BaseModel):
    """The latest run of one check on the system."""

    model_config = _FROZEN

    id: int
    check_id: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    tool: str
    tool_version: str
    scope: str
    metrics: dict[str, Any]
    finding_count: int
    new_count: int
    resolved_count: int
    runs_total: int
    """How many runs of this check the system has."""


class AssessmentCounts(BaseModel):
    """Items by result, with completion (decided share) and compliance (meets / applicable decided)."""

    model_config = _FROZEN

    total: int
    meets: int
    does_not_meet: int
    not_applicable: int
    pending: int
    completion: float
    compliance: float


class EvidenceRun(BaseModel):
    """A check run an item's result rests on."""

    model_config = _FROZEN

    check_id: str
    run_id: int | None
    run_started_at: str | None


class ItemEvidence(BaseModel):
    """The check evidence of an assessment item, normalised from what the assessment stored."""

    model_config = _FROZEN

    runs: list[EvidenceRun]
    outcome: str | None
    """For a threshold: met / not_met / insufficient_sample / metric_missing."""
    threshold_zh: str | None
    threshold_en: str | None
    metrics: dict[str, Any]
    reason_zh: str | None
    reason_en: str | None
    open_findings: int | None
    finding_ids: list[int]


class Attestation(BaseModel):
    """A person's judgement on an item."""

    model_config = _FROZEN

    by: str
    at: datetime | None
    note: str


class ReportAssessmentItem(BaseModel):
    """One requirement of an assessment and how it was decided."""

    model_config = _FROZEN

    requirement_id: str
    title_zh: str
    title_en: str
    clause: str | None
    kind: str | None
    requirement_status: SourceStatus | None
    """How sure the requirement's text is; ``None`` when the catalog no longer has it."""
    threshold_status: SourceStatus | None
    result: ItemResult
    source: str
    """``check``, ``attestation`` or ``none``."""
    evidence: ItemEvidence | None
    attestation: Attestation | None
    updated_at: datetime


class ReportAssessment(BaseModel):
    """The newest assessment of the system against one catalog."""

    model_config = _FROZEN

    id: int
    catalog_id: str
    catalog_name_zh: str
    catalog_name_en: str
    catalog_status: SourceStatus | None
    title: str
    created_by: str
    created_at: datetime
    refreshed_at: datetime | None
    older_assessments: int
    """Earlier assessments of the same catalog, not shown."""
    summary: AssessmentCounts
    items: list[ReportAssessmentItem]


class ReportFinding(BaseModel):
    """An open finding. Its evidence is exactly what the check stored (already masked)."""

    model_config = _FROZEN

    id: int
    risk_id: int | None
    check_id: str
    rule_id: str
    taxonomy_id: str
    severity: str
    confidence: str
    title: str
    location: dict[str, Any]
    evidence: dict[str, Any]
    count: int
    first_seen_at: datetime
    last_seen_at: datetime


class SeverityCount(BaseModel):
    """Open findings of one severity."""

    model_config = _FROZEN

    severity: Severity
    name_zh: str
    name_en: str
    count: int


class AuditProblemEntry(BaseModel):
    """One break in the audit chain."""

    model_config = _FROZEN

    seq: int
    kind: str
    message: str


class AuditStatus(BaseModel):
    """The audit-chain verification the report was given."""

    model_config = _FROZEN

    ok: bool
    checked: int
    problems_total: int
    problems: list[AuditProblemEntry]


class SourceNote(BaseModel):
    """A fact in the report whose source is not confirmed, and how sure it is."""

    model_config = _FROZEN

    subject: str
    status: str
    note_zh: str
    note_en: str


class SystemReport(BaseModel):
    """Everything the per-system governance report shows, as versioned data."""

    model_config = _FROZEN

    schema_version: Literal["anzhi.report/1"] = "anzhi.report/1"
    generated_at: datetime
    """UTC."""
    system: ReportSystem
    posture: RiskPosture
    open_risks: list[ReportRisk]
    """Worst level first, then by id."""
    accepted_risks: list[ReportRisk]
    recent_events: list[ReportRiskEvent]
    """Newest first, at most ``max_events``."""
    events_total: int
    check_runs: list[ReportCheckRun]
    """The latest run of each check, by check id."""
    assessments: list[ReportAssessment]
    """The newest assessment per catalog, by catalog id."""
    findings_by_severity: list[SeverityCount]
    open_findings_total: int
    findings: list[ReportFinding]
    """Open findings, worst severity first, at most ``max_findings``."""
    audit: AuditStatus | None
    sources: list[SourceNote]
    """Facts that come from unconfirmed or single (secondary) sources."""
