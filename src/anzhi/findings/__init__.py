"""The findings contract: every check, in every vertical, reports ``Finding`` objects in one schema."""

from anzhi.findings._io import FINDINGS_SCHEMA, load_findings_file, parse_findings_document, parse_sarif
from anzhi.findings._model import (
    CheckRunInfo,
    Confidence,
    Finding,
    FindingBatch,
    Location,
    Severity,
    compute_fingerprint,
)

__all__ = [
    "FINDINGS_SCHEMA",
    "CheckRunInfo",
    "Confidence",
    "Finding",
    "FindingBatch",
    "Location",
    "Severity",
    "compute_fingerprint",
    "load_findings_file",
    "parse_findings_document",
    "parse_sarif",
]
