"""A workspace: the settings, the store and the taxonomy that the CLI and the API work on."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from anzhi.config import Settings, load_settings
from anzhi.govern import bootstrap_admin, expire_acceptances
from anzhi.store import Store, open_store
from anzhi.taxonomy import Taxonomy, default_taxonomy, load_taxonomy

__all__ = ["Workspace"]


@dataclass
class Workspace:
    """Everything a face (CLI, API) needs to call the management layer."""

    settings: Settings
    store: Store
    taxonomy: Taxonomy
    _schema_checked: bool = field(default=False, repr=False)

    @classmethod
    def open(cls, settings: Settings | None = None) -> Workspace:
        """Open the configured database and load (and validate) the taxonomy; does not migrate."""
        settings = settings or load_settings()
        extra = settings.extra_taxonomy_dirs
        taxonomy = load_taxonomy(extra) if extra else default_taxonomy()
        return cls(settings=settings, store=open_store(settings.database_url), taxonomy=taxonomy)

    def initialise(self) -> str | None:
        """Create or migrate the schema; on a fresh workspace create the first admin and return its token."""
        self.store.migrate()
        self._schema_checked = True
        with self.store.session() as session:
            return bootstrap_admin(session)

    @contextmanager
    def session(self, *, write: bool = True) -> Iterator[Session]:
        """A transaction on the store; the first call checks the schema is this version's."""
        if not self._schema_checked:
            self.store.ensure_current()
            self._schema_checked = True
        with self.store.session(write=write) as session:
            yield session

    def sweep(self) -> int:
        """Apply what time alone changes: reopen risks whose acceptance has expired. Returns how many."""
        with self.session() as session:
            return expire_acceptances(session, actor="system")

    def close(self) -> None:
        """Release database connections."""
        self.store.dispose()
