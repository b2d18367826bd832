"""Routes of the assessments domain: start, read, refresh an assessment and attest its items."""

from __future__ import annotations

from fastapi import APIRouter, status

from anzhi.api.assessments.schemas import (
    AssessmentCreate,
    AssessmentDetail,
    AssessmentItemPublic,
    AssessmentPublic,
    AssessmentSummaryPublic,
    AttestationCreate,
)
from anzhi.api.deps import Assessor, SessionDep, TaxonomyDep, Viewer
from anzhi.api.errors import ERROR_RESPONSES, error_response
from anzhi.govern import (
    attest_item,
    create_assessment,
    get_assessment,
    list_assessments,
    refresh_assessment,
    summarize_assessment,
)
from anzhi.store import Assessment, AssessmentItem
from anzhi.taxonomy import Taxonomy

__all__ = ["router"]

router = APIRouter(prefix="/assessments", tags=["assessments"], responses=ERROR_RESPONSES)

_NOT_FOUND = error_response(404, "no such assessment")


def _summary(assessment: Assessment) -> AssessmentSummaryPublic:
    return AssessmentSummaryPublic.model_validate(summarize_assessment(assessment).as_dict())


def _public(assessment: Assessment) -> AssessmentPublic:
    return AssessmentPublic(
        id=assessment.id, system_id=assessment.system_id, catalog_id=assessment.catalog_id, title=assessment.title,
        created_by=assessment.created_by, created_at=assessment.created_at, refreshed_at=assessment.refreshed_at,
        summary=_summary(assessment),
    )


def _item(item: AssessmentItem, catalog_id: str, taxonomy: Taxonomy) -> AssessmentItemPublic:
    catalog = taxonomy.catalogs.get(catalog_id)
    requirement = catalog.requirements.get(item.requirement_id) if catalog is not None else None
    return AssessmentItemPublic(
        id=item.id, requirement_id=item.requirement_id, requirement_ref=f"{catalog_id}:{item.requirement_id}",
        title_zh=requirement.title_zh if requirement else None, title_en=requirement.title_en if requirement else None,
        kind=requirement.kind if requirement else None, requirement_status=requirement.status if requirement else None,
        result=item.result, source=item.source, evidence=item.evidence, attested_by=item.attested_by,
        attested_at=item.attested_at, note=item.note, updated_at=item.updated_at,
    )


def _detail(assessment: Assessment, taxonomy: Taxonomy) -> AssessmentDetail:
    catalog = taxonomy.catalogs.get(assessment.catalog_id)
    return AssessmentDetail(
        **_public(assessment).model_dump(),
        catalog_name_zh=catalog.name_zh if catalog else None, catalog_name_en=catalog.name_en if catalog else None,
        items=[_item(item, assessment.catalog_id, taxonomy) for item in assessment.items],
    )


@router.post("", operation_id="assessments_create", summary="Start an assessment",
             status_code=status.HTTP_201_CREATED,
             responses=error_response(404, "no such system"))
def create(body: AssessmentCreate, session: SessionDep, user: Assessor, taxonomy: TaxonomyDep) -> AssessmentDetail:
    """Assess a system against a catalog: one item per requirement, filled from check evidence where it can be."""
    assessment = create_assessment(session, body.system_id, body.catalog_id, taxonomy=taxonomy, actor=user.name,
                                   title=body.title)
    return _detail(assessment, taxonomy)


@router.get("", operation_id="assessments_list", summary="List assessments")
def list_all(session: SessionDep, user: Viewer, system_id: int | None = None) -> list[AssessmentPublic]:
    """Assessments, newest first, optionally of one system, each with its summary."""
    return [_public(assessment) for assessment in list_assessments(session, system_id)]


@router.get("/{assessment_id}", operation_id="assessments_get", summary="Get an assessment", responses=_NOT_FOUND)
def get(assessment_id: int, session: SessionDep, user: Viewer, taxonomy: TaxonomyDep) -> AssessmentDetail:
    """An assessment with every item, its requirement's titles and its evidence."""
    return _detail(get_assessment(session, assessment_id), taxonomy)


@router.post("/{assessment_id}/refresh", operation_id="assessments_refresh", summary="Refresh from evidence",
             responses=_NOT_FOUND)
def refresh(assessment_id: int, session: SessionDep, user: Assessor, taxonomy: TaxonomyDep) -> AssessmentDetail:
    """Re-decide every check-bound item from the newest check runs; attestations stay."""
    return _detail(refresh_assessment(session, assessment_id, taxonomy=taxonomy, actor=user.name), taxonomy)


@router.post("/{assessment_id}/attestations", operation_id="assessments_attest", summary="Attest an item",
             responses=_NOT_FOUND)
def attest(assessment_id: int, body: AttestationCreate, session: SessionDep, user: Assessor,
           taxonomy: TaxonomyDep) -> AssessmentItemPublic:
    """Record a person's judgement on one requirement (who, when, why)."""
    item = attest_item(session, assessment_id, body.requirement_id, body.result, note=body.note, actor=user.name)
    return _item(item, item.assessment.catalog_id, taxonomy)
