"""TensorFlow SavedModel, frozen GraphDef and Keras ``keras_metadata.pb``: the ops a graph runs, read statically.

A SavedModel's graph is a program: every node names an op that TensorFlow executes when a signature runs. Most ops
are arithmetic; a few read or write files, call back into Python, or talk to the network. This analyser walks the
graph's nodes and every function in its library with the wire reader of :mod:`._protobuf` (no TensorFlow needed)
and reports those ops:

MODEL-440: graph calls back into Python (``PyFunc``, ``EagerPyFunc``) — dangerous.
MODEL-441: graph writes files (``WriteFile``, ``PrintV2`` to ``file://``, debug dumps, dataset writers) — dangerous.
MODEL-442: graph reads files or lists directories (``ReadFile``, ``MatchingFiles``, ``ImmutableConst``) — dangerous.
MODEL-443: graph opens files or services through readers, datasets, summaries, or checkpoint ops outside the
saver — review.
MODEL-444: graph talks to the network (``Rpc``, ``TryRpc``, debug ops streaming to ``grpc://``) — dangerous.
MODEL-445: graph needs a custom op from a native library (``Namespace>Op``) — review.
MODEL-446: custom op named like a command runner (``ShellCommand``) — dangerous, low confidence.

``SaveV2``/``RestoreV2``/``MergeV2Checkpoints`` in the saver's own nodes and functions are how every checkpoint is
written and are not reported. Keras Lambda layers recorded in ``keras_metadata.pb`` are reported with the Keras
rules (MODEL-430…). Added in 0.1.0.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from anzhi.develop.models import _keras
from anzhi.develop.models._protobuf import (
    LEN,
    ProtoError,
    Value,
    first_int,
    first_str,
    group_fields,
    is_text,
    iter_fields,
    mapped,
    read_varint,
    text,
)
from anzhi.develop.models._registry import Analysis, ScanContext, analyzer
from anzhi.develop.models._result import ModelFormat, Reason, Verdict
from anzhi.develop.models._rules import LIMIT_REACHED, MALFORMED, Rule, register_rules
from anzhi.develop.models._source import Source
from anzhi.findings import Confidence, Severity

__all__ = ["TF_CUSTOM_OP", "TF_FILE_READ", "TF_FILE_WRITE", "TF_IO", "TF_NETWORK", "TF_PYFUNC", "TF_SHELL_OP",
           "analyze_savedmodel", "looks_like_savedmodel_pb"]

TF_PYFUNC = Rule(
    "MODEL-440", "TensorFlow graph calls back into Python", Severity.HIGH, Confidence.MEDIUM, Verdict.DANGEROUS,
    "The graph contains PyFunc / PyFuncStateless / EagerPyFunc nodes: running the signature calls a Python function "
    "of the loading process outside the graph. A model has no need for this; it exists to run arbitrary Python. "
    "Re-export the model without tf.py_function / tf.numpy_function.", cwe="CWE-94",
)
TF_FILE_WRITE = Rule(
    "MODEL-441", "TensorFlow graph writes files", Severity.HIGH, Confidence.HIGH, Verdict.DANGEROUS,
    "The graph writes files when it runs (WriteFile, PrintV2 to a file:// stream, debug ops dumping to file://, "
    "dataset writers). A served model can overwrite configuration or plant code. Serving graphs never need this; "
    "strip the ops or re-export from trusted code.", cwe="CWE-73",
)
TF_FILE_READ = Rule(
    "MODEL-442", "TensorFlow graph reads files", Severity.HIGH, Confidence.MEDIUM, Verdict.DANGEROUS,
    "The graph reads arbitrary files or lists directories when it runs (ReadFile, MatchingFiles, WholeFileReader, "
    "ImmutableConst). Its output can then leak the content of keys, credentials or /etc/passwd to whoever queries "
    "the model. Feed file content as an input tensor instead.", cwe="CWE-73",
)
TF_IO = Rule(
    "MODEL-443", "TensorFlow graph opens files or services", Severity.MEDIUM, Confidence.LOW, Verdict.REVIEW,
    "The graph uses readers, file-backed datasets, summary writers, database datasets, tf.data service or "
    "checkpoint ops outside the saver's own functions. Training graphs do this legitimately; a serving graph rarely "
    "does. Check which paths or addresses it opens.", cwe="CWE-73",
)
TF_NETWORK = Rule(
    "MODEL-444", "TensorFlow graph talks to the network", Severity.HIGH, Confidence.MEDIUM, Verdict.DANGEROUS,
    "The graph sends or receives data over the network when it runs (Rpc, TryRpc, RpcClient, debug ops streaming to "
    "grpc://). A model can exfiltrate its inputs this way. Serving graphs never need it.", cwe="CWE-200",
)
TF_CUSTOM_OP = Rule(
    "MODEL-445", "TensorFlow graph needs a custom op library", Severity.MEDIUM, Confidence.MEDIUM, Verdict.REVIEW,
    "The graph uses ops from a namespace (Addons>..., Namespace>Op): loading it needs a native library that runs "
    "code in the serving process. Install such libraries only from their publisher and check the op is expected.",
    cwe="CWE-829",
)
TF_SHELL_OP = Rule(
    "MODEL-446", "TensorFlow op named like a command runner", Severity.HIGH, Confidence.LOW, Verdict.DANGEROUS,
    "An op is named like a shell or process runner (ShellCommand, Exec, Popen, System). No TensorFlow op does this; "
    "a library providing it would run commands for whoever controls the model. Do not load the library.",
    cwe="CWE-78",
)

register_rules(TF_PYFUNC, TF_FILE_WRITE, TF_FILE_READ, TF_IO, TF_NETWORK, TF_CUSTOM_OP, TF_SHELL_OP)

_PYTHON_OPS = frozenset({"PyFunc", "PyFuncStateless", "EagerPyFunc"})
_WRITE_OPS = frozenset({"WriteFile", "DatasetToTFRecord", "ExperimentalDatasetToTFRecord", "SaveDataset",
                        "SaveDatasetV2"})
_READ_OPS = frozenset({"ReadFile", "MatchingFiles", "WholeFileReader", "WholeFileReaderV2", "ImmutableConst"})
_IO_OPS = frozenset({
    "TextLineReader", "TextLineReaderV2", "FixedLengthRecordReader", "FixedLengthRecordReaderV2", "TFRecordReader",
    "TFRecordReaderV2", "LMDBReader", "TextLineDataset", "TFRecordDataset", "TFRecordDatasetV2",
    "FixedLengthRecordDataset", "FixedLengthRecordDatasetV2", "CSVDataset", "CSVDatasetV2", "ExperimentalCSVDataset",
    "LMDBDataset", "ExperimentalLMDBDataset", "SqlDataset", "ExperimentalSqlDataset", "LoadDataset",
    "SnapshotDataset", "SnapshotDatasetV2", "SnapshotDatasetReader", "LoadAndRemapMatrix", "GenerateVocabRemapping",
    "CreateSummaryFileWriter", "CreateSummaryDbWriter", "WriteSummary", "WriteRawProtoSummary", "WriteScalarSummary",
    "WriteHistogramSummary", "WriteImageSummary", "WriteAudioSummary", "WriteGraphSummary", "ImportEvent",
    "DataServiceDataset", "DataServiceDatasetV2", "DataServiceDatasetV3", "DataServiceDatasetV4",
})
_CHECKPOINT_OPS = frozenset({"Save", "SaveSlices", "SaveV2", "Restore", "RestoreSlice", "RestoreV2",
                             "MergeV2Checkpoints"})
_NETWORK_OPS = frozenset({"Rpc", "TryRpc", "RpcCall", "RpcClient", "RpcServer", "RpcServerStart",
                          "RpcServerRegister", "RpcCheckStatus", "RpcGetValue"})
_DEBUG_OPS = frozenset({"DebugIdentity", "DebugIdentityV2", "DebugIdentityV3", "DebugNanCount",
                        "DebugNumericSummary", "DebugNumericSummaryV2"})
_SHELL_WORDS = frozenset({"shell", "popen", "subprocess", "spawn", "exec", "system", "cmd", "command", "syscall"})
_CAMEL = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_OP_NAME = re.compile(rb"^[A-Za-z_][A-Za-z0-9_>.]*$")
_SAVER_HINT = re.compile(r"save|restore|checkpoint", re.IGNORECASE)
_MAX_LOCATIONS = 5


def _shell_like(op: str) -> bool:
    words = {w.lower() for w in _CAMEL.findall(op.split(">")[-1])}
    return bool(words & _SHELL_WORDS) and not op.startswith(("TPU", "Xla", "_"))


@dataclass
class _Walk:
    """What the walk collected: hits by (rule id, op) and counts for the metadata."""

    ctx: ScanContext
    hits: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    rules: dict[str, Rule] = field(default_factory=dict)
    notes: dict[tuple[str, str], str] = field(default_factory=dict)
    ops: dict[str, int] = field(default_factory=dict)
    nodes: int = 0
    functions: int = 0
    limited: bool = False

    def hit(self, rule: Rule, op: str, where: str, note: str = "") -> None:
        key = (rule.id, op)
        self.rules[rule.id] = rule
        self.hits.setdefault(key, []).append(where)
        if note:
            self.notes.setdefault(key, note)


def _attr(node: dict[int, list[Value]], name: str) -> list[str]:
    """String values of one attr of a NodeDef (``s`` or ``list.s``)."""
    out: list[str] = []
    for entry in node.get(5, []):
        if not isinstance(entry, memoryview):
            continue
        kv = group_fields(entry)
        if first_str(kv, 1) != name:
            continue
        for value in kv.get(2, []):
            if not isinstance(value, memoryview):
                continue
            attr = group_fields(value)
            out.extend(text(s) for s in attr.get(2, []) if isinstance(s, memoryview))
            for lst in attr.get(1, []):
                if isinstance(lst, memoryview):
                    out.extend(text(s) for s in group_fields(lst).get(2, []) if isinstance(s, memoryview))
    return out


def _check_node(walk: _Walk, raw: memoryview, scope: str) -> None:
    node = group_fields(raw)
    op = first_str(node, 2, 256)
    name = first_str(node, 1, 256)
    walk.nodes += 1
    walk.ops[op] = walk.ops.get(op, 0) + 1
    where = f"{scope}node {name}" if name else f"{scope}node #{walk.nodes}"
    if op in _PYTHON_OPS:
        walk.hit(TF_PYFUNC, op, where, "calls a Python function registered in the loading process")
    elif op in _WRITE_OPS:
        walk.hit(TF_FILE_WRITE, op, where)
    elif op in _READ_OPS:
        walk.hit(TF_FILE_READ, op, where)
    elif op in _NETWORK_OPS:
        walk.hit(TF_NETWORK, op, where)
    elif op in _IO_OPS:
        walk.hit(TF_IO, op, where)
    elif op in _CHECKPOINT_OPS:
        if not _SAVER_HINT.search(scope + name):
            walk.hit(TF_IO, op, where, "checkpoint op outside the saver's nodes and functions")
    elif op == "PrintV2":
        stream = next(iter(_attr(node, "output_stream")), "stderr")
        if stream.startswith("file://"):
            walk.hit(TF_FILE_WRITE, op, where, f"prints to {stream[:200]}")
    elif op in _DEBUG_OPS:
        for url in _attr(node, "debug_urls"):
            if url.startswith("grpc://"):
                walk.hit(TF_NETWORK, op, where, f"streams tensors to {url[:200]}")
            elif url.startswith("file://"):
                walk.hit(TF_FILE_WRITE, op, where, f"dumps tensors to {url[:200]}")
    elif op == "DecodeProtoV2":
        source = next(iter(_attr(node, "descriptor_source")), "local://")
        if source != "local://":
            walk.hit(TF_IO, op, where, f"loads proto descriptors from {source[:200]}")
    if ">" in op:
        walk.hit(TF_CUSTOM_OP, op, where)
    if _shell_like(op) and op not in _PYTHON_OPS:
        walk.hit(TF_SHELL_OP, op, where)


def _walk_graph(walk: _Walk, graph: memoryview, scope: str) -> None:
    fields = group_fields(graph)
    for i, raw in enumerate(fields.get(1, [])):
        if isinstance(raw, memoryview):
            _check_node(walk, raw, scope)
        if i % 4096 == 0 and walk.ctx.out_of_time():
            walk.limited = True
            return
    for lib in fields.get(2, []):
        if not isinstance(lib, memoryview):
            continue
        for fn_raw in group_fields(lib).get(1, []):
            if not isinstance(fn_raw, memoryview):
                continue
            fn = group_fields(fn_raw)
            walk.functions += 1
            signature = next((s for s in fn.get(1, []) if isinstance(s, memoryview)), None)
            fname = first_str(group_fields(signature), 1, 256) if signature is not None else "?"
            for raw in fn.get(3, []):
                if isinstance(raw, memoryview):
                    _check_node(walk, raw, f"{scope}function {fname} ")
            if walk.ctx.out_of_time():
                walk.limited = True
                return


def _kind(view: memoryview) -> str:
    """``savedmodel``, ``graphdef`` or ``keras-metadata`` from the first field(s) of the message."""
    if len(view) == 0:
        return "graphdef"  # an empty message is a valid, empty GraphDef
    tag, pos = read_varint(view, 0, len(view))
    if tag == 0x08:
        return "savedmodel"
    if tag == 0x0A:
        length, pos = read_varint(view, pos, len(view))
        inner = group_fields(view[pos : pos + length])
        op_like = any(isinstance(v, memoryview) for v in inner.get(2, []))
        if not op_like and (first_str(inner, 4, 64).startswith("_tf_keras") or 5 in inner):
            return "keras-metadata"
    return "graphdef"


def _keras_metadata(view: memoryview, ctx: ScanContext, reasons: list[Reason], meta: dict[str, Any]) -> None:
    nodes = 0
    walker = _keras.ConfigWalker(ctx, legacy=True)
    for number, wire, raw in iter_fields(view):
        if number != 1 or wire != LEN or not isinstance(raw, memoryview):
            continue
        nodes += 1
        obj = group_fields(raw)
        path = first_str(obj, 3, 256)
        blob = next((v for v in reversed(obj.get(5, [])) if isinstance(v, memoryview)), None)
        if blob is None or len(blob) == 0:
            continue
        try:
            config = json.loads(bytes(blob).decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            reasons.append(MALFORMED.reason(f"metadata of {path or 'a node'} is not JSON", location=path))
            continue
        walker.walk(config, path or "root")
    reasons.extend(walker.reasons())
    meta.update({"kind": "keras-metadata", "keras_objects": nodes, **walker.summary()})


def _walk_savedmodel(walk: _Walk, view: memoryview, meta: dict[str, Any]) -> None:
    top = group_fields(view)
    meta["schema_version"] = first_int(top, 1)
    tags: list[str] = []
    signatures: list[str] = []
    for i, mg_raw in enumerate(top.get(2, [])):
        if not isinstance(mg_raw, memoryview):
            continue
        mg = group_fields(mg_raw)
        for info_raw in mg.get(1, []):
            if isinstance(info_raw, memoryview):
                info = group_fields(info_raw)
                tags.extend(text(t, 64) for t in info.get(4, []) if isinstance(t, memoryview))
                meta.setdefault("tensorflow_version", first_str(info, 5, 64) or None)
        for entry in mg.get(5, []):
            if isinstance(entry, memoryview):
                signatures.append(first_str(group_fields(entry), 1, 128))
        for graph in mg.get(2, []):
            if isinstance(graph, memoryview):
                _walk_graph(walk, graph, f"meta_graph {i} " if len(top.get(2, [])) > 1 else "")
    meta.update({"meta_graphs": len(top.get(2, [])), "tags": sorted(set(tags))[:32],
                 "signatures": sorted(set(signatures))[:64]})


def _reasons(walk: _Walk) -> Iterator[Reason]:
    for (rule_id, op), wheres in sorted(walk.hits.items()):
        rule = walk.rules[rule_id]
        note = walk.notes.get((rule_id, op), "")
        count = f" ({len(wheres)} nodes)" if len(wheres) > 1 else ""
        message = f"op {op} at {wheres[0]}{count}" + (f": {note}" if note else "")
        yield rule.reason(message, location=wheres[0],
                          detail={"op": op, "count": len(wheres), "locations": wheres[:_MAX_LOCATIONS]})


@analyzer(ModelFormat.SAVEDMODEL)
def analyze_savedmodel(source: Source, ctx: ScanContext) -> Analysis:
    """Walk a SavedModel / GraphDef / keras_metadata.pb and report ops that touch files, Python or the network."""
    out = Analysis()
    walk = _Walk(ctx)
    try:
        with mapped(source) as view:
            kind = _kind(view)
            if kind == "keras-metadata":
                _keras_metadata(view, ctx, out.reasons, out.metadata)
                return out
            out.metadata["kind"] = kind
            if kind == "savedmodel":
                _walk_savedmodel(walk, view, out.metadata)
            else:
                _walk_graph(walk, view, "")
    except ProtoError as exc:
        out.reasons.append(MALFORMED.reason(f"not a well-formed {ModelFormat.SAVEDMODEL.value} protobuf: {exc}"))
    except (OSError, ValueError) as exc:
        out.reasons.append(MALFORMED.reason(f"cannot be read as a protobuf message: {exc}"))
    out.reasons.extend(_reasons(walk))
    if walk.limited:
        out.reasons.append(LIMIT_REACHED.reason("time budget spent before the whole graph was walked"))
    out.metadata.update({"nodes": walk.nodes, "functions": walk.functions, "distinct_ops": len(walk.ops),
                         "ops": sorted(walk.ops)[:200]})
    return out


def looks_like_savedmodel_pb(head: bytes) -> bool:
    """Best-effort: do these first bytes start a SavedModel, a frozen GraphDef or a Keras ``keras_metadata.pb``?

    SavedModel: ``saved_model_schema_version`` (field 1, small) then a MetaGraphDef (field 2) that is a message,
    not text (that tells it from an ONNX model with ``ir_version`` 1 and a producer name). GraphDef: a first
    NodeDef whose name and op are short identifiers. keras_metadata.pb: a first SavedObject whose identifier
    starts with ``_tf_keras_``.
    """
    try:
        if head[:1] == b"\x08":
            version, pos = read_varint(head, 1, len(head))
            if version > 3 or head[pos : pos + 1] != b"\x12":
                return False
            _length, pos = read_varint(head, pos + 1, len(head))
            payload = head[pos : pos + 64]
            return bool(payload) and payload[0] in (0x0A, 0x12, 0x1A, 0x22, 0x2A, 0x32, 0x3A) and not is_text(payload)
        if head[:1] != b"\x0a":
            return False
        if b"_tf_keras_" in head[:512]:
            return True
        _length, pos = read_varint(head, 1, len(head))
        node = head[pos:]
        seen: dict[int, bytes] = {}
        while node and len(seen) < 2:
            tag, p = read_varint(node, 0, len(node))
            if tag & 7 != LEN or (tag >> 3) not in (1, 2):
                return False
            size, p = read_varint(node, p, len(node))
            if size > 256 or p + size > len(node):
                return False
            seen[tag >> 3] = node[p : p + size]
            node = node[p + size :]
        return 2 in seen and bool(_OP_NAME.match(seen[2])) and (1 not in seen or is_text(seen[1]))
    except ProtoError:
        return False

