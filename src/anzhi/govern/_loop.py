"""The closed loop of a risk: identified → assessed → treating → verifying → monitoring → closed, or accepted.

Rules that hold whatever the caller does:

* a risk reaches ``monitoring`` or ``closed`` only after a *verification run*: every check behind its findings
  ran again (same scope) after the treatment started and reproduced none of them;
* a closed or accepted risk reopens by itself when one of its findings recurs, and an accepted risk when the
  acceptance expires;
* an illegal move is refused with the allowed moves named, and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from anzhi.errors import IllegalTransitionError, InputError, NotFoundError
from anzhi.govern._audit import record_audit
from anzhi.govern._grading import grade
from anzhi.store import CheckRun, Control, FindingRecord, FindingStatus, Risk, RiskEvent, RiskStatus, Treatment, utcnow

__all__ = [
    "ALLOWED_TRANSITIONS",
    "TransitionRequest",
    "allowed_targets",
    "expire_acceptances",
    "get_risk",
    "record_risk_event",
    "refresh_open_counts",
    "reopen_risk",
    "transition_risk",
    "try_verify_risk",
]

S = RiskStatus

#: The moves a person may ask for. Reopening (closed/accepted → identified) is automatic only.
ALLOWED_TRANSITIONS: dict[RiskStatus, frozenset[RiskStatus]] = {
    S.IDENTIFIED: frozenset({S.ASSESSED}),
    S.ASSESSED: frozenset({S.TREATING, S.ACCEPTED}),
    S.TREATING: frozenset({S.VERIFYING, S.ACCEPTED}),
    S.VERIFYING: frozenset({S.MONITORING, S.TREATING, S.CLOSED}),
    S.MONITORING: frozenset({S.CLOSED, S.TREATING}),
    S.CLOSED: frozenset(),
    S.ACCEPTED: frozenset({S.TREATING}),
}


def allowed_targets(status: RiskStatus) -> frozenset[RiskStatus]:
    """The statuses a person may move a risk to from ``status``."""
    return ALLOWED_TRANSITIONS[status]


@dataclass(frozen=True)
class TransitionRequest:
    """What an assessor asks for, with the data the target status needs.

    ``assessed`` needs likelihood and impact (unless already graded); ``treating`` a treatment other than accept
    and an owner; ``accepted`` an owner and ``accepted_until`` in the future; ``verifying`` nothing more;
    ``monitoring`` and ``closed`` a passed verification run.
    """

    target: RiskStatus
    note: str = ""
    likelihood: int | None = None
    impact: int | None = None
    treatment: Treatment | None = None
    treatment_plan: str | None = None
    owner: str | None = None
    due_date: date | None = None
    accepted_until: datetime | None = None
    control_ids: tuple[int, ...] = ()


def get_risk(session: Session, risk_id: int, *, for_update: bool = False) -> Risk:
    """Load a risk or raise :class:`NotFoundError`."""
    statement = select(Risk).where(Risk.id == risk_id)
    if for_update:
        statement = statement.with_for_update()
    risk = session.execute(statement).scalar_one_or_none()
    if risk is None:
        raise NotFoundError("risk", risk_id)
    return risk


def record_risk_event(
    session: Session,
    risk: Risk,
    actor: str,
    kind: str,
    *,
    from_status: RiskStatus | None = None,
    note: str = "",
    data: dict[str, object] | None = None,
) -> None:
    """Write the risk's history entry and the matching audit event."""
    session.add(
        RiskEvent(
            risk_id=risk.id,
            actor=actor,
            kind=kind,
            from_status=from_status.value if from_status else None,
            to_status=risk.status.value,
            note=note,
            data=dict(data or {}),
        )
    )
    record_audit(
        session,
        actor=actor,
        action=f"risk.{kind}",
        entity_type="risk",
        entity_id=risk.id,
        data={
            "from": from_status.value if from_status else None,
            "to": risk.status.value,
            "note": note,
            **(data or {}),
        },
    )


def _refuse(risk: Risk, request: TransitionRequest, reason: str) -> IllegalTransitionError:
    return IllegalTransitionError(
        risk.id, risk.status.value, request.target.value, [s.value for s in allowed_targets(risk.status)], reason
    )


