"""Schema of the health check."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

__all__ = ["DatabaseHealth", "Health", "SchemaHealth"]


class DatabaseHealth(BaseModel):
    """Whether the database answers."""

    reachable: bool
    dialect: str = Field(description="sqlite or postgresql")


class SchemaHealth(BaseModel):
    """Whether the database schema is the one this version needs."""

    current: str | None = Field(description="the migration the database is at; null when unknown or empty")
    expected: str | None = Field(description="the newest migration this version ships")
    up_to_date: bool


class Health(BaseModel):
    """The service's health: ``ok`` only when the database answers and its schema is current."""

    status: Literal["ok", "degraded"]
    version: str
    database: DatabaseHealth
    schema_: SchemaHealth = Field(alias="schema", serialization_alias="schema")
