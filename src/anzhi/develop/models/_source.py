"""Where bytes come from: a file on disk or an archive member in memory; and the per-scan limits."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

__all__ = ["BytesSource", "FileSource", "ScanLimits", "Source"]


@dataclass(frozen=True)
class ScanLimits:
    """Bounds on work per file, so a bomb or a huge file cannot hang or exhaust the scanner."""

    max_pickle_bytes: int = 512 * 1024 * 1024
    max_pickle_opcodes: int = 5_000_000
    max_member_bytes: int = 256 * 1024 * 1024
    max_members: int = 10_000
    max_total_uncompressed: int = 8 * 1024 * 1024 * 1024
    max_compression_ratio: float = 200.0
    max_depth: int = 4
    max_header_bytes: int = 100 * 1024 * 1024
    max_metadata_items: int = 1_000_000
    seconds_per_file: float = 60.0


class Source(Protocol):
    """Random and streaming access to one file's bytes. ``name`` is what reports show (``a.zip!b/data.pkl``)."""

    @property
    def name(self) -> str:
        """Display path."""
        ...

    @property
    def size(self) -> int:
        """Size in bytes."""
        ...

    def read_at(self, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes from ``offset`` (fewer at the end of the file)."""
        ...

    def open(self) -> BinaryIO:
        """A seekable binary stream positioned at 0; the caller closes it."""
        ...


class FileSource:
    """A file on disk, read on demand (never wholly loaded)."""

    def __init__(self, path: Path, name: str | None = None) -> None:
        self.path = path
        self._name = name or str(path)
        self._size = path.stat().st_size

    @property
    def name(self) -> str:
        """Display path."""
        return self._name

    @property
    def size(self) -> int:
        """Size in bytes."""
        return self._size

    def read_at(self, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes from ``offset``."""
        with self.path.open("rb") as handle:
            return os.pread(handle.fileno(), max(0, length), offset)

    def open(self) -> BinaryIO:
        """The file opened for reading."""
        return self.path.open("rb")


class BytesSource:
    """Bytes already in memory (an archive member read within the limits)."""

    def __init__(self, name: str, data: bytes) -> None:
        self._name = name
        self.data = data

    @property
    def name(self) -> str:
        """Display path."""
        return self._name

    @property
    def size(self) -> int:
        """Size in bytes."""
        return len(self.data)

    def read_at(self, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes from ``offset``."""
        return self.data[offset : offset + max(0, length)]

    def open(self) -> BinaryIO:
        """A stream over the bytes."""
        return io.BytesIO(self.data)
