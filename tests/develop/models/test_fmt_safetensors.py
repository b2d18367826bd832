"""safetensors header validation: benign files, every rule, a 1 GB sparse file, and fuzzing."""

from __future__ import annotations

import json
import struct
import time
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anzhi.develop.models._registry import ANALYZERS, Analysis, ScanContext
from anzhi.develop.models._result import ModelFormat, Verdict, worst_verdict
from anzhi.develop.models._safetensors import analyze_safetensors, looks_like_safetensors
from anzhi.develop.models._source import BytesSource, FileSource, ScanLimits


def ctx(**limits: Any) -> ScanContext:
    return ScanContext(limits=ScanLimits(**limits))


def build(tensors: dict[str, Any], data: bytes, metadata: dict[str, Any] | None = None, raw: bytes | None = None,
          length: int | None = None) -> bytes:
    header: dict[str, Any] = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    header.update(tensors)
    blob = raw if raw is not None else json.dumps(header).encode()
    blob += b" " * (-len(blob) % 8)
    return struct.pack("<Q", len(blob) if length is None else length) + blob + data


def scan(data: bytes, **limits: Any) -> Analysis:
    return analyze_safetensors(BytesSource("t.safetensors", data), ctx(**limits))


def verdict(analysis: Analysis) -> Verdict:
    return worst_verdict([r.verdict for r in analysis.reasons])


def rules(analysis: Analysis) -> set[str]:
    return {r.rule_id for r in analysis.reasons}


BENIGN = build(
    {"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
     "b": {"dtype": "I64", "shape": [4], "data_offsets": [24, 56]},
     "m": {"dtype": "BOOL", "shape": [], "data_offsets": [56, 57]}},
    bytes(57), metadata={"format": "pt"},
)


def test_registered() -> None:
    assert ANALYZERS[ModelFormat.SAFETENSORS] is analyze_safetensors


def test_benign_file_is_clean_with_metadata() -> None:
    analysis = scan(BENIGN)
    assert analysis.reasons == []
    assert analysis.metadata["tensor_count"] == 3
    assert analysis.metadata["parameter_count"] == 6 + 4 + 1
    assert analysis.metadata["dtypes"] == {"F32": 1, "I64": 1, "BOOL": 1}
    assert analysis.metadata["metadata"] == {"format": "pt"}


def test_empty_header_and_subbyte_dtypes_are_clean() -> None:
    assert scan(build({}, b"")).reasons == []
    f4 = build({"q": {"dtype": "F4", "shape": [4], "data_offsets": [0, 2]},
                "s": {"dtype": "F8_E8M0", "shape": [1], "data_offsets": [2, 3]}}, bytes(3))
    assert scan(f4).reasons == []


def test_header_length_beyond_file_or_limit() -> None:
    analysis = scan(build({}, b"", length=10**12))
    assert rules(analysis) == {"MODEL-470"} and verdict(analysis) == Verdict.INVALID
    assert rules(scan(BENIGN, max_header_bytes=16)) == {"MODEL-470"}


def test_header_not_json() -> None:
    for raw in (b"not json", b' {"a": 1}', b'{"x": NaN}', b"[1, 2]", b"\xff\xfe{"):
        analysis = scan(build({}, b"", raw=raw))
        assert rules(analysis) == {"MODEL-471"}, raw
        assert verdict(analysis) == Verdict.INVALID


def test_bad_entry_types() -> None:
    for entry in ({"dtype": "F32", "shape": [1.0], "data_offsets": [0, 4]},
                  {"dtype": "F32", "shape": [1], "data_offsets": [0]},
                  {"dtype": "F32", "shape": [True], "data_offsets": [0, 4]},
                  {"dtype": 5, "shape": [1], "data_offsets": [0, 4]}, [1, 2]):
        assert "MODEL-471" in rules(scan(build({"t": entry}, bytes(4)))), entry


