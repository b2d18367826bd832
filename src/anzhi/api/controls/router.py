"""Routes of the controls domain: register and list controls."""

from __future__ import annotations

from fastapi import APIRouter, status

from anzhi.api.controls.schemas import ControlCreate, ControlPublic
from anzhi.api.deps import Assessor, SessionDep, TaxonomyDep, Viewer
from anzhi.api.errors import ERROR_RESPONSES, error_response
from anzhi.govern import create_control, list_controls

__all__ = ["router"]

router = APIRouter(prefix="/controls", tags=["controls"], responses=ERROR_RESPONSES)


@router.get("", operation_id="controls_list", summary="List controls")
def list_all(session: SessionDep, user: Viewer) -> list[ControlPublic]:
    """Every control, by key."""
    return [ControlPublic.model_validate(control) for control in list_controls(session)]


@router.post("", operation_id="controls_create", summary="Register a control", status_code=status.HTTP_201_CREATED,
             responses=error_response(409, "the key is taken"))
def create(body: ControlCreate, session: SessionDep, user: Assessor, taxonomy: TaxonomyDep) -> ControlPublic:
    """Register a control; its key is unique and its catalog reference must name a known requirement."""
    return ControlPublic.model_validate(create_control(session, body, taxonomy=taxonomy, actor=user.name))
