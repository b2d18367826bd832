"""GGUF: header and metadata parsing, tensor bounds, chat templates, lying lengths and fuzzing."""

from __future__ import annotations

import struct
import time
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anzhi.develop.models._gguf import analyze_gguf, looks_like_gguf
from anzhi.develop.models._registry import ANALYZERS, Analysis, ScanContext
from anzhi.develop.models._result import ModelFormat, Verdict, worst_verdict
from anzhi.develop.models._source import BytesSource, ScanLimits

U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)
_FMT = {U8: "B", I8: "b", U16: "H", I16: "h", U32: "I", I32: "i", F32: "f", BOOL: "?", U64: "Q", I64: "q", F64: "d"}

CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + "
    "'\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
SSTI = "{{ cycler.__init__.__globals__.os.popen('id').read() }}"


class Writer:
    """Builds GGUF bytes: version, endianness, key/values and tensor infos."""

    def __init__(self, version: int = 3, endian: str = "<") -> None:
        self.version, self.e = version, endian
        self.wide = version >= 2

    def n(self, value: int) -> bytes:
        return struct.pack(self.e + ("Q" if self.wide else "I"), value)

    def s(self, text: str | bytes) -> bytes:
        raw = text.encode() if isinstance(text, str) else text
        return self.n(len(raw)) + raw

    def value(self, vtype: int, value: Any) -> bytes:
        if vtype == STR:
            return self.s(value)
        if vtype == ARR:
            etype, items = value
            return struct.pack(self.e + "I", etype) + self.n(len(items)) + b"".join(self.value(etype, v)
                                                                                   for v in items)
        return struct.pack(self.e + _FMT[vtype], value)

    def build(self, kvs: list[tuple[str, int, Any]], tensors: tuple[tuple[str, list[int], int, int], ...] = (),
              data: bytes | None = None, align: int = 32, counts: tuple[int, int] | None = None) -> bytes:
        out = b"GGUF" + struct.pack(self.e + "I", self.version)
        n_t, n_kv = counts or (len(tensors), len(kvs))
        out += self.n(n_t) + self.n(n_kv)
        for key, vtype, value in kvs:
            out += self.s(key) + struct.pack(self.e + "I", vtype) + self.value(vtype, value)
        for name, dims, ggml_type, offset in tensors:
            out += self.s(name) + struct.pack(self.e + "I", len(dims)) + b"".join(self.n(d) for d in dims)
            out += struct.pack(self.e + "I", ggml_type) + struct.pack(self.e + "Q", offset)
        out += bytes(-len(out) % align)
        return out + (data if data is not None else b"")


def llama(template: str = CHATML, extra: list[tuple[str, int, Any]] | None = None, version: int = 3,
          endian: str = "<") -> bytes:
    kvs = [
        ("general.architecture", STR, "llama"), ("general.name", STR, "Tiny Llama"),
        ("general.basename", STR, "tiny-llama"), ("general.license", STR, "apache-2.0"),
        ("general.file_type", U32, 15), ("general.tags", ARR, (STR, ["text-generation", "tiny"])),
        ("llama.context_length", U32, 4096), ("llama.rope.dimension_sections", ARR, (I32, [1, 2, 3, 4])),
        ("tokenizer.ggml.model", STR, "gpt2"),
        ("tokenizer.ggml.tokens", ARR, (STR, [f"tok{i}" for i in range(100)])),
        ("tokenizer.ggml.scores", ARR, (F32, [0.5] * 100)),
        ("tokenizer.chat_template", STR, template), *(extra or []),
    ]
    # q4_k: 256 elements per 144-byte block; f32 norm; offsets follow with 32-byte alignment
    tensors = (("token_embd.weight", [256, 2], 12, 0), ("output_norm.weight", [8], 0, 288))
    return Writer(version, endian).build(kvs, tensors, bytes(288 + 32))


