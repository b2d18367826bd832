"""Model-file scanners compared on the same files: anzhi, picklescan, modelscan and fickling.

Sets:
  * ``fixtures``: ``$ANZHI_DATASETS/pickle-fixtures`` (default ``../shared/datasets``) with its ``labels.csv``
    (95 malicious, 13 benign, 3 invalid; real malicious pickles from picklescan's and modelscan's test data).
  * ``corpus``: the corpus ``benchmarks/model_corpus.py`` writes (every format anzhi reads, malicious with
    evasions and benign look-alikes written by the real libraries, invalid files), generated with ``--seed``.

Every tool runs as a whole command, the way a user runs it, once per directory: ``anzhi scan model DIR``,
``picklescan -p DIR``, ``modelscan -p DIR``. fickling has no directory mode, so ``fickling --check-safety FILE``
runs once per file and its time is the loop over all files (a second fickling row, ``fickling-lib``, drives
fickling's own library the way its ``--huggingface`` scan does — zip members through ``scan_zip_archive``, raw
pickles through ``scan_file`` — over the whole folder in one process).

What "flagged dangerous" means per tool (its own blocking verdict, what would fail a CI job):
  * anzhi: the file's verdict is ``dangerous`` (``review`` is reported, not counted as a detection);
  * picklescan: a ``dangerous import ... FOUND`` line for the file (its exit code 1); picklescan has no per-file
    "suspicious" output;
  * modelscan: any issue for the file, whatever its severity (modelscan only reports operators on its unsafe
    list; a Keras Lambda is MEDIUM). ``alt_mapping`` in the JSON also gives severity >= HIGH;
  * fickling CLI: exit status 1 (severity above LIKELY_SAFE); ``alt_mapping`` also gives >= LIKELY_UNSAFE;
  * fickling-lib: any analysed pickle in the file above LIKELY_SAFE.
"Invalid reported": the tool says the file could not be parsed (anzhi ``invalid``; picklescan "could not
parse" / "ERROR: parsing"; a modelscan error or a skip with a reason other than "not supported"; fickling exit
2 / a parse error), without crashing. A crash is a Python traceback; where a directory run crashes, the files
that crash it are found and excluded one by one (picklescan ``--exclude``) or every file is run alone (anzhi,
modelscan), and those files count as crashes.

Times: each command once to warm the page cache (that run gives the verdicts), then ``--repeats`` timed runs,
interleaved across tools (A, B, C, A, B, C, ...) so that other load on the machine falls on all of them; the
median is reported (min, max and every run in the JSON). Ratios are against picklescan's median on the same set.

Setup (the tools need different dependency sets, so three virtualenvs)::

    python benchmarks/model_scan.py setup            # creates them under --venvs (default /tmp/anzhi-model-bench)
    python benchmarks/model_scan.py run              # writes benchmarks/results/model_scan.json and .md

anzhi itself runs from the project's virtualenv (``.venv/bin/anzhi``).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_VENVS = Path("/tmp/anzhi-model-bench")
# modelscan needs numpy < 2 (its .npy scanner calls numpy.lib.format._check_version, gone in numpy 2) and
# TensorFlow for .keras files (without it they are an error); both configurations are measured.
MODELSCAN_PINS = ["modelscan[h5py]==0.8.8", "numpy==1.26.4", "h5py==3.16.0"]
MODELSCAN_TF_PINS = ["modelscan[h5py]==0.8.8", "numpy==1.26.4", "tensorflow-cpu==2.21.0"]

VERDICTS = ("dangerous", "review", "clean", "invalid", "error", "skipped", "crash")
RANK = {"dangerous": 6, "crash": 5, "invalid": 4, "error": 3, "review": 2, "clean": 1, "skipped": 0}


def worst(a: str | None, b: str) -> str:
    return b if a is None or RANK[b] > RANK[a] else a


# ------------------------------------------------------------------------------------------------- labels


@dataclass
class Label:
    path: str
    label: str  # malicious / benign / invalid
    technique: str
    format: str = ""


#: Writes the 'checkpoints' set with the tools venv's torch: realistic weight files whose pickles are large.
CHECKPOINTS_SCRIPT = """
import collections, csv, pathlib, sys, torch
out, n = pathlib.Path(sys.argv[1]), int(sys.argv[2])
out.mkdir(parents=True, exist_ok=True)
rows = []
for i in range(n):
    state = collections.OrderedDict((f"layers.{j}.weight", torch.zeros(2)) for j in range(8000))
    torch.save(state, out / f"ckpt_{i:02d}.pt")
    rows.append({"path": f"ckpt_{i:02d}.pt", "label": "benign", "format": "pytorch-zip",
                 "technique": "torch_save_state_dict_8000_tensors", "note": ""})
with (out / "labels.csv").open("w", newline="") as handle:
    writer = csv.DictWriter(handle, fieldnames=["path", "label", "format", "technique", "note"])
    writer.writeheader()
    writer.writerows(rows)
"""


def load_labels(root: Path, kind: str) -> dict[str, Label]:
    out: dict[str, Label] = {}
    with (root / "labels.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            label = row["label"]
            if label.startswith("invalid"):
                label = "invalid"
            if kind == "fixtures":
                technique = row.get("static_globals") or row.get("parse_note") or ""
                technique = f"{row.get('container', '')}: {technique}".strip(": ")[:120]
                fmt = row.get("container", "")
            else:
                technique, fmt = row["technique"], row["format"]
            out[row["path"]] = Label(row["path"], label, technique, fmt)
    return out


def all_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def match_label(source: str, root: Path, labels: dict[str, Label] | list[str]) -> str | None:
    """Map a tool's file reference (absolute, relative, ``file:member``, ``file!member``) to a labelled path."""
    source = source.strip()
    rootstr = str(root).rstrip("/") + "/"
    if source.startswith(rootstr):
        source = source[len(rootstr):]
    elif source.startswith("./"):
        source = source[2:]
    if source in labels:
        return source
    best = None
    for path in labels:
        if source.startswith(path) and len(source) > len(path) and source[len(path)] in ":!/" and (
            best is None or len(path) > len(best)
        ):
            best = path
    return best


