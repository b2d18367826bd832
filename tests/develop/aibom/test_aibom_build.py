"""The AI-BOM of a Hugging Face-style folder and of a single GGUF file, validated against CycloneDX 1.6."""

from __future__ import annotations

import hashlib
import io
import json
import socket
import struct
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from hypothesis import given, settings
from hypothesis import strategies as st

import anzhi.develop.aibom as aibom_pkg
from anzhi import __version__
from anzhi.develop.aibom import AiBom, MetadataFileError, build_aibom, read_model_card, write_aibom
from anzhi.develop.models import ANALYZERS, FileResult, ModelFormat, Reason, ScanReport, Verdict
from anzhi.errors import InputError
from anzhi.findings import Confidence, Severity

CARD = """---
license: apache-2.0
language:
  - en
  - zh
datasets:
  - wikitext
  - HuggingFaceFW/fineweb
pipeline_tag: text-generation
library_name: transformers
tags: [llama, tiny]
base_model: meta-llama/Llama-3.2-1B
model-index:
  - name: tiny-llama-test
    results:
      - task: {type: text-generation}
        dataset: {name: MMLU, type: cais/mmlu}
        metrics:
          - {type: accuracy, value: 25.1}
---

# tiny-llama-test

## Uses

### Direct Use

- Testing bills of materials.

### Out-of-Scope Use

- Anything real.

## Bias, Risks, and Limitations

It is far too small to say anything useful.

## Training Details

[More Information Needed]
"""

CONFIG = {
    "_name_or_path": "/home/someone/checkpoints/run-7",
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": 4,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "vocab_size": 32,
    "max_position_embeddings": 128,
    "torch_dtype": "float32",
}


