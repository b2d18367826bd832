"""Fuzzing the scanner: random bytes and damaged archives never raise, never hang, always give a verdict."""

from __future__ import annotations

import io
import os
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anzhi.develop.models import FileResult, ModelFormat, Verdict, scan_bytes, scan_file

PER_CALL_SECONDS = 2.0
# ANZHI_FUZZ_EXAMPLES=5000 runs a long random campaign; the suite runs a short, repeatable one.
_LONG = os.environ.get("ANZHI_FUZZ_EXAMPLES")
FAST = settings(max_examples=int(_LONG or 300), deadline=None, suppress_health_check=[HealthCheck.too_slow],
                derandomize=not _LONG)


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("archive/data.txt", b"weights " * 40)
        archive.writestr("inner.zip", _inner())
    return buffer.getvalue()


def _inner() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("x.txt", b"hello")
    return buffer.getvalue()


def _tar(mode: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:  # type: ignore[call-overload]
        for name, data in (("a.txt", b"abc" * 100), ("inner.zip", _inner())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


SEEDS = [_zip(), _tar("w"), _tar("w:gz"), _tar("w:bz2")]


def _check(result: FileResult, started: float) -> None:
    assert time.monotonic() - started < PER_CALL_SECONDS
    assert isinstance(result.verdict, Verdict)
    for item in result.walk():
        assert isinstance(item.format, ModelFormat)
        for reason in item.reasons:
            assert reason.rule_id.startswith("MODEL-4")


@FAST
@given(st.binary(max_size=4096))
def test_scan_file_random_bytes(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.bin"
        path.write_bytes(data)
        started = time.monotonic()
        result = scan_file(path)
    _check(result, started)
    assert result.sha256 is not None


@FAST
@given(st.sampled_from(SEEDS), st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=8),
       st.one_of(st.none(), st.integers(0, 10**6)))
def test_damaged_archives(seed: bytes, flips: list[tuple[int, int]], cut: int | None) -> None:
    data = bytearray(seed)
    for position, value in flips:
        data[position % len(data)] = value
    if cut is not None:
        data = data[: cut % (len(data) + 1)]
    started = time.monotonic()
    result = scan_bytes(bytes(data), name="damaged")
    _check(result, started)
    errors = [r for item in result.walk() for r in item.reasons if "exception" in r.detail]
    if result.format in (ModelFormat.ZIP, ModelFormat.TAR):  # the container analysers never crash on bad input
        assert errors == [], errors


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.sampled_from([f for f in ModelFormat if f not in (ModelFormat.DIRECTORY, ModelFormat.UNKNOWN)]),
       st.binary(max_size=2048))
def test_every_analyser_survives_random_bytes(fmt: ModelFormat, data: bytes) -> None:
    started = time.monotonic()
    result = scan_bytes(data, format=fmt)
    _check(result, started)
    assert result.format is fmt or result.reasons
