"""A small, bounded reader of the protobuf wire format (no schema, no generated code, no protobuf package).

TensorFlow SavedModel / GraphDef and ONNX ModelProto are protobuf messages. Their analysers need only a few fields
(op names, operator domains, external-data entries), so this module reads the wire format directly: tags, varints,
fixed-width values and length-delimited payloads, which are returned as zero-copy :class:`memoryview` slices.

Every read is bounds-checked; a truncated or lying length raises :class:`ProtoError` instead of over-reading, and
deprecated groups are skipped with a nesting bound. Nothing is ever decoded eagerly or allocated from a length.
"""

from __future__ import annotations

import io
import mmap
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import BinaryIO

from anzhi.develop.models._source import Source

__all__ = [
    "I32",
    "I64",
    "LEN",
    "VARINT",
    "ProtoError",
    "Value",
    "first_int",
    "first_str",
    "group_fields",
    "is_text",
    "iter_fields",
    "mapped",
    "read_varint",
    "text",
]

VARINT, I64, LEN, SGROUP, EGROUP, I32 = 0, 1, 2, 3, 4, 5
_MAX_FIELD = (1 << 29) - 1
_MAX_GROUP_DEPTH = 32

Buffer = bytes | bytearray | memoryview
Value = int | memoryview


class ProtoError(ValueError):
    """The bytes are not a well-formed protobuf message (truncated, bad tag, lying length)."""


def read_varint(buf: Buffer, pos: int, end: int) -> tuple[int, int]:
    """Decode one base-128 varint at ``pos``; returns ``(value, next_pos)``.

    Raises:
        ProtoError: the varint runs past ``end`` or is longer than ten bytes.
    """
    result = 0
    shift = 0
    while True:
        if pos >= end:
            raise ProtoError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise ProtoError("varint longer than 10 bytes")


def _skip_group(view: memoryview, pos: int, end: int, number: int, depth: int) -> int:
    if depth > _MAX_GROUP_DEPTH:
        raise ProtoError("groups nested too deeply")
    while True:
        tag, pos = read_varint(view, pos, end)
        wire, inner = tag & 7, tag >> 3
        if wire == EGROUP:
            if inner != number:
                raise ProtoError("mismatched end-group tag")
            return pos
        pos = _skip_value(view, pos, end, wire, inner, depth + 1)


def _skip_value(view: memoryview, pos: int, end: int, wire: int, number: int, depth: int) -> int:
    if wire == VARINT:
        return read_varint(view, pos, end)[1]
    if wire in (I64, I32):
        pos += 8 if wire == I64 else 4
    elif wire == LEN:
        length, pos = read_varint(view, pos, end)
        pos += length
    elif wire == SGROUP:
        return _skip_group(view, pos, end, number, depth)
    else:
        raise ProtoError(f"invalid wire type {wire}")
    if pos > end:
        raise ProtoError("field runs past the end of its message")
    return pos


def iter_fields(data: Buffer) -> Iterator[tuple[int, int, Value]]:
    """Yield ``(field_number, wire_type, value)`` for each field of one message.

    ``value`` is an ``int`` for varint and fixed-width fields (raw little-endian bits for fixed ones) and a
    :class:`memoryview` slice for length-delimited fields. Groups are skipped.

    Raises:
        ProtoError: on any malformed tag or length (fields before the error have been yielded).
    """
    view = data if isinstance(data, memoryview) else memoryview(data)
    pos, end = 0, len(view)
    while pos < end:
        tag, pos = read_varint(view, pos, end)
        number, wire = tag >> 3, tag & 7
        if number == 0 or number > _MAX_FIELD:
            raise ProtoError(f"invalid field number {number}")
        if wire == VARINT:
            value, pos = read_varint(view, pos, end)
            yield number, wire, value
        elif wire == LEN:
            length, pos = read_varint(view, pos, end)
            if pos + length > end:
                raise ProtoError(f"field {number} declares {length} bytes, only {end - pos} remain")
            yield number, wire, view[pos : pos + length]
            pos += length
        elif wire in (I64, I32):
            width = 8 if wire == I64 else 4
            if pos + width > end:
                raise ProtoError(f"truncated fixed-width field {number}")
            yield number, wire, int.from_bytes(view[pos : pos + width], "little")
            pos += width
        elif wire == SGROUP:
            pos = _skip_group(view, pos, end, number, 0)
        else:
            raise ProtoError(f"invalid wire type {wire} for field {number}")


def group_fields(data: Buffer) -> dict[int, list[Value]]:
    """All fields of one message, grouped by field number, in order."""
    out: dict[int, list[Value]] = {}
    for number, _wire, value in iter_fields(data):
        out.setdefault(number, []).append(value)
    return out


def text(value: Value, limit: int = 4096) -> str:
    """A length-delimited value as text (UTF-8, invalid bytes replaced), cut to ``limit`` characters."""
    if isinstance(value, int):
        return str(value)
    return bytes(value[: limit * 4]).decode("utf-8", "replace")[:limit]


def first_str(fields: dict[int, list[Value]], number: int, limit: int = 4096) -> str:
    """The last occurrence of a string field (protobuf's "last one wins"), or ``""``."""
    for value in reversed(fields.get(number, [])):
        if isinstance(value, memoryview):
            return text(value, limit)
    return ""


def first_int(fields: dict[int, list[Value]], number: int) -> int | None:
    """The last occurrence of an integer field, or None."""
    for value in reversed(fields.get(number, [])):
        if isinstance(value, int):
            return value
    return None


def is_text(value: Buffer, max_len: int = 256) -> bool:
    """True when the bytes are short, valid UTF-8 without control characters (a name, not a message)."""
    if len(value) > max_len:
        return False
    try:
        decoded = bytes(value).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(ch.isprintable() for ch in decoded)


@contextmanager
def mapped(source: Source) -> Iterator[memoryview]:
    """The whole source as one read-only buffer: memory-mapped for real files, in memory otherwise.

    Protobuf has no index, so a message must be walked from its start; mapping keeps a large frozen graph or ONNX
    file with inline weights out of the heap (only the pages the walk touches are read).
    """
    stream: BinaryIO = source.open()
    mm: mmap.mmap | None = None
    try:
        try:
            fileno = stream.fileno()
        except (OSError, io.UnsupportedOperation):
            fileno = -1
        if fileno >= 0 and source.size > 0:
            mm = mmap.mmap(fileno, 0, access=mmap.ACCESS_READ)
            view = memoryview(mm)
        else:
            view = memoryview(stream.read())
        try:
            yield view
        finally:
            view.release()
    finally:
        if mm is not None:
            with suppress(BufferError):  # a slice is still referenced (e.g. by a traceback); the GC closes it later
                mm.close()
        stream.close()
