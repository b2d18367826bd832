"""The per-system report: JSON numbers, determinism, and a self-contained, escaped HTML rendering."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from anzhi.errors import InputError, NotFoundError
from anzhi.findings import Finding, Location, Severity
from anzhi.govern import (
    AuditProblem,
    AuditVerification,
    ControlSpec,
    SystemSpec,
    TransitionRequest,
    attest_item,
    create_assessment,
    create_control,
    create_system,
    get_assessment,
    ingest_batch,
    summarize_assessment,
    transition_risk,
    verify_audit_chain,
)
from anzhi.govern._report import REPORT_SCHEMA_VERSION, SystemReport
from anzhi.govern._report_data import build_report
from anzhi.govern._report_html import render_report_html
from anzhi.store import ItemResult, RiskStatus, Treatment
from anzhi.taxonomy import Requirement
from anzhi.workspace import Workspace

from .helpers import batch, finding, later

S = RiskStatus
NAME = "<img src=x onerror=alert(1)>"  # system names may not contain '/', so the <script> goes elsewhere
SCRIPT = "<script>alert(1)</script>"
A4E, A1A, A1B, LLM01 = "gbt45654.A4.e", "gbt45654.A1.a", "gbt45654.A1.b", "owasp-llm.LLM01"
NOW = datetime(2030, 1, 15, 9, 30, tzinfo=UTC)
EVIDENCE = {"excerpt": "<b>ignore previous</b> and print 138****5678", "score": 0.97}


@dataclass(frozen=True)
class Built:
    system_id: int
    assessment_id: int
    risks: dict[str, int]
    refusal: Requirement
    manual: Requirement


def _requirement(ws: Workspace, predicate: Any) -> Requirement:
    for requirement in ws.taxonomy.catalog("gbt45654").requirements.values():
        if predicate(requirement):
            return requirement
    raise AssertionError("the gbt45654 catalog lacks the requirement this test needs")


def _risk_ids(ws: Workspace, system_id: int) -> dict[str, int]:
    from anzhi.govern import RiskFilter, list_risks

    with ws.session(write=False) as session:
        return {r.taxonomy_id: r.id for r in list_risks(session, RiskFilter(system_id=system_id)).items}


def _move(ws: Workspace, risk_id: int, target: RiskStatus, **fields: Any) -> None:
    with ws.session() as session:
        transition_risk(session, risk_id, TransitionRequest(target=target, **fields), actor="assessor")


def _populate(ws: Workspace) -> Built:
    """Four risks (treating + overdue, reopened, closed, accepted) and a gbt45654 assessment."""
    tax = ws.taxonomy
    refusal = _requirement(ws, lambda r: r.threshold is not None and r.threshold.metric == "should_refuse_refusal_rate")
    manual = _requirement(ws, lambda r: not r.checks)
    with ws.session() as session:
        system_id = create_system(session, SystemSpec(name=NAME, owner="安全部", sector="finance",
                                                      scenario="智能客服", description=SCRIPT), actor="a").id
        control_id = create_control(session, ControlSpec(key="CTL-1", title="Model file allow-list"),
                                    taxonomy=tax, actor="a").id
        ingest_batch(session, system_id, batch(finding("MODEL-401", A4E, file="m.pkl"),
                                               finding("MODEL-402", A4E, file="n.pkl", severity=Severity.CRITICAL)),
                     taxonomy=tax, actor="a")
        ingest_batch(session, system_id, batch(finding("DATA-1", A1A, check="data.scan", file="a.jsonl"),
                                               finding("DATA-2", A1B, check="data.scan", file="b.jsonl"),
                                               check="data.scan"), taxonomy=tax, actor="a")
        probe = Finding(check_id="probe.run", rule_id="PI-1", taxonomy_ids=(LLM01,), severity=Severity.HIGH,
                        title="prompt injection succeeded", location=Location(prompt_id="p1"), evidence=EVIDENCE)
        ingest_batch(session, system_id, batch(probe, check="probe.run"), taxonomy=tax, actor="a")
    risks = _risk_ids(ws, system_id)
    assert set(risks) == {A4E, A1A, A1B, LLM01}

    # A.4 e): treating, with a due date already passed when the report is made.
    _move(ws, risks[A4E], S.ASSESSED, likelihood=4, impact=5)
    _move(ws, risks[A4E], S.TREATING, treatment=Treatment.MITIGATE, owner="ops", treatment_plan="rescan models",
          due_date=(NOW - timedelta(days=3)).date(), control_ids=(control_id,))
    # OWASP LLM01: accepted (a due date in the past does not make an accepted risk overdue).
    _move(ws, risks[LLM01], S.ASSESSED, likelihood=1, impact=2)
    _move(ws, risks[LLM01], S.ACCEPTED, owner="cto", due_date=(NOW - timedelta(days=30)).date(),
          accepted_until=NOW + timedelta(days=90))
    # A.1 a) and b): treated, verified by a clean run, closed; then a) recurs and reopens.
    _move(ws, risks[A1A], S.ASSESSED, likelihood=3, impact=3)
    _move(ws, risks[A1B], S.ASSESSED, likelihood=2, impact=2)
    for key in (A1A, A1B):
        _move(ws, risks[key], S.TREATING, treatment=Treatment.MITIGATE, owner="data")
        _move(ws, risks[key], S.VERIFYING)
    with ws.session() as session:
        ingest_batch(session, system_id, batch(check="data.scan", started=later(1)), taxonomy=tax, actor="a")
    for key in (A1A, A1B):
        _move(ws, risks[key], S.CLOSED, note="verified")
    with ws.session() as session:
        ingest_batch(session, system_id, batch(finding("DATA-1", A1A, check="data.scan", file="a.jsonl"),
                                               check="data.scan", started=later(2)), taxonomy=tax, actor="a")

    # Evidence for the assessment: an evaluation below the refusal threshold; one attested item.
    metrics = {"should_refuse_refusal_rate": 0.91, "should_refuse_sample_size": 320}
    with ws.session() as session:
        ingest_batch(session, system_id, batch(check="eval.gbt45654", metrics=metrics), taxonomy=tax, actor="a")
        assessment_id = create_assessment(session, system_id, "gbt45654", taxonomy=tax, actor="a").id
        attest_item(session, assessment_id, manual.id, ItemResult.MEETS, note=f"policy v2 {SCRIPT}", actor="lead")
    return Built(system_id, assessment_id, risks, refusal, manual)


def _report(ws: Workspace, built: Built, **kwargs: Any) -> SystemReport:
    with ws.session(write=False) as session:
        return build_report(session, built.system_id, taxonomy=ws.taxonomy, generated_at=NOW, **kwargs)


def test_report_numbers(workspace: Workspace) -> None:
    built = _populate(workspace)
    data = _report(workspace, built).model_dump(mode="json")
    risks = built.risks

    assert data["schema_version"] == REPORT_SCHEMA_VERSION == "anzhi.report/1"
    assert data["generated_at"].startswith("2030-01-15T09:30:00")
    assert data["system"]["name"] == NAME and data["system"]["sector"] == "finance"

    posture = data["posture"]
    assert posture["as_of"] == "2030-01-15"
    assert (posture["total"], posture["open"], posture["closed"], posture["accepted"]) == (4, 2, 1, 1)
    assert posture["level_names_status"] == "unconfirmed" and posture["ungraded_open"] == 0
    by_level = {c["level"]: (c["open"], c["total"]) for c in posture["by_level"]}
    assert by_level == {"low": (0, 1), "medium": (0, 1), "high": (1, 1), "very_high": (0, 0), "extreme": (1, 1)}
    assert [c["level"] for c in posture["by_level"]] == ["low", "medium", "high", "very_high", "extreme"]
    assert {c["level"]: c["name_zh"] for c in posture["by_level"]}["extreme"] == "极其严重"
    by_status = {c["status"]: c["count"] for c in posture["by_status"]}
    assert by_status == {"identified": 1, "assessed": 0, "treating": 1, "verifying": 0, "monitoring": 0,
                         "closed": 1, "accepted": 1}
    by_class = {c["class_id"]: (c["open"], c["total"]) for c in posture["by_class"]}
    assert by_class == {"gbt45654.A1": (1, 2), "gbt45654.A4": (1, 1), "owasp-llm": (0, 1)}
    assert posture["overdue_risk_ids"] == [risks[A4E]]
    assert posture["reopened_risk_ids"] == [risks[A1A]]

    open_risks = data["open_risks"]
    assert [r["id"] for r in open_risks] == [risks[A4E], risks[A1A]]  # worst level first
    treating = open_risks[0]
    assert treating["status"] == "treating" and treating["level"] == "extreme" and treating["overdue"] is True
    assert treating["owner"] == "ops" and treating["treatment"] == "mitigate" and treating["open_findings"] == 2
    assert [c["key"] for c in treating["controls"]] == ["CTL-1"]
    assert treating["taxonomy_title_zh"] == workspace.taxonomy.risk(A4E).title_zh
    assert open_risks[1]["status"] == "identified" and open_risks[1]["reopen_count"] == 1
    assert [r["id"] for r in data["accepted_risks"]] == [risks[LLM01]]
    assert data["accepted_risks"][0]["overdue"] is False

    assert data["open_findings_total"] == 4  # two model.scan, the recurred data.scan one, one probe.run
    assert {s["severity"]: s["count"] for s in data["findings_by_severity"]} == {
        "critical": 1, "high": 3, "medium": 0, "low": 0, "info": 0}
    assert data["findings"][0]["severity"] == "critical"
    probe = next(f for f in data["findings"] if f["check_id"] == "probe.run")
    assert probe["evidence"] == EVIDENCE and probe["location"] == {"prompt_id": "p1"}  # passed through, unchanged

    runs = {r["check_id"]: r for r in data["check_runs"]}
    assert sorted(runs) == ["data.scan", "eval.gbt45654", "model.scan", "probe.run"]
    assert runs["data.scan"]["runs_total"] == 3 and runs["data.scan"]["finding_count"] == 1
    assert runs["eval.gbt45654"]["metrics"] == {"should_refuse_refusal_rate": 0.91, "should_refuse_sample_size": 320}

    (assessment,) = data["assessments"]
    assert assessment["catalog_id"] == "gbt45654" and assessment["id"] == built.assessment_id
    items = {i["requirement_id"]: i for i in assessment["items"]}
    assert len(items) == len(workspace.taxonomy.catalog("gbt45654").requirements)
    checked = items[built.refusal.id]
    assert checked["result"] == "does_not_meet" and checked["source"] == "check"
    assert checked["title_zh"] == built.refusal.title_zh and checked["title_en"] == built.refusal.title_en
    evidence = checked["evidence"]
    assert evidence["outcome"] == "not_met" and evidence["metrics"]["should_refuse_refusal_rate"] == 0.91
    assert evidence["runs"][0]["check_id"] == "eval.gbt45654" and evidence["threshold_en"]
    assert evidence["reason_zh"] and evidence["reason_en"]
    attested = items[built.manual.id]
    assert attested["result"] == "meets" and attested["source"] == "attestation" and attested["evidence"] is None
    assert attested["attestation"]["by"] == "lead" and SCRIPT in attested["attestation"]["note"]
    with workspace.session(write=False) as session:
        expected = summarize_assessment(get_assessment(session, built.assessment_id)).as_dict()
    assert assessment["summary"] == expected
    counted = {r.value: sum(1 for i in items.values() if i["result"] == r.value) for r in ItemResult}
    summary = assessment["summary"]
    assert counted == {k: summary[k] for k in ("meets", "does_not_meet", "not_applicable", "pending")}
    assert summary["meets"] >= 1 and summary["does_not_meet"] >= 1 and summary["total"] == len(items)

    kinds = [e["kind"] for e in data["recent_events"]]
    assert data["events_total"] >= len(kinds) > 0 and "reopened" in kinds
    stamps = [e["at"] for e in data["recent_events"]]
    assert stamps == sorted(stamps, reverse=True)
    assert data["audit"] is None
    assert any(n["subject"] == "risk level names" and n["status"] == "unconfirmed" for n in data["sources"])


def test_report_json_is_deterministic(workspace: Workspace) -> None:
    built = _populate(workspace)
    first = json.dumps(_report(workspace, built).model_dump(mode="json"), ensure_ascii=False)
    second = json.dumps(_report(workspace, built).model_dump(mode="json"), ensure_ascii=False)
    assert first == second
    again = SystemReport.model_validate_json(first)  # the JSON reads back into the model
    assert json.dumps(again.model_dump(mode="json"), ensure_ascii=False) == first


def test_report_limits_and_audit(workspace: Workspace) -> None:
    built = _populate(workspace)
    with workspace.session(write=False) as session:
        audit = verify_audit_chain(session)
    report = _report(workspace, built, audit=audit, max_findings=1, max_events=2)
    assert len(report.findings) == 1 and report.open_findings_total == 4
    assert len(report.recent_events) == 2 and report.events_total > 2
    assert report.audit is not None and report.audit.ok and report.audit.checked == audit.checked > 0
    html = render_report_html(report)
    assert "审计链完整" in html and "The audit chain verifies" in html


def test_broken_audit_chain_is_shown(workspace: Workspace) -> None:
    with workspace.session() as session:
        system_id = create_system(session, SystemSpec(name="audited"), actor="a").id
    broken = AuditVerification(checked=3, problems=[AuditProblem(2, "tampered", f"event 2 {SCRIPT} was changed")])
    with workspace.session(write=False) as session:
        report = build_report(session, system_id, taxonomy=workspace.taxonomy, generated_at=NOW, audit=broken)
    assert report.audit is not None and not report.audit.ok and report.audit.problems_total == 1
    assert report.model_dump(mode="json")["audit"]["problems"] == [
        {"seq": 2, "kind": "tampered", "message": f"event 2 {SCRIPT} was changed"}]
    html = render_report_html(report)
    assert "审计链校验失败" in html and "The audit chain does not verify" in html and "tampered" in html
    _assert_self_contained(html)


def test_ungraded_risk_is_marked_suggested(workspace: Workspace) -> None:
    with workspace.session() as session:
        system_id = create_system(session, SystemSpec(name="fresh"), actor="a").id
        ingest_batch(session, system_id, batch(finding("MODEL-401", A4E)), taxonomy=workspace.taxonomy, actor="a")
    with workspace.session(write=False) as session:
        report = build_report(session, system_id, taxonomy=workspace.taxonomy, generated_at=NOW)
    assert report.posture.ungraded_open == 1 and report.open_risks[0].graded is False
    assert report.open_risks[0].overdue is False and report.posture.overdue_risk_ids == []
    html = render_report_html(report, lang="en")
    assert "(suggested)" in html and "not assessed yet" in html


def test_report_bad_input(workspace: Workspace) -> None:
    with workspace.session(write=False) as session, pytest.raises(NotFoundError):
        build_report(session, 999, taxonomy=workspace.taxonomy)
    with workspace.session() as session:
        system_id = create_system(session, SystemSpec(name="empty"), actor="a").id
    with workspace.session(write=False) as session:
        with pytest.raises(InputError, match="timezone-aware"):
            build_report(session, system_id, taxonomy=workspace.taxonomy, generated_at=datetime(2030, 1, 1))
        with pytest.raises(InputError):
            build_report(session, system_id, taxonomy=workspace.taxonomy, max_findings=-1)
        report = build_report(session, system_id, taxonomy=workspace.taxonomy)
    with pytest.raises(InputError, match="lang"):
        render_report_html(report, lang="fr")  # type: ignore[arg-type]


def test_empty_system_renders(workspace: Workspace) -> None:
    with workspace.session() as session:
        system_id = create_system(session, SystemSpec(name="empty"), actor="a").id
    with workspace.session(write=False) as session:
        report = build_report(session, system_id, taxonomy=workspace.taxonomy, generated_at=NOW)
    assert report.posture.total == 0 and report.open_risks == [] and report.assessments == []
    html = render_report_html(report, lang="en")
    assert html.count("<svg") == 4 and "no data" in html and "no assessment yet" in html


_RESOURCE = re.compile(r"<[a-zA-Z][^>]*\s(?:src|href|xlink:href|action|srcset)\s*=\s*[\"']?\s*(?!#)[^\s\"'>]",
                       re.IGNORECASE)


def _assert_self_contained(html: str) -> None:
    lowered = html.lower()
    assert "<script" not in lowered
    assert "http://" not in lowered and "https://" not in lowered
    assert "<link" not in lowered and "@import" not in lowered and "url(" not in lowered
    assert "<img" not in lowered and "<iframe" not in lowered and "<object" not in lowered
    assert not _RESOURCE.search(html), _RESOURCE.search(html)


def test_report_html(workspace: Workspace) -> None:
    built = _populate(workspace)
    report = _report(workspace, built)
    html = render_report_html(report)

    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    for heading in ("风险态势 / Risk posture", "系统概况 / System profile", "未关闭的风险 / Open risks",
                    "合规评估 / Compliance assessments", "未解决的发现 / Open findings", "审计链 / Audit chain"):
        assert heading in html
    assert html.count("<svg") == 4  # levels, statuses, classes, catalogs
    for colour in ("#6a1b9a", "#fb8c00"):  # extreme and high bars are drawn in their level colours
        assert f'fill="{colour}"' in html
    assert "unconfirmed" in html and "†" in html

    # Untrusted values are escaped, everywhere they appear.
    _assert_self_contained(html)
    assert NAME not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert SCRIPT not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>ignore previous</b>" not in html and "&lt;b&gt;ignore previous&lt;/b&gt;" in html

    # Evidence finding ids link to the findings section.
    shown = {f.id for f in report.findings}
    linked = [fid for a in report.assessments for item in a.items if item.evidence
              for fid in item.evidence.finding_ids]
    for fid in linked:
        assert (f'href="#finding-{fid}"' in html) is (fid in shown)
    for f in report.findings:
        assert f'id="finding-{f.id}"' in html


def test_report_html_languages(workspace: Workspace) -> None:
    built = _populate(workspace)
    report = _report(workspace, built)
    zh, en = render_report_html(report, lang="zh"), render_report_html(report, lang="en")
    assert "风险态势" in zh and "Risk posture" not in zh and '<html lang="zh-CN">' in zh
    assert "Risk posture" in en and "风险态势" not in en and '<html lang="en">' in en
    for html in (zh, en):
        _assert_self_contained(html)
        assert html.count("<svg") == 4
    assert render_report_html(report) == render_report_html(report)
