"""The pickle policy: which globals are known safe, which are dangerous, and which need review — as data.

The lists live in ``data/pickle_policy.yaml`` (validated when loaded); this module turns them into a
:class:`PicklePolicy` that judges one ``module.name`` at a time, and holds the rules MODEL-400–419 that the pickle
analysis reports. Matching order: deny, allow (per ecosystem), dunder attribute paths, name patterns, unknown.
"""

from __future__ import annotations

import _compat_pickle
import base64
import binascii
import bz2
import codecs
import lzma
import re
import zlib
from dataclasses import dataclass, replace
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from anzhi.develop.models._result import Reason, Verdict
from anzhi.develop.models._rules import Rule, register_rules
from anzhi.findings import Confidence, Severity

_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

__all__ = [
    "ALL_ECOSYSTEMS",
    "CATEGORY_RULES",
    "Category",
    "Ecosystem",
    "Judgement",
    "PicklePolicy",
    "Role",
    "Standing",
    "decoded_preview",
    "global_reason",
    "policy_for",
]


class Category(StrEnum):
    """What a dangerous global can do."""

    CODE = "code"
    PROCESS = "process"
    NETWORK = "network"
    FILE = "file"
    IMPORT = "import"
    NATIVE = "native"
    NESTED = "nested"
    OTHER = "other"


class Ecosystem(StrEnum):
    """Whose globals an allowlist entry covers."""

    PYTHON = "python"
    TORCH = "torch"
    NUMPY = "numpy"
    SKLEARN = "sklearn"
    JOBLIB = "joblib"


ALL_ECOSYSTEMS: frozenset[Ecosystem] = frozenset(Ecosystem)


class Role(StrEnum):
    """Globals whose meaning the analysis follows (what getattr resolves, what eval is fed)."""

    GETATTR = "getattr"
    IMPORTER = "importer"
    ATTRGETTER = "attrgetter"
    METHODCALLER = "methodcaller"
    PARTIAL = "partial"
    CODE_SINK = "code_sink"
    DECODER = "decoder"


class Standing(StrEnum):
    """The policy's answer for one global."""

    SAFE = "safe"
    DANGEROUS = "dangerous"
    SUSPICIOUS = "suspicious"
    UNKNOWN = "unknown"


def _rule(rule_id: str, title: str, severity: Severity, confidence: Confidence, verdict: Verdict, doc: str,
          cwe: str | None = "CWE-502") -> Rule:
    return Rule(rule_id, title, severity, confidence, verdict, doc, cwe=cwe, tags=("pickle",))


_SAFE = ("Load only weights, never code: prefer safetensors, or torch.load(weights_only=True), or rebuild the "
         "object from a trusted class and load its state from a data-only format.")
