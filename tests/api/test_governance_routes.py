"""Systems, assets, risk lists, controls and assessments over HTTP."""

from __future__ import annotations

from typing import Any

from anzhi.workspace import Workspace

from .helpers import TestClient, Tokens, bearer, counts, create_system, document, error_of, finding, import_findings

SHA = "a" * 64


def test_systems_and_assets(client: TestClient, tokens: Tokens, workspace: Workspace) -> None:
    auth, view = bearer(tokens.assessor), bearer(tokens.viewer)
    second = create_system(client, tokens.assessor, "zeta-bot")
    first = create_system(client, tokens.assessor, "alpha-bot", sector="medical", scenario="triage")
    assert [s["name"] for s in client.get("/api/v1/systems", headers=view).json()] == ["alpha-bot", "zeta-bot"]

    changed = client.patch(f"/api/v1/systems/{first}", json={"owner": "clinic-it", "lifecycle_stage": "production"},
                           headers=auth)
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["owner"] == "clinic-it" and body["scenario"] == "triage" and body["name"] == "alpha-bot"
    assert body["updated_at"] >= body["created_at"]
    renamed = client.patch(f"/api/v1/systems/{first}", json={"name": "other"}, headers=auth)
    assert error_of(renamed, 422, "RequestValidationError")["problems"][0]["field"] == "body.name"

    asset = client.post(f"/api/v1/systems/{first}/assets",
                        json={"kind": "model", "name": "triage-7b", "uri": "s3://models/triage", "sha256": SHA},
                        headers=auth)
    assert asset.status_code == 201, asset.text
    assert asset.json()["system_id"] == first and asset.json()["kind"] == "model"
    before = counts(workspace)
    duplicate = client.post(f"/api/v1/systems/{first}/assets", json={"kind": "dataset", "name": "triage-7b"},
                            headers=auth)
    error_of(duplicate, 409, "ConflictError")
    bad_hash = client.post(f"/api/v1/systems/{first}/assets", json={"kind": "model", "name": "m", "sha256": "xyz"},
                           headers=auth)
    assert error_of(bad_hash, 422, "RequestValidationError")["problems"][0]["field"] == "body.sha256"
    assert counts(workspace) == before
    assets = client.get(f"/api/v1/systems/{first}/assets", headers=view).json()
    assert [a["name"] for a in assets] == ["triage-7b"]
    assert client.get(f"/api/v1/systems/{second}/assets", headers=view).json() == []


def test_risk_list_filters_and_pages(client: TestClient, tokens: Tokens) -> None:
    view = bearer(tokens.viewer)
    system_id = create_system(client, tokens.assessor)
    other = create_system(client, tokens.assessor, "other")
    import_findings(client, tokens.assessor, system_id, document(
        finding("R-1"), finding("R-2", taxonomy="owasp-llm.LLM01", severity="critical"),
        finding("R-3", taxonomy="owasp-llm.LLM02", severity="low"),
    ))
    import_findings(client, tokens.assessor, other, document(finding("R-1")))

    def risks(**params: Any) -> dict[str, Any]:
        response = client.get("/api/v1/risks", params=params, headers=view)
        assert response.status_code == 200, response.text
        page: dict[str, Any] = response.json()
        return page

    assert risks()["total"] == 4
    first = risks(system_id=system_id, limit=2)
    assert first["total"] == 3 and len(first["items"]) == 2 and first["limit"] == 2 and first["offset"] == 0
    rest = risks(system_id=system_id, limit=2, offset=2)
    assert len(rest["items"]) == 1
    seen = {r["id"] for r in first["items"]} | {r["id"] for r in rest["items"]}
    assert len(seen) == 3
    owasp = risks(taxonomy_prefix="owasp-llm.")
    assert sorted(r["taxonomy_id"] for r in owasp["items"]) == ["owasp-llm.LLM01", "owasp-llm.LLM02"]
    assert risks(status="identified", system_id=other)["total"] == 1
    assert risks(status="closed")["total"] == 0
    by_level = risks(system_id=system_id, level=owasp["items"][0]["level"])
    assert by_level["total"] >= 1 and all(r["level"] == owasp["items"][0]["level"] for r in by_level["items"])
    error_of(client.get("/api/v1/risks", params={"level": "apocalyptic"}, headers=view), 422,
             "RequestValidationError")

    findings = client.get("/api/v1/findings", params={"system_id": system_id, "limit": 2}, headers=view).json()
    assert findings["total"] == 3 and len(findings["items"]) == 2
    assert findings["items"][0]["status"] == "open" and findings["items"][0]["fingerprint"]


