"""Plain zip and tar containers: member checks first, then every member scanned like a file of its own.

Zip members go through :mod:`anzhi.develop.models._zipread` (the contract every zip-based format shares). Where
Python's reader refuses a member that other readers accept — a "encrypted" or "patched data" flag on a member
stored in clear, a CRC that does not match, a central directory that disagrees with the local headers — the
member is read leniently from its local header as well, because a loader that ignores those fields would run
it. Tar members are checked for everything extraction can do wrong (absolute or climbing names, links out of
the tree, devices and set-uid files, sizes) and read within the limits; compressed tars are decompressed as a
stream with a byte budget, so a bomb stops at the limit instead of filling memory.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import posixpath
import stat
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol

from anzhi.develop.models._registry import Analysis, ScanContext, analyzer
from anzhi.develop.models._result import FileResult, ModelFormat, Reason, Verdict
from anzhi.develop.models._rules import LIMIT_REACHED, MALFORMED, Rule, register_rules
from anzhi.develop.models._source import BytesSource, ScanLimits, Source
from anzhi.develop.models._zipread import (
    ZIP_BOMB,
    ZIP_ENCRYPTED,
    ZIP_LINK,
    ZIP_TRAVERSAL,
    ZipProblem,
    is_bomb_member,
    member_problems,
    open_zip,
    read_member,
)
from anzhi.findings import Confidence, Severity

__all__ = [
    "ARCHIVE_INCONSISTENT",
    "ARCHIVE_LINK_ESCAPES",
    "ARCHIVE_SPECIAL_MEMBER",
    "DUPLICATE_MEMBER",
    "LocalEntry",
    "analyse_tar",
    "analyse_zip",
    "compressed_tar_head",
    "local_entries",
    "looks_like_tar",
    "read_member_lenient",
]

ARCHIVE_SPECIAL_MEMBER = Rule(
    "MODEL-485", "archive member is a device, FIFO or set-uid file", Severity.MEDIUM, Confidence.HIGH, Verdict.REVIEW,
    "A tar member is a character or block device, a FIFO, or a file with the set-uid / set-gid bit. Extracted as "
    "root, it creates device nodes or privileged programs on the machine; model archives have no use for either. "
    "Extract with a filter that refuses them (Python's tarfile 'data' filter) or get a clean archive.",
    cwe="CWE-732",
)
ARCHIVE_INCONSISTENT = Rule(
    "MODEL-486", "archive headers disagree", Severity.MEDIUM, Confidence.MEDIUM, Verdict.REVIEW,
    "The archive's own records contradict each other: the central directory and the local headers name a member "
    "differently, a CRC does not match, flags claim encryption or patched data for a member stored in clear, or "
    "the central directory is unreadable. Different readers then see different content, the usual trick to get a "
    "payload past a scanner. anzhi scanned what a lenient reader sees; ask the publisher for a clean archive.",
    cwe="CWE-436",
)
ARCHIVE_LINK_ESCAPES = Rule(
    "MODEL-487", "archive link points outside the archive", Severity.HIGH, Confidence.HIGH, Verdict.DANGEROUS,
    "A symbolic or hard link in the archive points at an absolute path or climbs out with '..'. Extracting it "
    "creates a way out of the target folder: members written after it land wherever the link points (the "
    "tar-slip of CVE-2007-4559). Do not extract it; if you must, use Python's tarfile 'data' filter.",
    cwe="CWE-59",
)
DUPLICATE_MEMBER = Rule(
    "MODEL-488", "archive holds the same member name twice", Severity.MEDIUM, Confidence.MEDIUM, Verdict.REVIEW,
    "Two members share a name. Readers disagree on which one wins (the first, the last, or the one extraction "
    "writes last), so a scanner and a loader can see different files. Every copy was scanned.",
    cwe="CWE-436",
)

register_rules(ARCHIVE_SPECIAL_MEMBER, ARCHIVE_INCONSISTENT, ARCHIVE_LINK_ESCAPES, DUPLICATE_MEMBER)

_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")
_LOCAL_SIG = b"PK\x03\x04"
_BOMB_MIN_BYTES = 10 * 1024 * 1024  # ratios only matter once the output is this large
_CHUNK = 1024 * 1024


def _climbs_out(name: str) -> bool:
    """Absolute, drive-lettered, or a path whose '..' parts leave the root."""
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return True
    depth = 0
    for part in name.replace("\\", "/").split("/"):
        if part == "..":
            depth -= 1
            if depth < 0:
                return True
        elif part not in ("", "."):
            depth += 1
    return False


# -- zip ---------------------------------------------------------------------------------------------------------


class _RandomAccess(Protocol):
    @property
    def size(self) -> int: ...

    def read_at(self, offset: int, length: int) -> bytes: ...


class _StreamReader:
    """Random reads over one open stream (a file source opens the file on every ``read_at``)."""

    def __init__(self, stream: BinaryIO, size: int) -> None:
        self._stream = stream
        self.size = size

    def read_at(self, offset: int, length: int) -> bytes:
        if offset < 0 or offset >= self.size or length <= 0:
            return b""
        self._stream.seek(offset)
        return self._stream.read(length)


@dataclass(frozen=True)
class LocalEntry:
    """One member as its local header describes it (used when the central directory cannot be trusted)."""

    name: str
    offset: int
    flags: int
    method: int
    compressed_size: int
    size: int
    data_offset: int


def local_entries(source: _RandomAccess, limits: ScanLimits) -> Iterator[LocalEntry]:
    """Walk the local file headers from the start of the file, as a streaming reader would.

    Stops at the first thing that is not a local header, after ``max_members`` entries, or at a member whose size
    cannot be known without a data descriptor (its compressed length is then found by inflating it).
    """
    offset = 0
    for _ in range(limits.max_members):
        header = source.read_at(offset, _LOCAL_HEADER.size)
        if len(header) < _LOCAL_HEADER.size:
            return
        sig, _ver, flags, method, _t, _d, _crc, csize, usize, nlen, xlen = _LOCAL_HEADER.unpack(header)
        if sig != _LOCAL_SIG:
            return
        raw_name = source.read_at(offset + _LOCAL_HEADER.size, nlen)
        name = raw_name.decode("utf-8" if flags & 0x800 else "cp437", errors="replace")
        data_offset = offset + _LOCAL_HEADER.size + nlen + xlen
        if flags & 0x08 and csize == 0:  # sizes follow the data in a descriptor: only deflate tells its own end
            if method != zipfile.ZIP_DEFLATED:
                return
            csize, usize = _inflate_extent(source, data_offset, limits)
            if csize < 0:
                return
            next_offset = data_offset + csize
            if source.read_at(next_offset, 4) == b"PK\x07\x08":
                next_offset += 16
            else:
                next_offset += 12
        else:
            next_offset = data_offset + csize
        yield LocalEntry(name, offset, flags, method, csize, usize, data_offset)
        if next_offset <= offset or next_offset > source.size:
            return
        offset = next_offset


def _inflate_extent(source: _RandomAccess, start: int, limits: ScanLimits) -> tuple[int, int]:
    """Compressed and uncompressed length of a raw deflate stream at ``start`` (−1 if it does not end in bounds)."""
    inflater = zlib.decompressobj(-15)
    consumed = produced = 0
    position = start
    while not inflater.eof:
        chunk = source.read_at(position, _CHUNK)
        if not chunk:
            return -1, -1
        try:
            produced += len(inflater.decompress(chunk, limits.max_member_bytes + 1 - produced))
        except zlib.error:
            return -1, -1
        used = len(chunk) - len(inflater.unused_data) - len(inflater.unconsumed_tail)
        consumed += used
        position += used
        if produced > limits.max_member_bytes or (used == 0 and not inflater.eof):
            return -1, -1
    return consumed, produced


def _read_lenient(source: _RandomAccess, data_offset: int, compressed_size: int, method: int,
                  limits: ScanLimits) -> bytes | None:
    """A member's bytes ignoring flags and CRC; None where the method is unsupported or the data is corrupt."""
    if compressed_size > limits.max_member_bytes * 4 or data_offset + compressed_size > source.size:
        return None
    raw = source.read_at(data_offset, compressed_size)
    try:
        if method == zipfile.ZIP_STORED:
            data = raw
        elif method == zipfile.ZIP_DEFLATED:
            data = zlib.decompressobj(-15).decompress(raw, limits.max_member_bytes + 1)
        elif method == zipfile.ZIP_BZIP2:
            data = bz2.BZ2Decompressor().decompress(raw, limits.max_member_bytes + 1)
        else:
            return None
    except (zlib.error, OSError, ValueError, EOFError):
        return None
    return data if len(data) <= limits.max_member_bytes else None


