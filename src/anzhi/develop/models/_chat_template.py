"""Chat templates (Jinja2 programs shipped in GGUF metadata and tokenizer configs): sandbox-escape analysis.

A chat template is rendered by the loader for every request. Loaders use Jinja's sandbox, but sandbox escapes
through Python internals are a known class of bugs (server-side template injection: ``''.__class__.__mro__``,
``cycler.__init__.__globals__.os.popen``, ``self._TemplateReference__context``), and engines that re-implement
Jinja (minja, other ports) may not sandbox at all. The template is parsed with Jinja's own parser into an AST —
never rendered — and the AST is searched for ways to reach internals:

MODEL-461: reaches Python internals (dunder attributes or items, ``attr()`` with dunder strings, dunder names built
by concatenation, format-string field access, the TemplateReference context) — dangerous.
MODEL-462: suspicious constructs (dynamic attribute names, private attributes, OS/process attribute names, unusual
globals such as ``lipsum``/``cycler``/``joiner``/``self``) — review.
MODEL-463: ``{% import %}`` / ``{% from %}`` statements — dangerous.
MODEL-464: ``{% include %}`` / ``{% extends %}`` (loads other templates, files where a loader is configured) —
review.
MODEL-465: the template does not parse as Jinja, so it could not be checked — review.

Ordinary templates (loops over messages, conditionals, ``namespace()``, ``raise_exception``, ``tojson``,
``{% generation %}``) produce nothing. Added in 0.1.0.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from jinja2 import Environment, TemplateError, nodes
from jinja2.ext import Extension
from jinja2.parser import Parser

from anzhi.develop.models._result import Reason, Verdict
from anzhi.develop.models._rules import Rule, register_rules
from anzhi.findings import Confidence, Severity

__all__ = ["MAX_TEMPLATE_CHARS", "TEMPLATE_ESCAPE", "TEMPLATE_IMPORT", "TEMPLATE_INCLUDE", "TEMPLATE_SUSPICIOUS",
           "TEMPLATE_UNPARSEABLE", "analyze_chat_template"]

TEMPLATE_ESCAPE = Rule(
    "MODEL-461", "chat template reaches Python internals", Severity.CRITICAL, Confidence.HIGH, Verdict.DANGEROUS,
    "The Jinja template accesses dunder attributes (__class__, __mro__, __subclasses__, __globals__, "
    "__builtins__, __init__, __import__), builds such names from pieces, uses attr() or format strings to reach "
    "them, or the TemplateReference context. That is the shape of a sandbox-escape payload: rendering it on an "
    "unpatched or non-sandboxed engine runs code on the server for every chat request. Replace the template with "
    "a known-good one for the model family.", cwe="CWE-1336",
)
TEMPLATE_SUSPICIOUS = Rule(
    "MODEL-462", "chat template uses suspicious constructs", Severity.MEDIUM, Confidence.LOW, Verdict.REVIEW,
    "The template computes attribute names at render time, touches private attributes, names OS/process helpers "
    "(os, popen, system, eval) or uses globals chat templates never need (lipsum, cycler, joiner, self). None of "
    "these is an escape by itself; read the template before serving it.", cwe="CWE-1336",
)
TEMPLATE_IMPORT = Rule(
    "MODEL-463", "chat template imports other templates", Severity.HIGH, Confidence.MEDIUM, Verdict.DANGEROUS,
    "The template contains {% import %} or {% from ... import %}. Chat templates are self-contained; importing is "
    "used to pull macros or modules into a payload. Replace the template.", cwe="CWE-1336",
)
TEMPLATE_INCLUDE = Rule(
    "MODEL-464", "chat template includes or extends other templates", Severity.MEDIUM, Confidence.MEDIUM,
    Verdict.REVIEW,
    "The template contains {% include %} or {% extends %}: where the engine has a file loader, that reads other "
    "files at render time. Chat templates are self-contained; check what it loads.", cwe="CWE-73",
)
TEMPLATE_UNPARSEABLE = Rule(
    "MODEL-465", "chat template does not parse", Severity.LOW, Confidence.HIGH, Verdict.REVIEW,
    "Jinja cannot parse the template, so it was not checked. Loaders with another engine may still render it; "
    "review it by hand or replace it.", cwe=None,
)

register_rules(TEMPLATE_ESCAPE, TEMPLATE_SUSPICIOUS, TEMPLATE_IMPORT, TEMPLATE_INCLUDE, TEMPLATE_UNPARSEABLE)

MAX_TEMPLATE_CHARS = 1 << 20
_INTERNAL = frozenset({
    "gi_frame", "gi_code", "cr_frame", "cr_code", "ag_frame", "ag_code", "f_globals", "f_locals", "f_back",
    "f_builtins", "f_code", "tb_frame", "tb_next", "func_globals", "func_code", "func_closure", "im_func", "im_self",
    "im_class", "mro", "_TemplateReference__context",
})
_SUSPICIOUS_ATTRS = frozenset({
    "os", "popen", "system", "subprocess", "eval", "exec", "import_module", "builtins", "modules", "globals",
    "getattr", "setattr", "load_module", "spawn", "check_output", "getoutput", "environ", "communicate", "remove",
    "unlink", "rmtree", "open", "read", "write", "compile", "loader", "spec", "sys", "shutil", "socket",
    "environment", "module",
})
_ODD_GLOBALS = frozenset({"lipsum", "cycler", "joiner", "self", "config", "request", "url_for",
                          "get_flashed_messages"})
_ACCESS_FILTERS = frozenset({"map", "selectattr", "rejectattr", "sort", "groupby", "sum", "unique", "min", "max"})
_DUNDER = re.compile(r"__([A-Za-z]\w*?)__")
#: Python's own dunder names that payloads walk through (``<__media__>``-style placeholders are not among them).
_PYTHON_DUNDERS = frozenset("""
class mro subclasses globals builtins builtin init import getattribute getattr setattr delattr base bases dict
code func self module loader spec reduce reduce_ex getitem setitem call closure defaults kwdefaults new qualname
name doc wrapped objclass traceback file path package cached all annotations enter exit class_getitem
init_subclass format str repr dir weakref slots get set delete func_globals
""".split())  # noqa: SIM905 - a word list reads better
_FORMAT_FIELD = re.compile(r"\{[^{}]*[.\[]\s*['\"]?_")
_PERCENT_SAFE = re.compile(r"^(?:[^%]|%[cs%])*$")


class _GenerationTag(Extension):
    """``{% generation %}…{% endgeneration %}`` as transformers' chat templates use it (parsed, never run)."""

    tags = {"generation"}  # noqa: RUF012 - Jinja's Extension API declares this as a plain class attribute

    def parse(self, parser: Parser) -> nodes.Node:
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return nodes.Scope(body, lineno=lineno)