def test_controls_are_listed_by_key(client: TestClient, tokens: Tokens) -> None:
    for key in ("C-2", "C-1"):
        created = client.post("/api/v1/controls", json={"key": key, "title": f"control {key}",
                                                        "catalog_ref": "gbt45654:9.4.a"},
                              headers=bearer(tokens.assessor))
        assert created.status_code == 201, created.text
        assert created.json()["catalog_ref"] == "gbt45654:9.4.a"
    listed = client.get("/api/v1/controls", headers=bearer(tokens.viewer)).json()
    assert [c["key"] for c in listed] == ["C-1", "C-2"]


def test_assessment_items_follow_evidence_and_attestation(client: TestClient, tokens: Tokens,
                                                          workspace: Workspace) -> None:
    auth, view = bearer(tokens.assessor), bearer(tokens.viewer)
    system_id = create_system(client, tokens.assessor)
    import_findings(client, tokens.assessor, system_id, document(finding("MODEL-401")))

    created = client.post("/api/v1/assessments", json={"system_id": system_id, "catalog_id": "gbt45654"},
                          headers=auth)
    assert created.status_code == 201, created.text
    assessment = created.json()
    catalog = workspace.taxonomy.catalog("gbt45654")
    assert len(assessment["items"]) == len(catalog.requirements) == assessment["summary"]["total"]
    assert assessment["title"] == "chatbot × gbt45654" and assessment["catalog_name_en"] == catalog.name_en
    items = {item["requirement_id"]: item for item in assessment["items"]}
    model_item = items["7.8.c"]
    assert model_item["result"] == "does_not_meet" and model_item["source"] == "check"
    assert model_item["title_zh"] == catalog.requirements["7.8.c"].title_zh
    assert model_item["requirement_ref"] == "gbt45654:7.8.c"

    attested = client.post(f"/api/v1/assessments/{assessment['id']}/attestations",
                           json={"requirement_id": "7.3.c", "result": "not_applicable",
                                 "note": "no personalised recommendations"}, headers=auth)
    assert attested.status_code == 200, attested.text
    assert attested.json()["attested_by"] == "alice" and attested.json()["source"] == "attestation"

    before = counts(workspace)
    pending = client.post(f"/api/v1/assessments/{assessment['id']}/attestations",
                          json={"requirement_id": "7.3.c", "result": "pending", "note": "later"}, headers=auth)
    assert "must decide" in error_of(pending, 422, "InputError")["message"]
    blank = client.post(f"/api/v1/assessments/{assessment['id']}/attestations",
                        json={"requirement_id": "7.3.c", "result": "meets", "note": "   "}, headers=auth)
    assert error_of(blank, 422, "RequestValidationError")["problems"][0]["field"] == "body.note"
    unknown = client.post(f"/api/v1/assessments/{assessment['id']}/attestations",
                          json={"requirement_id": "99.9", "result": "meets", "note": "n"}, headers=auth)
    assert error_of(unknown, 404, "NotFoundError")["kind"] == "assessment item"
    bad_catalog = client.post("/api/v1/assessments", json={"system_id": system_id, "catalog_id": "gbt4565"},
                              headers=auth)
    assert error_of(bad_catalog, 422, "UnknownIdError")["kind"] == "catalog"
    assert counts(workspace) == before

    import_findings(client, tokens.assessor, system_id, document())  # a clean model.scan run
    refreshed = client.post(f"/api/v1/assessments/{assessment['id']}/refresh", headers=auth)
    assert refreshed.status_code == 200, refreshed.text
    items = {item["requirement_id"]: item for item in refreshed.json()["items"]}
    assert items["7.8.c"]["result"] == "meets" and items["7.3.c"]["result"] == "not_applicable"
    assert refreshed.json()["refreshed_at"] is not None

    listed = client.get("/api/v1/assessments", params={"system_id": system_id}, headers=view).json()
    assert [a["id"] for a in listed] == [assessment["id"]] and listed[0]["summary"]["meets"] >= 1
    detail = client.get(f"/api/v1/assessments/{assessment['id']}", headers=view).json()
    assert detail["summary"] == refreshed.json()["summary"]
    assert client.get("/api/v1/assessments", params={"system_id": 999}, headers=view).json() == []
