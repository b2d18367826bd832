"""Fixtures for the CLI tests: ``anzhi`` run in-process against the ``db_url`` fixture (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from .helpers import Cli


@pytest.fixture
def cli(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    home = tmp_path / "home"
    monkeypatch.chdir(tmp_path)  # no stray .env from the working directory
    monkeypatch.setenv("ANZHI_HOME", str(home))
    monkeypatch.setenv("ANZHI_DB_URL", db_url)
    monkeypatch.setenv("ANZHI_ACTOR", "cli-tester")
    monkeypatch.delenv("ANZHI_TAXONOMY_DIRS", raising=False)
    monkeypatch.setenv("COLUMNS", "250")
    yield Cli(db_url=db_url, home=home, tmp_path=tmp_path, runner=CliRunner())


@pytest.fixture
def ready(cli: Cli) -> Cli:
    """An initialised workspace with one system, ``demo``."""
    cli("init")
    cli("system", "add", "demo", "--owner", "alice", "--sector", "finance")
    return cli
