"""The closed loop end to end through the CLI, and refused transitions."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from .helpers import OTHER_RISK_ID, Cli, finding


def _status(cli: Cli, risk_id: int) -> str:
    status: str = cli.json("risk", "show", str(risk_id))["status"]
    return status


def test_closed_loop_end_to_end(ready: Cli) -> None:
    dirty = ready.write_findings("dirty.json", [finding("HARM-301", record="17")])
    clean = ready.write_findings("clean.json", [])
    ready("control", "add", "FILTER-01", "Corpus keyword filter", "--catalog-ref", "gbt45654:5.2.a")

    imported = ready.json("findings", "import", str(dirty), "--system", "demo")
    (risk_id,) = imported["runs"][0]["risks_created"]
    assert _status(ready, risk_id) == "identified"

    assessed = ready("risk", "transition", str(risk_id), "assessed", "--likelihood", "4", "--impact", "4",
                     "--note", "seen in the SFT corpus")
    assert f"risk #{risk_id}: identified → assessed" in assessed.stdout
    assert ready.json("risk", "show", str(risk_id))["level"] == "very_high"

    ready("risk", "transition", str(risk_id), "treating", "--treatment", "mitigate", "--owner", "bob",
          "--plan", "filter and re-scan", "--due", "2030-01-31", "--control", "FILTER-01")
    ready("risk", "transition", str(risk_id), "verifying")
    treated = ready.json("risk", "show", str(risk_id))
    assert treated["status"] == "verifying"
    assert treated["owner"] == "bob" and treated["due_date"] == "2030-01-31"
    assert treated["controls"] == ["FILTER-01"]

    verified = ready("findings", "import", str(clean), "--system", "demo")
    assert "1 resolved" in verified.stdout
    assert f"risks verified: 1 (#{risk_id})" in verified.stdout
    assert _status(ready, risk_id) == "monitoring"

    ready("risk", "transition", str(risk_id), "closed", "--note", "held for a month")
    assert _status(ready, risk_id) == "closed"
    assert ready.json("risk", "list", "--open")["total"] == 0

    recurred = ready("findings", "import", str(dirty), "--system", "demo")
    assert f"risks reopened: 1 (#{risk_id})" in recurred.stdout
    shown = ready.json("risk", "show", str(risk_id))
    assert shown["status"] == "identified"
    assert shown["reopen_count"] == 1
    assert shown["allowed_next"] == ["assessed"]
    kinds = [event["kind"] for event in shown["history"]]
    assert kinds == ["identified", "transition", "transition", "transition", "verified", "transition", "reopened"]
    assert shown["findings"][0]["status"] == "open"

    table = ready("risk", "show", str(risk_id)).stdout
    assert "next / 可转入: assessed" in table and "reopened" in table
    assert ready("audit", "verify").exit_code == 0


def test_illegal_and_incomplete_transitions_change_nothing(ready: Cli) -> None:
    ready("findings", "import", str(ready.write_findings("f.json", [finding()])), "--system", "demo")
    before = ready.counts()
    cases = [
        (["closed"], "cannot move from 'identified' to 'closed'"),
        (["treating", "--treatment", "mitigate", "--owner", "x"], "allowed from 'identified': assessed"),
        (["assessed"], "give likelihood and impact"),
        (["assessed", "--likelihood", "3"], "give both likelihood and impact"),
        (["assessed", "--likelihood", "3", "--impact", "3", "--control", "NOPE-1"], "control 'NOPE-1' not found"),
        (["assessed", "--likelihood", "3", "--impact", "3", "--due", "31/01/2030"], "--due: '31/01/2030'"),
    ]
    for args, message in cases:
        result = ready("risk", "transition", "1", *args, expect=2)
        assert result.stderr.startswith("error: ") and message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.output
    out_of_range = ready("risk", "transition", "1", "assessed", "--likelihood", "9", "--impact", "3", expect=2)
    assert "--likelihood" in out_of_range.output
    missing = ready("risk", "transition", "99", "assessed", "--likelihood", "3", "--impact", "3", expect=2)
    assert "risk 99 not found" in missing.stderr
    assert ready.counts() == before
    assert _status(ready, 1) == "identified"

    ready("risk", "transition", "1", "assessed", "--likelihood", "2", "--impact", "2")
    past = ready("risk", "transition", "1", "accepted", "--owner", "cro", "--accepted-until", "2020-01-01",
                 expect=2)
    assert "accepted_until" in past.stderr
    ready("risk", "transition", "1", "accepted", "--owner", "cro", "--accepted-until", "2099-12-31T00:00+08:00")
    accepted = ready.json("risk", "show", "1")
    assert accepted["status"] == "accepted" and accepted["accepted_until"].startswith("2099-12-30T16:00")


def test_risk_list_filters_and_paging(ready: Cli) -> None:
    path = ready.write_findings("f.json", [finding(), finding("INJ-201", taxonomy_id=OTHER_RISK_ID, record="2")])
    ready("findings", "import", str(path), "--system", "demo")
    ready("risk", "transition", "1", "assessed", "--likelihood", "5", "--impact", "5")
    assert ready.json("risk", "list")["total"] == 2
    assert [r["id"] for r in ready.json("risk", "list", "--status", "assessed")["items"]] == [1]
    assert [r["id"] for r in ready.json("risk", "list", "--level", "extreme")["items"]] == [1]
    assert [r["taxonomy_id"] for r in ready.json("risk", "list", "--taxonomy", "owasp-llm.")["items"]] == [
        OTHER_RISK_ID
    ]
    page = ready.json("risk", "list", "--limit", "1", "--offset", "1")
    assert page["total"] == 2 and len(page["items"]) == 1 and page["offset"] == 1
    assert "No risks match" in ready("risk", "list", "--status", "closed").stdout
    assert "invalid" in ready("risk", "list", "--status", "done", expect=2).output.lower()
    table = ready("risk", "list").stdout
    assert "owasp-llm.LLM01" in table and "1–2 of 2" in table


def test_expired_acceptance_reopens_when_the_register_is_read(ready: Cli) -> None:
    path = ready.write_findings("f.json", [finding()])
    ready("findings", "import", str(path), "--system", "demo")
    ready("risk", "transition", "1", "assessed", "--likelihood", "1", "--impact", "1")
    soon = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    ready("risk", "transition", "1", "accepted", "--owner", "cro", "--accepted-until", soon)
    time.sleep(1.2)
    [risk] = ready.json("risk", "list")["items"]
    assert risk["status"] == "identified"
    history = [e["kind"] for e in ready.json("risk", "show", "1")["history"]]
    assert history[-1] == "reopened"
