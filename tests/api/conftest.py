"""Fixtures for the API tests: an app over the ``workspace`` fixture (SQLite and PostgreSQL) and a token per role."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI

from anzhi.api import create_app
from anzhi.govern import bootstrap_admin
from anzhi.workspace import Workspace

from .helpers import TEST_IMPORT_LIMIT, TestClient, Tokens, bearer


@pytest.fixture
def app(workspace: Workspace) -> FastAPI:
    return create_app(workspace, max_import_bytes=TEST_IMPORT_LIMIT)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def tokens(workspace: Workspace, client: TestClient) -> Tokens:
    with workspace.session() as session:
        admin = bootstrap_admin(session)
    assert admin is not None
    issued = {}
    for name, role in (("alice", "assessor"), ("victor", "viewer")):
        user = client.post("/api/v1/users", json={"name": name, "role": role}, headers=bearer(admin))
        assert user.status_code == 201, user.text
        token = client.post(f"/api/v1/users/{user.json()['id']}/tokens", json={"name": "tests"},
                            headers=bearer(admin))
        assert token.status_code == 201, token.text
        issued[role] = token.json()["token"]
    return Tokens(admin=admin, assessor=issued["assessor"], viewer=issued["viewer"])
