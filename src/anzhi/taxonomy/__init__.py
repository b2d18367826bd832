"""Standards as data: risk taxonomies, requirement catalogs and crosswalks, with a validating loader.

The YAML files under ``data/`` name every risk and requirement anzhi knows, each with a stable id and a
``status`` (confirmed / secondary / unconfirmed) that says how sure we are of the fact. Code refers to
those ids, never to a clause's text::

    from anzhi.taxonomy import default_taxonomy

    tax = default_taxonomy()
    tax.risk("gbt45654.A1.a").title_zh
    req = tax.requirement("gbt45654:9.4.a")
    req.threshold.evaluate({"should_refuse_refusal_rate": 0.97, "should_refuse_sample_size": 320}).met

Users add their own taxonomies, catalogs and crosswalks in the same format with
``load_taxonomy(extra_dirs=[Path("my-standards")])``. This package imports nothing of anzhi except
:mod:`anzhi.errors`.
"""

from ._loader import default_taxonomy, load_taxonomy
from ._models import (
    AttributeType,
    Catalog,
    CatalogGroup,
    CrosswalkInfo,
    CrosswalkLink,
    Relation,
    Requirement,
    RequirementKind,
    RiskItem,
    SourceStatus,
    TaxonomyInfo,
    Threshold,
    ThresholdOp,
    ThresholdOutcome,
    ThresholdResult,
    ThresholdUnit,
)
from ._taxonomy import Taxonomy

__all__ = [
    "AttributeType",
    "Catalog",
    "CatalogGroup",
    "CrosswalkInfo",
    "CrosswalkLink",
    "Relation",
    "Requirement",
    "RequirementKind",
    "RiskItem",
    "SourceStatus",
    "Taxonomy",
    "TaxonomyInfo",
    "Threshold",
    "ThresholdOp",
    "ThresholdOutcome",
    "ThresholdResult",
    "ThresholdUnit",
    "default_taxonomy",
    "load_taxonomy",
]
