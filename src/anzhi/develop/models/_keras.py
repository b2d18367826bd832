"""Keras 3 ``.keras`` archives and the Keras config walk shared with legacy HDF5 and ``keras_metadata.pb``.

A Keras config is a tree of ``{"class_name", "config", "module", "registered_name"}`` objects that ``load_model``
turns back into Python objects: a ``module`` is imported and a name looked up in it, a Lambda layer's function is
unmarshalled from base64 bytecode. The walk below visits every object of the tree (functional, sequential, nested
models, wrappers) without importing anything and reports:

MODEL-430: Lambda layer (or any ``__lambda__`` object) carries serialised Python code — dangerous.
MODEL-431: the config references a dangerous Python module or function (``os.system``, ``builtins.exec``,
``keras.config.enable_unsafe_deserialization``, a pickled ``TorchModuleWrapper``) — dangerous.
MODEL-432: custom object outside the Keras family (a module, registered name or legacy class Keras does not ship)
— review.
MODEL-433: the config asks to be loaded with ``safe_mode=False`` — review.
MODEL-434: a layer reads a file or URL when it is built (``vocabulary`` path, ``TFSMLayer`` filepath) — review.

Example: ``MODEL-430 dangerous  model.keras  layer lambda: Lambda layer carries marshalled Python bytecode``.
CWE-502 / CWE-94; OWASP LLM03, ATLAS AML.T0010. Added in 0.1.0.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import re
from typing import Any

from anzhi.develop.models._registry import Analysis, ScanContext, analyzer
from anzhi.develop.models._result import FileResult, ModelFormat, Reason, Verdict
from anzhi.develop.models._rules import LIMIT_REACHED, MALFORMED, Rule, register_rules
from anzhi.develop.models._source import BytesSource, Source
from anzhi.develop.models._zipread import ZipProblem, member_problems, open_zip, read_member
from anzhi.findings import Confidence, Severity

__all__ = ["KERAS_CUSTOM", "KERAS_DANGEROUS_REF", "KERAS_FILE_REF", "KERAS_LAMBDA", "KERAS_UNSAFE_MODE",
           "ConfigWalker", "analyze_keras", "is_keras_zip"]

KERAS_LAMBDA = Rule(
    "MODEL-430", "Keras Lambda layer carries serialised Python code", Severity.HIGH, Confidence.HIGH,
    Verdict.DANGEROUS,
    "A Lambda layer (or a __lambda__ object) stores its function as marshalled Python bytecode or source. Loading "
    "the model with safe_mode=False, or with Keras 2, rebuilds the function and runs it on every call: arbitrary "
    "code. Rewrite the function as a registered custom layer whose code you review, or rebuild the model from code.",
    cwe="CWE-94",
)
KERAS_DANGEROUS_REF = Rule(
    "MODEL-431", "Keras config references a dangerous Python callable", Severity.CRITICAL, Confidence.HIGH,
    Verdict.DANGEROUS,
    "An object in the config names a module/function that runs commands, touches files or the network, disables "
    "safe mode, or unpickles data (os.system, builtins.exec, keras.config.enable_unsafe_deserialization, "
    "keras.utils.get_file, TorchModuleWrapper). Keras imports and calls it while loading (CVE-2025-1550 and "
    "successors). Do not load the file.",
)
KERAS_CUSTOM = Rule(
    "MODEL-432", "Keras custom object outside the Keras family", Severity.MEDIUM, Confidence.MEDIUM, Verdict.REVIEW,
    "The config names a class or function from a module Keras does not ship (or, in legacy files, a class name "
    "Keras does not know). Loading needs that code, imported from the loading environment; check that the module "
    "is one you trust and that you pass it explicitly through custom_objects.",
)
KERAS_UNSAFE_MODE = Rule(
    "MODEL-433", "Keras config asks for unsafe deserialisation", Severity.MEDIUM, Confidence.MEDIUM, Verdict.REVIEW,
    "The config carries safe_mode=false. Loading with safe mode off lets Lambda bytecode and arbitrary callables "
    "run; keep safe_mode=True and find out why the file asks otherwise.",
)
KERAS_FILE_REF = Rule(
    "MODEL-434", "Keras layer reads a file or URL when built", Severity.MEDIUM, Confidence.MEDIUM, Verdict.REVIEW,
    "A layer's config names a path or URL it reads while the model loads (a StringLookup/TextVectorization "
    "vocabulary file, a TFSMLayer SavedModel). A crafted path reads local secrets into the model or fetches from "
    "an attacker's server (CVE-2025-12058). Ship such data inside the archive's assets.", cwe="CWE-73",
)

register_rules(KERAS_LAMBDA, KERAS_DANGEROUS_REF, KERAS_CUSTOM, KERAS_UNSAFE_MODE, KERAS_FILE_REF)

KERAS_FAMILY = frozenset({"keras", "tf_keras", "keras_hub", "keras_nlp", "keras_cv", "keras_rs"})
DANGEROUS_MODULES = frozenset({
    "os", "posix", "nt", "subprocess", "builtins", "__builtin__", "sys", "shutil", "socket", "importlib", "runpy",
    "pty", "code", "codeop", "ctypes", "pickle", "_pickle", "marshal", "types", "multiprocessing", "webbrowser",
    "requests", "urllib", "urllib2", "http", "httpx", "ftplib", "telnetlib", "smtplib", "asyncio", "pathlib", "io",
    "tempfile", "glob", "platform", "commands", "popen2", "operator", "functools", "dill", "joblib", "torch",
    "numpy.ctypeslib", "pdb", "timeit", "signal",
})
_DANGEROUS_KERAS_NAMES = frozenset({"enable_unsafe_deserialization", "get_file", "load_model", "load_weights",
                                    "save_model", "TorchModuleWrapper", "exec", "eval"})
_DANGEROUS_BUILTINS = frozenset({"exec", "eval", "compile", "__import__", "open", "getattr", "setattr", "delattr",
                                 "globals", "locals", "vars", "input", "breakpoint", "exit", "quit", "print"})
_FILE_KEYS = frozenset({"vocabulary", "filepath", "vocabulary_file"})
_LEGACY_CLASSES = frozenset(n.lower() for n in """
Functional Sequential Model InputLayer Dense Activation Dropout Flatten Reshape Permute RepeatVector Lambda
ActivityRegularization Masking SpatialDropout1D SpatialDropout2D SpatialDropout3D Conv1D Conv2D Conv3D
Conv1DTranspose Conv2DTranspose Conv3DTranspose Convolution1D Convolution2D Convolution3D Deconvolution2D
SeparableConv1D SeparableConv2D DepthwiseConv1D DepthwiseConv2D Cropping1D Cropping2D Cropping3D UpSampling1D
UpSampling2D UpSampling3D ZeroPadding1D ZeroPadding2D ZeroPadding3D MaxPooling1D MaxPooling2D MaxPooling3D
AveragePooling1D AveragePooling2D AveragePooling3D MaxPool1D MaxPool2D MaxPool3D AvgPool1D AvgPool2D AvgPool3D
GlobalMaxPooling1D GlobalMaxPooling2D GlobalMaxPooling3D GlobalAveragePooling1D GlobalAveragePooling2D
GlobalAveragePooling3D GlobalMaxPool1D GlobalMaxPool2D GlobalMaxPool3D GlobalAvgPool1D GlobalAvgPool2D
GlobalAvgPool3D LocallyConnected1D LocallyConnected2D RNN SimpleRNN GRU LSTM SimpleRNNCell GRUCell LSTMCell
StackedRNNCells PeepholeLSTMCell ConvLSTM1D ConvLSTM2D ConvLSTM3D Bidirectional TimeDistributed Wrapper
Embedding Add Subtract Multiply Average Maximum Minimum Concatenate Dot BatchNormalization LayerNormalization
GroupNormalization UnitNormalization SyncBatchNormalization GaussianNoise GaussianDropout AlphaDropout
LeakyReLU PReLU ELU ThresholdedReLU Softmax ReLU MultiHeadAttention Attention AdditiveAttention Rescaling
Normalization Resizing CenterCrop RandomFlip RandomRotation RandomZoom RandomTranslation RandomContrast
RandomCrop RandomHeight RandomWidth RandomBrightness StringLookup IntegerLookup TextVectorization
CategoryEncoding Hashing Discretization HashedCrossing EinsumDense Identity CuDNNLSTM CuDNNGRU TFOpLambda
SlicingOpLambda Zeros Ones Constant RandomNormal RandomUniform TruncatedNormal VarianceScaling Orthogonal
GlorotNormal GlorotUniform HeNormal HeUniform LecunNormal LecunUniform glorot_uniform glorot_normal he_normal
he_uniform lecun_normal lecun_uniform L1 L2 L1L2 OrthogonalRegularizer MaxNorm NonNeg UnitNorm MinMaxNorm
RadialConstraint Policy DTypePolicy __tuple__ __ellipsis__ Sum
""".split())  # noqa: SIM905 - a word list reads better
_NAME_RUN = re.compile(rb"[A-Za-z_][A-Za-z0-9_.]{1,63}")
_MAX_CODE_B64 = 4 * 1024 * 1024


def _top(module: str) -> str:
    return module.split(".", 1)[0]


def _is_dangerous_module(module: str) -> bool:
    return module in DANGEROUS_MODULES or _top(module) in DANGEROUS_MODULES


def _code_names(blob: str) -> list[str]:
    """Identifiers visible in base64 marshalled code (evidence for the report; the code is never unmarshalled)."""
    try:
        raw = base64.b64decode(blob[:_MAX_CODE_B64], validate=False)
    except (binascii.Error, ValueError):
        return []
    names = [m.group().decode("ascii") for m in _NAME_RUN.finditer(raw)]
    return list(dict.fromkeys(names))[:24]


def _first_str(value: Any, depth: int = 0) -> str | None:
    """The first string inside a __lambda__ config (``code``, ``value`` list or ``__tuple__``), if any."""
    if isinstance(value, str):
        return value
    if depth > 4:
        return None
    items = [value.get("code"), value.get("value"), value.get("config")] if isinstance(value, dict) else (
        list(value[:1]) if isinstance(value, list) else [])
    for item in items:
        found = _first_str(item, depth + 1)
        if found is not None:
            return found
    return None


def _path_is_remote_or_absolute(value: str) -> bool:
    return "://" in value or value.startswith(("/", "\\", "~")) or bool(re.match(r"^[A-Za-z]:", value)) \
        or ".." in value.replace("\\", "/").split("/")


class ConfigWalker:
    """Walks Keras config trees and collects reasons, aggregated per (rule, subject).

    ``legacy`` selects the conventions of configs without ``module`` keys (legacy H5, keras_metadata.pb): there,
    registered names (``Package>Class``) are custom objects and, with ``known_classes_only`` (Keras 2 files, whose
    class set is closed), so is any class name Keras 2 does not ship. Keras 3 writes its ops as layers (``NotEqual``,
    ``Any``) into legacy H5 files, so for those only registered names count.
    """

    def __init__(self, ctx: ScanContext, *, legacy: bool, known_classes_only: bool = True) -> None:
        self.ctx = ctx
        self.legacy = legacy
        self.known_classes_only = known_classes_only
        self.max_nodes = min(ctx.limits.max_metadata_items, 2_000_000)
        self.nodes = 0
        self.layers = 0
        self.lambdas = 0
        self.custom: dict[str, int] = {}
        self.limited = False
        self._hits: dict[tuple[str, str], tuple[Rule, str, str, dict[str, Any], int]] = {}

    def _hit(self, rule: Rule, subject: str, message: str, where: str, detail: dict[str, Any] | None = None) -> None:
        key = (rule.id, subject)
        if key in self._hits:
            r, m, w, d, n = self._hits[key]
            self._hits[key] = (r, m, w, d, n + 1)
        else:
            self._hits[key] = (rule, message, where, dict(detail or {}), 1)

    def walk(self, config: Any, location: str = "root") -> None:
        """Visit every object in ``config`` (iteratively: deep nesting cannot overflow the stack)."""
        stack: list[tuple[Any, str, str]] = [(config, location, "")]
        while stack:
            node, where, key = stack.pop()
            self.nodes += 1
            if self.nodes > self.max_nodes or (self.nodes % 4096 == 0 and self.ctx.out_of_time()):
                self.limited = True
                return
            if isinstance(node, dict):
                if key in ("layers", "layer") and "class_name" in node:
                    self.layers += 1
                where = self._visit(node, where)
                stack.extend((v, where, str(k)) for k, v in node.items() if isinstance(v, dict | list))
                for k, v in node.items():
                    self._scalar(str(k), v, where)
            elif isinstance(node, list):
                stack.extend((v, where, key) for v in node if isinstance(v, dict | list))

    def _scalar(self, key: str, value: Any, where: str) -> None:
        if key == "safe_mode" and value is False:
            self._hit(KERAS_UNSAFE_MODE, "safe_mode", "config sets safe_mode=false", where)
        elif key in _FILE_KEYS and isinstance(value, str) and ("/" in value or "\\" in value or "://" in value):
            self._hit(KERAS_FILE_REF, f"{key}:{value}", f"{key} reads {value[:200]!r} when the layer is built",
                      where, {"key": key, "path": value[:500], "outside": _path_is_remote_or_absolute(value)})

    def _visit(self, node: dict[str, Any], where: str) -> str:
        cls = node.get("class_name")
        cfg = node.get("config")
        name = cfg.get("name") if isinstance(cfg, dict) else None
        if isinstance(name, str) and name:
            where = f"layer {name[:120]}"
        if not isinstance(cls, str):
            return where
        if cls == "__lambda__":
            self._lambda(_first_str(cfg), where)
        elif cls == "Lambda" and isinstance(cfg, dict):
            self._legacy_lambda(cfg, where)
        if cls == "TorchModuleWrapper":
            self._hit(KERAS_DANGEROUS_REF, cls, "TorchModuleWrapper stores a pickled torch module that is "
                      "unpickled on load", where, {"class_name": cls})
        module = node.get("module")
        if isinstance(module, str) and module:
            self._module_ref(module, cls, cfg, where)
        registered = node.get("registered_name")
        if isinstance(registered, str) and ">" in registered:
            package = registered.split(">", 1)[0]
            if _top(package) not in KERAS_FAMILY and not (isinstance(module, str) and module):
                self._custom(registered, where)
        if self.legacy and not isinstance(module, str) and (">" in cls or (
                self.known_classes_only and cls.lower() not in _LEGACY_CLASSES
                and not (cls.startswith("__") and cls.endswith("__")))):  # Keras's own markers: __keras_tensor__
            self._custom(cls, where, Confidence.LOW)
        return where

    def _custom(self, subject: str, where: str, confidence: Confidence | None = None) -> None:
        self.custom[subject] = self.custom.get(subject, 0) + 1
        if confidence is None:
            self._hit(KERAS_CUSTOM, subject, f"custom object {subject[:200]}", where, {"object": subject[:200]})
        else:
            self._hit(KERAS_CUSTOM, subject, f"class {subject[:200]} is not a Keras class", where,
                      {"object": subject[:200], "confidence": confidence.value})

    def _module_ref(self, module: str, cls: str, cfg: Any, where: str) -> None:
        target = f"{module}.{cfg}" if cls == "function" and isinstance(cfg, str) else f"{module}.{cls}"
        leaf = target.rsplit(".", 1)[-1]
        if module == "builtins" and cls == "function" and leaf not in _DANGEROUS_BUILTINS:
            # Keras writes a plain user function as builtins.<name>: it is looked up among the registered custom
            # objects, never imported from builtins (unless the name is a real builtin, the CVE-2025-1550 shape).
            self._custom(f"function {leaf}", where)
        elif _is_dangerous_module(module):
            self._hit(KERAS_DANGEROUS_REF, target, f"references {target[:200]}: module {module} is imported when "
                      "the model loads", where, {"module": module[:200], "name": leaf[:200]})
        elif _top(module) in KERAS_FAMILY:
            if leaf in _DANGEROUS_KERAS_NAMES:
                self._hit(KERAS_DANGEROUS_REF, target, f"references {target[:200]}", where,
                          {"module": module[:200], "name": leaf[:200]})
        else:
            self._custom(target, where)

    def _lambda(self, code: Any, where: str) -> None:
        self.lambdas += 1
        detail: dict[str, Any] = {}
        if isinstance(code, str):
            detail = {"code_bytes": len(code) * 3 // 4, "names": _code_names(code)}
        self._hit(KERAS_LAMBDA, where, "Lambda function stored as marshalled Python bytecode", where, detail)

    def _legacy_lambda(self, cfg: dict[str, Any], where: str) -> None:
        for key in ("function", "output_shape"):
            value = cfg.get(key)
            kind = cfg.get(f"{key}_type" if key == "output_shape" else "function_type")
            if isinstance(value, list | tuple) and value and isinstance(value[0], str):
                self._lambda(value[0], where)
            elif isinstance(value, str) and kind == "lambda":
                self._lambda(value, where)
            elif isinstance(value, str) and kind in ("function", None) and key == "function":
                module = cfg.get("module")
                if isinstance(module, str) and _is_dangerous_module(module):
                    self._hit(KERAS_DANGEROUS_REF, f"{module}.{value}",
                              f"Lambda names {module}.{value} as its function", where,
                              {"module": module[:200], "name": value[:200]})
                elif self.legacy and value:
                    self._custom(f"function {value}", where, Confidence.LOW)

    def reasons(self) -> list[Reason]:
        """One reason per (rule, subject), with the number of places it occurs."""
        out: list[Reason] = []
        for rule, message, where, raw, count in self._hits.values():
            detail = {k: v for k, v in raw.items() if k != "confidence"}
            conf = raw.get("confidence")
            sev = Severity.HIGH if detail.get("outside") else None
            suffix = f" ({count} places)" if count > 1 else ""
            out.append(rule.reason(message + suffix, location=where, detail={**detail, "count": count},
                                   confidence=Confidence(conf) if conf else None, severity=sev))
        if self.limited:
            out.append(LIMIT_REACHED.reason(f"config walk stopped after {self.nodes:,} objects"))
        return out

    def summary(self) -> dict[str, Any]:
        """Counts for the AI-BOM: layers, Lambda layers, custom objects."""
        return {"layer_count": self.layers, "lambda_layers": self.lambdas,
                "custom_objects": sorted(self.custom)[:50]}


def parse_config(data: bytes, what: str) -> tuple[Any, Reason | None]:
    """JSON from bytes, or the MALFORMED reason it is not."""
    try:
        return json.loads(data.decode("utf-8")), None
    except RecursionError:
        return None, MALFORMED.reason(f"{what} is nested too deeply to parse")
    except (UnicodeDecodeError, ValueError) as exc:
        return None, MALFORMED.reason(f"{what} is not valid JSON: {exc}"[:300])


def is_keras_zip(names: list[str]) -> bool:
    """Whether a zip's member names are those of a Keras 3 ``.keras`` archive."""
    top = set(names)
    return "config.json" in top and ("metadata.json" in top or any(n.startswith("model.weights.") for n in top))


