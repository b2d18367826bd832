"""Reading the audit trail page by page (:mod:`anzhi.govern._audit` writes and verifies it)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from anzhi.govern._register import Page, paginate, where_given
from anzhi.store import AuditEvent

__all__ = ["MAX_AUDIT_PAGE", "list_audit_events"]

#: The CLI lets an operator read up to this many events at once.
MAX_AUDIT_PAGE = 1000


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
    statement = where_given(
        select(AuditEvent),
        {AuditEvent.action: action, AuditEvent.entity_type: entity_type, AuditEvent.entity_id: entity_id},
    )
    return paginate(session, statement.order_by(AuditEvent.seq.desc()), limit, offset, max_limit=MAX_AUDIT_PAGE)
