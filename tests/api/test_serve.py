"""The public surface of ``anzhi.api`` and the server entry point (uvicorn itself is not started)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import uvicorn

import anzhi.api
from anzhi.api import create_app, serve
from anzhi.config import Settings
from anzhi.errors import StoreUnavailableError
from anzhi.store import open_store
from anzhi.workspace import Workspace


def test_public_names_are_exactly_the_exports() -> None:
    assert anzhi.api.__all__ == ["create_app", "serve"]
    assert all(callable(getattr(anzhi.api, name)) for name in anzhi.api.__all__)


def test_import_limit_must_be_positive(workspace: Workspace) -> None:
    with pytest.raises(ValueError, match="max_import_bytes"):
        create_app(workspace, max_import_bytes=0)


def test_serve_refuses_an_unmigrated_database(tmp_path: Path, workspace: Workspace,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: pytest.fail("uvicorn must not start"))
    empty = Workspace(settings=Settings(home=tmp_path), store=open_store(f"sqlite:///{tmp_path / 'empty.db'}"),
                      taxonomy=workspace.taxonomy)
    try:
        with pytest.raises(StoreUnavailableError, match="anzhi init"):
            serve(empty)
    finally:
        empty.close()


def test_serve_runs_uvicorn_with_logs_on_stderr(workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: calls.append((app, kwargs)))
    serve(workspace, port=8700)
    ((app, kwargs),) = calls
    assert app.title == "anzhi 安治"
    assert kwargs["host"] == workspace.settings.host and kwargs["port"] == 8700
    handlers = kwargs["log_config"]["handlers"].values()
    assert handlers and all(handler["stream"] == "ext://sys.stderr" for handler in handlers)