def _environment() -> Environment:
    return Environment(  # noqa: S701 - parse only: nothing is ever rendered, so autoescape is irrelevant
        extensions=["jinja2.ext.loopcontrols", "jinja2.ext.do", _GenerationTag], trim_blocks=True,
        lstrip_blocks=True)


_ENV = _environment()


def _python_dunder(text: str) -> str | None:
    """The first Python internal dunder name (``__globals__``) occurring in ``text``, if any."""
    for match in _DUNDER.finditer(text):
        if match.group(1) in _PYTHON_DUNDERS:
            return match.group()
    return None


def _internal(name: str) -> bool:
    full = _DUNDER.fullmatch(name)
    return (full is not None and full.group(1) in _PYTHON_DUNDERS) or name in _INTERNAL or (
        name.startswith("_") and not name.startswith("__") and "__" in name[1:])


def _fold(node: nodes.Node, env: dict[str, str], depth: int = 0) -> str | None:
    """The string an expression evaluates to when built only from constants and names bound to them (``env``)."""
    if depth > 32:
        return None
    if isinstance(node, nodes.Const):
        return node.value if isinstance(node.value, str) else None
    if isinstance(node, nodes.Name):
        return env.get(node.name)
    if isinstance(node, nodes.Concat):
        parts = [_fold(n, env, depth + 1) if not isinstance(n, nodes.Const) else str(n.value) for n in node.nodes]
        return None if any(p is None for p in parts) else "".join(p for p in parts if p is not None)[:512]
    if isinstance(node, nodes.Add):
        left, right = _fold(node.left, env, depth + 1), _fold(node.right, env, depth + 1)
        return (left + right)[:512] if left is not None and right is not None else None
    if isinstance(node, nodes.Mul) and isinstance(node.right, nodes.Const) and isinstance(node.right.value, int):
        left = _fold(node.left, env, depth + 1)
        return (left * min(max(node.right.value, 0), 64))[:512] if left is not None else None
    if isinstance(node, nodes.Mod | nodes.Filter):
        return _fold_format(node, env, depth)
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Slice):
        base = _fold(node.node, env, depth + 1)
        bounds = [_bound(b) for b in (node.arg.start, node.arg.stop, node.arg.step)]
        if base is None or any(b is False for b in bounds) or bounds[2] == 0:
            return None
        return base[slice(*bounds)]
    return None