def _read_json_member(archive: Any, name: str, ctx: ScanContext) -> tuple[Any, Reason | None]:
    info = archive.getinfo(name)
    if info.file_size > ctx.limits.max_header_bytes:
        return None, LIMIT_REACHED.reason(f"{name} is {info.file_size:,} bytes (limit "
                                          f"{ctx.limits.max_header_bytes:,})", location=f"member {name}")
    data = read_member(archive, info, dataclasses.replace(ctx.limits, max_member_bytes=ctx.limits.max_header_bytes))
    if isinstance(data, Reason):
        return None, data
    return parse_config(data, name)


def _scan_members(archive: Any, source: Source, ctx: ScanContext, out: Analysis) -> None:
    if ctx.scan_member is None:
        return
    assets = 0
    for info in archive.infolist()[: ctx.limits.max_members]:
        if info.is_dir() or info.filename in ("config.json", "metadata.json"):
            continue
        data = read_member(archive, info, ctx.limits)
        if isinstance(data, Reason):
            out.reasons.append(data)
            continue
        hint = ModelFormat.HDF5 if info.filename.endswith(".h5") else None
        result: FileResult = ctx.scan_member(BytesSource(f"{source.name}!{info.filename}", data), hint)
        if result.format == ModelFormat.UNKNOWN and all(r.rule_id == "MODEL-491" for r in result.reasons):
            assets += 1
            continue
        out.members.append(result)
    out.metadata["assets"] = assets


