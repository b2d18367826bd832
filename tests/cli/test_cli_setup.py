"""``anzhi --version``, ``--help``, ``init``, ``serve`` and the store/configuration error paths."""

from __future__ import annotations

import hashlib
import os
import re
import socket
import subprocess
import sys
import time
import types
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from anzhi import __version__
from anzhi.cli import app

from .helpers import Cli

TOKEN = re.compile(r"anz_[A-Za-z0-9_-]{20,}")


def test_version_in_process() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"anzhi {__version__}"


def test_console_script_version() -> None:
    script = Path(sys.executable).parent / "anzhi"
    if not script.exists():
        pytest.skip(f"console script not installed at {script}")
    done = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"anzhi {__version__}"


def test_help_documents_exit_codes_and_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for fragment in ("Exit codes", "1 problems found", "2 bad input", "3 database unreachable", "system", "findings",
                     "risk", "assess", "report", "audit", "serve", "init"):
        assert fragment in result.stdout
    assess_help = CliRunner().invoke(app, ["assess", "--help"])
    assert "assess run SYSTEM CATALOG" in assess_help.stdout


def test_init_prints_the_first_token_once_and_is_idempotent(cli: Cli) -> None:
    first = cli("init")
    tokens = TOKEN.findall(first.stdout)
    assert len(tokens) == 1, first.stdout
    assert "save it now" in first.stdout
    second = cli("init")
    assert "Schema is current" in second.stdout
    assert not TOKEN.search(second.stdout)
    counts = cli.counts()
    assert counts["app_user"] == 1
    assert counts["api_token"] == 1
    engine = create_engine(cli.db_url)
    try:
        with engine.connect() as connection:
            stored = connection.execute(text("SELECT token_hash FROM api_token")).scalar_one()
    finally:
        engine.dispose()
    assert stored == hashlib.sha256(tokens[0].encode()).hexdigest()


def test_init_creates_a_fresh_sqlite_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANZHI_HOME", str(tmp_path / "ws"))
    monkeypatch.delenv("ANZHI_DB_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["init"])
    assert result.exit_code == 0, result.output
    assert "Created the anzhi schema" in result.stdout
    assert TOKEN.search(result.stdout)
    assert (tmp_path / "ws" / "anzhi.db").is_file()


def _fail(args: list[str], env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ANZHI_HOME", str(tmp_path / "home"))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return CliRunner().invoke(app, args)


@pytest.mark.parametrize("args", [["init"], ["system", "list"], ["risk", "list"], ["audit", "verify"],
                                  ["system", "add", "x"]])
def test_unreachable_database_exits_3(args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = _fail(args, {"ANZHI_DB_URL": "postgresql+psycopg://nobody@127.0.0.1:1/x"}, monkeypatch, tmp_path)
    assert result.exit_code == 3, result.output
    assert result.stderr.startswith("error: cannot reach the database")
    assert "Traceback" not in result.output


def test_database_without_schema_exits_3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    result = _fail(["system", "list"], {"ANZHI_DB_URL": url}, monkeypatch, tmp_path)
    assert result.exit_code == 3
    assert "anzhi init" in result.stderr


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"ANZHI_DB_URL": "mysql://root@localhost/anzhi"}, "unsupported database"),
        ({"ANZHI_DB_URL": "not a url"}, "is not a database URL"),
        ({"ANZHI_PORT": "many"}, "invalid ANZHI_* setting"),
    ],
)
def test_bad_configuration_exits_2(env: dict[str, str], fragment: str, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    result = _fail(["system", "list"], env, monkeypatch, tmp_path)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ")
    assert fragment in result.stderr


def test_serve_initialises_and_prints_how_to_log_in(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, str, int]] = []
    fake = types.ModuleType("anzhi.api")

    def serve(workspace: Any, host: str, port: int) -> None:
        calls.append((workspace, host, port))

    fake.serve = serve  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "anzhi.api", fake)
    result = cli("serve", "--host", "127.0.0.1", "--port", "8765")
    assert "http://127.0.0.1:8765/" in result.stdout
    assert "http://127.0.0.1:8765/docs" in result.stdout
    assert "Authorization: Bearer <token>" in result.stdout
    assert len(TOKEN.findall(result.stdout)) == 1  # the fresh workspace got its first admin
    assert [(host, port) for _, host, port in calls] == [("127.0.0.1", 8765)]
    again = cli("serve", "--port", "8766")
    assert not TOKEN.search(again.stdout)
    assert calls[-1][1:] == (os.environ.get("ANZHI_HOST", "127.0.0.1"), 8766)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.mark.slow
def test_console_script_serves_the_api(tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "anzhi"
    if not script.exists():
        pytest.skip(f"console script not installed at {script}")
    port = _free_port()
    env = {**os.environ, "ANZHI_HOME": str(tmp_path / "ws"), "COLUMNS": "200"}
    env.pop("ANZHI_DB_URL", None)
    process = subprocess.Popen([str(script), "serve", "--port", str(port)], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        status = 0
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None:
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/docs", timeout=1).status_code
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert status == 200
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    assert f"http://127.0.0.1:{port}/docs" in output
    assert "Authorization: Bearer <token>" in output
    assert len(TOKEN.findall(output)) == 1
