"""Zip and tar containers: member checks (slip, links, devices, bombs, duplicates), nesting, lenient reading."""

from __future__ import annotations

import dataclasses
import io
import stat
import struct
import tarfile
import zipfile
from pathlib import Path

import pytest

from anzhi.develop.models import FileResult, ModelFormat, ScanLimits, Verdict, scan_file

README = b"# a model card, not a model\n"


def rule_ids(result: FileResult) -> list[str]:
    return [r.rule_id for item in result.walk() for r in item.reasons]


def make_zip(path: Path, members: dict[str, bytes], *, compression: int = zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def tar_info(name: str, data: bytes = b"", **fields: object) -> tuple[tarfile.TarInfo, io.BytesIO | None]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for key, value in fields.items():
        setattr(info, key, value)
    return info, (io.BytesIO(data) if data else None)


def make_tar(path: Path, members: list[tuple[tarfile.TarInfo, io.BytesIO | None]], mode: str = "w") -> Path:
    with tarfile.open(path, mode) as archive:  # type: ignore[call-overload]
        for info, data in members:
            archive.addfile(info, data)
    return path


# -- zip ---------------------------------------------------------------------------------------------------------


def test_plain_zip_members_scanned_by_content(tmp_path: Path) -> None:
    inner = zip_bytes({"notes.txt": README})
    result = scan_file(make_zip(tmp_path / "weights.bin", {"README.md": README, "nested.dat": inner}))
    assert result.format is ModelFormat.ZIP
    assert result.verdict is Verdict.CLEAN, rule_ids(result)
    formats = {m.path.rsplit("!", 1)[-1]: m.format for m in result.members}
    assert formats == {"README.md": ModelFormat.UNKNOWN, "nested.dat": ModelFormat.ZIP}
    nested = next(m for m in result.members if m.format is ModelFormat.ZIP)
    assert nested.path.endswith("weights.bin!nested.dat")
    assert [m.path.rsplit("!", 1)[-1] for m in nested.members] == ["notes.txt"]
    assert all(m.sha256 and len(m.sha256) == 64 for m in result.walk())


def test_zip_slip_absolute_and_link(tmp_path: Path) -> None:
    path = tmp_path / "slip.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("../../etc/cron.d/x", b"* * * * * root true\n")
        archive.writestr("/abs/path", b"x")
        link = zipfile.ZipInfo("link")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    result = scan_file(path)
    ids = rule_ids(result)
    assert ids.count("MODEL-480") == 2 and "MODEL-481" in ids
    assert result.verdict is Verdict.DANGEROUS


def test_zip_bomb_by_ratio(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "bomb.zip", {"zeros.bin": bytes(12 * 1024 * 1024)}, compression=zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < 100_000
    result = scan_file(path, limits=dataclasses.replace(ScanLimits(), max_member_bytes=1024 * 1024))
    ids = rule_ids(result)
    assert "MODEL-482" in ids  # ratio flagged from the declared sizes ...
    assert result.members == []  # ... and the member is never expanded
    assert result.verdict is Verdict.DANGEROUS


def test_zip_too_many_members(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "many.zip", {f"f{i}.txt": b"x" for i in range(30)})
    result = scan_file(path, limits=dataclasses.replace(ScanLimits(), max_members=10))
    assert "MODEL-482" in rule_ids(result)
    assert len(result.members) == 10


def test_zip_duplicate_member_names(tmp_path: Path) -> None:
    path = tmp_path / "dup.zip"
    with zipfile.ZipFile(path, "w") as archive, pytest.warns(UserWarning, match="Duplicate name"):
        archive.writestr("a.txt", b"one")
        archive.writestr("a.txt", b"two")
    result = scan_file(path)
    assert "MODEL-488" in rule_ids(result) and len(result.members) == 2


def test_nested_zips_stop_at_max_depth(tmp_path: Path) -> None:
    data = zip_bytes({"core.txt": README})
    for level in range(5):
        data = zip_bytes({f"level{level}.zip": data})
    path = tmp_path / "deep.zip"
    path.write_bytes(data)
    deep = scan_file(path, limits=dataclasses.replace(ScanLimits(), max_depth=3))
    assert rule_ids(deep) == ["MODEL-484"]
    assert deep.verdict is Verdict.REVIEW
    depth = 0
    node = deep
    while node.members:
        node, depth = node.members[0], depth + 1
    assert depth == 3 and node.format is ModelFormat.ZIP and node.reasons[0].rule_id == "MODEL-484"
    assert scan_file(path, limits=dataclasses.replace(ScanLimits(), max_depth=10)).verdict is Verdict.CLEAN
    top_only = scan_file(path, limits=dataclasses.replace(ScanLimits(), max_depth=0))
    assert rule_ids(top_only) == ["MODEL-484"] and not top_only.members


def _patch_flags(data: bytes, flags: int) -> bytes:
    """Set the general-purpose flags of the first local header and its central-directory entry."""
    patched = bytearray(data)
    patched[6:8] = struct.pack("<H", flags)
    central = patched.find(b"PK\x01\x02")
    patched[central + 8 : central + 10] = struct.pack("<H", flags)
    return bytes(patched)


def test_member_flagged_encrypted_but_stored_in_clear_is_read(tmp_path: Path) -> None:
    inner = zip_bytes({"x.txt": README})
    path = tmp_path / "flag.zip"
    path.write_bytes(_patch_flags(zip_bytes({"model/inner.zip": inner}), 0x1))
    result = scan_file(path)
    ids = rule_ids(result)
    assert "MODEL-486" in ids  # headers lie: the "encrypted" member is in clear
    assert [m.format for m in result.members] == [ModelFormat.ZIP]


def test_really_encrypted_member_is_only_reported(tmp_path: Path) -> None:
    path = tmp_path / "enc.zip"
    data = bytearray(zip_bytes({"secret.bin": bytes(range(256)) * 4}))
    start = 30 + len("secret.bin")
    data[start : start + 1024] = bytes((b * 7 + 13) % 256 for b in data[start : start + 1024])  # "ciphertext"
    path.write_bytes(_patch_flags(bytes(data), 0x1))
    result = scan_file(path)
    assert rule_ids(result).count("MODEL-483") == 1
    assert result.verdict is Verdict.REVIEW and not result.members


def test_crc_mismatch_and_name_mismatch_are_inconsistent(tmp_path: Path) -> None:
    inner = zip_bytes({"x.txt": README})
    good = bytearray(zip_bytes({"data.zip": inner}))
    crc_at = 14
    good[crc_at : crc_at + 4] = b"\0\0\0\0"
    central = good.find(b"PK\x01\x02")
    good[central + 16 : central + 20] = b"\0\0\0\0"
    (tmp_path / "crc.zip").write_bytes(bytes(good))
    crc = scan_file(tmp_path / "crc.zip")
    assert "MODEL-486" in rule_ids(crc) and [m.format for m in crc.members] == [ModelFormat.ZIP]

    renamed = bytearray(zip_bytes({"data.zip": inner}))
    renamed[30:38] = b"datz.zip"  # local header name only
    (tmp_path / "name.zip").write_bytes(bytes(renamed))
    name = scan_file(tmp_path / "name.zip")
    assert any("local header names 'datz.zip'" in r.message for r in name.reasons)


def test_central_directory_missing_recovers_from_local_headers(tmp_path: Path) -> None:
    data = zip_bytes({"b.txt": README, "a.txt": README})
    eocd = data.rfind(b"PK\x05\x06")
    (central_offset,) = struct.unpack("<I", data[eocd + 16 : eocd + 20])
    truncated = data[:central_offset]
    path = tmp_path / "noCD.zip"
    path.write_bytes(truncated)
    result = scan_file(path)
    assert result.format is ModelFormat.ZIP
    assert "MODEL-486" in rule_ids(result)
    assert sorted(m.path.rsplit("!", 1)[-1] for m in result.members) == ["a.txt", "b.txt"]


def test_members_hidden_from_the_central_directory_are_scanned(tmp_path: Path) -> None:
    # The stored last member is itself a zip, and the outer directory is cut: a central-directory reader sees the
    # inner archive's listing, a streaming reader sees the outer members. Both views are scanned.
    data = zip_bytes({"a.txt": README, "b.zip": zip_bytes({"c.txt": README})})
    eocd = data.rfind(b"PK\x05\x06")
    (central_offset,) = struct.unpack("<I", data[eocd + 16 : eocd + 20])
    path = tmp_path / "two-views.zip"
    path.write_bytes(data[:central_offset])
    result = scan_file(path)
    assert any("no central directory entry" in r.message for r in result.reasons)
    assert {"a.txt", "b.zip", "c.txt"} <= {m.path.rsplit("!", 1)[-1] for m in result.walk()}


def test_truncated_zip_without_members_is_malformed(tmp_path: Path) -> None:
    path = tmp_path / "cut.zip"
    path.write_bytes(zip_bytes({"a.txt": README * 50})[:40])
    result = scan_file(path)
    assert result.format is ModelFormat.ZIP and result.verdict is Verdict.INVALID
    assert rule_ids(result) == ["MODEL-492"]


# -- tar ---------------------------------------------------------------------------------------------------------


def test_tar_member_checks(tmp_path: Path) -> None:
    members = [
        tar_info("ok/readme.md", README),
        tar_info("/etc/evil", b"x"),
        tar_info("a/../../up", b"x"),
        tar_info("lnk", type=tarfile.SYMTYPE, linkname="../../../etc/passwd"),
        tar_info("inside", type=tarfile.SYMTYPE, linkname="ok/readme.md"),
        tar_info("hard", type=tarfile.LNKTYPE, linkname="/etc/shadow"),
        tar_info("dev", type=tarfile.CHRTYPE, devmajor=1, devminor=3),
        tar_info("fifo", type=tarfile.FIFOTYPE),
        tar_info("suid", b"#!/bin/sh\n", mode=0o4755),
        tar_info("ok/readme.md", README),
    ]
    result = scan_file(make_tar(tmp_path / "t.tar", members))
    assert result.format is ModelFormat.TAR
    ids = rule_ids(result)
    assert ids.count("MODEL-480") == 2
    assert ids.count("MODEL-481") == 3  # every link
    assert ids.count("MODEL-487") == 2  # the two that leave the tree
    assert ids.count("MODEL-485") == 3  # device, FIFO, set-uid
    assert ids.count("MODEL-488") == 1
    assert result.verdict is Verdict.DANGEROUS
    assert result.metadata["members"] == 10


@pytest.mark.parametrize("mode", ["w:gz", "w:bz2", "w:xz"])
def test_compressed_tar_members_scanned(tmp_path: Path, mode: str) -> None:
    inner = zip_bytes({"x.txt": README})
    result = scan_file(make_tar(tmp_path / "model.bin", [tar_info("w/inner.zip", inner)], mode))
    assert result.format is ModelFormat.TAR
    assert [m.format for m in result.members] == [ModelFormat.ZIP]
    assert result.verdict is Verdict.CLEAN, rule_ids(result)


def test_gzip_tar_bomb_stops_at_budget(tmp_path: Path) -> None:
    path = make_tar(tmp_path / "bomb.tgz", [tar_info("zeros", bytes(20 * 1024 * 1024))], "w:gz")
    limits = dataclasses.replace(ScanLimits(), max_total_uncompressed=4 * 1024 * 1024)
    result = scan_file(path, limits=limits)
    assert "MODEL-482" in rule_ids(result) and result.verdict is Verdict.DANGEROUS
    ratio = scan_file(path)
    assert "MODEL-482" in rule_ids(ratio)  # 20 MiB from a few kB: the ratio alone says bomb


def test_tar_member_over_size_limit_not_read(tmp_path: Path) -> None:
    path = make_tar(tmp_path / "big.tar", [tar_info("big.bin", bytes(200_000)), tar_info("small", README)])
    result = scan_file(path, limits=dataclasses.replace(ScanLimits(), max_member_bytes=100_000))
    assert "MODEL-493" in rule_ids(result)
    assert [m.path.rsplit("!", 1)[-1] for m in result.members] == ["small"]


def test_truncated_tar_is_malformed_but_keeps_what_it_read(tmp_path: Path) -> None:
    path = make_tar(tmp_path / "t.tar", [tar_info("a.txt", README), tar_info("b.bin", bytes(5000))])
    data = path.read_bytes()
    path.write_bytes(data[:1536 + 1000])  # header of b.bin and part of its data
    result = scan_file(path)
    assert result.format is ModelFormat.TAR
    assert "MODEL-492" in rule_ids(result) and result.verdict is Verdict.INVALID
    assert result.members[0].path.endswith("!a.txt")


def test_v7_tar_without_magic_is_detected(tmp_path: Path) -> None:
    path = make_tar(tmp_path / "old", [tar_info("a.txt", README)], "w")
    data = bytearray(path.read_bytes())
    data[257:265] = bytes(8)  # no ustar magic
    header = data[:512]
    header[148:156] = b" " * 8
    checksum = sum(header)
    data[148:156] = f"{checksum:06o}\0 ".encode()
    path.write_bytes(bytes(data))
    assert scan_file(path).format is ModelFormat.TAR
