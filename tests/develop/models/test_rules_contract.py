"""Contract over every registered rule and analyser, and over the package's public names."""

from __future__ import annotations

import inspect
import re
import types

import pytest

import anzhi.develop.models as models
from anzhi.develop.models import ANALYZERS, RULES, ModelFormat, Rule, Verdict, get_rule
from anzhi.findings import Confidence, Severity
from anzhi.taxonomy import default_taxonomy

ALL_RULES = sorted(RULES.values(), key=lambda rule: rule.id)
FAMILIES = {  # the ranges of the catalog in _rules.py
    range(400, 420): "pickle", range(420, 430): "pickle containers", range(430, 440): "keras/hdf5",
    range(440, 450): "savedmodel", range(450, 460): "onnx", range(460, 470): "gguf", range(470, 480): "safetensors",
    range(480, 490): "zip/tar", range(490, 500): "scan",
}


def test_catalog_is_populated() -> None:
    assert len(ALL_RULES) >= 15
    for family_range in FAMILIES:
        assert any(int(rule.id[6:]) in family_range for rule in ALL_RULES), FAMILIES[family_range]


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda rule: rule.id)
def test_rule_contract(rule: Rule) -> None:
    assert re.fullmatch(r"MODEL-4\d\d", rule.id)
    assert RULES[rule.id] is rule and get_rule(rule.id) is rule
    assert rule.title.strip() and len(rule.title) <= 80 and not rule.title.endswith(".")
    assert len(rule.doc.strip()) >= 60, "the doc is the rule's documentation page: say the risk and what to do"
    assert isinstance(rule.severity, Severity)
    assert isinstance(rule.confidence, Confidence)
    assert isinstance(rule.verdict, Verdict)
    assert rule.cwe is None or re.fullmatch(r"CWE-\d+", rule.cwe)
    assert re.fullmatch(r"\d+\.\d+\.\d+", rule.added_in)
    taxonomy = default_taxonomy()
    assert rule.taxonomy_ids, "a finding must map to at least one risk"
    for taxonomy_id in rule.taxonomy_ids:
        assert taxonomy.has_risk(taxonomy_id), taxonomy_id
    reason = rule.reason("example")
    assert (reason.rule_id, reason.severity, reason.confidence, reason.verdict) == (
        rule.id, rule.severity, rule.confidence, rule.verdict)


def test_unknown_rule_lookup_names_the_known_ids() -> None:
    with pytest.raises(KeyError, match="MODEL-490"):
        get_rule("MODEL-999")


@pytest.mark.parametrize("fmt", [f for f in ModelFormat if f not in (ModelFormat.DIRECTORY, ModelFormat.UNKNOWN)],
                         ids=str)
def test_every_format_has_an_analyser(fmt: ModelFormat) -> None:
    analyser = ANALYZERS.get(fmt)
    assert analyser is not None, f"no analyser registered for {fmt.value}"
    parameters = list(inspect.signature(analyser).parameters)
    assert len(parameters) == 2, f"{analyser.__qualname__} must take (source, ctx)"
    assert inspect.getdoc(analyser), f"{analyser.__qualname__} needs a docstring"


def test_public_names_are_exactly_all() -> None:
    public = {name for name, value in vars(models).items()
              if not name.startswith("_") and not isinstance(value, types.ModuleType)}
    assert set(models.__all__) == public
    assert models.__all__ == sorted(models.__all__, key=lambda n: (not n.isupper(), not n[0].isupper(), n))
