"""Routes of the risks domain: the register, a risk's detail and history, and moves through the closed loop."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy.orm import Session

from anzhi.api.controls.schemas import ControlPublic
from anzhi.api.deps import Assessor, SessionDep, Viewer
from anzhi.api.errors import ERROR_RESPONSES, error_response
from anzhi.api.risks.schemas import RiskDetail, RiskEventPublic, RiskPage, RiskPublic, TransitionCreate
from anzhi.api.schemas import MAX_PAGE
from anzhi.govern import (
    RiskFilter,
    allowed_targets,
    count_findings,
    get_risk,
    list_risks,
    risk_history,
    transition_risk,
)
from anzhi.store import Risk, RiskLevel, RiskStatus

__all__ = ["router"]

router = APIRouter(prefix="/risks", tags=["risks"], responses=ERROR_RESPONSES)

_NOT_FOUND = error_response(404, "no such risk")


def _detail(session: Session, risk: Risk) -> RiskDetail:
    findings_total = count_findings(session, risk_id=risk.id)
    return RiskDetail(
        **RiskPublic.model_validate(risk).model_dump(),
        controls=[ControlPublic.model_validate(control) for control in risk.controls],
        findings_total=findings_total,
        allowed_transitions=[s for s in RiskStatus if s in allowed_targets(risk.status)],
    )


@router.get("", operation_id="risks_list", summary="List risks")
def list_all(
    session: SessionDep,
    user: Viewer,
    system_id: int | None = None,
    risk_status: Annotated[RiskStatus | None, Query(alias="status")] = None,
    level: RiskLevel | None = None,
    taxonomy_prefix: Annotated[str | None, Query(
        max_length=100, description="risk ids starting with this, e.g. 'gbt45654.A4' or 'owasp-llm.'",
    )] = None,
    open_only: Annotated[bool, Query(description="leave out closed and accepted risks")] = False,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"page size, at most {MAX_PAGE}")] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> RiskPage:
    """Risks matching the filters, newest first."""
    where = RiskFilter(system_id=system_id, status=risk_status, level=level, taxonomy_prefix=taxonomy_prefix,
                       open_only=open_only)
    page = list_risks(session, where, limit=limit, offset=offset)
    return RiskPage(items=[RiskPublic.model_validate(r) for r in page.items], total=page.total,
                             limit=page.limit, offset=page.offset)


@router.get("/{risk_id}", operation_id="risks_get", summary="Get a risk", responses=_NOT_FOUND)
def get(risk_id: int, session: SessionDep, user: Viewer) -> RiskDetail:
    """One risk, with its controls, its findings count and the statuses it may move to."""
    return _detail(session, get_risk(session, risk_id))


@router.get("/{risk_id}/history", operation_id="risks_history", summary="A risk's history", responses=_NOT_FOUND)
def history(risk_id: int, session: SessionDep, user: Viewer) -> list[RiskEventPublic]:
    """Every transition, grading, verification and reopening of a risk, oldest first."""
    get_risk(session, risk_id)
    return [RiskEventPublic.model_validate(event) for event in risk_history(session, risk_id)]


@router.post("/{risk_id}/transitions", operation_id="risks_transition", summary="Move a risk through the loop",
             responses={**_NOT_FOUND, **error_response(409, "not allowed now; `allowed` names the moves that are")})
def transition(risk_id: int, body: TransitionCreate, session: SessionDep, user: Assessor) -> RiskDetail:
    """Move a risk to ``target``; an illegal move is refused with the allowed ones named, and changes nothing."""
    return _detail(session, transition_risk(session, risk_id, body.to_request(), actor=user.name))
