"""The AI-BOM (开发侧): a CycloneDX 1.6 ML-BOM of a model folder or model file.

:func:`build_aibom` lists the model as a ``machine-learning-model`` component with its CycloneDX model card
(architecture, task, datasets, reported metrics, use cases and limitations), every file as a ``file``
component with its SHA-256, size, detected format and scan verdict, and the training datasets the model card
names as ``data`` components. Facts come from ``config.json``, the Hugging Face model card (``README.md``
front matter), the shard index and the scanner's metadata (GGUF ``general.*``, safetensors headers).
Nothing in the folder is imported, loaded or run. :func:`write_aibom` writes the JSON document.
"""

from anzhi.develop.aibom._builder import build_aibom
from anzhi.develop.aibom._document import SPEC_VERSION, AiBom, write_aibom
from anzhi.develop.aibom._huggingface import (
    CardInfo,
    ConfigInfo,
    MetadataFileError,
    Metric,
    read_config,
    read_model_card,
)
from anzhi.develop.aibom._modelcard import DatasetRef, ModelCard

__all__ = [
    "SPEC_VERSION",
    "AiBom",
    "CardInfo",
    "ConfigInfo",
    "DatasetRef",
    "MetadataFileError",
    "Metric",
    "ModelCard",
    "build_aibom",
    "read_config",
    "read_model_card",
    "write_aibom",
]
