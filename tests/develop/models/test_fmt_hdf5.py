"""Legacy Keras ``.h5`` and plain HDF5: model_config walk and references to other files."""

from __future__ import annotations

import base64
import io
import json
import marshal
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from anzhi.develop.models._hdf5 import analyze_hdf5, looks_like_hdf5
from anzhi.develop.models._registry import ANALYZERS, Analysis, ScanContext
from anzhi.develop.models._result import ModelFormat, Verdict, worst_verdict
from anzhi.develop.models._source import BytesSource, FileSource, ScanLimits


def legacy_config(*layers: dict[str, Any]) -> dict[str, Any]:
    return {"class_name": "Sequential", "config": {"name": "sequential", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 8], "name": "input_1"}},
        {"class_name": "Dense", "config": {"name": "dense", "units": 4, "activation": "relu",
                                           "kernel_initializer": {"class_name": "GlorotUniform",
                                                                  "config": {"seed": None}}}},
        *layers]}}


def legacy_lambda(name: str = "lambda") -> dict[str, Any]:
    code = base64.b64encode(marshal.dumps((lambda x: x + 1).__code__)).decode()
    return {"class_name": "Lambda", "config": {"name": name, "function": [code, None, None],
                                               "function_type": "lambda", "module": "__main__",
                                               "output_shape": None, "output_shape_type": "raw"}}


def write_h5(path: Path, config: dict[str, Any] | None = None, **attrs: Any) -> Path:
    with h5py.File(path, "w") as f:
        if config is not None:
            f.attrs["model_config"] = json.dumps(config)
            f.attrs["keras_version"] = "2.13.1"
            f.attrs["backend"] = "tensorflow"
        for key, value in attrs.items():
            f.attrs[key] = value
        weights = f.create_group("model_weights/dense")
        weights.create_dataset("kernel:0", data=np.zeros((8, 4), dtype="float32"))
        weights.create_dataset("bias:0", data=np.zeros((4,), dtype="float32"))
    return path


def scan(path: Path, **limits: Any) -> Analysis:
    return analyze_hdf5(FileSource(path), ScanContext(limits=ScanLimits(**limits)))


def verdict(analysis: Analysis) -> Verdict:
    return worst_verdict([r.verdict for r in analysis.reasons])


def rules(analysis: Analysis) -> set[str]:
    return {r.rule_id for r in analysis.reasons}


def test_registered() -> None:
    assert ANALYZERS[ModelFormat.HDF5] is analyze_hdf5


def test_legacy_model_is_clean_with_metadata(tmp_path: Path) -> None:
    analysis = scan(write_h5(tmp_path / "m.h5", legacy_config()))
    assert analysis.reasons == []
    meta = analysis.metadata
    assert meta["keras_version"] == "2.13.1" and meta["backend"] == "tensorflow"
    assert meta["model_class"] == "Sequential" and meta["layer_count"] == 2 and meta["datasets"] == 2


def test_marshalled_lambda_is_dangerous(tmp_path: Path) -> None:
    analysis = scan(write_h5(tmp_path / "m.h5", legacy_config(legacy_lambda("evil"))))
    assert verdict(analysis) == Verdict.DANGEROUS
    reason = next(r for r in analysis.reasons if r.rule_id == "MODEL-430")
    assert reason.location == "layer evil" and reason.confidence == "high"


def test_lambda_naming_dangerous_module(tmp_path: Path) -> None:
    layer = {"class_name": "Lambda", "config": {"name": "l", "function": "system", "function_type": "function",
                                                "module": "os"}}
    assert "MODEL-431" in rules(scan(write_h5(tmp_path / "m.h5", legacy_config(layer))))


def test_unknown_legacy_class_is_low_confidence_review(tmp_path: Path) -> None:
    layer = {"class_name": "MyAttention", "config": {"name": "att"}}
    analysis = scan(write_h5(tmp_path / "m.h5", legacy_config(layer)))
    assert rules(analysis) == {"MODEL-432"}
    assert analysis.reasons[0].confidence == "low" and verdict(analysis) == Verdict.REVIEW


