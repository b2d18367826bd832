"""Reading zip containers safely (PyTorch zips, .npz, .keras and plain zips all use this).

Nothing is extracted to disk. Members are checked before they are read: names that climb out (``..``, absolute
paths, drive letters), symbolic links, too many members, a total uncompressed size or a compression ratio that
says "bomb". Reading a member is bounded by ``max_member_bytes``.
"""

from __future__ import annotations

import lzma
import stat
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import PurePosixPath

from anzhi.develop.models._result import Reason, Verdict
from anzhi.develop.models._rules import LIMIT_REACHED, MALFORMED, Rule, register_rules
from anzhi.develop.models._source import ScanLimits, Source
from anzhi.findings import Confidence, Severity

__all__ = [
    "ZIP_BOMB",
    "ZIP_LINK",
    "ZIP_TRAVERSAL",
    "ZipProblem",
    "is_bomb_member",
    "member_problems",
    "open_zip",
    "read_member",
]

ZIP_TRAVERSAL = Rule(
    "MODEL-480", "archive member path escapes the archive", Severity.HIGH, Confidence.HIGH, Verdict.DANGEROUS,
    "A member name is absolute or climbs out with '..' (zip-slip). Extracting the archive, as some loaders and "
    "users do, writes outside the target folder and can overwrite code or configuration. Do not extract it; "
    "ask the publisher for a clean archive.", cwe="CWE-22",
)
ZIP_LINK = Rule(
    "MODEL-481", "archive member is a symbolic or hard link", Severity.MEDIUM, Confidence.HIGH, Verdict.REVIEW,
    "A member is stored as a link. Extracted, it can point at any file on the machine and later writes or reads "
    "go through it. Model archives have no need for links.", cwe="CWE-59",
)
ZIP_BOMB = Rule(
    "MODEL-482", "archive is a decompression bomb", Severity.HIGH, Confidence.MEDIUM, Verdict.DANGEROUS,
    "Declared sizes or the compression ratio are far beyond what model files need (an archive that expands to "
    "exhaust memory or disk). Do not extract or load it.", cwe="CWE-409",
)
ZIP_ENCRYPTED = Rule(
    "MODEL-483", "encrypted archive member", Severity.INFO, Confidence.HIGH, Verdict.REVIEW,
    "A member is encrypted, so its content cannot be checked. Loaders cannot read it either without the "
    "password; scan the decrypted content if it is meant to be used.", cwe=None,
)
ZIP_NESTING = Rule(
    "MODEL-484", "archives nested too deeply", Severity.MEDIUM, Confidence.MEDIUM, Verdict.REVIEW,
    "Archives inside archives beyond the configured depth were not opened; deep nesting is a way to hide "
    "payloads from scanners.", cwe="CWE-409",
)

register_rules(ZIP_TRAVERSAL, ZIP_LINK, ZIP_BOMB, ZIP_ENCRYPTED, ZIP_NESTING)


class ZipProblem(Exception):
    """The archive cannot be opened as a zip at all; carries the reason to report."""

    def __init__(self, reason: Reason) -> None:
        super().__init__(reason.message)
        self.reason = reason


@contextmanager
def open_zip(source: Source) -> Iterator[zipfile.ZipFile]:
    """Open a zip from a source, or raise :class:`ZipProblem` with a MODEL-492 reason."""
    stream = source.open()
    try:
        try:
            archive = zipfile.ZipFile(stream)
        except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError) as exc:
            raise ZipProblem(MALFORMED.reason(f"not a readable zip archive: {exc}")) from exc
        with archive:
            yield archive
    finally:
        stream.close()


def _escapes(name: str) -> bool:
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return True
    parts = PurePosixPath(name.replace("\\", "/")).parts
    depth = 0
    for part in parts:
        depth += -1 if part == ".." else (0 if part in (".", "") else 1)
        if depth < 0:
            return True
    return False


def is_bomb_member(info: zipfile.ZipInfo, limits: ScanLimits) -> bool:
    """A member whose declared expansion is far beyond what model files need (over 10 MB at a high ratio)."""
    return (
        info.compress_size > 0
        and info.file_size > 10 * 1024 * 1024
        and info.file_size / info.compress_size > limits.max_compression_ratio
    )


def member_problems(archive: zipfile.ZipFile, limits: ScanLimits) -> list[Reason]:
    """Every structural problem of the archive's member list (names, links, sizes, counts)."""
    reasons: list[Reason] = []
    infos = archive.infolist()
    if len(infos) > limits.max_members:
        reasons.append(ZIP_BOMB.reason(f"{len(infos)} members (limit {limits.max_members})",
                                       detail={"members": len(infos)}))
    total = 0
    for info in infos:
        total += info.file_size
        if _escapes(info.filename):
            reasons.append(ZIP_TRAVERSAL.reason(f"member {info.filename!r} escapes the archive",
                                                location=f"member {info.filename}"))
        mode = info.external_attr >> 16
        if mode and stat.S_ISLNK(mode):
            reasons.append(ZIP_LINK.reason(f"member {info.filename!r} is a symbolic link",
                                           location=f"member {info.filename}"))
        if info.flag_bits & 0x1:
            reasons.append(ZIP_ENCRYPTED.reason(f"member {info.filename!r} is encrypted",
                                                location=f"member {info.filename}"))
        if is_bomb_member(info, limits):
            ratio = info.file_size / info.compress_size
            reasons.append(ZIP_BOMB.reason(
                f"member {info.filename!r} expands {ratio:,.0f}× to {info.file_size:,} bytes",
                location=f"member {info.filename}", detail={"ratio": round(ratio), "size": info.file_size}))
    if total > limits.max_total_uncompressed:
        reasons.append(ZIP_BOMB.reason(f"members declare {total:,} bytes uncompressed "
                                       f"(limit {limits.max_total_uncompressed:,})", detail={"total": total}))
    return reasons


def read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits: ScanLimits) -> bytes | Reason:
    """A member's bytes, or the reason it was not read (too large, encrypted, corrupt).

    Reads at most ``max_member_bytes + 1`` bytes whatever the header claims, so a lying header cannot make the
    scanner allocate more.
    """
    if info.flag_bits & 0x1:
        return ZIP_ENCRYPTED.reason(f"member {info.filename!r} is encrypted", location=f"member {info.filename}")
    if info.file_size > limits.max_member_bytes:
        return LIMIT_REACHED.reason(
            f"member {info.filename!r} is {info.file_size:,} bytes; only members up to "
            f"{limits.max_member_bytes:,} are analysed", location=f"member {info.filename}")
    try:
        with archive.open(info) as member:
            data = member.read(limits.max_member_bytes + 1)
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, EOFError, zlib.error, lzma.LZMAError) as exc:
        return MALFORMED.reason(f"member {info.filename!r} cannot be read: {exc}", location=f"member {info.filename}")
    if len(data) > limits.max_member_bytes:
        return ZIP_BOMB.reason(f"member {info.filename!r} expands past its declared size",
                               location=f"member {info.filename}")
    return data
