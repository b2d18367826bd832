"""``anzhi aibom PATH`` run through Typer's test runner on a small app that mounts the command."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import typer
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from typer.testing import CliRunner

from anzhi.cli._aibom import aibom
from anzhi.develop.models import FileResult, ModelFormat, Reason, ScanReport, Verdict
from anzhi.findings import Confidence, Severity


def make_app() -> typer.Typer:
    app = typer.Typer()
    app.command("aibom")(aibom)

    @app.command("other")
    def _other() -> None:  # a second command, so ``aibom`` is a subcommand as in the real app
        """Nothing."""

    return app


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    root = tmp_path / "tiny"
    root.mkdir()
    (root / "config.json").write_text(json.dumps({"architectures": ["BertForMaskedLM"], "model_type": "bert"}))
    (root / "README.md").write_text("---\nlicense: mit\ndatasets: [bookcorpus]\n---\n# tiny\n")
    (root / "model.bin").write_bytes(b"\x80\x02c__builtin__\neval\n.")
    return root


def valid(text: str) -> dict[str, object]:
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    assert error is None, str(error)
    doc: dict[str, object] = json.loads(text)
    return doc


def test_json_on_stdout_without_scan(model_dir: Path) -> None:
    result = CliRunner().invoke(make_app(), ["aibom", str(model_dir), "--no-scan"])
    assert result.exit_code == 0, result.output
    doc = valid(result.stdout)
    names = {c["name"]: c for c in doc["components"]}  # type: ignore[attr-defined]
    assert names["tiny"]["modelCard"]["modelParameters"]["task"] == "fill-mask"
    assert names["tiny"]["licenses"] == [{"license": {"id": "MIT"}}]
    assert (
        names["model.bin"]["hashes"][0]["content"] == hashlib.sha256((model_dir / "model.bin").read_bytes()).hexdigest()
    )
    assert "AI-BOM of tiny: 3 files" in result.stderr


def test_output_file_with_scan_verdicts(model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dangerous = FileResult(
        path=str(model_dir / "model.bin"),
        format=ModelFormat.PICKLE,
        size=(model_dir / "model.bin").stat().st_size,
        reasons=[
            Reason(
                rule_id="MODEL-401",
                message="calls builtins.eval",
                severity=Severity.CRITICAL,
                confidence=Confidence.HIGH,
                verdict=Verdict.DANGEROUS,
            )
        ],
    )
    monkeypatch.setattr("anzhi.develop.aibom._builder._scan", lambda path, files: ScanReport(results=[dangerous]))
    out = tmp_path / "bom.cdx.json"
    result = CliRunner().invoke(make_app(), ["aibom", str(model_dir), "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    doc = valid(out.read_text(encoding="utf-8"))
    pickle = next(c for c in doc["components"] if c["name"] == "model.bin")  # type: ignore[attr-defined]
    assert {"name": "anzhi:verdict", "value": "dangerous"} in pickle["properties"]
    assert {"name": "anzhi:rule", "value": "MODEL-401"} in pickle["properties"]
    assert "worst verdict dangerous" in result.stderr


def test_missing_path_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(make_app(), ["aibom", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "no such file or folder" in result.stderr
    assert result.stdout == ""


def test_help_names_the_options() -> None:
    result = CliRunner().invoke(make_app(), ["aibom", "--help"])
    assert result.exit_code == 0
    assert "--output" in result.stdout
    assert "--no-scan" in result.stdout
