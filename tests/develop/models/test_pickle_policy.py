"""The pickle policy as data: allow/deny/pattern matching, aliases, ecosystems, and the reasons it produces."""

from __future__ import annotations

import pytest

from anzhi.develop.models._pickle_policy import (
    CATEGORY_RULES,
    Category,
    Ecosystem,
    Role,
    Standing,
    decoded_preview,
    global_reason,
    policy_for,
)
from anzhi.develop.models._result import Verdict
from anzhi.develop.models._rules import RULES
from anzhi.findings import Confidence, Severity

POLICY = policy_for()


@pytest.mark.parametrize(("module", "name", "standing", "category"), [
    ("__builtin__", "eval", Standing.DANGEROUS, Category.CODE),
    ("builtins", "getattr", Standing.DANGEROUS, Category.IMPORT),
    ("posix", "system", Standing.DANGEROUS, Category.PROCESS),
    ("nt", "system", Standing.DANGEROUS, Category.PROCESS),
    ("commands", "getoutput", Standing.DANGEROUS, Category.PROCESS),  # py2 name, mapped to subprocess
    ("asyncio.unix_events", "_UnixSubprocessTransport._start", Standing.DANGEROUS, Category.PROCESS),
    ("httplib", "HTTPSConnection", Standing.DANGEROUS, Category.NETWORK),
    ("ssl", "get_server_certificate", Standing.DANGEROUS, Category.NETWORK),
    ("_io", "FileIO", Standing.DANGEROUS, Category.FILE),
    ("logging", "FileHandler", Standing.DANGEROUS, Category.FILE),
    ("pathlib", "Path.write_text", Standing.DANGEROUS, Category.FILE),
    ("sys", "modules", Standing.DANGEROUS, Category.IMPORT),
    ("importlib", "import_module", Standing.DANGEROUS, Category.IMPORT),
    ("_operator", "attrgetter", Standing.DANGEROUS, Category.IMPORT),
    ("ctypes", "CDLL", Standing.DANGEROUS, Category.NATIVE),
    ("types", "CodeType", Standing.DANGEROUS, Category.NATIVE),
    ("_pickle", "loads", Standing.DANGEROUS, Category.NESTED),
    ("torch.serialization", "load", Standing.DANGEROUS, Category.NESTED),
    ("numpy", "load", Standing.DANGEROUS, Category.NESTED),
    ("pip", "main", Standing.DANGEROUS, Category.OTHER),
    ("torch._utils", "_rebuild_tensor_v2", Standing.SAFE, None),
    ("torch", "BFloat16Storage", Standing.SAFE, None),
    ("numpy.core.multiarray", "_reconstruct", Standing.SAFE, None),
    ("numpy._core.multiarray", "_reconstruct", Standing.SAFE, None),
    ("copy_reg", "_reconstructor", Standing.SAFE, None),
    ("__builtin__", "set", Standing.SAFE, None),
    ("_codecs", "encode", Standing.SAFE, None),
    ("collections", "OrderedDict", Standing.SAFE, None),
    ("sklearn.ensemble._forest", "RandomForestClassifier", Standing.SAFE, None),
    ("joblib.numpy_pickle", "NumpyArrayWrapper", Standing.SAFE, None),
    ("torch._utils", "_rebuild_tensor_v2.__globals__", Standing.DANGEROUS, Category.IMPORT),
    ("collections", "OrderedDict.__init__.__globals__", Standing.DANGEROUS, Category.IMPORT),
    ("sklearn.base", "clone.__globals__", Standing.DANGEROUS, Category.IMPORT),
    ("mytools", "run_job", Standing.SUSPICIOUS, Category.CODE),
    ("mytools", "_read_cmd_output", Standing.SUSPICIOUS, Category.PROCESS),
    ("mytools", "Net", Standing.UNKNOWN, None),
    ("torch", "_utils", Standing.UNKNOWN, None),
    ("test_helpers", "Fixture", Standing.UNKNOWN, None),  # a user module named like a stdlib one stays unknown
])
def test_judgements(module: str, name: str, standing: Standing, category: Category | None) -> None:
    judgement = POLICY.judge(module, name)
    assert (judgement.standing, judgement.category) == (standing, category), judgement
    if standing is Standing.DANGEROUS:
        assert judgement.rule is CATEGORY_RULES[judgement.category]  # type: ignore[index]


