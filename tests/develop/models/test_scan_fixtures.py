"""The whole scanner over ../shared/datasets/pickle-fixtures, judged against its labels.csv."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from anzhi.develop.models import Verdict, scan_paths

#: Known gaps, each with the reason; a file leaves this list when the scanner learns it.
KNOWN_GAPS: dict[str, str] = {}


def test_pickle_fixtures_match_their_labels(shared_datasets: Path) -> None:
    root = shared_datasets / "pickle-fixtures"
    if not (root / "labels.csv").is_file():
        pytest.skip(f"{root} has no labels.csv")
    with (root / "labels.csv").open(encoding="utf-8", newline="") as handle:
        labels = {row["path"]: row["label"] for row in csv.DictReader(handle)}
    report = scan_paths([root])
    verdicts = {Path(r.path).relative_to(root).as_posix(): r.verdict for r in report.results}
    wrong = []
    for path, label in sorted(labels.items()):
        verdict = verdicts[path]
        if label == "malicious":
            ok = verdict is Verdict.DANGEROUS
        elif label == "benign":
            ok = verdict is not Verdict.DANGEROUS and verdict is not Verdict.INVALID
        else:
            ok = verdict is Verdict.INVALID
        if not ok and path not in KNOWN_GAPS:
            wrong.append(f"{path}: labelled {label}, scanned {verdict.value}")
        if ok and path in KNOWN_GAPS:
            wrong.append(f"{path}: now scanned right; remove it from KNOWN_GAPS")
    assert wrong == []
    assert sum(1 for v in verdicts.values() if v is Verdict.DANGEROUS) >= 95
