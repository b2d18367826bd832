"""The one schema every check reports in: ``Finding``, and the ``CheckRunInfo`` that carries a batch."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

__all__ = [
    "CheckRunInfo",
    "Confidence",
    "Finding",
    "FindingBatch",
    "Location",
    "Severity",
    "compute_fingerprint",
]

CheckId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.-]*$", max_length=100)]
RuleId = Annotated[str, StringConstraints(min_length=1, max_length=200)]

#: Largest evidence a finding may carry, as compact JSON. Evidence is a pointer and a masked excerpt, not data.
MAX_EVIDENCE_BYTES = 8192


class Severity(StrEnum):
    """How bad the problem is if real (one axis; confidence is the other)."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """5 for critical down to 1 for info."""
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {
    Severity.CRITICAL: 5,
    Severity.HIGH: 4,
    Severity.MEDIUM: 3,
    Severity.LOW: 2,
    Severity.INFO: 1,
}


class Confidence(StrEnum):
    """How sure the check is that the problem is real."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class Location(BaseModel):
    """Where a finding is: any subset of file/offset, record, request, prompt or URI."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    file: str | None = None
    line: int | None = Field(default=None, ge=0)
    offset: int | None = Field(default=None, ge=0)
    record_id: str | None = None
    request_id: str | None = None
    prompt_id: str | None = None
    uri: str | None = None

    def key(self) -> str:
        """A stable string for fingerprinting (request ids are per-request, so they are left out)."""
        parts = [self.file or "", str(self.line or ""), str(self.offset or ""), self.record_id or ""]
        parts += [self.prompt_id or "", self.uri or ""]
        return "|".join(parts)


def compute_fingerprint(check_id: str, rule_id: str, taxonomy_ids: tuple[str, ...], location: Location) -> str:
    """Stable identity of a finding across runs: same check, rule, categories and place → same fingerprint."""
    material = "\x1f".join([check_id, rule_id, ",".join(sorted(taxonomy_ids)), location.key()])
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:32]


class Finding(BaseModel):
    """One problem a check found. Immutable; equality and hashing agree.

    Evidence must be small and must never hold a whole secret or PII value: mask it before it gets here.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    check_id: CheckId = Field(description="the check that produced it, e.g. 'model.scan'")
    rule_id: RuleId = Field(description="the rule within the check, e.g. 'MODEL-401'")
    taxonomy_ids: tuple[str, ...] = Field(
        min_length=1, description="risk ids it maps to; the first is primary (it decides the risk)"
    )
    severity: Severity
    confidence: Confidence = Confidence.MEDIUM
    title: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    description: str = ""
    location: Location = Field(default_factory=Location)
    evidence: dict[str, Any] = Field(default_factory=dict)
    standards: tuple[str, ...] = Field(default=(), description="requirement refs or external ids, e.g. CWE-502")
    fingerprint: str = Field(default="", description="computed from check, rule, taxonomy ids and location if empty")

    @field_validator("evidence")
    @classmethod
    def _evidence_is_small(cls, value: dict[str, Any]) -> dict[str, Any]:
        size = len(json.dumps(value, ensure_ascii=False, default=str).encode("utf-8"))
        if size > MAX_EVIDENCE_BYTES:
            raise ValueError(
                f"evidence is {size} bytes; at most {MAX_EVIDENCE_BYTES} allowed — keep a masked excerpt and a pointer"
            )
        return value

    @model_validator(mode="after")
    def _fill_fingerprint(self) -> Finding:
        if not self.fingerprint:
            fp = compute_fingerprint(self.check_id, self.rule_id, self.taxonomy_ids, self.location)
            object.__setattr__(self, "fingerprint", fp)
        return self

    def __hash__(self) -> int:
        # Equal findings have equal fingerprints, so this agrees with field-wise equality (evidence is a dict).
        return hash((type(self), self.fingerprint))

    @property
    def primary_taxonomy_id(self) -> str:
        """The taxonomy id that decides which risk the finding belongs to."""
        return self.taxonomy_ids[0]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class CheckRunInfo(BaseModel):
    """One execution of a check over a scope. Its findings are a complete answer for that check.

    A run with no findings is evidence too: it says the check ran and found nothing (this is what verifies a
    treated risk).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    check_id: CheckId
    started_at: datetime = Field(default_factory=_utcnow)
    finished_at: datetime | None = None
    tool: str = "anzhi"
    tool_version: str = ""
    status: str = Field(default="completed", pattern=r"^(completed|failed)$")
    metrics: dict[str, float] = Field(default_factory=dict, description="numbers thresholds are judged on")
    scope: str = Field(default="", description="what was checked, e.g. a path or an endpoint")


class FindingBatch(BaseModel):
    """A check run and the findings it produced: the unit of ingestion."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    run: CheckRunInfo
    findings: tuple[Finding, ...] = ()

    @model_validator(mode="after")
    def _findings_belong_to_run(self) -> FindingBatch:
        for index, finding in enumerate(self.findings):
            if finding.check_id != self.run.check_id:
                raise ValueError(
                    f"findings[{index}] has check_id {finding.check_id!r} but the run is {self.run.check_id!r}; "
                    "split the batch by check"
                )
        return self