def test_keras3_legacy_file_with_op_layers_is_clean(tmp_path: Path) -> None:
    ops = {"class_name": "NotEqual", "config": {"name": "not_equal"}}
    path = write_h5(tmp_path / "m.h5", legacy_config(ops, {"class_name": "__keras_tensor__", "config": {}}))
    with h5py.File(path, "a") as f:
        f.attrs["keras_version"] = "3.6.0"
    assert scan(path).reasons == []
    registered = {"class_name": "my_pkg>Block", "config": {"name": "block"}}
    assert rules(scan(write_h5(tmp_path / "r.h5", legacy_config(registered), keras_version="3.6.0"))) == {"MODEL-432"}


def test_plain_hdf5_is_clean(tmp_path: Path) -> None:
    analysis = scan(write_h5(tmp_path / "data.h5"))
    assert analysis.reasons == [] and analysis.metadata["datasets"] == 2 and analysis.metadata["groups"] == 2


def test_bytes_source_works(tmp_path: Path) -> None:
    data = write_h5(tmp_path / "m.h5", legacy_config(legacy_lambda())).read_bytes()
    analysis = analyze_hdf5(BytesSource("z.zip!m.h5", data), ScanContext(limits=ScanLimits()))
    assert "MODEL-430" in rules(analysis)


def test_external_links_and_storage(tmp_path: Path) -> None:
    path = write_h5(tmp_path / "ext.h5")
    with h5py.File(path, "a") as f:
        f["leak"] = h5py.ExternalLink("/etc/passwd", "/x")
        f["sibling"] = h5py.ExternalLink("other.h5", "/weights")
        f.create_dataset("raw", shape=(16,), dtype="uint8", external=[("/etc/hostname", 0, 16)])
        f.create_dataset("near", shape=(16,), dtype="uint8", external=[("near.bin", 0, 16)])
    analysis = scan(path)
    escapes = {r.location for r in analysis.reasons if r.rule_id == "MODEL-437"}
    relatives = {r.location for r in analysis.reasons if r.rule_id == "MODEL-436"}
    assert escapes == {"object leak", "object raw"} and relatives == {"object sibling", "object near"}
    assert verdict(analysis) == Verdict.DANGEROUS


def test_virtual_dataset_from_parent_folder(tmp_path: Path) -> None:
    layout = h5py.VirtualLayout(shape=(4,), dtype="float32")
    layout[:] = h5py.VirtualSource("../secrets.h5", "data", shape=(4,))
    path = tmp_path / "vds.h5"
    with h5py.File(path, "w") as f:
        f.create_virtual_dataset("v", layout)
    analysis = scan(path)
    assert rules(analysis) == {"MODEL-437"}
    assert analysis.reasons[0].detail["kind"] == "virtual dataset"


def test_broken_files_are_invalid(tmp_path: Path) -> None:
    good = write_h5(tmp_path / "m.h5", legacy_config()).read_bytes()
    for blob in (good[: len(good) // 2], good[:600], b"\x89HDF\r\n\x1a\n" + bytes(100)):
        bad = tmp_path / "bad.h5"
        bad.write_bytes(blob)
        analysis = scan(bad)
        assert rules(analysis) == {"MODEL-492"} and verdict(analysis) == Verdict.INVALID


def test_bad_config_json(tmp_path: Path) -> None:
    path = tmp_path / "m.h5"
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = "{not json"
    assert rules(scan(path)) == {"MODEL-492"}


def test_config_size_limit(tmp_path: Path) -> None:
    path = write_h5(tmp_path / "m.h5", legacy_config())
    analysis = scan(path, max_header_bytes=64)
    assert rules(analysis) == {"MODEL-493"} and verdict(analysis) == Verdict.REVIEW


def test_looks_like_hdf5(tmp_path: Path) -> None:
    path = write_h5(tmp_path / "m.h5")
    assert looks_like_hdf5(path.read_bytes()[:64])
    with_block = tmp_path / "ub.h5"
    with h5py.File(with_block, "w", userblock_size=512) as f:
        f["x"] = np.arange(3)
    assert looks_like_hdf5(with_block.read_bytes()[:4096])
    assert scan(with_block).metadata["datasets"] == 1
    assert not looks_like_hdf5(b"GGUF" + bytes(600))
    buffer = io.BytesIO(b"\x00" * 1024)
    assert not looks_like_hdf5(buffer.getvalue())