def _is_verified(risk: Risk) -> bool:
    return (
        risk.verified_run_id is not None
        and risk.verified_at is not None
        and risk.treatment_started_at is not None
        and risk.verified_at >= risk.treatment_started_at
    )


def _check_request(session: Session, risk: Risk, request: TransitionRequest, now: datetime) -> None:
    target = request.target
    if target not in allowed_targets(risk.status):
        raise _refuse(risk, request, "not a move the loop allows")
    if target is S.ASSESSED and not risk.graded and (request.likelihood is None or request.impact is None):
        raise _refuse(risk, request, "give likelihood and impact (1-5) to assess it")
    if target is S.TREATING:
        treatment = request.treatment or risk.treatment
        if treatment is None or treatment is Treatment.ACCEPT:
            raise _refuse(risk, request, "choose a treatment: mitigate, transfer or avoid (accept → 'accepted')")
        if not (request.owner or risk.owner):
            raise _refuse(risk, request, "name an owner for the treatment")
    if target is S.ACCEPTED:
        if not (request.owner or risk.owner):
            raise _refuse(risk, request, "name who accepts the risk (owner)")
        until = request.accepted_until
        if until is None or until.tzinfo is None or until <= now:
            raise _refuse(risk, request, "give accepted_until, a timezone-aware time in the future")
    if target is S.VERIFYING and risk.treatment_started_at is None:
        raise _refuse(risk, request, "no treatment has started")
    if target in (S.MONITORING, S.CLOSED):
        if not _is_verified(risk):
            raise _refuse(risk, request, "no verification run after the treatment has passed yet: run the check again")
        open_count = session.scalar(
            select(func.count())
            .select_from(FindingRecord)
            .where(FindingRecord.risk_id == risk.id, FindingRecord.status == FindingStatus.OPEN)
        )
        if open_count:
            raise _refuse(risk, request, f"{open_count} finding(s) still open")


def transition_risk(session: Session, risk_id: int, request: TransitionRequest, *, actor: str) -> Risk:
    """Move a risk, applying the data its target needs; refuses illegal moves without changing anything."""
    risk = get_risk(session, risk_id, for_update=True)
    now = utcnow()
    if request.likelihood is not None or request.impact is not None:
        if request.likelihood is None or request.impact is None:
            raise InputError("give both likelihood and impact")
        try:
            grade(request.likelihood, request.impact)  # validates the range before anything changes
        except ValueError as exc:
            raise InputError(str(exc)) from exc
    controls: list[Control] = []
    if request.control_ids:
        controls = list(session.execute(select(Control).where(Control.id.in_(request.control_ids))).scalars())
        missing = set(request.control_ids) - {c.id for c in controls}
        if missing:
            raise NotFoundError("control", sorted(missing)[0])
    _check_request(session, risk, request, now)

    previous = risk.status
    data: dict[str, object] = {}
    if request.likelihood is not None and request.impact is not None:
        risk.likelihood, risk.impact = request.likelihood, request.impact
        risk.level = grade(request.likelihood, request.impact)
        risk.graded = True
        data.update(likelihood=risk.likelihood, impact=risk.impact, level=risk.level.value)
    if request.owner:
        risk.owner = request.owner
        data["owner"] = request.owner
    if request.due_date is not None:
        risk.due_date = request.due_date
        data["due_date"] = request.due_date.isoformat()
    if request.treatment_plan is not None:
        risk.treatment_plan = request.treatment_plan
    if controls:
        known = {c.id for c in risk.controls}
        risk.controls.extend(c for c in controls if c.id not in known)
        data["controls"] = [c.key for c in controls]
    target = request.target
    if target is S.TREATING:
        risk.treatment = request.treatment or risk.treatment
        risk.treatment_started_at = now
        risk.verified_run_id, risk.verified_at = None, None
        data["treatment"] = risk.treatment.value if risk.treatment else None
    elif target is S.ACCEPTED:
        risk.treatment = Treatment.ACCEPT
        risk.accepted_until = request.accepted_until
        data["accepted_until"] = request.accepted_until.isoformat() if request.accepted_until else None
    elif target is S.CLOSED:
        risk.closed_at = now
    risk.status = target
    risk.updated_at = now
    session.flush()
    record_risk_event(session, risk, actor, "transition", from_status=previous, note=request.note, data=data)
    return risk


