"""Fuzzing the pickle walker and analysers: random bytes and mutated valid pickles never raise and stay fast."""

from __future__ import annotations

import pickle
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anzhi.develop.models._pickle_analysis import analyse_pickle
from anzhi.develop.models._pickle_formats import (
    analyse_joblib,
    analyse_npy,
    looks_like_joblib,
    looks_like_pickle,
    looks_like_torch_legacy,
)
from anzhi.develop.models._pickle_ops import ByteReader
from anzhi.develop.models._pickle_policy import policy_for
from anzhi.develop.models._registry import ScanContext
from anzhi.develop.models._source import BytesSource, ScanLimits

SEEDS = [
    pickle.dumps({"a": [1, 2.5, "x", b"y", None, (1, 2)], "s": {1}, "f": frozenset({2})}, protocol=p)
    for p in range(6)
] + [
    b"\x80\x04cos\nsystem\n\x8c\x04true\x85R.",
    b"Vos\np2\n0Vsystem\np3\n0g2\ng3\n\x93(Vtrue\ntR.",
    b"\x80\x02cjoblib.numpy_pickle\nNumpyArrayWrapper\n)\x81}(\x8c\x05shape(K\x02t\x8c\x05dtype"
    b"cnumpy\ndtype\n\x8c\x02f8\x89\x88\x87Rub\x00" + b"\x01" * 16 + b".",
    b"\x93NUMPY\x01\x00\x76\x00{'descr': '|O', 'fortran_order': False, 'shape': (1,), }" + b" " * 55 + b"\n"
    + b"\x80\x04N.",
]
LIMITS = ScanLimits(max_pickle_opcodes=20_000, max_pickle_bytes=1 << 20)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def walk(data: bytes) -> None:
    started = time.perf_counter()
    report = analyse_pickle(ByteReader.from_bytes(data), policy_for(), max_ops=LIMITS.max_pickle_opcodes,
                            out_of_time=lambda: False)
    assert report.end <= len(data)
    looks_like_pickle(data)
    looks_like_joblib(data)
    looks_like_torch_legacy(data)
    analyse_joblib(BytesSource("x", data), ScanContext(limits=LIMITS))
    analyse_npy(BytesSource("x", data), ScanContext(limits=LIMITS))
    assert time.perf_counter() - started < 2.0  # generous: CI machines are shared


@FUZZ
@given(st.binary(max_size=512))
def test_random_bytes(data: bytes) -> None:
    walk(data)
    walk(b"\x80\x04" + data)


@FUZZ
@given(st.sampled_from(SEEDS), st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=6),
       st.integers(0, 400))
def test_mutated_pickles(seed: bytes, flips: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(seed)
    for position, value in flips:
        data[position % len(data)] = value
    walk(bytes(data))
    walk(bytes(data[: max(1, len(data) - cut)]))
