"""Controls, assessments, users and tokens, and browsing taxonomies and catalogs."""

from __future__ import annotations

import re

from .helpers import RISK_ID, Cli


def test_controls(ready: Cli) -> None:
    added = ready("control", "add", "GUARD-01", "Input guard on the gateway", "--catalog-ref", "gbt45654:7.6.a",
                  "--owner", "sec-team", "--description", "keyword + classifier screening")
    assert "Added control #1 GUARD-01 for gbt45654:7.6.a" in added.stdout
    ready("control", "add", "REVIEW-01", "Quarterly review")
    controls = ready.json("control", "list")
    assert [(c["key"], c["catalog_ref"]) for c in controls] == [("GUARD-01", "gbt45654:7.6.a"), ("REVIEW-01", None)]
    assert "Input guard" in ready("control", "list").stdout

    before = ready.counts()
    assert "already exists" in ready("control", "add", "GUARD-01", "again", expect=2).stderr
    unknown = ready("control", "add", "X-1", "x", "--catalog-ref", "gbt45654:99.z", expect=2)
    assert "unknown requirement id 'gbt45654:99.z'" in unknown.stderr
    assert "invalid control" in ready("control", "add", "bad key", "x", expect=2).stderr
    assert ready.counts() == before


def test_assessment_run_attest_refresh(ready: Cli) -> None:
    run = ready("assess", "run", "demo", "gbt45654")
    assert "Assessment #1" in run.stdout and "catalog gbt45654" in run.stdout
    shown = ready.json("assess", "show", "1")
    assert shown["system"] == "demo" and shown["summary"]["total"] == len(shown["items"]) > 0
    process = next(i for i in shown["items"] if i["kind"] == "process" and i["result"] == "pending")

    attested = ready("assess", "attest", "1", f"gbt45654:{process['requirement_id']}", "meets", "--note",
                     "policy v3 approved")
    assert "meets" in attested.stdout
    item = next(i for i in ready.json("assess", "show", "1")["items"]
                if i["requirement_id"] == process["requirement_id"])
    assert (item["result"], item["source"], item["attested_by"]) == ("meets", "attestation", "cli-tester")
    assert ready.json("assess", "refresh", "1")["refreshed_at"]
    assert [a["id"] for a in ready.json("assess", "list", "--system", "demo")] == [1]
    table = ready("assess", "show", "1").stdout
    assert process["requirement_id"] in table and "policy v3 approved" in table

    before = ready.counts()
    assert "unknown catalog id 'gbt4565'" in ready("assess", "run", "demo", "gbt4565", expect=2).stderr
    assert "not found" in ready("assess", "attest", "1", "no.such", "meets", "--note", "x", expect=2).stderr
    assert "needs a note" in ready("assess", "attest", "1", process["requirement_id"], "meets", "--note", " ",
                                   expect=2).stderr
    assert "--note" in ready("assess", "attest", "1", process["requirement_id"], "meets", expect=2).output
    assert ready.counts() == before


def test_users_and_tokens(ready: Cli) -> None:
    added = ready("user", "add", "carol", "--role", "assessor", "--token")
    assert "Added user #2 carol (assessor)" in added.stdout
    assert re.search(r"anz_[A-Za-z0-9_-]{20,}", added.stdout)
    issued = ready.json("token", "issue", "carol", "--name", "ci")
    assert issued["token"].startswith("anz_") and issued["user"] == "carol"
    tokens = ready.json("token", "list", "--user", "carol")
    assert len(tokens) == 2 and all("token" not in t for t in tokens)
    revoked = ready.json("token", "revoke", str(issued["id"]))
    assert revoked["revoked_at"] is not None
    assert [u["name"] for u in ready.json("user", "list")] == ["admin", "carol"]

    before = ready.counts()
    assert "already exists" in ready("user", "add", "carol", expect=2).stderr
    assert "user 'dave' not found" in ready("token", "issue", "dave", expect=2).stderr
    assert "api token 999 not found" in ready("token", "revoke", "999", expect=2).stderr
    assert "role" in ready("user", "add", "eve", "--role", "root", expect=2).output
    assert ready.counts() == before


def test_taxonomy_and_catalog_browsing(cli: Cli) -> None:
    assert "gbt45654" in {t["id"] for t in cli.json("taxonomy", "list")}
    items = cli.json("taxonomy", "show", "gbt45654")["items"]
    assert RISK_ID in {i["id"] for i in items}
    risk = cli.json("taxonomy", "show", RISK_ID)
    assert risk["title_zh"] and risk["requirements"]
    assert RISK_ID in cli("taxonomy", "show", "gbt45654").stdout
    assert "did you mean" in cli("taxonomy", "show", "gbt45654.A1.zz", expect=2).stderr

    catalogs = {c["id"]: c for c in cli.json("catalog", "list")}
    assert catalogs["gbt45654"]["requirements"] > 0
    catalog = cli.json("catalog", "show", "gbt45654")
    assert len(catalog["requirements"]) == catalogs["gbt45654"]["requirements"]
    requirement = cli.json("catalog", "show", "gbt45654:9.4.a")
    assert requirement["threshold"]["metric"]
    assert "threshold" in cli("catalog", "show", "gbt45654:9.4.a").stdout
    assert "unknown catalog id" in cli("catalog", "show", "nope", expect=2).stderr
