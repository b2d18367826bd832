"""The findings contract and its file formats: anzhi JSON and SARIF 2.1.0, with clear errors on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from anzhi.errors import FindingsFormatError
from anzhi.findings import (
    FINDINGS_SCHEMA,
    Finding,
    Location,
    Severity,
    compute_fingerprint,
    load_findings_file,
)


def _finding(**over: object) -> dict[str, object]:
    base: dict[str, object] = {
        "check_id": "model.scan", "rule_id": "MODEL-401", "taxonomy_ids": ["owasp-llm.LLM03"],
        "severity": "critical", "title": "pickle imports os.system", "location": {"file": "m.pkl", "offset": 12},
    }
    base.update(over)
    return base


def test_fingerprint_is_stable_and_ignores_request_ids() -> None:
    a = Finding.model_validate(_finding(location={"file": "m.pkl", "request_id": "r1"}))
    b = Finding.model_validate(_finding(location={"file": "m.pkl", "request_id": "r2"}))
    c = Finding.model_validate(_finding(location={"file": "other.pkl"}))
    assert a.fingerprint == b.fingerprint != c.fingerprint
    assert a.fingerprint == compute_fingerprint("model.scan", "MODEL-401", ("owasp-llm.LLM03",), Location(file="m.pkl"))
    twin = Finding.model_validate(_finding(location={"file": "m.pkl", "request_id": "r1"}, evidence={"k": [1]}))
    same = Finding.model_validate(_finding(location={"file": "m.pkl", "request_id": "r1"}, evidence={"k": [1]}))
    assert twin == same and hash(twin) == hash(same) and len({twin, same}) == 1  # equality and hashing agree


def test_evidence_must_be_small() -> None:
    with pytest.raises(ValidationError, match="evidence is"):
        Finding.model_validate(_finding(evidence={"blob": "x" * 10_000}))


def test_finding_needs_a_taxonomy_id_and_a_known_severity() -> None:
    with pytest.raises(ValidationError):
        Finding.model_validate(_finding(taxonomy_ids=[]))
    with pytest.raises(ValidationError):
        Finding.model_validate(_finding(severity="apocalyptic"))


def test_anzhi_json_document(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    doc = {"schema": FINDINGS_SCHEMA, "run": {"check_id": "model.scan", "metrics": {"files": 3}},
           "findings": [_finding(), _finding(rule_id="MODEL-402")]}
    path.write_text(json.dumps(doc), encoding="utf-8")
    [batch] = load_findings_file(path)
    assert batch.run.check_id == "model.scan" and len(batch.findings) == 2
    assert batch.run.metrics == {"files": 3.0}


def test_bare_list_is_grouped_by_check(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    path.write_text(json.dumps([_finding(), _finding(check_id="data.scan")]), encoding="utf-8")
    batches = load_findings_file(path)
    assert sorted(b.run.check_id for b in batches) == ["data.scan", "model.scan"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe\x00garbage", "not UTF-8"),
        (b'{"schema": "other/9", "run": {"check_id": "x"}}', "unsupported schema"),
        (b'{"findings": []}', "missing 'run'"),
        (b'"a string"', "expected a JSON object"),
        (json.dumps([_finding(severity="bad")]).encode(), r"findings\[0\].severity"),
        (json.dumps({"run": {"check_id": "a.b"}, "findings": [_finding()]}).encode(), "split the batch by check"),
        (json.dumps({"run": {"check_id": "BAD ID"}}).encode(), "run.check_id"),
    ],
)
def test_bad_files_say_what_is_wrong(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(FindingsFormatError, match=message) as info:
        load_findings_file(path)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FindingsFormatError, match="cannot read"):
        load_findings_file(tmp_path / "nope.json")


def _sarif(results: list[dict[str, object]], rules: list[dict[str, object]] | None = None) -> dict[str, object]:
    return {
        "version": "2.1.0",
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "runs": [{"tool": {"driver": {"name": "Bandit", "version": "1.7", "rules": rules or []}},
                  "results": results}],
    }


def test_sarif_import_maps_levels_locations_and_taxonomy(tmp_path: Path) -> None:
    rules = [{"id": "B301", "properties": {"anzhi-taxonomy": ["owasp-llm.LLM03"], "security-severity": "9.1"}}]
    results = [
        {"ruleId": "B301", "message": {"text": "pickle.load on untrusted data\nmore"},
         "locations": [{"physicalLocation": {"artifactLocation": {"uri": "app.py"}, "region": {"startLine": 7}}}],
         "partialFingerprints": {"primaryLocationLineHash": "abc"}},
        {"ruleIndex": 0, "level": "note", "message": {"text": "again"}},
        {"ruleId": "B105", "level": "warning", "message": {"text": "hardcoded password"}},
    ]
    path = tmp_path / "bandit.sarif"
    path.write_text(json.dumps(_sarif(results, rules)), encoding="utf-8")
    [batch] = load_findings_file(path, default_taxonomy_id="owasp-llm.LLM02")
    first, second, third = batch.findings
    assert batch.run.check_id == "sarif.bandit" and batch.run.tool == "Bandit"
    assert first.severity is Severity.CRITICAL and first.location.file == "app.py" and first.location.line == 7
    assert first.title == "pickle.load on untrusted data" and first.taxonomy_ids == ("owasp-llm.LLM03",)
    assert second.rule_id == "B301"
    assert third.severity is Severity.MEDIUM and third.taxonomy_ids == ("owasp-llm.LLM02",)
    # SARIF fingerprints give stable identities across runs.
    [again] = load_findings_file(path, default_taxonomy_id="owasp-llm.LLM02")
    assert again.findings[0].fingerprint == first.fingerprint


def test_sarif_without_taxonomy_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.sarif"
    path.write_text(json.dumps(_sarif([{"ruleId": "X1", "message": {"text": "m"}}])), encoding="utf-8")
    with pytest.raises(FindingsFormatError, match=r"results\[0\].*--taxonomy"):
        load_findings_file(path)
    path.write_text(json.dumps(_sarif([{"message": {"text": "m"}}])), encoding="utf-8")
    with pytest.raises(FindingsFormatError, match="no ruleId"):
        load_findings_file(path, default_taxonomy_id="owasp-llm.LLM01")


def test_sarif_runs_of_one_tool_merge_into_one_batch(tmp_path: Path) -> None:
    document = _sarif([{"ruleId": "A", "message": {"text": "a"}}])
    second = _sarif([{"ruleId": "B", "message": {"text": "b"}}])["runs"]
    document["runs"] = document["runs"] + second  # type: ignore[operator]
    path = tmp_path / "two.sarif"
    path.write_text(json.dumps(document), encoding="utf-8")
    batches = load_findings_file(path, default_taxonomy_id="owasp-llm.LLM01")
    assert len(batches) == 1 and sorted(f.rule_id for f in batches[0].findings) == ["A", "B"]