def make_bulk(corpus: Path, target: Path, copies: int) -> Path:
    """``copies`` hard-linked copies of the corpus (copied where links are not possible), one labels.csv."""
    target.mkdir(parents=True, exist_ok=True)
    files = [f for f in all_files(corpus) if f != "labels.csv"]
    with (corpus / "labels.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    for i in range(copies):
        for rel in files:
            dest = target / f"copy{i:03d}" / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(corpus / rel, dest)
            except OSError:
                shutil.copyfile(corpus / rel, dest)
    with (target / "labels.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0].keys()))
        writer.writeheader()
        for i in range(copies):
            for row in rows:
                writer.writerow({**row, "path": f"copy{i:03d}/{row['path']}"})
    return target


# ------------------------------------------------------------------------------------------------ running


@dataclass
class Run:
    tool: str
    verdicts: dict[str, str] = field(default_factory=dict)
    details: dict[str, list[str]] = field(default_factory=dict)
    alt: dict[str, str] = field(default_factory=dict)  # alternative mapping (stricter threshold)
    times: list[float] = field(default_factory=list)
    timer: Callable[[], Any] | None = None  # runs the whole command once, output discarded
    repeats: int = 0
    notes: list[str] = field(default_factory=list)
    crashed_files: list[str] = field(default_factory=list)
    whole_run_crashed: bool = False
    command: str = ""
    exit_codes: list[int] = field(default_factory=list)

    def mark(self, path: str | None, verdict: str, detail: str = "") -> None:
        if path is None:
            return
        self.verdicts[path] = worst(self.verdicts.get(path), verdict)
        if detail:
            items = self.details.setdefault(path, [])
            if detail not in items and len(items) < 8:
                items.append(detail[:300])


def sh(cmd: list[str], timeout: float = 900, env: dict[str, str] | None = None) -> tuple[int, str, float]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=timeout, env=env,
                          check=False)
    return proc.returncode, proc.stdout + proc.stderr, time.perf_counter() - start


def time_interleaved(runs: list[Run]) -> None:
    """Time every tool's command round-robin (tool A, B, C, A, B, C, ...) so that load from other processes on
    the machine spreads over all tools instead of falling on whichever ran at that moment."""
    for i in range(max((r.repeats for r in runs), default=0)):
        for run in runs:
            if run.timer is not None and i < run.repeats:
                start = time.perf_counter()
                run.timer()
                run.times.append(time.perf_counter() - start)


def quiet(cmd: list[str]) -> Callable[[], Any]:
    return lambda: subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False,
                                  timeout=900)


# -- anzhi ----------------------------------------------------------------------------------------------------


def _anzhi_parse(doc: dict[str, Any], root: Path, labels: dict[str, Label], run: Run, base: str = "") -> None:
    def reasons(item: dict[str, Any], prefix: str = "") -> list[str]:
        out = []
        for r in item.get("reasons", []):
            loc = f" @{r['location']}" if r.get("location") else ""
            out.append(f"{prefix}{r.get('verdict')}:{r.get('rule_id')} {r.get('message', '')}{loc}")
        for m in item.get("members", []):
            out.extend(reasons(m, prefix=f"{prefix}[{m.get('path', '')}] "))
        return out

    for item in doc.get("results", []):
        source = item.get("path", "")
        path = match_label(source, root, labels) or (match_label(base, root, labels) if base else None)
        verdict = item.get("verdict", "error")
        verdict = verdict if verdict in VERDICTS else "error"
        fmt = item.get("format", "")
        run.mark(path, verdict, f"format={fmt}")
        for text in reasons(item):
            run.mark(path, verdict, text)
    for item in doc.get("skipped", []):
        path = match_label(item.get("path", ""), root, labels)
        if path is not None and path not in run.verdicts:
            run.mark(path, "skipped", f"skipped: {item.get('rule_id')} {item.get('reason')}")


def run_anzhi(anzhi: str, root: Path, labels: dict[str, Label], repeats: int, tmp: Path) -> Run:
    out = tmp / "anzhi.json"
    cmd = [anzhi, "scan", "model", str(root), "--format", "json", "--output", str(out)]
    run = Run("anzhi", command=" ".join([*cmd[:4], "--format", "json", "--output", "X"]))
    out.unlink(missing_ok=True)
    rc, text, _ = sh(cmd)
    run.exit_codes.append(rc)
    doc = None
    if out.exists():
        try:
            doc = json.loads(out.read_text())
        except json.JSONDecodeError:
            doc = None
    if doc is None or "Traceback" in text:
        run.whole_run_crashed = True
        run.notes.append(f"directory run failed (exit {rc}): {text.strip()[-400:]}")
        for rel in labels:
            single = tmp / "anzhi-one.json"
            single.unlink(missing_ok=True)
            rc1, text1, _ = sh([anzhi, "scan", "model", str(root / rel), "--format", "json", "--output", str(single)])
            try:
                _anzhi_parse(json.loads(single.read_text()), root, labels, run, base=rel)
            except (OSError, json.JSONDecodeError):
                run.mark(rel, "crash", f"exit {rc1}: {text1.strip()[-300:]}")
                run.crashed_files.append(rel)
            if "Traceback" in text1 and rel not in run.crashed_files:
                run.mark(rel, "crash", text1.strip()[-300:])
                run.crashed_files.append(rel)
    else:
        _anzhi_parse(doc, root, labels, run)
        run.notes.append(f"exit {rc}; counts {doc.get('counts')}")
    run.timer, run.repeats = quiet(cmd), repeats
    return run


