"""What a model-file scan returns: a verdict per file, the reasons behind it, and findings for the platform."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from anzhi.findings import Confidence, Severity

__all__ = ["FileResult", "ModelFormat", "Reason", "ScanReport", "Verdict", "worst_verdict"]


class Verdict(StrEnum):
    """The answer for one file.

    ``dangerous``: loading it can run code or touch files/network. ``review``: something we cannot vouch for
    (an unknown global, an unusual operator domain). ``invalid``: not a well-formed file of a format we know,
    or not readable. ``clean``: parsed, and nothing of concern.
    """

    DANGEROUS = "dangerous"
    INVALID = "invalid"
    REVIEW = "review"
    CLEAN = "clean"


_PRECEDENCE = {Verdict.DANGEROUS: 3, Verdict.INVALID: 2, Verdict.REVIEW: 1, Verdict.CLEAN: 0}


def worst_verdict(verdicts: list[Verdict] | tuple[Verdict, ...]) -> Verdict:
    """Dangerous > invalid > review > clean."""
    return max(verdicts, key=_PRECEDENCE.__getitem__, default=Verdict.CLEAN)


class ModelFormat(StrEnum):
    """Formats told apart by content, never by file name."""

    PICKLE = "pickle"
    PYTORCH_ZIP = "pytorch-zip"
    PYTORCH_LEGACY = "pytorch-legacy"
    NUMPY = "numpy-npy"
    NUMPY_NPZ = "numpy-npz"
    JOBLIB = "joblib"
    KERAS = "keras-v3"
    HDF5 = "hdf5"
    SAVEDMODEL = "tf-savedmodel"
    ONNX = "onnx"
    GGUF = "gguf"
    SAFETENSORS = "safetensors"
    ZIP = "zip"
    TAR = "tar"
    SEVEN_ZIP = "7z"
    DIRECTORY = "directory"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Reason:
    """One thing a scanner found in a file: a rule that fired, where, and why.

    ``location`` says where inside the file (``offset 118``, ``member archive/data.pkl``, ``layer lambda_1``);
    ``detail`` is small JSON-able context (the global ``posix.system``, the op ``ReadFile``), never file data.
    """

    rule_id: str
    message: str
    severity: Severity
    confidence: Confidence
    verdict: Verdict
    location: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class FileResult:
    """The verdict for one file (or archive member, ``archive.zip!member``) and the reasons behind it."""

    path: str
    format: ModelFormat
    size: int
    reasons: list[Reason] = field(default_factory=list)
    sha256: str | None = None
    elapsed_ms: float = 0.0
    members: list[FileResult] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def verdict(self) -> Verdict:
        """The worst of its own reasons and its members' verdicts."""
        return worst_verdict([r.verdict for r in self.reasons] + [m.verdict for m in self.members])

    def walk(self) -> list[FileResult]:
        """This result and every nested member result, depth first."""
        out = [self]
        for member in self.members:
            out.extend(member.walk())
        return out


@dataclass
class ScanReport:
    """Everything one ``scan`` call produced."""

    results: list[FileResult] = field(default_factory=list)
    started_at: str = ""
    elapsed_s: float = 0.0
    scanner_version: str = ""

    def counts(self) -> dict[str, int]:
        """Top-level files by verdict."""
        out = {v.value: 0 for v in Verdict}
        for result in self.results:
            out[result.verdict.value] += 1
        return out
