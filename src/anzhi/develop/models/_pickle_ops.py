"""A pickle opcode walker of our own: decodes every opcode of protocols 0–5 without loading anything.

Nothing here imports or unpickles. Large payloads (``BINBYTES8``, ``BYTEARRAY8``, long strings) are skipped by
seeking, never read into memory: the walker yields a :class:`Blob` that records their kind and length. The walker
keeps going after ``STOP`` (several pickles may sit back to back), and stops at the end of the data, at the first
byte that is not an opcode, or at a limit; it raises :class:`PickleStreamError` saying which.

``pickle``/``pickletools`` are not used for decoding: ``pickletools.genops`` reads whole payloads into memory.
"""

from __future__ import annotations

import codecs
import lzma
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

__all__ = [
    "MAX_PROTOCOL",
    "OPCODE_NAMES",
    "Blob",
    "ByteReader",
    "PickleStreamError",
    "iter_ops",
]

#: The highest pickle protocol Python defines.
MAX_PROTOCOL = 5
#: Byte and string payloads up to these sizes are read; larger ones are skipped and reported as a :class:`Blob`.
BYTES_CAP = 64 * 1024
STR_CAP = 1024 * 1024
#: Longest integer payload (LONG4, INT/LONG lines) decoded; longer ones become a Blob.
LONG_CAP = 4096
_CHUNK = 1024 * 1024


class PickleStreamError(Exception):
    """The walk cannot go on.

    ``truncated``: the data ends inside an opcode; ``limit``: a scan limit; neither: a byte that is not an opcode,
    or an argument no unpickler accepts.
    """

    def __init__(self, offset: int, message: str, *, truncated: bool = False, limit: bool = False) -> None:
        super().__init__(message)
        self.offset = offset
        self.message = message
        self.truncated = truncated
        self.limit = limit


@dataclass(frozen=True, slots=True)
class Blob:
    """A payload that was skipped, not read: its kind (``bytes``, ``str``, ``bytearray``, ``int``) and length."""

    kind: str
    length: int
    offset: int


class ByteReader:
    """Buffered reading from a stream with skipping by seek; counts what it reads against a byte budget.

    ``end`` is where the data ends (exclusive, absolute; ``None`` when unknown, as for a decompressing stream); it
    can be narrowed for a while with :meth:`set_end` to walk a region. ``budget`` bounds the bytes actually read
    (skipped payloads do not count).
    """

    def __init__(self, stream: BinaryIO | None, *, start: int = 0, end: int | None = None, budget: int = 1 << 62,
                 data: bytes | None = None) -> None:
        self._stream = stream
        self._seekable = bool(stream is not None and stream.seekable())
        self._buf = data if data is not None else b""
        self._off = 0 if data is not None else start
        self._i = start if data is not None else 0
        self._end = end if data is None else min(len(data), end if end is not None else len(data))
        self._eof = data is not None
        self._budget = budget
        self._lim = self._compute_lim()

    @classmethod
    def from_bytes(cls, data: bytes, start: int = 0) -> ByteReader:
        """A reader over bytes already in memory."""
        return cls(None, start=start, data=data)

    # -- position ---------------------------------------------------------------------------------------------
    @property
    def pos(self) -> int:
        """The absolute offset of the next byte."""
        return self._off + self._i

    @property
    def end(self) -> int | None:
        """Where the data ends, if known."""
        return self._end

    def set_end(self, end: int | None) -> None:
        """Narrow (or restore) where the data ends, e.g. to walk one region as if it were all there is."""
        self._end = end
        self._lim = self._compute_lim()

    def _compute_lim(self) -> int:
        if self._end is None:
            return len(self._buf)
        return max(0, min(len(self._buf), self._end - self._off))

    # -- reading ----------------------------------------------------------------------------------------------
    def _fill(self, want: int) -> bool:
        """Make at least ``want`` unread bytes available if the data has them; False at the end."""
        if self._lim - self._i >= want:
            return True
        if self._stream is None or self._eof:
            return False
        if self._end is not None and self.pos + want > self._end:
            return False
        keep = self._buf[self._i:self._lim]
        self._off += self._i
        self._i = 0
        missing = want - len(keep)
        if missing > self._budget:
            raise PickleStreamError(self.pos, "byte limit reached", limit=True)
        need = min(max(missing, _CHUNK), self._budget)
        if self._seekable:
            self._stream.seek(self._off + len(keep))
        parts = [keep]
        got = 0
        while got < need:
            try:
                chunk = self._stream.read(need - got)
            except (OSError, EOFError, ValueError, zlib.error, lzma.LZMAError) as exc:
                raise PickleStreamError(self.pos, f"the data cannot be read: {exc}", truncated=True) from exc
            if not chunk:
                self._eof = True
                break
            parts.append(chunk)
            got += len(chunk)
        self._budget -= got
        self._buf = b"".join(parts)
        self._lim = self._compute_lim()
        return self._lim - self._i >= want

    def read(self, n: int) -> bytes:
        """Exactly ``n`` bytes, or :class:`PickleStreamError` (truncated)."""
        if self._i + n <= self._lim or self._fill(n):
            i = self._i
            self._i = i + n
            return self._buf[i:i + n]
        raise PickleStreamError(self.pos, f"data ends inside an opcode argument ({n} bytes wanted)", truncated=True)

    def peek(self, n: int) -> bytes:
        """Up to ``n`` next bytes, without moving on."""
        self._fill(n)
        return self._buf[self._i:min(self._i + n, self._lim)]

    def read_byte(self) -> int:
        """One byte as an int; -1 at the end of the data."""
        if self._i < self._lim or self._fill(1):
            self._i += 1
            return self._buf[self._i - 1]
        return -1

    def at_end(self) -> bool:
        """True when no byte is left."""
        return not (self._i < self._lim or self._fill(1))

    def readline(self, cap: int) -> tuple[bytes | None, int]:
        """A newline-terminated line (without the newline) and its length.

        The line is ``None`` (skipped) when longer than ``cap``.

        Raises:
            PickleStreamError: the data ends before a newline.
        """
        start = self.pos
        kept: list[bytes] = []
        length = 0
        while True:
            nl = self._buf.find(b"\n", self._i, self._lim)
            if nl >= 0:
                piece = self._buf[self._i:nl]
                self._i = nl + 1
                length += len(piece)
                if length > cap:
                    return None, length
                kept.append(piece)
                return b"".join(kept), length
            piece = self._buf[self._i:self._lim]
            length += len(piece)
            if length <= cap:
                kept.append(piece)
            else:
                kept.clear()
            self._i = self._lim
            if not self._fill(1):
                raise PickleStreamError(start, "data ends inside a text argument (no newline)", truncated=True)

    def skip(self, n: int) -> None:
        """Move ``n`` bytes on without reading them where the stream can seek."""
        if n <= self._lim - self._i:
            self._i += n
            return
        target = self.pos + n
        if self._end is not None and target > self._end:
            raise PickleStreamError(self.pos, f"data ends inside a {n:,}-byte payload", truncated=True)
        if self._seekable and self._stream is not None:
            self._buf, self._off, self._i, self._lim = b"", target, 0, 0
            return
        left = n
        while left > 0:
            avail = self._lim - self._i
            if avail == 0 and not self._fill(1):
                raise PickleStreamError(self.pos, f"data ends inside a {n:,}-byte payload", truncated=True)
            step = min(left, self._lim - self._i)
            self._i += step
            left -= step


