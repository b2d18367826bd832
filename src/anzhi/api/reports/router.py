"""Routes of the reports domain: a system's governance report as JSON or as a bilingual HTML page."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, JSONResponse, Response

from anzhi.api.deps import SessionDep, TaxonomyDep, Viewer
from anzhi.api.errors import ERROR_RESPONSES, error_response
from anzhi.govern import ReportLang, SystemReport, build_report, render_report_html, verify_audit_chain

__all__ = ["router"]

router = APIRouter(tags=["reports"], responses=ERROR_RESPONSES)


@router.get(
    "/systems/{system_id}/report",
    operation_id="reports_get",
    summary="A system's governance report",
    response_model=None,
    responses={
        200: {"model": SystemReport, "description": "the report (JSON), or the HTML page for format=html",
              "content": {"text/html": {"schema": {"type": "string"}}}},
        **error_response(404, "no such system"),
    },
)
def get(
    system_id: int,
    session: SessionDep,
    user: Viewer,
    taxonomy: TaxonomyDep,
    report_format: Annotated[Literal["html", "json"], Query(alias="format")] = "json",
    lang: Annotated[ReportLang, Query(description="language of the HTML page")] = "both",
    audit: Annotated[bool, Query(description="verify the audit chain and include its status")] = True,
) -> Response:
    """Inventory, risk posture, open findings, assessments and audit status of one system."""
    verification = verify_audit_chain(session) if audit else None
    report = build_report(session, system_id, taxonomy=taxonomy, audit=verification)
    if report_format == "html":
        return HTMLResponse(render_report_html(report, lang=lang))
    return JSONResponse(report.model_dump(mode="json"))
