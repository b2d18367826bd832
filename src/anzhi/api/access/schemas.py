"""Schemas of the access domain: users, roles and API tokens."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from anzhi.api.schemas import PublicModel
from anzhi.store import Role

__all__ = ["TokenCreate", "TokenIssued", "TokenPublic", "UserCreate", "UserPublic"]


class UserCreate(BaseModel):
    """Body of ``access_create_user``."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200, pattern=r"^[^\s:][^:]*$", description="unique; no colons")
    role: Role = Field(description="viewer reads, assessor changes governance data, admin manages users")


class UserPublic(PublicModel):
    """A user of the API."""

    id: int
    name: str
    role: Role
    disabled: bool
    created_at: datetime


class TokenCreate(BaseModel):
    """Body of ``access_issue_token``."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(default="", max_length=200, description="what the token is for, e.g. 'ci pipeline'")


class TokenPublic(PublicModel):
    """An API token as stored: its prefix and dates, never the secret."""

    id: int
    user_id: int
    name: str
    prefix: str = Field(description="the first characters of the secret, to tell tokens apart")
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenIssued(TokenPublic):
    """A new token, with its secret: shown this once, stored only as a hash."""

    token: str = Field(description="the secret; send it as 'Authorization: Bearer <token>'")
