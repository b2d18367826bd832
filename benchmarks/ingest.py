"""Ingestion throughput: 100,000 findings into a fresh SQLite workspace through ``govern.ingest_batch``.

Baseline, measured in the same run: a bare ``sqlite3`` ``executemany`` INSERT of the same rows into a table of
the same columns (no de-duplication, no risks, no audit) — the floor any ingestion path has to pay.

Usage: ``python benchmarks/ingest.py [--findings 100000] [--batches 10] [--out benchmarks/results]``
Writes ``ingest.json`` and ``ingest.md``.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from anzhi.findings import CheckRunInfo, Confidence, Finding, FindingBatch, Location, Severity
from anzhi.govern import SystemSpec, create_system, ingest_batch
from anzhi.store import open_store
from anzhi.taxonomy import default_taxonomy

SEVERITIES = list(Severity)


def make_batches(total: int, batches: int, taxonomy_ids: list[str]) -> list[FindingBatch]:
    per = total // batches
    out = []
    for b in range(batches):
        findings = tuple(
            Finding(
                check_id="data.scan",
                rule_id=f"R-{i % 50:03d}",
                taxonomy_ids=(taxonomy_ids[i % len(taxonomy_ids)],),
                severity=SEVERITIES[i % len(SEVERITIES)],
                confidence=Confidence.MEDIUM,
                title=f"finding {i}",
                location=Location(file=f"shard-{b}.jsonl", line=i),
                evidence={"excerpt": "masked ***"},
            )
            for i in range(b * per, (b + 1) * per)
        )
        out.append(FindingBatch(run=CheckRunInfo(check_id="data.scan", scope=f"shard-{b}"), findings=findings))
    return out


def baseline(batches: list[FindingBatch], folder: Path) -> float:
    connection = sqlite3.connect(folder / "baseline.db")
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute(
        "CREATE TABLE finding (id INTEGER PRIMARY KEY, fingerprint TEXT, check_id TEXT, rule_id TEXT, "
        "taxonomy_id TEXT, severity TEXT, title TEXT, location TEXT, evidence TEXT)"
    )
    start = time.perf_counter()
    for batch in batches:
        rows = [
            (
                f.fingerprint,
                f.check_id,
                f.rule_id,
                f.taxonomy_ids[0],
                f.severity.value,
                f.title,
                f.location.model_dump_json(exclude_none=True),
                json.dumps(f.evidence),
            )
            for f in batch.findings
        ]
        with connection:
            connection.executemany(
                "INSERT INTO finding (fingerprint, check_id, rule_id, taxonomy_id, severity, title, location, "
                "evidence) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
    elapsed = time.perf_counter() - start
    connection.close()
    return elapsed


def anzhi_ingest(batches: list[FindingBatch], url: str) -> tuple[float, list[float], float]:
    taxonomy = default_taxonomy()
    store = open_store(url)
    store.migrate()
    with store.session() as session:
        system_id = create_system(session, SystemSpec(name="bench"), actor="bench").id
    per_batch = []
    start = time.perf_counter()
    for batch in batches:
        t0 = time.perf_counter()
        with store.session() as session:
            ingest_batch(session, system_id, batch, taxonomy=taxonomy, actor="bench")
        per_batch.append(time.perf_counter() - t0)
    first = time.perf_counter() - start
    # Second pass: every finding recurs (the de-duplication path).
    start = time.perf_counter()
    for batch in batches:
        with store.session() as session:
            ingest_batch(session, system_id, batch, taxonomy=taxonomy, actor="bench")
    again = time.perf_counter() - start
    store.dispose()
    return first, per_batch, again


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--findings", type=int, default=100_000)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--db-url", default=None,
                        help="ingest into this database instead of a fresh SQLite file (e.g. a scratch PostgreSQL "
                             "database); results are then written as ingest-<dialect>.json/.md")
    args = parser.parse_args()
    taxonomy_ids = sorted(i for i in default_taxonomy().risks if i.startswith(("gbt45654.A", "owasp-llm.LLM")))
    batches = make_batches(args.findings, args.batches, taxonomy_ids)
    n = sum(len(b.findings) for b in batches)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        base = baseline(batches, folder)
        url = args.db_url or f"sqlite:///{folder / 'anzhi.db'}"
        first, per_batch, again = anzhi_ingest(batches, url)
    per_batch_ms = sorted(t * 1000 for t in per_batch)
    dialect = (args.db_url or "sqlite").split(":", 1)[0].split("+", 1)[0]
    result = {
        "database": dialect,
        "findings": n,
        "batches": len(batches),
        "baseline_sqlite3_executemany_s": round(base, 3),
        "anzhi_new_s": round(first, 3),
        "anzhi_recurring_s": round(again, 3),
        "anzhi_new_findings_per_s": round(n / first),
        "anzhi_recurring_findings_per_s": round(n / again),
        "baseline_findings_per_s": round(n / base),
        "ratio_anzhi_new_vs_baseline": round(first / base, 2),
        "batch_ms_p50": round(statistics.median(per_batch_ms), 1),
        "batch_ms_p99": round(per_batch_ms[min(len(per_batch_ms) - 1, int(0.99 * len(per_batch_ms)))], 1),
        "target_findings_per_s": 5000,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "ingest" if dialect == "sqlite" else f"ingest-{dialect}"
    (args.out / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    table = (
        "| path | findings | seconds | findings/s | vs baseline |\n|---|---|---|---|---|\n"
        f"| sqlite3 executemany (baseline) | {n} | {base:.2f} | {n / base:,.0f} | 1.00× |\n"
        f"| anzhi ingest ({dialect}), new findings | {n} | {first:.2f} | {n / first:,.0f} | {first / base:.2f}× |\n"
        f"| anzhi ingest ({dialect}), all recurring | {n} | {again:.2f} | {n / again:,.0f} | {again / base:.2f}× |\n"
        f"\nPer batch of {n // len(batches):,}: p50 {result['batch_ms_p50']} ms, p99 {result['batch_ms_p99']} ms.\n"
    )
    (args.out / f"{stem}.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
