"""Routes of the taxonomy domain: the loaded risk taxonomies, catalogs and crosswalks (read-only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from anzhi.api.deps import TaxonomyDep, Viewer
from anzhi.api.errors import ERROR_RESPONSES, error_response
from anzhi.api.taxonomy.schemas import (
    CatalogDetail,
    CatalogGroupPublic,
    CatalogPublic,
    RelatedPublic,
    RequirementPublic,
    RiskItemDetail,
    RiskItemPublic,
    TaxonomyPublic,
)
from anzhi.errors import NotFoundError
from anzhi.taxonomy import Catalog

__all__ = ["router"]

router = APIRouter(prefix="/taxonomy", tags=["taxonomy"], responses=ERROR_RESPONSES)

_NOT_FOUND = error_response(404, "unknown id")


def _catalog_public(catalog: Catalog) -> CatalogPublic:
    return CatalogPublic(
        id=catalog.id, name_zh=catalog.name_zh, name_en=catalog.name_en, source=catalog.source, url=catalog.url,
        version=catalog.version, effective=catalog.effective, status=catalog.status, note=catalog.note,
        requirement_count=len(catalog.requirements),
    )


@router.get("/taxonomies", operation_id="taxonomy_list_taxonomies", summary="List risk taxonomies")
def list_taxonomies(user: Viewer, taxonomy: TaxonomyDep) -> list[TaxonomyPublic]:
    """Every loaded risk taxonomy, in load order."""
    counts: dict[str, int] = {}
    for item in taxonomy.risks.values():
        counts[item.taxonomy] = counts.get(item.taxonomy, 0) + 1
    return [
        TaxonomyPublic(id=info.id, name_zh=info.name_zh, name_en=info.name_en, source=info.source, url=info.url,
                       version=info.version, status=info.status, note=info.note, risk_count=counts.get(info.id, 0))
        for info in taxonomy.taxonomies.values()
    ]


@router.get("/risks", operation_id="taxonomy_list_risks", summary="List taxonomy risks")
def list_risks(
    user: Viewer,
    taxonomy: TaxonomyDep,
    taxonomy_id: Annotated[str | None, Query(alias="taxonomy", max_length=100, description="e.g. gbt45654")] = None,
) -> list[RiskItemPublic]:
    """Risks and classes of every taxonomy, or of one (an unknown taxonomy id is a 422 with a suggestion)."""
    items = taxonomy.items(taxonomy_id) if taxonomy_id is not None else list(taxonomy.risks.values())
    return [RiskItemPublic.model_validate(item, from_attributes=True) for item in items]


@router.get("/risks/{risk_id}", operation_id="taxonomy_get_risk", summary="Get a taxonomy risk with its crosswalk",
            responses=_NOT_FOUND)
def get_risk(risk_id: str, user: Viewer, taxonomy: TaxonomyDep) -> RiskItemDetail:
    """A risk with its ancestors, children, crosswalk neighbours and the requirements that address it."""
    if not taxonomy.has_risk(risk_id):
        raise NotFoundError("taxonomy risk", risk_id)
    item = taxonomy.risk(risk_id)
    related = [
        RelatedPublic(id=other, kind="requirement" if ":" in other else "risk", relation=relation)
        for other, relation in taxonomy.related(risk_id)
    ]
    return RiskItemDetail(
        **RiskItemPublic.model_validate(item, from_attributes=True).model_dump(),
        extra=item.extra,
        ancestors=[a.id for a in taxonomy.ancestors(risk_id)],
        children=[c.id for c in taxonomy.children(risk_id)],
        related=related,
        requirements=[req.ref for req in taxonomy.requirements_for_risk(risk_id)],
    )


@router.get("/catalogs", operation_id="taxonomy_list_catalogs", summary="List catalogs")
def list_catalogs(user: Viewer, taxonomy: TaxonomyDep) -> list[CatalogPublic]:
    """Every loaded catalog of requirements, in load order."""
    return [_catalog_public(catalog) for catalog in taxonomy.catalogs.values()]


@router.get("/catalogs/{catalog_id}", operation_id="taxonomy_get_catalog", summary="Get a catalog",
            responses=_NOT_FOUND)
def get_catalog(catalog_id: str, user: Viewer, taxonomy: TaxonomyDep) -> CatalogDetail:
    """A catalog with its groups and requirements (checks, thresholds and the risks each addresses)."""
    catalog = taxonomy.catalogs.get(catalog_id)
    if catalog is None:
        raise NotFoundError("catalog", catalog_id)
    return CatalogDetail(
        **_catalog_public(catalog).model_dump(),
        groups=[CatalogGroupPublic.model_validate(group, from_attributes=True) for group in catalog.groups.values()],
        requirements=[RequirementPublic.model_validate(req, from_attributes=True)
                      for req in catalog.requirements.values()],
    )
