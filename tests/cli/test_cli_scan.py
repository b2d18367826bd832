"""``anzhi scan model``: outputs, exit codes 0/1/2, and ``--store`` turning findings into risks."""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from anzhi.cli import app

from .helpers import Cli

# Harmless if ever loaded (it evaluates 1+1), but a pickle that calls eval is dangerous by any policy.
EVAL_PICKLE = b"cbuiltins\neval\n(V1+1\ntR."


def zip_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture
def scan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "250")
    monkeypatch.setenv("ANZHI_HOME", str(tmp_path / "home"))
    yield CliRunner()


def run(runner: CliRunner, *args: str) -> Result:
    return runner.invoke(app, ["scan", "model", *args])


@pytest.fixture
def models(tmp_path: Path) -> Path:
    root = tmp_path / "models"
    root.mkdir()
    (root / "benign.pkl").write_bytes(pickle.dumps({"weights": [0.5, 1.5]}, protocol=4))
    (root / "README.md").write_bytes(b"# card\n")
    return root


def test_clean_folder_exits_0(scan: CliRunner, models: Path) -> None:
    result = run(scan, str(models))
    assert result.exit_code == 0, result.output
    assert "benign.pkl" in result.stdout and "clean" in result.stdout
    assert "2 files: 0 dangerous, 0 review, 0 invalid, 2 clean" in result.stdout  # a text README is clean


def test_dangerous_file_exits_1_in_every_format(scan: CliRunner, models: Path) -> None:
    (models / "weights.safetensors").write_bytes(EVAL_PICKLE)  # misleading name
    table = run(scan, str(models))
    assert table.exit_code == 1 and "dangerous" in table.stdout
    as_json = run(scan, str(models), "--format", "json")
    assert as_json.exit_code == 1
    document = json.loads(as_json.stdout)
    entry = next(r for r in document["results"] if r["path"].endswith("weights.safetensors"))
    assert entry["verdict"] == "dangerous" and entry["format"] == "pickle"
    sarif = run(scan, str(models), "-f", "sarif")
    assert sarif.exit_code == 1
    assert json.loads(sarif.stdout)["runs"][0]["results"]


def test_fail_on_threshold(scan: CliRunner, tmp_path: Path) -> None:
    slip = tmp_path / "slip.zip"
    slip.write_bytes(zip_of({"../../x": b"x"}))  # MODEL-480, high
    assert run(scan, str(slip)).exit_code == 1
    assert run(scan, str(slip), "--fail-on", "critical").exit_code == 0
    link_dir = tmp_path / "links"
    link_dir.mkdir()
    (link_dir / "a.pkl").write_bytes(pickle.dumps(1))
    (link_dir / "ln").symlink_to("a.pkl")  # MODEL-494, info
    assert run(scan, str(link_dir)).exit_code == 0
    assert run(scan, str(link_dir), "--fail-on", "info").exit_code == 1
    assert run(scan, str(link_dir), "--fail-on", "info", "--follow-symlinks").exit_code == 0


def test_max_depth_option(scan: CliRunner, tmp_path: Path) -> None:
    nested = tmp_path / "nested.zip"
    nested.write_bytes(zip_of({"inner.zip": zip_of({"evil.pkl": EVAL_PICKLE})}))
    assert run(scan, str(nested)).exit_code == 1
    shallow = run(scan, str(nested), "--max-depth", "1", "-f", "json")
    assert shallow.exit_code == 0  # the inner archive is not opened: MODEL-484 (medium) only
    rules = json.loads(shallow.stdout)["rules"]
    assert "MODEL-484" in rules


def test_output_file(scan: CliRunner, models: Path, tmp_path: Path) -> None:
    target = tmp_path / "report.sarif"
    result = run(scan, str(models), "-f", "sarif", "-o", str(target))
    assert result.exit_code == 0, result.output
    assert json.loads(target.read_text(encoding="utf-8"))["version"] == "2.1.0"
    assert f"report written to {target}" in result.stdout
    bad = run(scan, str(models), "-o", str(tmp_path / "no" / "such" / "dir" / "x.json"), "-f", "json")
    assert bad.exit_code == 2 and "cannot write" in bad.stderr


def test_scanner_errors_exit_2(scan: CliRunner, models: Path, tmp_path: Path) -> None:
    missing = run(scan, str(models), str(tmp_path / "absent.pt"))
    assert missing.exit_code == 2 and "no such file or folder" in missing.stderr and "absent.pt" in missing.stderr
    assert "benign.pkl" not in missing.stdout  # refused before any work
    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = run(scan, str(empty))
    assert nothing.exit_code == 2 and "nothing to scan" in nothing.stderr
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "gone")
    unreadable = run(scan, str(dangling))
    assert unreadable.exit_code == 2 and "nothing could be scanned" in unreadable.stderr
    assert run(scan, str(models), "--format", "xml").exit_code == 2
    assert run(scan, str(models), "--jobs", "0").exit_code == 2
    assert run(scan, str(models), "--max-depth", "0").exit_code == 2
    assert run(scan, str(models), "--fail-on", "severe").exit_code == 2
    assert run(scan).exit_code == 2
    no_system = run(scan, str(models), "--store")
    assert no_system.exit_code == 2 and "--store needs --system" in no_system.stderr
    assert run(scan, str(models), "--system", "demo").exit_code == 2


def test_help_lists_the_command(scan: CliRunner) -> None:
    result = scan.invoke(app, ["scan", "--help"])
    assert result.exit_code == 0 and "model" in result.stdout


def test_store_creates_a_risk_and_a_clean_rescan_resolves(ready: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "shipped"
    folder.mkdir()
    evil = folder / "model.bin"
    evil.write_bytes(EVAL_PICKLE)
    (folder / "ok.pkl").write_bytes(pickle.dumps([1, 2, 3]))
    first = ready("scan", "model", str(folder), "--store", "--system", "demo", expect=1)
    assert "risks created: 1 (#1)" in first.stdout and "stored in demo" in first.stdout
    risks = ready.json("risk", "list", "--system", "demo")
    assert risks["total"] == 1 and risks["items"][0]["taxonomy_id"] == "owasp-llm.LLM03"
    findings = ready.json("findings", "list", "--system", "demo", "--check-id", "model.scan")
    assert findings["total"] >= 1 and all(f["rule_id"].startswith("MODEL-4") for f in findings["items"])

    evil.write_bytes(pickle.dumps({"fixed": True}))
    second = ready("scan", "model", str(folder), "--store", "--system", "demo", "-f", "json", expect=0)
    assert json.loads(second.stdout)["counts"]["dangerous"] == 0  # stdout stays pure JSON
    assert "resolved" in second.stderr and "risks created: 0" in second.stderr
    after = ready.json("findings", "list", "--system", "demo", "--check-id", "model.scan", "--status", "open")
    assert after["total"] == 0


def test_store_with_unknown_system_fails_before_scanning(ready: Cli, tmp_path: Path) -> None:
    (tmp_path / "a.pkl").write_bytes(EVAL_PICKLE)
    before = ready.counts()
    result = ready("scan", "model", str(tmp_path / "a.pkl"), "--store", "--system", "nope", expect=2)
    assert "nope" in result.stderr and "dangerous" not in result.stdout
    assert ready.counts() == before
