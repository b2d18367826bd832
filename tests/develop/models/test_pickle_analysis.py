"""The pickle stack machine on hand-built opcode streams: every evasion the scanner must see through.

Payloads are written as opcode bytes (or produced with ``pickle.dumps`` of harmless objects) and never loaded.
"""

from __future__ import annotations

import base64
import pickle
import struct
from typing import Any

import pytest

from anzhi.develop.models._pickle_analysis import PickleReport, analyse_pickle
from anzhi.develop.models._pickle_ops import ByteReader
from anzhi.develop.models._pickle_policy import policy_for
from anzhi.develop.models._result import Verdict, worst_verdict
from anzhi.findings import Confidence, Severity


def analyse(data: bytes, **kwargs: Any) -> PickleReport:
    return analyse_pickle(ByteReader.from_bytes(data), policy_for(), max_ops=kwargs.pop("max_ops", 100_000),
                          out_of_time=kwargs.pop("out_of_time", lambda: False), **kwargs)


def verdict(report: PickleReport) -> Verdict:
    return worst_verdict([reason.verdict for reason in report.reasons])


def rules(report: PickleReport) -> set[str]:
    return {reason.rule_id for reason in report.reasons}


def glob(module: str, name: str) -> bytes:
    return b"c" + f"{module}\n{name}\n".encode()


def s(text: str) -> bytes:  # SHORT_BINUNICODE
    raw = text.encode()
    return b"\x8c" + bytes([len(raw)]) + raw


def u(text: str) -> bytes:  # BINUNICODE
    raw = text.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


P4 = b"\x80\x04"
MARK, STOP, REDUCE, TUPLE, TUPLE1, TUPLE2, BUILD = b"(", b".", b"R", b"t", b"\x85", b"\x86", b"b"
STACK_GLOBAL, MEMOIZE, EMPTY_DICT, EMPTY_TUPLE = b"\x93", b"\x94", b"}", b")"


def called(report: PickleReport, qualname: str) -> bool:
    return any(use.qualname == qualname and use.invoked for use in report.uses.values())


class Payload:
    """A harmless object whose pickle calls ``os.system("true")`` when loaded (it is never loaded here)."""

    def __reduce__(self) -> tuple[Any, ...]:
        import os

        return os.system, ("true",)


@pytest.mark.parametrize("protocol", range(6))
def test_reduce_payload_is_dangerous_in_every_protocol(protocol: int) -> None:
    report = analyse(pickle.dumps(Payload(), protocol=protocol))
    assert verdict(report) is Verdict.DANGEROUS
    reason = next(r for r in report.reasons if r.rule_id == "MODEL-401")
    assert reason.severity is Severity.CRITICAL and reason.confidence is Confidence.HIGH
    assert "system called at offset" in reason.message and reason.location.startswith("offset ")
    assert reason.detail["invoked"] is True and reason.detail["category"] == "process"
    assert report.protocol == (protocol if protocol >= 2 else None)


@pytest.mark.parametrize("protocol", range(6))
def test_benign_data_is_clean_in_every_protocol(protocol: int) -> None:
    import collections
    import datetime

    value = {"w": [1.0, 2, None, True, b"x" * 300, "é" * 10], "od": collections.OrderedDict(a=1), "s": {1},
             "f": frozenset({2}), "t": (1, 2, 3), "c": 1j, "d": datetime.date(2020, 1, 1), "big": 2**80}
    report = analyse(pickle.dumps(value, protocol=protocol))
    assert report.reasons == [] and report.complete and report.pickles == 1


def test_stack_global_through_the_memo() -> None:
    # module and name stored with BINPUT / LONG_BINPUT / MEMOIZE, fetched with BINGET / LONG_BINGET
    data = (P4 + s("os") + b"q\x07" + b"0" + s("system") + b"r" + struct.pack("<I", 300) + b"0"
            + s("decoy") + MEMOIZE + b"0" + b"h\x07" + b"j" + struct.pack("<I", 300) + STACK_GLOBAL
            + s("true") + TUPLE1 + REDUCE + STOP)
    report = analyse(data)
    assert called(report, "os.system") and verdict(report) is Verdict.DANGEROUS


def test_stack_global_memo_indirection_misleads_naive_scanners() -> None:
    # strings are stored, then the STACK_GLOBAL reads different memo slots than the ones just before it
    data = (b"Vos\np2\n0Vsystem\np3\n0Vtorch\np0\n0VLongStorage\np1\n0g2\ng3\n\x93(Vtrue\ntR.")
    report = analyse(data)
    assert called(report, "os.system")
    assert "torch.LongStorage" not in {use.qualname for use in report.uses.values()}


def test_inst_and_obj_protocol_0_and_1() -> None:
    inst = b"(S'true'\nios\nsystem\n."
    obj = b"(" + glob("subprocess", "call") + b"]S'true'\naoN."  # OBJ: class and args after the mark
    assert called(analyse(inst), "os.system")
    report = analyse(obj)
    assert called(report, "subprocess.call") and verdict(report) is Verdict.DANGEROUS