def _bound(node: nodes.Expr | None) -> int | bool | None:
    """A slice bound: None when absent, an int for ``3`` or ``-1``, False when not a constant."""
    if node is None:
        return None
    negative = isinstance(node, nodes.Neg)
    inner = node.node if isinstance(node, nodes.Neg | nodes.Pos) else node
    if isinstance(inner, nodes.Const) and isinstance(inner.value, int) and not isinstance(inner.value, bool):
        return -inner.value if negative else inner.value
    return False


def _fold_format(node: nodes.Mod | nodes.Filter, env: dict[str, str], depth: int) -> str | None:
    if isinstance(node, nodes.Mod):
        fmt_node, args_node = node.left, node.right
        args = args_node.items if isinstance(args_node, nodes.Tuple | nodes.List) else [args_node]
    else:
        if node.node is None:
            return None
        base = _fold(node.node, env, depth + 1)
        if node.name == "format":
            fmt_node, args = node.node, node.args
        elif base is None:
            return None
        elif node.name in ("lower", "upper", "string", "trim"):
            return {"lower": base.lower(), "upper": base.upper(), "string": base, "trim": base.strip()}[node.name]
        elif node.name == "reverse":
            return base[::-1]
        elif node.name == "replace" and len(node.args) >= 2:
            old, new = (_fold(a, env, depth + 1) for a in node.args[:2])
            return base.replace(old, new)[:512] if old is not None and new is not None else None
        else:
            return None
    fmt = _fold(fmt_node, env, depth + 1)
    values = [a.value if isinstance(a, nodes.Const) else None for a in args]
    if fmt is None or len(fmt) > 128 or not _PERCENT_SAFE.match(fmt) or any(v is None for v in values):
        return None
    try:
        return (fmt % tuple(values))[:512]
    except (TypeError, ValueError, OverflowError):
        return None


def _walk(root: nodes.Node) -> Iterator[nodes.Node]:
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(node.iter_child_nodes())


def _is_string_building(node: nodes.Node) -> bool:
    return isinstance(node, nodes.Concat | nodes.Mod | nodes.Filter) or (
        isinstance(node, nodes.Add) and any(isinstance(s, nodes.Const) and isinstance(s.value, str)
                                            for s in (node.left, node.right)))


class _Findings:
    def __init__(self, location: str) -> None:
        self.location = location
        self.hits: dict[tuple[str, str], tuple[Rule, str, int, int, Confidence | None]] = {}
        self.consumed: set[int] = set()  # expression nodes already reported through their parent
        self.assigned: set[str] = set()  # names the template itself binds (set, for, macro parameters)
        self.env: dict[str, str] = {}  # names bound to strings built from constants, in template order

    def add(self, rule: Rule, subject: str, message: str, node: nodes.Node,
            confidence: Confidence | None = None) -> None:
        key = (rule.id, subject)
        if key in self.hits:
            r, m, line, n, c = self.hits[key]
            self.hits[key] = (r, m, line, n + 1, c)
        else:
            self.hits[key] = (rule, message, getattr(node, "lineno", 0) or 0, 1, confidence)

    def reasons(self) -> list[Reason]:
        out = []
        for (_rid, subject), (rule, message, line, count, conf) in self.hits.items():
            suffix = f" ({count} places)" if count > 1 else ""
            out.append(rule.reason(f"{message}{suffix}", location=f"{self.location} line {line}".strip(),
                                   confidence=conf, detail={"construct": subject[:200], "line": line,
                                                            "count": count}))
        return out


def _root_name(node: nodes.Node) -> str | None:
    while isinstance(node, nodes.Getattr | nodes.Getitem | nodes.Call | nodes.Filter):
        inner = node.node
        if inner is None:
            return None
        node = inner
    return node.name if isinstance(node, nodes.Name) else None


def _access(f: _Findings, key: str | None, node: nodes.Node, via: str, dynamic: bool) -> None:
    root = _root_name(node)
    chain = f" on {root}" if root else ""
    if key is None:
        if dynamic:
            f.add(TEMPLATE_SUSPICIOUS, f"dynamic {via}", f"{via} with a name computed at render time{chain}", node)
        return
    if _internal(key):
        f.add(TEMPLATE_ESCAPE, key, f"{via} {key!r}{chain}", node)
    elif key.startswith("_"):
        f.add(TEMPLATE_SUSPICIOUS, key, f"{via} to private name {key!r}{chain}", node)
    elif key in _SUSPICIOUS_ATTRS:
        f.add(TEMPLATE_SUSPICIOUS, key, f"{via} {key!r}{chain}", node)