def read_member_lenient(source: _RandomAccess, info: zipfile.ZipInfo, limits: ScanLimits) -> bytes | None:
    """A member as a reader that ignores flags and CRCs sees it (what lenient loaders load); None if unreadable."""
    entry = _local_entry_at(source, info)
    if entry is None:
        return None
    return _read_lenient(source, entry.data_offset, entry.compressed_size, entry.method, limits)


def _local_entry_at(source: _RandomAccess, info: zipfile.ZipInfo) -> LocalEntry | None:
    header = source.read_at(info.header_offset, _LOCAL_HEADER.size)
    if len(header) < _LOCAL_HEADER.size:
        return None
    sig, _ver, flags, method, _t, _d, _crc, _csize, _usize, nlen, xlen = _LOCAL_HEADER.unpack(header)
    if sig != _LOCAL_SIG:
        return None
    raw_name = source.read_at(info.header_offset + _LOCAL_HEADER.size, nlen)
    name = raw_name.decode("utf-8" if flags & 0x800 else "cp437", errors="replace")
    data_offset = info.header_offset + _LOCAL_HEADER.size + nlen + xlen
    return LocalEntry(name, info.header_offset, flags, method, info.compress_size, info.file_size, data_offset)


def _add_once(analysis: Analysis, reason: Reason) -> None:
    """Add a reason unless the same one is there already (the member list check and the read may both see it)."""
    if reason not in analysis.reasons:
        analysis.reasons.append(reason)