def scan(data: bytes, **limits: Any) -> Analysis:
    return analyze_gguf(BytesSource("m.gguf", data), ScanContext(limits=ScanLimits(**limits)))


def verdict(analysis: Analysis) -> Verdict:
    return worst_verdict([r.verdict for r in analysis.reasons])


def rules(analysis: Analysis) -> set[str]:
    return {r.rule_id for r in analysis.reasons}


def test_registered() -> None:
    assert ANALYZERS[ModelFormat.GGUF] is analyze_gguf


def test_benign_model_is_clean_and_described() -> None:
    analysis = scan(llama())
    assert analysis.reasons == []
    meta = analysis.metadata
    assert meta["architecture"] == "llama" and meta["name"] == "Tiny Llama" and meta["basename"] == "tiny-llama"
    assert meta["license"] == "apache-2.0" and meta["tags"] == ["text-generation", "tiny"]
    assert meta["context_length"] == 4096 and meta["file_type"] == "MOSTLY_Q4_K_M" and meta["quantization"] == "Q4_K_M"
    assert meta["parameter_count"] == 512 + 8 and meta["dominant_tensor_type"] == "Q4_K"
    assert meta["has_chat_template"] is True and meta["chat_templates"] == ["tokenizer.chat_template"]
    assert meta["vocab_size"] == 100 and meta["tokenizer_model"] == "gpt2"
    assert meta["gguf_version"] == 3 and meta["tensor_count"] == 2


def test_versions_one_two_and_big_endian() -> None:
    for version in (1, 2):
        analysis = scan(llama(version=version))
        assert analysis.reasons == [], version
        assert analysis.metadata["gguf_version"] == version
    big = scan(llama(endian=">"))
    assert big.reasons == [] and big.metadata["architecture"] == "llama"


def test_malicious_chat_template_is_dangerous() -> None:
    analysis = scan(llama(template=SSTI))
    assert verdict(analysis) == Verdict.DANGEROUS and "MODEL-461" in rules(analysis)
    reason = next(r for r in analysis.reasons if r.rule_id == "MODEL-461")
    assert reason.location.startswith("key tokenizer.chat_template")


def test_named_template_is_checked_too() -> None:
    analysis = scan(llama(extra=[("tokenizer.chat_template.tool_use", STR, "{{ ''.__class__.__mro__ }}")]))
    assert verdict(analysis) == Verdict.DANGEROUS
    assert analysis.metadata["chat_templates"] == ["tokenizer.chat_template", "tokenizer.chat_template.tool_use"]


def test_duplicate_key_hides_second_template() -> None:
    analysis = scan(llama(extra=[("tokenizer.chat_template", STR, SSTI)]))
    assert {"MODEL-467", "MODEL-461"} <= rules(analysis)


def test_nested_arrays_parse() -> None:
    nested = ("test.nested", ARR, (ARR, [(U8, [1, 2]), (STR, ["a", "b"])]))
    assert scan(llama(extra=[nested])).reasons == []


def test_every_truncation_is_invalid_without_crash() -> None:
    blob = llama()
    for cut in range(0, len(blob), 3):
        analysis = scan(blob[:cut])
        assert verdict(analysis) == Verdict.INVALID, cut
        assert rules(analysis) <= {"MODEL-492", "MODEL-460"}, (cut, rules(analysis))


def test_lying_lengths_never_allocate() -> None:
    w = Writer()
    huge_string = b"GGUF" + struct.pack("<I", 3) + w.n(0) + w.n(1) + w.n(1 << 62) + b"key"
    huge_array = b"GGUF" + struct.pack("<I", 3) + w.n(0) + w.n(1) + w.s("a") + struct.pack("<II", ARR, STR) + \
        w.n(1 << 60)
    huge_counts = w.build([], counts=(1 << 40, 1 << 40))
    start = time.perf_counter()
    for blob in (huge_string, huge_array, huge_counts):
        analysis = scan(blob)
        assert rules(analysis) == {"MODEL-492"}, rules(analysis)
    assert time.perf_counter() - start < 0.5