# -- the opcode table -----------------------------------------------------------------------------------------
# Argument kinds.
_NONE, _U1, _U2, _I4, _U4, _U8, _LINE_INT, _LINE_LONG, _LINE_FLOAT, _LINE_STRING, _LINE_UNICODE, _LINE_PAIR, \
    _LINE_RAW, _STR1, _STR4, _BYTES1, _BYTES4, _BYTES8, _UNI1, _UNI4, _UNI8, _BYTEARRAY8, _LONG1, _LONG4, \
    _FLOAT8 = range(25)

_TABLE: dict[int, tuple[str, int]] = {
    ord("("): ("MARK", _NONE), ord("."): ("STOP", _NONE), ord("0"): ("POP", _NONE),
    ord("1"): ("POP_MARK", _NONE), ord("2"): ("DUP", _NONE), ord("F"): ("FLOAT", _LINE_FLOAT),
    ord("I"): ("INT", _LINE_INT), ord("J"): ("BININT", _I4), ord("K"): ("BININT1", _U1),
    ord("L"): ("LONG", _LINE_LONG), ord("M"): ("BININT2", _U2), ord("N"): ("NONE", _NONE),
    ord("P"): ("PERSID", _LINE_RAW), ord("Q"): ("BINPERSID", _NONE), ord("R"): ("REDUCE", _NONE),
    ord("S"): ("STRING", _LINE_STRING), ord("T"): ("BINSTRING", _STR4), ord("U"): ("SHORT_BINSTRING", _STR1),
    ord("V"): ("UNICODE", _LINE_UNICODE), ord("X"): ("BINUNICODE", _UNI4), ord("a"): ("APPEND", _NONE),
    ord("b"): ("BUILD", _NONE), ord("c"): ("GLOBAL", _LINE_PAIR), ord("d"): ("DICT", _NONE),
    ord("}"): ("EMPTY_DICT", _NONE), ord("e"): ("APPENDS", _NONE), ord("g"): ("GET", _LINE_INT),
    ord("h"): ("BINGET", _U1), ord("i"): ("INST", _LINE_PAIR), ord("j"): ("LONG_BINGET", _U4),
    ord("l"): ("LIST", _NONE), ord("]"): ("EMPTY_LIST", _NONE), ord("o"): ("OBJ", _NONE),
    ord("p"): ("PUT", _LINE_INT), ord("q"): ("BINPUT", _U1), ord("r"): ("LONG_BINPUT", _U4),
    ord("s"): ("SETITEM", _NONE), ord("t"): ("TUPLE", _NONE), ord(")"): ("EMPTY_TUPLE", _NONE),
    ord("u"): ("SETITEMS", _NONE), ord("G"): ("BINFLOAT", _FLOAT8),
    0x80: ("PROTO", _U1), 0x81: ("NEWOBJ", _NONE), 0x82: ("EXT1", _U1), 0x83: ("EXT2", _U2),
    0x84: ("EXT4", _I4), 0x85: ("TUPLE1", _NONE), 0x86: ("TUPLE2", _NONE), 0x87: ("TUPLE3", _NONE),
    0x88: ("NEWTRUE", _NONE), 0x89: ("NEWFALSE", _NONE), 0x8A: ("LONG1", _LONG1), 0x8B: ("LONG4", _LONG4),
    ord("B"): ("BINBYTES", _BYTES4), ord("C"): ("SHORT_BINBYTES", _BYTES1),
    0x8C: ("SHORT_BINUNICODE", _UNI1), 0x8D: ("BINUNICODE8", _UNI8), 0x8E: ("BINBYTES8", _BYTES8),
    0x8F: ("EMPTY_SET", _NONE), 0x90: ("ADDITEMS", _NONE), 0x91: ("FROZENSET", _NONE),
    0x92: ("NEWOBJ_EX", _NONE), 0x93: ("STACK_GLOBAL", _NONE), 0x94: ("MEMOIZE", _NONE),
    0x95: ("FRAME", _U8), 0x96: ("BYTEARRAY8", _BYTEARRAY8), 0x97: ("NEXT_BUFFER", _NONE),
    0x98: ("READONLY_BUFFER", _NONE),
}
#: Opcode byte → name, for messages.
OPCODE_NAMES: dict[int, str] = {code: name for code, (name, _kind) in _TABLE.items()}
_KIND: list[int] = [-1] * 256
for _code, (_name, _kind) in _TABLE.items():
    _KIND[_code] = _kind