def _member_source(source: Source, name: str, data: bytes) -> BytesSource:
    return BytesSource(f"{source.name}!{name}", data)


def _scan(ctx: ScanContext, member: BytesSource) -> FileResult:
    if ctx.scan_member is None:  # a context without a scanner: record the member unanalysed
        return FileResult(path=member.name, format=ModelFormat.UNKNOWN, size=member.size)
    return ctx.scan_member(member, None)


def _lenient_member(source: Source, raw: _RandomAccess, info: zipfile.ZipInfo, refusal: Reason, ctx: ScanContext,
                    analysis: Analysis) -> None:
    """Python refused the member: read it as a lenient reader would; keep it if it is a readable format."""
    entry = _local_entry_at(raw, info)
    data = None if entry is None else _read_lenient(raw, entry.data_offset, info.compress_size, info.compress_type,
                                                    ctx.limits)
    if entry is None or data is None:
        _add_once(analysis, refusal)
        return
    result = _scan(ctx, _member_source(source, info.filename, data))
    if result.format is ModelFormat.UNKNOWN:  # really encrypted or corrupt: nothing a loader could use either
        _add_once(analysis, refusal)
        return
    if refusal.rule_id == ZIP_ENCRYPTED.id:
        why = "is flagged encrypted but stored in clear"
    else:
        why = f"is refused by strict readers ({refusal.message})"
    analysis.reasons.append(ARCHIVE_INCONSISTENT.reason(
        f"member {info.filename!r} {why}; scanned as a lenient reader sees it", location=f"member {info.filename}",
        detail={"flags": info.flag_bits}))
    analysis.members.append(result)


@analyzer(ModelFormat.ZIP)
def analyse_zip(source: Source, ctx: ScanContext) -> Analysis:
    """Check a zip's member list, then scan every member by content (nested archives included)."""
    analysis = Analysis()
    with source.open() as stream:
        raw = _StreamReader(stream, source.size)
        try:
            with open_zip(source) as archive:
                analysis.reasons.extend(member_problems(archive, ctx.limits))
                infos = archive.infolist()
                _scan_zip_members(source, raw, archive, infos[: ctx.limits.max_members], ctx, analysis)
                _scan_hidden_entries(source, raw, infos, ctx, analysis)
                analysis.metadata["members"] = len(infos)
        except ZipProblem as problem:
            _scan_local_entries(source, raw, problem.reason, ctx, analysis)
    return analysis


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits: ScanLimits) -> bytes | Reason:
    """:func:`read_member`, with the decompressor errors it lets through turned into a MODEL-492 reason."""
    try:
        return read_member(archive, info, limits)
    except (zlib.error, lzma.LZMAError, struct.error) as exc:
        return MALFORMED.reason(f"member {info.filename!r} cannot be read: {exc}", location=f"member {info.filename}")