CATEGORY_RULES: dict[Category, Rule] = {
    Category.CODE: _rule(
        "MODEL-400", "pickle runs Python code", Severity.CRITICAL, Confidence.HIGH, Verdict.DANGEROUS,
        "The pickle names a global that evaluates or executes Python source or byte code (eval, exec, compile, "
        "runpy, code.InteractiveInterpreter, timeit, profilers, debuggers, doctest, idlelib, …). Unpickling runs "
        "it with the loader's rights. Example: `builtins.eval` called at offset 33. " + _SAFE),
    Category.PROCESS: _rule(
        "MODEL-401", "pickle runs an operating-system command", Severity.CRITICAL, Confidence.HIGH,
        Verdict.DANGEROUS,
        "The pickle names a global that starts processes or shell commands (os.system, posix/nt, subprocess, pty, "
        "asyncio subprocesses, pydoc pagers, platform helpers that shell out). Unpickling runs the command. "
        + _SAFE, cwe="CWE-78"),
    Category.NETWORK: _rule(
        "MODEL-402", "pickle opens network connections", Severity.HIGH, Confidence.HIGH, Verdict.DANGEROUS,
        "The pickle names a network global (socket, ssl, http, urllib, requests, smtplib, webbrowser, …): loading "
        "it can exfiltrate data, beacon, or fetch a second stage. " + _SAFE),
    Category.FILE: _rule(
        "MODEL-403", "pickle touches the file system", Severity.HIGH, Confidence.HIGH, Verdict.DANGEROUS,
        "The pickle names a global that opens, writes or deletes files (open, io.FileIO, shutil, tempfile, "
        "logging file handlers, numpy.save, …): loading it can plant or leak files. " + _SAFE),
    Category.IMPORT: _rule(
        "MODEL-404", "pickle uses import machinery or reflection", Severity.CRITICAL, Confidence.HIGH,
        Verdict.DANGEROUS,
        "The pickle imports modules or looks attributes up by name (__import__, importlib, getattr chains, "
        "sys.modules, pkgutil.resolve_name, operator.attrgetter/methodcaller, dunder attribute paths). These reach "
        "any function while hiding its name from allow- and denylists. " + _SAFE),
    Category.NATIVE: _rule(
        "MODEL-405", "pickle builds code objects or calls native code", Severity.CRITICAL, Confidence.HIGH,
        Verdict.DANGEROUS,
        "The pickle builds functions or code objects (types.CodeType/FunctionType, cloudpickle, dill) or loads "
        "native libraries (ctypes). Loading it runs arbitrary code. " + _SAFE),
    Category.NESTED: _rule(
        "MODEL-406", "pickle deserialises another payload", Severity.CRITICAL, Confidence.HIGH, Verdict.DANGEROUS,
        "The pickle calls a loader (pickle.loads, marshal, torch.load, numpy.load, joblib.load, yaml.load, …) on "
        "data it carries or fetches: a second payload that this scan does not see runs at load time. " + _SAFE),
    Category.OTHER: _rule(
        "MODEL-407", "pickle changes the running environment", Severity.HIGH, Confidence.HIGH, Verdict.DANGEROUS,
        "The pickle installs packages (pip, ensurepip, venv), exits the interpreter, or meddles with signals and "
        "threads. No model needs that at load time. " + _SAFE),
}
OBFUSCATED_CODE = _rule(
    "MODEL-408", "eval/exec of a decoded string", Severity.CRITICAL, Confidence.HIGH, Verdict.DANGEROUS,
    "Code is decoded at load time (base64, hex, zlib, codecs/rot13) and handed to eval, exec or compile: an "
    "obfuscated payload, built to hide from string matching. The decoded text is shown (shortened). " + _SAFE)
DYNAMIC_GLOBAL = _rule(
    "MODEL-409", "global name computed at load time", Severity.CRITICAL, Confidence.MEDIUM, Verdict.DANGEROUS,
    "STACK_GLOBAL takes its module or name from a value produced while loading (a call result or another "
    "global), so which function it imports cannot be known without running the pickle. Legitimate picklers "
    "always write constant names. " + _SAFE)
ATTRIBUTE_OVERWRITE = _rule(
    "MODEL-410", "pickle overwrites attributes of a module or class", Severity.CRITICAL, Confidence.HIGH,
    Verdict.DANGEROUS,
    "BUILD is applied to a module or class object itself rather than to a new instance, which rewrites its "
    "attributes at load time (e.g. replacing torch._utils functions with builtins). Later globals then resolve "
    "to whatever the pickle put there, defeating allowlists. " + _SAFE)
SUSPICIOUS_NAME = _rule(
    "MODEL-411", "global whose name says it runs code", Severity.HIGH, Confidence.MEDIUM, Verdict.DANGEROUS,
    "A global that is in neither list has a name that suggests execution, commands, nested loading, file or "
    "network access (…run, …exec, …cmd…, load_…, …_open, urlopen). Bypasses of scanners use such little-known "
    "helpers. Check what the function does before loading. " + _SAFE)
UNKNOWN_GLOBAL = _rule(
    "MODEL-412", "unknown global — review", Severity.MEDIUM, Confidence.LOW, Verdict.REVIEW,
    "The pickle imports a global that is neither known safe for this kind of file nor known dangerous. "
    "Loading imports its module (running the module's top-level code) and may call it. Review the class or "
    "function; if it is your own, load its state into it from a data-only format instead.")
