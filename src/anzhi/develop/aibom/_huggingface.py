"""Read what a Hugging Face-style model folder says about itself: ``config.json``, the shard index, the model card.

Everything here only parses text (JSON, YAML with ``safe_load``, Markdown headings); nothing is imported or run.
Every read is bounded, and every list taken from a file is capped, so a hostile folder cannot exhaust memory.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from anzhi.errors import InputError

__all__ = [
    "MAX_CARD_BYTES",
    "MAX_CONFIG_BYTES",
    "CardInfo",
    "ConfigInfo",
    "MetadataFileError",
    "Metric",
    "read_config",
    "read_model_card",
    "read_shard_index",
    "split_front_matter",
]

MAX_CONFIG_BYTES = 4 * 1024 * 1024
MAX_CARD_BYTES = 1024 * 1024
MAX_FRONT_MATTER_BYTES = 256 * 1024
MAX_ITEMS = 64  # datasets, tags, metrics, section entries kept from one card
MAX_TEXT = 500  # characters kept of one free-text entry

#: config.json keys worth a property on the model component (sizes, context, precision, quantisation).
CONFIG_KEYS = (
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "intermediate_size",
    "vocab_size",
    "max_position_embeddings",
    "torch_dtype",
    "transformers_version",
    "n_embd",
    "n_layer",
    "n_head",
    "d_model",
)
_PARAMETER_KEYS = ("num_parameters", "n_parameters", "num_params", "n_params", "parameter_count")
_PLACEHOLDER = re.compile(r"\[more information needed\]", re.IGNORECASE)
_EXCLUDED_HEADINGS = ("out-of-scope", "out of scope", "misuse")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


class MetadataFileError(InputError):
    """A model's metadata file (config.json, model card, shard index) is too large, not UTF-8, or malformed."""


@dataclass(frozen=True)
class ConfigInfo:
    """The parts of a ``config.json`` a bill of materials uses."""

    model_type: str | None = None
    architectures: tuple[str, ...] = ()
    name_or_path: str | None = None
    parameters: int | None = None
    properties: dict[str, str] = field(default_factory=dict)
    quantization: str | None = None
    remote_code: bool = False  # ``auto_map``: loading needs trust_remote_code, i.e. runs the folder's .py files


@dataclass(frozen=True)
class Metric:
    """One reported evaluation result (``model-index`` in a card)."""

    type: str
    value: str
    slice: str | None = None


@dataclass(frozen=True)
class CardInfo:
    """The parts of a Hugging Face model card (``README.md``) a bill of materials uses."""

    name: str | None = None
    licenses: tuple[str, ...] = ()
    license_name: str | None = None
    license_link: str | None = None
    datasets: tuple[str, ...] = ()
    task: str | None = None
    tags: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    base_models: tuple[str, ...] = ()
    library: str | None = None
    metrics: tuple[Metric, ...] = ()
    use_cases: tuple[str, ...] = ()
    limitations: tuple[str, ...] = ()