def test_getattr_chain_on_an_imported_module() -> None:
    # getattr(__import__("os"), "system")("true")
    data = (P4 + glob("builtins", "getattr") + glob("builtins", "__import__") + s("os") + TUPLE1 + REDUCE
            + s("system") + TUPLE2 + REDUCE + s("true") + TUPLE1 + REDUCE + STOP)
    report = analyse(data)
    assert called(report, "os.system")
    assert {"MODEL-404", "MODEL-401"} <= rules(report)
    via = next(use.via for use in report.uses.values() if use.qualname == "os.system")
    assert via == "builtins.getattr"


def test_attrgetter_and_methodcaller_resolve_the_attribute() -> None:
    attr = (P4 + glob("operator", "attrgetter") + s("system") + TUPLE1 + REDUCE
            + glob("builtins", "__import__") + s("os") + TUPLE1 + REDUCE + TUPLE1 + REDUCE
            + s("true") + TUPLE1 + REDUCE + STOP)
    method = (P4 + glob("_operator", "methodcaller") + s("system") + s("true") + TUPLE2 + REDUCE
              + glob("builtins", "__import__") + s("os") + TUPLE1 + REDUCE + TUPLE1 + REDUCE + STOP)
    assert called(analyse(attr), "os.system")
    assert called(analyse(method), "os.system")


def test_partial_over_a_dangerous_target_is_a_call_of_the_target() -> None:
    data = (P4 + glob("functools", "partial") + glob("os", "system") + s("true") + TUPLE2 + REDUCE
            + EMPTY_TUPLE + REDUCE + STOP)
    report = analyse(data)
    assert called(report, "os.system") and verdict(report) is Verdict.DANGEROUS
    assert "functools.partial" not in {r.detail.get("global") for r in report.reasons}  # partial itself is fine


def test_eval_of_a_base64_decoded_string() -> None:
    code = base64.b64encode(b"__import__('os').system('true')").decode()
    data = (P4 + glob("builtins", "eval") + glob("base64", "b64decode") + u(code) + TUPLE1 + REDUCE + TUPLE1
            + REDUCE + STOP)
    report = analyse(data)
    obfuscated = next(r for r in report.reasons if r.rule_id == "MODEL-408")
    assert obfuscated.confidence is Confidence.HIGH and obfuscated.verdict is Verdict.DANGEROUS
    assert "__import__('os').system('true')" in obfuscated.detail["decoded"]


@pytest.mark.parametrize(("decoder", "arg"), [
    (("codecs", "decode"), (u("vzcbeg bf"), u("rot13"))),
    (("binascii", "unhexlify"), (u(b"import os".hex()),)),
    (("zlib", "decompress"), (b"C" + bytes([len(z := __import__("zlib").compress(b"import os"))]) + z,)),
])
def test_exec_of_other_decoded_strings(decoder: tuple[str, str], arg: tuple[bytes, ...]) -> None:
    data = (P4 + glob("builtins", "exec") + glob(*decoder) + MARK + b"".join(arg) + TUPLE + REDUCE + TUPLE1
            + REDUCE + STOP)
    report = analyse(data)
    obfuscated = next(r for r in report.reasons if r.rule_id == "MODEL-408")
    assert "import os" in obfuscated.detail["decoded"]


def test_eval_argument_is_shown_as_evidence() -> None:
    report = analyse(P4 + glob("builtins", "eval") + s("1+1") + TUPLE1 + REDUCE + STOP)
    reason = next(r for r in report.reasons if r.rule_id == "MODEL-400")
    assert reason.detail["argument"] == "'1+1'" and "with '1+1'" in reason.message


def test_benign_pickle_followed_by_a_malicious_one() -> None:
    data = pickle.dumps({"weights": [1.0, 2.0]}, protocol=4) + pickle.dumps(Payload(), protocol=2)
    report = analyse(data)
    assert report.pickles == 2
    assert called(report, "posix.system") or called(report, "os.system")
    assert verdict(report) is Verdict.DANGEROUS


def test_build_on_a_module_and_a_computed_stack_global() -> None:
    data = (P4 + s("torch") + s("_utils") + STACK_GLOBAL + EMPTY_DICT + s("_rebuild_tensor") + s("builtins")
            + b"s" + BUILD + s("torch._utils") + s("_rebuild_tensor") + STACK_GLOBAL + s("eval") + STACK_GLOBAL
            + STOP)
    report = analyse(data)
    assert {"MODEL-410", "MODEL-409"} <= rules(report)
    assert verdict(report) is Verdict.DANGEROUS


def test_dunder_attribute_path_through_an_allowed_function() -> None:
    data = P4 + s("torch._utils") + s("_rebuild_tensor_v2.__globals__") + STACK_GLOBAL + STOP
    report = analyse(data)
    assert "MODEL-404" in rules(report) and verdict(report) is Verdict.DANGEROUS


def test_extension_codes_and_out_of_band_buffers() -> None:
    assert "MODEL-413" in rules(analyse(P4 + b"\x82\x01" + STOP))
    report = analyse(b"\x80\x05\x97\x98" + STOP)
    assert "MODEL-416" in rules(report) and verdict(report) is Verdict.CLEAN