def reopen_risk(
    session: Session, risk: Risk, *, actor: str, reason: str, data: dict[str, object] | None = None
) -> None:
    """Send a closed or accepted risk back to ``identified`` (automatic: recurrence or expired acceptance)."""
    previous = risk.status
    risk.status = S.IDENTIFIED
    risk.reopen_count += 1
    risk.closed_at = None
    risk.accepted_until = None
    risk.treatment_started_at = None
    risk.verified_run_id, risk.verified_at = None, None
    risk.updated_at = utcnow()
    session.flush()
    record_risk_event(session, risk, actor, "reopened", from_status=previous, note=reason, data=data)


def try_verify_risk(session: Session, risk: Risk, run_id: int, *, actor: str) -> bool:
    """Record a verification when the risk's checks all ran again after the treatment and none reproduced.

    Precisely: no finding of the risk is open, and for every (check, scope) its findings came from, the latest
    completed run of that check over that scope started at or after the treatment started and reproduced none of
    the risk's findings. Called after a check run is ingested; a risk in ``verifying`` moves on to ``monitoring``
    when it passes.
    """
    started = risk.treatment_started_at
    if risk.status not in (S.TREATING, S.VERIFYING) or started is None:
        return False
    findings = session.execute(
        select(FindingRecord.check_id, FindingRecord.scope, FindingRecord.status, FindingRecord.last_run_id).where(
            FindingRecord.risk_id == risk.id
        )
    ).all()
    if not findings or any(status is FindingStatus.OPEN for _, _, status, _ in findings):
        return False
    seen_in: dict[tuple[str, str], set[int | None]] = {}
    for check_id, scope, _, last_run_id in findings:
        seen_in.setdefault((check_id, scope), set()).add(last_run_id)
    verifying_runs: list[int] = []
    for (check_id, scope), reproduced_by in sorted(seen_in.items()):
        latest = session.execute(
            select(CheckRun.id, CheckRun.started_at)
            .where(
                CheckRun.system_id == risk.system_id,
                CheckRun.check_id == check_id,
                CheckRun.scope == scope,
                CheckRun.status == "completed",
            )
            .order_by(CheckRun.id.desc())
            .limit(1)
        ).first()
        if latest is None or latest.started_at < started or latest.id in reproduced_by:
            return False
        verifying_runs.append(latest.id)
    previous = risk.status
    risk.verified_run_id, risk.verified_at = run_id, utcnow()
    if risk.status is S.VERIFYING:
        risk.status = S.MONITORING
    session.flush()
    record_risk_event(
        session,
        risk,
        actor,
        "verified",
        from_status=previous,
        note="the checks ran again after the treatment and reproduced none of the findings",
        data={"run_id": run_id, "runs": verifying_runs},
    )
    return True


def expire_acceptances(session: Session, *, actor: str = "system", now: datetime | None = None) -> int:
    """Reopen every accepted risk whose acceptance has expired; returns how many."""
    moment = now or utcnow()
    expired = (
        session.execute(
            select(Risk)
            .where(Risk.status == S.ACCEPTED, Risk.accepted_until.is_not(None), Risk.accepted_until <= moment)
            .with_for_update()
        )
        .scalars()
        .all()
    )
    for risk in expired:
        until = risk.accepted_until
        reopen_risk(
            session,
            risk,
            actor=actor,
            reason="acceptance expired",
            data={"accepted_until": until.isoformat() if until else None},
        )
    return len(expired)


def refresh_open_counts(session: Session, risk_ids: list[int]) -> None:
    """Recount open findings for the given risks."""
    if not risk_ids:
        return
    rows = session.execute(
        select(FindingRecord.risk_id, func.count())
        .where(FindingRecord.risk_id.in_(risk_ids), FindingRecord.status == FindingStatus.OPEN)
        .group_by(FindingRecord.risk_id)
    )
    counts: dict[int | None, int] = {risk_id: count for risk_id, count in rows}  # noqa: C416 - Result has keys()
    for risk_id in risk_ids:
        session.execute(update(Risk).where(Risk.id == risk_id).values(open_findings=counts.get(risk_id, 0)))
