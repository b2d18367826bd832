"""Listing risks through the real API server with 10,000 risks stored (SQLite), pages of 100.

Starts ``anzhi serve`` as a subprocess on a free loopback port and times sequential requests with a keep-alive
httpx client (the client and the server share this machine's cores). Baselines measured in the same run:

* ``GET /`` on the same server (a redirect, no database): the floor of HTTP + ASGI on this machine;
* ``GET /healthz``: that floor plus a database ping and a schema-revision check;
* the same page read straight from SQLite with ``sqlite3`` (no HTTP, no ORM, no JSON).

Usage: ``python benchmarks/risk_list.py [--risks 10000] [--requests 500]``; writes ``risk_list.json`` / ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from anzhi.config import Settings
from anzhi.findings import CheckRunInfo, Confidence, Finding, FindingBatch, Location, Severity
from anzhi.govern import SystemSpec, create_system, ingest_batch
from anzhi.workspace import Workspace


def populate(home: Path, risks: int) -> str:
    workspace = Workspace.open(Settings(home=home))
    token = workspace.initialise()
    assert token is not None
    ids = sorted(workspace.taxonomy.risks)
    systems = -(-risks // len(ids))
    made = 0
    for s in range(systems):
        take = ids[: min(len(ids), risks - made)]
        findings = tuple(
            Finding(check_id="data.scan", rule_id=f"R-{i}", taxonomy_ids=(t,), severity=list(Severity)[i % 5],
                    confidence=Confidence.MEDIUM, title=f"finding {i}", location=Location(record_id=str(i)))
            for i, t in enumerate(take)
        )
        with workspace.session() as session:
            system_id = create_system(session, SystemSpec(name=f"system-{s:03d}"), actor="bench").id
            ingest_batch(session, system_id, FindingBatch(run=CheckRunInfo(check_id="data.scan"), findings=findings),
                         taxonomy=workspace.taxonomy, actor="bench")
        made += len(take)
    workspace.close()
    return token


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timed(fn: object, n: int) -> list[float]:
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        fn(i)  # type: ignore[operator]
        out.append((time.perf_counter() - t0) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--risks", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        t0 = time.perf_counter()
        token = populate(home, args.risks)
        setup_s = time.perf_counter() - t0
        port = free_port()
        env = {**os.environ, "ANZHI_HOME": str(home), "ANZHI_PORT": str(port)}
        env.pop("ANZHI_DB_URL", None)
        server = subprocess.Popen([str(Path(sys.executable).parent / "anzhi"), "serve", "--port", str(port)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            base = f"http://127.0.0.1:{port}"
            headers = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
                for _ in range(200):
                    try:
                        if client.get("/healthz").status_code == 200:
                            break
                    except httpx.TransportError:
                        time.sleep(0.1)
                else:
                    raise SystemExit("the server did not come up")
                total = client.get("/api/v1/risks", params={"limit": 1}).json()["total"]
                offsets = [rng.randrange(0, max(1, total - 100)) for _ in range(args.requests)]
                for i in range(50):  # warm up
                    client.get("/api/v1/risks", params={"limit": 100, "offset": offsets[i]})

                def page(i: int) -> None:
                    response = client.get("/api/v1/risks", params={"limit": 100, "offset": offsets[i]})
                    assert response.status_code == 200 and len(response.json()["items"]) == 100

                def health(_i: int) -> None:
                    assert client.get("/healthz").status_code == 200

                def floor(_i: int) -> None:
                    assert client.get("/", follow_redirects=False).status_code == 307

                api_ms = timed(page, args.requests)
                health_ms = timed(health, args.requests)
                floor_ms = timed(floor, args.requests)
        finally:
            server.terminate()
            server.wait(timeout=10)
        connection = sqlite3.connect(home / "anzhi.db")

        def raw(i: int) -> None:
            connection.execute("SELECT count(*) FROM risk").fetchone()
            rows = connection.execute("SELECT * FROM risk ORDER BY id DESC LIMIT 100 OFFSET ?", (offsets[i],))
            assert len(rows.fetchall()) == 100

        raw_ms = timed(raw, args.requests)
        connection.close()

    def stats(values: list[float]) -> dict[str, float]:
        return {"p50_ms": round(statistics.median(values), 2), "p99_ms": round(percentile(values, 0.99), 2),
                "per_s": round(1000 / statistics.mean(values), 1)}

    result = {
        "risks_stored": total, "requests": args.requests, "page_size": 100, "setup_s": round(setup_s, 1),
        "api_list_risks": stats(api_ms), "baseline_http_floor": stats(floor_ms),
        "baseline_healthz": stats(health_ms), "baseline_sqlite3_page": stats(raw_ms),
        "ratio_p50_api_vs_http_floor": round(statistics.median(api_ms) / statistics.median(floor_ms), 2),
        "target_p99_ms": 50,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "risk_list.json").write_text(json.dumps(result, indent=2) + "\n")
    rows = [("GET /api/v1/risks?limit=100 (anzhi)", result["api_list_risks"]),
            ("GET / redirect (baseline: HTTP floor)", result["baseline_http_floor"]),
            ("GET /healthz (DB ping + schema check)", result["baseline_healthz"]),
            ("sqlite3 page query (baseline: no HTTP)", result["baseline_sqlite3_page"])]
    table = "| request | p50 ms | p99 ms | per second |\n|---|---|---|---|\n" + "".join(
        f"| {name} | {s['p50_ms']} | {s['p99_ms']} | {s['per_s']} |\n" for name, s in rows  # type: ignore[index]
    ) + f"\n{total:,} risks stored; p50 of the list is {result['ratio_p50_api_vs_http_floor']}× the HTTP floor.\n"
    (args.out / "risk_list.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