EXTENSION_CODE = _rule(
    "MODEL-413", "pickle uses the copyreg extension registry", Severity.MEDIUM, Confidence.MEDIUM, Verdict.REVIEW,
    "EXT1/EXT2/EXT4 refer to globals by a number registered with copyreg.add_extension in the loading process. "
    "The global cannot be seen in the file; nothing in the model ecosystems uses this.")
TRAILING_DATA = _rule(
    "MODEL-414", "data after the end of the pickle", Severity.INFO, Confidence.HIGH, Verdict.CLEAN,
    "Bytes follow the last STOP that do not form another pickle. pickle.load ignores them; other tools may "
    "not. Informational.", cwe=None)
UNRESOLVED_GLOBAL = _rule(
    "MODEL-415", "global that cannot be resolved statically", Severity.MEDIUM, Confidence.LOW, Verdict.REVIEW,
    "STACK_GLOBAL takes a module or name that the scan could not follow (a value it does not model). The "
    "imported function is unknown; review the file.")
OUT_OF_BAND = _rule(
    "MODEL-416", "pickle refers to out-of-band buffers", Severity.INFO, Confidence.HIGH, Verdict.CLEAN,
    "Protocol 5 NEXT_BUFFER takes data supplied by the loader, not stored in the file; plain loaders refuse "
    "such a pickle. Informational.", cwe=None)

register_rules(*CATEGORY_RULES.values(), OBFUSCATED_CODE, DYNAMIC_GLOBAL, ATTRIBUTE_OVERWRITE, SUSPICIOUS_NAME,
               UNKNOWN_GLOBAL, EXTENSION_CODE, TRAILING_DATA, UNRESOLVED_GLOBAL, OUT_OF_BAND)


# -- the data file --------------------------------------------------------------------------------------------
class _DenyGroup(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: Category
    severity: Severity
    why: str
    entries: dict[str, list[str]]


class _Pattern(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: Category
    regex: str
    why: str


class _PolicyFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1, le=1)
    aliases: dict[str, str]
    roles: dict[Role, list[str]]
    allow: dict[Ecosystem, dict[str, list[str]]]
    deny: list[_DenyGroup]
    patterns: list[_Pattern]


@dataclass(frozen=True)
class Judgement:
    """The policy's answer for one global: standing, category (when dangerous), severity and why."""

    standing: Standing
    rule: Rule
    severity: Severity
    confidence: Confidence
    why: str
    category: Category | None = None


def _glob(pattern: str, *, cross_dots: bool) -> str:
    star, one = (".*", ".") if cross_dots else ("[^.]*", "[^.]")
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "*":
            out.append(star)
        elif char == "?":
            out.append(one)
        elif char == "[" and "]" in pattern[i + 1:]:
            close = pattern.index("]", i + 1)
            out.append("[" + pattern[i + 1:close].replace("\\", "\\\\") + "]")
            i = close
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


def _either(patterns: list[str], *, cross_dots: bool) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{_glob(p, cross_dots=cross_dots)})" for p in patterns) or "(?!)")


_DUNDER = re.compile(r"^__\w+__$")


