"""Analysers of the formats that carry pickles: raw pickle, PyTorch (zip and legacy), NumPy .npy/.npz, joblib.

Each one finds the pickles in its format and hands them to :func:`~._pickle_analysis.analyse_pickle` with the
allowlists of its ecosystem. Raw bytes that are not pickles (tensor storages, array data) are never read as
pickles: a legacy PyTorch file stops after its five pickles, a PyTorch zip skips ``data/`` storages, a numeric
.npy is checked by its header, and joblib's in-stream array bytes are stepped over (while checked for opcodes that
``pickle.load`` would run). Detection helpers for the scanner core: :func:`looks_like_pickle`,
:func:`looks_like_torch_legacy`, :func:`looks_like_joblib`.
"""

from __future__ import annotations

import ast
import bz2
import gzip
import io
import lzma
import math
import re
import zipfile
import zlib
from collections.abc import Callable
from typing import Any, BinaryIO

from anzhi.develop.models._archive import ARCHIVE_INCONSISTENT, read_member_lenient
from anzhi.develop.models._pickle_analysis import CallValue, GlobalUse, PickleReport, analyse_pickle
from anzhi.develop.models._pickle_ops import ByteReader
from anzhi.develop.models._pickle_policy import ALL_ECOSYSTEMS, Ecosystem, policy_for
from anzhi.develop.models._registry import Analysis, ScanContext, analyzer
from anzhi.develop.models._result import ModelFormat, Reason, Verdict
from anzhi.develop.models._rules import LIMIT_REACHED, MALFORMED, Rule, register_rules
from anzhi.develop.models._source import BytesSource, ScanLimits, Source
from anzhi.develop.models._zipread import ZIP_ENCRYPTED, ZipProblem, member_problems, open_zip, read_member
from anzhi.findings import Confidence, Severity

__all__ = [
    "NUMPY_OBJECT_ARRAY",
    "TORCH_ZIP_WITHOUT_DATA",
    "UNSUPPORTED_COMPRESSION",
    "joblib_array_layout",
    "looks_like_joblib",
    "looks_like_pickle",
    "looks_like_torch_legacy",
]

TORCH_ZIP_WITHOUT_DATA = Rule(
    "MODEL-420", "PyTorch archive without data.pkl", Severity.INFO, Confidence.HIGH, Verdict.CLEAN,
    "The zip was analysed as a PyTorch archive but has no `<folder>/data.pkl`, so torch.load cannot load it; "
    "every pickle member was analysed all the same. Informational.", cwe=None, tags=("pickle", "pytorch"))
NUMPY_OBJECT_ARRAY = Rule(
    "MODEL-422", "NumPy object array holds a pickle", Severity.INFO, Confidence.HIGH, Verdict.CLEAN,
    "The array's dtype is object ('O'), so its data is a pickle that numpy.load runs only with "
    "allow_pickle=True. The pickle was analysed and its own reasons are listed; prefer numeric dtypes.",
    tags=("pickle", "numpy"))
UNSUPPORTED_COMPRESSION = Rule(
    "MODEL-423", "compressed pickle stream cannot be opened", Severity.MEDIUM, Confidence.MEDIUM, Verdict.REVIEW,
    "The file is compressed with a method this scan does not decompress (e.g. lz4) or the compressed stream is "
    "corrupt, so the pickle inside was not analysed. Decompress it and scan the result.", cwe=None,
    tags=("pickle", "joblib"))
register_rules(TORCH_ZIP_WITHOUT_DATA, NUMPY_OBJECT_ARRAY, UNSUPPORTED_COMPRESSION)

TORCH_ECOSYSTEMS = frozenset({Ecosystem.PYTHON, Ecosystem.TORCH, Ecosystem.NUMPY})
NUMPY_ECOSYSTEMS = frozenset({Ecosystem.PYTHON, Ecosystem.NUMPY})
_TORCH_MAGIC = 0x1950A86A20F9469CFC6C
_TORCH_PROTOCOL_VERSION = 1001
_NPY_MAGIC = b"\x93NUMPY"
_HEAD_OPS = 4096
_TYPESTR = re.compile(r"[<>|=]?([a-zA-Z?])(\d*)")


# -- running the analysis ---------------------------------------------------------------------------------------
def _run(reader: ByteReader, ctx: ScanContext, ecosystems: frozenset[Ecosystem], *, where: str = "",
         max_pickles: int | None = None) -> PickleReport:
    return analyse_pickle(reader, policy_for(ecosystems), max_ops=ctx.limits.max_pickle_opcodes,
                          out_of_time=ctx.out_of_time, where=where, max_pickles=max_pickles)