# -- picklescan -----------------------------------------------------------------------------------------------

_PS_DANGEROUS = re.compile(r"^(?P<file>.+?): dangerous import '(?P<what>[^']*)' FOUND", re.M)
_PS_NOPARSE = re.compile(r"could not parse (?P<file>.+?) as pickle: (?P<why>.*)$", re.M)
_PS_ERROR = re.compile(r"ERROR: parsing pickle in (?P<file>.+?): (?P<why>.*)$", re.M)
_PS_ZIPERR = re.compile(r"Invalid file (?P<member>.+?) in zip archive (?P<file>.+?): (?P<why>.*)$", re.M)
_PS_SCANNING = re.compile(r"Scanning file (?:.+? in 7z archive )?(?P<file>.+)$", re.M)
# picklescan's directory walk only reads these extensions (picklescan/scanner.py).
_PS_DIR_EXTENSIONS = {".pkl", ".pickle", ".joblib", ".dat", ".data", ".bin", ".pt", ".pth", ".ckpt", ".zip", ".npz",
                      ".7z"}


def run_picklescan(picklescan: str, root: Path, labels: dict[str, Label], repeats: int) -> Run:
    run = Run("picklescan", command="picklescan -p DIR")
    excludes: list[str] = []
    text = ""
    for _attempt in range(100):
        cmd = [picklescan, "-p", str(root), "-l", "DEBUG"] + [a for x in excludes for a in ("--exclude", x)]
        rc, text, _ = sh(cmd)
        run.exit_codes.append(rc)
        if "Unhandled exception" not in text:
            break
        scanned = _PS_SCANNING.findall(text)
        if not scanned:
            run.whole_run_crashed = True
            run.notes.append("crashed before naming a file: " + text.strip()[-300:])
            break
        culprit = scanned[-1].strip()
        rel = match_label(culprit, root, labels) or culprit
        exc = text.strip().splitlines()[-1]
        copy = re.match(r"copy\d{3}/(.+)$", rel)
        if copy:  # bulk set: the same file crashes it in every copy; exclude them all at once
            same = [p for p in labels if re.fullmatch(r"copy\d{3}/" + re.escape(copy[1]), p)]
            excludes.append(r"/copy\d{3}/" + re.escape(copy[1]) + "$")
        else:
            same = [rel]
            excludes.append("^" + re.escape(culprit) + "$")
        for path in same:
            run.mark(path if path in labels else None, "crash", f"directory run crashed: {exc}")
            run.crashed_files.append(path)
    if run.crashed_files:
        run.whole_run_crashed = True
        run.notes.append(f"the directory run crashes (exit 2, no results) on {len(run.crashed_files)} file(s); they "
                         "were excluded with --exclude one by one to get the other verdicts and the time")
    # Walk the log in order: a line that names a temporary file (7z members are extracted to /tmp first)
    # belongs to the file the directory walk was scanning at that point.
    current: str | None = None
    for line in text.splitlines():
        m = _PS_SCANNING.search(line)
        if m:
            current = match_label(m["file"], root, labels)
            run.mark(current, "clean")
            continue
        for pattern, verdict in ((_PS_DANGEROUS, "dangerous"), (_PS_NOPARSE, "invalid"), (_PS_ERROR, "error"),
                                 (_PS_ZIPERR, "error")):
            m = pattern.search(line)
            if not m:
                continue
            path = match_label(m["file"], root, labels) or current
            if verdict == "dangerous":
                run.mark(path, verdict, f"dangerous import '{m['what']}'")
            elif pattern is _PS_ZIPERR:
                run.mark(path, verdict, f"zip member {m['member']}: {m['why']}")
            else:
                run.mark(path, verdict, f"{'could not parse' if verdict == 'invalid' else 'parse error'}: {m['why']}")
            break
    for rel in labels:
        if rel not in run.verdicts:
            why = "extension not read by the directory walk" if Path(rel).suffix not in _PS_DIR_EXTENSIONS else ""
            run.mark(rel, "skipped", why)
    summary = re.search(r"SCAN SUMMARY.*", text, re.S)
    if summary:
        run.notes.append(" ".join(summary.group(0).split()))
    cmd = [picklescan, "-p", str(root)] + [a for x in excludes for a in ("--exclude", x)]
    run.timer, run.repeats = quiet(cmd), repeats
    return run


# -- modelscan ------------------------------------------------------------------------------------------------


def _modelscan_parse(doc: dict[str, Any], root: Path, labels: dict[str, Label], run: Run, base: str = "") -> None:
    def where(source: str) -> str | None:
        return match_label(source, root, labels) or (base or None)

    summary = doc.get("summary", {})
    for source in summary.get("scanned", {}).get("scanned_files", []):
        run.mark(where(source), "clean")
    for item in summary.get("skipped", {}).get("skipped_files", []):
        category = item.get("category", "")
        verdict = "skipped" if category == "SCAN_NOT_SUPPORTED" else "invalid"
        run.mark(where(item.get("source", "")), verdict, f"skipped {category}: {item.get('description', '')}")
    for item in doc.get("errors", []):
        run.mark(where(item.get("source", "")), "error", f"error {item.get('category')}: {item.get('description')}")
    for item in doc.get("issues", []):
        path = where(item.get("source", ""))
        severity = item.get("severity", "")
        run.mark(path, "dangerous", f"{severity} {item.get('module')}.{item.get('operator')}")
        if path is not None and severity in ("HIGH", "CRITICAL"):
            run.alt[path] = "dangerous"


