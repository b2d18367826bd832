"""Legacy Keras ``.h5`` models and any HDF5 file: the ``model_config`` attribute and references out of the file.

A Keras 2 ``.h5`` model keeps its architecture as JSON in the root attribute ``model_config``; a Lambda layer in it
holds base64 marshalled bytecode that ``load_model`` turns back into a function. The config is walked with the
Keras rules (MODEL-430…434, see :mod:`._keras`). h5py reads lazily: only the attribute (its size checked first)
and the link/object tables are read, never dataset data.

HDF5 itself can point outside the file: external links, datasets whose raw data lives in external files, and
virtual datasets mapping other files. Loading weights through them reads whatever file they name:

MODEL-436: HDF5 object refers to data in another file (relative path) — review.
MODEL-437: HDF5 object refers to an absolute path, a parent folder or a URL — dangerous (arbitrary file read).

A plain HDF5 file without ``model_config`` and without such references is clean. Added in 0.1.0.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from anzhi.develop.models._keras import ConfigWalker, parse_config
from anzhi.develop.models._registry import Analysis, ScanContext, analyzer
from anzhi.develop.models._result import ModelFormat, Verdict
from anzhi.develop.models._rules import LIMIT_REACHED, MALFORMED, Rule, register_rules
from anzhi.develop.models._source import FileSource, Source
from anzhi.findings import Confidence, Severity

if TYPE_CHECKING:  # h5py (and the numpy it loads) cost ~0.2 s at import: only HDF5 files pay it
    import h5py

__all__ = ["HDF5_EXTERNAL", "HDF5_EXTERNAL_ESCAPE", "HDF5_MAGIC", "analyze_hdf5", "looks_like_hdf5"]

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"

HDF5_EXTERNAL = Rule(
    "MODEL-436", "HDF5 object refers to data in another file", Severity.LOW, Confidence.MEDIUM, Verdict.REVIEW,
    "An external link, external-storage dataset or virtual dataset takes its data from another file next to this "
    "one. Loaders follow it silently; make sure the referenced file belongs to the model and is scanned too.",
    cwe="CWE-73",
)
HDF5_EXTERNAL_ESCAPE = Rule(
    "MODEL-437", "HDF5 object reads a file outside the model", Severity.HIGH, Confidence.HIGH, Verdict.DANGEROUS,
    "An external link, external-storage dataset or virtual dataset names an absolute path, climbs out of the "
    "model's folder with '..', or names a URL. Loading the weights reads that file (keys, /etc/passwd) into the "
    "model, where its output can leak it. Do not load the file; ask for one with self-contained datasets.",
    cwe="CWE-22",
)

register_rules(HDF5_EXTERNAL, HDF5_EXTERNAL_ESCAPE)

_DRIVE = re.compile(r"^[A-Za-z]:")


def looks_like_hdf5(head: bytes) -> bool:
    """Whether the first bytes carry the HDF5 signature (at 0, or after a user block of 512·2ⁿ bytes)."""
    offset = 0
    while offset + len(HDF5_MAGIC) <= len(head):
        if head[offset : offset + len(HDF5_MAGIC)] == HDF5_MAGIC:
            return True
        offset = 512 if offset == 0 else offset * 2
    return False


def _escapes(path: str) -> bool:
    norm = path.replace("\\", "/")
    if "://" in norm or norm.startswith(("/", "~")) or _DRIVE.match(norm):
        return True
    depth = 0
    for part in norm.split("/"):
        depth += -1 if part == ".." else (0 if part in ("", ".") else 1)
        if depth < 0:
            return True
    return False


@contextmanager
def _open(source: Source) -> Iterator[h5py.File]:
    import h5py

    if isinstance(source, FileSource):
        handle = h5py.File(source.path, "r", locking=False)
        stream = None
    else:
        stream = source.open()
        handle = h5py.File(stream if isinstance(stream, io.IOBase) else io.BytesIO(stream.read()), "r")
    try:
        yield handle
    finally:
        handle.close()
        if stream is not None:
            stream.close()


def _text(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    if hasattr(value, "tobytes"):
        item = value.item() if getattr(value, "size", 0) == 1 else value.tobytes()
        return item if isinstance(item, bytes) else str(item).encode("utf-8")
    return str(value).encode("utf-8")


def _model_config(f: h5py.File, ctx: ScanContext, out: Analysis) -> None:
    for key in ("keras_version", "backend"):
        if key in f.attrs:
            out.metadata[key] = _text(f.attrs[key]).decode("utf-8", "replace")[:64]
    if "model_config" not in f.attrs:
        return
    # A fixed-length attribute's size is known before reading; a variable-length string lives in the file's
    # global heap, whose objects HDF5 reads only from within the file, so it is bounded by the file size.
    import h5py

    size = h5py.h5a.open(f.id, b"model_config").get_storage_size()
    raw = b"" if size > ctx.limits.max_header_bytes else _text(f.attrs["model_config"])
    if size > ctx.limits.max_header_bytes or len(raw) > ctx.limits.max_header_bytes:
        out.reasons.append(LIMIT_REACHED.reason(
            f"model_config attribute is {max(size, len(raw)):,} bytes (limit {ctx.limits.max_header_bytes:,})",
            location="attribute model_config"))
        return
    config, problem = parse_config(raw, "model_config attribute")
    if problem is not None:
        out.reasons.append(problem)
        return
    if not isinstance(config, dict):
        out.reasons.append(MALFORMED.reason("model_config is not a JSON object", location="attribute model_config"))
        return
    keras3 = str(out.metadata.get("keras_version", "")).startswith("3")
    walker = ConfigWalker(ctx, legacy=True, known_classes_only=not keras3)
    walker.walk(config)
    out.reasons.extend(walker.reasons())
    out.metadata.update(walker.summary())
    out.metadata["model_class"] = str(config.get("class_name", ""))[:120]
    out.metadata["has_model_config"] = True


class _Tables:
    """Visits links and objects, counting datasets and collecting references to other files."""

    def __init__(self, f: h5py.File, ctx: ScanContext, out: Analysis) -> None:
        self.f, self.ctx, self.out = f, ctx, out
        self.datasets = self.groups = self.links = 0
        self.limited = False

    def external(self, where: str, filename: str, inner: str, how: str) -> None:
        rule = HDF5_EXTERNAL_ESCAPE if _escapes(filename) else HDF5_EXTERNAL
        target = f"{filename}:{inner}" if inner else filename
        self.out.reasons.append(rule.reason(f"{how} {where!r} reads {target[:200]!r}", location=f"object {where}",
                                            detail={"kind": how, "file": filename[:500], "path": inner[:200]}))

    def __call__(self, name: str, link: Any) -> bool | None:
        import h5py

        self.links += 1
        if self.links > self.ctx.limits.max_metadata_items or (self.links % 1024 == 0 and self.ctx.out_of_time()):
            self.limited = True
            return True
        if isinstance(link, h5py.ExternalLink):
            self.external(name, str(link.filename), str(link.path), "external link")
            return None
        if not isinstance(link, h5py.HardLink):
            return None
        obj = self.f.get(name)
        if isinstance(obj, h5py.Group):
            self.groups += 1
        elif isinstance(obj, h5py.Dataset):
            self.datasets += 1
            self.dataset(name, obj)
        return None

    def dataset(self, name: str, obj: h5py.Dataset) -> None:
        plist = obj.id.get_create_plist()
        for i in range(min(plist.get_external_count(), 64)):
            target = plist.get_external(i)[0]
            self.external(name, target.decode("utf-8", "replace") if isinstance(target, bytes) else str(target),
                          "", "external-storage dataset")
        if obj.is_virtual:
            for vds in obj.virtual_sources()[:64]:
                if vds.file_name not in (".", ""):
                    self.external(name, str(vds.file_name), str(vds.dset_name), "virtual dataset")


@analyzer(ModelFormat.HDF5)
def analyze_hdf5(source: Source, ctx: ScanContext) -> Analysis:
    """Read the Keras config attribute (if any) and the link tables of an HDF5 file, never its data."""
    out = Analysis()
    try:
        with _open(source) as f:
            _model_config(f, ctx, out)
            tables = _Tables(f, ctx, out)
            f.visititems_links(tables)
            out.metadata.update({"datasets": tables.datasets, "groups": tables.groups})
            if tables.limited:
                out.reasons.append(LIMIT_REACHED.reason(f"stopped after {tables.links:,} links"))
    except (OSError, RuntimeError, ValueError, KeyError, TypeError) as exc:
        out.reasons.append(MALFORMED.reason(f"not a readable HDF5 file: {exc}"[:300]))
    return out
