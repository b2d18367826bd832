"""The API's contract: its exact operation ids, its OpenAPI document, auth on every route, and the health check."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi import APIRouter, FastAPI

from anzhi import __version__
from anzhi.api import create_app
from anzhi.api._app import _explicit_operation_id
from anzhi.config import Settings
from anzhi.store import open_store
from anzhi.workspace import Workspace

from .helpers import TestClient

#: Changing this set changes the generated web client: do it deliberately.
OPERATION_IDS = {
    "health_check",
    "systems_list", "systems_create", "systems_get", "systems_update", "systems_add_asset", "systems_list_assets",
    "findings_import", "findings_import_sarif", "findings_list", "findings_list_check_runs",
    "risks_list", "risks_get", "risks_history", "risks_transition",
    "controls_create", "controls_list",
    "assessments_create", "assessments_list", "assessments_get", "assessments_refresh", "assessments_attest",
    "reports_get",
    "audit_verify", "audit_list_events",
    "taxonomy_list_taxonomies", "taxonomy_list_risks", "taxonomy_get_risk", "taxonomy_list_catalogs",
    "taxonomy_get_catalog",
    "access_whoami", "access_list_users", "access_create_user", "access_list_tokens", "access_issue_token",
    "access_revoke_token",
}


def _operations(app: FastAPI) -> dict[str, tuple[str, str]]:
    """Operation id → (method, path), from the OpenAPI document."""
    return {op["operationId"]: (method.upper(), path)
            for path, ops in app.openapi()["paths"].items() for method, op in ops.items()}


def test_operation_ids_are_exactly_the_agreed_set(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    ids = [op["operationId"] for path in spec["paths"].values() for op in path.values()]
    assert len(ids) == len(set(ids))
    assert set(ids) == OPERATION_IDS


def test_openapi_document_loads_and_describes_the_api(client: TestClient) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    assert spec["info"]["title"] == "anzhi 安治" and spec["info"]["version"] == __version__
    assert spec["components"]["securitySchemes"]["anzhiToken"] == {
        "type": "http", "scheme": "bearer", "description": spec["components"]["securitySchemes"]["anzhiToken"][
            "description"]}
    for path, operations in spec["paths"].items():
        assert path == "/healthz" or path.startswith("/api/v1/"), path
        for operation in operations.values():
            assert operation.get("security") == ([{"anzhiToken": []}] if path != "/healthz" else None), path
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/openapi.json" in docs.text


def test_a_route_without_an_operation_id_is_refused_when_the_app_is_built() -> None:
    router = APIRouter(generate_unique_id_function=_explicit_operation_id)
    with pytest.raises(RuntimeError, match="has no operation_id"):
        router.add_api_route("/nameless", lambda: None, methods=["GET"])


@pytest.mark.parametrize("route_key", sorted(OPERATION_IDS - {"health_check"}))
def test_every_route_needs_a_token(app: FastAPI, client: TestClient, route_key: str) -> None:
    method, template = _operations(app)[route_key]
    path = re.sub(r"\{[^}]+\}", "1", template)
    response = client.request(method, path, json={} if method in {"POST", "PATCH"} else None)
    assert response.status_code == 401, (route_key, response.text)
    assert response.json()["error"]["type"] == "AuthError"


def test_healthz_needs_no_token_and_reports_the_schema(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["version"] == __version__ and body["database"]["reachable"]
    assert body["schema"]["up_to_date"] and body["schema"]["current"] == body["schema"]["expected"]


def test_healthz_is_503_on_an_unmigrated_database(tmp_path: Path, workspace: Workspace) -> None:
    empty = Workspace(settings=Settings(home=tmp_path), store=open_store(f"sqlite:///{tmp_path / 'empty.db'}"),
                      taxonomy=workspace.taxonomy)
    try:
        with TestClient(create_app(empty)) as client:
            response = client.get("/healthz")
        assert response.status_code == 503
        assert response.json()["status"] == "degraded" and response.json()["schema"]["current"] is None
    finally:
        empty.close()


def test_unknown_route_and_method_use_the_error_body(client: TestClient) -> None:
    assert client.get("/api/v1/nothing-here").json()["error"]["type"] == "HTTPError"
    response = client.put("/api/v1/systems")
    assert response.status_code == 405 and response.json()["error"]["type"] == "HTTPError"