def run_modelscan(name: str, modelscan: str, root: Path, labels: dict[str, Label], repeats: int, tmp: Path) -> Run:
    out = tmp / f"{name}.json"
    cmd = [modelscan, "-p", str(root), "-r", "json", "-o", str(out), "--show-skipped"]
    run = Run(name, command="modelscan -p DIR -r json -o X --show-skipped")
    out.unlink(missing_ok=True)
    rc, text, _ = sh(cmd)
    run.exit_codes.append(rc)
    try:
        doc = json.loads(out.read_text())
    except (OSError, json.JSONDecodeError):
        doc = None
    if doc is None:
        run.whole_run_crashed = True
        run.notes.append(f"directory run failed (exit {rc}): {text.strip()[-400:]}; every file run alone")
        for rel in labels:
            single = tmp / f"{name}-one.json"
            single.unlink(missing_ok=True)
            rc1, text1, _ = sh([modelscan, "-p", str(root / rel), "-r", "json", "-o", str(single), "--show-skipped"])
            try:
                _modelscan_parse(json.loads(single.read_text()), root, labels, run, base=rel)
            except (OSError, json.JSONDecodeError):
                run.mark(rel, "crash", f"exit {rc1}: {text1.strip()[-300:]}")
                run.crashed_files.append(rel)
    else:
        _modelscan_parse(doc, root, labels, run)
        run.notes.append(f"exit {rc}; {doc.get('summary', {}).get('total_issues_by_severity')}")
    for rel in labels:
        if rel not in run.verdicts:
            run.mark(rel, "skipped", "not in modelscan's report")
        run.alt.setdefault(rel, run.verdicts[rel] if run.verdicts[rel] != "dangerous" else "clean")
    run.timer, run.repeats = quiet(cmd), repeats
    return run


# -- fickling -------------------------------------------------------------------------------------------------

_FICKLING_ORDER = ["LIKELY_SAFE", "POSSIBLY_UNSAFE", "SUSPICIOUS", "LIKELY_UNSAFE", "LIKELY_OVERTLY_MALICIOUS",
                   "OVERTLY_MALICIOUS"]


def _json_docs(text: str) -> list[dict[str, Any]]:
    docs, decoder, i = [], json.JSONDecoder(), 0
    while i < len(text):
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            break
        try:
            doc, i = decoder.raw_decode(text, i)
        except json.JSONDecodeError:
            break
        docs.append(doc)
    return docs


def run_fickling_cli(fickling: str, root: Path, labels: dict[str, Label], repeats: int, tmp: Path) -> Run:
    run = Run("fickling", command="fickling --check-safety --json-output X FILE  (once per file)")
    files = all_files(root)
    out = tmp / "fickling.json"

    def one(rel: str) -> list[str]:
        return [fickling, "--check-safety", "--json-output", str(out), str(root / rel)]

    for rel in files:
        out.unlink(missing_ok=True)
        rc, text, _ = sh(one(rel))
        docs = _json_docs(out.read_text()) if out.exists() else []
        severities = [d.get("severity", "") for d in docs]
        top = max(severities, key=lambda s: _FICKLING_ORDER.index(s) if s in _FICKLING_ORDER else -1, default="")
        label_path = rel if rel in labels else None
        if "Traceback" in text:
            run.mark(label_path, "crash", text.strip().splitlines()[-1])
            if label_path:
                run.crashed_files.append(rel)
        elif rc == 0:
            run.mark(label_path, "clean", top)
        elif rc == 1:
            analysis = "; ".join(d.get("analysis", "").replace("\n", " | ")[:200] for d in docs)
            run.mark(label_path, "dangerous", f"{top}: {analysis}")
        elif rc == 2:
            run.mark(label_path, "invalid", text.strip().splitlines()[0] if text.strip() else "exit 2")
        else:
            run.mark(label_path, "error", f"exit {rc}: {text.strip()[-200:]}")
        if label_path:
            strict = top in _FICKLING_ORDER and _FICKLING_ORDER.index(top) >= _FICKLING_ORDER.index("LIKELY_UNSAFE")
            run.alt[rel] = "dangerous" if strict else ("clean" if run.verdicts[rel] == "dangerous" else
                                                        run.verdicts[rel])
    run.notes.append(f"{len(files)} invocations per pass (every file in the folder)")

    def loop() -> None:
        for rel in files:
            subprocess.run(one(rel), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, timeout=300)

    run.timer, run.repeats = loop, repeats
    return run


def fickling_lib_driver(root: Path, out: Path) -> int:
    """Run inside the tools venv: fickling's library over every file, as its ``--huggingface`` scan does."""
    from pathlib import PurePosixPath

    from fickling.cli import HF_RAW_PICKLE_EXTENSIONS, HF_ZIP_PICKLE_EXTENSIONS
    from fickling.loader import scan_file, scan_zip_archive
    from fickling.polyglot import find_file_properties

    report = {}
    for rel in all_files(root):
        path = str(root / rel)
        ext = PurePosixPath(rel).suffix.lower()
        try:
            props = find_file_properties(path)
            if props["is_torch_zip"] or props["is_standard_zip"] or ext in HF_ZIP_PICKLE_EXTENSIONS:
                results = list(scan_zip_archive(path, graceful=True).values())
                kind = "zip"
            elif props["is_valid_pickle"] or ext in HF_RAW_PICKLE_EXTENSIONS:
                results = [scan_file(path, graceful=True)]
                kind = "pickle"
            else:
                report[rel] = {"kind": "skipped", "why": "7z/tar/numpy or not a pickle" if (
                    props.get("is_7z") or props["is_tar"] or props["is_numpy_pickle"]) else "not a pickle"}
                continue
            report[rel] = {
                "kind": kind,
                "analysed": [max((r.severity for r in res.results), default=None) for res in results],
                "errors": [e for res in results for e in res.errors],
                "analysis": [r.to_string()[:200] for res in results for r in res.results if not r],
            }
            report[rel]["analysed"] = [s.name if s is not None else None for s in report[rel]["analysed"]]
        except Exception as exc:  # a crash of the library is a result
            report[rel] = {"kind": "crash", "why": f"{type(exc).__name__}: {exc}"}
    out.write_text(json.dumps(report))
    return 0