def test_allowlists_follow_the_ecosystem() -> None:
    torch_only = policy_for(frozenset({Ecosystem.PYTHON, Ecosystem.TORCH}))
    assert torch_only.judge("torch._utils", "_rebuild_tensor_v2").standing is Standing.SAFE
    assert torch_only.judge("sklearn.svm", "SVC").standing is Standing.UNKNOWN
    assert torch_only.judge("numpy", "dtype").standing is Standing.UNKNOWN


def test_roles_and_normalisation() -> None:
    assert POLICY.normalise("__builtin__", "getattr") == ("builtins", "getattr")
    assert POLICY.normalise("_operator", "methodcaller") == ("operator", "methodcaller")
    assert POLICY.role(*POLICY.normalise("__builtin__", "getattr")) is Role.GETATTR
    assert POLICY.role("base64", "b64decode") is Role.DECODER
    assert POLICY.role("builtins", "eval") is Role.CODE_SINK


def test_every_category_has_a_documented_rule() -> None:
    for category in Category:
        rule = CATEGORY_RULES[category]
        assert RULES[rule.id] is rule and rule.verdict is Verdict.DANGEROUS
    assert all(RULES[f"MODEL-4{n:02d}"].doc for n in range(17))


@pytest.mark.parametrize(("func", "args", "expected"), [
    ("base64.b64decode", ("aW1wb3J0IG9z",), "import os"),
    ("base64.urlsafe_b64decode", ("aW1wb3J0IG9z",), "import os"),
    ("binascii.unhexlify", ("696d706f7274206f73",), "import os"),
    ("codecs.decode", ("vzcbeg bf", "rot13"), "import os"),
    ("codecs.decode", ("x", "some.module"), ""),  # no codec lookup by arbitrary name
    ("zlib.decompress", (__import__("zlib").compress(b"import os"),), "import os"),
    ("base64.b64decode", (12,), ""),
])
def test_decoded_preview(func: str, args: tuple[object, ...], expected: str) -> None:
    assert decoded_preview(func, args) == expected


def test_global_reason_axes_and_downgrade() -> None:
    judgement = POLICY.judge("os", "system")
    called = global_reason(judgement, "os.system", 7, where="", invoked=True, used=True, complete=True, via="GLOBAL")
    assert (called.severity, called.confidence, called.verdict) == (Severity.CRITICAL, Confidence.HIGH,
                                                                    Verdict.DANGEROUS)
    assert called.location == "offset 7" and "os.system called at offset 7" in called.message
    imported = global_reason(judgement, "os.system", 7, where="", invoked=False, used=False, complete=True,
                             via="GLOBAL")
    assert imported.verdict is Verdict.DANGEROUS and imported.confidence is Confidence.MEDIUM
    broken = global_reason(judgement, "os.system", 7, where="", invoked=False, used=False, complete=False,
                           via="GLOBAL")
    assert broken.verdict is Verdict.REVIEW and broken.severity is Severity.CRITICAL
    unknown = global_reason(POLICY.judge("pkg", "Net"), "pkg.Net", 3, where="member a, ", invoked=False, used=True,
                            complete=True, via="GLOBAL", rebuilt=True)
    assert unknown.severity is Severity.LOW and unknown.location == "member a, offset 3"
    assert "__setstate__" in unknown.message


def test_name_patterns_apply_to_functions_not_classes() -> None:
    assert POLICY.judge("trainer", "Evaluator").standing is Standing.UNKNOWN
    assert POLICY.judge("trainer", "evaluate_model").standing is Standing.SUSPICIOUS
    assert POLICY.judge("trainer", "Runner.run").standing is Standing.SUSPICIOUS
