"""The audit chain: every change is recorded, and tampering, gaps and a cut tail are found and named."""

from __future__ import annotations

from sqlalchemy import func, select, text

from anzhi.govern import SystemSpec, create_system, ingest_batch, record_audit, verify_audit_chain
from anzhi.store import AuditEvent
from anzhi.workspace import Workspace

from .helpers import batch, finding


def _fill(ws: Workspace, n: int = 5) -> None:
    with ws.session() as session:
        system_id = create_system(session, SystemSpec(name="s"), actor="a").id
        for i in range(n):
            record_audit(session, actor="a", action="test.event", entity_type="x", entity_id=i, data={"i": i})
        ingest_batch(session, system_id, batch(finding()), taxonomy=ws.taxonomy, actor="a")


def _verify(ws: Workspace) -> list[tuple[int, str]]:
    with ws.session(write=False) as session:
        result = verify_audit_chain(session)
    return [(p.seq, p.kind) for p in result.problems]


def test_intact_chain_verifies(workspace: Workspace) -> None:
    _fill(workspace)
    with workspace.session(write=False) as session:
        result = verify_audit_chain(session)
        count = session.scalar(select(func.count()).select_from(AuditEvent))
    assert result.ok and result.checked == count and count >= 8


def test_changed_event_is_named(workspace: Workspace) -> None:
    _fill(workspace)
    with workspace.store.engine.begin() as connection:
        connection.execute(text("UPDATE audit_event SET actor = 'mallory' WHERE seq = 3"))
    assert _verify(workspace) == [(3, "tampered")]


def test_changed_data_is_named(workspace: Workspace) -> None:
    _fill(workspace)
    with workspace.session() as session:
        event = session.execute(select(AuditEvent).where(AuditEvent.seq == 4)).scalar_one()
        event.data = {"i": 999}
    assert _verify(workspace) == [(4, "tampered")]


def test_deleted_event_is_named(workspace: Workspace) -> None:
    _fill(workspace)
    with workspace.store.engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_event WHERE seq = 2"))
    problems = _verify(workspace)
    assert (2, "missing") in problems and (3, "relinked") in problems


def test_cut_tail_is_found(workspace: Workspace) -> None:
    _fill(workspace)
    with workspace.store.engine.begin() as connection:
        last = connection.execute(text("SELECT max(seq) FROM audit_event")).scalar_one()
        connection.execute(text("DELETE FROM audit_event WHERE seq >= :s"), {"s": last - 1})
    assert _verify(workspace) == [(last, "head_mismatch")]


def test_rehashed_forgery_still_breaks_the_head(workspace: Workspace) -> None:
    """Rewriting an event and its own hash is caught by the next link."""
    _fill(workspace)
    with workspace.store.engine.begin() as connection:
        connection.execute(text("UPDATE audit_event SET hash = :h WHERE seq = 2"), {"h": "f" * 64})
    problems = _verify(workspace)
    assert (2, "tampered") in problems and (3, "relinked") in problems


def test_verify_keeps_the_callers_objects_attached(workspace: Workspace) -> None:
    _fill(workspace)
    with workspace.session(write=False) as session:
        from anzhi.store import System

        system = session.execute(select(System)).scalar_one()
        assert verify_audit_chain(session).ok
        assert system in session
