"""Settings, read once from ``ANZHI_*`` environment variables (and an optional ``.env`` file).

| variable | default | meaning |
|---|---|---|
| ``ANZHI_HOME`` | ``~/.anzhi`` | workspace folder: the SQLite database and generated reports live here |
| ``ANZHI_DB_URL`` | ``sqlite:///$ANZHI_HOME/anzhi.db`` | SQLAlchemy URL; ``postgresql+psycopg://…`` for PostgreSQL |
| ``ANZHI_HOST`` | ``127.0.0.1`` | address ``anzhi serve`` binds |
| ``ANZHI_PORT`` | ``8600`` | port ``anzhi serve`` binds |
| ``ANZHI_TAXONOMY_DIRS`` | (none) | extra folders of taxonomy / catalog YAML, separated by ``os.pathsep`` |
| ``ANZHI_ACTOR`` | the OS user | name recorded in the audit trail for CLI actions |
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "load_settings"]


def _default_home() -> Path:
    return Path.home() / ".anzhi"


class Settings(BaseSettings):
    """anzhi's settings; every field can be set by ``ANZHI_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="ANZHI_", env_file=".env", extra="ignore")

    home: Path = Field(default_factory=_default_home, description="workspace folder")
    db_url: str | None = Field(default=None, description="SQLAlchemy database URL")
    host: str = Field(default="127.0.0.1", description="address the server binds")
    port: int = Field(default=8600, ge=1, le=65535, description="port the server binds")
    taxonomy_dirs: str = Field(default="", description="extra taxonomy folders, os.pathsep-separated")
    actor: str | None = Field(default=None, description="actor name for CLI audit events")

    @property
    def database_url(self) -> str:
        """The database URL: ``db_url`` if set, else a SQLite file in ``home``."""
        if self.db_url:
            return self.db_url
        return f"sqlite:///{self.home / 'anzhi.db'}"

    @property
    def extra_taxonomy_dirs(self) -> list[Path]:
        """Extra taxonomy folders as paths."""
        return [Path(p) for p in self.taxonomy_dirs.split(os.pathsep) if p.strip()]

    @property
    def actor_name(self) -> str:
        """Who the CLI acts as in the audit trail."""
        if self.actor:
            return self.actor
        try:
            return f"cli:{getpass.getuser()}"
        except (KeyError, OSError):  # no passwd entry in some containers
            return "cli:unknown"


def load_settings() -> Settings:
    """Read the settings from the environment now (not cached, so tests can change the environment)."""
    return Settings()
