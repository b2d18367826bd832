"""Every file of ../shared/datasets/pickle-fixtures (labels.csv: 95 malicious, 13 benign, 3 invalid) through the
pickle analysers. The files are read as bytes only: many run code if unpickled.

Dispatch here is a small stand-in for the scanner core (content only: the ``looks_like_*`` helpers and the zip
listing), so the analysers are measured on their own. The one container they do not open (7z) goes to the core's
7z analyser where it is registered, with this dispatch for its members, and is counted apart otherwise.
"""

from __future__ import annotations

import csv
import os
import time
import zipfile
from pathlib import Path

import pytest

from anzhi.develop.models._pickle_formats import looks_like_joblib, looks_like_torch_legacy
from anzhi.develop.models._registry import ANALYZERS, ScanContext
from anzhi.develop.models._result import FileResult, ModelFormat, Verdict
from anzhi.develop.models._source import FileSource, ScanLimits, Source

DATASETS = Path(os.environ.get("ANZHI_DATASETS") or Path(__file__).resolve().parents[3].parent / "shared" / "datasets")
FIXTURES = DATASETS / "pickle-fixtures"
SEVEN_ZIP = getattr(ModelFormat, "SEVEN_ZIP", None)  # the core's container, where it exists

pytestmark = pytest.mark.skipif(not (FIXTURES / "labels.csv").is_file(),
                                reason=f"pickle fixtures not found at {FIXTURES} (set ANZHI_DATASETS)")


def pick_format(source: Source) -> ModelFormat | None:
    head = source.read_at(0, 64 * 1024)
    if head.startswith(b"7z\xbc\xaf\x27\x1c"):
        return SEVEN_ZIP if SEVEN_ZIP in ANALYZERS else None
    if head.startswith(b"\x93NUMPY"):
        return ModelFormat.NUMPY
    if head.startswith(b"PK\x03\x04"):
        stream = source.open()
        try:
            names = zipfile.ZipFile(stream).namelist()
        except zipfile.BadZipFile:
            names = []
        finally:
            stream.close()
        return ModelFormat.NUMPY_NPZ if names and all(n.endswith(".npy") for n in names) else ModelFormat.PYTORCH_ZIP
    if looks_like_torch_legacy(head):
        return ModelFormat.PYTORCH_LEGACY
    if looks_like_joblib(head):
        return ModelFormat.JOBLIB
    return ModelFormat.PICKLE  # not-pickles too: the walker says why they are invalid


def scan(source: Source) -> FileResult | None:
    fmt = pick_format(source)
    if fmt is None:
        return None
    analysis = ANALYZERS[fmt](source, ScanContext(limits=ScanLimits(), scan_member=scan_member))
    return FileResult(source.name, fmt, source.size, analysis.reasons, members=analysis.members)


def scan_member(source: Source, _hint: ModelFormat | None) -> FileResult:
    return scan(source) or FileResult(source.name, ModelFormat.UNKNOWN, source.size)


def scan_fixtures() -> tuple[dict[str, list[tuple[str, Verdict | None]]], float]:
    with (FIXTURES / "labels.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    out: dict[str, list[tuple[str, Verdict | None]]] = {}
    started = time.perf_counter()
    for row in rows:
        result = scan(FileSource(FIXTURES / row["path"]))
        out.setdefault(row["label"], []).append((row["path"], None if result is None else result.verdict))
    return out, time.perf_counter() - started


def test_fixture_verdicts() -> None:
    results, elapsed = scan_fixtures()
    malicious, benign, invalid = results["malicious"], results["benign"], results["invalid_or_not_pickle"]
    assert (len(malicious), len(benign), len(invalid)) == (95, 13, 3)
    skipped = [path for path, found in malicious if found is None]
    assert skipped == ([] if SEVEN_ZIP in ANALYZERS else ["picklescan/data/malicious1.7z"])
    missed = [path for path, found in malicious if found not in (None, Verdict.DANGEROUS)]
    assert missed == [], f"malicious files not flagged dangerous: {missed}"
    false_alarms = [path for path, found in benign if found is Verdict.DANGEROUS]
    assert false_alarms == []
    assert [path for path, found in benign if found is not Verdict.CLEAN] == [
        "modelscan/data/password_protected.zip", "picklescan/data/benign_password_protected.zip"]  # encrypted: review
    assert all(found is Verdict.INVALID for _path, found in invalid)
    assert elapsed < 5
