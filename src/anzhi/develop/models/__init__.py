"""Model-file supply-chain scanner (开发侧): static checks that never load, import or run the files.

Formats are told apart by content (:func:`detect_format`); each has an analyser that walks its structure and
returns reasons under stable rule ids (``MODEL-4xx``, see :data:`RULES`). ::

    from anzhi.develop.models import scan_paths, to_findings, write_sarif

    report = scan_paths(["models/"])          # files, folders, archives; parallel on all cores
    for result in report.results:
        print(result.path, result.format, result.verdict, [r.rule_id for r in result.reasons])
    batch = to_findings(report, scope="models/")   # for govern.ingest_batch
    with open("scan.sarif", "w") as stream:
        write_sarif(report, stream)

The output writers share one signature: ``write_json(report, stream)``, ``write_sarif(report, stream)``,
``write_table(report, stream)``.
"""

# Every analyser module is imported here so that it registers its format and rules.
from anzhi.develop.models import (  # noqa: F401
    _archive,
    _gguf,
    _hdf5,
    _keras,
    _onnx,
    _pickle_formats,
    _safetensors,
    _savedmodel,
    _sevenzip,
)
from anzhi.develop.models._detect import detect_format
from anzhi.develop.models._findings import CHECK_ID, is_finding, nothing_read, rule_help_uri, skipped, to_findings
from anzhi.develop.models._output_json import JSON_SCHEMA, report_document, write_json
from anzhi.develop.models._output_sarif import sarif_document, sarif_level, write_sarif
from anzhi.develop.models._output_table import render_table, summary_line, write_table
from anzhi.develop.models._registry import ANALYZERS, Analysis, ScanContext, analyzer
from anzhi.develop.models._result import FileResult, ModelFormat, Reason, ScanReport, Verdict, worst_verdict
from anzhi.develop.models._rules import RULES, Rule, get_rule
from anzhi.develop.models._scanner import default_jobs, scan_bytes, scan_file, scan_paths
from anzhi.develop.models._source import BytesSource, FileSource, ScanLimits, Source

__all__ = [
    "ANALYZERS",
    "CHECK_ID",
    "JSON_SCHEMA",
    "RULES",
    "Analysis",
    "BytesSource",
    "FileResult",
    "FileSource",
    "ModelFormat",
    "Reason",
    "Rule",
    "ScanContext",
    "ScanLimits",
    "ScanReport",
    "Source",
    "Verdict",
    "analyzer",
    "default_jobs",
    "detect_format",
    "get_rule",
    "is_finding",
    "nothing_read",
    "render_table",
    "report_document",
    "rule_help_uri",
    "sarif_document",
    "sarif_level",
    "scan_bytes",
    "scan_file",
    "scan_paths",
    "skipped",
    "summary_line",
    "to_findings",
    "worst_verdict",
    "write_json",
    "write_sarif",
    "write_table",
]
