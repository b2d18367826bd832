"""``scan_paths``: folders, links, unreadable and special files, SavedModel folders, errors, order, parallelism."""

from __future__ import annotations

import dataclasses
import io
import os
import time
import zipfile
from pathlib import Path

import pytest

from anzhi.develop.models import (
    ANALYZERS,
    Analysis,
    FileResult,
    ModelFormat,
    ScanContext,
    ScanLimits,
    Source,
    Verdict,
    _scanner,
    scan_bytes,
    scan_file,
    scan_paths,
)
from anzhi.errors import InputError

README = b"# model card\n"
UNKNOWN = b"\x00\x01\x02 binary content of no model format"


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def by_name(results: list[FileResult]) -> dict[str, FileResult]:
    return {Path(r.path).name: r for r in results}


def ids(result: FileResult) -> list[str]:
    return [r.rule_id for item in result.walk() for r in item.reasons]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "model"
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "unknown.bin").write_bytes(UNKNOWN)
    (root / "archive.pt").write_bytes(zip_bytes({"notes.txt": README}))
    (root / "sub" / "slip.zip").write_bytes(zip_bytes({"../../x": b"x"}))
    (root / "sub" / "deeper" / "empty.bin").write_bytes(b"")
    return root


def test_folder_scanned_recursively_sorted_with_a_result_per_file(tree: Path) -> None:
    report = scan_paths([tree], jobs=1)
    paths = [r.path for r in report.results]
    assert paths == sorted(paths)
    assert [Path(p).relative_to(tree).as_posix() for p in paths] == [
        "archive.pt", "sub/deeper/empty.bin", "sub/slip.zip", "unknown.bin"]
    results = by_name(report.results)
    assert results["unknown.bin"].format is ModelFormat.UNKNOWN and ids(results["unknown.bin"]) == ["MODEL-491"]
    assert results["empty.bin"].reasons[0].message == "empty file"
    assert results["archive.pt"].format is ModelFormat.ZIP and results["archive.pt"].verdict is Verdict.CLEAN
    assert results["slip.zip"].verdict is Verdict.DANGEROUS
    assert report.counts() == {"dangerous": 1, "invalid": 2, "review": 0, "clean": 1}
    for result in report.results:
        assert result.sha256 is not None and len(result.sha256) == 64
        assert result.elapsed_ms >= 0
    assert report.scanner_version and report.started_at.endswith("+00:00") and report.elapsed_s >= 0


def test_named_file_and_folder_together_deduplicated(tree: Path) -> None:
    report = scan_paths([tree, tree / "unknown.bin", str(tree / "unknown.bin")], jobs=1)
    assert len(report.results) == 4  # the named file is the folder's, spelt the same way: scanned once


def test_missing_path_raises_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"no such file or folder: .*nope"):
        scan_paths([tmp_path, tmp_path / "nope"])
    with pytest.raises(InputError, match="jobs"):
        scan_paths([tmp_path], jobs=0)


def test_empty_folder_gives_an_empty_report(tmp_path: Path) -> None:
    assert scan_paths([tmp_path], jobs=1).results == []


def test_symlinks_not_followed_by_default_and_loops_never_hang(tree: Path) -> None:
    (tree / "loop").symlink_to(tree)  # a link to an ancestor
    (tree / "sub" / "to_archive").symlink_to(tree / "archive.pt")
    (tree / "dangling").symlink_to(tree / "does-not-exist")
    report = scan_paths([tree], jobs=1)
    results = by_name(report.results)
    for name in ("loop", "to_archive", "dangling"):
        assert ids(results[name]) == ["MODEL-494"], name
        assert results[name].verdict is Verdict.REVIEW
    assert results["to_archive"].reasons[0].detail["target"].endswith("archive.pt")

    followed = scan_paths([tree], jobs=1, follow_symlinks=True)
    names = by_name(followed.results)
    assert names["to_archive"].format is ModelFormat.ZIP  # a link to a file is scanned as the file
    assert "a loop" in names["loop"].reasons[0].message
    assert names["dangling"].reasons[0].rule_id == "MODEL-490"


def test_named_symlink_is_followed(tree: Path, tmp_path: Path) -> None:
    link = tmp_path / "link.bin"
    link.symlink_to(tree / "archive.pt")
    (result,) = scan_paths([link], jobs=1).results
    assert result.format is ModelFormat.ZIP and result.path == str(link)
    broken = tmp_path / "broken"
    broken.symlink_to(tmp_path / "gone")
    (bad,) = scan_paths([broken], jobs=1).results
    assert bad.reasons[0].rule_id == "MODEL-490" and "broken" in bad.reasons[0].message


