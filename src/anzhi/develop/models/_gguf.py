"""GGUF (llama.cpp) files: header, every metadata key/value, tensor infos, and the chat template.

GGUF is a binary header followed by tensor data. Its parsers in C/C++ loaders have had heap overflows driven by
lying counts, lengths and dimensions, so this reader trusts no number: every length is checked against the bytes
left in the file before anything is read or skipped, counts are bounded by ``max_metadata_items``, and only the
header is read (a 40 GB file costs a few megabytes of reads). Tensor data is never read; tensor extents are checked
against the file size.

MODEL-460: tensor data outside the data area, misaligned or overlapping — invalid.
MODEL-466: header values loaders reject or overflow on (more than 4 dims, an element count that overflows,
alignment not a power of two, names over 64 bytes, nested arrays deeper than 4) — invalid, high severity.
MODEL-467: duplicate metadata key or tensor name (loaders and scanners may read different copies) — invalid.
Truncations and lengths running past the end are MODEL-492. The chat template (``tokenizer.chat_template`` and
``tokenizer.chat_template.*``) is checked by :mod:`._chat_template` (MODEL-461…465). Added in 0.1.0.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

from anzhi.develop.models._chat_template import MAX_TEMPLATE_CHARS, analyze_chat_template
from anzhi.develop.models._registry import Analysis, ScanContext, analyzer
from anzhi.develop.models._result import ModelFormat, Reason, Verdict
from anzhi.develop.models._rules import LIMIT_REACHED, MALFORMED, Rule, register_rules
from anzhi.develop.models._source import Source
from anzhi.findings import Confidence, Severity

__all__ = ["GGML_TYPES", "GGUF_BOUNDS", "GGUF_DUPLICATE", "GGUF_HOSTILE", "analyze_gguf", "looks_like_gguf"]

GGUF_BOUNDS = Rule(
    "MODEL-460", "GGUF tensor data outside the data area or overlapping", Severity.MEDIUM, Confidence.HIGH,
    Verdict.INVALID,
    "A tensor's offset is not aligned, does not follow the previous tensor, or its bytes run past the end of the "
    "file. llama.cpp rejects such files; loaders that do not check read out of bounds (CWE-125). Get a clean copy.",
    cwe="CWE-125",
)
GGUF_HOSTILE = Rule(
    "MODEL-466", "GGUF header values that overflow loaders", Severity.HIGH, Confidence.MEDIUM, Verdict.INVALID,
    "The header carries values no writer produces and loaders reject or overflow on: more than 4 dimensions, "
    "element counts beyond 2^63, alignment that is not a power of two, over-long tensor names, deeply nested "
    "arrays, impossible type ids. Malformed GGUF headers have driven heap overflows in GGUF parsers "
    "(CVE-2024-21836 and others). Do not load the file with an unpatched loader.", cwe="CWE-787",
)
GGUF_DUPLICATE = Rule(
    "MODEL-467", "GGUF duplicate metadata key or tensor name", Severity.MEDIUM, Confidence.HIGH, Verdict.INVALID,
    "A key or tensor name occurs twice. llama.cpp refuses the file, other loaders keep the first or the last copy: "
    "a second chat template can hide behind a benign first one. Every copy is checked; get a clean file.",
    cwe="CWE-20",
)

register_rules(GGUF_BOUNDS, GGUF_HOSTILE, GGUF_DUPLICATE)

MAGIC = b"GGUF"
#: ggml type id -> (name, elements per block, bytes per block), from ggml's type traits (Q8_1 is 36 bytes in
#: ggml; gguf-py's table says 40, but Q8_1 is an intermediate type no file stores).
GGML_TYPES: dict[int, tuple[str, int, int]] = {
    0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20), 6: ("Q5_0", 32, 22),
    7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 9: ("Q8_1", 32, 36), 10: ("Q2_K", 256, 84), 11: ("Q3_K", 256, 110),
    12: ("Q4_K", 256, 144), 13: ("Q5_K", 256, 176), 14: ("Q6_K", 256, 210), 15: ("Q8_K", 256, 292),
    16: ("IQ2_XXS", 256, 66), 17: ("IQ2_XS", 256, 74), 18: ("IQ3_XXS", 256, 98), 19: ("IQ1_S", 256, 50),
    20: ("IQ4_NL", 32, 18), 21: ("IQ3_S", 256, 110), 22: ("IQ2_S", 256, 82), 23: ("IQ4_XS", 256, 136),
    24: ("I8", 1, 1), 25: ("I16", 1, 2), 26: ("I32", 1, 4), 27: ("I64", 1, 8), 28: ("F64", 1, 8),
    29: ("IQ1_M", 256, 56), 30: ("BF16", 1, 2), 34: ("TQ1_0", 256, 54), 35: ("TQ2_0", 256, 66),
    39: ("MXFP4", 32, 17), 40: ("NVFP4", 64, 36), 41: ("Q1_0", 128, 18),
}
#: llama_ftype values of ``general.file_type``.
FILE_TYPES = {
    0: "ALL_F32", 1: "MOSTLY_F16", 2: "MOSTLY_Q4_0", 3: "MOSTLY_Q4_1", 7: "MOSTLY_Q8_0", 8: "MOSTLY_Q5_0",
    9: "MOSTLY_Q5_1", 10: "MOSTLY_Q2_K", 11: "MOSTLY_Q3_K_S", 12: "MOSTLY_Q3_K_M", 13: "MOSTLY_Q3_K_L",
    14: "MOSTLY_Q4_K_S", 15: "MOSTLY_Q4_K_M", 16: "MOSTLY_Q5_K_S", 17: "MOSTLY_Q5_K_M", 18: "MOSTLY_Q6_K",
    19: "MOSTLY_IQ2_XXS", 20: "MOSTLY_IQ2_XS", 21: "MOSTLY_Q2_K_S", 22: "MOSTLY_IQ3_XS", 23: "MOSTLY_IQ3_XXS",
    24: "MOSTLY_IQ1_S", 25: "MOSTLY_IQ4_NL", 26: "MOSTLY_IQ3_S", 27: "MOSTLY_IQ3_M", 28: "MOSTLY_IQ2_S",
    29: "MOSTLY_IQ2_M", 30: "MOSTLY_IQ4_XS", 31: "MOSTLY_IQ1_M", 32: "MOSTLY_BF16", 36: "MOSTLY_TQ1_0",
    37: "MOSTLY_TQ2_0", 38: "MOSTLY_MXFP4_MOE", 39: "MOSTLY_NVFP4", 40: "MOSTLY_Q1_0",
}
_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
_STRING, _ARRAY = 8, 9
_CHUNK = 1 << 20
_MAX_KEY = 1 << 16
_MAX_ARRAY_DEPTH = 4
_KEEP_STRING = 1024
_MIN_ITEM = 9  # smallest key/value or tensor info in bytes (v1: 4-byte length, 1-byte key, type, value)


class _Truncated(Exception):
    """A length or count runs past the end of the file."""


class _Hostile(Exception):
    """A value no writer produces and loaders reject or overflow on."""


class _Limit(Exception):
    """A configured scan limit was reached."""


def looks_like_gguf(head: bytes) -> bool:
    """``GGUF`` magic followed by version 1–3 (little- or big-endian)."""
    if len(head) < 8 or head[:4] != MAGIC:
        return False
    return struct.unpack("<I", head[4:8])[0] in (1, 2, 3) or struct.unpack(">I", head[4:8])[0] in (2, 3)


class _Reader:
    """Bounded sequential reads from a source, in 1 MiB windows; ``skip`` moves without reading."""

    def __init__(self, source: Source, endian: str, wide: bool, ctx: ScanContext) -> None:
        self.source, self.size, self.ctx = source, source.size, ctx
        self.e, self.wide = endian, wide
        self.pos, self.buf, self.start = 0, b"", 0
        self.items = 0

    def _window(self, n: int) -> int:
        if self.pos + n > self.size:
            raise _Truncated(f"needs {n:,} bytes at offset {self.pos:,}, file has {self.size:,}")
        off = self.pos - self.start
        if off < 0 or off + n > len(self.buf):
            if self.pos > self.ctx.limits.max_header_bytes:
                raise _Limit(f"header larger than {self.ctx.limits.max_header_bytes:,} bytes")
            self.buf = self.source.read_at(self.pos, max(n, _CHUNK))
            self.start, off = self.pos, 0
            if len(self.buf) < n:
                raise _Truncated(f"short read at offset {self.pos:,}")
        return off

    def take(self, n: int) -> bytes:
        off = self._window(n)
        self.pos += n
        return self.buf[off : off + n]

    def unpack(self, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        off = self._window(size)
        self.pos += size
        return struct.unpack_from(self.e + fmt, self.buf, off)[0]

    def count(self) -> int:
        return int(self.unpack("Q" if self.wide else "I"))

    def skip(self, n: int) -> None:
        if n < 0 or self.pos + n > self.size:
            raise _Truncated(f"declares {n:,} bytes at offset {self.pos:,}, only {self.size - self.pos:,} remain")
        self.pos += n

    def string(self, keep: int) -> tuple[str, int]:
        """A string; returns its first ``keep`` characters and its byte length (the rest is skipped)."""
        length = self.count()
        if length > self.size - self.pos:
            raise _Truncated(f"string of {length:,} bytes at offset {self.pos:,}, only {self.size - self.pos:,} "
                             "remain")
        head = self.take(min(length, keep))
        self.skip(length - len(head))
        return head.decode("utf-8", "replace"), length

    def skip_strings(self, n: int) -> None:
        """Skip ``n`` strings quickly (token arrays hold hundreds of thousands)."""
        fmt, width = self.e + ("Q" if self.wide else "I"), 8 if self.wide else 4
        for i in range(n):
            off = self._window(width)
            length = struct.unpack_from(fmt, self.buf, off)[0]
            self.pos += width
            self.skip(length)
            if i & 0xFFFF == 0xFFFF and self.ctx.out_of_time():
                raise _Limit("time budget spent in a string array")

    def tick(self, n: int = 1) -> None:
        self.items += n
        if self.items > self.ctx.limits.max_metadata_items:
            raise _Limit(f"more than {self.ctx.limits.max_metadata_items:,} metadata items")


@dataclass
class _Header:
    version: int = 0
    values: dict[str, Any] = field(default_factory=dict)
    arrays: dict[str, int] = field(default_factory=dict)
    templates: list[tuple[str, str, int]] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    tensors: list[tuple[str, list[int], int, int]] = field(default_factory=list)
    kv_count: int = 0
    tensor_count: int = 0
    end: int = 0


def _value(r: _Reader, vtype: int, key: str, h: _Header, depth: int) -> Any:
    if vtype in _SCALARS:
        return r.unpack(_SCALARS[vtype])
    if vtype == _STRING:
        is_template = key == "tokenizer.chat_template" or key.startswith("tokenizer.chat_template.")
        text, length = r.string(MAX_TEMPLATE_CHARS + 1 if is_template else _KEEP_STRING)
        if is_template:
            h.templates.append((key, text, length))
        return text
    if vtype != _ARRAY:
        raise _Hostile(f"key {key!r} has unknown value type {vtype}")
    if depth >= _MAX_ARRAY_DEPTH:
        raise _Hostile(f"key {key!r} nests arrays deeper than {_MAX_ARRAY_DEPTH}")
    etype, n = r.unpack("I"), r.count()
    if depth == 0:
        h.arrays[key] = n
    if etype in _SCALARS:
        r.skip(n * struct.calcsize(_SCALARS[etype]))
        return None
    if n > r.size - r.pos:
        raise _Truncated(f"array {key!r} declares {n:,} elements, only {r.size - r.pos:,} bytes remain")
    r.tick(n)
    if etype == _STRING:
        if key.startswith("general.") and n <= 32:
            return [r.string(256)[0] for _ in range(n)]
        r.skip_strings(n)
        return None
    for _ in range(n):
        _value(r, etype, key, h, depth + 1)
    return None


def _parse(r: _Reader, h: _Header) -> None:
    r.skip(8)
    h.tensor_count, h.kv_count = r.count(), r.count()
    if (h.tensor_count + h.kv_count) * _MIN_ITEM > r.size - r.pos:
        raise _Truncated(f"header declares {h.tensor_count:,} tensors and {h.kv_count:,} keys; the file cannot "
                         "hold them")
    for n in (h.tensor_count, h.kv_count):
        if n > r.ctx.limits.max_metadata_items:
            raise _Limit(f"header declares {n:,} items (limit {r.ctx.limits.max_metadata_items:,})")
    for i in range(h.kv_count):
        r.tick()
        key_len = r.count()
        if key_len > r.size - r.pos:
            raise _Truncated(f"metadata key {i} declares {key_len:,} bytes, only {r.size - r.pos:,} remain")
        if key_len > _MAX_KEY:
            raise _Hostile(f"metadata key {i} is {key_len:,} bytes long")
        key = r.take(key_len).decode("utf-8", "replace")
        if key in h.values or key in h.arrays:
            h.duplicates.append(f"key {key}")
        value = _value(r, r.unpack("I"), key, h, 0)
        if value is not None:
            h.values[key] = value
    names: set[str] = set()
    for i in range(h.tensor_count):
        r.tick()
        name, length = r.string(256)
        if length > 64:
            raise _Hostile(f"tensor {i} has a {length:,}-byte name (loaders allow 64)")
        n_dims = r.unpack("I")
        if n_dims > 4:
            raise _Hostile(f"tensor {name!r} declares {n_dims:,} dimensions (at most 4)")
        dims = [r.count() for _ in range(n_dims)]
        ggml_type, offset = r.unpack("I"), r.unpack("Q")
        if any(d >= 1 << 63 for d in dims) or _numel(dims) >= 1 << 63:
            raise _Hostile(f"tensor {name!r} dims {dims} overflow a 64-bit element count")
        if ggml_type > 4096:
            raise _Hostile(f"tensor {name!r} has type id {ggml_type}")
        if name in names:
            h.duplicates.append(f"tensor {name}")
        names.add(name)
        h.tensors.append((name, dims, ggml_type, offset))
    h.end = r.pos


def _numel(dims: list[int]) -> int:
    total = 1
    for d in dims:
        total *= d
    return total


def _tensor_checks(h: _Header, size: int, reasons: list[Reason]) -> dict[str, Any]:
    align = h.values.get("general.alignment", 32)
    if not isinstance(align, int) or align <= 0 or align & (align - 1):
        reasons.append(GGUF_HOSTILE.reason(f"general.alignment is {align!r}: not a power of two"))
        return {}
    data_start = -(-h.end // align) * align
    expected, params = 0, 0
    by_type: dict[str, int] = {}
    unknown: set[int] = set()
    for name, dims, ggml_type, offset in h.tensors:
        numel = _numel(dims)
        params += numel
        traits = GGML_TYPES.get(ggml_type)
        if traits is None:
            unknown.add(ggml_type)
            expected = -1  # layout of unknown types cannot be followed
            continue
        tname, block, nbytes = traits
        if dims and dims[0] % block:
            reasons.append(GGUF_HOSTILE.reason(f"tensor {name!r}: {dims[0]} elements per row is not a multiple of "
                                               f"the {tname} block size {block}", location=f"tensor {name}"))
            return {"parameter_count": params}
        length = numel // block * nbytes
        by_type[tname] = by_type.get(tname, 0) + length
        where = f"tensor {name}"
        if offset % align or (expected >= 0 and offset != expected):
            reasons.append(GGUF_BOUNDS.reason(
                f"tensor {name!r} at offset {offset:,}, expected {expected:,} (aligned to {align})"
                if expected >= 0 else f"tensor {name!r} offset {offset:,} is not aligned to {align}",
                location=where, detail={"offset": offset, "expected": expected}))
            return {"parameter_count": params}
        if data_start + offset + length > size:
            if expected >= 0:
                reasons.append(MALFORMED.reason(f"file truncated: tensor {name!r} ends at byte "
                                                f"{data_start + offset + length:,}, file has {size:,}",
                                                location=where))
            else:
                reasons.append(GGUF_BOUNDS.reason(f"tensor {name!r} runs past the end of the file", location=where))
            return {"parameter_count": params}
        if expected >= 0:
            expected = offset + -(-length // align) * align
    dominant = max(by_type, key=by_type.__getitem__) if by_type else None
    return {"parameter_count": params, "tensor_types": sorted(by_type), "dominant_tensor_type": dominant,
            "unknown_tensor_types": sorted(unknown), "alignment": align, "data_offset": data_start}


def _metadata(h: _Header) -> dict[str, Any]:
    arch = str(h.values.get("general.architecture", ""))
    meta: dict[str, Any] = {"gguf_version": h.version, "tensor_count": h.tensor_count, "metadata_count": h.kv_count}
    for key in ("architecture", "name", "basename", "license", "finetune", "size_label", "organization",
                "version", "author", "license.link", "tags", "languages", "datasets", "base_model.count"):
        if f"general.{key}" in h.values:
            meta[key.replace(".", "_")] = h.values[f"general.{key}"]
    general = {k[8:]: v for k, v in h.values.items() if k.startswith("general.") and isinstance(v, str | int)}
    meta["general"] = dict(list(general.items())[:64])
    file_type = h.values.get("general.file_type")
    if isinstance(file_type, int):
        meta["file_type"] = FILE_TYPES.get(file_type, str(file_type))
    if arch and f"{arch}.context_length" in h.values:
        meta["context_length"] = h.values[f"{arch}.context_length"]
    if "tokenizer.ggml.model" in h.values:
        meta["tokenizer_model"] = h.values["tokenizer.ggml.model"]
    if "tokenizer.ggml.tokens" in h.arrays:
        meta["vocab_size"] = h.arrays["tokenizer.ggml.tokens"]
    meta["has_chat_template"] = bool(h.templates)
    meta["chat_templates"] = sorted({k for k, _, _ in h.templates})
    return meta


@analyzer(ModelFormat.GGUF)
def analyze_gguf(source: Source, ctx: ScanContext) -> Analysis:
    """Parse a GGUF header with every length checked, then check tensor extents and the chat templates."""
    out = Analysis()
    head = source.read_at(0, 8)
    if len(head) < 8 or head[:4] != MAGIC:
        out.reasons.append(MALFORMED.reason("no GGUF magic and version"))
        return out
    le, be = struct.unpack("<I", head[4:8])[0], struct.unpack(">I", head[4:8])[0]
    if le not in (1, 2, 3) and be not in (2, 3):
        out.reasons.append(MALFORMED.reason(f"unsupported GGUF version {le}"))
        return out
    h = _Header(version=le if le in (1, 2, 3) else be)
    r = _Reader(source, "<" if le in (1, 2, 3) else ">", h.version >= 2, ctx)
    complete = False
    try:
        _parse(r, h)
        complete = True
    except _Truncated as exc:
        out.reasons.append(MALFORMED.reason(f"truncated or lying length: {exc}", location=f"offset {r.pos}"))
    except _Hostile as exc:
        out.reasons.append(GGUF_HOSTILE.reason(str(exc), location=f"offset {r.pos}"))
    except _Limit as exc:
        out.reasons.append(LIMIT_REACHED.reason(str(exc), location=f"offset {r.pos}"))
    for item in h.duplicates[:20]:
        out.reasons.append(GGUF_DUPLICATE.reason(f"duplicate {item}", location=item))
    out.metadata.update(_metadata(h))
    if complete:
        out.metadata.update(_tensor_checks(h, source.size, out.reasons))
    quant = out.metadata.get("file_type") or out.metadata.get("dominant_tensor_type")
    if quant:
        out.metadata["quantization"] = str(quant).removeprefix("MOSTLY_")
    for key, text, length in h.templates:
        if length > MAX_TEMPLATE_CHARS:
            out.reasons.append(LIMIT_REACHED.reason(f"{key} is {length:,} bytes; templates up to "
                                                    f"{MAX_TEMPLATE_CHARS:,} are analysed", location=f"key {key}"))
            continue
        out.reasons.extend(analyze_chat_template(text, location=f"key {key}"))
    return out