def test_unknown_and_suspicious_globals() -> None:
    unknown = analyse(P4 + glob("mypackage.models", "Net") + EMPTY_TUPLE + b"\x81" + EMPTY_DICT + BUILD + STOP)
    assert rules(unknown) == {"MODEL-412"} and verdict(unknown) is Verdict.REVIEW
    assert unknown.reasons[0].detail["global"] == "mypackage.models.Net"
    suspicious = analyse(P4 + glob("helpers", "run_shell_command") + s("x") + TUPLE1 + REDUCE + STOP)
    assert rules(suspicious) == {"MODEL-411"} and verdict(suspicious) is Verdict.DANGEROUS
    assert suspicious.reasons[0].confidence is Confidence.MEDIUM


def test_trailing_bytes_after_the_last_pickle_are_informational() -> None:
    report = analyse(pickle.dumps([1, 2]) + b"\n\n\t")
    assert rules(report) == {"MODEL-414"} and verdict(report) is Verdict.CLEAN


def test_malformed_after_a_call_keeps_the_call() -> None:
    data = P4 + glob("os", "system") + s("true") + TUPLE1 + REDUCE + b"0" + b"h\x03" + STOP  # memo 3 never set
    report = analyse(data)
    assert {"MODEL-492", "MODEL-401"} <= rules(report) and verdict(report) is Verdict.DANGEROUS


def test_dangerous_import_in_a_stream_that_breaks_before_any_call_is_review() -> None:
    data = glob("builtins", "exec") + b"(X>\nf = open('x')"  # BINUNICODE claims far more than is there
    report = analyse(data)
    reason = next(r for r in report.reasons if r.rule_id == "MODEL-400")
    assert reason.verdict is Verdict.REVIEW and "never used" in reason.message
    assert verdict(report) is Verdict.INVALID


def test_type_confusion_in_stack_global_stops_like_the_unpickler() -> None:
    data = P4 + glob("os", "system") + s("x") + TUPLE1 + REDUCE + b"0J*\x00\x00\x00" + s("os") + STACK_GLOBAL + STOP
    report = analyse(data)
    assert called(report, "os.system") and "MODEL-492" in rules(report)


def test_allowlist_depends_on_the_ecosystem() -> None:
    data = P4 + glob("sklearn.linear_model._logistic", "LogisticRegression") + EMPTY_TUPLE + b"\x81" + STOP
    assert analyse(data).reasons == []
    from anzhi.develop.models._pickle_formats import TORCH_ECOSYSTEMS

    report = analyse_pickle(ByteReader.from_bytes(data), policy_for(TORCH_ECOSYSTEMS), max_ops=100,
                            out_of_time=lambda: False)
    assert rules(report) == {"MODEL-412"}


def test_torch_tensor_rebuilds_are_counted_and_clean() -> None:
    tensor = (glob("torch._utils", "_rebuild_tensor_v2") + MARK + MARK + s("storage") + glob("torch", "FloatStorage")
              + s("0") + s("cpu") + b"K\x04" + TUPLE + b"Q" + b"K\x00" + b"K\x04\x85" + b"K\x01\x85" + b"\x89"
              + glob("collections", "OrderedDict") + EMPTY_TUPLE + REDUCE + TUPLE + REDUCE)
    data = b"\x80\x02" + glob("collections", "OrderedDict") + EMPTY_TUPLE + REDUCE + MARK + s("w") + tensor \
        + s("b") + tensor + b"u" + STOP
    report = analyse(data)
    assert report.reasons == [] and report.tensors == 2 and report.persistent_ids == 2
    assert report.metadata()["globals"] == ["collections.OrderedDict", "torch.FloatStorage",
                                            "torch._utils._rebuild_tensor_v2"]


def test_many_unknown_globals_are_summarised() -> None:
    data = P4 + b"".join(glob(f"pkg{i}", "Thing") + b"0" for i in range(60)) + b"N" + STOP
    report = analyse(data)
    assert len(report.reasons) == 51 and "10 more unknown globals" in report.reasons[-1].message
    assert report.metadata(cap=5)["globals_total"] == 60


def test_items_added_to_a_module_level_object() -> None:
    data = P4 + glob("mypackage", "REGISTRY") + s("k") + glob("mypackage", "Handler") + b"s" + STOP
    assert "MODEL-410" in rules(analyse(data))


def test_dunder_import_of_a_dotted_name_returns_the_top_package() -> None:
    data = (P4 + glob("builtins", "getattr") + glob("builtins", "__import__") + s("os.path") + TUPLE1 + REDUCE
            + s("system") + TUPLE2 + REDUCE + s("true") + TUPLE1 + REDUCE + STOP)
    assert called(analyse(data), "os.system")


def test_partial_arguments_reach_the_code_sink() -> None:
    data = (P4 + glob("functools", "partial") + glob("builtins", "exec") + glob("base64", "b64decode")
            + s(base64.b64encode(b"import os").decode()) + TUPLE1 + REDUCE + TUPLE2 + REDUCE + EMPTY_TUPLE + REDUCE
            + STOP)
    assert "MODEL-408" in rules(analyse(data))
