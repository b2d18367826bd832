"""The opcode walker: every opcode of protocols 0–5, payloads skipped not read, limits, truncation, bad bytes."""

from __future__ import annotations

import io
import pickle
import pickletools
import struct
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from anzhi.develop.models._pickle_analysis import PickleReport, analyse_pickle
from anzhi.develop.models._pickle_ops import OPCODE_NAMES, Blob, ByteReader, PickleStreamError, iter_ops
from anzhi.develop.models._pickle_policy import policy_for
from anzhi.develop.models._result import Verdict, worst_verdict


def ops(data: bytes) -> list[tuple[int, str, Any]]:
    return [(offset, OPCODE_NAMES[code], arg) for offset, code, arg in iter_ops(ByteReader.from_bytes(data), 10**6)]


def analyse(reader: ByteReader, **kwargs: Any) -> PickleReport:
    return analyse_pickle(reader, policy_for(), max_ops=kwargs.pop("max_ops", 10**6),
                          out_of_time=kwargs.pop("out_of_time", lambda: False), **kwargs)


def rules(report: PickleReport) -> set[str]:
    return {reason.rule_id for reason in report.reasons}


class Thing:
    def __init__(self) -> None:
        self.value = [1, 2.5, "x", b"y", None, True, (1,), {"k": frozenset({1})}]


SAMPLES = [
    {"a": [1, -1, 255, 65535, 2**31, -(2**31), 2**64, -(2**200), 1.5, "é", b"\x00" * 10, bytearray(b"ab")]},
    [None, True, False, (), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), set(), {1, 2}, frozenset({3}), "x" * 300],
    Thing(),
    {"shared": (s := "memo"), "again": s, "nested": [[[]]]},
]


@pytest.mark.parametrize("protocol", range(6))
@pytest.mark.parametrize("value", SAMPLES, ids=range(len(SAMPLES)))
def test_walk_matches_pickletools_on_every_protocol(protocol: int, value: Any) -> None:
    data = pickle.dumps(value, protocol=protocol)
    expected = [(pos, op.name) for op, _arg, pos in pickletools.genops(data)]
    assert [(offset, name) for offset, name, _arg in ops(data)] == expected
    for (_o, name, arg), (op, expected_arg, _p) in zip(ops(data), pickletools.genops(data), strict=True):
        if name in ("GLOBAL", "INST"):
            assert " ".join(arg) == expected_arg
        elif name in ("STRING", "BINSTRING", "SHORT_BINSTRING"):
            assert arg == (expected_arg.decode("latin-1") if isinstance(expected_arg, bytes) else expected_arg)
        elif op.arg is not None and not isinstance(arg, Blob):
            assert arg == expected_arg, name


def test_every_opcode_is_in_the_table() -> None:
    assert {op.name for op in pickletools.opcodes} == set(OPCODE_NAMES.values())


def test_several_pickles_back_to_back() -> None:
    data = pickle.dumps(1, protocol=0) + pickle.dumps([2], protocol=2) + pickle.dumps({3: 4}, protocol=5)
    report = analyse(ByteReader.from_bytes(data))
    assert report.pickles == 3 and report.complete and report.reasons == []
    assert report.results[:2] == [1, report.results[1]] and report.protocol == 5


def test_huge_binbytes8_is_skipped_by_seeking(tmp_path: Path) -> None:
    path = tmp_path / "huge.pkl"
    size = 3 * 1024**3  # 3 GiB, sparse: never written, never read
    with path.open("wb") as handle:
        handle.write(b"\x80\x04\x8e" + struct.pack("<Q", size))
        handle.seek(11 + size)
        handle.write(b"0" + b"c" + b"os\nsystem\n" + b"N\x85R.")
    tracemalloc.start()
    started = time.perf_counter()
    with path.open("rb") as stream:
        report = analyse(ByteReader(stream, end=path.stat().st_size, budget=64 * 1024**2))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 16 * 1024**2 and time.perf_counter() - started < 2
    assert "MODEL-401" in rules(report) and report.complete


