"""Format detection by content: every format under a misleading name, and look-alikes that are none of them."""

from __future__ import annotations

import bz2
import io
import json
import pickle
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from anzhi.develop.models import BytesSource, FileSource, ModelFormat, detect_format, scan_file

TORCH_MAGIC = 0x1950A86A20F9469CFC6C


def zip_of(members: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def tar_of(members: dict[str, bytes], mode: str = "w") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:  # type: ignore[call-overload]
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def npy() -> bytes:
    numpy = pytest.importorskip("numpy")
    buffer = io.BytesIO()
    numpy.save(buffer, numpy.arange(6, dtype="float32"))
    return buffer.getvalue()


def npz() -> bytes:
    numpy = pytest.importorskip("numpy")
    buffer = io.BytesIO()
    numpy.savez(buffer, weights=numpy.ones(3), bias=numpy.zeros(2))
    return buffer.getvalue()


def hdf5() -> bytes:
    h5py = pytest.importorskip("h5py")
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as handle:
        handle.create_dataset("dense/kernel", data=[[1.0, 2.0]])
    return buffer.getvalue()


def safetensors() -> bytes:
    header = json.dumps({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
    header += b" " * (-len(header) % 8)
    return struct.pack("<Q", len(header)) + header + struct.pack("<2f", 1.0, 2.0)


def gguf() -> bytes:
    return b"GGUF" + struct.pack("<IQQ", 3, 0, 0)


def onnx() -> bytes:
    producer = b"pytorch"
    return b"\x08\x07\x12" + bytes([len(producer)]) + producer + b"\x1a\x032.1" + b"\x3a\x00"


def savedmodel() -> bytes:
    return b"\x08\x01\x12\x06\x0a\x04\x12\x02\x08\x01"


def torch_legacy() -> bytes:
    return b"".join(pickle.dumps(part, protocol=2) for part in (TORCH_MAGIC, 1001, {"little_endian": True}))


def keras() -> bytes:
    return zip_of({"metadata.json": b'{"keras_version": "3.0.0"}', "config.json": b'{"class_name": "Sequential"}',
                   "model.weights.h5": hdf5()})


SAMPLES: list[tuple[str, Callable[[], bytes], ModelFormat]] = [
    ("weights.safetensors", lambda: pickle.dumps({"w": [1.0, 2.0]}, protocol=0), ModelFormat.PICKLE),
    ("model.onnx", lambda: pickle.dumps({"w": [1.0, 2.0]}, protocol=2), ModelFormat.PICKLE),
    ("model.gguf", lambda: pickle.dumps({"w": [1.0, 2.0]}, protocol=5), ModelFormat.PICKLE),
    ("model.h5", lambda: pickle.dumps(1) + pickle.dumps(2), ModelFormat.PICKLE),
    ("model.txt", lambda: zip_of({"anything/data.pkl": pickle.dumps({}, protocol=2), "anything/version": b"3"}),
     ModelFormat.PYTORCH_ZIP),
    ("model.npz", lambda: zip_of({"archive/data.pkl": pickle.dumps({}, protocol=2)}, zipfile.ZIP_DEFLATED),
     ModelFormat.PYTORCH_ZIP),
    ("model.safetensors", torch_legacy, ModelFormat.PYTORCH_LEGACY),
    ("array.pt", npy, ModelFormat.NUMPY),
    ("arrays.pt", npz, ModelFormat.NUMPY_NPZ),
    ("model.bin", lambda: zlib.compress(pickle.dumps({"w": 1}, protocol=4)), ModelFormat.JOBLIB),
    ("model.zip", keras, ModelFormat.KERAS),
    ("model.keras", hdf5, ModelFormat.HDF5),
    ("model.pkl", savedmodel, ModelFormat.SAVEDMODEL),
    ("model.pb", onnx, ModelFormat.ONNX),
    ("model.onnx", gguf, ModelFormat.GGUF),
    ("model.gguf", safetensors, ModelFormat.SAFETENSORS),
    ("model.pt", lambda: zip_of({"README.md": b"hello", "weights/a.npy": b"x"}), ModelFormat.ZIP),
    ("weights.npz", lambda: zip_of({}), ModelFormat.ZIP),
    ("model.h5", lambda: tar_of({"model.pkl": b"data"}), ModelFormat.TAR),
    ("weights.bin", lambda: tar_of({"model.pkl": b"data"}, "w:gz"), ModelFormat.TAR),
    ("weights.pkl", lambda: tar_of({"x": b"data" * 1000}, "w:bz2"), ModelFormat.TAR),
    ("weights.joblib", lambda: tar_of({"x": b"data"}, "w:xz"), ModelFormat.TAR),
    ("selfextract.bin", lambda: b"#!/bin/sh\nexit 0\n" + zip_of({"a.txt": b"x"}), ModelFormat.ZIP),
    ("model.pkl", lambda: b"\x89PNG\r\n\x1a\n" + bytes(64), ModelFormat.UNKNOWN),
    ("model.pt", lambda: b"", ModelFormat.UNKNOWN),
    ("model.bin", lambda: b"just some text that is not a model\n" * 10, ModelFormat.UNKNOWN),
    ("model.gz", lambda: bz2.compress(b"not a tar"), ModelFormat.UNKNOWN),
    ("config.json", lambda: b'{"architectures": ["Llama"]}', ModelFormat.UNKNOWN),
]


@pytest.mark.parametrize(("name", "build", "expected"), SAMPLES, ids=[f"{s[2].value}-{s[0]}" for s in SAMPLES])
def test_detect_by_content_not_name(tmp_path: Path, name: str, build: Callable[[], bytes],
                                    expected: ModelFormat) -> None:
    data = build()
    path = tmp_path / name
    path.write_bytes(data)
    assert detect_format(FileSource(path)) is expected
    assert detect_format(BytesSource(name, data)) is expected
    assert scan_file(path).format is expected


def test_pickle_crafted_to_break_parsers_is_still_a_pickle() -> None:
    # PROTO 4 then a GLOBAL, then a memo read of an entry never stored: a strict walk fails, a loader runs it.
    data = b"\x80\x04cos\nsystem\nVecho hi\n\x85R0h\x03."
    assert detect_format(BytesSource("x", data)) is ModelFormat.PICKLE
    assert detect_format(BytesSource("x", b"cposix\nsystem\n(Vtrue\ntR.")) is ModelFormat.PICKLE


def test_truncated_files_keep_their_format_and_are_reported(tmp_path: Path) -> None:
    for build, fmt in ((safetensors, ModelFormat.SAFETENSORS), (npz, ModelFormat.NUMPY_NPZ)):
        data = build()
        path = tmp_path / f"cut-{fmt.value}"
        path.write_bytes(data[: len(data) * 2 // 3])
        result = scan_file(path)
        assert result.format in (fmt, ModelFormat.ZIP), fmt
        assert result.verdict.value in ("invalid", "review"), (fmt, result.reasons)
        assert result.reasons