class PicklePolicy:
    """Judges globals for one set of ecosystems (a PyTorch file trusts torch and numpy, not scikit-learn)."""

    def __init__(self, data: _PolicyFile, ecosystems: frozenset[Ecosystem]) -> None:
        self.ecosystems = ecosystems
        self._aliases = data.aliases
        self._deny: dict[str, list[tuple[re.Pattern[str], _DenyGroup]]] = {}
        for group in data.deny:
            for module, names in group.entries.items():
                self._deny.setdefault(module, []).append((_either(names, cross_dots=True), group))
        self._allow_exact: dict[str, list[re.Pattern[str]]] = {}
        self._allow_prefix: list[tuple[str, re.Pattern[str]]] = []
        for eco in ecosystems:
            for module, names in data.allow.get(eco, {}).items():
                regex = _either(names, cross_dots=False)
                if module.endswith(".*"):
                    self._allow_prefix.append((module[:-1], regex))
                else:
                    self._allow_exact.setdefault(module, []).append(regex)
        self._patterns = [(re.compile(p.regex), p) for p in data.patterns]
        self._roles: dict[str, Role] = {}
        for role, names in data.roles.items():
            for qualified in names:
                self._roles.setdefault(qualified, role)
        self._cache: dict[tuple[str, str], Judgement] = {}
        self._norm: dict[tuple[str, str], tuple[str, str]] = {}

    def normalise(self, module: str, name: str) -> tuple[str, str]:
        """The module and name the unpickler would import (Python 2 names mapped), with our aliases applied."""
        found = self._norm.get((module, name))
        if found is None:
            found = self._norm[(module, name)] = self._normalise(module, name)
        return found

    def _normalise(self, module: str, name: str) -> tuple[str, str]:
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
        head, dot, rest = module.partition(".")
        if module in self._aliases:
            module = self._aliases[module]
        elif head in self._aliases:
            module = self._aliases[head] + dot + rest
        return module, name

    def role(self, module: str, name: str) -> Role | None:
        """The role a (normalised) global plays in the analysis, if any."""
        return self._roles.get(f"{module}.{name}")

    def judge(self, module: str, name: str) -> Judgement:
        """How the policy sees ``module.name`` (cached)."""
        key = (module, name)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = self._judge(module, name)
        return found

    def _denied(self, module: str, name: str) -> _DenyGroup | None:
        parts = module.split(".")
        for i in range(1, len(parts) + 1):
            for regex, group in self._deny.get(".".join(parts[:i]), ()):
                if regex.fullmatch(name):
                    return group
        return None

    def _allowed(self, module: str, name: str) -> bool:
        if any(regex.fullmatch(name) for regex in self._allow_exact.get(module, ())):
            return True
        return any(module.startswith(prefix) and regex.fullmatch(name) for prefix, regex in self._allow_prefix)

    def _judge(self, raw_module: str, raw_name: str) -> Judgement:
        module, name = self.normalise(raw_module, raw_name)
        group = self._denied(module, name) or self._denied(raw_module, raw_name)
        if group is not None:
            rule = CATEGORY_RULES[group.category]
            return Judgement(Standing.DANGEROUS, rule, group.severity, Confidence.HIGH, group.why, group.category)
        if self._allowed(module, name):
            return Judgement(Standing.SAFE, UNKNOWN_GLOBAL, Severity.INFO, Confidence.HIGH,
                             f"known safe ({', '.join(sorted(self.ecosystems))})")
        parts = name.split(".")
        if any(_DUNDER.match(part) for part in parts):
            rule = CATEGORY_RULES[Category.IMPORT]
            return Judgement(Standing.DANGEROUS, rule, Severity.CRITICAL, Confidence.HIGH,
                             "reaches a __dunder__ attribute by name (reflection)", Category.IMPORT)
        last = parts[-1].lstrip("_")
        for regex, pattern in self._patterns if last[:1].islower() else ():  # functions, not classes (Evaluator)
            if regex.fullmatch(last.lower()):
                return Judgement(Standing.SUSPICIOUS, SUSPICIOUS_NAME, SUSPICIOUS_NAME.severity,
                                 SUSPICIOUS_NAME.confidence, pattern.why, pattern.category)
        return Judgement(Standing.UNKNOWN, UNKNOWN_GLOBAL, UNKNOWN_GLOBAL.severity, UNKNOWN_GLOBAL.confidence,
                         "neither known safe nor known dangerous")


@cache
def _policy_file() -> _PolicyFile:
    text = (Path(__file__).parent / "data" / "pickle_policy.yaml").read_text("utf-8")
    raw: Any = yaml.load(text, Loader=_YAML_LOADER)  # noqa: S506 - a safe loader, the C one where libyaml exists
    return _PolicyFile.model_validate(raw)


