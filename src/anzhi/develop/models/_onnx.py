"""ONNX ``ModelProto``: external-data paths and operator domains, read with the wire reader (no onnx package).

ONNX keeps large tensors outside the model file: a TensorProto with ``data_location = EXTERNAL`` names a
``location`` relative to the model's folder. Runtimes open that path when they load the model, so a crafted
location reads any file the process can (CVE-2024-27318 / CVE-2022-25882). Operators live in domains; a domain
outside the standard and Microsoft ones needs a custom-op library in the runtime.

MODEL-450: external data outside the model's folder (absolute path, ``..`` escape, URL, symlink out) — dangerous.
MODEL-451: external data entry without a usable location (or an unreadable entry) — invalid.
MODEL-452: unusual operator domain (needs a custom-op library) — review.

Every graph is walked: the main graph, subgraphs in node attributes (If/Loop/Scan bodies), training graphs and
model-local functions; tensors in attributes and sparse initializers are checked like initializers. Added in 0.1.0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from anzhi.develop.models._protobuf import (
    ProtoError,
    Value,
    first_int,
    first_str,
    group_fields,
    is_text,
    mapped,
    read_varint,
)
from anzhi.develop.models._registry import Analysis, ScanContext, analyzer
from anzhi.develop.models._result import ModelFormat, Reason, Verdict
from anzhi.develop.models._rules import LIMIT_REACHED, MALFORMED, Rule, register_rules
from anzhi.develop.models._source import FileSource, Source
from anzhi.findings import Confidence, Severity

__all__ = ["ONNX_DOMAIN", "ONNX_EXTERNAL_ESCAPE", "ONNX_EXTERNAL_INVALID", "STANDARD_DOMAINS", "analyze_onnx",
           "looks_like_onnx"]

ONNX_EXTERNAL_ESCAPE = Rule(
    "MODEL-450", "ONNX external data outside the model's folder", Severity.HIGH, Confidence.HIGH, Verdict.DANGEROUS,
    "A tensor's external_data location is an absolute path, climbs out of the model's folder with '..', is a URL, "
    "or is a link resolving outside the folder. Loading the model reads that file (SSH keys, /etc/passwd, cloud "
    "credentials) into a weight, where the model's output can leak it. Do not load it; external data must be "
    "relative files beside the model.", cwe="CWE-22",
)
ONNX_EXTERNAL_INVALID = Rule(
    "MODEL-451", "ONNX external data entry is unusable", Severity.LOW, Confidence.HIGH, Verdict.INVALID,
    "A tensor says its data is external but gives no location (or an empty one). Runtimes reject the model; get "
    "a complete copy.", cwe="CWE-20",
)
ONNX_DOMAIN = Rule(
    "MODEL-452", "ONNX operator from an unusual domain", Severity.MEDIUM, Confidence.MEDIUM, Verdict.REVIEW,
    "Nodes use operators of a domain other than the ONNX standard ones and com.microsoft. The runtime needs a "
    "custom-op library (native code, or Python callbacks with onnxruntime-extensions) to run them. Install such "
    "libraries only from their publisher and check the domain is the one you expect.", cwe="CWE-829",
)

register_rules(ONNX_EXTERNAL_ESCAPE, ONNX_EXTERNAL_INVALID, ONNX_DOMAIN)

STANDARD_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml", "com.microsoft", "ai.onnx.preview.training"})
_DRIVE = re.compile(r"^[A-Za-z]:")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_MAX_GRAPH_DEPTH = 64
_MODEL_TAGS = frozenset({0x12, 0x1A, 0x22, 0x28, 0x32, 0x3A, 0x42, 0x72})


def looks_like_onnx(head: bytes) -> bool:
    """Heuristic on the first fields of a ModelProto: ``ir_version`` (tag 0x08, 1–20) then a ModelProto field.

    A producer name (tag 0x12) must be text: that tells ONNX from a TensorFlow SavedModel, which also starts with
    ``08 01 12`` but continues with a MetaGraphDef message.
    """
    try:
        if head[:1] != b"\x08":
            return False
        version, pos = read_varint(head, 1, len(head))
        if not 1 <= version <= 20 or pos >= len(head):
            return False
        tag = head[pos]
        if tag not in _MODEL_TAGS:
            return False
        if tag in (0x12, 0x1A, 0x22):
            length, start = read_varint(head, pos + 1, len(head))
            return is_text(head[start : start + min(length, 256)]) and length <= 4096
        return True
    except ProtoError:
        return False


def _escape_reason(location: str, folder: Path | None) -> str | None:
    norm = location.replace("\\", "/")
    if "\x00" in location:
        return "contains a NUL byte"
    if (_SCHEME.match(norm) and not _DRIVE.match(norm)) or "://" in norm:
        return "is a URL"
    if norm.startswith(("/", "~")) or _DRIVE.match(norm):
        return "is an absolute path"
    depth = 0
    for part in norm.split("/"):
        depth += -1 if part == ".." else (0 if part in ("", ".") else 1)
        if depth < 0:
            return "climbs out of the model's folder"
    if folder is not None:
        try:
            target = (folder / location).resolve()
            if not target.is_relative_to(folder.resolve()):
                return f"resolves through a link to {str(target)[:200]}"
        except (OSError, ValueError, RuntimeError):
            return None
    return None


@dataclass
class _Walk:
    ctx: ScanContext
    folder: Path | None
    reasons: list[Reason] = field(default_factory=list)
    domains: dict[str, set[str]] = field(default_factory=dict)
    local_functions: set[tuple[str, str]] = field(default_factory=set)
    op_types: dict[str, int] = field(default_factory=dict)
    external_files: dict[str, int] = field(default_factory=dict)
    nodes: int = 0
    initializers: int = 0
    parameters: int = 0
    limited: bool = False

    def tensor(self, raw: memoryview, where: str, count: bool) -> None:
        t = group_fields(raw)
        name = first_str(t, 8, 200)
        if count:
            self.initializers += 1
            self.parameters += _numel(t)
        external = first_int(t, 14) == 1
        entries: dict[str, str] = {}
        for entry in t.get(13, []):
            if isinstance(entry, memoryview):
                kv = group_fields(entry)
                entries[first_str(kv, 1, 64)] = first_str(kv, 2, 4096)
        if not external and not entries:
            return
        location = entries.get("location", "")
        spot = f"{where}tensor {name}" if name else f"{where}tensor"
        if not location:
            self.reasons.append(ONNX_EXTERNAL_INVALID.reason(f"{spot} has external data without a location",
                                                             location=spot))
            return
        self.external_files[location[:300]] = self.external_files.get(location[:300], 0) + 1
        why = _escape_reason(location, self.folder)
        if why is not None:
            self.reasons.append(ONNX_EXTERNAL_ESCAPE.reason(
                f"{spot} takes its data from {location[:200]!r}, which {why}", location=spot,
                detail={"tensor": name, "location": location[:500], "why": why}))

    def graph(self, raw: memoryview, where: str, depth: int) -> None:
        if depth > _MAX_GRAPH_DEPTH:
            self.reasons.append(MALFORMED.reason(f"subgraphs nested deeper than {_MAX_GRAPH_DEPTH}", location=where))
            return
        g = group_fields(raw)
        for value in g.get(5, []):  # initializer
            if isinstance(value, memoryview):
                self.tensor(value, where, count=True)
        for value in g.get(15, []):  # sparse_initializer: values, indices
            if isinstance(value, memoryview):
                sparse = group_fields(value)
                for part in sparse.get(1, []) + sparse.get(2, []):
                    if isinstance(part, memoryview):
                        self.tensor(part, where, count=True)
        for value in g.get(1, []):
            if isinstance(value, memoryview):
                self.node(value, where, depth)
            if self.nodes % 4096 == 0 and self.ctx.out_of_time():
                self.limited = True
                return

    def node(self, raw: memoryview, where: str, depth: int) -> None:
        n = group_fields(raw)
        self.nodes += 1
        domain, op = first_str(n, 7, 200), first_str(n, 4, 200)
        self.op_types[op] = self.op_types.get(op, 0) + 1
        if domain not in STANDARD_DOMAINS and (domain, op) not in self.local_functions:
            self.domains.setdefault(domain, set()).add(op)
        name = first_str(n, 3, 200) or op
        for attr_raw in n.get(5, []):
            if not isinstance(attr_raw, memoryview):
                continue
            attr = group_fields(attr_raw)
            inner = f"{where}node {name} "
            for key in (6, 11):  # g, graphs
                for sub in attr.get(key, []):
                    if isinstance(sub, memoryview):
                        self.graph(sub, inner, depth + 1)
            for key in (5, 10):  # t, tensors
                for sub in attr.get(key, []):
                    if isinstance(sub, memoryview):
                        self.tensor(sub, inner, count=False)
            for key in (22, 23):  # sparse_tensor(s)
                for sub in attr.get(key, []):
                    if isinstance(sub, memoryview):
                        sparse = group_fields(sub)
                        for part in sparse.get(1, []) + sparse.get(2, []):
                            if isinstance(part, memoryview):
                                self.tensor(part, inner, count=False)


def _numel(t: dict[int, list[Value]]) -> int:
    total = 1
    for value in t.get(1, []):
        dims = [value] if isinstance(value, int) else _packed(value)
        for dim in dims:
            total *= dim
    return total if total < 1 << 62 else 0


def _packed(view: memoryview) -> list[int]:
    out: list[int] = []
    pos = 0
    while pos < len(view) and len(out) < 64:
        value, pos = read_varint(view, pos, len(view))
        out.append(value)
    return out


def _opsets(values: list[Value]) -> dict[str, int]:
    out: dict[str, int] = {}
    for value in values[:256]:
        if isinstance(value, memoryview):
            entry = group_fields(value)
            out[first_str(entry, 1, 128) or "ai.onnx"] = first_int(entry, 2) or 0
    return out


def _walk_model(view: memoryview, walk: _Walk, meta: dict[str, Any]) -> None:
    model = group_fields(view)
    ir_version = first_int(model, 1)
    if ir_version is None or 7 not in model:
        walk.reasons.append(MALFORMED.reason("ModelProto without ir_version or graph: not an ONNX model"))
    opsets = _opsets(model.get(8, []))
    for fn_raw in model.get(25, []):
        if isinstance(fn_raw, memoryview):
            fn = group_fields(fn_raw)
            walk.local_functions.add((first_str(fn, 10, 200), first_str(fn, 1, 200)))
    for graph in model.get(7, []):
        if isinstance(graph, memoryview):
            meta["graph_name"] = first_str(group_fields(graph), 2, 200)
            walk.graph(graph, "", 0)
    for info_raw in model.get(20, []):
        if isinstance(info_raw, memoryview):
            info = group_fields(info_raw)
            for key in (1, 2):
                for graph in info.get(key, []):
                    if isinstance(graph, memoryview):
                        walk.graph(graph, "training graph ", 1)
    for fn_raw in model.get(25, []):
        if isinstance(fn_raw, memoryview):
            fn = group_fields(fn_raw)
            for node in fn.get(7, []):
                if isinstance(node, memoryview):
                    walk.node(node, f"function {first_str(fn, 1, 200)} ", 1)
    props = {}
    for entry in model.get(14, [])[:32]:
        if isinstance(entry, memoryview):
            kv = group_fields(entry)
            props[first_str(kv, 1, 128)] = first_str(kv, 2, 256)
    meta.update({
        "ir_version": ir_version, "producer_name": first_str(model, 2, 128) or None,
        "producer_version": first_str(model, 3, 64) or None, "model_domain": first_str(model, 4, 128) or None,
        "model_version": first_int(model, 5), "opset_import": opsets, "metadata_props": props,
        "local_functions": len(walk.local_functions),
    })
    for domain in set(opsets) - STANDARD_DOMAINS - {d for d, _ in walk.local_functions}:
        walk.domains.setdefault(domain, set())


@analyzer(ModelFormat.ONNX)
def analyze_onnx(source: Source, ctx: ScanContext) -> Analysis:
    """Walk an ONNX model's graphs for external-data paths and unusual operator domains."""
    out = Analysis()
    folder = source.path.parent if isinstance(source, FileSource) else None
    walk = _Walk(ctx, folder)
    try:
        with mapped(source) as view:
            _walk_model(view, walk, out.metadata)
    except ProtoError as exc:
        walk.reasons.append(MALFORMED.reason(f"not a well-formed ONNX protobuf: {exc}"))
    except (OSError, ValueError) as exc:
        walk.reasons.append(MALFORMED.reason(f"cannot be read as a protobuf message: {exc}"))
    out.reasons.extend(walk.reasons)
    for domain, ops in sorted(walk.domains.items()):
        shown = sorted(ops)[:20]
        out.reasons.append(ONNX_DOMAIN.reason(
            f"operator domain {domain!r}" + (f" used by {', '.join(shown)}" if shown else " imported"),
            location=f"domain {domain}", detail={"domain": domain[:200], "op_types": shown}))
    if walk.limited:
        out.reasons.append(LIMIT_REACHED.reason(f"time budget spent after {walk.nodes:,} nodes"))
    out.metadata.update({
        "nodes": walk.nodes, "initializers": walk.initializers, "parameter_count": walk.parameters,
        "op_types": sorted(walk.op_types)[:200], "custom_domains": sorted(walk.domains)[:50],
        "external_data_files": sorted(walk.external_files)[:100],
    })
    return out