def _scan_zip_members(source: Source, raw: _RandomAccess, archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo],
                      ctx: ScanContext, analysis: Analysis) -> None:
    seen: set[str] = set()
    for info in infos:
        if ctx.out_of_time():
            analysis.reasons.append(LIMIT_REACHED.reason("time budget spent before every member was scanned",
                                                         location=f"member {info.filename}"))
            return
        if info.filename in seen:
            analysis.reasons.append(DUPLICATE_MEMBER.reason(f"member {info.filename!r} appears more than once",
                                                            location=f"member {info.filename}"))
        seen.add(info.filename)
        mode = info.external_attr >> 16
        if info.is_dir() or (mode and stat.S_ISLNK(mode)):
            continue
        entry = _local_entry_at(raw, info)
        if entry is not None and entry.name != info.filename:
            analysis.reasons.append(ARCHIVE_INCONSISTENT.reason(
                f"central directory names {info.filename!r} but the local header names {entry.name!r}",
                location=f"member {info.filename}"))
            if _climbs_out(entry.name):
                analysis.reasons.append(ZIP_TRAVERSAL.reason(f"local header name {entry.name!r} escapes the archive",
                                                             location=f"member {info.filename}"))
        if is_bomb_member(info, ctx.limits):
            continue  # reported by member_problems; expanding it would only spend the time the bomb is built to
        data = _read_member(archive, info, ctx.limits)
        if isinstance(data, Reason):
            if data.rule_id in (ZIP_ENCRYPTED.id, MALFORMED.id):
                _lenient_member(source, raw, info, data, ctx, analysis)
            else:
                _add_once(analysis, data)
            continue
        analysis.members.append(_scan(ctx, _member_source(source, info.filename, data)))


def _scan_entries(source: Source, raw: _RandomAccess, entries: list[LocalEntry], ctx: ScanContext,
                  analysis: Analysis) -> int:
    """Check and scan members found by their local headers; returns how many could be read."""
    read = total = 0
    for entry in entries:
        if ctx.out_of_time():
            analysis.reasons.append(LIMIT_REACHED.reason("time budget spent before every member was scanned"))
            break
        total += entry.size
        where = f"member {entry.name}"
        if _climbs_out(entry.name):
            analysis.reasons.append(ZIP_TRAVERSAL.reason(f"member {entry.name!r} escapes the archive", location=where))
        if entry.name.endswith("/"):
            continue
        data = _read_lenient(raw, entry.data_offset, entry.compressed_size, entry.method, ctx.limits)
        if data is None:
            analysis.reasons.append(MALFORMED.reason(f"member {entry.name!r} cannot be read", location=where))
            continue
        read += 1
        analysis.members.append(_scan(ctx, _member_source(source, entry.name, data)))
    if total > ctx.limits.max_total_uncompressed:
        analysis.reasons.append(ZIP_BOMB.reason(f"members declare {total:,} bytes uncompressed",
                                                detail={"total": total}))
    return read


def _scan_local_entries(source: Source, raw: _RandomAccess, refusal: Reason, ctx: ScanContext,
                        analysis: Analysis) -> None:
    """The central directory is unusable: recover members from the local headers, as a streaming reader does."""
    entries = list(local_entries(raw, ctx.limits))
    recovered = Analysis()
    if not entries or not _scan_entries(source, raw, entries, ctx, recovered):
        analysis.reasons.append(refusal)
        return
    analysis.reasons.append(ARCHIVE_INCONSISTENT.reason(
        f"the central directory is unreadable ({refusal.message}); {len(recovered.members)} member(s) recovered "
        "from local headers"))
    analysis.reasons.extend(recovered.reasons)
    analysis.members.extend(recovered.members)


def _scan_hidden_entries(source: Source, raw: _RandomAccess, infos: list[zipfile.ZipInfo], ctx: ScanContext,
                         analysis: Analysis) -> None:
    """Members a streaming reader sees (local headers from the start) that the central directory does not list."""
    listed = {info.header_offset for info in infos}
    hidden = [entry for entry in local_entries(raw, ctx.limits) if entry.offset not in listed]
    if not hidden:
        return
    names = ", ".join(repr(entry.name) for entry in hidden[:5])
    analysis.reasons.append(ARCHIVE_INCONSISTENT.reason(
        f"{len(hidden)} member(s) have local headers but no central directory entry ({names}); scanned as a "
        "streaming reader sees them", detail={"hidden": len(hidden)}))
    _scan_entries(source, raw, hidden, ctx, analysis)


