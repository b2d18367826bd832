"""``anzhi system``: add, list, show, assets."""

from __future__ import annotations

import hashlib

from .helpers import Cli


def test_system_add_list_show(cli: Cli) -> None:
    cli("init")
    added = cli("system", "add", "客服助手", "--owner", "alice", "--sector", "finance",
                "--scenario", "customer service", "--intelligence-level", "assistive", "--deployment-mode", "saas",
                "--stage", "production", "--description", "a chatbot")
    assert "Registered system #1 客服助手" in added.stdout
    cli("system", "add", "grid-ops", "--sector", "energy")

    listed = cli.json("system", "list")
    assert [s["name"] for s in listed] == ["grid-ops", "客服助手"]
    table = cli("system", "list").stdout
    assert "客服助手" in table and "grid-ops" in table

    by_name = cli.json("system", "show", "客服助手")
    assert by_name["id"] == 1
    assert by_name["owner"] == "alice"
    assert by_name["sector"] == "finance"
    assert by_name["lifecycle_stage"] == "production"
    assert by_name["intelligence_level"] == "assistive"
    assert by_name["assets"] == [] and by_name["risk_counts"] == {}
    assert cli.json("system", "show", "1")["name"] == "客服助手"
    shown = cli("system", "show", "grid-ops").stdout
    assert "energy" in shown and "No risks recorded" in shown


def test_system_add_refusals_change_nothing(cli: Cli) -> None:
    cli("init")
    cli("system", "add", "demo")
    before = cli.counts()
    duplicate = cli("system", "add", "demo", expect=2)
    assert "already exists" in duplicate.stderr
    sector = cli("system", "add", "other", "--sector", "mining", expect=2)
    assert "sector 'mining' is not one of" in sector.stderr
    slash = cli("system", "add", "a/b", expect=2)
    assert slash.stderr.startswith("error: invalid system")
    missing = cli("system", "show", "nope", expect=2)
    assert missing.stderr.strip() == "error: system 'nope' not found"
    assert cli.counts() == before


def test_assets_with_hash_from_file(cli: Cli) -> None:
    cli("init")
    cli("system", "add", "demo")
    weights = cli.tmp_path / "model.safetensors"
    weights.write_bytes(b"\x00weights" * 1000)
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()

    added = cli.json("system", "asset", "add", "demo", "model", "qwen-7b-ft", "--file", str(weights))
    assert added["sha256"] == digest
    assert added["uri"].startswith("file://") and added["uri"].endswith("model.safetensors")
    cli("system", "asset", "add", "demo", "endpoint", "chat-api", "--uri", "https://ai.example.cn/v1")
    cli("system", "asset", "add", "demo", "dataset", "sft-set", "--sha256", "AB" * 32)

    assets = cli.json("system", "asset", "list", "demo")
    assert [(a["kind"], a["name"]) for a in assets] == [
        ("model", "qwen-7b-ft"), ("endpoint", "chat-api"), ("dataset", "sft-set")
    ]
    assert assets[2]["sha256"] == "ab" * 32
    assert len(cli.json("system", "show", "demo")["assets"]) == 3

    before = cli.counts()
    assert "not both" in cli("system", "asset", "add", "demo", "model", "x", "--file", str(weights), "--sha256",
                             digest, expect=2).stderr
    assert "no such file" in cli("system", "asset", "add", "demo", "model", "x", "--file", "missing.bin",
                                 expect=2).stderr
    assert "invalid asset" in cli("system", "asset", "add", "demo", "model", "x", "--sha256", "xyz", expect=2).stderr
    assert "already has an asset" in cli("system", "asset", "add", "demo", "model", "qwen-7b-ft", expect=2).stderr
    bad_kind = cli("system", "asset", "add", "demo", "robot", "x", expect=2)
    assert "robot" in bad_kind.output
    assert cli.counts() == before
