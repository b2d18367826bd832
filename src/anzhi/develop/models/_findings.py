"""From a scan report to the platform's findings, and the few choices every output format shares.

Which reasons become findings (and SARIF results):

- every reason whose verdict is **dangerous** or **review**, at the severity and confidence it carries;
- of the **invalid** ones, MODEL-492 (malformed or truncated: a file crafted to confuse parsers is worth an entry,
  and an analyser error means the file went unchecked) and MODEL-490 (unreadable: the scan did not cover it) — both
  at their low severity;
- not MODEL-491 (content of no model format, e.g. a README beside the weights): the file is not a model, so there
  is no risk to record. It is listed among the skipped files instead.

A run in which some file could not be read or an analyser failed is reported with status ``failed``, so the
platform does not take it as proof that a treated risk is gone (a complete run verifies; an incomplete one
must not).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from anzhi.develop.models._result import FileResult, Reason, ScanReport, Verdict
from anzhi.develop.models._rules import (
    MALFORMED,
    RULES,
    SUPPLY_CHAIN_TAXONOMY,
    SYMLINK,
    UNKNOWN_FORMAT,
    UNREADABLE,
    Rule,
)
from anzhi.findings import CheckRunInfo, Finding, FindingBatch, Location, compute_fingerprint

__all__ = [
    "CHECK_ID",
    "Occurrence",
    "Skipped",
    "finding_fingerprint",
    "finding_location",
    "finding_taxonomy",
    "is_finding",
    "nothing_read",
    "occurrences",
    "report_metrics",
    "rule_help_uri",
    "skipped",
    "to_findings",
]

CHECK_ID = "model.scan"
#: Where a rule's documentation page lives; the page text is the rule's ``doc`` (shown in SARIF ``help`` too).
RULE_HELP_BASE = "urn:anzhi:rule:"
_MAX_DETAIL_BYTES = 2048


def rule_help_uri(rule_id: str) -> str:
    """The documentation URI of a rule (every output links a reported id to it)."""
    return f"{RULE_HELP_BASE}{rule_id}"


def is_finding(reason: Reason) -> bool:
    """Whether a reason is reported as a finding (see the module docstring for the choice)."""
    return reason.verdict in (Verdict.DANGEROUS, Verdict.REVIEW) or reason.rule_id in (MALFORMED.id, UNREADABLE.id)


def _is_analyser_error(reason: Reason) -> bool:
    return reason.rule_id == MALFORMED.id and "exception" in reason.detail


def _is_skip(reason: Reason) -> bool:
    return reason.rule_id in (UNREADABLE.id, UNKNOWN_FORMAT.id) or _is_analyser_error(reason)


@dataclass(frozen=True)
class Occurrence:
    """One reason in one file of the report, with the top-level file it came from."""

    top: FileResult
    item: FileResult
    reason: Reason

    @property
    def member(self) -> str:
        """The path inside the top-level file (``x/data.pkl``, ``a.tar!b.zip!c.pkl``), or '' for the file itself."""
        if self.item is self.top:
            return ""
        prefix = self.top.path + "!"
        return self.item.path[len(prefix):] if self.item.path.startswith(prefix) else self.item.path

    @property
    def rule(self) -> Rule | None:
        """The registered rule, if the id is known."""
        return RULES.get(self.reason.rule_id)


def occurrences(report: ScanReport) -> Iterator[Occurrence]:
    """Every reason of every file and member, in report order."""
    for top in report.results:
        for item in top.walk():
            for reason in item.reasons:
                yield Occurrence(top, item, reason)


@dataclass(frozen=True)
class Skipped:
    """A file (or member) the scan could not check: unreadable, of no known format, or its analyser failed."""

    path: str
    rule_id: str
    message: str
    error: bool  # True where the scanner itself failed (unreadable, analyser error), not just an unknown format


def skipped(report: ScanReport) -> list[Skipped]:
    """Everything skipped, with the reason, in report order."""
    out = []
    for occurrence in occurrences(report):
        reason = occurrence.reason
        if _is_skip(reason):
            out.append(Skipped(occurrence.item.path, reason.rule_id, reason.message,
                               error=reason.rule_id != UNKNOWN_FORMAT.id))
    return out


def nothing_read(report: ScanReport) -> bool:
    """True when no file could be read: every result is unreadable (MODEL-490) or a link not followed (MODEL-494)."""
    return all(
        result.reasons and all(r.rule_id in (UNREADABLE.id, SYMLINK.id) for r in result.reasons)
        for result in report.results
    )


def report_metrics(report: ScanReport) -> dict[str, float]:
    """Numbers about the run: files and members, verdict counts (top-level files), skipped, bytes, time."""
    counts = report.counts()
    members = sum(len(result.walk()) - 1 for result in report.results)
    metrics: dict[str, float] = {
        "files": len(report.results),
        "members": members,
        **counts,
        "skipped": len(skipped(report)),
        "findings": sum(1 for o in occurrences(report) if is_finding(o.reason)),
        "bytes": sum(result.size for result in report.results),
        "elapsed_s": round(report.elapsed_s, 3),
    }
    return metrics


def _detail(detail: dict[str, Any]) -> dict[str, Any]:
    text = json.dumps(detail, ensure_ascii=False, default=str)
    if len(text.encode("utf-8")) <= _MAX_DETAIL_BYTES:
        return detail
    return {"truncated": text[: _MAX_DETAIL_BYTES // 2]}


def finding_location(occurrence: Occurrence) -> Location:
    """Where a finding is: the top-level file, and inside it the member and the reason's own location."""
    record = " | ".join(part for part in (occurrence.member, occurrence.reason.location) if part)
    return Location(file=occurrence.top.path, record_id=record or None)


