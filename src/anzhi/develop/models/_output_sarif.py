"""The scan report as SARIF 2.1.0: ``write_sarif(report, stream)``.

Rules are listed once each (results point at them by ``ruleIndex``), with the rule's doc as ``help`` and a
``helpUri``; result levels come from severity in :func:`sarif_level` alone. Results are the reasons the platform
takes as findings (see :mod:`anzhi.develop.models._findings`); files the scan could not check (unreadable, of no
known format, analyser errors) are ``toolExecutionNotifications`` of the invocation. Each rule and result carries
``anzhi-taxonomy`` and ``security-severity`` properties, so ``anzhi findings import`` reads the file back with the
same risk ids and severities.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import PurePath
from typing import Any, TextIO
from urllib.parse import quote

from anzhi.develop.models._findings import (
    CHECK_ID,
    Occurrence,
    finding_fingerprint,
    is_finding,
    occurrences,
    rule_help_uri,
    skipped,
)
from anzhi.develop.models._result import ScanReport
from anzhi.develop.models._rules import RULES, Rule
from anzhi.findings import Confidence, Severity

__all__ = ["SARIF_SCHEMA_URI", "sarif_document", "sarif_level", "write_sarif"]

SARIF_SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
_OFFSET = re.compile(r"^offset (\d+)$")
_SECURITY_SEVERITY = {Severity.CRITICAL: "9.5", Severity.HIGH: "8.0", Severity.MEDIUM: "5.5", Severity.LOW: "2.0"}
_PRECISION = {Confidence.HIGH: "high", Confidence.MEDIUM: "medium", Confidence.LOW: "low"}


def sarif_level(severity: Severity) -> str:
    """The one mapping from severity to SARIF level: critical/high error, medium warning, low note, info none."""
    if severity in (Severity.CRITICAL, Severity.HIGH):
        return "error"
    if severity is Severity.MEDIUM:
        return "warning"
    return "note" if severity is Severity.LOW else "none"


def _uri(path: str) -> str:
    pure = PurePath(path)
    if pure.is_absolute():
        return "file://" + quote(pure.as_posix())
    return quote(pure.as_posix())


def _rule_name(title: str) -> str:
    return "".join(word[:1].upper() + word[1:] for word in re.findall(r"[A-Za-z0-9]+", title)) or "Rule"


def _rule(rule_id: str, rule: Rule | None) -> dict[str, Any]:
    if rule is None:
        return {"id": rule_id, "helpUri": rule_help_uri(rule_id)}
    cwe = [rule.cwe] if rule.cwe else []
    properties: dict[str, Any] = {
        "tags": ["security", "supply-chain", *cwe, *rule.tags],
        "precision": _PRECISION[rule.confidence],
        "anzhi-taxonomy": list(rule.taxonomy_ids),
        "anzhi-verdict": rule.verdict.value,
    }
    if rule.severity in _SECURITY_SEVERITY:
        properties["security-severity"] = _SECURITY_SEVERITY[rule.severity]
    return {
        "id": rule.id,
        "name": _rule_name(rule.title),
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": rule.doc},
        "help": {"text": rule.doc, "markdown": f"**{rule.id}: {rule.title}**\n\n{rule.doc}"
                 + (f"\n\nMaps to {rule.cwe}." if rule.cwe else "")},
        "helpUri": rule_help_uri(rule.id),
        "defaultConfiguration": {"level": sarif_level(rule.severity)},
        "properties": properties,
    }


def _result(occurrence: Occurrence, rule_index: int, artifact_index: int) -> dict[str, Any]:
    reason = occurrence.reason
    member = occurrence.member
    physical: dict[str, Any] = {"artifactLocation": {"uri": _uri(occurrence.top.path), "index": artifact_index}}
    offset = _OFFSET.match(reason.location)
    if offset and not member:
        physical["region"] = {"byteOffset": int(offset.group(1))}
    location: dict[str, Any] = {"physicalLocation": physical}
    if member:
        location["logicalLocations"] = [{"fullyQualifiedName": member, "kind": "member"}]
    where = f" (in {member})" if member else ""
    properties: dict[str, Any] = {
        "verdict": reason.verdict.value,
        "severity": reason.severity.value,
        "confidence": reason.confidence.value,
        "format": occurrence.item.format.value,
    }
    if reason.location:
        properties["location"] = reason.location
    if member:
        properties["member"] = member
    if reason.severity in _SECURITY_SEVERITY:
        properties["security-severity"] = _SECURITY_SEVERITY[reason.severity]
    rule = occurrence.rule
    if rule is not None:
        properties["anzhi-taxonomy"] = list(rule.taxonomy_ids)
    return {
        "ruleId": reason.rule_id,
        "ruleIndex": rule_index,
        "level": sarif_level(reason.severity),
        "message": {"text": reason.message + where},
        "locations": [location],
        "partialFingerprints": {"anzhiFinding/v1": finding_fingerprint(occurrence)},
        "properties": properties,
    }


def sarif_document(report: ScanReport) -> dict[str, Any]:
    """The SARIF 2.1.0 log of a report, as plain data."""
    found = [o for o in occurrences(report) if is_finding(o.reason)]
    rule_ids = sorted({o.reason.rule_id for o in found})
    rule_index = {rule_id: index for index, rule_id in enumerate(rule_ids)}
    artifact_index = {top.path: index for index, top in enumerate(report.results)}
    artifacts = []
    for top in report.results:
        artifact: dict[str, Any] = {
            "location": {"uri": _uri(top.path)},
            "length": top.size,
            "roles": ["analysisTarget"],
            "properties": {"format": top.format.value, "verdict": top.verdict.value},
        }
        if top.sha256:
            artifact["hashes"] = {"sha-256": top.sha256}
        artifacts.append(artifact)
    notifications = [
        {
            "level": "error" if s.error else "note",
            "message": {"text": f"{s.path}: {s.message}"},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(s.path.split("!", 1)[0])}}}],
            "descriptor": {"id": s.rule_id},
        }
        for s in skipped(report)
    ]
    started = datetime.fromisoformat(report.started_at) if report.started_at else datetime.now(UTC)
    ended = started + timedelta(seconds=report.elapsed_s)
    invocation = {
        "executionSuccessful": not any(s.error for s in skipped(report)),
        "startTimeUtc": started.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "endTimeUtc": ended.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "toolExecutionNotifications": notifications,
    }
    return {
        "$schema": SARIF_SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "anzhi",
                "version": report.scanner_version,
                "semanticVersion": report.scanner_version,
                "rules": [_rule(rule_id, RULES.get(rule_id)) for rule_id in rule_ids],
            }},
            "automationDetails": {"id": f"{CHECK_ID}/"},
            "invocations": [invocation],
            "artifacts": artifacts,
            "results": [_result(o, rule_index[o.reason.rule_id], artifact_index[o.top.path]) for o in found],
        }],
    }


def write_sarif(report: ScanReport, stream: TextIO) -> None:
    """Write the report as a SARIF 2.1.0 log (indented UTF-8 JSON)."""
    json.dump(sarif_document(report), stream, ensure_ascii=False, indent=2)
    stream.write("\n")
