"""Routes of the access domain: who the caller is, and (admins) users and their API tokens."""

from __future__ import annotations

from fastapi import APIRouter, status

from anzhi.api.access.schemas import TokenCreate, TokenIssued, TokenPublic, UserCreate, UserPublic
from anzhi.api.deps import Admin, SessionDep, Viewer
from anzhi.api.errors import ERROR_RESPONSES, error_response
from anzhi.govern import create_user, get_user, issue_token, list_tokens, list_users, revoke_token

__all__ = ["router"]

router = APIRouter(tags=["access"], responses=ERROR_RESPONSES)

_NO_USER = error_response(404, "no such user")


@router.get("/me", operation_id="access_whoami", summary="Who am I")
def whoami(user: Viewer) -> UserPublic:
    """The user the presented token belongs to."""
    return UserPublic.model_validate(user)


@router.get("/users", operation_id="access_list_users", summary="List users")
def list_all(session: SessionDep, user: Admin) -> list[UserPublic]:
    """Every user, by name."""
    return [UserPublic.model_validate(u) for u in list_users(session)]


@router.post("/users", operation_id="access_create_user", summary="Create a user",
             status_code=status.HTTP_201_CREATED,
             responses=error_response(409, "the name is taken"))
def create(body: UserCreate, session: SessionDep, user: Admin) -> UserPublic:
    """Add a user with a role; issue a token next so they can call the API."""
    return UserPublic.model_validate(create_user(session, body.name, body.role, actor=user.name))


@router.get("/users/{user_id}/tokens", operation_id="access_list_tokens", summary="List a user's tokens",
            responses=_NO_USER)
def tokens(user_id: int, session: SessionDep, user: Admin) -> list[TokenPublic]:
    """A user's tokens (prefixes and dates, never secrets), revoked ones included."""
    get_user(session, user_id)
    return [TokenPublic.model_validate(token) for token in list_tokens(session, user_id)]


@router.post("/users/{user_id}/tokens", operation_id="access_issue_token", summary="Issue a token",
             status_code=status.HTTP_201_CREATED, responses=_NO_USER)
def issue(user_id: int, body: TokenCreate, session: SessionDep, user: Admin) -> TokenIssued:
    """Make a new API token for a user; the secret is in this answer only, so keep it."""
    secret, token = issue_token(session, get_user(session, user_id), actor=user.name, name=body.name)
    return TokenIssued(**TokenPublic.model_validate(token).model_dump(), token=secret)


@router.delete("/tokens/{token_id}", operation_id="access_revoke_token", summary="Revoke a token",
               responses=error_response(404, "no such token"))
def revoke(token_id: int, session: SessionDep, user: Admin) -> TokenPublic:
    """Revoke a token now: it is refused from the next request on (revoking twice changes nothing)."""
    return TokenPublic.model_validate(revoke_token(session, token_id, actor=user.name))
