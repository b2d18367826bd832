"""The closed loop over HTTP: findings in → risk → assessed → treating → verifying → clean run → closed → reopened."""

from __future__ import annotations

from typing import Any

from .helpers import TestClient, Tokens, bearer, create_system, document, finding, import_findings, sarif, sarif_result


def _risk(client: TestClient, token: str, risk_id: int) -> dict[str, Any]:
    response = client.get(f"/api/v1/risks/{risk_id}", headers=bearer(token))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _move(client: TestClient, token: str, risk_id: int, target: str, **fields: Any) -> dict[str, Any]:
    response = client.post(f"/api/v1/risks/{risk_id}/transitions", json={"target": target, **fields},
                           headers=bearer(token))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["status"] == target
    return body


def test_closed_loop_end_to_end(client: TestClient, tokens: Tokens) -> None:
    assessor, viewer = tokens.assessor, tokens.viewer
    system_id = create_system(client, assessor, "chatbot", sector="finance", owner="ai-team")

    first = import_findings(client, assessor, system_id, document(finding("R-1"), finding("R-2", file="b.pkl")))
    (run,) = first["runs"]
    assert run["new"] == 2 and run["received"] == 2 and len(run["risks_created"]) == 1
    risk_id = run["risks_created"][0]

    risk = _risk(client, viewer, risk_id)
    assert risk["status"] == "identified" and risk["taxonomy_id"] == "gbt45654.A4.e"
    assert risk["open_findings"] == 2 and risk["findings_total"] == 2
    assert risk["allowed_transitions"] == ["assessed"]
    listed = client.get("/api/v1/risks", params={"system_id": system_id, "open_only": True}, headers=bearer(viewer))
    assert [r["id"] for r in listed.json()["items"]] == [risk_id]

    assessed = _move(client, assessor, risk_id, "assessed", likelihood=4, impact=4, note="confirmed by red team")
    assert assessed["level"] == "very_high" and assessed["graded"]
    assert assessed["allowed_transitions"] == ["treating", "accepted"]

    control = client.post("/api/v1/controls", json={"key": "C-PII-1", "title": "mask PII in training data",
                                                    "catalog_ref": "gbt45654:5.1.a"}, headers=bearer(assessor))
    assert control.status_code == 201, control.text
    treating = _move(client, assessor, risk_id, "treating", treatment="mitigate", owner="dpo",
                     treatment_plan="scrub the corpus", control_ids=[control.json()["id"]])
    assert [c["key"] for c in treating["controls"]] == ["C-PII-1"]
    assert treating["treatment_started_at"] is not None

    _move(client, assessor, risk_id, "verifying")

    clean = import_findings(client, assessor, system_id, document())  # the same check runs again, finds nothing
    assert clean["runs"][0]["resolved"] == 2 and clean["runs"][0]["risks_verified"] == [risk_id]
    verified = _risk(client, viewer, risk_id)
    assert verified["status"] == "monitoring" and verified["open_findings"] == 0
    assert verified["verified_run_id"] == clean["runs"][0]["run_id"]
    resolved = client.get("/api/v1/findings", params={"risk_id": risk_id, "status": "resolved"},
                          headers=bearer(viewer))
    assert resolved.json()["total"] == 2

    closed = _move(client, assessor, risk_id, "closed", note="treatment held")
    assert closed["closed_at"] is not None and closed["allowed_transitions"] == []

    again = import_findings(client, assessor, system_id, document(finding("R-1")))
    assert again["runs"][0]["risks_reopened"] == [risk_id] and again["runs"][0]["recurring"] == 1
    reopened = _risk(client, viewer, risk_id)
    assert reopened["status"] == "identified" and reopened["reopen_count"] == 1 and reopened["closed_at"] is None

    history = client.get(f"/api/v1/risks/{risk_id}/history", headers=bearer(viewer)).json()
    assert [(e["kind"], e["to_status"]) for e in history] == [
        ("identified", "identified"), ("transition", "assessed"), ("transition", "treating"),
        ("transition", "verifying"), ("verified", "monitoring"), ("transition", "closed"),
        ("reopened", "identified"),
    ]
    assert {e["actor"] for e in history if e["kind"] == "transition"} == {"alice"}

    runs = client.get("/api/v1/check-runs", params={"system_id": system_id}, headers=bearer(viewer)).json()
    assert runs["total"] == 3 and [r["finding_count"] for r in runs["items"]] == [1, 0, 2]

    audit = client.get("/api/v1/audit/verify", headers=bearer(viewer)).json()
    assert audit["ok"] and audit["checked"] > 10 and audit["problems"] == []
    events = client.get("/api/v1/audit/events", params={"action": "risk.transition", "limit": 2},
                        headers=bearer(viewer)).json()
    assert events["total"] == 4 and len(events["items"]) == 2
    assert events["items"][0]["seq"] > events["items"][1]["seq"]


def test_sarif_import_creates_risks_and_a_clean_log_resolves_them(client: TestClient, tokens: Tokens) -> None:
    system_id = create_system(client, tokens.assessor)
    log = sarif(sarif_result("S-1", taxonomy="owasp-llm.LLM01"), sarif_result("S-2", uri="b.py"))
    response = client.post(f"/api/v1/systems/{system_id}/findings/sarif", json=log, headers=bearer(tokens.assessor),
                           params={"check_id": "sast.scan", "taxonomy": "gbt45654.A4.e"})
    assert response.status_code == 201, response.text
    (run,) = response.json()["runs"]
    assert run["check_id"] == "sast.scan" and run["new"] == 2 and len(run["risks_created"]) == 2

    findings = client.get("/api/v1/findings", params={"system_id": system_id, "check_id": "sast.scan"},
                          headers=bearer(tokens.viewer)).json()
    assert sorted(f["taxonomy_id"] for f in findings["items"]) == ["gbt45654.A4.e", "owasp-llm.LLM01"]

    clean = client.post(f"/api/v1/systems/{system_id}/findings/sarif", json=sarif(), headers=bearer(tokens.assessor),
                        params={"check_id": "sast.scan"})
    assert clean.status_code == 201 and clean.json()["runs"][0]["resolved"] == 2


def test_sarif_runs_of_one_tool_are_one_check_run(client: TestClient, tokens: Tokens) -> None:
    system_id = create_system(client, tokens.assessor)
    log = sarif(sarif_result("S-1", uri="a.py"), tool="codeql")
    log["runs"].append(sarif(sarif_result("S-2", uri="b.js"), tool="codeql")["runs"][0])
    response = client.post(f"/api/v1/systems/{system_id}/findings/sarif", json=log, headers=bearer(tokens.assessor),
                           params={"taxonomy": "owasp-llm.LLM05"})
    assert response.status_code == 201, response.text
    (run,) = response.json()["runs"]
    assert run["check_id"] == "sarif.codeql" and run["new"] == 2 and run["resolved"] == 0
    findings = client.get("/api/v1/findings", params={"system_id": system_id, "status": "open"},
                          headers=bearer(tokens.viewer)).json()
    assert findings["total"] == 2
