"""Keras 3 ``.keras`` archives: config walk (Lambda, custom objects, dangerous references) and members."""

from __future__ import annotations

import base64
import io
import json
import marshal
import zipfile
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from anzhi.develop.models._hdf5 import analyze_hdf5, looks_like_hdf5
from anzhi.develop.models._keras import analyze_keras, is_keras_zip
from anzhi.develop.models._registry import ANALYZERS, Analysis, ScanContext
from anzhi.develop.models._result import FileResult, ModelFormat, Verdict, worst_verdict
from anzhi.develop.models._source import BytesSource, FileSource, ScanLimits, Source


def dense(name: str, units: int = 4) -> dict[str, Any]:
    return {"module": "keras.layers", "class_name": "Dense", "registered_name": None,
            "config": {"name": name, "units": units, "activation": "relu",
                       "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform",
                                              "config": {"seed": None}, "registered_name": None}}}


def sequential(*layers: dict[str, Any], name: str = "sequential") -> dict[str, Any]:
    return {"module": "keras", "class_name": "Sequential", "registered_name": None,
            "config": {"name": name, "layers": [
                {"module": "keras.layers", "class_name": "InputLayer", "registered_name": None,
                 "config": {"batch_shape": [None, 8], "name": "input_layer"}}, *layers]},
            "compile_config": {"optimizer": {"module": "keras.optimizers", "class_name": "Adam",
                                             "config": {"learning_rate": 0.001}, "registered_name": None},
                               "loss": "mse"}}


def lambda_layer(name: str = "lambda") -> dict[str, Any]:
    code = base64.b64encode(marshal.dumps((lambda x: x * 2).__code__)).decode()
    return {"module": "keras.layers", "class_name": "Lambda", "registered_name": None,
            "config": {"name": name, "function": {"class_name": "__lambda__",
                                                  "config": {"code": code, "defaults": None, "closure": None}}}}


def weights_h5() -> bytes:
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        f.create_dataset("layers/dense/vars/0", data=np.zeros((8, 4), dtype="float32"))
        f.create_dataset("layers/dense/vars/1", data=np.zeros((4,), dtype="float32"))
    return buffer.getvalue()


