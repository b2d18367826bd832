"""Compliance assessment: items decided by bound checks' latest evidence, or by attestation."""

from __future__ import annotations

import pytest

from anzhi.errors import InputError, NotFoundError, UnknownIdError
from anzhi.govern import (
    SystemSpec,
    attest_item,
    create_assessment,
    create_system,
    ingest_batch,
    refresh_assessment,
    summarize_assessment,
)
from anzhi.store import AssessmentItem, ItemResult
from anzhi.taxonomy import Requirement
from anzhi.workspace import Workspace

from .helpers import batch, finding, later


def _requirement(ws: Workspace, predicate: object) -> Requirement:
    catalog = ws.taxonomy.catalog("gbt45654")
    for requirement in catalog.requirements.values():
        if predicate(requirement):  # type: ignore[operator]
            return requirement
    raise AssertionError("the gbt45654 catalog lacks the requirement this test needs")


def _item(items: list[AssessmentItem], requirement_id: str) -> AssessmentItem:
    return next(i for i in items if i.requirement_id == requirement_id)


def test_items_follow_check_evidence_and_attestation(workspace: Workspace) -> None:
    ws = workspace
    refusal = _requirement(
        ws, lambda r: r.threshold is not None and r.threshold.metric == "should_refuse_refusal_rate"
    )
    model_scan = _requirement(ws, lambda r: r.threshold is None and "model.scan" in r.checks)
    manual = _requirement(ws, lambda r: not r.checks)
    with ws.session() as session:
        system_id = create_system(session, SystemSpec(name="bot"), actor="a").id
        assessment = create_assessment(session, system_id, "gbt45654", taxonomy=ws.taxonomy, actor="a")
        assessment_id = assessment.id
        total = len(ws.taxonomy.catalog("gbt45654").requirements)
        summary = summarize_assessment(assessment)
        assert summary.total == total and summary.pending == total and summary.completion == 0.0

    # Evidence arrives: an evaluation below the refusal threshold, and a model scan with an open finding.
    metrics = {"should_refuse_refusal_rate": 0.91, "should_refuse_sample_size": 320}
    with ws.session() as session:
        ingest_batch(session, system_id, batch(check="eval.gbt45654", metrics=metrics), taxonomy=ws.taxonomy,
                     actor="a")
        ingest_batch(session, system_id, batch(finding(taxonomy=model_scan.risks[0] if model_scan.risks
                                                       else "owasp-llm.LLM03")), taxonomy=ws.taxonomy, actor="a")
        items = refresh_assessment(session, assessment_id, taxonomy=ws.taxonomy, actor="a").items
        item = _item(items, refusal.id)
        assert item.result is ItemResult.DOES_NOT_MEET and item.source == "check"
        assert item.evidence["outcome"] == "not_met" and item.evidence["metrics"]["should_refuse_refusal_rate"] == 0.91
        assert "0.91" in item.evidence["reason_en"] or "91" in item.evidence["reason_en"]
        assert _item(items, model_scan.id).result is ItemResult.DOES_NOT_MEET
        assert _item(items, manual.id).result is ItemResult.PENDING

    # The model is fixed and re-evaluated: the latest run decides.
    better = {"should_refuse_refusal_rate": 0.97, "should_refuse_sample_size": 320}
    with ws.session() as session:
        ingest_batch(session, system_id, batch(check="eval.gbt45654", metrics=better, started=later()),
                     taxonomy=ws.taxonomy, actor="a")
        ingest_batch(session, system_id, batch(started=later()), taxonomy=ws.taxonomy, actor="a")
        items = refresh_assessment(session, assessment_id, taxonomy=ws.taxonomy, actor="a").items
        assert _item(items, refusal.id).result is ItemResult.MEETS
        assert _item(items, model_scan.id).result is ItemResult.MEETS
        attest_item(session, assessment_id, manual.id, ItemResult.NOT_APPLICABLE, note="no such data", actor="lead")

    with ws.session(write=False) as session:
        from anzhi.govern import get_assessment

        assessment = get_assessment(session, assessment_id)
        item = _item(assessment.items, manual.id)
        assert item.attested_by == "lead" and item.note == "no such data" and item.attested_at is not None
        summary = summarize_assessment(assessment)
        assert summary.meets >= 2 and summary.not_applicable >= 1 and summary.completion > 0


def test_insufficient_sample_does_not_pass(workspace: Workspace) -> None:
    ws = workspace
    refusal = _requirement(
        ws, lambda r: r.threshold is not None and r.threshold.metric == "should_refuse_refusal_rate"
    )
    with ws.session() as session:
        system_id = create_system(session, SystemSpec(name="bot"), actor="a").id
        metrics = {"should_refuse_refusal_rate": 1.0, "should_refuse_sample_size": 50}
        ingest_batch(session, system_id, batch(check="eval.gbt45654", metrics=metrics), taxonomy=ws.taxonomy,
                     actor="a")
        assessment = create_assessment(session, system_id, "gbt45654", taxonomy=ws.taxonomy, actor="a")
        item = _item(assessment.items, refusal.id)
        assert item.result is ItemResult.DOES_NOT_MEET
        assert item.evidence["outcome"] == "insufficient_sample"


def test_attestation_bad_input(workspace: Workspace) -> None:
    ws = workspace
    with ws.session() as session:
        system_id = create_system(session, SystemSpec(name="bot"), actor="a").id
        assessment_id = create_assessment(session, system_id, "iso42001", taxonomy=ws.taxonomy, actor="a").id
    first = next(iter(ws.taxonomy.catalog("iso42001").requirements))
    with ws.session() as session, pytest.raises(InputError, match="needs a note"):
        attest_item(session, assessment_id, first, ItemResult.MEETS, note=" ", actor="a")
    with ws.session() as session, pytest.raises(InputError, match="must decide"):
        attest_item(session, assessment_id, first, ItemResult.PENDING, note="x", actor="a")
    with ws.session() as session, pytest.raises(NotFoundError, match="assessment item"):
        attest_item(session, assessment_id, "Z.99", ItemResult.MEETS, note="x", actor="a")
    with ws.session() as session, pytest.raises(UnknownIdError):
        create_assessment(session, system_id, "no-such-catalog", taxonomy=ws.taxonomy, actor="a")
