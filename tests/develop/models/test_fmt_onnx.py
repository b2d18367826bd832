"""ONNX ModelProto: external-data paths, operator domains, subgraphs and metadata (no onnx package)."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from anzhi.develop.models._onnx import analyze_onnx, looks_like_onnx
from anzhi.develop.models._registry import ANALYZERS, Analysis, ScanContext
from anzhi.develop.models._result import ModelFormat, Verdict, worst_verdict
from anzhi.develop.models._savedmodel import looks_like_savedmodel_pb
from anzhi.develop.models._source import BytesSource, FileSource, ScanLimits


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def vf(number: int, value: int) -> bytes:
    return varint(number << 3) + varint(value)


def lf(number: int, payload: bytes | str) -> bytes:
    data = payload.encode() if isinstance(payload, str) else payload
    return varint(number << 3 | 2) + varint(len(data)) + data


def tensor(name: str, dims: list[int], location: str | None = None, packed: bool = False) -> bytes:
    shape = lf(1, b"".join(varint(d) for d in dims)) if packed else b"".join(vf(1, d) for d in dims)
    out = shape + vf(2, 1) + lf(8, name)
    if location is not None:
        out += lf(13, lf(1, "location") + lf(2, location)) + lf(13, lf(1, "offset") + lf(2, "0")) + vf(14, 1)
    else:
        out += lf(9, bytes(4 * max(1, len(dims))))
    return out


def onnx_node(op: str, domain: str = "", name: str = "", *attrs: bytes) -> bytes:
    return lf(1, "x") + lf(2, "y") + lf(3, name or op) + lf(4, op) + b"".join(attrs) + lf(7, domain)


def graph(nodes: list[bytes], initializers: list[bytes] = ()) -> bytes:  # type: ignore[assignment]
    return b"".join(lf(1, n) for n in nodes) + lf(2, "main_graph") + b"".join(lf(5, t) for t in initializers)


def model(graph_bytes: bytes, opsets: dict[str, int] | None = None, functions: list[bytes] = ()) -> bytes:  # type: ignore[assignment]
    out = vf(1, 9) + lf(2, "pytorch") + lf(3, "2.3.0") + vf(5, 1) + lf(7, graph_bytes)
    for domain, version in (opsets or {"": 17}).items():
        out += lf(8, lf(1, domain) + vf(2, version))
    out += lf(14, lf(1, "author") + lf(2, "tests"))
    return out + b"".join(lf(25, f) for f in functions)


BENIGN = model(graph([onnx_node("MatMul"), onnx_node("Relu"), onnx_node("TreeEnsembleRegressor", "ai.onnx.ml"),
                      onnx_node("FusedGemm", "com.microsoft")],
                     [tensor("w", [3, 4], "weights.bin"), tensor("b", [4], packed=True)]),
               {"": 17, "ai.onnx.ml": 3, "com.microsoft": 1})


def scan(data: bytes) -> Analysis:
    return analyze_onnx(BytesSource("model.onnx", data), ScanContext(limits=ScanLimits()))


def verdict(analysis: Analysis) -> Verdict:
    return worst_verdict([r.verdict for r in analysis.reasons])


def rules(analysis: Analysis) -> set[str]:
    return {r.rule_id for r in analysis.reasons}


def test_registered() -> None:
    assert ANALYZERS[ModelFormat.ONNX] is analyze_onnx


def test_benign_model_with_external_data_is_clean() -> None:
    analysis = scan(BENIGN)
    assert analysis.reasons == []
    meta = analysis.metadata
    assert meta["ir_version"] == 9 and meta["producer_name"] == "pytorch" and meta["producer_version"] == "2.3.0"
    assert meta["opset_import"] == {"ai.onnx": 17, "ai.onnx.ml": 3, "com.microsoft": 1}
    assert meta["external_data_files"] == ["weights.bin"] and meta["parameter_count"] == 16
    assert meta["nodes"] == 4 and meta["initializers"] == 2 and meta["graph_name"] == "main_graph"
    assert meta["metadata_props"] == {"author": "tests"}


def test_external_data_escapes_are_dangerous() -> None:
    for location, why in (("../../etc/passwd", "climbs out"), ("/etc/passwd", "absolute"),
                          ("C:\\Windows\\win.ini", "absolute"), ("https://evil.example/w.bin", "URL"),
                          ("file:///etc/shadow", "URL"), ("sub/../../x", "climbs out")):
        analysis = scan(model(graph([onnx_node("Relu")], [tensor("w", [2], location)])))
        assert rules(analysis) == {"MODEL-450"}, location
        reason = analysis.reasons[0]
        assert reason.verdict == Verdict.DANGEROUS and why in reason.message and reason.location == "tensor w"
    assert scan(model(graph([], [tensor("w", [2], "sub/./weights.bin")]))).reasons == []


def test_symlink_out_of_folder_is_dangerous(tmp_path: Path) -> None:
    outside = tmp_path / "outside.bin"
    outside.write_bytes(bytes(8))
    folder = tmp_path / "model"
    folder.mkdir()
    os.symlink(outside, folder / "weights.bin")
    path = folder / "model.onnx"
    path.write_bytes(model(graph([], [tensor("w", [2], "weights.bin")])))
    analysis = analyze_onnx(FileSource(path), ScanContext(limits=ScanLimits()))
    assert rules(analysis) == {"MODEL-450"} and "link" in analysis.reasons[0].message


def test_missing_location_is_invalid() -> None:
    bad = lf(8, "w") + vf(14, 1)
    analysis = scan(model(graph([], [bad])))
    assert rules(analysis) == {"MODEL-451"} and verdict(analysis) == Verdict.INVALID


def test_subgraph_and_attribute_tensors_are_checked() -> None:
    body = graph([onnx_node("Identity")], [tensor("inner", [2], "../secret")])
    if_node = onnx_node("If", "", "branch", lf(5, lf(1, "then_branch") + lf(6, body)))
    analysis = scan(model(graph([if_node])))
    assert rules(analysis) == {"MODEL-450"}
    assert analysis.reasons[0].location == "node branch tensor inner"
    const = onnx_node("Constant", "", "c", lf(5, lf(1, "value") + lf(5, tensor("v", [1], "/proc/self/environ"))))
    assert rules(scan(model(graph([const])))) == {"MODEL-450"}


def test_unusual_domain_is_review_but_local_functions_are_not() -> None:
    analysis = scan(model(graph([onnx_node("Exec", "com.evil"), onnx_node("Run", "com.evil")]),
                          {"": 17, "com.evil": 1}))
    assert rules(analysis) == {"MODEL-452"} and verdict(analysis) == Verdict.REVIEW
    assert analysis.reasons[0].detail == {"domain": "com.evil", "op_types": ["Exec", "Run"]}
    local = lf(1, "MyBlock") + lf(10, "local.fn") + lf(7, onnx_node("Relu"))
    clean = scan(model(graph([onnx_node("MyBlock", "local.fn")]), {"": 17, "local.fn": 1}, [local]))
    assert clean.reasons == [] and clean.metadata["local_functions"] == 1
    imported_only = scan(model(graph([onnx_node("Relu")]), {"": 17, "ai.onnx.contrib": 1}))
    assert rules(imported_only) == {"MODEL-452"}


def test_training_graphs_are_walked() -> None:
    training = lf(20, lf(2, graph([onnx_node("Relu")], [tensor("t", [1], "/etc/passwd")])))
    assert rules(scan(model(graph([onnx_node("Relu")])) + training)) == {"MODEL-450"}


def test_truncated_and_garbage_are_invalid() -> None:
    for cut in (3, len(BENIGN) // 2, len(BENIGN) - 3):
        assert verdict(scan(BENIGN[:cut])) == Verdict.INVALID, cut
    assert rules(scan(vf(1, 9) + lf(2, "x"))) == {"MODEL-492"}  # no graph
    assert rules(scan(b"\x08\x09\x3a\xff\xff\xff\x7f")) == {"MODEL-492"}


def test_looks_like_onnx() -> None:
    assert looks_like_onnx(BENIGN[:64])
    assert looks_like_onnx(vf(1, 7) + lf(7, b"\x0a\x00"))
    assert not looks_like_onnx(vf(1, 1) + lf(2, lf(1, lf(1, "")) + lf(2, b"")))  # a SavedModel start
    assert looks_like_savedmodel_pb(vf(1, 1) + lf(2, lf(1, lf(1, "")) + lf(2, b"")))
    assert not looks_like_onnx(b"GGUF\x03\x00\x00\x00")
    assert not looks_like_onnx(vf(1, 999))
    assert not looks_like_onnx(b"")


@settings(max_examples=200, deadline=500)
@given(st.binary(max_size=256))
def test_fuzz(data: bytes) -> None:
    assert isinstance(scan(data), Analysis)
    looks_like_onnx(data)


@settings(max_examples=200, deadline=500)
@given(st.data())
def test_fuzz_mutated(data: st.DataObject) -> None:
    blob = bytearray(BENIGN)
    for _ in range(data.draw(st.integers(1, 6))):
        blob[data.draw(st.integers(0, len(blob) - 1))] = data.draw(st.integers(0, 255))
    assert isinstance(scan(bytes(blob)), Analysis)
