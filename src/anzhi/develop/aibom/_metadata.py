"""Model facts from the scanner's per-file metadata (GGUF ``general.*`` keys, parameter counts).

The analysers fill ``FileResult.metadata`` with small JSON-able facts. This module reads the ones a bill of
materials needs (the GGUF analyser's ``name``, ``architecture``, ``license``, ``file_type``, ``context_length``;
every analyser's ``parameter_count``) and turns the rest into short ``anzhi:meta:*`` property values.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from anzhi.develop.models import FileResult, ModelFormat

__all__ = ["ModelFacts", "metadata_properties", "model_facts"]

#: Where analysers put the parameter count (GGUF and ONNX: ``parameter_count``; other spellings tolerated).
_PARAMETER_KEYS = ("parameter_count", "parameters", "num_parameters", "total_parameters")
_SHARD = re.compile(r"-\d{3,5}-of-\d{3,5}(?=\.)")
MAX_META_PROPERTIES = 32
MAX_META_VALUE = 256


def _lookup(metadata: Mapping[str, Any], *keys: str) -> Any:
    """The first of ``keys`` at the top level, else one level down (in a nested mapping)."""
    for key in keys:
        if key in metadata and metadata[key] is not None:
            return metadata[key]
    for value in metadata.values():
        if isinstance(value, Mapping):
            for key in keys:
                if key in value and value[key] is not None:
                    return value[key]
    return None


def _gguf(metadata: Mapping[str, Any], key: str) -> Any:
    """A GGUF ``general.*`` fact as the GGUF analyser records it (``name``, or ``general: {name: ...}``)."""
    value = metadata.get(key)
    general = metadata.get("general")
    if value is None and isinstance(general, Mapping):
        value = general.get(key.replace("_", "."))
    return value


def _text(value: object) -> str | None:
    if value is None or isinstance(value, bool | dict | list):
        return None
    text = str(value).strip()
    return text[:200] or None


def _count(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value > 0:
        return value
    if isinstance(value, float) and value > 0 and value.is_integer():
        return int(value)
    return None


@dataclass(frozen=True)
class ModelFacts:
    """What the scanned files say about the model as a whole."""

    name: str | None = None
    version: str | None = None
    architecture: str | None = None
    license: str | None = None
    license_link: str | None = None
    parameters: int | None = None
    quantization: str | None = None
    context_length: int | None = None


def _parameters(results: list[FileResult]) -> int | None:
    """Parameters of the largest copy of the weights: shards (``-00001-of-00004``) add up, variants do not."""
    shard_groups: dict[str, int] = {}
    singles: list[int] = []
    for result in results:
        count = _count(_lookup(result.metadata, *_PARAMETER_KEYS))
        if count is None:
            continue
        if _SHARD.search(result.path):
            group = _SHARD.sub("", result.path)
            shard_groups[group] = shard_groups.get(group, 0) + count
        else:
            singles.append(count)
    return max([*shard_groups.values(), *singles], default=None)


def model_facts(results: list[FileResult]) -> ModelFacts:
    """Combine the per-file metadata of a model's files into model-level facts (the first GGUF file that says)."""
    gguf = [r.metadata for r in results if r.format is ModelFormat.GGUF]

    def first(key: str) -> Any:
        return next((v for meta in gguf if (v := _gguf(meta, key)) is not None), None)

    return ModelFacts(
        name=_text(first("name")),
        version=_text(first("version")),
        architecture=_text(first("architecture")),
        license=_text(first("license")),
        license_link=_text(first("license_link")),
        parameters=_parameters(results),
        quantization=_text(first("file_type")),
        context_length=_count(first("context_length")),
    )


def _flatten(metadata: Mapping[str, Any], prefix: str = "", depth: int = 0) -> Iterator[tuple[str, str]]:
    for key, value in metadata.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            if depth < 1:
                yield from _flatten(value, f"{name}.", depth + 1)
            continue
        if isinstance(value, list | tuple):
            if value and all(isinstance(item, str | int | float) and not isinstance(item, bool) for item in value):
                text = ", ".join(str(item) for item in value[:16]) + (", …" if len(value) > 16 else "")
            else:
                text = f"<{len(value)} items>"
        elif isinstance(value, str | int | float | bool):
            text = str(value).lower() if isinstance(value, bool) else str(value)
        else:
            continue
        if len(text) > MAX_META_VALUE:  # a chat template, a long description: say how long, not what
            text = f"<{len(text)} characters>"
        if text:
            yield name, text


def metadata_properties(metadata: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Up to :data:`MAX_META_PROPERTIES` ``(anzhi:meta:<key>, value)`` pairs, long values summarised."""
    out: list[tuple[str, str]] = []
    for key, text in _flatten(metadata):
        if len(out) >= MAX_META_PROPERTIES:
            break
        out.append((f"anzhi:meta:{key}", text))
    return out
