"""CLI test helpers: a runner bound to the test's environment, row counts and findings files."""

from __future__ import annotations

import json
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select
from typer.testing import CliRunner, Result

from anzhi.cli import app
from anzhi.store import Base

RISK_ID = "gbt45654.A1.a"  # a leaf risk of the shipped GB/T 45654 taxonomy
OTHER_RISK_ID = "owasp-llm.LLM01"
SECRET_RISK_ID = "pii.SECRET_API_KEY"


@dataclass
class Cli:
    """Invokes the app with the test's environment; asserts the exit code unless ``expect=None``."""

    db_url: str
    home: Path
    tmp_path: Path
    runner: CliRunner

    def __call__(self, *args: str, expect: int | None = 0) -> Result:
        result = self.runner.invoke(app, list(args))
        if expect is not None and result.exit_code != expect:
            trace = "".join(traceback.format_exception(*result.exc_info)) if result.exc_info else ""
            raise AssertionError(
                f"anzhi {' '.join(args)} exited {result.exit_code}, expected {expect}\n"
                f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}\n{trace}"
            )
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--json").stdout)

    def counts(self) -> dict[str, int]:
        """Rows in every table, to prove a refused command changed nothing."""
        engine = create_engine(self.db_url)
        try:
            with engine.connect() as connection:
                return {
                    table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
                    for table in Base.metadata.sorted_tables
                }
        finally:
            engine.dispose()

    def write_findings(self, name: str, findings: list[dict[str, Any]], *, check_id: str = "data.scan",
                       scope: str = "corpus/v1") -> Path:
        """An anzhi findings JSON file with one run."""
        document = {
            "schema": "anzhi.findings/1",
            "run": {"check_id": check_id, "scope": scope, "tool": "test"},
            "findings": [{"check_id": check_id, **finding} for finding in findings],
        }
        path = self.tmp_path / name
        path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
        return path


def finding(rule_id: str = "HARM-301", taxonomy_id: str = RISK_ID, record: str = "17",
            severity: str = "high") -> dict[str, Any]:
    return {"rule_id": rule_id, "taxonomy_ids": [taxonomy_id], "severity": severity,
            "title": f"{rule_id} in record {record}", "location": {"record_id": record}}
