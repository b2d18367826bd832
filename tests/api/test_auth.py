"""Authentication and roles: 401 without a good token, 403 for a role that may not, on every kind of route."""

from __future__ import annotations

import threading
from datetime import datetime

import pytest
from sqlalchemy import select

from anzhi.govern import hash_token
from anzhi.store import ApiToken
from anzhi.workspace import Workspace

from .helpers import TestClient, Tokens, bearer, counts, create_system, document, error_of, finding


def test_no_token_is_401_with_a_bearer_challenge(client: TestClient, tokens: Tokens) -> None:
    response = client.get("/api/v1/systems")
    error = error_of(response, 401, "AuthError")
    assert response.headers["www-authenticate"] == 'Bearer realm="anzhi"'
    assert "Authorization: Bearer" in error["message"]


@pytest.mark.parametrize(
    ("header", "says"),
    [
        ("Bearer anz_not-a-real-token", "unknown API token"),
        ("Bearer sk-something-else", "not an anzhi API token"),
        ("Basic YWxpY2U6c2VjcmV0", "must read 'Bearer <token>'"),
    ],
)
def test_bad_token_is_401(client: TestClient, tokens: Tokens, header: str, says: str) -> None:
    response = client.get("/api/v1/systems", headers={"Authorization": header})
    error = error_of(response, 401, "AuthError")
    assert says in error["message"]
    assert response.headers["www-authenticate"] == 'Bearer realm="anzhi", error="invalid_token"'


def test_revoked_token_is_refused_from_the_next_request(client: TestClient, tokens: Tokens) -> None:
    me = client.get("/api/v1/me", headers=bearer(tokens.viewer))
    assert me.status_code == 200 and me.json()["role"] == "viewer"
    listed = client.get(f"/api/v1/users/{me.json()['id']}/tokens", headers=bearer(tokens.admin)).json()
    assert len(listed) == 1 and "token" not in listed[0] and tokens.viewer.startswith(listed[0]["prefix"])

    revoked = client.delete(f"/api/v1/tokens/{listed[0]['id']}", headers=bearer(tokens.admin))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None

    error = error_of(client.get("/api/v1/systems", headers=bearer(tokens.viewer)), 401, "AuthError")
    assert "revoked" in error["message"]


def test_viewer_reads_but_may_not_write(client: TestClient, tokens: Tokens, workspace: Workspace) -> None:
    system_id = create_system(client, tokens.assessor)
    assert client.get(f"/api/v1/systems/{system_id}", headers=bearer(tokens.viewer)).status_code == 200
    before = counts(workspace)
    attempts = [
        client.post("/api/v1/systems", json={"name": "other"}, headers=bearer(tokens.viewer)),
        client.patch(f"/api/v1/systems/{system_id}", json={"owner": "me"}, headers=bearer(tokens.viewer)),
        client.post(f"/api/v1/systems/{system_id}/findings", json=document(finding()),
                    headers=bearer(tokens.viewer)),
        client.post("/api/v1/controls", json={"key": "C-1", "title": "t"}, headers=bearer(tokens.viewer)),
        client.post("/api/v1/assessments", json={"system_id": system_id, "catalog_id": "gbt45654"},
                    headers=bearer(tokens.viewer)),
    ]
    for response in attempts:
        error = error_of(response, 403, "PermissionDeniedError")
        assert "'viewer'" in error["message"] and "'assessor'" in error["message"]
    assert counts(workspace) == before


def test_assessor_may_not_manage_users_or_tokens(client: TestClient, tokens: Tokens, workspace: Workspace) -> None:
    before = counts(workspace)
    attempts = [
        client.get("/api/v1/users", headers=bearer(tokens.assessor)),
        client.post("/api/v1/users", json={"name": "mallory", "role": "admin"}, headers=bearer(tokens.assessor)),
        client.post("/api/v1/users/1/tokens", json={}, headers=bearer(tokens.assessor)),
        client.delete("/api/v1/tokens/1", headers=bearer(tokens.assessor)),
    ]
    for response in attempts:
        error_of(response, 403, "PermissionDeniedError")
    assert counts(workspace) == before


def test_admin_manages_users_and_a_new_token_works_once_issued(client: TestClient, tokens: Tokens) -> None:
    users = client.get("/api/v1/users", headers=bearer(tokens.admin)).json()
    assert [(u["name"], u["role"]) for u in users] == [("admin", "admin"), ("alice", "assessor"),
                                                        ("victor", "viewer")]
    duplicate = client.post("/api/v1/users", json={"name": "alice", "role": "viewer"}, headers=bearer(tokens.admin))
    error_of(duplicate, 409, "ConflictError")
    bad_role = client.post("/api/v1/users", json={"name": "bob", "role": "root"}, headers=bearer(tokens.admin))
    assert error_of(bad_role, 422, "RequestValidationError")["problems"][0]["field"] == "body.role"

    created = client.post("/api/v1/users", json={"name": "bob", "role": "assessor"}, headers=bearer(tokens.admin))
    issued = client.post(f"/api/v1/users/{created.json()['id']}/tokens", json={"name": "ci"},
                         headers=bearer(tokens.admin)).json()
    assert issued["token"].startswith("anz_") and issued["prefix"] == issued["token"][:10]
    me = client.get("/api/v1/me", headers=bearer(issued["token"])).json()
    assert me["name"] == "bob" and me["role"] == "assessor"
    error_of(client.post("/api/v1/users/999/tokens", json={}, headers=bearer(tokens.admin)), 404, "NotFoundError")


def _last_used(workspace: Workspace, token: str) -> datetime | None:
    with workspace.session(write=False) as session:
        return session.execute(
            select(ApiToken.last_used_at).where(ApiToken.token_hash == hash_token(token))
        ).scalar_one()


def test_a_read_records_the_tokens_last_use(client: TestClient, tokens: Tokens, workspace: Workspace) -> None:
    assert _last_used(workspace, tokens.viewer) is None
    assert client.get("/api/v1/systems", headers=bearer(tokens.viewer)).status_code == 200
    assert _last_used(workspace, tokens.viewer) is not None


def test_a_read_succeeds_while_another_request_writes(client: TestClient, tokens: Tokens,
                                                      workspace: Workspace) -> None:
    """On SQLite a read that wrote the last-use stamp itself would fail while a writer holds the lock."""
    if workspace.store.dialect != "sqlite":
        pytest.skip("SQLite's single writer lock")
    holding, release = threading.Event(), threading.Event()

    def writer() -> None:
        with workspace.session() as session:
            session.execute(select(ApiToken.id)).all()  # BEGIN IMMEDIATE: the write lock is held from here
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert holding.wait(10)
        threading.Timer(0.5, release.set).start()  # the writer commits while the stamp waits for the lock
        response = client.get("/api/v1/systems", headers=bearer(tokens.viewer))
        assert response.status_code == 200, response.text
    finally:
        release.set()
        thread.join()
    assert _last_used(workspace, tokens.viewer) is not None
