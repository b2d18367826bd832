"""Typed records for risk taxonomies, requirement catalogs, thresholds and crosswalks.

Every record is a frozen pydantic model; the loader builds them from YAML and nothing mutates them later.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

__all__ = [
    "AttributeType",
    "Catalog",
    "CatalogGroup",
    "CrosswalkInfo",
    "CrosswalkLink",
    "Relation",
    "Requirement",
    "RequirementKind",
    "RiskItem",
    "SourceStatus",
    "TaxonomyInfo",
    "Threshold",
    "ThresholdOp",
    "ThresholdOutcome",
    "ThresholdResult",
    "ThresholdUnit",
]

CHECK_ID_PATTERN = r"^[a-z][a-z0-9_.-]*$"
METRIC_PATTERN = r"^[a-z][a-z0-9_]*$"
SET_ID_PATTERN = r"^[a-z][a-z0-9-]*$"
LOCAL_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
RISK_ID_PATTERN = r"^[a-z][a-z0-9-]*\.[A-Za-z0-9][A-Za-z0-9_.-]*$"

CheckId = Annotated[str, StringConstraints(pattern=CHECK_ID_PATTERN)]
MetricName = Annotated[str, StringConstraints(pattern=METRIC_PATTERN)]
SetId = Annotated[str, StringConstraints(pattern=SET_ID_PATTERN)]
LocalId = Annotated[str, StringConstraints(pattern=LOCAL_ID_PATTERN)]
RiskId = Annotated[str, StringConstraints(pattern=RISK_ID_PATTERN)]
Text = Annotated[str, StringConstraints(min_length=1)]
AttrValue = bool | int | float | str | tuple[str, ...]

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class SourceStatus(enum.StrEnum):
    """How sure we are of a fact, carried from ``shared/standards/README.md``."""

    CONFIRMED = "confirmed"
    """Stated by a primary/official source, or agreed by two or more independent sources."""
    SECONDARY = "secondary"
    """One third-party source only."""
    UNCONFIRMED = "unconfirmed"
    """No primary source found (recollection or inference); verify before relying on it."""


class RequirementKind(enum.StrEnum):
    """Whether a requirement is met by an organisational process or by a technical property."""

    PROCESS = "process"
    TECHNICAL = "technical"


class Relation(enum.StrEnum):
    """How two crosswalked ids relate; ``a part_of b`` reads left to right."""

    EQUIVALENT = "equivalent"
    RELATED = "related"
    PART_OF = "part_of"
    HAS_PART = "has_part"

    def inverse(self) -> Relation:
        """The relation seen from the other end of a link."""
        if self is Relation.PART_OF:
            return Relation.HAS_PART
        if self is Relation.HAS_PART:
            return Relation.PART_OF
        return self


class AttributeType(enum.StrEnum):
    """Value types a taxonomy may declare for the extra attributes of its items."""

    BOOL = "bool"
    INT = "int"
    FLOAT = "float"
    STR = "str"
    STR_LIST = "list[str]"


class ThresholdOp(enum.StrEnum):
    """Comparison between an observed metric and a threshold value."""

    GE = ">="
    LE = "<="
    GT = ">"
    LT = "<"
    EQ = "=="

    def holds(self, observed: float, value: float) -> bool:
        """Whether ``observed <op> value`` is true (``==`` tolerates float rounding)."""
        if self is ThresholdOp.GE:
            return observed >= value
        if self is ThresholdOp.LE:
            return observed <= value
        if self is ThresholdOp.GT:
            return observed > value
        if self is ThresholdOp.LT:
            return observed < value
        return math.isclose(observed, value, rel_tol=1e-9, abs_tol=1e-12)


class ThresholdUnit(enum.StrEnum):
    """Unit of a threshold value; ratios are always in 0..1."""

    RATIO = "ratio"
    RATIO_OF_CORPUS = "ratio-of-corpus"
    COUNT = "count"
    DAYS = "days"
    MONTHS = "months"
    SECONDS = "seconds"


_RATIO_UNITS = frozenset({ThresholdUnit.RATIO, ThresholdUnit.RATIO_OF_CORPUS})


class ThresholdResult(enum.StrEnum):
    """Outcome of evaluating a threshold against observed metrics."""

    MET = "met"
    NOT_MET = "not_met"
    INSUFFICIENT_SAMPLE = "insufficient_sample"
    METRIC_MISSING = "metric_missing"


class ThresholdOutcome(BaseModel):
    """What :meth:`Threshold.evaluate` found, with a reason a person can read in Chinese and English."""

    model_config = _FROZEN

    result: ThresholdResult
    observed: float | None = None
    sample: float | None = None
    reason_zh: str
    reason_en: str

    @property
    def met(self) -> bool:
        """True only when the threshold was met on a sufficient sample."""
        return self.result is ThresholdResult.MET


def _num(value: float) -> str:
    return f"{value:g}"


def _finite(metrics: Mapping[str, float], name: str) -> float | None:
    raw = metrics.get(name)
    if raw is None or isinstance(raw, bool):
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


class Threshold(BaseModel):
    """A typed numeric pass condition on a metric, optionally gated by a minimum sample.

    Example: ``should_refuse_refusal_rate >= 0.95`` measured on ``should_refuse_sample_size >= 300``.
    """

    model_config = _FROZEN

    metric: MetricName
    op: ThresholdOp
    value: float
    unit: ThresholdUnit
    sample_metric: MetricName | None = None
    sample_min: int | float | None = Field(default=None, ge=0)
    status: SourceStatus
    note: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Threshold:
        if (self.sample_metric is None) != (self.sample_min is None):
            raise ValueError("sample_metric and sample_min must be given together or not at all")
        if self.unit in _RATIO_UNITS and not 0.0 <= self.value <= 1.0:
            raise ValueError(f"a {self.unit} threshold must lie in 0..1, got {self.value}")
        if not math.isfinite(self.value):
            raise ValueError("threshold value must be finite")
        return self

    @property
    def summary_en(self) -> str:
        """One line, e.g. ``should_refuse_refusal_rate >= 0.95 (sample should_refuse_sample_size >= 300)``."""
        text = f"{self.metric} {self.op} {_num(self.value)}"
        if self.sample_metric is not None and self.sample_min is not None:
            text += f" (sample {self.sample_metric} >= {_num(self.sample_min)})"
        return text

    @property
    def summary_zh(self) -> str:
        """The same line in Chinese."""
        text = f"{self.metric} {self.op} {_num(self.value)}"
        if self.sample_metric is not None and self.sample_min is not None:
            text += f"（样本量 {self.sample_metric} ≥ {_num(self.sample_min)}）"
        return text

    def evaluate(self, metrics: Mapping[str, float]) -> ThresholdOutcome:
        """Judge observed metrics against this threshold.

        Args:
            metrics: metric name to observed value, as a check reports them.

        Returns:
            ``metric_missing`` when the metric (or the sample metric) is absent or NaN,
            ``insufficient_sample`` when the sample is below ``sample_min``, else ``met`` / ``not_met``.
        """
        observed = _finite(metrics, self.metric)
        if observed is None:
            return ThresholdOutcome(
                result=ThresholdResult.METRIC_MISSING,
                reason_zh=f"缺少指标 {self.metric}，无法判断是否满足 {self.summary_zh}",
                reason_en=f"metric {self.metric} is missing; cannot judge {self.summary_en}",
            )
        sample: float | None = None
        if self.sample_metric is not None and self.sample_min is not None:
            sample = _finite(metrics, self.sample_metric)
            if sample is None:
                return ThresholdOutcome(
                    result=ThresholdResult.METRIC_MISSING,
                    observed=observed,
                    reason_zh=f"缺少样本量指标 {self.sample_metric}，无法判断是否满足 {self.summary_zh}",
                    reason_en=f"sample metric {self.sample_metric} missing; cannot judge {self.summary_en}",
                )
            if sample < self.sample_min:
                return ThresholdOutcome(
                    result=ThresholdResult.INSUFFICIENT_SAMPLE,
                    observed=observed,
                    sample=sample,
                    reason_zh=(
                        f"样本量不足：{self.sample_metric} = {_num(sample)}，"
                        f"至少需要 {_num(self.sample_min)}；请扩大样本后重新评估"
                    ),
                    reason_en=(
                        f"sample too small: {self.sample_metric} = {_num(sample)}, needs at least "
                        f"{_num(self.sample_min)}; enlarge the sample and evaluate again"
                    ),
                )
        ok = self.op.holds(observed, self.value)
        verdict_zh = "满足" if ok else "不满足"
        verdict_en = "met" if ok else "not met"
        return ThresholdOutcome(
            result=ThresholdResult.MET if ok else ThresholdResult.NOT_MET,
            observed=observed,
            sample=sample,
            reason_zh=f"{self.metric} = {_num(observed)}，要求 {self.op} {_num(self.value)}：{verdict_zh}",
            reason_en=f"{self.metric} = {_num(observed)}, required {self.op} {_num(self.value)}: {verdict_en}",
        )


class TaxonomyInfo(BaseModel):
    """Header of one taxonomy file: which standard, how sure we are, which item attributes it declares."""

    model_config = _FROZEN

    def __hash__(self) -> int:  # mapping fields are unhashable; the id identifies the record
        return hash((type(self).__name__, self.id))

    id: SetId
    name_zh: Text
    name_en: Text
    source: Text
    url: str | None = None
    version: str | None = None
    status: SourceStatus
    note: str | None = None
    attributes: Mapping[str, AttributeType] = Field(default_factory=dict)


class RiskItem(BaseModel):
    """One risk (or a class grouping risks) with a stable id ``<taxonomy>.<local id>``."""

    model_config = _FROZEN

    def __hash__(self) -> int:  # mapping fields are unhashable; the id identifies the record
        return hash((type(self).__name__, self.id))

    id: RiskId
    taxonomy: SetId
    local_id: LocalId
    title_zh: Text
    title_en: Text
    parent: RiskId | None = None
    clause: str | None = None
    """The standard's own numbering where it has one, e.g. ``A.1 a)`` or ``LLM01:2025``."""
    status: SourceStatus
    note: str | None = None
    extra: Mapping[str, AttrValue] = Field(default_factory=dict)
    """Attributes the taxonomy declares, e.g. ``sensitive`` for PII kinds."""

    @model_validator(mode="after")
    def _id_matches(self) -> RiskItem:
        if self.id != f"{self.taxonomy}.{self.local_id}":
            raise ValueError(f"id {self.id!r} must start with the taxonomy id {self.taxonomy!r} and a dot")
        if self.parent == self.id:
            raise ValueError("an item cannot be its own parent")
        return self