_I4_S = struct.Struct("<i")
_U2_S = struct.Struct("<H")
_U4_S = struct.Struct("<I")
_U8_S = struct.Struct("<Q")
_F8_S = struct.Struct(">d")

Arg = None | int | float | str | bytes | tuple[str, str] | Blob


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="surrogateescape")


def _line_int(reader: ByteReader, offset: int, name: str) -> int | bool:
    line, _n = reader.readline(LONG_CAP)
    if line is None:
        raise PickleStreamError(offset, f"{name} argument is too long")
    if name == "INT" and line in (b"00", b"01"):
        return line == b"01"
    if name == "LONG" and line.endswith(b"L"):
        line = line[:-1]
    try:
        return int(line, 0) if name != "GET" and name != "PUT" else int(line)
    except ValueError:
        raise PickleStreamError(offset, f"{name} argument {line[:40]!r} is not an integer") from None


def _payload(reader: ByteReader, offset: int, n: int, cap: int, kind: str) -> bytes | Blob:
    if n < 0:
        raise PickleStreamError(offset, f"negative {kind} length {n}")
    if n > cap:
        reader.skip(n)
        return Blob(kind, n, offset)
    return reader.read(n)


def _decode_arg(reader: ByteReader, code: int, kind: int, offset: int) -> Arg:
    if kind == _U1:
        return reader.read(1)[0]
    if kind == _I4:
        return int(_I4_S.unpack(reader.read(4))[0])
    if kind == _U2:
        return int(_U2_S.unpack(reader.read(2))[0])
    if kind == _U4:
        return int(_U4_S.unpack(reader.read(4))[0])
    if kind == _U8:
        return int(_U8_S.unpack(reader.read(8))[0])
    if kind in (_UNI1, _STR1, _BYTES1):
        raw = reader.read(reader.read(1)[0])
        return raw if kind == _BYTES1 else (_text(raw) if kind == _UNI1 else raw.decode("latin-1"))
    if kind in (_UNI4, _STR4, _BYTES4, _UNI8, _BYTES8, _BYTEARRAY8):
        if kind == _STR4:
            n = int(_I4_S.unpack(reader.read(4))[0])
        elif kind in (_UNI4, _BYTES4):
            n = int(_U4_S.unpack(reader.read(4))[0])
        else:
            n = int(_U8_S.unpack(reader.read(8))[0])
        tag = "str" if kind in (_UNI4, _UNI8, _STR4) else ("bytearray" if kind == _BYTEARRAY8 else "bytes")
        got = _payload(reader, offset, n, STR_CAP if tag == "str" else BYTES_CAP, tag)
        if isinstance(got, Blob) or tag != "str":
            return got
        return got.decode("latin-1") if kind == _STR4 else _text(got)
    if kind == _LINE_PAIR:
        module, _a = reader.readline(4096)
        name, _b = reader.readline(4096)
        if module is None or name is None:
            raise PickleStreamError(offset, f"{OPCODE_NAMES[code]} names are too long")
        return _text(module), _text(name)
    if kind in (_LINE_INT, _LINE_LONG):
        return _line_int(reader, offset, OPCODE_NAMES[code])
    if kind == _LINE_FLOAT:
        line, _n = reader.readline(LONG_CAP)
        try:
            return float(line) if line is not None else 0.0
        except ValueError:
            raise PickleStreamError(offset, "FLOAT argument is not a number") from None
    if kind == _LINE_STRING:
        line, n = reader.readline(STR_CAP)
        if line is None:
            return Blob("str", n, offset)
        if len(line) < 2 or line[0] != line[-1] or line[:1] not in (b"'", b'"'):
            raise PickleStreamError(offset, "the STRING opcode argument must be quoted")
        try:
            return codecs.escape_decode(line[1:-1])[0].decode("latin-1")
        except ValueError:
            raise PickleStreamError(offset, "STRING argument has a bad escape") from None
    if kind == _LINE_UNICODE:
        line, n = reader.readline(STR_CAP)
        if line is None:
            return Blob("str", n, offset)
        try:
            return line.decode("raw-unicode-escape")
        except UnicodeDecodeError:
            raise PickleStreamError(offset, "UNICODE argument has a bad escape") from None
    if kind == _LINE_RAW:
        line, n = reader.readline(STR_CAP)
        return Blob("str", n, offset) if line is None else line.decode("ascii", errors="replace")
    if kind in (_LONG1, _LONG4):
        n = reader.read(1)[0] if kind == _LONG1 else int(_I4_S.unpack(reader.read(4))[0])
        digits = _payload(reader, offset, n, LONG_CAP, "int")
        return digits if isinstance(digits, Blob) else int.from_bytes(digits, "little", signed=True)
    if kind == _FLOAT8:
        return float(_F8_S.unpack(reader.read(8))[0])
    raise PickleStreamError(offset, f"opcode {code:#04x} has no decoder")  # pragma: no cover - table is complete


