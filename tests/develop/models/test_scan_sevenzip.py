"""7z archives: members are checked by name and size, then scanned like any file."""

from __future__ import annotations

import io
from pathlib import Path

import py7zr

from anzhi.develop.models import ModelFormat, ScanLimits, Verdict, scan_file

# GLOBAL 'builtins eval' + a harmless argument + REDUCE + STOP, written by hand (never unpickled here).
EVIL_PICKLE = b"cbuiltins\neval\n(S'1+1'\ntR."


def _seven_zip(path: Path, members: dict[str, bytes]) -> Path:
    with py7zr.SevenZipFile(path, mode="w") as archive:
        for name, data in members.items():
            archive.writef(io.BytesIO(data), name)
    return path


def test_payload_inside_7z_is_found(tmp_path: Path) -> None:
    archive = _seven_zip(tmp_path / "weights.bin", {"model/data.pkl": EVIL_PICKLE, "README": b"hello"})
    result = scan_file(archive)
    assert result.format is ModelFormat.SEVEN_ZIP
    assert result.verdict is Verdict.DANGEROUS
    assert [m.verdict for m in result.members if m.path.endswith("data.pkl")] == [Verdict.DANGEROUS]


def test_oversized_member_is_not_decompressed(tmp_path: Path) -> None:
    archive = _seven_zip(tmp_path / "big.7z", {"zeros.bin": bytes(2_000_000)})
    result = scan_file(archive, limits=ScanLimits(max_member_bytes=1_000_000))
    assert "MODEL-493" in {r.rule_id for r in result.reasons}
    assert result.members == []


def test_truncated_7z_is_invalid(tmp_path: Path) -> None:
    whole = _seven_zip(tmp_path / "w.7z", {"a.pkl": EVIL_PICKLE}).read_bytes()
    broken = tmp_path / "broken.7z"
    broken.write_bytes(whole[:20])
    result = scan_file(broken)
    assert result.verdict is Verdict.INVALID
