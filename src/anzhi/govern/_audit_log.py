"""Reading the audit trail page by page (:mod:`anzhi.govern._audit` writes and verifies it)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from anzhi.govern._register import Page
from anzhi.store import AuditEvent

__all__ = ["list_audit_events"]


def list_audit_events(
    session: Session,
    *,
    action: str | None = None,
    entity_type: str | None = None,
    entity_id: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Page[AuditEvent]:
    """Audit events, newest first, optionally of one action or entity."""
    statement = select(AuditEvent)
    if action is not None:
        statement = statement.where(AuditEvent.action == action)
    if entity_type is not None:
        statement = statement.where(AuditEvent.entity_type == entity_type)
    if entity_id is not None:
        statement = statement.where(AuditEvent.entity_id == entity_id)
    total = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    items = list(session.execute(statement.order_by(AuditEvent.seq.desc()).limit(limit).offset(offset)).scalars())
    return Page(items=items, total=total, limit=limit, offset=offset)