def _source_reader(source: Source, limits: ScanLimits, start: int = 0) -> tuple[ByteReader, BinaryIO | None]:
    if isinstance(source, BytesSource):
        return ByteReader.from_bytes(source.data, start), None
    stream = source.open()
    return ByteReader(stream, start=start, end=source.size, budget=limits.max_pickle_bytes), stream


def _analyse_source(source: Source, ctx: ScanContext, ecosystems: frozenset[Ecosystem], *, start: int = 0,
                    where: str = "", max_pickles: int | None = None) -> PickleReport:
    reader, stream = _source_reader(source, ctx.limits, start)
    try:
        return _run(reader, ctx, ecosystems, where=where, max_pickles=max_pickles)
    finally:
        if stream is not None:
            stream.close()


def _head_report(head: bytes, max_pickles: int | None = None) -> PickleReport:
    return analyse_pickle(ByteReader.from_bytes(head), policy_for(ALL_ECOSYSTEMS), max_ops=_HEAD_OPS,
                          out_of_time=lambda: False, max_pickles=max_pickles)


# -- detection --------------------------------------------------------------------------------------------------
def looks_like_pickle(head: bytes) -> bool:
    """True when the first bytes of a file walk as a pickle.

    That is a whole pickle, or valid opcodes up to the end of ``head`` (pass at least a few KiB). A walk that stops
    at a non-opcode or an impossible stack is not a pickle.
    """
    if len(head) < 2 or (head[0] == 0x80 and head[1] > 5):
        return False
    report = _head_report(head, max_pickles=1)
    return report.pickles >= 1 or (report.stop in ("truncated", "limit") and report.opcodes >= 3)


def looks_like_torch_legacy(head: bytes) -> bool:
    """True when the file opens with the legacy ``torch.save`` magic-number pickle.

    The pickle must hold the constant itself: one that computes it (``eval``) is left to the pickle analyser.
    """
    if not head.startswith(b"\x80") or len(head) < 12:
        return False
    report = _head_report(head[:256], max_pickles=1)
    return report.pickles == 1 and not report.uses and report.results[:1] == [_TORCH_MAGIC]


def _decompressed_head(head: bytes) -> bytes | None:
    try:
        if head.startswith(b"\x78"):
            return zlib.decompressobj().decompress(head, 65536)
        if head.startswith(b"\x1f\x8b"):
            return zlib.decompressobj(31).decompress(head, 65536)
        if head.startswith(b"BZh"):
            return bz2.BZ2Decompressor().decompress(head, 65536)
        if head.startswith((b"\xfd7zXZ\x00", b"\x5d\x00\x00")):
            return lzma.LZMADecompressor().decompress(head, 65536)
    except (zlib.error, OSError, EOFError, ValueError, lzma.LZMAError):
        return None
    return None


def looks_like_joblib(head: bytes) -> bool:
    """True for a ``joblib.dump`` file.

    That is a pickle naming joblib's array wrapper, or a zlib/gzip/bz2/xz/lzma stream (joblib's compressors) whose
    content starts like a pickle: joblib is the loader that reads those directly.
    """
    inner = _decompressed_head(head)
    if inner is not None:
        return looks_like_pickle(inner)
    return b"joblib.numpy_pickle" in head and looks_like_pickle(head)


# -- joblib arrays ----------------------------------------------------------------------------------------------
def _dtype_info(dtype: Any, depth: int = 0) -> tuple[int, bool] | None:
    """(itemsize, has objects) of a pickled ``numpy.dtype(...)`` call with its BUILD state."""
    if not isinstance(dtype, CallValue) or not isinstance(dtype.func, GlobalUse) or depth > 4:
        return None
    if dtype.func.norm != ("numpy", "dtype") or not isinstance(dtype.args, tuple) or not dtype.args:
        return None
    typestr, state = dtype.args[0], dtype.state
    if not isinstance(typestr, str):
        return None
    match = _TYPESTR.fullmatch(typestr)
    has_object = typestr.lstrip("<>|=").startswith("O")
    elsize = 0
    if isinstance(state, tuple) and len(state) > 7:
        if isinstance(state[5], int) and state[5] > 0:
            elsize = state[5]
        if isinstance(state[7], int) and state[7] & 0x01:
            has_object = True
    if not elsize and match and match.group(2):
        elsize = int(match.group(2))
    return (elsize, has_object) if elsize or has_object else None


