"""safetensors: the header checked the way the reference loader checks it, from one small read.

A safetensors file is ``u64 N`` (little-endian), ``N`` bytes of JSON, then the data area. The format cannot carry
code; what can go wrong is a header that makes a loader read out of bounds, alias tensors, or hide bytes. Only the
first 64 KiB are read (a second read only for larger headers); tensor data is never touched, so a 5 GB file costs
one small read. Checks, in the order the reference implementation applies them:

MODEL-470: header length beyond the file or the ``max_header_bytes`` limit — invalid.
MODEL-471: header is not a UTF-8 JSON object starting with ``{``, or a tensor entry lacks dtype / shape /
data_offsets of the right types — invalid.
MODEL-472: unknown dtype — invalid.
MODEL-473: dtype × shape ≠ the tensor's byte length — invalid.
MODEL-474: offsets reversed or beyond the data area, not explained by truncation — review, high severity:
loaders that trust offsets read out of bounds (CWE-125); the reference loader refuses the file.
MODEL-475: tensors overlap (two names alias the same bytes) — invalid (the format requires disjoint ranges).
MODEL-476: bytes no tensor covers (holes or trailing data: room to hide a payload) — invalid.
MODEL-477: data area shorter than the header declares (truncated download) — invalid.
MODEL-478: duplicate tensor names or JSON keys — invalid (parsers disagree on which copy wins).
MODEL-479: ``__metadata__`` is not a string → string map — invalid.

Decision on bounds (documented per the issue): out-of-bounds offsets cannot run code and the reference loader
rejects them, so they are *review* with high severity (a memory-safety risk for other loaders), not *dangerous*;
a layout that is otherwise consistent but longer than the file is reported as truncation. Added in 0.1.0.
"""

from __future__ import annotations

import json
import struct
from typing import Any

from anzhi.develop.models._registry import Analysis, ScanContext, analyzer
from anzhi.develop.models._result import ModelFormat, Reason, Verdict
from anzhi.develop.models._rules import MALFORMED, Rule, register_rules
from anzhi.develop.models._source import Source
from anzhi.findings import Confidence, Severity

__all__ = ["DTYPE_BITS", "ST_BOUNDS", "ST_DTYPE", "ST_DUPLICATE", "ST_GAP", "ST_HEADER_JSON", "ST_HEADER_SIZE",
           "ST_METADATA", "ST_OVERLAP", "ST_SIZE", "ST_TRUNCATED", "analyze_safetensors", "looks_like_safetensors"]


def _invalid(rule_id: str, title: str, doc: str, cwe: str = "CWE-20") -> Rule:
    return Rule(rule_id, title, Severity.LOW, Confidence.HIGH, Verdict.INVALID, doc, cwe=cwe)


ST_HEADER_SIZE = _invalid(
    "MODEL-470", "safetensors header length out of bounds",
    "The 8-byte header length points past the end of the file or beyond the header size limit. Loaders refuse it "
    "(or, unchecked, allocate the declared size). Get a clean copy.")
ST_HEADER_JSON = _invalid(
    "MODEL-471", "safetensors header is not valid",
    "The header is not a UTF-8 JSON object starting with '{', or a tensor entry lacks a string dtype, a list of "
    "non-negative integer shape, or two integer data_offsets. The reference loader refuses it.")
ST_DTYPE = _invalid(
    "MODEL-472", "safetensors unknown dtype",
    "A tensor declares a dtype the format does not define, so its size cannot be checked and loaders refuse it.")
ST_SIZE = _invalid(
    "MODEL-473", "safetensors tensor size does not match dtype × shape",
    "A tensor's byte range is not the number of elements times the dtype size. Loaders that trust the shape read "
    "past the range; the reference loader refuses the file.", cwe="CWE-130")
ST_BOUNDS = Rule(
    "MODEL-474", "safetensors offsets out of bounds", Severity.HIGH, Confidence.MEDIUM, Verdict.REVIEW,
    "A tensor's data_offsets are reversed or reach beyond the data area in a way truncation does not explain. "
    "The reference loader refuses the file, but loaders that map the file and trust offsets read memory out of "
    "bounds (a crash or an information leak). Do not load it with custom or older loaders.", cwe="CWE-125")
ST_OVERLAP = Rule(
    "MODEL-475", "safetensors tensors overlap", Severity.MEDIUM, Confidence.HIGH, Verdict.INVALID,
    "Two tensors share bytes, so one name aliases another; in-place writes through one change the other and "
    "loaders that assume disjoint ranges misbehave. Writers never produce this; re-export the weights.",
    cwe="CWE-119")