def iter_ops(reader: ByteReader, max_ops: int) -> Iterator[tuple[int, int, Arg]]:
    """Yield ``(offset, opcode, argument)`` until the data ends; keep going after STOP.

    The caller may skip bytes with ``reader.skip`` between two steps (the walk goes on from there).

    Raises:
        PickleStreamError: a byte that is not an opcode, an argument that cannot be decoded, data that ends
            inside an opcode, or more than ``max_ops`` opcodes.
    """
    count = 0
    kinds = _KIND
    u2, u4 = _U2_S.unpack_from, _U4_S.unpack_from
    arg: Arg
    while True:
        buf, i, lim = reader._buf, reader._i, reader._lim  # fast path: decode small arguments in the buffer
        if i + 9 < lim:
            code = buf[i]
            offset = reader._off + i
            kind = kinds[code]
            if kind == _NONE:
                reader._i, arg = i + 1, None
            elif kind == _U1:
                reader._i, arg = i + 2, buf[i + 1]
            elif kind == _U4:
                reader._i, arg = i + 5, int(u4(buf, i + 1)[0])
            elif kind == _U2:
                reader._i, arg = i + 3, int(u2(buf, i + 1)[0])
            elif kind == _UNI1 and i + 2 + buf[i + 1] <= lim:
                end = i + 2 + buf[i + 1]
                reader._i, arg = end, buf[i + 2:end].decode("utf-8", "surrogateescape")
            elif kind == _UNI4 and (n := int(u4(buf, i + 1)[0])) <= STR_CAP and i + 5 + n <= lim:
                reader._i, arg = i + 5 + n, buf[i + 5:i + 5 + n].decode("utf-8", "surrogateescape")
            elif kind < 0:
                raise PickleStreamError(offset, f"byte {code:#04x} at offset {offset} is not a pickle opcode")
            else:
                reader._i = i + 1
                arg = _decode_arg(reader, code, kind, offset)
        else:
            offset = reader.pos
            code = reader.read_byte()
            if code < 0:
                return
            kind = kinds[code]
            if kind < 0:
                raise PickleStreamError(offset, f"byte {code:#04x} at offset {offset} is not a pickle opcode")
            arg = None if kind == _NONE else _decode_arg(reader, code, kind, offset)
        count += 1
        if count > max_ops:
            raise PickleStreamError(offset, f"more than {max_ops:,} opcodes", limit=True)
        yield offset, code, arg