def test_unknown_dtype_and_size_mismatch() -> None:
    assert rules(scan(build({"t": {"dtype": "F128", "shape": [1], "data_offsets": [0, 16]}}, bytes(16)))) \
        == {"MODEL-472"}
    analysis = scan(build({"t": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, bytes(8)))
    assert rules(analysis) == {"MODEL-473"} and verdict(analysis) == Verdict.INVALID


def test_reversed_and_out_of_bounds_offsets_are_review_high() -> None:
    reversed_ = scan(build({"t": {"dtype": "U8", "shape": [0], "data_offsets": [8, 0]}}, bytes(8)))
    assert "MODEL-474" in rules(reversed_)
    oob = build({"a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]},
                 "b": {"dtype": "U8", "shape": [4], "data_offsets": [1 << 40, (1 << 40) + 4]}}, bytes(4))
    analysis = scan(oob)
    assert "MODEL-474" in rules(analysis)
    bounds = next(r for r in analysis.reasons if r.rule_id == "MODEL-474")
    assert bounds.verdict == Verdict.REVIEW and bounds.severity == "high" and bounds.location == "tensor b"


def test_overlap_is_invalid() -> None:
    analysis = scan(build({"a": {"dtype": "U8", "shape": [8], "data_offsets": [0, 8]},
                           "b": {"dtype": "U8", "shape": [4], "data_offsets": [4, 8]}}, bytes(8)))
    assert rules(analysis) == {"MODEL-475"} and verdict(analysis) == Verdict.INVALID


def test_gaps_and_trailing_bytes() -> None:
    hole = scan(build({"a": {"dtype": "U8", "shape": [4], "data_offsets": [4, 8]}}, bytes(8)))
    assert rules(hole) == {"MODEL-476"}
    trailing = scan(BENIGN + b"PK\x03\x04 appended payload")
    assert rules(trailing) == {"MODEL-476"} and verdict(trailing) == Verdict.INVALID


def test_truncated_data_area() -> None:
    analysis = scan(BENIGN[:-10])
    assert rules(analysis) == {"MODEL-477"} and verdict(analysis) == Verdict.INVALID


def test_duplicates_and_bad_metadata() -> None:
    raw = b'{"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}, "a": {"dtype": "U8", "shape": [1], ' \
          b'"data_offsets": [0, 1]}}'
    assert rules(scan(build({}, bytes(1), raw=raw))) == {"MODEL-478"}
    analysis = scan(build({}, b"", metadata={"n": 1}))
    assert rules(analysis) == {"MODEL-479"}


def test_every_truncation_is_reported_without_crash() -> None:
    for cut in range(len(BENIGN)):
        analysis = scan(BENIGN[:cut])
        assert verdict(analysis) == Verdict.INVALID, cut


class CountingSource(FileSource):
    """A file source that counts reads and bytes read."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.reads = 0
        self.bytes = 0

    def read_at(self, offset: int, length: int) -> bytes:
        self.reads += 1
        data = super().read_at(offset, length)
        self.bytes += len(data)
        return data


def test_one_gigabyte_sparse_file_costs_one_small_read(tmp_path: Path) -> None:
    path = tmp_path / "big.safetensors"
    size = 1 << 30
    header = b""
    for _ in range(2):  # the header length depends on the data size and vice versa
        data_size = size - 8 - len(header)
        n = data_size // 4
        tensors = {"embed": {"dtype": "F32", "shape": [n // 2, 2], "data_offsets": [0, n * 4]},
                   "pad": {"dtype": "U8", "shape": [data_size - n * 4], "data_offsets": [n * 4, data_size]}}
        header = json.dumps(tensors).encode()
        header += b" " * (-len(header) % 8)
    with path.open("wb") as stream:
        stream.write(struct.pack("<Q", len(header)) + header)
        stream.truncate(size)
    source = CountingSource(path)
    start = time.perf_counter()
    analysis = analyze_safetensors(source, ctx())
    assert time.perf_counter() - start < 1.0
    assert analysis.reasons == [], analysis.reasons
    assert source.reads == 1 and source.bytes < 128 * 1024
    assert analysis.metadata["parameter_count"] == (data_size // 4 // 2) * 2 + data_size - (data_size // 4) * 4


def test_large_header_takes_a_second_read(tmp_path: Path) -> None:
    tensors = {f"layer.{i}.weight": {"dtype": "U8", "shape": [1], "data_offsets": [i, i + 1]} for i in range(3000)}
    path = tmp_path / "wide.safetensors"
    path.write_bytes(build(tensors, bytes(3000)))
    source = CountingSource(path)
    analysis = analyze_safetensors(source, ctx())
    assert analysis.reasons == [] and source.reads == 2
    assert analysis.metadata["tensor_count"] == 3000


def test_many_problems_are_capped() -> None:
    tensors = {f"t{i}": {"dtype": "F32", "shape": [3], "data_offsets": [i * 8, i * 8 + 8]} for i in range(50)}
    analysis = scan(build(tensors, bytes(400)))
    assert len([r for r in analysis.reasons if r.rule_id == "MODEL-473"]) == 11  # 10 shown + a summary


def test_looks_like_safetensors() -> None:
    assert looks_like_safetensors(BENIGN[:64], len(BENIGN))
    assert looks_like_safetensors(BENIGN[:64])
    assert not looks_like_safetensors(BENIGN[:64], 20)
    assert not looks_like_safetensors(b"GGUF\x03\x00\x00\x00" + bytes(16), 1000)
    assert not looks_like_safetensors(b"\x00" * 7)


@settings(max_examples=300, deadline=500, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=512))
def test_fuzz_random_bytes(data: bytes) -> None:
    analysis = scan(data)
    assert isinstance(analysis, Analysis)


@settings(max_examples=300, deadline=500)
@given(st.data())
def test_fuzz_mutated_valid_file(data: st.DataObject) -> None:
    blob = bytearray(BENIGN)
    for _ in range(data.draw(st.integers(1, 8))):
        pos = data.draw(st.integers(0, len(blob) - 1))
        blob[pos] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(blob)))
    analysis = scan(bytes(blob[:cut]))
    assert all(r.rule_id.startswith("MODEL-4") for r in analysis.reasons)
