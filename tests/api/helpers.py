"""Builders and probes shared by the API tests."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from anzhi.store import (
    ApiToken,
    Assessment,
    AssessmentItem,
    Asset,
    AuditEvent,
    CheckRun,
    Control,
    FindingRecord,
    Risk,
    RiskEvent,
    System,
    User,
)
from anzhi.workspace import Workspace

with warnings.catch_warnings():
    # starlette 1.x wants the httpx2 package for its TestClient and warns once, on import, when it uses httpx.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
    from fastapi.testclient import TestClient

#: The import limit the test app runs with, small enough to test the 413 cheaply.
TEST_IMPORT_LIMIT = 256 * 1024


@dataclass(frozen=True)
class Tokens:
    """One bearer token per role."""

    admin: str
    assessor: str
    viewer: str


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}

_COUNTED = (System, Asset, CheckRun, FindingRecord, Risk, RiskEvent, Control, Assessment, AssessmentItem,
            AuditEvent, User, ApiToken)


def counts(workspace: Workspace) -> dict[str, int]:
    """Rows in every table a request could write; compare before and after a refused request."""
    with workspace.session(write=False) as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in _COUNTED
        }


def finding(rule: str = "R-1", taxonomy: str = "gbt45654.A4.e", *, check: str = "model.scan",
            file: str = "model.pkl", severity: str = "high") -> dict[str, Any]:
    return {"check_id": check, "rule_id": rule, "taxonomy_ids": [taxonomy], "severity": severity,
            "confidence": "high", "title": f"{rule} in {file}", "location": {"file": file}}


def document(*findings: dict[str, Any], check: str = "model.scan", scope: str = "") -> dict[str, Any]:
    return {"schema": "anzhi.findings/1", "run": {"check_id": check, "scope": scope}, "findings": list(findings)}


def sarif(*results: dict[str, Any], tool: str = "scanner", version: str = "2.1.0") -> dict[str, Any]:
    return {"version": version, "runs": [{"tool": {"driver": {"name": tool, "version": "1.0"}},
                                          "results": list(results)}]}


def sarif_result(rule: str = "S-1", uri: str = "app.py", taxonomy: str | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": rule, "level": "error", "message": {"text": f"{rule} found"},
        "locations": [{"physicalLocation": {"artifactLocation": {"uri": uri}, "region": {"startLine": 3}}}],
    }
    if taxonomy is not None:
        result["properties"] = {"anzhi-taxonomy": [taxonomy]}
    return result


def create_system(client: TestClient, token: str, name: str = "chatbot", **fields: Any) -> int:
    response = client.post("/api/v1/systems", json={"name": name, **fields}, headers=bearer(token))
    assert response.status_code == 201, response.text
    system_id: int = response.json()["id"]
    return system_id


def import_findings(client: TestClient, token: str, system_id: int, body: Any) -> dict[str, Any]:
    response = client.post(f"/api/v1/systems/{system_id}/findings", json=body, headers=bearer(token))
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def error_of(response: Any, status: int, type_: str) -> dict[str, Any]:
    """The error body of a refused request, after checking its status and type."""
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["type"] == type_, error
    assert error["message"]
    return error