def test_unreadable_file_is_reported_and_the_scan_goes_on(tree: Path) -> None:
    locked = tree / "locked.bin"
    locked.write_bytes(b"secret")
    locked.chmod(0)
    try:
        if os.access(locked, os.R_OK):
            pytest.skip("running as root: permissions do not stop reads")
        report = scan_paths([tree], jobs=1)
        result = by_name(report.results)["locked.bin"]
        assert ids(result) == ["MODEL-490"] and result.verdict is Verdict.INVALID
        assert len(report.results) == 5
    finally:
        locked.chmod(0o600)


def test_unreadable_file_even_as_root(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Root reads through chmod 000, so the refusal is simulated where the scanner opens files.
    real_open = _scanner.FileSource.open

    def refuse(self: _scanner.FileSource) -> io.BufferedReader:  # type: ignore[name-defined]
        if self.path.name == "archive.pt":
            raise PermissionError(13, "Permission denied")
        return real_open(self)  # type: ignore[return-value]

    monkeypatch.setattr(_scanner.FileSource, "open", refuse)
    report = scan_paths([tree], jobs=1)
    result = by_name(report.results)["archive.pt"]
    assert ids(result) == ["MODEL-490"] and "Permission denied" in result.reasons[0].message
    assert result.verdict is Verdict.INVALID and len(report.results) == 4


def test_unreadable_folder_is_reported(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_scandir = os.scandir

    def refuse(path: str) -> object:
        if Path(path).name == "sub":
            raise PermissionError(13, "Permission denied", path)
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", refuse)
    result = by_name(scan_paths([tree], jobs=1).results)["sub"]
    assert result.format is ModelFormat.DIRECTORY and ids(result) == ["MODEL-490"]
    assert "cannot list folder" in result.reasons[0].message


def test_read_errors_during_analysis_are_unreadable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "a.zip"
    path.write_bytes(zip_bytes({"a.txt": README}))

    def failing(source: Source, ctx: ScanContext) -> Analysis:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setitem(ANALYZERS, ModelFormat.ZIP, failing)
    result = scan_file(path)
    assert ids(result) == ["MODEL-490"] and "Permission denied" in result.reasons[0].message


def test_fifo_is_not_opened(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    started = time.monotonic()
    report = scan_paths([tmp_path], jobs=1)
    assert time.monotonic() - started < 5
    (result,) = report.results
    assert ids(result) == ["MODEL-490"] and "FIFO" in result.reasons[0].message
    assert ids(scan_file(fifo)) == ["MODEL-490"]
    (named,) = scan_paths([fifo], jobs=1).results
    assert ids(named) == ["MODEL-490"]


def test_analyser_exception_becomes_malformed_and_the_scan_goes_on(tree: Path, monkeypatch: pytest.MonkeyPatch
                                                                    ) -> None:
    def boom(source: Source, ctx: ScanContext) -> Analysis:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setitem(ANALYZERS, ModelFormat.ZIP, boom)
    report = scan_paths([tree], jobs=1)
    results = by_name(report.results)
    broken = results["archive.pt"]
    assert ids(broken) == ["MODEL-492"] and broken.verdict is Verdict.INVALID
    assert broken.reasons[0].detail == {"exception": "RecursionError"}
    assert "RecursionError" in broken.reasons[0].message
    assert len(report.results) == 4


def test_member_analyser_exception_stays_with_the_member(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from anzhi.develop.models import _archive

    def boom(source: Source, ctx: ScanContext) -> Analysis:
        raise ValueError("bad member")

    monkeypatch.setitem(ANALYZERS, ModelFormat.ZIP, _archive.analyse_zip)
    monkeypatch.setitem(ANALYZERS, ModelFormat.TAR, boom)
    import tarfile

    inner = io.BytesIO()
    with tarfile.open(fileobj=inner, mode="w") as archive:
        info = tarfile.TarInfo("x")
        info.size = 1
        archive.addfile(info, io.BytesIO(b"x"))
    path = tmp_path / "outer.zip"
    path.write_bytes(zip_bytes({"inner.tar": inner.getvalue(), "b.txt": README}))
    result = scan_file(path)
    assert result.reasons == []
    member = result.members[0]
    assert member.format is ModelFormat.TAR and ids(member) == ["MODEL-492"]
    assert len(result.members) == 2


def test_time_budget_stops_archive_members(tmp_path: Path) -> None:
    path = tmp_path / "many.zip"
    path.write_bytes(zip_bytes({f"{i}.txt": README for i in range(20)}))
    result = scan_file(path, limits=dataclasses.replace(ScanLimits(), seconds_per_file=0.0))
    assert "MODEL-493" in ids(result) and len(result.members) < 20
    assert result.verdict is Verdict.REVIEW


def test_savedmodel_folder_pb_scanned_as_savedmodel(tmp_path: Path) -> None:
    root = tmp_path / "exported"
    (root / "variables").mkdir(parents=True)
    (root / "saved_model.pb").write_bytes(b"\x08\x01\x12\x00")
    (root / "variables" / "variables.index").write_bytes(b"\x00\x01\x02 not a model format")
    (root / "variables" / "variables.data-00000-of-00001").write_bytes(os.urandom(64))
    (root / "fingerprint.pb").write_bytes(b"\x08\x01")
    results = by_name(scan_paths([root], jobs=1).results)
    assert results["saved_model.pb"].format is ModelFormat.SAVEDMODEL
    for shard in ("variables.index", "variables.data-00000-of-00001"):
        assert results[shard].reasons == [] and results[shard].verdict is Verdict.CLEAN, shard
    assert "fingerprint.pb" in results


def test_scan_bytes_and_forced_format() -> None:
    result = scan_bytes(zip_bytes({"a.txt": README}), name="mem.zip")
    assert result.path == "mem.zip" and result.format is ModelFormat.ZIP and result.sha256
    forced = scan_bytes(b"not a zip at all", format=ModelFormat.ZIP)
    assert forced.format is ModelFormat.ZIP and ids(forced) == ["MODEL-492"]


def test_parallel_scan_matches_in_process(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for index in range(12):
        (tree / f"copy{index}.zip").write_bytes(zip_bytes({"../up": b"x", "a.txt": README * index}))
    serial = scan_paths([tree], jobs=1)
    monkeypatch.setattr(_scanner, "_POOL_WORTH_SECONDS", {"fork": 0.0, "forkserver": 0.0, "spawn": 0.0})
    calls: list[int] = []
    real_pool = _scanner._run_pool

    def spy(*args: object, **kwargs: object) -> list[FileResult]:
        calls.append(1)
        return real_pool(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(_scanner, "_run_pool", spy)
    parallel = scan_paths([tree], jobs=2)
    assert calls == [1]

    def strip(report_results: list[FileResult]) -> list[tuple[str, str, str | None, list[str]]]:
        return [(r.path, r.verdict.value, r.sha256, ids(r)) for r in report_results]

    assert strip(parallel.results) == strip(serial.results)


def test_small_inputs_stay_in_process(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_pool(*args: object, **kwargs: object) -> list[FileResult]:
        raise AssertionError("a pool was started for four small files")

    monkeypatch.setattr(_scanner, "_run_pool", no_pool)
    assert len(scan_paths([tree], jobs=8).results) == 4


def test_a_dead_worker_is_retried_in_process(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_scanner, "_POOL_WORTH_SECONDS", {"fork": 0.0, "forkserver": 0.0, "spawn": 0.0})
    monkeypatch.setattr(_scanner, "_scan_chunk_in_worker", _die_in_worker)
    report = scan_paths([tree], jobs=2)
    assert len(report.results) == 4 and by_name(report.results)["slip.zip"].verdict is Verdict.DANGEROUS


def _die_in_worker(units: list[object], limits: ScanLimits) -> list[FileResult]:
    os._exit(3)


def test_text_companions_of_a_model_are_clean_and_binary_junk_is_invalid(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("---\nlicense: apache-2.0\n---\n# 模型卡\n", encoding="utf-8")
    (tmp_path / "config.json").write_text('{"model_type": "llama"}', encoding="utf-8")
    (tmp_path / "weights.pt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")  # a picture named like a model
    results = {Path(r.path).name: r for r in scan_paths([tmp_path], jobs=1).results}
    assert results["README.md"].verdict is Verdict.CLEAN and results["README.md"].metadata["text"] is True
    assert results["config.json"].verdict is Verdict.CLEAN
    assert results["weights.pt"].verdict is Verdict.INVALID
