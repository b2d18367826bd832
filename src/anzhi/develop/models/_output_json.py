"""The scan report as JSON: ``write_json(report, stream)``.

One document: ``schema`` (its version), ``generated_at`` (UTC), the ``tool``, ``counts`` of top-level verdicts,
``metrics``, every file's ``results`` (verdict, format, size, sha256, reasons with a ``help_uri``, members nested
the same way), the ``skipped`` files with the reason, and the ``rules`` that fired with their documentation.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, TextIO

from anzhi.develop.models._findings import report_metrics, rule_help_uri, skipped
from anzhi.develop.models._result import FileResult, Reason, ScanReport
from anzhi.develop.models._rules import RULES

__all__ = ["JSON_SCHEMA", "report_document", "write_json"]

JSON_SCHEMA = "anzhi.model-scan/1"


def _reason(reason: Reason) -> dict[str, Any]:
    return {
        "rule_id": reason.rule_id,
        "message": reason.message,
        "severity": reason.severity.value,
        "confidence": reason.confidence.value,
        "verdict": reason.verdict.value,
        "location": reason.location,
        "detail": reason.detail,
        "help_uri": rule_help_uri(reason.rule_id),
    }


def _file(result: FileResult) -> dict[str, Any]:
    return {
        "path": result.path,
        "format": result.format.value,
        "verdict": result.verdict.value,
        "size": result.size,
        "sha256": result.sha256,
        "elapsed_ms": round(result.elapsed_ms, 3),
        "reasons": [_reason(r) for r in result.reasons],
        "metadata": result.metadata,
        "members": [_file(m) for m in result.members],
    }


def report_document(report: ScanReport) -> dict[str, Any]:
    """The JSON document of a report, as plain data."""
    fired = sorted({r.rule_id for top in report.results for item in top.walk() for r in item.reasons})
    rules = {
        rule_id: {
            "title": rule.title,
            "severity": rule.severity.value,
            "confidence": rule.confidence.value,
            "verdict": rule.verdict.value,
            "cwe": rule.cwe,
            "taxonomy_ids": list(rule.taxonomy_ids),
            "help_uri": rule_help_uri(rule_id),
            "doc": rule.doc,
        }
        for rule_id in fired
        if (rule := RULES.get(rule_id)) is not None
    }
    return {
        "schema": JSON_SCHEMA,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "tool": {"name": "anzhi", "version": report.scanner_version},
        "started_at": report.started_at,
        "elapsed_s": round(report.elapsed_s, 3),
        "counts": report.counts(),
        "metrics": report_metrics(report),
        "results": [_file(r) for r in report.results],
        "skipped": [
            {"path": s.path, "rule_id": s.rule_id, "reason": s.message, "error": s.error} for s in skipped(report)
        ],
        "rules": rules,
    }


def write_json(report: ScanReport, stream: TextIO) -> None:
    """Write the report as indented UTF-8 JSON."""
    json.dump(report_document(report), stream, ensure_ascii=False, indent=2, default=str)
    stream.write("\n")
