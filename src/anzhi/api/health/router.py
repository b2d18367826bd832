"""``GET /healthz``: for load balancers and operators; needs no token and tells nothing secret."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Response, status

from anzhi import __version__
from anzhi.api.deps import WorkspaceDep
from anzhi.api.health.schemas import DatabaseHealth, Health, SchemaHealth
from anzhi.errors import StoreUnavailableError

__all__ = ["router"]

logger = logging.getLogger("anzhi.api")

router = APIRouter(tags=["health"])


@router.get("/healthz", operation_id="health_check", summary="Health check",
            responses={503: {"model": Health, "description": "the database is unreachable or not migrated"}})
def healthz(workspace: WorkspaceDep, response: Response) -> Health:
    """``ok`` (200) when the database answers and its schema is current, else ``degraded`` (503)."""
    store = workspace.store
    expected = store.head_revision()
    try:
        current = store.current_revision()
        reachable = True
    except StoreUnavailableError as exc:
        logger.warning("health check: %s", exc)
        current, reachable = None, False
    up_to_date = reachable and current is not None and current == expected
    if not up_to_date:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Health(
        status="ok" if up_to_date else "degraded",
        version=__version__,
        database=DatabaseHealth(reachable=reachable, dialect=store.dialect),
        schema=SchemaHealth(current=current, expected=expected, up_to_date=up_to_date),
    )
