"""Lookups on the loaded taxonomy: risks, hierarchy, crosswalk, catalogs and requirements."""

from __future__ import annotations

import pytest

from anzhi.errors import InputError, UnknownIdError
from anzhi.taxonomy import Relation, Taxonomy, default_taxonomy


@pytest.fixture(scope="module")
def tax() -> Taxonomy:
    return default_taxonomy()


def test_risk_lookup(tax: Taxonomy) -> None:
    item = tax.risk("gbt45654.A4.f")
    assert (item.taxonomy, item.local_id, item.parent) == ("gbt45654", "A4.f", "gbt45654.A4")
    assert tax.has_risk("gbt45654.A4.f") and not tax.has_risk("gbt45654.A4.z")


def test_unknown_risk_suggests_close_match(tax: Taxonomy) -> None:
    with pytest.raises(UnknownIdError) as info:
        tax.risk("gbt45654.A1.x")
    err = info.value
    assert isinstance(err, InputError)
    assert err.kind == "taxonomy" and err.value == "gbt45654.A1.x"
    assert "did you mean" in str(err) and "gbt45654.A1." in str(err)


def test_unknown_risk_case_hint(tax: Taxonomy) -> None:
    with pytest.raises(UnknownIdError, match=r"'owasp-llm\.LLM01'.*case-sensitive"):
        tax.risk("OWASP-LLM.llm01")


def test_unknown_taxonomy_prefix_lists_known(tax: Taxonomy) -> None:
    with pytest.raises(UnknownIdError, match="known taxonomies"):
        tax.risk("zzzz.qqq")


def test_hierarchy(tax: Taxonomy) -> None:
    assert [c.id for c in tax.children("gbt45654.A5")] == ["gbt45654.A5.a", "gbt45654.A5.b"]
    assert tax.children("gbt45654.A5.a") == []
    assert [a.id for a in tax.ancestors("tc260v1.3.2.4.c")] == ["tc260v1.3.2.4", "tc260v1.3.2"]
    assert len(tax.descendants("tc260v1.3.1")) == 3 + 13
    with pytest.raises(UnknownIdError):
        tax.children("gbt45654.A9")


def test_related_is_symmetric(tax: Taxonomy) -> None:
    for link in tax.links:
        forward = tax.related(link.a)
        backward = tax.related(link.b)
        assert (link.b, link.relation) in forward
        assert (link.a, link.relation.inverse()) in backward


def test_related_examples(tax: Taxonomy) -> None:
    llm01 = dict(tax.related("owasp-llm.LLM01"))
    assert llm01["atlas.AML.T0051"] is Relation.EQUIVALENT
    assert llm01["atlas.AML.T0054"] is Relation.HAS_PART
    assert dict(tax.related("atlas.AML.T0054"))["owasp-llm.LLM01"] is Relation.PART_OF
    assert "owasp-asi.ASI04" in dict(tax.related("owasp-llm.LLM03"))
    assert "nist600-1.02" in dict(tax.related("gbt45654.A5.a"))
    assert "tc260v1.3.1.1.b" in dict(tax.related("gbt45654.A2"))
    assert "gb45438:implicit.metadata" in dict(tax.related("gbt45654:7.4.a"))
    assert tax.related("atlas.AML.TA0002") == []
    with pytest.raises(UnknownIdError):
        tax.related("owasp-llm.LLM11")
    with pytest.raises(UnknownIdError) as info:
        tax.related("gbt45654:99.z")
    assert info.value.kind == "requirement"


def test_relation_inverse() -> None:
    assert Relation.PART_OF.inverse() is Relation.HAS_PART
    assert Relation.HAS_PART.inverse() is Relation.PART_OF
    assert Relation.RELATED.inverse() is Relation.RELATED
    assert Relation.EQUIVALENT.inverse() is Relation.EQUIVALENT


def test_catalog_and_requirement(tax: Taxonomy) -> None:
    req = tax.requirement("gbt45654:9.4.a")
    assert req.ref == "gbt45654:9.4.a" and req.catalog == "gbt45654" and req.group == "9.4"
    assert tax.catalog("gbt45654").requirements["9.4.a"] is req
    with pytest.raises(UnknownIdError, match="did you mean 'gbt45654'") as info:
        tax.catalog("gbt4565")
    assert info.value.kind == "catalog"
    with pytest.raises(UnknownIdError, match=r"did you mean .*'gbt45654:9\.4\.a'"):
        tax.requirement("gbt45654:9.4.x")
    with pytest.raises(UnknownIdError, match="no catalog 'nope'"):
        tax.requirement("nope:1")
    with pytest.raises(UnknownIdError, match="<catalog>:<id>"):
        tax.requirement("9.4.a")


def test_requirements_for_check(tax: Taxonomy) -> None:
    refs = {r.ref for r in tax.requirements_for_check("eval.gbt45654")}
    assert {"gbt45654:9.3.a", "gbt45654:9.4.a", "gbt45654:9.4.b", "gbt45654:8.2.a"} <= refs
    assert "nist-ai-rmf:MEASURE-2.7" in {r.ref for r in tax.requirements_for_check("eval.redteam")}
    assert "gb45438:implicit.metadata" in {r.ref for r in tax.requirements_for_check("label.verify")}
    assert tax.requirements_for_check("no.such.check") == []


def test_requirements_for_risk(tax: Taxonomy) -> None:
    direct = {r.ref for r in tax.requirements_for_risk("gbt45654.A4.f")}
    assert {"gbt45654:5.2.d", "gbt45654:5.2.e"} <= direct
    assert "gbt45654:5.1.b" in direct  # names the class gbt45654.A4
    assert "nist-ai-rmf:MEASURE-2.10" not in direct
    related = {r.ref for r in tax.requirements_for_risk("gbt45654.A4.f", include_related=True)}
    assert "nist-ai-rmf:MEASURE-2.10" in related  # via nist600-1.04
    from_class = {r.ref for r in tax.requirements_for_risk("gbt45654.A1")}
    assert "gbt45654:8.1.b" in from_class
    with pytest.raises(UnknownIdError):
        tax.requirements_for_risk("gbt45654.Z")


def test_every_requirement_reference_resolves(tax: Taxonomy) -> None:
    for ref, req in tax.requirements.items():
        assert tax.requirement(ref) is req
        for risk_id in req.risks:
            assert tax.has_risk(risk_id)