def _read_text(path: Path, limit: int) -> str:
    with path.open("rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise MetadataFileError(f"{path.name}: larger than {limit} bytes, not read")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MetadataFileError(f"{path.name}: not UTF-8 text ({exc.reason})") from None


def _read_json_object(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(_read_text(path, MAX_CONFIG_BYTES))
    except (json.JSONDecodeError, RecursionError) as exc:
        raise MetadataFileError(f"{path.name}: not valid JSON ({exc})") from None
    if not isinstance(document, dict):
        raise MetadataFileError(f"{path.name}: not a JSON object")
    return document


def _text(value: object, limit: int = MAX_TEXT) -> str | None:
    if isinstance(value, bool) or value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    if not text:
        return None
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _strings(value: object) -> tuple[str, ...]:
    """A string or a list of strings as a capped tuple; anything else is ignored."""
    items = value if isinstance(value, list) else [value]
    out: list[str] = []
    for item in items[:MAX_ITEMS]:
        text = _text(item, 200)
        if text is not None and text not in out:
            out.append(text)
    return tuple(out)


def _count(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value > 0:
        return value
    if isinstance(value, float) and value > 0 and value.is_integer():
        return int(value)
    return None


def read_config(path: Path) -> ConfigInfo:
    """Parse a Transformers-style ``config.json``.

    Raises:
        MetadataFileError: the file is too large, not UTF-8 or not a JSON object.
    """
    config = _read_json_object(path)
    properties: dict[str, str] = {}
    for key in CONFIG_KEYS:
        text = _text(config.get(key), 100)
        if text is not None:
            properties[key] = text
    quant = config.get("quantization_config")
    quantization = _text(quant.get("quant_method"), 100) if isinstance(quant, dict) else None
    parameters = next((n for key in _PARAMETER_KEYS if (n := _count(config.get(key))) is not None), None)
    return ConfigInfo(
        model_type=_text(config.get("model_type"), 100),
        architectures=_strings(config.get("architectures")),
        name_or_path=_text(config.get("_name_or_path"), 200),
        parameters=parameters,
        properties=properties,
        quantization=quantization,
        remote_code=isinstance(config.get("auto_map"), dict),
    )


def read_shard_index(path: Path) -> int | None:
    """The total tensor bytes that a ``*.safetensors.index.json`` declares (``metadata.total_size``).

    Raises:
        MetadataFileError: the file is too large, not UTF-8 or not a JSON object.
    """
    metadata = _read_json_object(path).get("metadata")
    return _count(metadata.get("total_size")) if isinstance(metadata, dict) else None


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """Split a model card into its YAML front matter (between ``---`` lines) and the Markdown body.

    Raises:
        MetadataFileError: the front matter is too large or not a YAML mapping.
    """
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        return {}, text
    for index, line in enumerate(lines[1:], start=1):
        if line.strip() == "---":
            front = "".join(lines[1:index])
            if len(front.encode()) > MAX_FRONT_MATTER_BYTES:
                raise MetadataFileError(f"model card front matter larger than {MAX_FRONT_MATTER_BYTES} bytes")
            try:
                data = yaml.safe_load(front)
            except yaml.YAMLError as exc:
                raise MetadataFileError(f"model card front matter is not valid YAML ({exc})") from None
            except RecursionError:
                raise MetadataFileError("model card front matter is nested too deeply") from None
            if data is None:
                return {}, "".join(lines[index + 1 :])
            if not isinstance(data, dict):
                raise MetadataFileError("model card front matter is not a YAML mapping")
            return data, "".join(lines[index + 1 :])
    return {}, text  # an opening line with no closing one: plain Markdown


def _metrics(model_index: object) -> tuple[str | None, tuple[Metric, ...]]:
    """The model name and the reported metrics from ``model-index``."""
    if not isinstance(model_index, list) or not model_index or not isinstance(model_index[0], dict):
        return None, ()
    entry = model_index[0]
    out: list[Metric] = []
    results = entry.get("results")
    for result in results[:MAX_ITEMS] if isinstance(results, list) else []:
        if not isinstance(result, dict) or not isinstance(result.get("metrics"), list):
            continue
        dataset = result.get("dataset")
        slice_ = _text(dataset.get("name") or dataset.get("type"), 200) if isinstance(dataset, dict) else None
        for metric in result["metrics"][:MAX_ITEMS]:
            if not isinstance(metric, dict):
                continue
            kind, value = _text(metric.get("type") or metric.get("name"), 100), _text(metric.get("value"), 100)
            if kind is not None and value is not None and len(out) < MAX_ITEMS:
                out.append(Metric(type=kind, value=value, slice=slice_))
    return _text(entry.get("name"), 200), tuple(out)


def _sections(body: str, *keywords: str) -> tuple[str, ...]:
    """Bullet items (or paragraphs) under Markdown headings that contain one of ``keywords``.

    A heading's content is taken when its title names a keyword, or when an enclosing heading did; a heading
    about misuse or out-of-scope use is never taken, nor anything under it.
    """
    entries: list[str] = []
    paragraph: list[str] = []
    open_headings: list[tuple[int, bool]] = []  # (level, taken) of the headings enclosing the current line

    def flush() -> None:
        text = _text(" ".join(paragraph))
        paragraph.clear()
        if text is not None and not _PLACEHOLDER.fullmatch(text) and len(entries) < MAX_ITEMS:
            entries.append(text)

    for line in body.splitlines():
        heading = _HEADING.match(line)
        if heading:
            flush()
            level, title = len(heading.group(1)), heading.group(2).lower()
            while open_headings and open_headings[-1][0] >= level:
                open_headings.pop()
            inherited = bool(open_headings) and open_headings[-1][1]
            excluded = any(word in title for word in _EXCLUDED_HEADINGS)
            open_headings.append((level, not excluded and (inherited or any(word in title for word in keywords))))
            continue
        if not open_headings or not open_headings[-1][1]:
            continue
        stripped = line.strip()
        if stripped.startswith(("- ", "* ", "+ ")):
            flush()
            paragraph.append(stripped[2:])
            flush()
        elif stripped:
            paragraph.append(stripped)
        else:
            flush()
    flush()
    return tuple(entries)


def read_model_card(path: Path) -> CardInfo:
    """Parse a Hugging Face model card: YAML front matter plus a few Markdown sections.

    Raises:
        MetadataFileError: the file is too large, not UTF-8, or its front matter is not a YAML mapping.
    """
    front, body = split_front_matter(_read_text(path, MAX_CARD_BYTES))
    name, metrics = _metrics(front.get("model-index"))
    return CardInfo(
        name=name or _text(front.get("model_name"), 200),
        licenses=_strings(front.get("license")),
        license_name=_text(front.get("license_name"), 200),
        license_link=_text(front.get("license_link"), 1000),
        datasets=_strings(front.get("datasets")),
        task=_text(front.get("pipeline_tag"), 100),
        tags=_strings(front.get("tags")),
        languages=_strings(front.get("language")),
        base_models=_strings(front.get("base_model")),
        library=_text(front.get("library_name"), 100),
        metrics=metrics,
        use_cases=_sections(body, "intended use", "direct use", "uses"),
        limitations=_sections(body, "limitation"),
    )