def safetensors_bytes(tensors: dict[str, tuple[str, list[int], bytes]], metadata: dict[str, str]) -> bytes:
    """A valid safetensors file: u64 little-endian header length, JSON header (space padded to 8), data."""
    header: dict[str, Any] = {"__metadata__": metadata}
    data = b""
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def make_hf_folder(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.json").write_text(json.dumps(CONFIG))
    (root / "README.md").write_text(CARD)
    weight = struct.pack("<6f", *range(6))
    (root / "model.safetensors").write_bytes(
        safetensors_bytes({"lm_head.weight": ("F32", [2, 3], weight)}, {"format": "pt"})
    )
    (root / "tokenizer.json").write_text(json.dumps({"version": "1.0", "model": {"type": "BPE", "vocab": {}}}))
    (root / "pytorch_model.bin").write_bytes(b"\x80\x04\x95 not really a pickle")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    return root


def reason(rule: str, verdict: Verdict, severity: Severity = Severity.CRITICAL) -> Reason:
    return Reason(
        rule_id=rule,
        message=f"{rule} fired",
        severity=severity,
        confidence=Confidence.HIGH,
        verdict=verdict,
        location="offset 2",
        detail={"global": "posix.system"},
    )


def hf_report(root: Path) -> ScanReport:
    """What the scanner says about :func:`make_hf_folder` (hand-built until the analysers land)."""
    safetensors = FileResult(
        path=str(root / "model.safetensors"),
        format=ModelFormat.SAFETENSORS,
        size=(root / "model.safetensors").stat().st_size,
        sha256=hashlib.sha256((root / "model.safetensors").read_bytes()).hexdigest(),
        metadata={"tensor_count": 1, "parameter_count": 6, "dtypes": ["F32"], "metadata": {"format": "pt"}},
    )
    pickle = FileResult(
        path=str(root / "pytorch_model.bin"),
        format=ModelFormat.PICKLE,
        size=(root / "pytorch_model.bin").stat().st_size,
        reasons=[reason("MODEL-401", Verdict.DANGEROUS), reason("MODEL-405", Verdict.REVIEW, Severity.MEDIUM)],
        metadata={"protocol": 4, "globals": ["posix.system"]},
    )
    tokenizer = FileResult(path=str(root / "tokenizer.json"), format=ModelFormat.UNKNOWN, size=10)
    return ScanReport(results=[safetensors, pickle, tokenizer], scanner_version=__version__)


def validate(document: str) -> None:
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(document)
    assert error is None, str(error)


def components(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["bom-ref"]: c for c in doc["components"]}


def props(component: dict[str, Any], name: str) -> list[str]:
    return [p["value"] for p in component.get("properties", []) if p["name"] == name]


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def test_hf_folder_bom_is_valid_cyclonedx_1_6_offline(tmp_path: Path, no_network: None) -> None:
    root = make_hf_folder(tmp_path / "tiny")
    result = build_aibom(root, report=hf_report(root))
    stream = io.StringIO()
    write_aibom(result, stream)
    text = stream.getvalue()
    validate(text)
    doc = json.loads(text)
    assert doc["specVersion"] == "1.6"
    assert doc["bomFormat"] == "CycloneDX"
    assert doc["serialNumber"].startswith("urn:uuid:")
    assert doc["metadata"]["timestamp"]
    assert doc["metadata"]["tools"]["components"] == [{"name": "anzhi", "type": "application", "version": __version__}]


def test_hf_folder_model_component_and_card(tmp_path: Path) -> None:
    root = make_hf_folder(tmp_path / "tiny")
    doc = build_aibom(root, report=hf_report(root)).to_dict()
    by_ref = components(doc)
    model = by_ref["model:tiny-llama-test"]
    assert model["type"] == "machine-learning-model"
    assert model["licenses"] == [{"license": {"id": "Apache-2.0"}}]
    assert model["tags"] == ["llama", "tiny"]
    assert model["pedigree"]["ancestors"][0]["name"] == "meta-llama/Llama-3.2-1B"
    card = model["modelCard"]
    assert card["modelParameters"] == {
        "task": "text-generation",
        "architectureFamily": "llama",
        "modelArchitecture": "LlamaForCausalLM",
        "datasets": [{"ref": "dataset:wikitext"}, {"ref": "dataset:HuggingFaceFW/fineweb"}],
    }
    assert card["quantitativeAnalysis"]["performanceMetrics"] == [
        {"type": "accuracy", "value": "25.1", "slice": "MMLU"}
    ]
    assert card["considerations"] == {
        "useCases": ["Testing bills of materials."],
        "technicalLimitations": ["It is far too small to say anything useful."],
    }
    assert props(model, "anzhi:parameters") == ["6"]  # summed from the safetensors header
    assert props(model, "anzhi:config:hidden_size") == ["4"]
    assert props(model, "anzhi:config:num_hidden_layers") == ["2"]
    assert props(model, "anzhi:language") == ["en", "zh"]
    assert props(model, "anzhi:verdict") == ["dangerous"]
    assert props(model, "anzhi:files") == ["5"]  # .git is not part of the model
    for dataset in ("wikitext", "HuggingFaceFW/fineweb"):
        data = by_ref[f"dataset:{dataset}"]
        assert data["type"] == "data"
        assert data["data"] == [{"type": "dataset", "name": dataset}]
        assert data["externalReferences"][0]["url"] == f"https://huggingface.co/datasets/{dataset}"
    files = {"config.json", "README.md", "model.safetensors", "tokenizer.json", "pytorch_model.bin"}
    dependency = next(d for d in doc["dependencies"] if d["ref"] == "model:tiny-llama-test")
    assert set(dependency["dependsOn"]) == {f"file:{name}" for name in files}


def test_file_components_hashes_formats_and_verdicts(tmp_path: Path) -> None:
    root = make_hf_folder(tmp_path / "tiny")
    doc = build_aibom(root, report=hf_report(root)).to_dict()
    by_ref = components(doc)
    file_refs = {ref for ref in by_ref if ref.startswith("file:")}
    assert file_refs == {f"file:{p.name}" for p in root.iterdir() if p.is_file()}
    for ref in file_refs:
        component = by_ref[ref]
        content = (root / component["name"]).read_bytes()
        assert component["type"] == "file"
        assert component["hashes"] == [{"alg": "SHA-256", "content": hashlib.sha256(content).hexdigest()}]
        assert props(component, "anzhi:size") == [str(len(content))]
    weights = by_ref["file:model.safetensors"]
    assert props(weights, "anzhi:format") == ["safetensors"]
    assert props(weights, "anzhi:verdict") == ["clean"]
    assert props(weights, "anzhi:meta:parameter_count") == ["6"]
    assert props(weights, "anzhi:meta:metadata.format") == ["pt"]
    pickle = by_ref["file:pytorch_model.bin"]
    assert props(pickle, "anzhi:format") == ["pickle"]
    assert props(pickle, "anzhi:verdict") == ["dangerous"]
    assert sorted(props(pickle, "anzhi:rule")) == ["MODEL-401", "MODEL-405"]
    assert any(
        v.startswith("MODEL-401 (critical/high): MODEL-401 fired @ offset 2") for v in props(pickle, "anzhi:reason")
    )
    assert props(by_ref["file:config.json"], "anzhi:verdict") == []  # not in the report: no verdict claimed


def test_single_gguf_file_from_scanner_metadata(tmp_path: Path, no_network: None) -> None:
    path = tmp_path / "weights.Q4_K_M.gguf"
    path.write_bytes(b"GGUF\x03\x00\x00\x00" + bytes(64))
    metadata = {  # as the GGUF analyser records it
        "gguf_version": 3,
        "tensor_count": 201,
        "architecture": "llama",
        "name": "TinyLlama Chat",
        "license": "mit",
        "version": "v1.0",
        "general": {"architecture": "llama", "name": "TinyLlama Chat", "license": "mit", "version": "v1.0"},
        "file_type": "MOSTLY_Q4_K_M",
        "context_length": 2048,
        "parameter_count": 1_100_048_384,
        "has_chat_template": True,
        "chat_templates": ["tokenizer.chat_template"],
        "description": "{% for m in messages %}{{ m.content }}{% endfor %}" * 10,
    }
    result = FileResult(path=str(path), format=ModelFormat.GGUF, size=path.stat().st_size, metadata=metadata)
    bom = build_aibom(path, report=ScanReport(results=[result]))
    text = bom.to_json()
    validate(text)
    by_ref = components(json.loads(text))
    model = by_ref["model:TinyLlama Chat"]
    assert model["version"] == "v1.0"
    assert model["licenses"] == [{"license": {"id": "MIT"}}]
    assert model["modelCard"] == {"modelParameters": {"architectureFamily": "llama"}}
    assert props(model, "anzhi:parameters") == ["1100048384"]
    assert props(model, "anzhi:quantization") == ["MOSTLY_Q4_K_M"]
    assert props(model, "anzhi:context-length") == ["2048"]
    weights = by_ref["file:weights.Q4_K_M.gguf"]
    assert props(weights, "anzhi:format") == ["gguf"]
    assert props(weights, "anzhi:meta:description") == ["<500 characters>"]
    assert props(weights, "anzhi:meta:general.name") == ["TinyLlama Chat"]
    assert props(weights, "anzhi:meta:has_chat_template") == ["true"]
    assert weights["hashes"][0]["content"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_gguf_unknown_licence_is_a_named_licence(tmp_path: Path) -> None:
    path = tmp_path / "m.gguf"
    path.write_bytes(b"GGUF")
    meta = {"general": {"license": "llama3", "license.link": "https://example.org/llama3"}}
    result = FileResult(path=str(path), format=ModelFormat.GGUF, size=4, metadata=meta)
    doc = build_aibom(path, report=ScanReport(results=[result])).to_dict()
    validate(json.dumps(doc))
    assert components(doc)["model:m"]["licenses"] == [
        {"license": {"name": "llama3", "url": "https://example.org/llama3"}}
    ]


def test_card_licence_other_with_name_and_link(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text(
        "---\nlicense: other\nlicense_name: tongyi-qianwen\nlicense_link: https://example.org/LICENSE\n---\nHi\n"
    )
    doc = build_aibom(tmp_path, scan=False).to_dict()
    validate(json.dumps(doc))
    model = next(c for c in doc["components"] if c["type"] == "machine-learning-model")
    assert model["licenses"] == [{"license": {"name": "tongyi-qianwen", "url": "https://example.org/LICENSE"}}]


def test_spdx_expression_licence(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("---\nlicense: Apache-2.0 OR MIT\n---\n")
    doc = build_aibom(tmp_path, scan=False).to_dict()
    validate(json.dumps(doc))
    model = next(c for c in doc["components"] if c["type"] == "machine-learning-model")
    assert model["licenses"] == [{"expression": "Apache-2.0 OR MIT"}]


def test_no_scan_lists_and_hashes_without_verdicts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_hf_folder(tmp_path / "tiny")

    def forbidden(path: Path, files: object) -> ScanReport:
        raise AssertionError("scan=False must not scan")

    monkeypatch.setattr("anzhi.develop.aibom._builder._scan", forbidden)
    result = build_aibom(root, scan=False)
    assert result.verdict is None
    doc = result.to_dict()
    validate(json.dumps(doc))
    by_ref = components(doc)
    assert props(by_ref["model:tiny-llama-test"], "anzhi:scan") == ["not scanned"]
    assert all(not props(c, "anzhi:verdict") for c in by_ref.values())
    assert (
        by_ref["file:model.safetensors"]["hashes"][0]["content"]
        == hashlib.sha256((root / "model.safetensors").read_bytes()).hexdigest()
    )


def test_scan_true_calls_the_scanner_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_hf_folder(tmp_path / "tiny")
    calls: list[Path] = []

    def fake_scan(path: Path, files: object) -> ScanReport:
        calls.append(path)
        return hf_report(root)

    monkeypatch.setattr("anzhi.develop.aibom._builder._scan", fake_scan)
    result = build_aibom(root)
    assert calls == [root]
    assert result.verdict is Verdict.DANGEROUS


def test_missing_path_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file or folder"):
        build_aibom(tmp_path / "nope")


def test_unsupported_output_format(tmp_path: Path) -> None:
    (tmp_path / "a.bin").write_bytes(b"x")
    with pytest.raises(InputError, match="not supported"):
        write_aibom(build_aibom(tmp_path, scan=False), io.StringIO(), format="xml")  # type: ignore[arg-type]


def test_archive_members_become_nested_components(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    path.write_bytes(b"PK\x03\x04 zip")
    member = FileResult(
        path=f"{path}!archive/data.pkl",
        format=ModelFormat.PICKLE,
        size=40,
        sha256="ab" * 32,
        reasons=[reason("MODEL-401", Verdict.DANGEROUS)],
    )
    twin = FileResult(path=f"{path}!archive/data.pkl", format=ModelFormat.PICKLE, size=3)  # same name again
    outer = FileResult(path=str(path), format=ModelFormat.PYTORCH_ZIP, size=9, members=[member, twin])
    doc = build_aibom(path, report=ScanReport(results=[outer])).to_dict()
    validate(json.dumps(doc))
    top = components(doc)["file:model.pt"]
    assert props(top, "anzhi:verdict") == ["dangerous"]
    nested, twin = top["components"]
    assert nested["name"] == twin["name"] == "model.pt!archive/data.pkl"
    assert {nested["bom-ref"], twin["bom-ref"]} == {
        "file:model.pt!archive/data.pkl",
        "file:model.pt!archive/data.pkl#2",
    }
    nested = next(c for c in top["components"] if c.get("hashes"))
    assert nested["hashes"] == [{"alg": "SHA-256", "content": "ab" * 32}]
    assert props(nested, "anzhi:rule") == ["MODEL-401"]


def test_folder_results_and_shards_add_up(tmp_path: Path) -> None:
    shards = [tmp_path / f"model-0000{i}-of-00002.safetensors" for i in (1, 2)]
    for shard in shards:
        shard.write_bytes(b"\x08" + bytes(15))
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"metadata": {"total_size": 4096}}))
    members = [
        FileResult(path=str(s), format=ModelFormat.SAFETENSORS, size=16, metadata={"parameter_count": 500})
        for s in shards
    ]
    folder = FileResult(path=str(tmp_path), format=ModelFormat.DIRECTORY, size=0, members=members)
    doc = build_aibom(tmp_path, report=ScanReport(results=[folder])).to_dict()
    model = next(c for c in doc["components"] if c["type"] == "machine-learning-model")
    assert props(model, "anzhi:parameters") == ["1000"]
    assert props(model, "anzhi:tensor-bytes") == ["4096"]
    assert props(components(doc)[f"file:{shards[0].name}"], "anzhi:format") == ["safetensors"]


def test_links_to_files_followed_links_to_folders_not(tmp_path: Path) -> None:
    repo = tmp_path / "models--acme--tiny"
    (repo / "blobs").mkdir(parents=True)
    (repo / "blobs" / "abc").write_bytes(b"weights")
    snapshot = repo / "snapshots" / "0123abcd"
    snapshot.mkdir(parents=True)
    (snapshot / "model.safetensors").symlink_to(repo / "blobs" / "abc")
    (snapshot / "loop").symlink_to(snapshot, target_is_directory=True)
    (snapshot / "dangling").symlink_to(tmp_path / "missing")
    doc = build_aibom(snapshot, scan=False).to_dict()
    validate(json.dumps(doc))
    by_ref = components(doc)
    model = by_ref["model:acme/tiny"]  # named from the Hugging Face cache layout
    assert model["version"] == "0123abcd"
    assert set(by_ref) == {"model:acme/tiny", "file:model.safetensors"}
    weights = by_ref["file:model.safetensors"]
    assert props(weights, "anzhi:symlink") == [str(repo / "blobs" / "abc")]
    assert weights["hashes"][0]["content"] == hashlib.sha256(b"weights").hexdigest()


def test_links_out_of_the_model_are_listed_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("---\nlicense: leaked-secret\n---\n")
    root = tmp_path / "model"
    root.mkdir()
    (root / "README.md").symlink_to(secret)
    (root / "weights.bin").symlink_to(secret)
    (root / "real.bin").write_bytes(b"x")
    (root / "inner.bin").symlink_to(root / "real.bin")
    result = build_aibom(root, scan=False)
    assert any("README.md not read" in note for note in result.notes)
    doc = result.to_dict()
    validate(json.dumps(doc))
    by_ref = components(doc)
    assert "licenses" not in by_ref["model:model"]
    outside = by_ref["file:weights.bin"]
    assert "hashes" not in outside
    assert props(outside, "anzhi:note") == ["link out of the model folder: target not read"]
    assert by_ref["file:inner.bin"]["hashes"][0]["content"] == hashlib.sha256(b"x").hexdigest()


def test_scan_names_the_links_it_follows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "model"
    root.mkdir()
    (root / "real.bin").write_bytes(b"x")
    (root / "inner.bin").symlink_to(root / "real.bin")
    calls: list[list[Path]] = []

    def scan_paths(paths: list[Path]) -> ScanReport:
        calls.append(list(paths))
        if paths == [root]:  # the folder walk reports the link as not followed
            link = FileResult(
                path=str(root / "inner.bin"),
                format=ModelFormat.UNKNOWN,
                size=0,
                reasons=[reason("MODEL-494", Verdict.REVIEW, Severity.INFO)],
            )
            return ScanReport(
                results=[link, FileResult(path=str(root / "real.bin"), format=ModelFormat.PICKLE, size=1)]
            )
        return ScanReport(results=[FileResult(path=str(p), format=ModelFormat.PICKLE, size=1) for p in paths])

    monkeypatch.setattr("anzhi.develop.models.scan_paths", scan_paths)
    result = build_aibom(root)
    assert calls == [[root], [root / "inner.bin"]]
    by_ref = components(result.to_dict())
    assert props(by_ref["file:inner.bin"], "anzhi:format") == ["pickle"]
    assert props(by_ref["file:inner.bin"], "anzhi:rule") == []
    assert result.verdict is Verdict.CLEAN


def test_companion_files_do_not_set_the_model_verdict(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("# hi\n")
    (tmp_path / "model.safetensors").write_bytes(b"x")
    readme = FileResult(
        path=str(tmp_path / "README.md"),
        format=ModelFormat.UNKNOWN,
        size=5,
        reasons=[reason("MODEL-491", Verdict.INVALID, Severity.INFO)],
    )
    weights = FileResult(path=str(tmp_path / "model.safetensors"), format=ModelFormat.SAFETENSORS, size=1)
    result = build_aibom(tmp_path, report=ScanReport(results=[readme, weights]))
    assert result.verdict is Verdict.CLEAN
    by_ref = components(result.to_dict())
    assert props(by_ref[f"model:{tmp_path.name}"], "anzhi:verdict") == ["clean"]
    assert props(by_ref["file:README.md"], "anzhi:verdict") == ["invalid"]  # the scanner's word, kept per file


def test_unreadable_card_and_config_become_notes(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("---\n- just\n- a list\n---\n")
    (tmp_path / "config.json").write_text("{not json")
    result = build_aibom(tmp_path, scan=False)
    assert any("model card not used" in n for n in result.notes)
    assert any("config.json not used" in n for n in result.notes)
    doc = result.to_dict()
    validate(json.dumps(doc))
    model = components(doc)[f"model:{tmp_path.name}"]
    assert "modelCard" not in model
    assert len(props(model, "anzhi:note")) == 2


def test_oversized_config_is_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("anzhi.develop.aibom._huggingface.MAX_CONFIG_BYTES", 64)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "x" * 100}))
    result = build_aibom(tmp_path, scan=False)
    assert any("larger than 64 bytes" in n for n in result.notes)


def test_remote_code_is_flagged(tmp_path: Path) -> None:
    config = {"model_type": "custom", "auto_map": {"AutoModel": "modeling_custom.CustomModel"}}
    (tmp_path / "config.json").write_text(json.dumps(config))
    (tmp_path / "modeling_custom.py").write_text("print('hi')\n")
    doc = build_aibom(tmp_path, scan=False).to_dict()
    model = next(c for c in doc["components"] if c["type"] == "machine-learning-model")
    assert props(model, "anzhi:remote-code") == ["true"]


def test_model_card_parsing_edge_cases(tmp_path: Path) -> None:
    card = tmp_path / "README.md"
    card.write_text("No front matter here.\n\n## Limitations\n\n* one\n* two\n")
    info = read_model_card(card)
    assert info.licenses == ()
    assert info.limitations == ("one", "two")
    card.write_text("---\n---\n# Title\n")
    assert read_model_card(card).datasets == ()
    card.write_text("---\ndatasets: squad\nlicense: [mit, apache-2.0]\n")  # never closed: plain Markdown
    assert read_model_card(card).datasets == ()
    card.write_text("---\ndatasets: squad\nlicense: [mit, apache-2.0]\n---\n")
    info = read_model_card(card)
    assert info.datasets == ("squad",)
    assert info.licenses == ("mit", "apache-2.0")


def test_two_licences_are_listed(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("---\nlicense: [mit, apache-2.0]\n---\n")
    doc = build_aibom(tmp_path, scan=False).to_dict()
    validate(json.dumps(doc))
    model = next(c for c in doc["components"] if c["type"] == "machine-learning-model")
    assert sorted(lic["license"]["id"] for lic in model["licenses"]) == ["Apache-2.0", "MIT"]


def test_public_api_is_curated() -> None:
    exported = {name for name in dir(aibom_pkg) if not name.startswith("_")}
    assert set(aibom_pkg.__all__) == exported
    assert isinstance(AiBom.__doc__, str)


def test_with_the_real_scanner(tmp_path: Path) -> None:
    if ModelFormat.SAFETENSORS not in ANALYZERS:
        pytest.skip("the scanner has no safetensors analyser yet")
    root = make_hf_folder(tmp_path / "tiny")
    (root / "pytorch_model.bin").unlink()  # not a real pickle; leave only well-formed files
    result = build_aibom(root)
    doc = result.to_dict()
    validate(json.dumps(doc))
    weights = components(doc)["file:model.safetensors"]
    assert props(weights, "anzhi:format") == ["safetensors"]
    assert props(weights, "anzhi:verdict") == ["clean"]


def test_hostile_front_matter_is_bounded(tmp_path: Path) -> None:
    card = tmp_path / "README.md"
    laughs = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(20)
    )
    card.write_text(f"---\n{laughs}datasets: *u\nlicense: *u\n---\n")
    info = read_model_card(card)  # aliases are shared references: nothing is expanded
    assert info.datasets == ()
    card.write_text("---\nlicense: " + "[" * 50_000 + "]" * 50_000 + "\n---\n")
    with pytest.raises(MetadataFileError, match="front matter"):
        read_model_card(card)
    card.write_text("---\nlicense: !!python/object/apply:os.system [echo hi]\n---\n")
    with pytest.raises(MetadataFileError, match="not valid YAML"):
        read_model_card(card)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_any_card_text_parses_or_is_refused(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        card = Path(folder) / "README.md"
        card.write_text("---\n" + text + "\n---\n## Limitations\n- " + text, encoding="utf-8")
        try:
            info = read_model_card(card)
        except MetadataFileError:
            return
        assert len(info.datasets) <= 64


def test_real_scanner_verdicts_reach_the_bom(tmp_path: Path) -> None:
    root = tmp_path / "bundle"
    root.mkdir()
    with zipfile.ZipFile(root / "bundle.zip", "w") as archive:
        archive.writestr("../evil.txt", "harmless text")
        archive.writestr("ok/data.txt", "x")
    (root / "README.md").write_text("---\nlicense: mit\n---\n")
    result = build_aibom(root)  # the real scanner, in this process (a tiny input)
    assert result.verdict is Verdict.DANGEROUS
    doc = result.to_dict()
    validate(json.dumps(doc))
    archive_component = components(doc)["file:bundle.zip"]
    assert props(archive_component, "anzhi:format") == ["zip"]
    assert props(archive_component, "anzhi:verdict") == ["dangerous"]
    assert any(rule.startswith("MODEL-48") for rule in props(archive_component, "anzhi:rule"))
    assert {c["name"] for c in archive_component["components"]} == {"bundle.zip!../evil.txt", "bundle.zip!ok/data.txt"}
    assert props(components(doc)["model:bundle"], "anzhi:verdict") == ["dangerous"]


def gguf_bytes(strings: dict[str, str], uint32s: dict[str, int]) -> bytes:
    """A GGUF v3 file with metadata only (no tensors): magic, version, counts, then key/type/value records."""

    def text(value: str) -> bytes:
        raw = value.encode()
        return struct.pack("<Q", len(raw)) + raw

    records = [text(k) + struct.pack("<I", 8) + text(v) for k, v in strings.items()]
    records += [text(k) + struct.pack("<I", 4) + struct.pack("<I", v) for k, v in uint32s.items()]
    return b"GGUF" + struct.pack("<IQQ", 3, 0, len(records)) + b"".join(records)


def test_real_scanner_gguf_metadata_reaches_the_bom(tmp_path: Path) -> None:
    if ModelFormat.GGUF not in ANALYZERS:
        pytest.skip("the scanner has no GGUF analyser yet")
    path = tmp_path / "tiny.bin"  # named like anything: the format is told by content
    strings = {
        "general.architecture": "qwen2",
        "general.name": "Tiny Chat",
        "general.license": "apache-2.0",
        "tokenizer.chat_template": "{% for m in messages %}{{ m['content'] }}{% endfor %}",
    }
    path.write_bytes(gguf_bytes(strings, {"qwen2.context_length": 4096, "general.file_type": 15}))
    result = build_aibom(path)
    assert result.verdict is Verdict.CLEAN
    doc = result.to_dict()
    validate(json.dumps(doc))
    model = components(doc)["model:Tiny Chat"]
    assert model["licenses"] == [{"license": {"id": "Apache-2.0"}}]
    assert model["modelCard"] == {"modelParameters": {"architectureFamily": "qwen2"}}
    assert props(model, "anzhi:context-length") == ["4096"]
    assert props(model, "anzhi:quantization") == ["MOSTLY_Q4_K_M"]
    assert props(components(doc)["file:tiny.bin"], "anzhi:format") == ["gguf"]