def joblib_array_layout(state: dict[Any, Any]) -> tuple[bool, int] | None:
    """Whether joblib wrote a padding byte, and how many array bytes follow a ``NumpyArrayWrapper``.

    −1 bytes: an object array, pickled in place. None when the wrapper's state does not say (the walk stops).
    """
    shape, info = state.get("shape"), _dtype_info(state.get("dtype"))
    if info is None or not isinstance(shape, tuple) or not all(isinstance(n, int) and n >= 0 for n in shape):
        return None
    itemsize, has_object = info
    if has_object:
        return False, -1
    return isinstance(state.get("numpy_array_alignment_bytes"), int), math.prod(shape) * itemsize


# -- analysers --------------------------------------------------------------------------------------------------
def _analysis(report: PickleReport, **extra: Any) -> Analysis:
    return Analysis(reasons=list(report.reasons), metadata={**report.metadata(), **extra})


@analyzer(ModelFormat.PICKLE)
def analyse_pickle_file(source: Source, ctx: ScanContext) -> Analysis:
    """A raw pickle stream: every pickle in it, back to back, with every ecosystem's allowlist."""
    return _analysis(_analyse_source(source, ctx, ALL_ECOSYSTEMS))


@analyzer(ModelFormat.PYTORCH_LEGACY)
def analyse_torch_legacy(source: Source, ctx: ScanContext) -> Analysis:
    """Legacy ``torch.save``: five pickles, then raw storage bytes that are not walked.

    The pickles are the magic number, the protocol version, sys info, the object, and the storage keys.
    """
    report = _analyse_source(source, ctx, TORCH_ECOSYSTEMS, max_pickles=5)
    extra: dict[str, Any] = {}
    if report.complete and report.pickles < 5:
        report.reasons.append(MALFORMED.reason(
            f"legacy PyTorch file holds {report.pickles} of its 5 pickles", location=f"offset {report.end}"))
    if len(report.results) > 1 and report.results[1] != _TORCH_PROTOCOL_VERSION:
        extra["torch_protocol_version"] = str(report.results[1])[:40]
    keys = report.results[4] if len(report.results) > 4 else None
    if getattr(keys, "kind", None) == "list":
        extra["storages"] = len(keys.items) + keys.more  # type: ignore[union-attr]
    extra["storage_offset"] = report.end
    return _analysis(report, **extra)


def _lenient_member(source: Source, info: zipfile.ZipInfo, limits: ScanLimits) -> bytes | None:
    """A member as a reader that ignores flags and CRCs sees it; None if truly encrypted or unreadable."""
    if info.flag_bits & 0x1 and info.compress_size != info.file_size and info.compress_type == zipfile.ZIP_STORED:
        return None
    return read_member_lenient(source, info, limits)


def _peek(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes | None:
    try:
        with archive.open(info) as member:
            return member.read(64)
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, RuntimeError, EOFError):
        return None  # read_member says why, and the lenient reader has its try


def _zip_members(source: Source, ctx: ScanContext, analysis: Analysis,
                 wanted: Callable[[str, bytes | None], bool | None]) -> list[tuple[str, bytes]]:
    """The members to analyse, read safely (leniently where strict reading refuses).

    ``wanted(name, None)`` decides by name (None: look at the content); ``wanted(name, first_bytes)`` by content.
    """
    out: list[tuple[str, bytes]] = []
    with open_zip(source) as archive:
        analysis.reasons.extend(member_problems(archive, ctx.limits))
        for info in archive.infolist()[: ctx.limits.max_members]:
            by_name = False if info.is_dir() else wanted(info.filename, None)
            if by_name is False:
                continue
            if by_name is None:
                head = _peek(archive, info)
                if head is not None and not wanted(info.filename, head):
                    continue
            data = read_member(archive, info, ctx.limits)
            if isinstance(data, Reason):
                lenient = _lenient_member(source, info, ctx.limits) if data.rule_id in (
                    MALFORMED.id, ZIP_ENCRYPTED.id) else None
                if lenient is None or not wanted(info.filename, lenient[:64]):
                    if data.rule_id != ZIP_ENCRYPTED.id:  # member_problems already reported encryption
                        analysis.reasons.append(data)
                    continue
                analysis.reasons.append(ARCHIVE_INCONSISTENT.reason(
                    f"member {info.filename!r} is refused by strict zip readers ({data.message}); analysed as a "
                    "lenient reader sees it", location=f"member {info.filename}", detail={"flags": info.flag_bits}))
                data = lenient
            out.append((info.filename, data))
    return out