def test_hostile_values() -> None:
    w = Writer()
    five_dims = w.build([], (("t", [1, 1, 1, 1, 1], 0, 0),), bytes(64))
    overflow = w.build([], (("t", [1 << 40, 1 << 40], 0, 0),), bytes(64))
    long_name = w.build([], (("x" * 100, [1], 0, 0),), bytes(64))
    bad_type = b"GGUF" + struct.pack("<I", 3) + w.n(0) + w.n(1) + w.s("k") + struct.pack("<II", 99, 0) + bytes(16)
    for blob in (five_dims, overflow, long_name, bad_type):
        analysis = scan(blob)
        assert rules(analysis) == {"MODEL-466"}, rules(analysis)
        assert analysis.reasons[0].severity == "high"
    bad_align = w.build([("general.alignment", U32, 3)], (("t", [1], 0, 0),), bytes(64), align=1)
    assert rules(scan(bad_align)) == {"MODEL-466"}
    row = w.build([], (("t", [100], 2, 0),), bytes(128))  # Q4_0 rows must be multiples of 32
    assert rules(scan(row)) == {"MODEL-466"}


def test_tensor_bounds() -> None:
    w = Writer()
    misaligned = w.build([], (("a", [4], 0, 0), ("b", [4], 0, 20),), bytes(128))
    overlap = w.build([], (("a", [64], 0, 0), ("b", [4], 0, 32),), bytes(512))
    for blob in (misaligned, overlap):
        analysis = scan(blob)
        assert rules(analysis) == {"MODEL-460"} and verdict(analysis) == Verdict.INVALID
    beyond = w.build([], (("a", [1024], 0, 0),), bytes(16))
    assert rules(scan(beyond)) == {"MODEL-492"}


def test_duplicate_tensor_names() -> None:
    blob = Writer().build([], (("a", [8], 0, 0), ("a", [8], 0, 32)), bytes(64))
    assert rules(scan(blob)) == {"MODEL-467"}


def test_limits() -> None:
    analysis = scan(llama(), max_metadata_items=50)
    assert "MODEL-493" in rules(analysis) and verdict(analysis) == Verdict.REVIEW
    huge_template = llama(template="x" * (1 << 20 + 1))
    assert "MODEL-493" in rules(scan(huge_template))


def test_wrong_magic_and_version() -> None:
    assert rules(scan(b"GGUX" + bytes(20))) == {"MODEL-492"}
    assert rules(scan(b"GGUF" + struct.pack("<I", 9) + bytes(16))) == {"MODEL-492"}


def test_looks_like_gguf() -> None:
    assert looks_like_gguf(llama()[:64])
    assert looks_like_gguf(llama(endian=">")[:64])
    assert not looks_like_gguf(b"GGUF" + struct.pack("<I", 7))
    assert not looks_like_gguf(b"GGML")


@settings(max_examples=300, deadline=500, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=256))
def test_fuzz_random_bytes_after_magic(tail: bytes) -> None:
    for blob in (b"GGUF\x03\x00\x00\x00" + tail, b"GGUF\x01\x00\x00\x00" + tail, tail):
        assert isinstance(scan(blob), Analysis)


SMALL = llama(template="{% for m in messages %}{{ m['content'] }}{% endfor %}")


@settings(max_examples=300, deadline=500)
@given(st.data())
def test_fuzz_mutated_valid_file(data: st.DataObject) -> None:
    blob = bytearray(SMALL)
    for _ in range(data.draw(st.integers(1, 8))):
        pos = data.draw(st.integers(0, len(blob) - 1))
        blob[pos] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(blob)))
    analysis = scan(bytes(blob[:cut]))
    assert all(r.rule_id.startswith("MODEL-4") for r in analysis.reasons)
