"""Schemas every domain shares: the paged list envelope and the base of every response model."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["MAX_PAGE", "Paged", "PublicModel"]

#: The largest page any list route returns.
MAX_PAGE = 500

T = TypeVar("T")


class PublicModel(BaseModel):
    """Base of response models: read from ORM attributes (inside the request's session), never from a client."""

    model_config = ConfigDict(from_attributes=True)


class Paged(BaseModel, Generic[T]):
    """One page of a list, with the total that matched the filters."""

    items: list[T]
    total: int = Field(description="how many matched, over all pages")
    limit: int = Field(description="the page size used")
    offset: int = Field(description="how many were skipped")