def _torch_member(name: str, first: bytes | None) -> bool | None:
    """Pickle members of a PyTorch zip: ``*.pkl``, and any other member that is a pickle, but never a storage."""
    parts = name.split("/")
    if len(parts) >= 2 and parts[-2] == "data" and parts[-1].isdigit():  # raw tensor storage: never unpickled
        return False
    if name.endswith(".pkl"):
        return True
    if parts[-1] in ("byteorder", "version", ".format_version", ".storage_alignment", "serialization_id") \
            or "code" in parts[:-1] or name.endswith((".py", ".debug_pkl", ".json")):
        return False
    return None if first is None else looks_like_pickle(first)


@analyzer(ModelFormat.PYTORCH_ZIP)
def analyse_torch_zip(source: Source, ctx: ScanContext) -> Analysis:
    """A ``torch.save`` zip: ``<folder>/data.pkl`` and every other pickle member, with torch's allowlist."""
    analysis = Analysis()
    try:
        members = _zip_members(source, ctx, analysis, _torch_member)
    except ZipProblem as problem:
        analysis.reasons.append(problem.reason)
        return analysis
    tensors, protocol = 0, None
    globals_seen: set[str] = set()
    for name, data in members:
        report = _run(ByteReader.from_bytes(data), ctx, TORCH_ECOSYSTEMS, where=f"member {name}, ")
        analysis.reasons.extend(report.reasons)
        tensors += report.tensors
        globals_seen.update(use.qualname for use in report.uses.values())
        protocol = report.protocol if protocol is None else max(protocol, report.protocol or 0)
    if not any(name.endswith("data.pkl") for name, _data in members):
        analysis.reasons.append(TORCH_ZIP_WITHOUT_DATA.reason("no data.pkl member"))
    analysis.metadata = {"pickle_protocol": protocol, "pickle_members": [name for name, _d in members][:50],
                         "globals": sorted(globals_seen)[:100], "tensors": tensors,
                         "torchscript": any(name.endswith("constants.pkl") for name, _d in members)}
    return analysis


def _descr_info(descr: Any, depth: int = 0) -> tuple[int, bool] | None:
    """(itemsize, has objects) of a .npy ``descr`` (a type string or a list of fields)."""
    if depth > 8:
        return None
    if isinstance(descr, str):
        match = _TYPESTR.match(descr)
        if match is None:
            return None
        kind, digits = match.group(1), match.group(2)
        if kind == "O":
            return 8, True
        size = int(digits) if digits else 0
        return (size * 4 if kind == "U" else size), False
    if isinstance(descr, list):
        total, has_object = 0, False
        for field in descr:
            if not isinstance(field, tuple) or len(field) < 2:
                return None
            info = _descr_info(field[1], depth + 1)
            if info is None:
                return None
            count = math.prod(field[2]) if len(field) > 2 and isinstance(field[2], tuple) else 1
            total += info[0] * count
            has_object = has_object or info[1]
        return total, has_object
    return None


def _npy(source: Source, ctx: ScanContext, where: str = "") -> Analysis:
    head = source.read_at(0, 12)
    if not head.startswith(_NPY_MAGIC) or len(head) < 10 or head[6] not in (1, 2, 3):
        return Analysis(reasons=[MALFORMED.reason(f"{where}not a .npy header")])
    size_bytes = 2 if head[6] == 1 else 4
    length = int.from_bytes(head[8:8 + size_bytes], "little")
    start = 8 + size_bytes + length
    if length > 1 << 20:
        return Analysis(reasons=[LIMIT_REACHED.reason(f"{where}.npy header of {length:,} bytes not parsed")])
    text = source.read_at(8 + size_bytes, length).decode("utf-8" if head[6] == 3 else "latin-1", errors="replace")
    try:  # a literal parser: evaluates no code
        header = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        header = None
    if not isinstance(header, dict) or not {"descr", "shape", "fortran_order"} <= header.keys() \
            or not isinstance(header["shape"], tuple) or not all(isinstance(n, int) for n in header["shape"]):
        return Analysis(reasons=[MALFORMED.reason(f"{where}the .npy header is not a valid array description")])
    info = _descr_info(header["descr"])
    meta: dict[str, Any] = {"shape": list(header["shape"]), "dtype": str(header["descr"])[:200],
                            "fortran_order": bool(header["fortran_order"]), "data_offset": start}
    if info is not None and info[1]:
        report = _analyse_source(source, ctx, NUMPY_ECOSYSTEMS, start=start, where=where)
        analysis = _analysis(report, **meta)
        analysis.reasons.append(NUMPY_OBJECT_ARRAY.reason(f"{where}object array: its data is a pickle",
                                                          location=f"{where}offset {start}"))
        return analysis
    analysis = Analysis(metadata=meta)
    if info is None:
        analysis.reasons.append(MALFORMED.reason(f"{where}unknown dtype {header['descr']!r}"))
    elif start + math.prod(header["shape"]) * info[0] > source.size:
        analysis.reasons.append(MALFORMED.reason(
            f"{where}array data is truncated: {source.size - start:,} bytes for "
            f"{math.prod(header['shape']) * info[0]:,}", location=f"{where}offset {start}"))
    return analysis


