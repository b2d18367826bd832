"""While the server runs, an accepted risk whose acceptance expires reopens by itself."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from anzhi.api import create_app
from anzhi.govern import SystemSpec, TransitionRequest, create_system, get_risk, ingest_batch, transition_risk
from anzhi.store import RiskStatus
from anzhi.workspace import Workspace

from ..govern.helpers import batch, finding
from .helpers import TestClient


def test_server_reopens_expired_acceptances(workspace: Workspace) -> None:
    ws = workspace
    with ws.session() as session:
        system_id = create_system(session, SystemSpec(name="bot"), actor="t").id
        risk_id = ingest_batch(session, system_id, batch(finding()), taxonomy=ws.taxonomy, actor="t").risks_created[0]
        transition_risk(session, risk_id, TransitionRequest(RiskStatus.ASSESSED, likelihood=1, impact=1), actor="t")
        until = datetime.now(UTC) + timedelta(seconds=1)
        transition_risk(session, risk_id, TransitionRequest(RiskStatus.ACCEPTED, owner="cfo", accepted_until=until),
                        actor="t")
    with TestClient(create_app(ws, sweep_seconds=0.2)):
        deadline = time.monotonic() + 10
        status = RiskStatus.ACCEPTED
        while time.monotonic() < deadline and status is RiskStatus.ACCEPTED:
            time.sleep(0.2)
            with ws.session(write=False) as session:
                status = get_risk(session, risk_id).status
    assert status is RiskStatus.IDENTIFIED