@cache
def policy_for(ecosystems: frozenset[Ecosystem] = ALL_ECOSYSTEMS) -> PicklePolicy:
    """The shipped policy, trusting the allowlists of ``ecosystems`` (all of them by default)."""
    return PicklePolicy(_policy_file(), ecosystems)


def global_reason(judgement: Judgement, qualname: str, offset: int, *, where: str, invoked: bool, used: bool,
                  complete: bool, via: str, evidence: str = "", rebuilt: bool = False) -> Reason:
    """The reason for one non-safe global: called or only imported, with its offset and argument evidence.

    ``used`` says the pickle did something with it (called it, passed it to a call, rebuilt instances of it);
    ``rebuilt``: BUILD restored instances of it, which runs the class's ``__setstate__``. A dangerous global that is
    only imported in a stream that breaks before any call is downgraded to review: no unpickler gets as far as
    using it.
    """
    did = "called" if invoked else ("used" if used else "imported")
    if rebuilt:
        did += " (BUILD restores its instances: its __setstate__ runs)"
    confidence = judgement.confidence if invoked else Confidence.MEDIUM
    severity = judgement.severity
    if judgement.standing is Standing.UNKNOWN:
        confidence = Confidence.LOW
        severity = severity if invoked else Severity.LOW
    detail: dict[str, Any] = {"global": qualname, "offset": offset, "invoked": invoked, "rebuilt": rebuilt,
                              "via": via, "policy": judgement.why}
    if judgement.category is not None:
        detail["category"] = judgement.category.value
    if evidence:
        detail["argument"] = evidence
    shown = f" with {evidence}" if evidence else ""
    reason = judgement.rule.reason(f"{qualname} {did} at offset {offset}{shown}: {judgement.why}",
                                   location=f"{where}offset {offset}", detail=detail, severity=severity,
                                   confidence=confidence)
    if not complete and not used and reason.verdict is Verdict.DANGEROUS:
        return replace(reason, verdict=Verdict.REVIEW, confidence=Confidence.LOW,
                       message=reason.message + " (never used: the pickle breaks before any call)")
    return reason


_CODECS = ("rot13", "rot_13", "hex", "hex_codec", "base64", "base64_codec")


def decoded_preview(func: str, args: tuple[Any, ...], limit: int = 160) -> str:
    """What a decoder global (base64, hex, zlib, bz2, lzma, codecs rot13) yields for a constant input, shortened.

    Empty when it cannot tell. Pure data transforms with bounded output: nothing is imported or run.
    """
    data = args[0] if args else None
    if not isinstance(data, (str, bytes)) or len(data) > 1 << 20:
        return ""
    raw = data.encode("latin-1", "replace") if isinstance(data, str) else data
    out: bytes | str
    try:
        if "b64" in func or "base64" in func or func.endswith("decodebytes"):
            out = base64.b64decode(raw, altchars=b"-_" if "urlsafe" in func else None)
        elif "b32" in func:
            out = base64.b32decode(raw)
        elif "hex" in func or "b16" in func:
            out = binascii.unhexlify(raw.strip())
        elif "zlib" in func or "gzip" in func:
            out = zlib.decompressobj(47).decompress(raw, 1 << 16)
        elif "bz2" in func:
            out = bz2.BZ2Decompressor().decompress(raw, 1 << 16)
        elif "lzma" in func:
            out = lzma.LZMADecompressor().decompress(raw, 1 << 16)
        elif "codecs" in func and len(args) > 1 and isinstance(args[1], str) and args[1].lower() in _CODECS:
            out = codecs.decode(data, args[1].lower())  # type: ignore[arg-type]
        else:
            return ""
    except (ValueError, TypeError, zlib.error, OSError, EOFError, lzma.LZMAError):
        return ""
    text = out.decode("utf-8", "replace") if isinstance(out, bytes) else str(out)
    return text[:limit]
