"""How format analysers plug in: ``@analyzer(ModelFormat.X)`` and the context they run in."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from anzhi.develop.models._result import FileResult, ModelFormat, Reason
from anzhi.develop.models._source import ScanLimits, Source

__all__ = ["ANALYZERS", "Analysis", "Analyzer", "ScanContext", "analyzer"]


@dataclass
class Analysis:
    """What an analyser found in one source: reasons, nested members (containers) and metadata for the AI-BOM.

    ``metadata`` holds facts a bill of materials wants (architecture, parameter count, tensor names, dtype,
    the GGUF general.* keys, licence), JSON-able and small.
    """

    reasons: list[Reason] = field(default_factory=list)
    members: list[FileResult] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    format: ModelFormat | None = None  # set when the analyser refines the detected format


@dataclass
class ScanContext:
    """Limits, nesting depth and a way to scan an embedded file with the full scanner.

    ``scan_member(source, hint)`` detects the member's format by content and dispatches it like a top-level
    file (``hint`` lets a container say what it expects, e.g. a pickle inside a PyTorch zip); it returns the
    member's :class:`FileResult` and honours ``max_depth``.
    """

    limits: ScanLimits
    depth: int = 0
    deadline: float = field(default_factory=lambda: time.monotonic() + ScanLimits().seconds_per_file)
    scan_member: Callable[[Source, ModelFormat | None], FileResult] | None = None

    def out_of_time(self) -> bool:
        """True once the per-file time budget is spent."""
        return time.monotonic() > self.deadline


Analyzer = Callable[[Source, ScanContext], Analysis]

ANALYZERS: dict[ModelFormat, Analyzer] = {}


def analyzer(fmt: ModelFormat) -> Callable[[Analyzer], Analyzer]:
    """Register the analyser of one format (one per format)."""

    def register(fn: Analyzer) -> Analyzer:
        if fmt in ANALYZERS and ANALYZERS[fmt] is not fn:
            raise TypeError(f"format {fmt.value} already has an analyser: {ANALYZERS[fmt].__qualname__}")
        if not callable(fn):
            raise TypeError(f"analyser for {fmt.value} is not callable")
        ANALYZERS[fmt] = fn
        return fn

    return register