def test_long_payloads_become_blobs() -> None:
    text = "x" * (2 * 1024 * 1024)
    data = pickle.dumps(text, protocol=4) + pickle.dumps(text, protocol=0) + b"\x8b" + struct.pack("<i", 10**6)
    data += b"\x00" * 10**6 + b"."
    kinds = [(name, arg.kind) for _o, name, arg in ops(data) if isinstance(arg, Blob)]
    assert kinds == [("BINUNICODE8" if kinds[0][0] == "BINUNICODE8" else "BINUNICODE", "str"), ("UNICODE", "str"),
                     ("LONG4", "int")]


def test_truncated_stream_is_malformed_but_keeps_findings() -> None:
    data = pickle.dumps(1, protocol=2) + b"\x80\x02cos\nsystem\nX\xff\xff\x00\x00abc"
    report = analyse(ByteReader.from_bytes(data))
    assert "MODEL-492" in rules(report) and report.stop == "truncated"
    assert {use.qualname for use in report.uses.values()} == {"os.system"}


def test_unknown_opcode_inside_a_pickle_is_malformed() -> None:
    report = analyse(ByteReader.from_bytes(b"\x80\x02N\xffN."))
    assert rules(report) == {"MODEL-492"} and "0xff" in report.reasons[0].message
    assert worst_verdict([r.verdict for r in report.reasons]) is Verdict.INVALID


@pytest.mark.parametrize("data", [b"", b"\x80\x02N", b"\x80\x09N.", b"0", b"(t(", b"h\x01.", b"Sabc\n.", b"I12x\n."])
def test_broken_streams_are_malformed(data: bytes) -> None:
    report = analyse(ByteReader.from_bytes(data))
    assert "MODEL-492" in rules(report) and not report.complete


def test_opcode_limit_bomb_stops_quickly() -> None:
    data = b"\x80\x04" + b"N0" * 500_000 + b"N."
    started = time.perf_counter()
    report = analyse(ByteReader.from_bytes(data), max_ops=10_000)
    assert time.perf_counter() - started < 1
    assert rules(report) == {"MODEL-493"} and report.stop == "limit"


def test_time_budget_stops_the_walk() -> None:
    report = analyse(ByteReader.from_bytes(b"\x80\x04" + b"N0" * 5000 + b"N."), out_of_time=lambda: True)
    assert rules(report) == {"MODEL-493"}


def test_byte_budget_stops_reading(tmp_path: Path) -> None:
    path = tmp_path / "big.pkl"
    path.write_bytes(b"\x80\x04" + b"N0" * 200_000 + b"N.")
    with path.open("rb") as stream:
        report = analyse(ByteReader(stream, end=path.stat().st_size, budget=64 * 1024), max_ops=10**7)
    assert rules(report) == {"MODEL-493"} and "byte limit" in report.reasons[0].message


class _Pipe(io.RawIOBase):
    """A stream that cannot seek (as a decompressor is)."""

    def __init__(self, data: bytes) -> None:
        self._data, self._pos = data, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = self._data[self._pos:self._pos + min(len(buffer), 1000)]
        buffer[: len(chunk)] = chunk
        self._pos += len(chunk)
        return len(chunk)


def test_non_seekable_stream_skips_by_reading() -> None:
    data = pickle.dumps(b"\x01" * 200_000, protocol=4) + pickle.dumps(Thing(), protocol=1)
    reader = ByteReader(io.BufferedReader(_Pipe(data)))
    report = analyse(reader)
    assert report.pickles == 2 and report.end == len(data)
    assert rules(report) == {"MODEL-412"}  # the test's own class is unknown to the policy


def test_reader_primitives() -> None:
    reader = ByteReader.from_bytes(b"abc\ndef")
    assert reader.peek(2) == b"ab" and reader.pos == 0
    assert reader.readline(10) == (b"abc", 3) and reader.pos == 4
    reader.set_end(5)
    assert reader.read(1) == b"d" and reader.at_end()
    with pytest.raises(PickleStreamError) as caught:
        reader.read(1)
    assert caught.value.truncated
    reader.set_end(None)
    assert reader.read(2) == b"ef"
    long_line = ByteReader.from_bytes(b"x" * 100 + b"\n")
    assert long_line.readline(10) == (None, 100)