def run_fickling_lib(python: str, root: Path, labels: dict[str, Label], repeats: int, tmp: Path) -> Run:
    out = tmp / "fickling-lib.json"
    cmd = [python, str(Path(__file__).resolve()), "_fickling_lib", str(root), str(out)]
    run = Run("fickling-lib", command="python model_scan.py _fickling_lib DIR X  (fickling library, one process)")
    rc, text, _ = sh(cmd)
    run.exit_codes.append(rc)
    try:
        report = json.loads(out.read_text())
    except (OSError, json.JSONDecodeError):
        run.whole_run_crashed = True
        run.notes.append(f"driver failed (exit {rc}): {text.strip()[-400:]}")
        report = {}
    for rel, item in report.items():
        path = rel if rel in labels else None
        if path is None:
            continue
        kind = item["kind"]
        if kind == "crash":
            run.mark(path, "crash", item["why"])
            run.crashed_files.append(path)
            continue
        if kind == "skipped":
            run.mark(path, "skipped", item["why"])
            continue
        severities = [s for s in item["analysed"] if s]
        top = max(severities, key=_FICKLING_ORDER.index, default="LIKELY_SAFE")
        if top != "LIKELY_SAFE":
            run.mark(path, "dangerous", f"{top}: {' | '.join(item['analysis'])[:250]}")
        elif item["errors"] or not severities:
            run.mark(path, "invalid", "; ".join(item["errors"])[:250] or "nothing analysed")
        else:
            run.mark(path, "clean", top)
        strict = _FICKLING_ORDER.index(top) >= _FICKLING_ORDER.index("LIKELY_UNSAFE")
        run.alt[path] = "dangerous" if strict else ("clean" if run.verdicts[path] == "dangerous" else
                                                     run.verdicts[path])
    for rel in labels:
        if rel not in run.verdicts:
            run.mark(rel, "skipped", "not reported")
    run.timer, run.repeats = quiet(cmd), repeats
    return run


# ------------------------------------------------------------------------------------------------ scoring


def score(run: Run, labels: dict[str, Label], alt: bool = False) -> dict[str, Any]:
    verdicts = {p: (run.alt.get(p, run.verdicts.get(p, "skipped")) if alt else run.verdicts.get(p, "skipped"))
                for p in labels}
    mal = [p for p, lab in labels.items() if lab.label == "malicious"]
    ben = [p for p, lab in labels.items() if lab.label == "benign"]
    inv = [p for p, lab in labels.items() if lab.label == "invalid"]
    detected = [p for p in mal if verdicts[p] == "dangerous"]
    false_alarms = [p for p in ben if verdicts[p] == "dangerous"]
    invalid_ok = [p for p in inv if verdicts[p] in ("invalid", "error")]
    tp, fp = len(detected), len(false_alarms)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / len(mal) if mal else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "malicious": len(mal),
        "detected": tp,
        "benign": len(ben),
        "false_alarms": fp,
        "benign_review": sum(verdicts[p] == "review" for p in ben),
        "invalid": len(inv),
        "invalid_reported": len(invalid_ok),
        "invalid_flagged_dangerous": sum(verdicts[p] == "dangerous" for p in inv),
        "crashes": sum(verdicts[p] == "crash" for p in labels),
        "errors_on_valid_files": sum(verdicts[p] == "error" for p in mal + ben),
        "skipped": sum(verdicts[p] == "skipped" for p in labels),
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "fpr_benign": round(fp / len(ben), 4) if ben else 0.0,
        "verdict_counts": {v: sum(verdicts[p] == v for p in labels) for v in VERDICTS},
    }


def failures(run: Run, labels: dict[str, Label]) -> dict[str, list[dict[str, Any]]]:
    def item(p: str) -> dict[str, Any]:
        return {"path": p, "technique": labels[p].technique, "verdict": run.verdicts.get(p, "skipped"),
                "said": run.details.get(p, [])}

    return {
        "missed_malicious": [item(p) for p, lab in sorted(labels.items())
                             if lab.label == "malicious" and run.verdicts.get(p) != "dangerous"],
        "false_alarms": [item(p) for p, lab in sorted(labels.items())
                         if lab.label == "benign" and run.verdicts.get(p) == "dangerous"],
        "benign_review": [item(p) for p, lab in sorted(labels.items())
                          if lab.label == "benign" and run.verdicts.get(p) == "review"],
        "invalid_not_reported": [item(p) for p, lab in sorted(labels.items())
                                 if lab.label == "invalid" and run.verdicts.get(p) not in ("invalid", "error")],
        "crashes": [item(p) for p in sorted(labels) if run.verdicts.get(p) == "crash"],
        "errors_on_valid_files": [item(p) for p, lab in sorted(labels.items())
                                  if lab.label != "invalid" and run.verdicts.get(p) == "error"],
    }