# -- tar ---------------------------------------------------------------------------------------------------------


def looks_like_tar(head: bytes) -> bool:
    """A tar header block with a valid checksum (ustar, GNU or old v7) at the start of ``head``."""
    if len(head) < tarfile.BLOCKSIZE:
        return False
    try:
        tarfile.TarInfo.frombuf(head[: tarfile.BLOCKSIZE], "utf-8", "surrogateescape")
    except (tarfile.HeaderError, ValueError):
        return False
    return True


_COMPRESSED = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")


def compressed_tar_head(head: bytes) -> bytes | None:
    """The first decompressed bytes of a gzip, bzip2 or xz stream (None if ``head`` is none of them)."""
    try:
        if head.startswith(b"\x1f\x8b"):
            return zlib.decompressobj(wbits=31).decompress(head, tarfile.BLOCKSIZE)
        if head.startswith(b"BZh"):
            return bz2.BZ2Decompressor().decompress(head, tarfile.BLOCKSIZE)
        if head.startswith(b"\xfd7zXZ\x00"):
            return lzma.LZMADecompressor().decompress(head, tarfile.BLOCKSIZE)
    except (zlib.error, OSError, lzma.LZMAError, EOFError, ValueError):
        return None
    return None


class _Budget(Exception):
    """The decompressed stream went past its byte budget or the time budget."""


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class _CountingReader(io.RawIOBase):
    """A read-only stream that counts what passes and stops at a budget (bytes and time)."""

    def __init__(self, inner: _Readable, budget: int, ctx: ScanContext) -> None:
        self._inner = inner
        self._budget = budget
        self._ctx = ctx
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.count > self._budget or self._ctx.out_of_time():
            raise _Budget
        view = memoryview(buffer).cast("B")
        data = self._inner.read(len(view))
        view[: len(data)] = data
        self.count += len(data)
        return len(data)


def _decompressor(head: bytes, raw: BinaryIO) -> _Readable:
    if head.startswith(b"\x1f\x8b"):
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if head.startswith(b"BZh"):
        return bz2.BZ2File(raw, mode="rb")
    return lzma.LZMAFile(raw, mode="rb")


@dataclass
class _Counters:
    """Bytes read from the file and bytes decompressed from it (compressed tars only)."""

    raw: _CountingReader
    out: _CountingReader


def _open_tar(source: Source, raw: BinaryIO, ctx: ScanContext, analysis: Analysis) -> tuple[tarfile.TarFile,
                                                                                             _Counters | None]:
    head = source.read_at(0, 8)
    if not head.startswith(_COMPRESSED):
        return tarfile.open(fileobj=raw, mode="r:"), None
    counted_raw = _CountingReader(raw, source.size + 1, ctx)
    decompressed = _decompressor(head, io.BufferedReader(counted_raw))
    out = _CountingReader(decompressed, ctx.limits.max_total_uncompressed, ctx)
    analysis.metadata["compression"] = {b"\x1f": "gzip", b"BZ": "bzip2"}.get(head[:2], "xz")
    # Stream mode: members are read in order and never sought back to, so every byte passes the budget once.
    return tarfile.open(fileobj=io.BufferedReader(out, _CHUNK), mode="r|"), _Counters(counted_raw, out)


@analyzer(ModelFormat.TAR)
def analyse_tar(source: Source, ctx: ScanContext) -> Analysis:
    """Check every tar member the way a safe extractor would, then scan the regular files by content."""
    analysis = Analysis()
    raw = source.open()
    try:
        archive, counters = _open_tar(source, raw, ctx, analysis)
        with archive:
            _scan_tar_members(source, archive, ctx, analysis, counters)
    except _Budget:
        if ctx.out_of_time():
            analysis.reasons.append(LIMIT_REACHED.reason("time budget spent before every member was scanned"))
        else:
            analysis.reasons.append(ZIP_BOMB.reason(
                f"decompresses past {ctx.limits.max_total_uncompressed:,} bytes", detail={"compressed": source.size}))
    except (tarfile.TarError, OSError, EOFError, zlib.error, lzma.LZMAError, ValueError) as exc:
        analysis.reasons.append(MALFORMED.reason(f"tar archive does not read to the end: {type(exc).__name__}: {exc}"))
    finally:
        raw.close()
    return analysis


