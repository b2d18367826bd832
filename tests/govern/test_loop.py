"""The closed loop end to end: findings in → risk → treatment → verification run → closed → recurrence reopens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from anzhi.errors import IllegalTransitionError, InputError, NotFoundError
from anzhi.govern import (
    SystemSpec,
    TransitionRequest,
    create_system,
    expire_acceptances,
    get_risk,
    ingest_batch,
    risk_history,
    transition_risk,
    verify_audit_chain,
)
from anzhi.store import FindingRecord, FindingStatus, Risk, RiskLevel, RiskStatus, Treatment
from anzhi.workspace import Workspace

from .helpers import batch, finding, later

S = RiskStatus
ACTOR = "tester"


def _system(ws: Workspace, name: str = "chatbot") -> int:
    with ws.session() as session:
        return create_system(session, SystemSpec(name=name, sector="finance"), actor=ACTOR).id


def _ingest(ws: Workspace, system_id: int, b: object) -> object:
    with ws.session() as session:
        return ingest_batch(session, system_id, b, taxonomy=ws.taxonomy, actor=ACTOR)  # type: ignore[arg-type]


def _move(ws: Workspace, risk_id: int, target: S, **fields: object) -> Risk:
    with ws.session() as session:
        return transition_risk(session, risk_id, TransitionRequest(target=target, **fields), actor=ACTOR)  # type: ignore[arg-type]


def _status(ws: Workspace, risk_id: int) -> S:
    with ws.session(write=False) as session:
        return get_risk(session, risk_id).status


def test_full_loop_closes_only_after_clean_verification_and_reopens_on_recurrence(workspace: Workspace) -> None:
    ws = workspace
    system_id = _system(ws)
    first = _ingest(ws, system_id, batch(finding("R-1"), finding("R-2", file="b.pkl")))
    assert first.new == 2 and len(first.risks_created) == 1  # type: ignore[attr-defined]
    risk_id = first.risks_created[0]  # type: ignore[attr-defined]
    assert _status(ws, risk_id) is S.IDENTIFIED

    risk = _move(ws, risk_id, S.ASSESSED, likelihood=4, impact=5)
    assert risk.level is RiskLevel.EXTREME and risk.graded
    _move(ws, risk_id, S.TREATING, treatment=Treatment.MITIGATE, owner="alice", treatment_plan="drop pickles")

    # Treating → closed is not a move; verifying → closed without a verification run is refused.
    with pytest.raises(IllegalTransitionError, match="allowed from 'treating'"):
        _move(ws, risk_id, S.CLOSED)
    _move(ws, risk_id, S.VERIFYING)
    with pytest.raises(IllegalTransitionError, match="no verification run"):
        _move(ws, risk_id, S.CLOSED)

    # A run that still reproduces one finding does not verify.
    partial = _ingest(ws, system_id, batch(finding("R-1"), started=later()))
    assert partial.recurring == 1 and partial.resolved == 1 and not partial.risks_verified  # type: ignore[attr-defined]
    assert _status(ws, risk_id) is S.VERIFYING

    # A clean run of the same check after the treatment verifies and moves to monitoring.
    clean = _ingest(ws, system_id, batch(started=later(2)))
    assert clean.risks_verified == [risk_id]  # type: ignore[attr-defined]
    assert _status(ws, risk_id) is S.MONITORING
    closed = _move(ws, risk_id, S.CLOSED, note="fixed")
    assert closed.status is S.CLOSED and closed.verified_run_id == clean.run_id  # type: ignore[attr-defined]

    # The finding comes back: the risk reopens by itself.
    again = _ingest(ws, system_id, batch(finding("R-2", file="b.pkl"), started=later(3)))
    assert again.risks_reopened == [risk_id]  # type: ignore[attr-defined]
    with ws.session(write=False) as session:
        risk = get_risk(session, risk_id)
        assert risk.status is S.IDENTIFIED and risk.reopen_count == 1 and risk.verified_run_id is None
        kinds = [e.kind for e in risk_history(session, risk_id)]
        record = session.execute(select(FindingRecord).where(FindingRecord.rule_id == "R-2")).scalar_one()
        assert record.count == 2 and record.status is FindingStatus.OPEN
        assert verify_audit_chain(session).ok
    assert kinds == [
        "identified",
        "transition",
        "transition",
        "transition",
        "verification_failed",
        "verified",
        "transition",
        "reopened",
    ]


def test_recurring_findings_are_deduplicated(workspace: Workspace) -> None:
    system_id = _system(workspace)
    _ingest(workspace, system_id, batch(finding("R-1"), finding("R-1")))
    result = _ingest(workspace, system_id, batch(finding("R-1")))
    assert result.new == 0 and result.recurring == 1  # type: ignore[attr-defined]
    with workspace.session(write=False) as session:
        rows = session.execute(select(FindingRecord)).scalars().all()
        assert len(rows) == 1 and rows[0].count == 3
        risk = session.execute(select(Risk)).scalar_one()
        assert risk.open_findings == 1


def test_findings_map_to_one_risk_per_taxonomy_and_system(workspace: Workspace) -> None:
    a, b = _system(workspace, "a"), _system(workspace, "b")
    _ingest(workspace, a, batch(finding("R-1", "gbt45654.A4.e"), finding("R-2", "owasp-llm.LLM03")))
    _ingest(workspace, b, batch(finding("R-1", "gbt45654.A4.e")))
    with workspace.session(write=False) as session:
        keys = sorted((r.system_id, r.taxonomy_id) for r in session.execute(select(Risk)).scalars())
    assert keys == [(a, "gbt45654.A4.e"), (a, "owasp-llm.LLM03"), (b, "gbt45654.A4.e")]


def test_run_with_other_scope_does_not_resolve(workspace: Workspace) -> None:
    system_id = _system(workspace)
    _ingest(workspace, system_id, batch(finding("R-1"), scope="models/a"))
    result = _ingest(workspace, system_id, batch(scope="models/b"))
    assert result.resolved == 0  # type: ignore[attr-defined]


def test_verification_must_come_after_treatment(workspace: Workspace) -> None:
    ws = workspace
    system_id = _system(ws)
    risk_id = _ingest(ws, system_id, batch(finding())).risks_created[0]  # type: ignore[attr-defined]
    _move(ws, risk_id, S.ASSESSED, likelihood=2, impact=2)
    # A clean run that started before the treatment is not a verification of it.
    early = datetime.now(UTC) - timedelta(minutes=5)
    _move(ws, risk_id, S.TREATING, treatment=Treatment.MITIGATE, owner="bob")
    _move(ws, risk_id, S.VERIFYING)
    result = _ingest(ws, system_id, batch(started=early))
    assert result.resolved == 1 and not result.risks_verified  # type: ignore[attr-defined]
    with pytest.raises(IllegalTransitionError):
        _move(ws, risk_id, S.MONITORING)


def test_monitoring_risk_whose_finding_recurs_goes_back_to_treating(workspace: Workspace) -> None:
    ws = workspace
    system_id = _system(ws)
    risk_id = _ingest(ws, system_id, batch(finding())).risks_created[0]  # type: ignore[attr-defined]
    _move(ws, risk_id, S.ASSESSED, likelihood=3, impact=3)
    _move(ws, risk_id, S.TREATING, treatment=Treatment.MITIGATE, owner="bob")
    _move(ws, risk_id, S.VERIFYING)
    _ingest(ws, system_id, batch(started=later()))
    assert _status(ws, risk_id) is S.MONITORING
    _ingest(ws, system_id, batch(finding(), started=later(2)))
    assert _status(ws, risk_id) is S.TREATING
    with ws.session(write=False) as session:
        assert risk_history(session, risk_id)[-1].kind == "verification_failed"


def test_acceptance_needs_expiry_and_reopens_when_it_expires(workspace: Workspace) -> None:
    ws = workspace
    system_id = _system(ws)
    risk_id = _ingest(ws, system_id, batch(finding())).risks_created[0]  # type: ignore[attr-defined]
    _move(ws, risk_id, S.ASSESSED, likelihood=1, impact=2)
    with pytest.raises(IllegalTransitionError, match="accepted_until"):
        _move(ws, risk_id, S.ACCEPTED, owner="cfo")
    with pytest.raises(IllegalTransitionError, match="accepted_until"):
        _move(ws, risk_id, S.ACCEPTED, owner="cfo", accepted_until=datetime.now(UTC) - timedelta(days=1))
    until = datetime.now(UTC) + timedelta(days=30)
    risk = _move(ws, risk_id, S.ACCEPTED, owner="cfo", accepted_until=until)
    assert risk.treatment is Treatment.ACCEPT
    with ws.session() as session:
        assert expire_acceptances(session, now=until - timedelta(seconds=1)) == 0
        assert expire_acceptances(session, now=until + timedelta(seconds=1)) == 1
    assert _status(ws, risk_id) is S.IDENTIFIED


def test_accepted_risk_reopens_when_finding_recurs(workspace: Workspace) -> None:
    ws = workspace
    system_id = _system(ws)
    risk_id = _ingest(ws, system_id, batch(finding())).risks_created[0]  # type: ignore[attr-defined]
    _move(ws, risk_id, S.ASSESSED, likelihood=1, impact=1)
    _move(ws, risk_id, S.ACCEPTED, owner="cfo", accepted_until=datetime.now(UTC) + timedelta(days=1))
    result = _ingest(ws, system_id, batch(finding()))
    assert result.risks_reopened == [risk_id]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"target": S.CLOSED}, "allowed from 'identified': assessed"),
        ({"target": S.ASSESSED}, "likelihood and impact"),
    ],
)
def test_illegal_transitions_are_refused_and_change_nothing(
    workspace: Workspace, fields: dict[str, object], message: str
) -> None:
    system_id = _system(workspace)
    risk_id = _ingest(workspace, system_id, batch(finding())).risks_created[0]  # type: ignore[attr-defined]
    with workspace.session(write=False) as session:
        before = (get_risk(session, risk_id).status, len(risk_history(session, risk_id)))
    with pytest.raises(IllegalTransitionError, match=message):
        _move(workspace, risk_id, **fields)  # type: ignore[arg-type]
    with workspace.session(write=False) as session:
        assert (get_risk(session, risk_id).status, len(risk_history(session, risk_id))) == before


def test_treating_needs_owner_and_real_treatment(workspace: Workspace) -> None:
    system_id = _system(workspace)
    risk_id = _ingest(workspace, system_id, batch(finding())).risks_created[0]  # type: ignore[attr-defined]
    _move(workspace, risk_id, S.ASSESSED, likelihood=3, impact=3)
    with pytest.raises(IllegalTransitionError, match="owner"):
        _move(workspace, risk_id, S.TREATING, treatment=Treatment.MITIGATE)
    with pytest.raises(IllegalTransitionError, match="choose a treatment"):
        _move(workspace, risk_id, S.TREATING, treatment=Treatment.ACCEPT, owner="x")


def test_bad_grades_and_unknown_ids_are_refused(workspace: Workspace) -> None:
    system_id = _system(workspace)
    risk_id = _ingest(workspace, system_id, batch(finding())).risks_created[0]  # type: ignore[attr-defined]
    with pytest.raises(InputError, match="likelihood must be an integer from 1 to 5"):
        _move(workspace, risk_id, S.ASSESSED, likelihood=6, impact=1)
    with pytest.raises(InputError, match="both likelihood and impact"):
        _move(workspace, risk_id, S.ASSESSED, likelihood=3)
    with pytest.raises(NotFoundError, match="risk 999"):
        _move(workspace, 999, S.ASSESSED, likelihood=3, impact=3)
    with pytest.raises(NotFoundError, match="control"):
        _move(workspace, risk_id, S.ASSESSED, likelihood=3, impact=3, control_ids=(42,))


def test_unknown_taxonomy_id_rejects_whole_batch(workspace: Workspace) -> None:
    system_id = _system(workspace)
    bad = batch(finding("R-1"), finding("R-2", "gbt45654.A9.z"))
    with pytest.raises(InputError, match=r"findings\[1\].*gbt45654.A9.z"):
        _ingest(workspace, system_id, bad)
    with workspace.session(write=False) as session:
        assert session.scalar(select(func.count()).select_from(FindingRecord)) == 0
        assert session.scalar(select(func.count()).select_from(Risk)) == 0


def test_unknown_system_is_not_found(workspace: Workspace) -> None:
    with pytest.raises(NotFoundError, match="system 7"):
        _ingest(workspace, 7, batch(finding()))


def test_a_clean_run_that_started_before_the_treatment_does_not_verify_after_a_dirty_one(workspace: Workspace) -> None:
    """Regression: a reproducing run after the treatment, then a clean run started before it, is no verification."""
    ws = workspace
    system_id = _system(ws)
    risk_id = _ingest(ws, system_id, batch(finding())).risks_created[0]  # type: ignore[attr-defined]
    _move(ws, risk_id, S.ASSESSED, likelihood=3, impact=3)
    _move(ws, risk_id, S.TREATING, treatment=Treatment.MITIGATE, owner="bob")
    _move(ws, risk_id, S.VERIFYING)
    _ingest(ws, system_id, batch(finding(), started=later()))
    result = _ingest(ws, system_id, batch(started=datetime.now(UTC) - timedelta(minutes=5)))
    assert not result.risks_verified  # type: ignore[attr-defined]
    assert _status(ws, risk_id) is S.VERIFYING
