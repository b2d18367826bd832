"""Routes of the systems domain: register, read and change AI systems and their assets."""

from __future__ import annotations

from fastapi import APIRouter, status

from anzhi.api.deps import Assessor, SessionDep, Viewer
from anzhi.api.errors import ERROR_RESPONSES, error_response
from anzhi.api.systems.schemas import AssetCreate, AssetPublic, SystemCreate, SystemPublic, SystemUpdate
from anzhi.govern import add_asset, create_system, get_system, list_systems, update_system

__all__ = ["router"]

router = APIRouter(prefix="/systems", tags=["systems"], responses=ERROR_RESPONSES)

_NOT_FOUND = error_response(404, "no such system")
_CONFLICT = error_response(409, "the name is taken")


@router.get("", operation_id="systems_list", summary="List systems")
def list_all(session: SessionDep, user: Viewer) -> list[SystemPublic]:
    """Every registered AI system, by name."""
    return [SystemPublic.model_validate(system) for system in list_systems(session)]


@router.post("", operation_id="systems_create", summary="Register a system", status_code=status.HTTP_201_CREATED,
             responses=_CONFLICT)
def create(body: SystemCreate, session: SessionDep, user: Assessor) -> SystemPublic:
    """Register an AI system; its name must be unique."""
    return SystemPublic.model_validate(create_system(session, body, actor=user.name))


@router.get("/{system_id}", operation_id="systems_get", summary="Get a system", responses=_NOT_FOUND)
def get(system_id: int, session: SessionDep, user: Viewer) -> SystemPublic:
    """One system by id."""
    return SystemPublic.model_validate(get_system(session, system_id))


@router.patch("/{system_id}", operation_id="systems_update", summary="Change a system", responses=_NOT_FOUND)
def update(system_id: int, body: SystemUpdate, session: SessionDep, user: Assessor) -> SystemPublic:
    """Change a system's descriptive fields (its name stays)."""
    return SystemPublic.model_validate(update_system(session, system_id, body, actor=user.name))


@router.post("/{system_id}/assets", operation_id="systems_add_asset", summary="Add an asset",
             status_code=status.HTTP_201_CREATED, responses={**_NOT_FOUND, **_CONFLICT})
def add_system_asset(system_id: int, body: AssetCreate, session: SessionDep, user: Assessor) -> AssetPublic:
    """Attach a model, dataset, endpoint or application to a system; names are unique within a system."""
    return AssetPublic.model_validate(add_asset(session, system_id, body, actor=user.name))


@router.get("/{system_id}/assets", operation_id="systems_list_assets", summary="List a system's assets",
            responses=_NOT_FOUND)
def list_system_assets(system_id: int, session: SessionDep, user: Viewer) -> list[AssetPublic]:
    """The assets of a system, oldest first."""
    system = get_system(session, system_id)
    return [AssetPublic.model_validate(asset) for asset in sorted(system.assets, key=lambda asset: asset.id)]
