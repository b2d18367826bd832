"""The CycloneDX 1.6 model card of the model component, and the facts it is built from.

cyclonedx-python-lib (11.x) has no model-card or component-data classes yet (they are TODOs in its
``Component``), so this module keeps them as typed dataclasses and renders the exact CycloneDX 1.6 JSON; the
document writer puts that JSON into the serialised BOM.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from anzhi.develop.aibom._huggingface import Metric

__all__ = ["DatasetRef", "ModelCard", "task_from_architecture"]

#: Transformers class-name suffixes and the Hugging Face task they imply (only unambiguous ones).
_TASK_BY_SUFFIX = (
    ("ForCausalLM", "text-generation"),
    ("LMHeadModel", "text-generation"),
    ("ForSequenceClassification", "text-classification"),
    ("ForTokenClassification", "token-classification"),
    ("ForQuestionAnswering", "question-answering"),
    ("ForMaskedLM", "fill-mask"),
    ("ForImageClassification", "image-classification"),
    ("ForObjectDetection", "object-detection"),
    ("ForSemanticSegmentation", "image-segmentation"),
    ("ForAudioClassification", "audio-classification"),
    ("ForCTC", "automatic-speech-recognition"),
)
_REF_UNSAFE = re.compile(r"[^A-Za-z0-9._/@+-]")


def task_from_architecture(architecture: str | None) -> str | None:
    """The task a Transformers class name implies (``LlamaForCausalLM`` → ``text-generation``), if unambiguous."""
    if not architecture:
        return None
    return next((task for suffix, task in _TASK_BY_SUFFIX if architecture.endswith(suffix)), None)


@dataclass(frozen=True)
class DatasetRef:
    """A dataset named by the model card, listed as a ``data`` component and referenced from the model card."""

    name: str

    @property
    def bom_ref(self) -> str:
        """The ``bom-ref`` of the dataset's component."""
        return "dataset:" + _REF_UNSAFE.sub("_", self.name)

    @property
    def hub_url(self) -> str | None:
        """The Hugging Face Hub page, when the name has the shape of a Hub dataset id (``org/name`` or ``name``)."""
        if re.fullmatch(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?", self.name):
            return f"https://huggingface.co/datasets/{self.name}"
        return None

    def component_data(self) -> list[dict[str, Any]]:
        """The component's CycloneDX 1.6 ``data`` array."""
        return [{"type": "dataset", "name": self.name}]


@dataclass(frozen=True)
class ModelCard:
    """What is known of the model's construction, evaluation and intended use.

    Only facts read from the folder are filled in; nothing is guessed (the learning ``approach``, for one, is
    left out because no Hugging Face file states it).
    """

    architecture_family: str | None = None
    model_architecture: str | None = None
    task: str | None = None
    datasets: tuple[DatasetRef, ...] = ()
    metrics: tuple[Metric, ...] = ()
    use_cases: tuple[str, ...] = ()
    limitations: tuple[str, ...] = ()

    def to_cyclonedx(self) -> dict[str, Any]:
        """The CycloneDX 1.6 ``modelCard`` object (JSON-ready; empty sections are left out)."""
        parameters: dict[str, Any] = {}
        if self.task:
            parameters["task"] = self.task
        if self.architecture_family:
            parameters["architectureFamily"] = self.architecture_family
        if self.model_architecture:
            parameters["modelArchitecture"] = self.model_architecture
        if self.datasets:
            parameters["datasets"] = [{"ref": dataset.bom_ref} for dataset in self.datasets]
        card: dict[str, Any] = {}
        if parameters:
            card["modelParameters"] = parameters
        if self.metrics:
            metrics = []
            for metric in self.metrics:
                entry = {"type": metric.type, "value": metric.value}
                if metric.slice:
                    entry["slice"] = metric.slice
                metrics.append(entry)
            card["quantitativeAnalysis"] = {"performanceMetrics": metrics}
        considerations: dict[str, Any] = {}
        if self.use_cases:
            considerations["useCases"] = list(self.use_cases)
        if self.limitations:
            considerations["technicalLimitations"] = list(self.limitations)
        if considerations:
            card["considerations"] = considerations
        return card
