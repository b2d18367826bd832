"""Routes of the findings domain: import check runs (anzhi JSON or SARIF 2.1.0), list findings and runs.

An import is one transaction: every run in the document lands, or (on any error) nothing does.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from sqlalchemy.orm import Session

from anzhi.api.deps import Assessor, SessionDep, TaxonomyDep, Viewer
from anzhi.api.errors import ERROR_RESPONSES, error_response
from anzhi.api.findings.body import ImportBody, decode_json
from anzhi.api.findings.schemas import (
    CheckRunPage,
    CheckRunPublic,
    FindingPage,
    FindingPublic,
    FindingsImported,
    RunImported,
)
from anzhi.api.schemas import MAX_PAGE
from anzhi.errors import FindingsFormatError
from anzhi.findings import FINDINGS_SCHEMA, FindingBatch, parse_findings_document, parse_sarif
from anzhi.govern import get_system, ingest_batch, list_check_runs, list_findings
from anzhi.store import FindingStatus, User
from anzhi.taxonomy import Taxonomy

__all__ = ["router"]

router = APIRouter(tags=["findings"], responses=ERROR_RESPONSES)

_IMPORT_RESPONSES = {
    **error_response(404, "no such system"),
    **error_response(413, "the body is over the import limit"),
}

_FINDINGS_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {
            "oneOf": [{"type": "object"}, {"type": "array"}],
            "description": f"an anzhi findings document: {{\"schema\": \"{FINDINGS_SCHEMA}\", \"run\": {{...}}, "
                           "\"findings\": [...]}, a list of such documents, or a bare list of findings",
        }}},
    }
}
_SARIF_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {
            "type": "object", "description": "a SARIF 2.1.0 log ({\"version\": \"2.1.0\", \"runs\": [...]})",
        }}},
    }
}

_CHECK_ID = r"^[a-z][a-z0-9_.-]*$"
CheckIdQuery = Annotated[str | None, Query(pattern=_CHECK_ID, max_length=100)]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"page size, at most {MAX_PAGE}")]
Offset = Annotated[int, Query(ge=0)]


def _ingest(session: Session, system_id: int, batches: list[FindingBatch], taxonomy: Taxonomy,
            user: User) -> FindingsImported:
    if not batches:
        raise FindingsFormatError(
            "the document holds no check run; send {\"run\": {\"check_id\": ...}, \"findings\": []} to record a "
            "run that found nothing"
        )
    runs = [ingest_batch(session, system_id, batch, taxonomy=taxonomy, actor=user.name) for batch in batches]
    return FindingsImported(system_id=system_id, runs=[RunImported.model_validate(run) for run in runs])


def _one_run_per_check(batches: list[FindingBatch]) -> list[FindingBatch]:
    # A SARIF log often holds one run per language of one tool. Here they are one check run: ingested one after
    # the other, the second would resolve every finding of the first.
    merged: dict[str, FindingBatch] = {}
    for batch in batches:
        seen = merged.get(batch.run.check_id)
        merged[batch.run.check_id] = batch if seen is None else FindingBatch(
            run=seen.run, findings=seen.findings + batch.findings)
    return list(merged.values())


@router.post("/systems/{system_id}/findings", operation_id="findings_import", summary="Import findings",
             status_code=status.HTTP_201_CREATED, responses=_IMPORT_RESPONSES, openapi_extra=_FINDINGS_BODY)
def import_findings(system_id: int, raw: ImportBody, session: SessionDep, user: Assessor,
                    taxonomy: TaxonomyDep) -> FindingsImported:
    """Import check runs in anzhi's findings format; risks are created, reopened or verified from them."""
    get_system(session, system_id)
    batches = parse_findings_document(decode_json(raw))
    return _ingest(session, system_id, batches, taxonomy, user)


@router.post("/systems/{system_id}/findings/sarif", operation_id="findings_import_sarif",
             summary="Import a SARIF 2.1.0 log", status_code=status.HTTP_201_CREATED, responses=_IMPORT_RESPONSES,
             openapi_extra=_SARIF_BODY)
def import_sarif(
    system_id: int,
    raw: ImportBody,
    session: SessionDep,
    user: Assessor,
    taxonomy: TaxonomyDep,
    check_id: Annotated[str | None, Query(
        pattern=_CHECK_ID, max_length=100, description="check id for the runs (default: sarif.<tool name>)",
    )] = None,
    default_taxonomy: Annotated[str | None, Query(
        alias="taxonomy", max_length=100, description="risk id for results that name none in anzhi-taxonomy",
    )] = None,
) -> FindingsImported:
    """Import a SARIF 2.1.0 log from another tool: one check run per SARIF run."""
    get_system(session, system_id)
    document = decode_json(raw)
    if not isinstance(document, dict) or not str(document.get("version", "")).startswith("2.1"):
        raise FindingsFormatError('not a SARIF 2.1.0 log: expected an object with "version": "2.1.0" and "runs"')
    if default_taxonomy is not None:
        taxonomy.risk(default_taxonomy)  # an unknown id is refused up front, with a suggestion
    batches = parse_sarif(document, check_id=check_id, default_taxonomy_id=default_taxonomy)
    return _ingest(session, system_id, _one_run_per_check(batches), taxonomy, user)


@router.get("/findings", operation_id="findings_list", summary="List findings")
def list_all(
    session: SessionDep,
    user: Viewer,
    system_id: int | None = None,
    risk_id: int | None = None,
    finding_status: Annotated[FindingStatus | None, Query(alias="status")] = None,
    check_id: CheckIdQuery = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> FindingPage:
    """Stored findings, newest first, filtered by system, risk, status or check."""
    page = list_findings(session, system_id=system_id, risk_id=risk_id, status=finding_status, check_id=check_id,
                         limit=limit, offset=offset)
    return FindingPage(items=[FindingPublic.model_validate(f) for f in page.items], total=page.total,
                                limit=page.limit, offset=page.offset)


@router.get("/check-runs", operation_id="findings_list_check_runs", summary="List check runs")
def list_runs(
    session: SessionDep,
    user: Viewer,
    system_id: int | None = None,
    check_id: CheckIdQuery = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> CheckRunPage:
    """Recorded check runs, newest first; a run with no findings is evidence that the check passed."""
    page = list_check_runs(session, system_id=system_id, check_id=check_id, limit=limit, offset=offset)
    return CheckRunPage(items=[CheckRunPublic.model_validate(r) for r in page.items], total=page.total,
                                 limit=page.limit, offset=page.offset)