@analyzer(ModelFormat.KERAS)
def analyze_keras(source: Source, ctx: ScanContext) -> Analysis:
    """Check a Keras 3 archive: its config tree, its metadata, and (through the scanner) its other members."""
    out = Analysis()
    try:
        with open_zip(source) as archive:
            out.reasons.extend(member_problems(archive, ctx.limits))
            names = archive.namelist()
            if "config.json" not in names:
                out.reasons.append(MALFORMED.reason("archive has no config.json: not a Keras 3 model"))
                return out
            meta, problem = _read_json_member(archive, "metadata.json", ctx) if "metadata.json" in names \
                else (None, None)
            if problem is not None:
                out.reasons.append(problem)
            if isinstance(meta, dict):
                out.metadata.update({k: str(meta[k])[:64] for k in ("keras_version", "date_saved") if k in meta})
            config, problem = _read_json_member(archive, "config.json", ctx)
            if problem is not None:
                out.reasons.append(problem)
            elif isinstance(config, dict):
                walker = ConfigWalker(ctx, legacy=False)
                walker.walk(config)
                out.reasons.extend(walker.reasons())
                out.metadata.update(walker.summary())
                out.metadata["model_class"] = str(config.get("class_name", ""))[:120]
            else:
                out.reasons.append(MALFORMED.reason("config.json is not a JSON object"))
            _scan_members(archive, source, ctx, out)
    except ZipProblem as problem:
        out.reasons.append(problem.reason)
    return out