class CatalogGroup(BaseModel):
    """A heading inside a catalog (a clause, a function, a control area) that requirements sit under."""

    model_config = _FROZEN

    id: LocalId
    title_zh: Text
    title_en: Text
    parent: LocalId | None = None
    status: SourceStatus
    note: str | None = None


class Requirement(BaseModel):
    """One requirement (clause, control, subcategory, obligation) of a catalog."""

    model_config = _FROZEN

    def __hash__(self) -> int:  # mapping fields are unhashable; the id identifies the record
        return hash((type(self).__name__, self.ref))

    id: LocalId
    catalog: SetId
    title_zh: Text
    title_en: Text
    kind: RequirementKind
    status: SourceStatus
    group: LocalId | None = None
    clause: str | None = None
    effective: date | None = None
    risks: tuple[RiskId, ...] = ()
    threshold: Threshold | None = None
    checks: tuple[CheckId, ...] = ()
    params: Mapping[str, Any] = Field(default_factory=dict)
    """Structured data a check needs (field orders, code patterns), so no code copies a clause."""
    note: str | None = None

    @property
    def ref(self) -> str:
        """Global reference ``<catalog>:<id>``."""
        return f"{self.catalog}:{self.id}"


class Catalog(BaseModel):
    """A standard's requirements as data."""

    model_config = _FROZEN

    def __hash__(self) -> int:  # mapping fields are unhashable; the id identifies the record
        return hash((type(self).__name__, self.id))

    id: SetId
    name_zh: Text
    name_en: Text
    source: Text
    url: str | None = None
    version: str | None = None
    effective: date | None = None
    status: SourceStatus
    note: str | None = None
    groups: Mapping[str, CatalogGroup] = Field(default_factory=dict)
    requirements: Mapping[str, Requirement] = Field(default_factory=dict)


class CrosswalkInfo(BaseModel):
    """Header of one crosswalk file."""

    model_config = _FROZEN

    id: SetId
    name_zh: Text
    name_en: Text
    status: SourceStatus
    note: str | None = None


class CrosswalkLink(BaseModel):
    """A link between two ids (risk ids or requirement refs ``catalog:id``): ``a <relation> b``."""

    model_config = _FROZEN

    a: Text
    b: Text
    relation: Relation
    status: SourceStatus
    crosswalk: SetId
    note: str | None = None

    @model_validator(mode="after")
    def _not_self(self) -> CrosswalkLink:
        if self.a == self.b:
            raise ValueError("a link must join two different ids")
        return self