@analyzer(ModelFormat.NUMPY)
def analyse_npy(source: Source, ctx: ScanContext) -> Analysis:
    """A .npy file: the header is parsed as a literal; an object array's pickle is analysed."""
    return _npy(source, ctx)


@analyzer(ModelFormat.NUMPY_NPZ)
def analyse_npz(source: Source, ctx: ScanContext) -> Analysis:
    """A .npz zip: every ``.npy`` member as above, and any member that is a pickle."""
    analysis = Analysis()

    def wanted(name: str, first: bytes | None) -> bool | None:
        return None if first is None else first.startswith(_NPY_MAGIC) or looks_like_pickle(first)

    try:
        members = _zip_members(source, ctx, analysis, wanted)
    except ZipProblem as problem:
        analysis.reasons.append(problem.reason)
        return analysis
    arrays: dict[str, Any] = {}
    for name, data in members:
        member = BytesSource(f"{source.name}!{name}", data)
        if data.startswith(_NPY_MAGIC):
            found = _npy(member, ctx, where=f"member {name}, ")
        else:
            found = _analysis(_run(ByteReader.from_bytes(data), ctx, NUMPY_ECOSYSTEMS, where=f"member {name}, "))
        analysis.reasons.extend(found.reasons)
        if len(arrays) < 100:
            arrays[name] = found.metadata
    analysis.metadata = {"arrays": arrays}
    return analysis


class _Inflate(io.RawIOBase):
    """A raw zlib stream (joblib's default compressor) as a readable file."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw, self._z = raw, zlib.decompressobj()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        out = b""
        while not out and not self._z.eof:
            chunk = self._z.unconsumed_tail or self._raw.read(1 << 16)
            if not chunk:
                break
            out = self._z.decompress(chunk, len(buffer))
        buffer[: len(out)] = out
        return len(out)


def _decompressing(head: bytes, raw: BinaryIO) -> tuple[str, BinaryIO] | None:
    if head.startswith(b"\x78"):
        return "zlib", io.BufferedReader(_Inflate(raw))
    if head.startswith(b"\x1f\x8b"):
        return "gzip", gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    if head.startswith(b"BZh"):
        return "bz2", bz2.BZ2File(raw)  # type: ignore[return-value]
    if head.startswith((b"\xfd7zXZ\x00", b"\x5d\x00\x00")):
        return "lzma", lzma.LZMAFile(raw)  # type: ignore[return-value]
    return None


@analyzer(ModelFormat.JOBLIB)
def analyse_joblib(source: Source, ctx: ScanContext) -> Analysis:
    """A ``joblib.dump`` file, compressed or not: the pickle stream, stepping over in-stream array bytes."""
    head = source.read_at(0, 8)
    if _decompressed_head(source.read_at(0, 4096)) is None:
        if head.startswith((b"\x04\x22\x4d\x18", b"ZF")):
            return Analysis(reasons=[UNSUPPORTED_COMPRESSION.reason("lz4 or pre-0.10 joblib compression")])
        return _analysis(_analyse_source(source, ctx, ALL_ECOSYSTEMS), compression=None)
    raw = source.open()
    try:
        opened = _decompressing(head, raw)
        if opened is None:  # pragma: no cover - _decompressed_head and _decompressing agree on magics
            return Analysis(reasons=[UNSUPPORTED_COMPRESSION.reason("unknown compression")])
        method, stream = opened
        report = _run(ByteReader(stream, budget=ctx.limits.max_pickle_bytes), ctx, ALL_ECOSYSTEMS)
        if report.stop == "truncated" and report.opcodes == 0:
            report.reasons.append(UNSUPPORTED_COMPRESSION.reason(f"the {method} stream cannot be decompressed"))
        return _analysis(report, compression=method)
    finally:
        raw.close()
