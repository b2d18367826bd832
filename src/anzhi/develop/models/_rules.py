"""The rule catalog of the model-file scanner: stable ids MODEL-4xx, each with severity, CWE and risk ids.

Ranges, one per family (a module registers its own rules with :func:`register_rules`):

| range | family |
|---|---|
| MODEL-400–419 | pickle opcode analysis |
| MODEL-420–429 | PyTorch, NumPy, joblib containers of pickles |
| MODEL-430–439 | Keras 3 and legacy HDF5 |
| MODEL-440–449 | TensorFlow SavedModel |
| MODEL-450–459 | ONNX |
| MODEL-460–469 | GGUF and its chat template |
| MODEL-470–479 | safetensors |
| MODEL-480–489 | zip / tar containers |
| MODEL-490–499 | the scan itself: unreadable, unknown format, limits |
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from anzhi.develop.models._result import Reason, Verdict
from anzhi.findings import Confidence, Severity

__all__ = ["RULES", "Rule", "get_rule", "register_rules"]

#: Risk ids every model-file finding maps to (first is primary): supply chain in OWASP LLM 2025, ATLAS and TC260.
SUPPLY_CHAIN_TAXONOMY: tuple[str, ...] = ("owasp-llm.LLM03", "atlas.AML.T0010", "tc260v1.3.1.3.c")

_ID = re.compile(r"^MODEL-4\d\d$")


@dataclass(frozen=True)
class Rule:
    """One rule: what it means, how bad, and what to do instead.

    ``title`` is the short name; ``doc`` explains the risk and the safe alternative (it doubles as the rule's
    documentation page); ``verdict`` is what the rule makes of a file when it fires.
    """

    id: str
    title: str
    severity: Severity
    confidence: Confidence
    verdict: Verdict
    doc: str
    cwe: str | None = "CWE-502"
    taxonomy_ids: tuple[str, ...] = SUPPLY_CHAIN_TAXONOMY
    added_in: str = "0.1.0"
    tags: tuple[str, ...] = field(default=())

    def reason(self, message: str, *, location: str = "", detail: dict[str, Any] | None = None,
               severity: Severity | None = None, confidence: Confidence | None = None) -> Reason:
        """An instance of this rule firing (severity and confidence may be adjusted per case)."""
        return Reason(
            rule_id=self.id, message=message, severity=severity or self.severity,
            confidence=confidence or self.confidence, verdict=self.verdict, location=location,
            detail=dict(detail or {}),
        )


RULES: dict[str, Rule] = {}


def register_rules(*rules: Rule) -> None:
    """Add rules to the catalog; ids must be MODEL-4xx and unique."""
    for rule in rules:
        if not _ID.match(rule.id):
            raise ValueError(f"rule id {rule.id!r} must look like MODEL-4xx")
        if rule.id in RULES and RULES[rule.id] != rule:
            raise ValueError(f"rule {rule.id} registered twice with different definitions")
        if not rule.doc.strip():
            raise ValueError(f"rule {rule.id} needs a doc string")
        RULES[rule.id] = rule


def get_rule(rule_id: str) -> Rule:
    """A registered rule, or KeyError naming the known ids."""
    try:
        return RULES[rule_id]
    except KeyError:
        raise KeyError(f"unknown rule {rule_id!r}; known: {', '.join(sorted(RULES))}") from None


# The scan itself (MODEL-490–499): used by the scanner core for every format.
UNREADABLE = Rule(
    "MODEL-490", "file cannot be read", Severity.LOW, Confidence.HIGH, Verdict.INVALID,
    "The file could not be opened or read (permissions, I/O error, a broken link). Nothing about its content "
    "is known; fix access and scan again.", cwe=None,
)
UNKNOWN_FORMAT = Rule(
    "MODEL-491", "not a model format anzhi knows", Severity.INFO, Confidence.HIGH, Verdict.INVALID,
    "The content matches none of the model formats anzhi parses (it decides by magic bytes and structure, not "
    "by file name). A file named like a model that is not one deserves a look.", cwe=None,
)
MALFORMED = Rule(
    "MODEL-492", "malformed or truncated file", Severity.LOW, Confidence.HIGH, Verdict.INVALID,
    "The file starts like a known format but does not parse to the end: truncated, corrupted, or crafted to "
    "confuse parsers. Loaders may behave unpredictably on it; get a clean copy.", cwe="CWE-20",
)
LIMIT_REACHED = Rule(
    "MODEL-493", "scan limit reached", Severity.MEDIUM, Confidence.MEDIUM, Verdict.REVIEW,
    "The scan stopped at a configured limit (bytes, opcodes, members, nesting depth or time) before it saw the "
    "whole file, so the rest is unchecked. Resource bombs look like this; raise the limit only for files you "
    "trust.", cwe="CWE-400",
)
SYMLINK = Rule(
    "MODEL-494", "symbolic link not followed", Severity.INFO, Confidence.HIGH, Verdict.REVIEW,
    "A symbolic link inside the scanned tree was not followed (it may loop or point outside the model). Scan "
    "its target explicitly if it belongs to the model.", cwe="CWE-59",
)

register_rules(UNREADABLE, UNKNOWN_FORMAT, MALFORMED, LIMIT_REACHED, SYMLINK)
