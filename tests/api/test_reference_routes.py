"""The read-only taxonomy routes and the report."""

from __future__ import annotations

from anzhi.workspace import Workspace

from .helpers import TestClient, Tokens, bearer, create_system, document, error_of, finding, import_findings


def test_taxonomies_and_their_risks(client: TestClient, tokens: Tokens, workspace: Workspace) -> None:
    view = bearer(tokens.viewer)
    taxonomies = client.get("/api/v1/taxonomy/taxonomies", headers=view).json()
    by_id = {t["id"]: t for t in taxonomies}
    assert list(by_id) == list(workspace.taxonomy.taxonomies)
    assert by_id["gbt45654"]["risk_count"] == len(workspace.taxonomy.items("gbt45654"))
    assert by_id["gbt45654"]["status"] in {"confirmed", "secondary", "unconfirmed"}

    owasp = client.get("/api/v1/taxonomy/risks", params={"taxonomy": "owasp-llm"}, headers=view).json()
    assert owasp and all(r["id"].startswith("owasp-llm.") for r in owasp)
    everything = client.get("/api/v1/taxonomy/risks", headers=view).json()
    assert len(everything) == len(workspace.taxonomy.risks)
    unknown = client.get("/api/v1/taxonomy/risks", params={"taxonomy": "owasp-lm"}, headers=view)
    error = error_of(unknown, 422, "UnknownIdError")
    assert error["value"] == "owasp-lm" and "owasp-llm" in error["message"]

    risk = client.get("/api/v1/taxonomy/risks/gbt45654.A4.e", headers=view).json()
    assert risk["title_en"] == workspace.taxonomy.risk("gbt45654.A4.e").title_en
    assert risk["ancestors"] == ["gbt45654.A4"] and risk["children"] == []
    assert "gbt45654:5.2.d" in risk["requirements"]
    assert {(r["id"], r["relation"]) for r in risk["related"]} == {
        (other, relation.value) for other, relation in workspace.taxonomy.related("gbt45654.A4.e")
    }
    injection = client.get("/api/v1/taxonomy/risks/owasp-llm.LLM01", headers=view).json()
    assert {"id": "atlas.AML.T0051", "kind": "risk", "relation": "equivalent"} in injection["related"]


def test_catalogs(client: TestClient, tokens: Tokens, workspace: Workspace) -> None:
    view = bearer(tokens.viewer)
    catalogs = client.get("/api/v1/taxonomy/catalogs", headers=view).json()
    assert [c["id"] for c in catalogs] == list(workspace.taxonomy.catalogs)
    catalog = client.get("/api/v1/taxonomy/catalogs/gbt45654", headers=view).json()
    expected = len(workspace.taxonomy.catalog("gbt45654").requirements)
    assert catalog["requirement_count"] == len(catalog["requirements"]) == expected
    requirements = {r["id"]: r for r in catalog["requirements"]}
    refusal = requirements["9.4.a"]
    assert refusal["ref"] == "gbt45654:9.4.a" and refusal["checks"] == ["eval.gbt45654"]
    assert refusal["threshold"]["metric"] == "should_refuse_refusal_rate" and refusal["threshold"]["op"] == ">="
    assert catalog["groups"] and all(g["title_zh"] for g in catalog["groups"])


def test_report_as_json_and_html(client: TestClient, tokens: Tokens) -> None:
    view = bearer(tokens.viewer)
    system_id = create_system(client, tokens.assessor, "医疗问答", sector="medical")
    import_findings(client, tokens.assessor, system_id, document(finding("R-1")))

    as_json = client.get(f"/api/v1/systems/{system_id}/report", headers=view)
    assert as_json.status_code == 200 and as_json.headers["content-type"] == "application/json"
    report = as_json.json()
    assert report["system"]["name"] == "医疗问答" and report["schema_version"].startswith("anzhi.report/")
    assert report["audit"]["ok"] is True

    no_audit = client.get(f"/api/v1/systems/{system_id}/report", params={"audit": False}, headers=view).json()
    assert no_audit["audit"] is None

    for lang in ("zh", "en", "both"):
        page = client.get(f"/api/v1/systems/{system_id}/report", params={"format": "html", "lang": lang},
                          headers=view)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "医疗问答" in page.text and page.text.lstrip().lower().startswith("<!doctype html")

    bad = client.get(f"/api/v1/systems/{system_id}/report", params={"format": "pdf"}, headers=view)
    assert error_of(bad, 422, "RequestValidationError")["problems"][0]["field"] == "query.format"
