"""Reading findings files: anzhi's own JSON and SARIF 2.1.0 from other tools."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from anzhi.errors import FindingsFormatError
from anzhi.findings._model import CheckRunInfo, Confidence, Finding, FindingBatch, Location, Severity

__all__ = ["FINDINGS_SCHEMA", "load_findings_file", "parse_findings_document", "parse_sarif"]

FINDINGS_SCHEMA = "anzhi.findings/1"
_MAX_FILE_BYTES = 512 * 1024 * 1024

_SARIF_LEVEL = {"error": Severity.HIGH, "warning": Severity.MEDIUM, "note": Severity.LOW, "none": Severity.INFO}


def _format_validation_error(error: ValidationError, prefix: str) -> str:
    problems = []
    for item in error.errors()[:5]:
        where = ".".join(str(part) for part in item["loc"])
        problems.append(f"{prefix}{'.' + where if where else ''}: {item['msg']}")
    more = error.error_count() - len(problems)
    return "; ".join(problems) + (f"; and {more} more" if more > 0 else "")


def load_findings_file(
    path: Path, *, sarif_check_id: str | None = None, default_taxonomy_id: str | None = None
) -> list[FindingBatch]:
    """Read a findings file (anzhi JSON or SARIF 2.1.0, told apart by content) into batches.

    Raises:
        FindingsFormatError: the file cannot be read, is not JSON, or does not match either format;
            the message names the file and the first problems.
    """
    try:
        size = path.stat().st_size
        if size > _MAX_FILE_BYTES:
            raise FindingsFormatError(f"{path}: {size} bytes is over the {_MAX_FILE_BYTES} byte limit; split it")
        raw = path.read_bytes()
    except OSError as exc:
        raise FindingsFormatError(f"{path}: cannot read the file ({exc.strerror or exc})") from exc
    try:
        document = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise FindingsFormatError(f"{path}: not UTF-8 text (byte {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise FindingsFormatError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg})") from exc
    try:
        if isinstance(document, dict) and "runs" in document and str(document.get("version", "")).startswith("2.1"):
            return parse_sarif(document, check_id=sarif_check_id, default_taxonomy_id=default_taxonomy_id)
        return parse_findings_document(document)
    except FindingsFormatError as exc:
        raise FindingsFormatError(f"{path}: {exc}") from exc


def parse_findings_document(document: object) -> list[FindingBatch]:
    """Parse anzhi's JSON: ``{"schema": "anzhi.findings/1", "run": {...}, "findings": [...]}``.

    Also accepted: a list of such objects, or a bare list of findings (one run per check id is made up).
    """
    if isinstance(document, list) and all(isinstance(item, dict) and "run" in item for item in document):
        return [batch for item in document for batch in parse_findings_document(item)]
    if isinstance(document, list):
        return _batches_from_bare_findings(document)
    if not isinstance(document, dict):
        raise FindingsFormatError("expected a JSON object with 'run' and 'findings', or a list of findings")
    schema = document.get("schema", FINDINGS_SCHEMA)
    if schema != FINDINGS_SCHEMA:
        raise FindingsFormatError(f"unsupported schema {schema!r}; this version reads {FINDINGS_SCHEMA!r}")
    if "run" not in document:
        raise FindingsFormatError("missing 'run' (the check run that produced the findings)")
    body = {"run": document["run"], "findings": document.get("findings", [])}
    try:
        return [FindingBatch.model_validate(body)]
    except ValidationError as exc:
        raise FindingsFormatError(_format_validation_error(exc, "")) from exc


def _batches_from_bare_findings(items: Sequence[object]) -> list[FindingBatch]:
    findings: list[Finding] = []
    for index, item in enumerate(items):
        try:
            findings.append(Finding.model_validate(item))
        except ValidationError as exc:
            raise FindingsFormatError(_format_validation_error(exc, f"findings[{index}]")) from exc
    by_check: dict[str, list[Finding]] = {}
    for finding in findings:
        by_check.setdefault(finding.check_id, []).append(finding)
    return [
        FindingBatch(run=CheckRunInfo(check_id=check_id), findings=tuple(group)) for check_id, group in by_check.items()
    ]


def _slug(name: str) -> str:
    slug = re.sub(r"[^a-z0-9_.-]+", "-", name.lower()).strip("-.")
    return slug or "tool"


def _sarif_severity(result: Mapping[str, Any], rule: Mapping[str, Any]) -> Severity:
    props = {**(rule.get("properties") or {}), **(result.get("properties") or {})}
    raw = props.get("security-severity")
    if raw is not None:
        try:
            score = float(raw)
        except (TypeError, ValueError):
            score = -1.0
        if score >= 9.0:
            return Severity.CRITICAL
        if score >= 7.0:
            return Severity.HIGH
        if score >= 4.0:
            return Severity.MEDIUM
        if score > 0.0:
            return Severity.LOW
    level = result.get("level") or (rule.get("defaultConfiguration") or {}).get("level") or "warning"
    return _SARIF_LEVEL.get(str(level), Severity.MEDIUM)


def _sarif_location(result: Mapping[str, Any]) -> Location:
    locations = result.get("locations") or []
    if not locations:
        return Location()
    physical = (locations[0] or {}).get("physicalLocation") or {}
    uri = (physical.get("artifactLocation") or {}).get("uri")
    region = physical.get("region") or {}
    line = region.get("startLine")
    offset = region.get("byteOffset", region.get("charOffset"))
    return Location(
        file=uri,
        line=line if isinstance(line, int) and line >= 0 else None,
        offset=offset if isinstance(offset, int) and offset >= 0 else None,
    )


def _sarif_tags(result: Mapping[str, Any], rule: Mapping[str, Any]) -> list[str]:
    tags: list[str] = []
    for source in (result.get("properties") or {}, rule.get("properties") or {}):
        for tag in source.get("anzhi-taxonomy", []) or []:
            tags.append(str(tag))
    return tags


def parse_sarif(
    document: Mapping[str, Any], *, check_id: str | None = None, default_taxonomy_id: str | None = None
) -> list[FindingBatch]:
    """Turn a SARIF 2.1.0 log into batches, one per check id.

    Runs that map to the same check id (one tool run per language, say) are merged into one batch: a batch is a
    complete answer for its check, so splitting them would resolve one run's findings by the other.

    Taxonomy ids come from ``properties["anzhi-taxonomy"]`` on the result or its rule; results without one get
    ``default_taxonomy_id``, and without that the import is refused (a finding must map to a risk).
    """
    runs = document.get("runs")
    if not isinstance(runs, list):
        raise FindingsFormatError("SARIF 'runs' must be a list")
    merged: dict[str, tuple[CheckRunInfo, list[Finding]]] = {}
    for run_index, run in enumerate(runs):
        if not isinstance(run, dict):
            raise FindingsFormatError(f"runs[{run_index}] is not an object")
        driver = ((run.get("tool") or {}).get("driver")) or {}
        tool_name = str(driver.get("name") or "unknown")
        run_check_id = check_id or f"sarif.{_slug(tool_name)}"
        rules = {str(rule.get("id")): rule for rule in driver.get("rules") or [] if isinstance(rule, dict)}
        rule_list = driver.get("rules") or []
        findings = []
        for index, result in enumerate(run.get("results") or []):
            where = f"runs[{run_index}].results[{index}]"
            if not isinstance(result, dict):
                raise FindingsFormatError(f"{where} is not an object")
            rule_id = result.get("ruleId")
            rule_index = result.get("ruleIndex")
            if rule_id is None and isinstance(rule_index, int) and 0 <= rule_index < len(rule_list):
                rule_id = rule_list[rule_index].get("id")
            if not rule_id:
                raise FindingsFormatError(f"{where} has no ruleId")
            rule = rules.get(str(rule_id), {})
            taxonomy_ids = _sarif_tags(result, rule) or ([default_taxonomy_id] if default_taxonomy_id else [])
            if not taxonomy_ids:
                raise FindingsFormatError(
                    f"{where} (rule {rule_id}) names no taxonomy id; add properties['anzhi-taxonomy'] "
                    "or pass a default taxonomy id (CLI: --taxonomy)"
                )
            message = (result.get("message") or {}).get("text") or str(rule_id)
            partial = result.get("partialFingerprints") or result.get("fingerprints") or {}
            fingerprint = ""
            if isinstance(partial, dict) and partial:
                first_key = sorted(partial)[0]
                material = f"{run_check_id}\x1f{rule_id}\x1f{partial[first_key]}"
                fingerprint = hashlib.sha256(material.encode("utf-8")).hexdigest()[:32]
            try:
                findings.append(
                    Finding(
                        check_id=run_check_id,
                        rule_id=str(rule_id),
                        taxonomy_ids=tuple(taxonomy_ids),
                        severity=_sarif_severity(result, rule),
                        confidence=Confidence.MEDIUM,
                        title=message.splitlines()[0][:500] or str(rule_id),
                        description=message,
                        location=_sarif_location(result),
                        evidence={"sarif_tool": tool_name},
                        fingerprint=fingerprint,
                    )
                )
            except ValidationError as exc:
                raise FindingsFormatError(_format_validation_error(exc, where)) from exc
        info = CheckRunInfo(
            check_id=run_check_id, tool=tool_name, tool_version=str(driver.get("version") or ""), scope="sarif import"
        )
        if run_check_id in merged:
            merged[run_check_id][1].extend(findings)
        else:
            merged[run_check_id] = (info, findings)
    return [FindingBatch(run=info, findings=tuple(found)) for info, found in merged.values()]
