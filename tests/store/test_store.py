"""The store: migrations match the models, SQLite runs in WAL mode, unreachable databases say so."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from anzhi.errors import ConfigurationError, StoreUnavailableError
from anzhi.store import Base, Store, open_store


def test_migrations_match_models(store: Store) -> None:
    with store.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == [], f"models and migrations differ; add an Alembic revision: {diff}"
    assert store.current_revision() == store.head_revision()
    store.ensure_current()


def test_sqlite_uses_wal_and_foreign_keys(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'sub' / 'a.db'}")
    store.migrate()
    with store.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar_one() == 1
    store.dispose()


def test_empty_database_is_refused_until_initialised(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(StoreUnavailableError, match="anzhi init"):
        store.ensure_current()
    store.migrate()
    store.migrate()  # idempotent
    store.ensure_current()
    store.dispose()


def test_unreachable_postgres_names_the_url() -> None:
    store = open_store("postgresql+psycopg://nobody@127.0.0.1:1/nothing")
    with pytest.raises(StoreUnavailableError, match=r"cannot reach the database at postgresql\+psycopg://nobody@127.0.0.1:1"):
        store.ping()


@pytest.mark.parametrize("url", ["not a url", "mysql://x@y/z", "oracle+cx://a@b/c"])
def test_bad_urls(url: str) -> None:
    with pytest.raises(ConfigurationError):
        open_store(url)