ST_GAP = _invalid(
    "MODEL-476", "safetensors bytes not covered by any tensor",
    "The data area has holes between tensors or trailing bytes after the last one. The reference loader refuses "
    "it, and unreferenced bytes are room to smuggle a payload (a second file appended to the weights).")
ST_TRUNCATED = _invalid(
    "MODEL-477", "safetensors data area truncated",
    "The header's tensors are consistent but need more bytes than the file has: an interrupted download, or a "
    "file crafted to make loaders read past its end. Get a complete copy.")
ST_DUPLICATE = _invalid(
    "MODEL-478", "safetensors duplicate names",
    "A tensor name or JSON key occurs twice in the header. JSON parsers disagree on which copy wins, so a scanner "
    "and a loader can see different tensors.")
ST_METADATA = _invalid(
    "MODEL-479", "safetensors __metadata__ is not a string map",
    "__metadata__ must map strings to strings; the reference loader refuses anything else.")

register_rules(ST_HEADER_SIZE, ST_HEADER_JSON, ST_DTYPE, ST_SIZE, ST_BOUNDS, ST_OVERLAP, ST_GAP, ST_TRUNCATED,
               ST_DUPLICATE, ST_METADATA)

#: dtype -> bits per element (the safetensors Dtype enum, including the sub-byte MX types).
DTYPE_BITS: dict[str, int] = {
    "BOOL": 8, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8, "F8_E4M3FNUZ": 8, "F8_E5M2FNUZ": 8,
    "I16": 16, "U16": 16, "F16": 16, "BF16": 16, "I32": 32, "U32": 32, "F32": 32, "I64": 64, "U64": 64, "F64": 64,
    "C64": 64, "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6,
}
_FIRST_READ = 64 * 1024
_MAX_REASONS = 10


def looks_like_safetensors(head: bytes, size: int | None = None) -> bool:
    """A plausible header length (within ``size`` when given) followed by a header that opens a JSON object.

    Without ``size`` the length is only bounded by 100 MiB, the reference loader's own header limit.
    """
    if len(head) < 10 or head[8:9] != b"{":
        return False
    length: int = struct.unpack("<Q", head[:8])[0]
    return 2 <= length <= (size - 8 if size is not None else 100 * 1024 * 1024)


class _DuplicateKey(ValueError):
    """JSON object with a repeated key."""


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


class _Problems:
    def __init__(self) -> None:
        self.reasons: list[Reason] = []
        self.counts: dict[str, int] = {}

    def add(self, rule: Rule, message: str, tensor: str = "", **detail: Any) -> None:
        self.counts[rule.id] = self.counts.get(rule.id, 0) + 1
        if self.counts[rule.id] <= _MAX_REASONS:
            self.reasons.append(rule.reason(message, location=f"tensor {tensor[:120]}" if tensor else "header",
                                            detail={"tensor": tensor[:200], **detail} if tensor else detail))

    def finish(self) -> list[Reason]:
        for rule_id, count in self.counts.items():
            if count > _MAX_REASONS:
                first = next(r for r in self.reasons if r.rule_id == rule_id)
                self.reasons.append(Reason(first.rule_id, f"… and {count - _MAX_REASONS} more like this",
                                           first.severity, first.confidence, first.verdict, "header",
                                           {"more": count - _MAX_REASONS}))
        return self.reasons


def _entries(header: dict[str, Any], p: _Problems) -> list[tuple[str, str, list[int], int, int]]:
    """Tensors whose entries are well-typed: (name, dtype, shape, begin, end)."""
    out = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if not isinstance(info, dict):
            p.add(ST_HEADER_JSON, f"tensor {name!r} is not an object", name)
            continue
        dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
        if not isinstance(dtype, str) or not isinstance(shape, list) or not all(_int(d) for d in shape) \
                or not isinstance(offsets, list) or len(offsets) != 2 or not all(_int(o) for o in offsets):
            p.add(ST_HEADER_JSON, f"tensor {name!r} needs a string dtype, a non-negative integer shape and two "
                  "non-negative integer data_offsets", name)
            continue
        if dtype not in DTYPE_BITS:
            p.add(ST_DTYPE, f"tensor {name!r} has unknown dtype {dtype[:40]!r}", name, dtype=dtype[:40])
            continue
        out.append((name, dtype, shape, offsets[0], offsets[1]))
    return out


