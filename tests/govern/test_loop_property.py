"""Property: whatever sequence of moves and check runs happens, a risk never reaches ``closed`` (or
``monitoring``) without a clean verification run of its check that started after the latest treatment."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anzhi.errors import IllegalTransitionError
from anzhi.govern import (
    SystemSpec,
    TransitionRequest,
    allowed_targets,
    create_system,
    get_risk,
    ingest_batch,
    transition_risk,
)
from anzhi.store import RiskStatus, Treatment
from anzhi.workspace import Workspace

from .helpers import batch, finding

_names = itertools.count()


@dataclass(frozen=True)
class Move:
    target: RiskStatus
    treatment: Treatment | None
    owner: str | None
    accept_days: int | None


@dataclass(frozen=True)
class Step:
    """A well-formed move to the pick-th status the loop allows from wherever the risk is."""

    pick: int


@dataclass(frozen=True)
class Run:
    dirty: bool  # reproduces the finding
    early: bool  # started before now (so before any treatment started in this step)


moves = st.builds(
    Move,
    target=st.sampled_from(list(RiskStatus)),
    treatment=st.none() | st.sampled_from(list(Treatment)),
    owner=st.none() | st.just("owner"),
    accept_days=st.none() | st.integers(-2, 5),
)
runs = st.builds(Run, dirty=st.booleans(), early=st.booleans())
steps = st.lists(
    st.one_of(moves, runs, runs, st.builds(Step, pick=st.integers(0, 2)), st.builds(Step, pick=st.integers(0, 2))),
    min_size=1,
    max_size=30,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(script=steps)
def test_no_sequence_closes_without_clean_verification(workspace: Workspace, script: list[Move | Run | Step]) -> None:
    ws = workspace
    with ws.session() as session:
        system_id = create_system(session, SystemSpec(name=f"prop-{next(_names)}"), actor="p").id
    with ws.session() as session:
        result = ingest_batch(session, system_id, batch(finding()), taxonomy=ws.taxonomy, actor="p")
    risk_id = result.risks_created[0]

    treatment_started: datetime | None = None
    history: list[tuple[datetime, bool]] = []  # (run started, dirty) in ingestion order
    for step in script:
        if isinstance(step, Run):
            started = datetime.now(UTC) - timedelta(minutes=5) if step.early else datetime.now(UTC)
            findings = (finding(),) if step.dirty else ()
            with ws.session() as session:
                ingest_batch(session, system_id, batch(*findings, started=started), taxonomy=ws.taxonomy, actor="p")
            history.append((started, step.dirty))
        else:
            if isinstance(step, Step):
                with ws.session(write=False) as session:
                    options = sorted(allowed_targets(get_risk(session, risk_id).status))
                if not options:
                    continue
                step = Move(options[step.pick % len(options)], Treatment.MITIGATE, "owner", 3)
            until = None if step.accept_days is None else datetime.now(UTC) + timedelta(days=step.accept_days)
            likelihood = impact = 3 if step.target is RiskStatus.ASSESSED else None
            request = TransitionRequest(
                target=step.target,
                treatment=step.treatment,
                owner=step.owner,
                accepted_until=until,
                likelihood=likelihood,
                impact=impact,
            )
            try:
                with ws.session() as session:
                    risk = transition_risk(session, risk_id, request, actor="p")
                    if step.target is RiskStatus.TREATING:
                        treatment_started = risk.treatment_started_at
            except IllegalTransitionError:
                pass
        with ws.session(write=False) as session:
            risk = get_risk(session, risk_id)
            status, started_at = risk.status, risk.treatment_started_at
        if status is RiskStatus.TREATING and started_at is not None:
            treatment_started = started_at  # also set when a failed verification restarts treatment
        if status in (RiskStatus.CLOSED, RiskStatus.MONITORING):
            assert treatment_started is not None, "closed/monitoring without any treatment"
            clean_after = [s for s, dirty in history if not dirty and s >= treatment_started]
            assert clean_after, "closed/monitoring without a clean run after the treatment"
            assert history and not history[-1][1], "closed/monitoring although the latest run reproduced it"
