"""Controls: safeguards that treat risks, usually bound to a catalog requirement."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from anzhi.errors import ConflictError, NotFoundError
from anzhi.govern._audit import record_audit
from anzhi.store import Control
from anzhi.taxonomy import Taxonomy

__all__ = ["ControlSpec", "create_control", "find_control", "list_controls"]


class ControlSpec(BaseModel):
    """A control to register."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    key: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
    title: str = Field(min_length=1, max_length=500)
    description: str = Field(default="", max_length=10_000)
    catalog_ref: str | None = Field(default=None, description="'catalog:requirement', checked against the taxonomy")
    owner: str = Field(default="", max_length=200)


def create_control(session: Session, spec: ControlSpec, *, taxonomy: Taxonomy, actor: str) -> Control:
    """Register a control; its key is unique and its catalog reference must exist."""
    if spec.catalog_ref:
        taxonomy.requirement(spec.catalog_ref)  # raises UnknownIdError with a hint
    if session.execute(select(Control.id).where(Control.key == spec.key)).first() is not None:
        raise ConflictError(f"a control with key {spec.key!r} already exists")
    control = Control(**spec.model_dump())
    session.add(control)
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="control.created",
        entity_type="control",
        entity_id=control.id,
        data=spec.model_dump(),
    )
    return control


def find_control(session: Session, key: str | int) -> Control:
    """A control by id (digits) or key."""
    if isinstance(key, int) or str(key).isdigit():
        control = session.get(Control, int(key))
    else:
        control = session.execute(select(Control).where(Control.key == key)).scalar_one_or_none()
    if control is None:
        raise NotFoundError("control", key)
    return control


def list_controls(session: Session) -> list[Control]:
    """All controls by key."""
    return list(session.execute(select(Control).order_by(Control.key)).scalars())