def _layout(tensors: list[tuple[str, str, list[int], int, int]], data_size: int, p: _Problems,
            complete: bool) -> int:
    """Check sizes, order, overlap and coverage; returns the parameter count.

    ``complete`` is False when some entries were rejected already: their bytes are unaccounted for, so holes are
    not reported again.
    """
    params, consistent = 0, True
    for name, dtype, shape, begin, end in tensors:
        numel = 1
        for dim in shape:
            numel *= dim
        params += numel
        bits = numel * DTYPE_BITS[dtype]
        if begin > end:
            p.add(ST_BOUNDS, f"tensor {name!r} offsets are reversed ({begin:,} > {end:,})", name)
            consistent = False
        elif bits % 8 or bits // 8 != end - begin:
            p.add(ST_SIZE, f"tensor {name!r}: {dtype} {shape} needs {bits / 8:,.1f} bytes, offsets give "
                  f"{end - begin:,}", name, expected_bits=bits, actual_bytes=end - begin)
            consistent = False
    cursor = 0
    for name, _dtype, _shape, begin, end in sorted(tensors, key=lambda t: (t[3], t[4])):
        if begin < cursor:
            p.add(ST_OVERLAP, f"tensor {name!r} [{begin:,}, {end:,}) overlaps bytes before {cursor:,}", name)
            consistent = False
        elif begin > cursor:
            consistent = False
            if complete:
                p.add(ST_GAP, f"{begin - cursor:,} bytes before tensor {name!r} belong to no tensor", name,
                      gap=begin - cursor)
        cursor = max(cursor, end)
    if cursor > data_size:
        if consistent:
            p.add(ST_TRUNCATED, f"tensors need {cursor:,} data bytes, the file has {data_size:,}",
                  needed=cursor, available=data_size)
        else:
            for name, _dtype, _shape, _begin, end in tensors:
                if end > data_size:
                    p.add(ST_BOUNDS, f"tensor {name!r} ends at {end:,}, past the {data_size:,}-byte data area",
                          name, end=end, data_size=data_size)
    elif cursor < data_size and complete:
        p.add(ST_GAP, f"{data_size - cursor:,} trailing bytes after the last tensor", trailing=data_size - cursor)
    return params


@analyzer(ModelFormat.SAFETENSORS)
def analyze_safetensors(source: Source, ctx: ScanContext) -> Analysis:
    """Validate a safetensors header (length, JSON, dtypes, sizes, offsets) without reading tensor data."""
    out = Analysis()
    size = source.size
    first = source.read_at(0, min(size, 8 + _FIRST_READ))
    if len(first) < 8:
        out.reasons.append(MALFORMED.reason(f"{len(first)} bytes: shorter than the 8-byte header length"))
        return out
    length = struct.unpack("<Q", first[:8])[0]
    out.metadata["header_bytes"] = length
    if length > size - 8 or length > ctx.limits.max_header_bytes:
        limit = f"the {size - 8:,} bytes after it" if length > size - 8 else \
            f"the {ctx.limits.max_header_bytes:,}-byte header limit"
        out.reasons.append(ST_HEADER_SIZE.reason(f"header length {length:,} exceeds {limit}",
                                                 detail={"header_bytes": length, "file_bytes": size}))
        return out
    raw = first[8 : 8 + length]
    if len(raw) < length:
        raw += source.read_at(len(first), 8 + length - len(first))
    p = _Problems()
    try:
        if raw[:1] != b"{":
            raise ValueError("header does not start with '{'")
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_pairs, parse_constant=_no_constant)
    except _DuplicateKey as exc:
        out.reasons.append(ST_DUPLICATE.reason(f"header repeats the key {str(exc)[:120]!r}",
                                               detail={"key": str(exc)[:200]}))
        return out
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        out.reasons.append(ST_HEADER_JSON.reason(f"header is not a JSON object: {exc}"[:300]))
        return out
    if not isinstance(header, dict):
        out.reasons.append(ST_HEADER_JSON.reason("header is JSON but not an object"))
        return out
    meta = header.get("__metadata__", {})
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        p.add(ST_METADATA, "__metadata__ is not a string → string map")
        meta = {}
    tensors = _entries(header, p)
    data_size = size - 8 - length
    params = _layout(tensors, data_size, p, complete=len(tensors) == len(header) - ("__metadata__" in header))
    out.reasons.extend(p.finish())
    dtypes: dict[str, int] = {}
    for _name, dtype, *_ in tensors:
        dtypes[dtype] = dtypes.get(dtype, 0) + 1
    out.metadata.update({
        "tensor_count": len(header) - ("__metadata__" in header), "parameter_count": params, "dtypes": dtypes,
        "data_bytes": data_size,
        "metadata": {str(k)[:128]: str(v)[:256] for k, v in list(meta.items())[:32]},
    })
    return out
