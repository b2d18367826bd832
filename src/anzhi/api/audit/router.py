"""Routes of the audit domain: verify the hash chain and read the trail."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from anzhi.api.audit.schemas import AuditEventPage, AuditEventPublic, AuditProblemPublic, AuditVerificationPublic
from anzhi.api.deps import SessionDep, Viewer
from anzhi.api.errors import ERROR_RESPONSES
from anzhi.api.schemas import MAX_PAGE
from anzhi.govern import list_audit_events, verify_audit_chain

__all__ = ["router"]

router = APIRouter(prefix="/audit", tags=["audit"], responses=ERROR_RESPONSES)


@router.get("/verify", operation_id="audit_verify", summary="Verify the audit chain")
def verify(session: SessionDep, user: Viewer) -> AuditVerificationPublic:
    """Recompute every hash in order; name tampered, missing or re-linked events and a truncated tail."""
    result = verify_audit_chain(session)
    return AuditVerificationPublic(ok=result.ok, checked=result.checked,
                                   problems=[AuditProblemPublic.model_validate(p) for p in result.problems])


@router.get("/events", operation_id="audit_list_events", summary="List audit events")
def list_events(
    session: SessionDep,
    user: Viewer,
    action: Annotated[str | None, Query(max_length=100, description="e.g. risk.transition")] = None,
    entity_type: Annotated[str | None, Query(max_length=50, description="e.g. risk, system")] = None,
    entity_id: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"page size, at most {MAX_PAGE}")] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> AuditEventPage:
    """The audit trail, newest first."""
    page = list_audit_events(session, action=action, entity_type=entity_type, entity_id=entity_id, limit=limit,
                             offset=offset)
    return AuditEventPage(items=[AuditEventPublic.model_validate(e) for e in page.items],
                                   total=page.total, limit=page.limit, offset=page.offset)
