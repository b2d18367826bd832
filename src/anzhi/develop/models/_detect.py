"""Telling model formats apart by content: magic bytes and structure, never the file name.

The order matters where formats nest or overlap: a zip is classified by its member names (PyTorch, NumPy .npz,
Keras 3, or a plain zip); a gzip stream is a tar only if it decompresses to a tar header (otherwise it may be a
compressed joblib); a legacy PyTorch file and a joblib dump are pickles with a recognisable start, so they are
tried before plain pickle; the protobuf formats (ONNX, SavedModel) have no magic and come last.
"""

from __future__ import annotations

import re
import zipfile

from anzhi.develop.models._archive import compressed_tar_head, local_entries, looks_like_tar
from anzhi.develop.models._gguf import looks_like_gguf
from anzhi.develop.models._hdf5 import looks_like_hdf5
from anzhi.develop.models._keras import is_keras_zip
from anzhi.develop.models._onnx import looks_like_onnx
from anzhi.develop.models._pickle_formats import looks_like_joblib, looks_like_pickle, looks_like_torch_legacy
from anzhi.develop.models._result import ModelFormat
from anzhi.develop.models._safetensors import looks_like_safetensors
from anzhi.develop.models._savedmodel import looks_like_savedmodel_pb
from anzhi.develop.models._sevenzip import looks_like_7z
from anzhi.develop.models._source import ScanLimits, Source

__all__ = ["CONTAINER_FORMATS", "HEAD_BYTES", "NPY_MAGIC", "detect_format", "zip_format"]

#: How much of a file detection reads.
HEAD_BYTES = 64 * 1024
NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_GLOBAL_START = re.compile(rb"c[A-Za-z_][\w.]{0,200}\n[A-Za-z_][\w.]{0,200}\n")
_BZIP2_HEAD = 1024 * 1024  # a bzip2 stream yields nothing before its first block (up to 900 kB) is in

#: Formats that hold other files; opening one adds a level of nesting.
CONTAINER_FORMATS = frozenset({
    ModelFormat.ZIP, ModelFormat.TAR, ModelFormat.PYTORCH_ZIP, ModelFormat.NUMPY_NPZ, ModelFormat.KERAS,
})


def zip_format(names: list[str]) -> ModelFormat:
    """Which zip-based format a member list is: PyTorch (``<any>/data.pkl``), .npz (all ``.npy``), Keras 3, zip."""
    files = [name for name in names if not name.endswith("/")]
    if any(name.endswith("/data.pkl") for name in files):
        return ModelFormat.PYTORCH_ZIP
    if files and all(name.endswith(".npy") for name in files):
        return ModelFormat.NUMPY_NPZ
    if is_keras_zip(names):
        return ModelFormat.KERAS
    return ModelFormat.ZIP


def _zip_names(source: Source) -> list[str] | None:
    """Member names from the central directory, else from the local headers; None if neither reads."""
    stream = source.open()
    try:
        with zipfile.ZipFile(stream) as archive:
            return archive.namelist()[: ScanLimits().max_members]
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, EOFError):
        pass  # no readable central directory: the caller calls it a ZIP, whose analyser reports why
    finally:
        stream.close()
    names = [entry.name for entry in local_entries(source, ScanLimits())]
    return names or None


def _is_tar(source: Source, head: bytes) -> bool:
    if looks_like_tar(head):
        return True
    if head.startswith(b"BZh") and len(head) < _BZIP2_HEAD <= source.size:
        head = source.read_at(0, _BZIP2_HEAD)
    inner = compressed_tar_head(head)
    return inner is not None and looks_like_tar(inner)


def _starts_like_pickle(head: bytes) -> bool:
    """A pickle that does not walk cleanly (crafted to break parsers) still opens with PROTO 2–5 or a GLOBAL.

    A loader runs such a file up to the point where it breaks, so it must be analysed as a pickle, not
    dismissed as unknown. Neither start is a valid opening of the protobuf formats tried before this.
    """
    return (len(head) > 2 and head[0] == 0x80 and 2 <= head[1] <= 5) or _GLOBAL_START.match(head) is not None


def _is_zip(source: Source) -> bool:
    stream = source.open()
    try:
        return zipfile.is_zipfile(stream)
    except (OSError, ValueError):
        return False
    finally:
        stream.close()


def detect_format(source: Source) -> ModelFormat:
    """The format of ``source`` judged by content alone (``UNKNOWN`` when nothing matches).

    Raises:
        OSError: the source cannot be read.
    """
    head = source.read_at(0, HEAD_BYTES)
    if not head:
        return ModelFormat.UNKNOWN
    if head.startswith(NPY_MAGIC):
        return ModelFormat.NUMPY
    if head.startswith(_ZIP_MAGIC):
        names = _zip_names(source)
        return ModelFormat.ZIP if names is None else zip_format(names)
    if looks_like_gguf(head):
        return ModelFormat.GGUF
    if looks_like_hdf5(head):
        return ModelFormat.HDF5
    if looks_like_safetensors(head):  # not bounded by the size: a truncated file is a truncated safetensors
        return ModelFormat.SAFETENSORS
    if _is_tar(source, head):
        return ModelFormat.TAR
    if looks_like_7z(head):
        return ModelFormat.SEVEN_ZIP
    for check, fmt in (
        (looks_like_torch_legacy, ModelFormat.PYTORCH_LEGACY),
        (looks_like_joblib, ModelFormat.JOBLIB),
        (looks_like_pickle, ModelFormat.PICKLE),
        (looks_like_onnx, ModelFormat.ONNX),
        (looks_like_savedmodel_pb, ModelFormat.SAVEDMODEL),
    ):
        if check(head):
            return fmt
    if _starts_like_pickle(head):
        return ModelFormat.PICKLE
    if _is_zip(source):  # a zip after other bytes (self-extracting, or data prepended to hide it)
        names = _zip_names(source)
        return ModelFormat.ZIP if names is None else zip_format(names)
    return ModelFormat.UNKNOWN
