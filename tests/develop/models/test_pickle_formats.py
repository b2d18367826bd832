"""The analysers of pickle-carrying formats (raw pickle, PyTorch zip and legacy, NumPy, joblib) and the detection
helpers the scanner core calls. Files are built here from opcode bytes or harmless objects; nothing is loaded."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import pickle
import struct
import zipfile
import zlib
from typing import Any

import numpy as np
import pytest

from anzhi.develop.models._pickle_formats import (
    analyse_joblib,
    analyse_npy,
    analyse_npz,
    analyse_pickle_file,
    analyse_torch_legacy,
    analyse_torch_zip,
    looks_like_joblib,
    looks_like_pickle,
    looks_like_torch_legacy,
)
from anzhi.develop.models._registry import Analysis, ScanContext
from anzhi.develop.models._result import Verdict, worst_verdict
from anzhi.develop.models._source import BytesSource, ScanLimits


def ctx() -> ScanContext:
    return ScanContext(limits=ScanLimits())


def verdict(analysis: Analysis) -> Verdict:
    return worst_verdict([reason.verdict for reason in analysis.reasons])


def rules(analysis: Analysis) -> set[str]:
    return {reason.rule_id for reason in analysis.reasons}


def glob(module: str, name: str) -> bytes:
    return b"c" + f"{module}\n{name}\n".encode()


def s(text: str) -> bytes:
    raw = text.encode()
    return b"\x8c" + bytes([len(raw)]) + raw


SYSTEM_CALL = glob("os", "system") + s("true") + b"\x85R"  # os.system("true"), left on the stack
MALICIOUS = b"\x80\x04" + SYSTEM_CALL + b"."


def zip_of(members: dict[str, bytes], method: int = zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


# -- PyTorch -----------------------------------------------------------------------------------------------------
def tensor(key: str) -> bytes:
    storage = b"(" + s("storage") + glob("torch", "FloatStorage") + s(key) + s("cpu") + b"K\x04tQ"
    return (glob("torch._utils", "_rebuild_tensor_v2") + b"(" + storage + b"K\x00K\x04\x85K\x01\x85\x89"
            + glob("collections", "OrderedDict") + b")RtR")


STATE_DICT = (b"\x80\x02" + glob("collections", "OrderedDict") + b")R(" + s("w") + tensor("0") + s("b") + tensor("1")
              + b"u.")


def torch_zip(data_pkl: bytes = STATE_DICT, folder: str = "my_model", **extra: bytes) -> bytes:
    # a storage that happens to look like a pickle: torch never unpickles storages, so neither do we
    members = {f"{folder}/data.pkl": data_pkl, f"{folder}/data/0": MALICIOUS, f"{folder}/data/1": b"\x00" * 16,
               f"{folder}/version": b"3\n", f"{folder}/byteorder": b"little"}
    members.update(extra)
    return zip_of(members)


def test_torch_zip_state_dict_is_clean_with_metadata() -> None:
    analysis = analyse_torch_zip(BytesSource("m.pt", torch_zip()), ctx())
    assert analysis.reasons == []
    assert analysis.metadata["tensors"] == 2 and analysis.metadata["pickle_members"] == ["my_model/data.pkl"]
    assert "torch._utils._rebuild_tensor_v2" in analysis.metadata["globals"]


def test_torch_zip_payload_in_data_pkl_or_another_pickle_member() -> None:
    direct = analyse_torch_zip(BytesSource("m.pt", torch_zip(MALICIOUS)), ctx())
    assert verdict(direct) is Verdict.DANGEROUS
    assert any(r.location.startswith("member my_model/data.pkl, offset") for r in direct.reasons)
    extra = analyse_torch_zip(BytesSource("m.pt", torch_zip(**{"my_model/extra.bin": MALICIOUS})), ctx())
    assert verdict(extra) is Verdict.DANGEROUS


def test_torch_zip_scikit_learn_global_is_only_review_in_a_torch_file() -> None:
    data = b"\x80\x02" + glob("sklearn.linear_model", "Ridge") + b")\x81."
    assert rules(analyse_torch_zip(BytesSource("m.pt", torch_zip(data)), ctx())) == {"MODEL-412"}


def test_torch_zip_member_with_a_fake_encryption_flag_is_read_leniently() -> None:
    raw = bytearray(torch_zip(MALICIOUS))
    for offset in range(len(raw) - 4):  # set the "encrypted" bit on data.pkl in both headers
        if raw[offset:offset + 4] in (b"PK\x03\x04", b"PK\x01\x02"):
            name_at = offset + (30 if raw[offset + 2] == 3 else 46)
            flags_at = offset + (6 if raw[offset + 2] == 3 else 8)
            if raw[name_at:name_at + 17] == b"my_model/data.pkl":
                raw[flags_at] |= 0x01
    analysis = analyse_torch_zip(BytesSource("m.pt", bytes(raw)), ctx())
    assert {"MODEL-486", "MODEL-401"} <= rules(analysis) and verdict(analysis) is Verdict.DANGEROUS


def test_torch_zip_that_is_not_a_zip() -> None:
    assert verdict(analyse_torch_zip(BytesSource("m.pt", b"PK\x03\x04 broken"), ctx())) is Verdict.INVALID


def legacy(*pickles: bytes, storage: bytes = b"\xe2\x00\x01" * 40) -> bytes:
    return b"".join(pickles) + storage


MAGIC = pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2)
LEGACY_PARTS = [MAGIC, pickle.dumps(1001, protocol=2), pickle.dumps({"little_endian": True}, protocol=2),
                STATE_DICT, pickle.dumps(["0", "1"], protocol=2)]


def test_torch_legacy_stops_before_raw_storage() -> None:
    data = legacy(*LEGACY_PARTS)
    assert looks_like_torch_legacy(data[:64]) and not looks_like_joblib(data[:64])
    analysis = analyse_torch_legacy(BytesSource("m.bin", data), ctx())
    assert analysis.reasons == [] and analysis.metadata["storages"] == 2 and analysis.metadata["tensors"] == 2
    assert analysis.metadata["storage_offset"] == len(b"".join(LEGACY_PARTS))


def test_torch_legacy_payload_in_any_of_the_five_pickles() -> None:
    for index in range(1, 5):
        parts = list(LEGACY_PARTS)
        parts[index] = MALICIOUS
        assert verdict(analyse_torch_legacy(BytesSource("m.bin", legacy(*parts)), ctx())) is Verdict.DANGEROUS


def test_torch_legacy_cut_short_is_malformed() -> None:
    analysis = analyse_torch_legacy(BytesSource("m.bin", b"".join(LEGACY_PARTS[:3])), ctx())
    assert rules(analysis) == {"MODEL-492"}


def test_computed_magic_number_is_not_legacy_but_a_dangerous_pickle() -> None:
    computed = b"\x80\x02" + glob("__builtin__", "eval") + s("0x1950A86A20F9469CFC6C") + b"\x85R."
    data = computed + b"".join(LEGACY_PARTS[1:]) + MALICIOUS
    assert not looks_like_torch_legacy(data) and looks_like_pickle(data)
    analysis = analyse_pickle_file(BytesSource("m.pt", data), ctx())
    assert {"MODEL-400", "MODEL-401"} <= rules(analysis)


# -- NumPy -------------------------------------------------------------------------------------------------------
def npy(array: Any) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def npy_header(descr: str, shape: tuple[int, ...]) -> bytes:
    text = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode()
    text += b" " * (63 - (len(text) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text


def test_numeric_npy_is_clean_with_metadata() -> None:
    analysis = analyse_npy(BytesSource("a.npy", npy(np.arange(12, dtype="<f4").reshape(3, 4))), ctx())
    assert analysis.reasons == [] and analysis.metadata["shape"] == [3, 4] and analysis.metadata["dtype"] == "<f4"
    structured = np.zeros(2, dtype=[("a", "<U3"), ("b", "<f8", (2, 2))])
    assert analyse_npy(BytesSource("s.npy", npy(structured)), ctx()).reasons == []


def test_object_npy_pickle_is_analysed() -> None:
    benign = analyse_npy(BytesSource("o.npy", npy(np.array([{"a": 1}, None], dtype=object))), ctx())
    assert rules(benign) == {"MODEL-422"} and verdict(benign) is Verdict.CLEAN
    hostile = npy_header("|O", (1,)) + MALICIOUS
    assert verdict(analyse_npy(BytesSource("o.npy", hostile), ctx())) is Verdict.DANGEROUS


@pytest.mark.parametrize("data", [
    npy_header("<f8", (10,)) + b"\x00" * 8,  # data cut short
    b"\x93NUMPY\x01\x00\x10\x00{'descr': __import__('os')}"[:26],  # not a literal
    b"\x93NUMPY\x09\x00",  # unknown version
    npy_header("<q9", (1,)),  # unknown dtype
])
def test_bad_npy_is_malformed(data: bytes) -> None:
    assert verdict(analyse_npy(BytesSource("x.npy", data), ctx())) is Verdict.INVALID


def test_npz_members() -> None:
    benign = zip_of({"a.npy": npy(np.arange(3)), "b.npy": npy(np.array([1, "x"], dtype=object))},
                    zipfile.ZIP_DEFLATED)
    analysis = analyse_npz(BytesSource("z.npz", benign), ctx())
    assert verdict(analysis) is Verdict.CLEAN and set(analysis.metadata["arrays"]) == {"a.npy", "b.npy"}
    hostile = zip_of({"a.npy": npy(np.arange(3)), "b.npy": npy_header("|O", (1,)) + MALICIOUS})
    analysis = analyse_npz(BytesSource("z.npz", hostile), ctx())
    assert verdict(analysis) is Verdict.DANGEROUS
    assert any(r.location.startswith("member b.npy") for r in analysis.reasons)


# -- joblib ------------------------------------------------------------------------------------------------------
def dtype(typestr: str, elsize: int = -1, flags: int = 0) -> bytes:
    state = b"(K\x03" + s("<") + b"NNN" + struct.pack("<Bi", ord("J"), elsize) + b"J\xff\xff\xff\xffK" \
        + bytes([flags]) + b"t"
    return glob("numpy", "dtype") + s(typestr) + b"\x89\x88\x87R" + state + b"b"


def wrapper(shape: tuple[int, ...], dtype_bytes: bytes, aligned: bool = True) -> bytes:
    shape_bytes = b"(" + b"".join(b"K" + bytes([n]) for n in shape) + b"t"
    fields = (s("subclass") + glob("numpy", "ndarray") + s("shape") + shape_bytes + s("order") + s("C")
              + s("dtype") + dtype_bytes + s("allow_mmap") + b"\x88")
    if aligned:
        fields += s("numpy_array_alignment_bytes") + b"K\x10"
    return glob("joblib.numpy_pickle", "NumpyArrayWrapper") + b")\x81}(" + fields + b"ub"


def joblib_file(array_bytes: bytes = b"\x00\x00\x80?" * 6, *, aligned: bool = True, trailer: bytes = b"") -> bytes:
    head = b"\x80\x04}(" + s("coef") + wrapper((2, 3), dtype("f4"), aligned)
    padding = b"\x05" + b"\xff" * 5 if aligned else b""
    obj = s("classes") + wrapper((2,), dtype("O8", 8, 63)) + pickle.dumps(np.array(["a", None], dtype=object),
                                                                        protocol=2)
    return head + padding + array_bytes + obj + s("n") + b"K\x02u." + trailer


def test_joblib_numeric_and_object_arrays_are_clean() -> None:
    for aligned in (True, False):
        data = joblib_file(aligned=aligned)
        assert looks_like_joblib(data) and looks_like_pickle(data)
        analysis = analyse_joblib(BytesSource("m.joblib", data), ctx())
        assert analysis.reasons == [], analysis.reasons
        assert analysis.metadata["compression"] is None and analysis.metadata["pickles"] == 1
    # the same file read as a plain pickle (the scanner core may hand it to the pickle analyser): still clean
    assert analyse_pickle_file(BytesSource("m.pkl", joblib_file()), ctx()).reasons == []


def test_joblib_array_bytes_that_pickle_load_would_run_are_caught() -> None:
    payload = glob("os", "system") + s("true") + b"\x85R0NNNN"  # 24 bytes = the array's declared size
    assert len(payload) == 24
    analysis = analyse_joblib(BytesSource("m.joblib", joblib_file(payload, aligned=False)), ctx())
    reason = next(r for r in analysis.reasons if r.rule_id == "MODEL-401")
    assert reason.verdict is Verdict.DANGEROUS and "joblib array bytes" in reason.detail["via"]


def test_joblib_array_bytes_that_call_what_the_main_stream_left_on_the_stack() -> None:
    # the main stream pushes os.system and its arguments, unused; under pickle.load the "array bytes" call them,
    # and a broken end must not make the import look harmless
    prepared = glob("os", "system") + s("true") + b"\x85"
    data = b"\x80\x04" + prepared + wrapper((4,), dtype("u1"), aligned=False) + b"0R0N" + b"K"
    analysis = analyse_joblib(BytesSource("m.joblib", data), ctx())
    assert verdict(analysis) is Verdict.DANGEROUS, analysis.reasons


def test_joblib_payload_after_the_arrays() -> None:
    data = joblib_file()[:-1] + b"0" + SYSTEM_CALL + b"."
    assert verdict(analyse_joblib(BytesSource("m.joblib", data), ctx())) is Verdict.DANGEROUS


@pytest.mark.parametrize("compress", [zlib.compress, gzip.compress, bz2.compress, lzma.compress,
                                      lambda d: lzma.compress(d, format=lzma.FORMAT_ALONE)])
def test_compressed_joblib(compress: Any) -> None:
    data = compress(joblib_file())
    assert looks_like_joblib(data[:4096]) and not looks_like_pickle(data[:4096])
    analysis = analyse_joblib(BytesSource("m.joblib.z", data), ctx())
    assert analysis.reasons == [] and analysis.metadata["compression"] in ("zlib", "gzip", "bz2", "lzma")
    hostile = analyse_joblib(BytesSource("m.joblib.z", compress(MALICIOUS)), ctx())
    assert verdict(hostile) is Verdict.DANGEROUS


def test_corrupt_or_unsupported_compression() -> None:
    corrupt = zlib.compress(joblib_file())[:40] + b"\x00" * 40
    assert verdict(analyse_joblib(BytesSource("m.z", corrupt), ctx())) in (Verdict.INVALID, Verdict.REVIEW)
    assert rules(analyse_joblib(BytesSource("m.lz4", b"\x04\x22\x4d\x18" + b"\x00" * 20), ctx())) == {"MODEL-423"}


def test_joblib_with_an_unsizable_array_stops_with_a_limit_reason() -> None:
    data = b"\x80\x04" + wrapper((2,), glob("numpy", "float64")) + b"."
    assert rules(analyse_joblib(BytesSource("m.joblib", data), ctx())) == {"MODEL-493"}


def test_real_joblib_and_scikit_learn_dumps_are_clean() -> None:
    joblib = pytest.importorskip("joblib")
    linear = pytest.importorskip("sklearn.linear_model")
    model = linear.LogisticRegression().fit(np.random.default_rng(0).random((20, 3)), [0, 1] * 10)
    for compress in (0, 3, ("gzip", 3)):
        buffer = io.BytesIO()
        joblib.dump({"model": model, "x": np.arange(5.0), "o": np.array([1, None], dtype=object)}, buffer,
                    compress=compress)
        data = buffer.getvalue()
        assert looks_like_joblib(data[:65536])
        assert analyse_joblib(BytesSource("m.joblib", data), ctx()).reasons == []


# -- detection helpers -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("head", [
    b"", b"\x80", b"\x80\x07N.", b"hello world\n", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", b"PK\x03\x04\x14\x00",
    b"\x93NUMPY\x01\x00v\x00{'descr'", b"Name: x\nValue: y\n", b"{\"a\": 1}", bytes(range(256)),
    gzip.compress(b"plain text, not a pickle"),
])
def test_non_pickles_are_not_detected(head: bytes) -> None:
    assert not looks_like_pickle(head)
    assert not looks_like_joblib(head)
    assert not looks_like_torch_legacy(head)


@pytest.mark.parametrize("protocol", range(6))
def test_pickles_are_detected_from_a_cut_head(protocol: int) -> None:
    data = pickle.dumps({"k": list(range(2000)), "s": "x" * 5000}, protocol=protocol)
    assert looks_like_pickle(data) and looks_like_pickle(data[:1024])
    assert not looks_like_joblib(data[:1024]) and not looks_like_torch_legacy(data[:1024])