def timing(run: Run) -> dict[str, Any]:
    t = run.times
    return {"median_s": round(statistics.median(t), 4), "min_s": round(min(t), 4), "max_s": round(max(t), 4),
            "runs": [round(x, 4) for x in t]} if t else {}


# ---------------------------------------------------------------------------------------------- versions


def version_of(python: str | None, packages: list[str]) -> dict[str, str]:
    if not python or not Path(python).exists():
        return {}
    code = ("import importlib.metadata as m, json, sys\nout = {}\nfor p in sys.argv[1:]:\n    try: out[p] = "
            "m.version(p)\n    except m.PackageNotFoundError: pass\nprint(json.dumps(out))")
    rc, text, _ = sh([python, "-c", code, *packages])
    try:
        return json.loads(text.strip().splitlines()[-1]) if rc == 0 else {}
    except (json.JSONDecodeError, IndexError):
        return {}


def python_of(binary: str) -> str:
    return str(Path(binary).with_name("python"))


# -------------------------------------------------------------------------------------------------- setup


def setup(venvs: Path) -> int:
    venvs.mkdir(parents=True, exist_ok=True)
    req = HERE / "requirements-model-scan.txt"
    plans = [
        ("tools", [["-r", str(req)]]),
        ("modelscan", [MODELSCAN_PINS]),
        ("modelscan-tf", [MODELSCAN_TF_PINS]),
    ]
    for name, installs in plans:
        target = venvs / name
        if not (target / "bin" / "python").exists():
            subprocess.run([sys.executable, "-m", "venv", str(target)], check=True)
        pip = [str(target / "bin" / "python"), "-m", "pip", "install", "-q"]
        if name == "tools":
            # torch first and alone, with its exact pin, so pip never resolves a CUDA build for it.
            torch_pin = next(line.strip() for line in req.read_text().splitlines() if line.startswith("torch=="))
            subprocess.run([*pip, torch_pin], check=True)
        for args in installs:
            subprocess.run([*pip, *args], check=True)
        print(f"{target}: ready")
    return 0


# ---------------------------------------------------------------------------------------------------- run


