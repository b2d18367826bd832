"""Sanity checks on the shipped standards data: counts, tags, titles, thresholds and check bindings."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest

import anzhi.taxonomy as taxonomy_pkg
from anzhi.taxonomy import (
    RequirementKind,
    SourceStatus,
    Taxonomy,
    ThresholdOp,
    ThresholdUnit,
    default_taxonomy,
    load_taxonomy,
)

# Counts are facts from shared/standards/README.md; they live here, not in the code.
COUNTS: dict[str, Any] = {
    "gbt45654": {"A1": 8, "A2": 9, "A3": 5, "A4": 7, "A5": 2},
    "tc260v1_risks": 26,
    "owasp-llm": 10,
    "owasp-asi": 10,
    "atlas_tactics": 16,
    "nist600-1": 12,
    "nist_rmf_subcategories": 72,
    "nist_rmf_categories": 19,
    "iso42001": {"A.2": 3, "A.3": 2, "A.4": 5, "A.5": 4, "A.6": 9, "A.7": 5, "A.8": 4, "A.9": 3, "A.10": 3},
}

# The check ids and metric names the other parts of anzhi implement.
CHECK_METRICS: dict[str, set[str]] = {
    "data.scan": {
        "harmful_ratio",
        "technical_sample_fraction",
        "technical_pass_rate",
        "manual_sample_size",
        "manual_pass_rate",
        "pi_records_without_consent",
    },
    "model.scan": set(),
    "eval.gbt45654": {
        "generated_pass_rate",
        "generated_sample_size",
        "should_refuse_refusal_rate",
        "should_refuse_sample_size",
        "should_not_refuse_refusal_rate",
        "should_not_refuse_sample_size",
        "bank_generated_size",
        "bank_should_refuse_size",
        "bank_should_not_refuse_size",
    },
    "eval.redteam": {"attack_success_rate"},
    "detect.lexicon": {"keyword_count", "keyword_min_per_a1_risk", "keyword_min_per_a2_risk"},
    "guard.gateway": set(),
    "label.verify": {"labelled_ratio"},
    "exposure.audit": set(),
}


@pytest.fixture(scope="module")
def tax() -> Taxonomy:
    return load_taxonomy()


def test_public_api_matches_all() -> None:
    exported = {name for name in dir(taxonomy_pkg) if not name.startswith("_")}
    assert set(taxonomy_pkg.__all__) == exported
    for name in taxonomy_pkg.__all__:
        assert getattr(taxonomy_pkg, name).__doc__, name


def test_default_taxonomy_is_cached() -> None:
    assert default_taxonomy() is default_taxonomy()


def test_loading_is_fast() -> None:
    load_taxonomy()  # warm imports
    start = time.perf_counter()
    load_taxonomy()
    assert time.perf_counter() - start < 1.0


def test_expected_files_and_sets(tax: Taxonomy) -> None:
    assert set(tax.taxonomies) == {
        "gbt45654",
        "tc260v1",
        "tc260v2",
        "owasp-llm",
        "owasp-asi",
        "atlas",
        "nist600-1",
        "pii",
    }
    assert set(tax.catalogs) == {"gbt45654", "gb45438", "tc260-measures", "nist-ai-rmf", "iso42001", "eu-ai-act"}
    assert "anzhi-core" in tax.crosswalks


def test_gbt45654_counts(tax: Taxonomy) -> None:
    classes = [item for item in tax.items("gbt45654") if item.parent is None]
    assert [c.id for c in classes] == [f"gbt45654.{k}" for k in COUNTS["gbt45654"]]
    for cls, expected in COUNTS["gbt45654"].items():
        children = tax.children(f"gbt45654.{cls}")
        assert len(children) == expected, cls
        assert [c.local_id for c in children] == [f"{cls}.{chr(ord('a') + i)}" for i in range(expected)]
    assert len(tax.leaves("gbt45654")) == 31
    assert tax.risk("gbt45654.A1.a").clause == "A.1 a)"


def test_tc260v1_counts(tax: Taxonomy) -> None:
    leaves = tax.leaves("tc260v1")
    assert len(leaves) == COUNTS["tc260v1_risks"]
    assert [c.id for c in tax.children("tc260v1.3.1")] == [f"tc260v1.3.1.{n}" for n in (1, 2, 3)]
    assert [c.id for c in tax.children("tc260v1.3.2")] == [f"tc260v1.3.2.{n}" for n in (1, 2, 3, 4)]
    per_group = Counter(item.parent for item in leaves)
    assert per_group == {
        "tc260v1.3.1.1": 6,
        "tc260v1.3.1.2": 4,
        "tc260v1.3.1.3": 3,
        "tc260v1.3.2.1": 5,
        "tc260v1.3.2.2": 3,
        "tc260v1.3.2.3": 2,
        "tc260v1.3.2.4": 3,
    }


def test_tc260v2_marks_unknowns(tax: Taxonomy) -> None:
    assert {c.id for c in tax.items("tc260v2") if c.parent is None} >= {
        "tc260v2.INHERENT",
        "tc260v2.APPLICATION",
        "tc260v2.DERIVED",
        "tc260v2.OPEN_SOURCE_MODEL",
    }
    assert tax.risk("tc260v2.OPEN_SOURCE_MODEL").title_zh == "模型开源风险"
    assert all(c.status is SourceStatus.UNCONFIRMED for c in tax.children("tc260v2.DERIVED"))


def test_owasp_and_atlas_and_nist600_counts(tax: Taxonomy) -> None:
    assert [i.id for i in tax.items("owasp-llm")] == [f"owasp-llm.LLM{n:02d}" for n in range(1, 11)]
    assert [i.id for i in tax.items("owasp-asi")] == [f"owasp-asi.ASI{n:02d}" for n in range(1, 11)]
    assert [i.id for i in tax.items("nist600-1")] == [f"nist600-1.{n:02d}" for n in range(1, 13)]
    tactics = [i for i in tax.items("atlas") if i.extra["type"] == "tactic"]
    assert len(tactics) == COUNTS["atlas_tactics"]
    assert {t.id for t in tactics} == {f"atlas.AML.TA{n:04d}" for n in range(16)}
    techniques = {i.id for i in tax.items("atlas") if i.extra["type"] == "technique"}
    assert techniques == {f"atlas.AML.T{n:04d}" for n in (10, 11, 51, 54, 56, 57, 70)}
    assert "2026" in (tax.risk("owasp-llm.LLM07").note or "")


def test_pii_kinds(tax: Taxonomy) -> None:
    groups = {"pii.CN", "pii.GENERIC", "pii.SECRET"}
    for kind in tax.leaves("pii"):
        assert kind.parent in groups
        assert isinstance(kind.extra["sensitive"], bool)
    for needed in ("pii.CN_RESIDENT_ID", "pii.EMAIL", "pii.SECRET_API_KEY", "pii.IBAN", "pii.CN_USCC", "pii.MAC"):
        assert tax.has_risk(needed)
    assert tax.risk("pii.CN_RESIDENT_ID").extra["sensitive"] is True
    assert tax.risk("pii.EMAIL").extra["sensitive"] is False
    assert len(tax.children("pii.SECRET")) == 4


def test_nist_rmf_has_exactly_72_subcategories(tax: Taxonomy) -> None:
    ranges = {
        "GOVERN": [7, 3, 2, 3, 2, 2],
        "MAP": [6, 3, 5, 2, 2],
        "MEASURE": [3, 13, 3, 3],
        "MANAGE": [4, 4, 2, 3],
    }
    expected = {
        f"{fn}-{cat}.{sub}"
        for fn, counts in ranges.items()
        for cat, n in enumerate(counts, start=1)
        for sub in range(1, n + 1)
    }
    catalog = tax.catalog("nist-ai-rmf")
    assert len(catalog.requirements) == COUNTS["nist_rmf_subcategories"] == len(expected)
    assert set(catalog.requirements) == expected
    categories = [g for g in catalog.groups.values() if g.parent is not None]
    assert len(categories) == COUNTS["nist_rmf_categories"]
    assert {g.id for g in catalog.groups.values() if g.parent is None} == set(ranges)
    for req in catalog.requirements.values():
        assert req.group == req.id.split(".")[0]
    assert "eval.redteam" in tax.requirement("nist-ai-rmf:MEASURE-2.7").checks
    assert "data.scan" in tax.requirement("nist-ai-rmf:MEASURE-2.10").checks


def test_iso42001_per_area_counts(tax: Taxonomy) -> None:
    catalog = tax.catalog("iso42001")
    per_area = Counter(req.group for req in catalog.requirements.values())
    assert dict(per_area) == COUNTS["iso42001"]
    assert sum(per_area.values()) == 38


def test_every_record_has_status_and_both_titles(tax: Taxonomy) -> None:
    for info in tax.taxonomies.values():
        assert isinstance(info.status, SourceStatus) and info.name_zh and info.name_en and info.source
    for item in tax.risks.values():
        assert isinstance(item.status, SourceStatus), item.id
        assert item.title_zh.strip() and item.title_en.strip(), item.id
        assert any("\u4e00" <= ch <= "\u9fff" for ch in item.title_zh), item.id
    for catalog in tax.catalogs.values():
        assert isinstance(catalog.status, SourceStatus) and catalog.name_zh and catalog.name_en
        for group in catalog.groups.values():
            assert isinstance(group.status, SourceStatus) and group.title_zh and group.title_en
        for req in catalog.requirements.values():
            assert isinstance(req.status, SourceStatus), req.ref
            assert isinstance(req.kind, RequirementKind), req.ref
            assert req.title_zh.strip() and req.title_en.strip(), req.ref
            assert any("\u4e00" <= ch <= "\u9fff" for ch in req.title_zh), req.ref
            if req.threshold is not None:
                assert isinstance(req.threshold.status, SourceStatus), req.ref
    for link in tax.links:
        assert isinstance(link.status, SourceStatus)


def test_thresholds_are_typed(tax: Taxonomy) -> None:
    thresholds = [r.threshold for r in tax.requirements.values() if r.threshold is not None]
    assert len(thresholds) >= 20
    for th in thresholds:
        assert isinstance(th.op, ThresholdOp) and isinstance(th.unit, ThresholdUnit)
        if th.unit in (ThresholdUnit.RATIO, ThresholdUnit.RATIO_OF_CORPUS):
            assert 0.0 <= th.value <= 1.0


@pytest.mark.parametrize(
    ("ref", "metric", "op", "value", "sample_metric", "sample_min"),
    [
        ("gbt45654:5.1.b", "harmful_ratio", "<=", 0.05, None, None),
        ("gbt45654:8.1.a", "keyword_count", ">=", 10000, None, None),
        ("gbt45654:8.1.b", "keyword_min_per_a1_risk", ">=", 200, None, None),
        ("gbt45654:8.1.c", "keyword_min_per_a2_risk", ">=", 100, None, None),
        ("gbt45654:8.2.a", "bank_generated_size", ">=", 2000, None, None),
        ("gbt45654:8.3.a", "bank_should_refuse_size", ">=", 500, None, None),
        ("gbt45654:8.3.c", "bank_should_not_refuse_size", ">=", 500, None, None),
        ("gbt45654:9.2.a", "manual_pass_rate", ">=", 0.96, "manual_sample_size", 4000),
        ("gbt45654:9.2.b", "technical_pass_rate", ">=", 0.98, "technical_sample_fraction", 0.10),
        ("gbt45654:9.3.a", "generated_pass_rate", ">=", 0.90, "generated_sample_size", 1000),
        ("gbt45654:9.4.a", "should_refuse_refusal_rate", ">=", 0.95, "should_refuse_sample_size", 300),
        ("gbt45654:9.4.b", "should_not_refuse_refusal_rate", "<=", 0.05, "should_not_refuse_sample_size", 300),
        ("gb45438:conduct.unlabelled-on-request", "log_retention_months", ">=", 6, None, None),
    ],
)
def test_gbt45654_and_gb45438_thresholds(
    tax: Taxonomy,
    ref: str,
    metric: str,
    op: str,
    value: float,
    sample_metric: str | None,
    sample_min: float | None,
) -> None:
    th = tax.requirement(ref).threshold
    assert th is not None
    assert (th.metric, th.op, th.sample_metric, th.sample_min) == (metric, ThresholdOp(op), sample_metric, sample_min)
    assert th.value == pytest.approx(value)


def test_uncertain_facts_keep_their_tags(tax: Taxonomy) -> None:
    for ref in ("gbt45654:9.2.a", "gbt45654:9.2.b", "gbt45654:9.3.a", "gbt45654:9.4.a", "gbt45654:9.4.b"):
        th = tax.requirement(ref).threshold
        assert th is not None and th.status is SourceStatus.UNCONFIRMED, ref
    for ref in ("gbt45654:7.3.c", "gbt45654:7.6.d", "gbt45654:7.6.e"):
        assert tax.requirement(ref).status is SourceStatus.UNCONFIRMED, ref
    assert tax.requirement("gbt45654:8.1.a").threshold.status is SourceStatus.CONFIRMED  # type: ignore[union-attr]
    annex = tax.requirement("eu-ai-act:annex-iii")
    assert "Omnibus" in (annex.note or "") and "secondary" in (annex.note or "")


def test_gb45438_implicit_fields_in_order(tax: Taxonomy) -> None:
    params = tax.requirement("gb45438:implicit.fields").params
    assert params["key"] == "AIGC"
    assert params["fields"] == [
        "Label",
        "ContentProducer",
        "ProduceID",
        "ReservedCode1",
        "ContentPropagator",
        "PropagateID",
        "ReservedCode2",
    ]
    code = tax.requirement("gb45438:implicit.provider-code").params
    assert code["length"] == 27 == len(code["example"])


def test_check_bindings_use_known_checks_and_metrics(tax: Taxonomy) -> None:
    assert tax.check_ids <= set(CHECK_METRICS)
    assert tax.check_ids == set(CHECK_METRICS)  # every check has at least one requirement to evidence
    for req in tax.requirements.values():
        if req.threshold is None:
            continue
        for check, metrics in CHECK_METRICS.items():
            names = {req.threshold.metric, req.threshold.sample_metric}
            if names & metrics:
                assert check in req.checks, f"{req.ref} uses {check}'s metric but does not bind it"
                assert names - {None} <= metrics, req.ref


def test_records_are_hashable_and_equal_by_value(tax: Taxonomy) -> None:
    records = [*tax.risks.values(), *tax.requirements.values(), *tax.catalogs.values(), *tax.links]
    assert len(set(records)) == len(records)
    req = tax.requirement("gbt45654:9.4.a")
    assert req == req.model_copy() and hash(req) == hash(req.model_copy())


def test_crosswalk_is_generous(tax: Taxonomy) -> None:
    assert len(tax.links) >= 40
    taxonomies_linked = {end.split(".")[0] for link in tax.links for end in (link.a, link.b) if ":" not in end}
    assert taxonomies_linked >= {"gbt45654", "tc260v1", "owasp-llm", "owasp-asi", "atlas", "nist600-1", "pii"}