def finding_taxonomy(occurrence: Occurrence) -> tuple[str, ...]:
    """The risk ids of the rule behind a reason (the supply-chain ids where the rule is unknown)."""
    rule = occurrence.rule
    return rule.taxonomy_ids if rule and rule.taxonomy_ids else SUPPLY_CHAIN_TAXONOMY


def finding_fingerprint(occurrence: Occurrence) -> str:
    """The fingerprint the finding of this reason gets (stable across runs; SARIF carries it too)."""
    return compute_fingerprint(CHECK_ID, occurrence.reason.rule_id, finding_taxonomy(occurrence),
                               finding_location(occurrence))


def _finding(occurrence: Occurrence) -> Finding:
    reason = occurrence.reason
    rule = occurrence.rule
    member = occurrence.member
    evidence: dict[str, Any] = {
        "verdict": reason.verdict.value,
        "format": occurrence.item.format.value,
        "message": reason.message[:500],
        "help_uri": rule_help_uri(reason.rule_id),
    }
    if member:
        evidence["member"] = member
    if reason.location:
        evidence["location"] = reason.location
    if occurrence.item.sha256:
        evidence["sha256"] = occurrence.item.sha256
    if reason.detail:
        evidence["detail"] = _detail(reason.detail)
    title = f"{rule.title}: {reason.message}" if rule else reason.message or reason.rule_id
    return Finding(
        check_id=CHECK_ID,
        rule_id=reason.rule_id,
        taxonomy_ids=finding_taxonomy(occurrence),
        severity=reason.severity,
        confidence=reason.confidence,
        title=title[:500] or reason.rule_id,
        description=rule.doc if rule else "",
        location=finding_location(occurrence),
        evidence=evidence,
        standards=(rule.cwe,) if rule and rule.cwe else (),
    )


def to_findings(report: ScanReport, *, scope: str) -> FindingBatch:
    """The findings of a scan as one batch for ``govern.ingest_batch`` (check ``model.scan``).

    ``scope`` names what was scanned (the paths); it should be the same on every run over the same model, because
    a run resolves the open findings of its check and scope that it no longer reports.
    """
    findings = [_finding(o) for o in occurrences(report) if is_finding(o.reason)]
    incomplete = any(s.error for s in skipped(report))
    started = datetime.fromisoformat(report.started_at) if report.started_at else datetime.now(UTC)
    run = CheckRunInfo(
        check_id=CHECK_ID,
        started_at=started,
        finished_at=started + timedelta(seconds=report.elapsed_s),
        tool="anzhi",
        tool_version=report.scanner_version,
        status="failed" if incomplete else "completed",
        metrics=report_metrics(report),
        scope=scope,
    )
    return FindingBatch(run=run, findings=tuple(findings))