def _key(f: _Findings, arg: nodes.Node) -> str | None:
    f.consumed.add(id(arg))
    return _fold(arg, f.env)


def _check(node: nodes.Node, f: _Findings) -> None:
    if isinstance(node, nodes.Getattr):
        _access(f, node.attr, node, "attribute access", dynamic=False)
    elif isinstance(node, nodes.Getitem) and not isinstance(node.arg, nodes.Slice):
        _access(f, _key(f, node.arg), node, "item access", dynamic=_is_string_building(node.arg))
    elif isinstance(node, nodes.Filter) and node.name == "attr":
        arg = node.args[0] if node.args else None
        _access(f, _key(f, arg) if arg is not None else None, node, "attr() filter", dynamic=True)
    elif isinstance(node, nodes.Filter) and node.name in _ACCESS_FILTERS:
        for kw in node.kwargs:
            if kw.key == "attribute":
                _access(f, _key(f, kw.value), node, f"{node.name}(attribute=)",
                        dynamic=_is_string_building(kw.value))
    elif isinstance(node, nodes.Keyword) and _internal(node.key):
        f.add(TEMPLATE_ESCAPE, node.key, f"keyword argument named {node.key!r} (builds a dunder string)", node)
    elif isinstance(node, nodes.Name) and node.ctx == "load" and node.name in _ODD_GLOBALS \
            and node.name not in f.assigned:
        f.add(TEMPLATE_SUSPICIOUS, node.name, f"uses the global {node.name!r}", node)
    elif isinstance(node, nodes.Name) and _internal(node.name):
        f.add(TEMPLATE_ESCAPE, node.name, f"uses the name {node.name!r}", node)
    elif isinstance(node, nodes.Import | nodes.FromImport):
        f.add(TEMPLATE_IMPORT, "import", "{% import %} / {% from %} statement", node)
    elif isinstance(node, nodes.Include | nodes.Extends):
        f.add(TEMPLATE_INCLUDE, type(node).__name__.lower(), f"{{% {type(node).__name__.lower()} %}} statement",
              node)
    if id(node) in f.consumed:
        return
    if isinstance(node, nodes.Expr) and not isinstance(node, nodes.Const | nodes.TemplateData):
        folded = _fold(node, f.env) if _is_string_building(node) else None
        if folded is not None and _python_dunder(folded):
            f.add(TEMPLATE_ESCAPE, f"built {folded}", f"builds the string {folded[:80]!r} from pieces", node)
    if isinstance(node, nodes.Const) and isinstance(node.value, str):
        if _python_dunder(node.value) or "_TemplateReference" in node.value:
            f.add(TEMPLATE_ESCAPE, f"const {node.value[:60]}", f"string constant {node.value[:80]!r} names an "
                  "internal", node, Confidence.MEDIUM)
        elif _FORMAT_FIELD.search(node.value):
            f.add(TEMPLATE_ESCAPE, "format field", f"format string {node.value[:80]!r} reaches an attribute",
                  node, Confidence.MEDIUM)


def analyze_chat_template(template: str, location: str = "") -> list[Reason]:
    """Parse a chat template with Jinja (never render it) and report sandbox-escape shapes.

    ``location`` names where the template came from (``key tokenizer.chat_template``); each reason adds the line.
    """
    if len(template) > MAX_TEMPLATE_CHARS:
        template = template[:MAX_TEMPLATE_CHARS]
    try:
        tree = _ENV.parse(template)
    except TemplateError as exc:
        line = getattr(exc, "lineno", 0) or 0
        return [TEMPLATE_UNPARSEABLE.reason(f"Jinja cannot parse the template: {exc}"[:300],
                                            location=f"{location} line {line}".strip(), detail={"line": line})]
    except (RecursionError, MemoryError):
        return [TEMPLATE_SUSPICIOUS.reason("template nests expressions too deeply to parse", location=location,
                                           confidence=Confidence.MEDIUM)]
    findings = _Findings(location)
    findings.assigned = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    for assign in tree.find_all(nodes.Assign):
        if isinstance(assign.target, nodes.Name):
            value = _fold(assign.node, findings.env)
            if value is not None:
                findings.env[assign.target.name] = value
    for node in _walk(tree):
        _check(node, findings)
    return findings.reasons()