def archive(config: Any, extra: dict[str, bytes] | None = None, raw_config: bytes | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("metadata.json", json.dumps({"keras_version": "3.6.0", "date_saved": "2025-01-01@00:00:00"}))
        zf.writestr("config.json", raw_config if raw_config is not None else json.dumps(config))
        zf.writestr("model.weights.h5", weights_h5())
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return buffer.getvalue()


def scan_member(source: Source, hint: ModelFormat | None) -> FileResult:
    """A minimal stand-in for the scanner's member dispatch (HDF5 only)."""
    head = source.read_at(0, 4096)
    fmt = ModelFormat.HDF5 if looks_like_hdf5(head) else ModelFormat.UNKNOWN
    result = FileResult(path=source.name, format=fmt, size=source.size)
    if fmt == ModelFormat.HDF5:
        analysis = analyze_hdf5(source, ScanContext(limits=ScanLimits()))
        result.reasons, result.metadata = analysis.reasons, analysis.metadata
    else:
        from anzhi.develop.models._rules import UNKNOWN_FORMAT

        result.reasons = [UNKNOWN_FORMAT.reason("unknown")]
    return result


def scan(data: bytes, members: bool = True) -> Analysis:
    context = ScanContext(limits=ScanLimits(), scan_member=scan_member if members else None)
    return analyze_keras(BytesSource("m.keras", data), context)


def verdict(analysis: Analysis) -> Verdict:
    return worst_verdict([r.verdict for r in analysis.reasons] + [m.verdict for m in analysis.members])


def rules(analysis: Analysis) -> set[str]:
    return {r.rule_id for r in analysis.reasons}


def test_registered_and_detection_helper() -> None:
    assert ANALYZERS[ModelFormat.KERAS] is analyze_keras
    assert is_keras_zip(["metadata.json", "config.json", "model.weights.h5"])
    assert is_keras_zip(["config.json", "model.weights.npz"])
    assert not is_keras_zip(["config.json", "tokenizer.json"])
    assert not is_keras_zip(["archive/data.pkl", "archive/version"])


def test_benign_model_is_clean_with_metadata() -> None:
    analysis = scan(archive(sequential(dense("dense"), dense("dense_1", 2))))
    assert analysis.reasons == [] and verdict(analysis) == Verdict.CLEAN
    assert analysis.metadata["keras_version"] == "3.6.0"
    assert analysis.metadata["model_class"] == "Sequential"
    assert analysis.metadata["layer_count"] == 3
    assert [m.format for m in analysis.members] == [ModelFormat.HDF5]
    assert analysis.members[0].metadata["datasets"] == 2


def test_assets_of_unknown_format_are_not_reported() -> None:
    analysis = scan(archive(sequential(dense("d")), {"assets/vocab.txt": b"a\nb\n"}))
    assert verdict(analysis) == Verdict.CLEAN and analysis.metadata["assets"] == 1


def test_lambda_layer_is_dangerous_with_evidence() -> None:
    analysis = scan(archive(sequential(dense("d"), lambda_layer("evil_lambda"))))
    assert verdict(analysis) == Verdict.DANGEROUS
    reason = next(r for r in analysis.reasons if r.rule_id == "MODEL-430")
    assert reason.location == "layer evil_lambda"
    assert reason.detail["code_bytes"] > 0 and isinstance(reason.detail["names"], list)
    assert analysis.metadata["lambda_layers"] == 1


def test_lambda_inside_nested_functional_model() -> None:
    wrapper = {"module": "keras.layers", "class_name": "TimeDistributed",
               "config": {"name": "td", "layer": lambda_layer("deep")}}
    inner = {"module": "keras.src.models.functional", "class_name": "Functional", "registered_name": None,
             "config": {"name": "inner", "layers": [dense("x"), wrapper]}}
    analysis = scan(archive(sequential(inner)))
    assert any(r.rule_id == "MODEL-430" and r.location == "layer deep" for r in analysis.reasons)


def test_function_reference_to_os_is_dangerous() -> None:
    layer = {"module": "keras.layers", "class_name": "Lambda", "registered_name": None,
             "config": {"name": "run", "function": {"module": "os", "class_name": "function", "config": "system",
                                                    "registered_name": "system"}}}
    analysis = scan(archive(sequential(layer)))
    reason = next(r for r in analysis.reasons if r.rule_id == "MODEL-431")
    assert reason.verdict == Verdict.DANGEROUS and "os.system" in reason.message
    assert reason.detail["module"] == "os" and reason.detail["name"] == "system"


def test_builtins_exec_and_unsafe_keras_calls_are_dangerous() -> None:
    for ref in ({"module": "builtins", "class_name": "function", "config": "exec"},
                {"module": "keras.config", "class_name": "function", "config": "enable_unsafe_deserialization"},
                {"module": "keras.utils", "class_name": "function", "config": "get_file"},
                {"module": "subprocess.run", "class_name": "Popen", "config": {}},
                {"module": "keras.layers", "class_name": "TorchModuleWrapper", "config": {"name": "t"}}):
        assert "MODEL-431" in rules(scan(archive(sequential(dense("d"), {**ref, "registered_name": None})))), ref


def test_custom_object_outside_keras_is_review() -> None:
    custom = {"module": "my_company.layers", "class_name": "FancyAttention", "registered_name": "Custom>Fancy",
              "config": {"name": "fancy"}}
    analysis = scan(archive(sequential(custom, custom | {"config": {"name": "fancy2"}})))
    assert verdict(analysis) == Verdict.REVIEW and rules(analysis) == {"MODEL-432"}
    reason = analysis.reasons[0]
    assert "my_company.layers.FancyAttention" in reason.message and reason.detail["count"] == 2
    assert analysis.metadata["custom_objects"] == ["my_company.layers.FancyAttention"]


def test_user_function_saved_under_builtins_is_review() -> None:
    layer = {"module": "keras.layers", "class_name": "Lambda", "registered_name": None,
             "config": {"name": "double", "function": {"module": "builtins", "class_name": "function",
                                                       "config": "double", "registered_name": "function"}}}
    analysis = scan(archive(sequential(layer)))
    assert rules(analysis) == {"MODEL-432"} and "function double" in analysis.reasons[0].message


def test_keras_hub_objects_are_trusted() -> None:
    backbone = {"module": "keras_hub.src.models.gemma.gemma_backbone", "class_name": "GemmaBackbone",
                "registered_name": "keras_hub>GemmaBackbone", "config": {"name": "gemma_backbone"}}
    assert scan(archive(sequential(backbone))).reasons == []


def test_safe_mode_and_file_references_are_review() -> None:
    hint = sequential(dense("d")) | {"safe_mode": False}
    assert rules(scan(archive(hint))) == {"MODEL-433"}
    lookup = {"module": "keras.layers", "class_name": "StringLookup", "registered_name": None,
              "config": {"name": "lookup", "vocabulary": "/etc/passwd"}}
    analysis = scan(archive(sequential(lookup)))
    reason = next(r for r in analysis.reasons if r.rule_id == "MODEL-434")
    assert reason.verdict == Verdict.REVIEW and reason.severity == "high" and reason.location == "layer lookup"
    inline = lookup | {"config": {"name": "lookup", "vocabulary": ["a", "b"]}}
    assert scan(archive(sequential(inline))).reasons == []


def test_broken_archives() -> None:
    assert rules(scan(archive(None, raw_config=b"{not json"))) == {"MODEL-492"}
    assert rules(scan(archive(None, raw_config=b"[1, 2]"))) == {"MODEL-492"}
    assert rules(scan(archive(None, raw_config=b"[" * 100000))) == {"MODEL-492"}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("metadata.json", "{}")
    assert rules(scan(buffer.getvalue())) == {"MODEL-492"}
    assert rules(scan(b"PK\x03\x04 not a zip")) == {"MODEL-492"}


def test_zip_slip_member_is_reported() -> None:
    analysis = scan(archive(sequential(dense("d")), {"../../evil.py": b"print(1)"}))
    assert "MODEL-480" in rules(analysis) and verdict(analysis) == Verdict.DANGEROUS


def test_deep_config_is_walked_without_recursion(tmp_path: Path) -> None:
    node: dict[str, Any] = lambda_layer("bottom")
    for i in range(150):
        node = {"class_name": "Wrapper", "module": "keras.layers", "config": {"name": f"w{i}", "layer": node}}
    path = tmp_path / "deep.keras"
    path.write_bytes(archive(sequential(node)))
    analysis = analyze_keras(FileSource(path), ScanContext(limits=ScanLimits()))
    assert any(r.rule_id == "MODEL-430" for r in analysis.reasons)
