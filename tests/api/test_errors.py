"""Refused requests: the right status and error body, and nothing stored (every table's count unchanged)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from anzhi.workspace import Workspace

from .helpers import (
    TEST_IMPORT_LIMIT,
    TestClient,
    Tokens,
    bearer,
    counts,
    create_system,
    document,
    error_of,
    finding,
    import_findings,
    sarif,
    sarif_result,
)


@pytest.fixture
def system_id(client: TestClient, tokens: Tokens) -> int:
    return create_system(client, tokens.assessor)


def test_unknown_system_and_risk_are_404(client: TestClient, tokens: Tokens, workspace: Workspace) -> None:
    before = counts(workspace)
    for response in (
        client.get("/api/v1/systems/999", headers=bearer(tokens.viewer)),
        client.patch("/api/v1/systems/999", json={"owner": "x"}, headers=bearer(tokens.assessor)),
        client.post("/api/v1/systems/999/findings", json=document(finding()), headers=bearer(tokens.assessor)),
        client.get("/api/v1/systems/999/report", headers=bearer(tokens.viewer)),
    ):
        error = error_of(response, 404, "NotFoundError")
        assert error["kind"] == "system" and error["key"] == 999
    for response in (
        client.get("/api/v1/risks/999", headers=bearer(tokens.viewer)),
        client.get("/api/v1/risks/999/history", headers=bearer(tokens.viewer)),
        client.post("/api/v1/risks/999/transitions", json={"target": "assessed", "likelihood": 2, "impact": 2},
                    headers=bearer(tokens.assessor)),
    ):
        assert error_of(response, 404, "NotFoundError")["kind"] == "risk"
    error_of(client.get("/api/v1/assessments/999", headers=bearer(tokens.viewer)), 404, "NotFoundError")
    error_of(client.get("/api/v1/taxonomy/risks/gbt45654.A9.z", headers=bearer(tokens.viewer)), 404, "NotFoundError")
    error_of(client.get("/api/v1/taxonomy/catalogs/nope", headers=bearer(tokens.viewer)), 404, "NotFoundError")
    assert counts(workspace) == before


def test_duplicate_system_name_is_409(client: TestClient, tokens: Tokens, workspace: Workspace,
                                      system_id: int) -> None:
    before = counts(workspace)
    response = client.post("/api/v1/systems", json={"name": "chatbot"}, headers=bearer(tokens.assessor))
    assert "already exists" in error_of(response, 409, "ConflictError")["message"]
    assert counts(workspace) == before


def test_illegal_transition_is_409_naming_the_allowed_moves(client: TestClient, tokens: Tokens,
                                                            workspace: Workspace, system_id: int) -> None:
    risk_id = import_findings(client, tokens.assessor, system_id, document(finding()))["runs"][0]["risks_created"][0]
    before = counts(workspace)
    response = client.post(f"/api/v1/risks/{risk_id}/transitions", json={"target": "closed"},
                           headers=bearer(tokens.assessor))
    error = error_of(response, 409, "IllegalTransitionError")
    assert error["allowed"] == ["assessed"] and error["current"] == "identified" and error["target"] == "closed"
    assert "allowed from 'identified': assessed" in error["message"]

    assessed = client.post(f"/api/v1/risks/{risk_id}/transitions",
                           json={"target": "assessed", "likelihood": 3, "impact": 3}, headers=bearer(tokens.assessor))
    assert assessed.status_code == 200
    before = counts(workspace)
    no_owner = client.post(f"/api/v1/risks/{risk_id}/transitions", json={"target": "treating", "treatment": "mitigate"},
                           headers=bearer(tokens.assessor))
    error = error_of(no_owner, 409, "IllegalTransitionError")
    assert "owner" in error["message"] and error["allowed"] == ["accepted", "treating"]
    assert counts(workspace) == before
    risk = client.get(f"/api/v1/risks/{risk_id}", headers=bearer(tokens.viewer)).json()
    assert risk["status"] == "assessed" and risk["treatment"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"target": "assessed", "likelihood": 9, "impact": 3}, "body.likelihood"),
        ({"target": "assessed", "likelihood": 3}, "body"),
        ({"target": "done"}, "body.target"),
        ({"target": "accepted", "owner": "cfo", "accepted_until": "2030-01-01T00:00:00"}, "body.accepted_until"),
        ({"target": "assessed", "likelihood": 3, "impact": 3, "colour": "red"}, "body.colour"),
    ],
)
def test_invalid_transition_body_is_422_naming_the_field(client: TestClient, tokens: Tokens, workspace: Workspace,
                                                         system_id: int, body: dict[str, Any], field: str) -> None:
    risk_id = import_findings(client, tokens.assessor, system_id, document(finding()))["runs"][0]["risks_created"][0]
    before = counts(workspace)
    response = client.post(f"/api/v1/risks/{risk_id}/transitions", json=body, headers=bearer(tokens.assessor))
    error = error_of(response, 422, "RequestValidationError")
    assert error["problems"][0]["field"] == field and field in error["message"]
    assert counts(workspace) == before


def test_invalid_system_is_422_naming_the_field(client: TestClient, tokens: Tokens, workspace: Workspace) -> None:
    before = counts(workspace)
    response = client.post("/api/v1/systems", json={"name": "bank-bot", "sector": "casino"},
                           headers=bearer(tokens.assessor))
    error = error_of(response, 422, "RequestValidationError")
    assert error["problems"][0]["field"] == "body.sector" and "casino" in error["message"]
    limit = client.get("/api/v1/risks", params={"limit": 501}, headers=bearer(tokens.viewer))
    assert error_of(limit, 422, "RequestValidationError")["problems"][0]["field"] == "query.limit"
    assert counts(workspace) == before


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"{not json", "not valid JSON"),
        (b"", "empty"),
        (b"\xff\xfe\x00", "not UTF-8"),
        (b'{"schema": "other/9", "run": {"check_id": "x"}}', "unsupported schema"),
        (b'{"findings": []}', "missing 'run'"),
        (b'{"run": {"check_id": "model.scan"}, "findings": [{"check_id": "model.scan", "rule_id": "R",'
         b' "taxonomy_ids": ["gbt45654.A4.e"], "title": "t"}]}', "severity"),
        (b"[]", "no check run"),
    ],
)
def test_bad_findings_document_is_422_and_stores_nothing(client: TestClient, tokens: Tokens, workspace: Workspace,
                                                         system_id: int, body: bytes, says: str) -> None:
    before = counts(workspace)
    response = client.post(f"/api/v1/systems/{system_id}/findings", content=body,
                           headers={**bearer(tokens.assessor), "Content-Type": "application/json"})
    assert says in error_of(response, 422, "FindingsFormatError")["message"]
    assert counts(workspace) == before


def test_unknown_taxonomy_id_is_422_and_rolls_back_the_whole_document(client: TestClient, tokens: Tokens,
                                                                       workspace: Workspace, system_id: int) -> None:
    before = counts(workspace)
    good = document(finding("R-1"), check="model.scan")
    bad = document(finding("R-2", taxonomy="gbt45654.A4.zz", check="data.scan"), check="data.scan")
    response = client.post(f"/api/v1/systems/{system_id}/findings", json=[good, bad],
                           headers=bearer(tokens.assessor))
    error = error_of(response, 422, "InputError")
    assert "gbt45654.A4.zz" in error["message"] and "did you mean" in error["message"]
    assert counts(workspace) == before  # the first run, its finding and its risk were rolled back too


def test_bad_sarif_is_422_and_stores_nothing(client: TestClient, tokens: Tokens, workspace: Workspace,
                                             system_id: int) -> None:
    url = f"/api/v1/systems/{system_id}/findings/sarif"
    before = counts(workspace)
    old = client.post(url, json=sarif(sarif_result(taxonomy="gbt45654.A4.e"), version="1.0.0"),
                      headers=bearer(tokens.assessor))
    assert "SARIF 2.1.0" in error_of(old, 422, "FindingsFormatError")["message"]
    untagged = client.post(url, json=sarif(sarif_result()), headers=bearer(tokens.assessor))
    assert "names no taxonomy id" in error_of(untagged, 422, "FindingsFormatError")["message"]
    no_rule = client.post(url, json=sarif({"message": {"text": "x"}}), params={"taxonomy": "gbt45654.A4.e"},
                          headers=bearer(tokens.assessor))
    assert "no ruleId" in error_of(no_rule, 422, "FindingsFormatError")["message"]
    unknown = client.post(url, json=sarif(sarif_result()), params={"taxonomy": "gbt45654.A4.zz"},
                          headers=bearer(tokens.assessor))
    error = error_of(unknown, 422, "UnknownIdError")
    assert error["kind"] == "taxonomy" and error["value"] == "gbt45654.A4.zz"
    bad_check = client.post(url, json=sarif(sarif_result()), params={"check_id": "Bad Check"},
                            headers=bearer(tokens.assessor))
    assert error_of(bad_check, 422, "RequestValidationError")["problems"][0]["field"] == "query.check_id"
    assert counts(workspace) == before


def test_oversized_import_is_413_and_stores_nothing(client: TestClient, tokens: Tokens, workspace: Workspace,
                                                    system_id: int) -> None:
    before = counts(workspace)
    big = document(*[finding(f"R-{i}", file=f"f{i}.pkl") for i in range(2000)])
    response = client.post(f"/api/v1/systems/{system_id}/findings", json=big, headers=bearer(tokens.assessor))
    error = error_of(response, 413, "HTTPError")
    assert f"{TEST_IMPORT_LIMIT} bytes" in error["message"] and "split" in error["message"]

    def chunks() -> Any:  # no Content-Length: the limit holds while streaming too
        for _ in range(TEST_IMPORT_LIMIT // 1024 + 2):
            yield b" " * 1024

    streamed = client.post(f"/api/v1/systems/{system_id}/findings", content=chunks(),
                           headers=bearer(tokens.assessor))
    error_of(streamed, 413, "HTTPError")
    assert counts(workspace) == before


def test_unknown_catalog_ref_and_duplicate_control(client: TestClient, tokens: Tokens, workspace: Workspace) -> None:
    before = counts(workspace)
    unknown = client.post("/api/v1/controls", json={"key": "C-1", "title": "t", "catalog_ref": "gbt45654:99.9"},
                          headers=bearer(tokens.assessor))
    assert error_of(unknown, 422, "UnknownIdError")["kind"] == "requirement"
    assert counts(workspace) == before
    ok = client.post("/api/v1/controls", json={"key": "C-1", "title": "t"}, headers=bearer(tokens.assessor))
    assert ok.status_code == 201
    before = counts(workspace)
    error_of(client.post("/api/v1/controls", json={"key": "C-1", "title": "again"}, headers=bearer(tokens.assessor)),
             409, "ConflictError")
    assert counts(workspace) == before


def test_a_failed_commit_is_an_error_response_not_a_success(client: TestClient, tokens: Tokens,
                                                            workspace: Workspace,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    before = counts(workspace)

    def commit_fails(dbapi_connection: object) -> None:
        raise OperationalError("COMMIT", {}, Exception("disk I/O error"))

    with monkeypatch.context() as patched:
        patched.setattr(workspace.store.engine.dialect, "do_commit", commit_fails)
        response = client.post("/api/v1/systems", json={"name": "never-stored"}, headers=bearer(tokens.assessor))
    error = error_of(response, 503, "StoreUnavailableError")
    assert "nothing was changed" in error["message"]
    assert counts(workspace) == before