def _link_escapes(member: tarfile.TarInfo) -> bool:
    target = member.linkname
    if target.startswith(("/", "\\")) or (len(target) > 1 and target[1] == ":"):
        return True
    # A symbolic link is resolved from its own folder; a hard link names a path from the archive root.
    joined = posixpath.join(posixpath.dirname(member.name), target) if member.issym() else target
    return _climbs_out(joined)


def _check_tar_member(member: tarfile.TarInfo, analysis: Analysis) -> None:
    where = f"member {member.name}"
    if _climbs_out(member.name):
        analysis.reasons.append(ZIP_TRAVERSAL.reason(f"member {member.name!r} escapes the archive", location=where))
    if member.issym() or member.islnk():
        kind = "symbolic" if member.issym() else "hard"
        analysis.reasons.append(ZIP_LINK.reason(f"member {member.name!r} is a {kind} link to {member.linkname!r}",
                                                location=where, detail={"target": member.linkname[:200]}))
        if _link_escapes(member):
            analysis.reasons.append(ARCHIVE_LINK_ESCAPES.reason(
                f"{kind} link {member.name!r} points outside the archive ({member.linkname!r})", location=where,
                detail={"target": member.linkname[:200]}))
    elif member.ischr() or member.isblk() or member.isfifo():
        kind = "character device" if member.ischr() else "block device" if member.isblk() else "FIFO"
        analysis.reasons.append(ARCHIVE_SPECIAL_MEMBER.reason(f"member {member.name!r} is a {kind}", location=where))
    elif member.isfile() and member.mode & (stat.S_ISUID | stat.S_ISGID):
        analysis.reasons.append(ARCHIVE_SPECIAL_MEMBER.reason(
            f"member {member.name!r} has the set-uid or set-gid bit (mode {member.mode:o})", location=where))


def _scan_tar_members(source: Source, archive: tarfile.TarFile, ctx: ScanContext, analysis: Analysis,
                      counters: _Counters | None) -> None:
    limits = ctx.limits
    seen: set[str] = set()
    declared = count = 0
    for member in archive:
        count += 1
        if count > limits.max_members:
            analysis.reasons.append(ZIP_BOMB.reason(f"more than {limits.max_members} members; the rest were not read",
                                                    detail={"members": count}))
            return
        if ctx.out_of_time():
            analysis.reasons.append(LIMIT_REACHED.reason("time budget spent before every member was scanned",
                                                         location=f"member {member.name}"))
            return
        _check_tar_member(member, analysis)
        if member.name in seen and not member.isdir():
            analysis.reasons.append(DUPLICATE_MEMBER.reason(f"member {member.name!r} appears more than once",
                                                            location=f"member {member.name}"))
        seen.add(member.name)
        if not member.isfile():
            continue
        declared += member.size
        if declared > limits.max_total_uncompressed:
            analysis.reasons.append(ZIP_BOMB.reason(f"members declare more than {limits.max_total_uncompressed:,} "
                                                    "bytes", detail={"declared": declared}))
            return
        if member.size > limits.max_member_bytes:
            analysis.reasons.append(LIMIT_REACHED.reason(
                f"member {member.name!r} is {member.size:,} bytes; only members up to {limits.max_member_bytes:,} "
                "are analysed", location=f"member {member.name}"))
            continue
        handle = archive.extractfile(member)
        if handle is None:
            continue
        data = handle.read(member.size)
        if len(data) < member.size:
            analysis.reasons.append(MALFORMED.reason(f"member {member.name!r} is truncated",
                                                     location=f"member {member.name}"))
        analysis.members.append(_scan(ctx, _member_source(source, member.name, data)))
    if counters is not None and counters.raw.count:
        ratio = counters.out.count / counters.raw.count
        analysis.metadata["compression_ratio"] = round(ratio, 1)
        if ratio > limits.max_compression_ratio and counters.out.count > _BOMB_MIN_BYTES:
            analysis.reasons.append(ZIP_BOMB.reason(f"expands {ratio:,.0f}× to {counters.out.count:,} bytes",
                                                    detail={"ratio": round(ratio), "size": counters.out.count}))
    analysis.metadata["members"] = count
