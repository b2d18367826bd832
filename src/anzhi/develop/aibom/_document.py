"""The AI-BOM document: a cyclonedx-python-lib ``Bom`` plus the model card, written as CycloneDX 1.6 JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal, TextIO

from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component
from cyclonedx.output.json import JsonV1Dot6

from anzhi.develop.aibom._modelcard import DatasetRef, ModelCard
from anzhi.develop.models import FileResult, Verdict
from anzhi.errors import InputError

__all__ = ["SPEC_VERSION", "AiBom", "write_aibom"]

SPEC_VERSION = "1.6"


@dataclass(frozen=True)
class AiBom:
    """An ML-BOM for one model.

    cyclonedx-python-lib cannot yet hold a component's ``modelCard`` or ``data`` (CycloneDX 1.5+ fields it
    leaves as TODOs), so they travel here beside ``bom`` and :meth:`to_dict` / :func:`write_aibom` put them in
    place. Serialising ``bom`` with the library alone gives a valid BOM without them.

    Attributes:
        bom: components (the model, its files, its datasets), dependencies, tool, serial number, timestamp.
        model: the ``machine-learning-model`` component inside ``bom``.
        model_card: the model's CycloneDX model card.
        datasets: the datasets named by the model card (``data`` components inside ``bom``).
        results: the scanner's results for the files listed (``None`` when the model was not scanned).
        verdict: the worst verdict over the model's files, leaving out companions of no model format (a README
            the scanner calls "not a model format"); ``None`` when nothing was scanned.
        notes: what could not be read or listed, also recorded as ``anzhi:note`` properties of the model.
    """

    bom: Bom
    model: Component
    model_card: ModelCard
    datasets: tuple[DatasetRef, ...] = ()
    results: list[FileResult] | None = None
    verdict: Verdict | None = None
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The CycloneDX 1.6 JSON document as a ``dict``."""
        document: dict[str, Any] = json.loads(JsonV1Dot6(self.bom).output_as_string())
        model_ref = self.model.bom_ref.value
        data_by_ref = {d.bom_ref: d for d in self.datasets}
        card = self.model_card.to_cyclonedx()
        for component in document.get("components", []):
            ref = component.get("bom-ref")
            if ref == model_ref and card:
                component["modelCard"] = card
            elif ref in data_by_ref:
                component["data"] = data_by_ref[ref].component_data()
        return document

    def to_json(self, *, indent: int | None = 2) -> str:
        """The CycloneDX 1.6 JSON document as text (UTF-8 characters kept)."""
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)


def write_aibom(aibom: AiBom, stream: TextIO, format: Literal["json"] = "json") -> None:
    """Write the AI-BOM to a text stream as CycloneDX 1.6 JSON (followed by a newline).

    Raises:
        InputError: ``format`` is not ``json`` (the only format whose model card can be written today).
    """
    if format != "json":
        raise InputError(f"AI-BOM format {format!r} is not supported; use 'json' (CycloneDX {SPEC_VERSION})")
    stream.write(aibom.to_json())
    stream.write("\n")
