"""``anzhi report`` and ``anzhi audit verify`` (including a tampered event)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from sqlalchemy import create_engine, update

from anzhi.store import AuditEvent

from .helpers import Cli, finding


def test_report_writes_html_to_the_workspace_by_default(ready: Cli) -> None:
    ready("findings", "import", str(ready.write_findings("f.json", [finding()])), "--system", "demo")
    result = ready("report", "demo")
    path = result.stdout.strip()
    day = datetime.now(UTC).date().isoformat()
    assert path == str(ready.home / "reports" / f"demo-{day}.html")
    html = (ready.home / "reports" / f"demo-{day}.html").read_text(encoding="utf-8")
    assert "<html" in html.lower() and "demo" in html


def test_report_json_and_languages(ready: Cli) -> None:
    target = ready.tmp_path / "out" / "report.json"
    printed = ready("report", "1", "--format", "json", "--output", str(target)).stdout.strip()
    assert printed == str(target)
    data = json.loads(target.read_text(encoding="utf-8"))
    assert "demo" in json.dumps(data, ensure_ascii=False)
    english = ready("report", "demo", "--lang", "en", "--output", "-").stdout
    assert "demo" in english and "<html" in english.lower()
    before = ready.counts()
    assert "system 'nope' not found" in ready("report", "nope", expect=2).stderr
    assert ready.counts() == before


def test_audit_verify_then_tamper(ready: Cli) -> None:
    ok = ready("audit", "verify")
    match = re.search(r"(\d+) events verified", ok.stdout)
    assert match and int(match.group(1)) >= 3
    assert ready.json("audit", "verify")["ok"] is True

    engine = create_engine(ready.db_url)
    try:
        with engine.begin() as connection:
            connection.execute(update(AuditEvent).where(AuditEvent.seq == 2).values(data={"prefix": "anz_forged"}))
    finally:
        engine.dispose()

    broken = ready("audit", "verify", expect=1)
    assert "tampered" in broken.stdout
    assert re.search(r"│ 2\s+│ tampered", broken.stdout), broken.stdout
    assert broken.stderr.startswith("error: the audit chain does not verify")
    assert "first at event 2" in broken.stderr
    as_json = json.loads(ready("audit", "verify", "--json", expect=1).stdout)
    assert as_json["ok"] is False
    assert [(p["seq"], p["kind"]) for p in as_json["problems"]] == [(2, "tampered")]

    log = ready.json("audit", "log", "--limit", "3")
    assert len(log) == 3 and log[0]["seq"] > log[-1]["seq"]
