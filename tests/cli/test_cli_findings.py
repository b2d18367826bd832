"""``anzhi findings import``: anzhi JSON and SARIF, and every refusal leaving the store as it was."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .helpers import OTHER_RISK_ID, RISK_ID, SECRET_RISK_ID, Cli, finding


def _sarif(cli: Cli, name: str, results: list[dict[str, Any]]) -> Path:
    document = {
        "version": "2.1.0",
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "runs": [{
            "tool": {"driver": {"name": "Semgrep", "version": "1.90", "rules": [
                {"id": "py.hardcoded-secret", "properties": {"anzhi-taxonomy": [SECRET_RISK_ID]}},
                {"id": "py.prompt-concat"},
            ]}},
            "results": results,
        }],
    }
    path = cli.tmp_path / name
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def _result(rule: str, file: str, line: int) -> dict[str, Any]:
    return {
        "ruleId": rule, "level": "error", "message": {"text": f"{rule} at {file}:{line}"},
        "locations": [{"physicalLocation": {"artifactLocation": {"uri": file}, "region": {"startLine": line}}}],
    }


def test_import_anzhi_json(ready: Cli) -> None:
    path = ready.write_findings("scan.json", [finding("HARM-301", record="1"), finding("HARM-302", record="2")])
    text = ready("findings", "import", str(path), "--system", "demo").stdout
    assert "findings: 2 new, 0 recurring, 0 resolved" in text
    assert "risks created: 1 (#1)" in text

    again = ready.json("findings", "import", str(path), "--system", "demo")
    (run,) = again["runs"]
    assert (run["new"], run["recurring"], run["resolved"], run["risks_created"]) == (0, 2, 0, [])
    risks = ready.json("risk", "list", "--system", "demo")
    assert risks["total"] == 1 and risks["items"][0]["taxonomy_id"] == RISK_ID
    assert risks["items"][0]["open_findings"] == 2
    findings = ready.json("findings", "list", "--system", "demo")
    assert findings["total"] == 2 and {f["count"] for f in findings["items"]} == {2}


def test_import_sarif_with_default_taxonomy_and_check_id(ready: Cli) -> None:
    path = _sarif(ready, "semgrep.sarif", [_result("py.hardcoded-secret", "app.py", 3),
                                           _result("py.prompt-concat", "chat.py", 10)])
    result = ready.json("findings", "import", str(path), "--system", "demo", "--taxonomy", OTHER_RISK_ID)
    (run,) = result["runs"]
    assert run["check_id"] == "sarif.semgrep"
    assert run["new"] == 2 and len(run["risks_created"]) == 2
    taxonomy_ids = {r["taxonomy_id"] for r in ready.json("risk", "list")["items"]}
    assert taxonomy_ids == {SECRET_RISK_ID, OTHER_RISK_ID}

    clean = _sarif(ready, "clean.sarif", [])
    text = ready("findings", "import", str(clean), "--system", "1", "--taxonomy", OTHER_RISK_ID).stdout
    assert "findings: 0 new, 0 recurring, 2 resolved" in text

    custom = ready.json("findings", "import", str(path), "--system", "demo", "--taxonomy", OTHER_RISK_ID,
                        "--check-id", "sast.semgrep")
    assert custom["runs"][0]["check_id"] == "sast.semgrep"


def _bad_file(cli: Cli, kind: str) -> list[str]:
    good = cli.write_findings("good.json", [finding()])
    if kind == "unknown system":
        return [str(good), "--system", "nope"]
    if kind == "unknown taxonomy in file":
        return [str(cli.write_findings("bad.json", [finding(), finding(taxonomy_id="gbt45654.A9.z", record="9")])),
                "--system", "demo"]
    if kind == "unknown --taxonomy":
        return [str(_sarif(cli, "s.sarif", [_result("py.prompt-concat", "a.py", 1)])), "--system", "demo",
                "--taxonomy", "owasp-llm.LLM99"]
    if kind == "sarif without taxonomy":
        return [str(_sarif(cli, "s.sarif", [_result("py.prompt-concat", "a.py", 1)])), "--system", "demo"]
    if kind == "not json":
        path = cli.tmp_path / "broken.json"
        path.write_text('{"schema": "anzhi.findings/1", "run": ', encoding="utf-8")
        return [str(path), "--system", "demo"]
    if kind == "wrong shape":
        path = cli.tmp_path / "shape.json"
        path.write_text(json.dumps({"run": {"check_id": "data.scan"}, "findings": [{"title": "x"}]}), encoding="utf-8")
        return [str(path), "--system", "demo"]
    if kind == "missing file":
        return [str(cli.tmp_path / "absent.json"), "--system", "demo"]
    raise AssertionError(kind)


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("unknown system", "system 'nope' not found"),
        ("unknown taxonomy in file", "unknown taxonomy id 'gbt45654.A9.z'"),
        ("unknown --taxonomy", "unknown taxonomy id 'owasp-llm.LLM99'"),
        ("sarif without taxonomy", "names no taxonomy id"),
        ("not json", "not valid JSON"),
        ("wrong shape", "findings.0"),
        ("missing file", "cannot read the file"),
    ],
)
def test_bad_imports_are_refused_and_change_nothing(ready: Cli, kind: str, message: str) -> None:
    args = _bad_file(ready, kind)
    before = ready.counts()
    result = ready("findings", "import", *args, expect=2)
    assert result.stderr.startswith("error: "), result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert ready.counts() == before
