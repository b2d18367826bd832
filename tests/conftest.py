"""Shared fixtures: every store-backed test runs on SQLite and, where ANZHI_TEST_PG_URL is set, PostgreSQL."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from anzhi.config import Settings
from anzhi.store import Base, Store, open_store
from anzhi.taxonomy import default_taxonomy
from anzhi.workspace import Workspace

PG_URL = os.environ.get("ANZHI_TEST_PG_URL", "")
SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def pytest_report_header() -> str:
    postgres = f"postgresql ({PG_URL})" if PG_URL else "PostgreSQL skipped: ANZHI_TEST_PG_URL unset"
    return f"anzhi store backends: sqlite, {postgres}"


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "anzhi.db"
    store = open_store(f"sqlite:///{path}")
    store.migrate()
    store.dispose()
    return path


@pytest.fixture(scope="session")
def _pg_database() -> Iterator[str]:
    if not PG_URL:
        pytest.skip("PostgreSQL tests need ANZHI_TEST_PG_URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)")
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    name = f"anzhi_test_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    store = open_store(url)
    store.migrate()
    store.dispose()
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _truncate_all(store: Store) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with store.engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, _sqlite_template: Path) -> str:
    """A freshly migrated, empty database URL on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "anzhi.db"
        shutil.copyfile(_sqlite_template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("_pg_database")
    store = open_store(url)
    _truncate_all(store)
    store.dispose()
    return url


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = open_store(db_url)
    yield s
    s.dispose()


@pytest.fixture
def workspace(db_url: str, tmp_path: Path) -> Iterator[Workspace]:
    settings = Settings(home=tmp_path / "home", db_url=db_url)
    ws = Workspace(settings=settings, store=open_store(db_url), taxonomy=default_taxonomy())
    yield ws
    ws.close()


@pytest.fixture
def shared_datasets() -> Path:
    root = Path(os.environ.get("ANZHI_DATASETS", SHARED / "datasets"))
    if not root.is_dir():
        pytest.skip(f"shared datasets not found at {root} (set ANZHI_DATASETS)")
    return root