def markdown(result: dict[str, Any]) -> str:
    lines = ["# Model-file scanners: anzhi vs picklescan, modelscan, fickling", ""]
    lines.append(f"Generated {result['generated_at']} by `benchmarks/model_scan.py` on {result['machine']['cpus']} "
                 f"CPUs ({result['machine']['platform']}). Whole-command wall time, median of "
                 f"{result['repeats']} runs after a warm-up; the last column is the tool's time divided by "
                 "picklescan's on the same set (below 1.00× is faster than picklescan).")
    lines.append("")
    for set_name, data in result["sets"].items():
        labels = data["labels"]
        lines.append(f"## {set_name}: {data['description']}")
        lines.append("")
        lines.append(f"{labels['malicious']} malicious, {labels['benign']} benign, {labels['invalid']} invalid files "
                     f"({data['files_in_folder']} files in the folder, unlabelled ones included in the time).")
        lines.append("")
        lines.append("| tool | malicious flagged dangerous | benign false alarms | invalid reported | crashes | "
                     "errors on valid files | time (s) | time ÷ picklescan's |")
        lines.append("|---|---|---|---|---|---|---|---|")
        for tool, t in data["tools"].items():
            s = t["score"]
            ratio = t.get("time_vs_picklescan")
            ratio_s = f"{ratio:.2f}×" if ratio else "–"
            med = t["time"].get("median_s")
            aborts = " (run aborts)" if t["whole_run_crashed"] else ""
            lines.append(
                f"| {tool} | {s['detected']}/{s['malicious']} | {s['false_alarms']}/{s['benign']} | "
                f"{s['invalid_reported']}/{s['invalid']} | {s['crashes']}{aborts} | {s['errors_on_valid_files']} | "
                f"{med if med is not None else '–'} | {ratio_s} |")
        lines.append("")
        if set_name == "corpus":
            tools = list(data["tools"])
            lines.append("Malicious files flagged dangerous, by format:")
            lines.append("")
            lines.append("| format | " + " | ".join(tools) + " |")
            lines.append("|---|" + "---|" * len(tools))
            for fmt, cell in sorted(data["detected_by_format"].items()):
                lines.append(f"| {fmt} | " + " | ".join(f"{cell[t][0]}/{cell[t][1]}" for t in tools) + " |")
            lines.append("")
        if "anzhi" in data["tools"] and set_name != "bulk":
            fails = data["tools"]["anzhi"]["failures"]
            for key, title in (("missed_malicious", "anzhi misses"), ("false_alarms", "anzhi false alarms"),
                               ("invalid_not_reported", "invalid files anzhi did not report as invalid"),
                               ("crashes", "anzhi crashes"),
                               ("benign_review", "benign files anzhi marks review (informational, not a false alarm)")):
                if fails[key]:
                    lines.append(f"{title}: " + ", ".join(f"`{f['path']}` ({f['verdict']})" for f in fails[key]))
                    lines.append("")
    lines.append("Notes: the corpus labels the two safetensors files with overlapping / out-of-bounds tensor offsets "
                 "invalid (safetensors carries no code; the reference loader refuses both). Tools only see what "
                 "they read: picklescan's directory walk "
                 "skips files by extension (.npy, .txt, .json, .gguf, .onnx, .h5, .keras, .tar ...), modelscan "
                 "skips unknown extensions, fickling reads raw pickles only. Whole-command times include each "
                 "tool's start-up (Python, imports).")
    lines.append("")
    lines.append("Mappings: anzhi `dangerous` verdict; picklescan `dangerous import`; modelscan any issue "
                 "(any severity); fickling exit 1 (severity above LIKELY_SAFE). `modelscan-notf` is modelscan "
                 "without TensorFlow (its .keras scanner then reports a dependency error); `fickling-lib` drives "
                 "fickling's library like its Hugging Face scan (zip members and raw pickles) in one process, "
                 "`fickling` runs its CLI once per file. Details, versions and per-file verdicts: "
                 "`benchmarks/results/model_scan.json`.")
    lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_fickling_lib"]:
        return fickling_lib_driver(Path(argv[1]), Path(argv[2]))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    p_setup = sub.add_parser("setup", help="create the benchmark virtualenvs")
    p_setup.add_argument("--venvs", type=Path, default=DEFAULT_VENVS)
    p_run = sub.add_parser("run", help="run the comparison (default)")
    p_run.add_argument("--venvs", type=Path, default=DEFAULT_VENVS)
    p_run.add_argument("--anzhi", default=str(ROOT / ".venv" / "bin" / "anzhi"))
    p_run.add_argument("--datasets", type=Path,
                       default=Path(os.environ.get("ANZHI_DATASETS", ROOT.parent / "shared" / "datasets")))
    p_run.add_argument("--corpus", type=Path, default=HERE / ".corpus",
                       help="corpus folder (generated with --seed if it has no labels.csv; git-ignored by default)")
    p_run.add_argument("--seed", type=int, default=7)
    p_run.add_argument("--regenerate", action="store_true", help="regenerate the corpus even if it exists")
    p_run.add_argument("--repeats", type=int, default=5)
    p_run.add_argument("--fickling-repeats", type=int, default=None,
                       help="timed passes for the per-file fickling loop (default: --repeats)")
    p_run.add_argument("--tools", default="anzhi,picklescan,modelscan,modelscan-notf,fickling,fickling-lib")
    p_run.add_argument("--sets", default="fixtures,corpus,bulk,checkpoints")
    p_run.add_argument("--checkpoints", type=int, default=16,
                       help="how many torch checkpoints the 'checkpoints' set holds")
    p_run.add_argument("--checkpoint-tools", default="anzhi,picklescan,fickling-lib",
                       help="tools timed on the checkpoints set (modelscan took over 5 minutes per pass here)")
    p_run.add_argument("--bulk-copies", type=int, default=20,
                       help="the 'bulk' set is this many hard-linked copies of the corpus (throughput)")
    p_run.add_argument("--bulk-tools", default="anzhi,picklescan,modelscan,modelscan-notf,fickling-lib",
                       help="tools timed on the bulk set (the per-file fickling CLI loop is left out by default)")
    p_run.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args(argv if argv and argv[0] in ("setup", "run", "-h", "--help") else ["run", *argv])
    if args.command == "setup":
        return setup(args.venvs)

    tools_py = str(args.venvs / "tools" / "bin" / "python")
    bins = {
        "picklescan": str(args.venvs / "tools" / "bin" / "picklescan"),
        "fickling": str(args.venvs / "tools" / "bin" / "fickling"),
        "modelscan": str(args.venvs / "modelscan-tf" / "bin" / "modelscan"),
        "modelscan-notf": str(args.venvs / "modelscan" / "bin" / "modelscan"),
    }
    wanted = [t.strip() for t in args.tools.split(",") if t.strip()]
    for tool in wanted:
        binary = args.anzhi if tool == "anzhi" else (tools_py if tool == "fickling-lib" else bins[tool])
        if not Path(binary).exists():
            parser.error(f"{tool}: {binary} not found (run `python benchmarks/model_scan.py setup` first)")

    sets: dict[str, tuple[Path, str]] = {}
    for name in [s.strip() for s in args.sets.split(",") if s.strip()]:
        if name == "fixtures":
            path = args.datasets / "pickle-fixtures"
            if not (path / "labels.csv").exists():
                print(f"skipping fixtures: {path}/labels.csv not found (set ANZHI_DATASETS)", file=sys.stderr)
                continue
            sets[name] = (path, "../shared/datasets/pickle-fixtures (picklescan + modelscan test data)")
        elif name == "corpus":
            if args.regenerate or not (args.corpus / "labels.csv").exists():
                subprocess.run([tools_py, str(HERE / "model_corpus.py"), str(args.corpus), "--seed", str(args.seed),
                                "--force"], check=True)
            sets[name] = (args.corpus.resolve(), f"generated by benchmarks/model_corpus.py --seed {args.seed}")
        elif name == "checkpoints":
            target = args.corpus.parent / ".checkpoints"
            if args.regenerate or not (target / "labels.csv").exists():
                subprocess.run([tools_py, "-c", CHECKPOINTS_SCRIPT, str(target), str(args.checkpoints)], check=True)
            sets[name] = (target.resolve(), f"{args.checkpoints} benign torch.save checkpoints of 8,000 tensors each "
                                            "(large pickles: walking opcodes dominates, not start-up)")
        elif name == "bulk":
            if "corpus" not in sets:
                parser.error("the bulk set is built from the corpus: add 'corpus' to --sets")
            sets[name] = (Path(), f"{args.bulk_copies} hard-linked copies of the corpus, for throughput")

    result: dict[str, Any] = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "repeats": args.repeats,
        "seed": args.seed,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "load_average_at_start": [round(x, 2) for x in os.getloadavg()]},
        "versions": {
            "anzhi": version_of(python_of(args.anzhi), ["anzhi"]),
            "tools venv": version_of(tools_py, ["picklescan", "py7zr", "fickling", "torch", "numpy", "scikit-learn",
                                                "joblib", "safetensors", "onnx", "gguf", "h5py", "protobuf"]),
            "modelscan venv (modelscan-notf)": version_of(python_of(bins["modelscan-notf"]),
                                                          ["modelscan", "numpy", "h5py"]),
            "modelscan-tf venv (modelscan)": version_of(python_of(bins["modelscan"]),
                                                        ["modelscan", "numpy", "h5py", "tensorflow-cpu", "keras"]),
        },
        "mapping": {
            "anzhi": "verdict dangerous (review is not counted as a detection)",
            "picklescan": "a 'dangerous import' line for the file (exit 1); no per-file suspicious output",
            "modelscan": "any issue for the file, any severity; alt_mapping: severity HIGH or CRITICAL",
            "modelscan-notf": "same as modelscan, without TensorFlow installed",
            "fickling": "CLI exit 1 (severity > LIKELY_SAFE); exit 2 = invalid; alt_mapping: >= LIKELY_UNSAFE",
            "fickling-lib": "max analysed severity > LIKELY_SAFE; parse errors only = invalid; alt: >= LIKELY_UNSAFE",
        },
        "sets": {},
    }
    bulk_tmp = tempfile.TemporaryDirectory(prefix="anzhi-model-bulk-")
    for set_name, (root, description) in sets.items():
        kind = "fixtures" if set_name == "fixtures" else "corpus"
        set_tools = wanted
        if set_name == "bulk":
            root = make_bulk(sets["corpus"][0], Path(bulk_tmp.name) / "bulk", args.bulk_copies)
            set_tools = [t for t in wanted if t in args.bulk_tools.split(",")]
        if set_name == "checkpoints":
            set_tools = [t for t in wanted if t in args.checkpoint_tools.split(",")]
        labels = load_labels(root, kind)
        counts = {k: sum(lab.label == k for lab in labels.values()) for k in ("malicious", "benign", "invalid")}
        print(f"== {set_name}: {root} ({counts})", file=sys.stderr)
        runs: dict[str, Run] = {}
        with tempfile.TemporaryDirectory(prefix="anzhi-model-bench-") as tmpdir:
            tmp = Path(tmpdir)
            for tool in set_tools:
                print(f"   {tool} ...", file=sys.stderr, flush=True)
                if tool == "anzhi":
                    runs[tool] = run_anzhi(args.anzhi, root, labels, args.repeats, tmp)
                elif tool == "picklescan":
                    runs[tool] = run_picklescan(bins["picklescan"], root, labels, args.repeats)
                elif tool in ("modelscan", "modelscan-notf"):
                    runs[tool] = run_modelscan(tool, bins[tool], root, labels, args.repeats, tmp)
                elif tool == "fickling":
                    runs[tool] = run_fickling_cli(bins["fickling"], root, labels,
                                                  args.fickling_repeats or args.repeats, tmp)
                elif tool == "fickling-lib":
                    runs[tool] = run_fickling_lib(tools_py, root, labels, args.repeats, tmp)
            print("   timing ...", file=sys.stderr, flush=True)
            time_interleaved(list(runs.values()))
        base = statistics.median(runs["picklescan"].times) if "picklescan" in runs else None
        tools_out = {}
        for tool, run in runs.items():
            med = statistics.median(run.times) if run.times else None
            tools_out[tool] = {
                "command": run.command,
                "score": score(run, labels),
                "alt_mapping_score": score(run, labels, alt=True) if run.alt else None,
                "time": timing(run),
                "time_vs_picklescan": round(med / base, 3) if med and base else None,
                "speedup_over_picklescan": round(base / med, 2) if med and base else None,
                "whole_run_crashed": run.whole_run_crashed,
                "exit_codes": run.exit_codes,
                "notes": run.notes,
                "failures": failures(run, labels),
            }
        per_file = []
        for path, lab in sorted(labels.items()):
            verdicts = {tool: run.verdicts.get(path, "skipped") for tool, run in runs.items()}
            per_file.append({"path": path, "label": lab.label, "format": lab.format, "technique": lab.technique,
                             "verdicts": verdicts})
        disagreements = [
            row for row in per_file
            if any((row["label"] == "malicious" and v != "dangerous") or (row["label"] == "benign" and v == "dangerous")
                   or (row["label"] == "invalid" and v not in ("invalid", "error")) for v in row["verdicts"].values())
        ]
        unlabelled = {tool: {p: v for p, v in run.verdicts.items() if p not in labels and v == "dangerous"}
                      for tool, run in runs.items()}
        by_format: dict[str, dict[str, list[int]]] = {}
        for row in per_file:
            if row["label"] != "malicious":
                continue
            cell = by_format.setdefault(row["format"] or "?", {})
            for tool, verdict in row["verdicts"].items():
                pair = cell.setdefault(tool, [0, 0])
                pair[0] += verdict == "dangerous"
                pair[1] += 1
        result["sets"][set_name] = {
            "path": str(root) if set_name != "bulk" else f"(temporary) {args.bulk_copies} x corpus",
            "files_in_folder": len(all_files(root)),
            "detected_by_format": by_format,
            "description": description,
            "labels": counts,
            "tools": tools_out,
            "disagreements": disagreements,
            "per_file": per_file,
            "unlabelled_flagged": {k: v for k, v in unlabelled.items() if v},
        }
        if set_name == "bulk":  # the same files as the corpus, N times: keep the scores and times only
            data = result["sets"][set_name]
            data["per_file"], data["disagreements"] = "(see corpus)", "(see corpus)"
            for tool_data in data["tools"].values():
                tool_data["failures"] = {k: len(v) for k, v in tool_data["failures"].items()}
    bulk_tmp.cleanup()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "model_scan.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    md = markdown(result)
    (args.out / "model_scan.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
