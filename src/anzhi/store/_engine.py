"""Engine, sessions and schema migrations. SQLite (WAL) by default, PostgreSQL by URL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from anzhi.errors import ConfigurationError, StoreUnavailableError

__all__ = ["Store", "open_store"]

_MIGRATIONS = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the driver, decide when transactions begin (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    # Writers take SQLite's write lock up front, so a read-then-write transaction (the audit chain's head)
    # never sees a stale snapshot; readers stay deferred and never block.
    if connection.get_execution_options().get("anzhi_write"):
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        connection.exec_driver_sql("BEGIN")


def _alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return config


class Store:
    """A database: its engine, a session factory and its migrations."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._head: str | None = None
        self.sessions = sessionmaker(engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(engine.execution_options(anzhi_write=True), expire_on_commit=False)

    @property
    def url(self) -> str:
        """The database URL with any password hidden."""
        return self.engine.url.render_as_string(hide_password=True)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @contextmanager
    def session(self, *, write: bool = True) -> Iterator[Session]:
        """A session in a transaction: committed on success, rolled back on any error.

        ``write=False`` for read-only work: on SQLite it does not take the write lock.
        """
        factory = self._write_sessions if write else self.sessions
        with factory() as session, session.begin():
            yield session

    def ping(self) -> None:
        """Check the database answers, or raise :class:`StoreUnavailableError` saying which and why."""
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except OperationalError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise StoreUnavailableError(
                f"cannot reach the database at {self.url}: {reason}. Check ANZHI_DB_URL and that the server runs."
            ) from exc

    def head_revision(self) -> str | None:
        """The newest migration shipped with this version (read from the migration scripts once)."""
        if self._head is None:
            self._head = ScriptDirectory.from_config(_alembic_config(self.engine)).get_current_head()
        return self._head

    def current_revision(self) -> str | None:
        """The migration the database is at (None for an empty database)."""
        self.ping()
        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def migrate(self) -> None:
        """Bring the schema to the newest revision (creates it on an empty database)."""
        self.ping()
        config = _alembic_config(self.engine)
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def ensure_current(self) -> None:
        """Refuse to work on a database whose schema is not this version's (say how to fix it)."""
        current, head = self.current_revision(), self.head_revision()
        if current is None:
            raise StoreUnavailableError(f"the database at {self.url} has no anzhi schema; run `anzhi init` first")
        if current != head:
            raise StoreUnavailableError(
                f"the database at {self.url} is at schema {current}, this anzhi needs {head}; run `anzhi init` "
                "to migrate it (back it up first)"
            )

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def open_store(url: str, *, echo: bool = False) -> Store:
    """Open (but do not migrate) the database at ``url``; a SQLite file's folder is created if missing."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigurationError(
            f"ANZHI_DB_URL {url!r} is not a database URL; use sqlite:///path/to/anzhi.db or "
            "postgresql+psycopg://user@host:5432/db"
        ) from exc
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, echo=echo)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    elif parsed.get_backend_name() == "postgresql":
        try:
            engine = create_engine(parsed, echo=echo, pool_pre_ping=True, connect_args={"connect_timeout": 5})
        except ModuleNotFoundError as exc:
            raise ConfigurationError(
                "PostgreSQL needs the driver: pip install 'anzhi[postgres]' (psycopg 3); use the URL scheme "
                "postgresql+psycopg://"
            ) from exc
    else:
        raise ConfigurationError(
            f"unsupported database {parsed.get_backend_name()!r}; anzhi supports sqlite and postgresql"
        )
    return Store(engine)
