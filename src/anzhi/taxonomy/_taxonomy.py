"""The loaded, validated taxonomies, catalogs and crosswalks, with the lookups the rest of anzhi uses."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType

from anzhi.errors import UnknownIdError

from ._models import Catalog, CrosswalkInfo, CrosswalkLink, Relation, Requirement, RiskItem, TaxonomyInfo

__all__ = ["Taxonomy", "suggest"]


def suggest(value: str, candidates: Iterable[str]) -> str:
    """A hint naming the closest known ids to ``value`` (case-insensitive first), or ``""``."""
    pool = list(candidates)
    folded = {c.casefold(): c for c in pool}
    exact = folded.get(value.casefold())
    if exact is not None:
        return f"did you mean {exact!r}? (ids are case-sensitive)"
    close = difflib.get_close_matches(value, pool, n=3, cutoff=0.6)
    if not close:
        lowered = difflib.get_close_matches(value.casefold(), list(folded), n=3, cutoff=0.6)
        close = [folded[c] for c in lowered]
    if close:
        return "did you mean " + " or ".join(repr(c) for c in close) + "?"
    return ""


class Taxonomy:
    """Every loaded risk taxonomy, requirement catalog and crosswalk link.

    Build it with :func:`anzhi.taxonomy.load_taxonomy` (or the cached :func:`default_taxonomy`);
    the constructor trusts that its input was validated.
    """

    __slots__ = (
        "_by_check",
        "_by_risk",
        "_catalogs",
        "_children",
        "_crosswalks",
        "_links",
        "_related",
        "_requirements",
        "_risks",
        "_sources",
        "_taxonomies",
    )

    def __init__(
        self,
        *,
        taxonomies: Mapping[str, TaxonomyInfo],
        risks: Mapping[str, RiskItem],
        catalogs: Mapping[str, Catalog],
        crosswalks: Mapping[str, CrosswalkInfo],
        links: Sequence[CrosswalkLink],
        sources: Sequence[str] = (),
    ) -> None:
        self._taxonomies = MappingProxyType(dict(taxonomies))
        self._risks = MappingProxyType(dict(risks))
        self._catalogs = MappingProxyType(dict(catalogs))
        self._crosswalks = MappingProxyType(dict(crosswalks))
        self._links = tuple(links)
        self._sources = tuple(sources)
        children: dict[str, list[str]] = {}
        for item in self._risks.values():
            if item.parent is not None:
                children.setdefault(item.parent, []).append(item.id)
        self._children = children
        related: dict[str, list[tuple[str, Relation]]] = {}
        for link in self._links:
            related.setdefault(link.a, []).append((link.b, link.relation))
            related.setdefault(link.b, []).append((link.a, link.relation.inverse()))
        self._related = related
        requirements: dict[str, Requirement] = {}
        by_check: dict[str, list[Requirement]] = {}
        by_risk: dict[str, list[Requirement]] = {}
        for catalog in self._catalogs.values():
            for req in catalog.requirements.values():
                requirements[req.ref] = req
                for check in req.checks:
                    by_check.setdefault(check, []).append(req)
                for risk_id in req.risks:
                    by_risk.setdefault(risk_id, []).append(req)
        self._requirements = MappingProxyType(requirements)
        self._by_check = by_check
        self._by_risk = by_risk

    def __repr__(self) -> str:
        return (
            f"Taxonomy({len(self._taxonomies)} taxonomies, {len(self._risks)} risks, "
            f"{len(self._catalogs)} catalogs, {len(self._requirements)} requirements, "
            f"{len(self._links)} links)"
        )

    # -- collections ---------------------------------------------------------------------------------------

    @property
    def taxonomies(self) -> Mapping[str, TaxonomyInfo]:
        """Taxonomy headers by taxonomy id, in load order."""
        return self._taxonomies

    @property
    def risks(self) -> Mapping[str, RiskItem]:
        """Every risk item (classes included) by global id, in load order."""
        return self._risks

    @property
    def catalogs(self) -> Mapping[str, Catalog]:
        """Requirement catalogs by catalog id, in load order."""
        return self._catalogs

    @property
    def crosswalks(self) -> Mapping[str, CrosswalkInfo]:
        """Crosswalk headers by crosswalk id."""
        return self._crosswalks

    @property
    def links(self) -> tuple[CrosswalkLink, ...]:
        """Every crosswalk link, as written (``a <relation> b``)."""
        return self._links

    @property
    def requirements(self) -> Mapping[str, Requirement]:
        """Every requirement of every catalog by reference ``<catalog>:<id>``."""
        return self._requirements

    @property
    def sources(self) -> tuple[str, ...]:
        """The files this taxonomy was loaded from, in load order."""
        return self._sources

    @property
    def check_ids(self) -> frozenset[str]:
        """Every check id some requirement names as a source of evidence."""
        return frozenset(self._by_check)

    # -- risks ---------------------------------------------------------------------------------------------

    def has_risk(self, risk_id: str) -> bool:
        """Whether ``risk_id`` is a known risk (or class) id."""
        return risk_id in self._risks

    def risk(self, risk_id: str) -> RiskItem:
        """The risk item with this global id.

        Raises:
            UnknownIdError: ``kind="taxonomy"``, with the closest known ids as a hint.
        """
        try:
            return self._risks[risk_id]
        except KeyError:
            raise UnknownIdError("taxonomy", risk_id, self._risk_hint(risk_id)) from None

    def items(self, taxonomy_id: str) -> list[RiskItem]:
        """All items (classes and risks) of one taxonomy, in file order.

        Raises:
            UnknownIdError: when no taxonomy has that id.
        """
        if taxonomy_id not in self._taxonomies:
            hint = suggest(taxonomy_id, self._taxonomies) or "known: " + ", ".join(self._taxonomies)
            raise UnknownIdError("taxonomy", taxonomy_id, hint)
        return [item for item in self._risks.values() if item.taxonomy == taxonomy_id]

    def leaves(self, taxonomy_id: str) -> list[RiskItem]:
        """Items of one taxonomy that have no children (the risks proper, without their classes)."""
        return [item for item in self.items(taxonomy_id) if item.id not in self._children]

    def children(self, risk_id: str) -> list[RiskItem]:
        """Direct children of a risk or class, in load order."""
        self.risk(risk_id)
        return [self._risks[child] for child in self._children.get(risk_id, ())]

    def ancestors(self, risk_id: str) -> list[RiskItem]:
        """Parent, grandparent, … of a risk, nearest first."""
        chain: list[RiskItem] = []
        parent = self.risk(risk_id).parent
        while parent is not None:
            item = self._risks[parent]
            chain.append(item)
            parent = item.parent
        return chain

    def descendants(self, risk_id: str) -> list[RiskItem]:
        """Every item below a risk or class, depth first."""
        out: list[RiskItem] = []
        for child in self.children(risk_id):
            out.append(child)
            out.extend(self.descendants(child.id))
        return out

    def related(self, any_id: str) -> list[tuple[str, Relation]]:
        """Crosswalk neighbours of a risk id or requirement ref, both directions.

        A link ``a part_of b`` is seen from ``b`` as ``(a, has_part)``; other relations are symmetric.

        Raises:
            UnknownIdError: when ``any_id`` is neither a known risk id nor a known requirement ref.
        """
        if any_id not in self._risks and any_id not in self._requirements:
            if ":" in any_id:
                raise UnknownIdError("requirement", any_id, suggest(any_id, self._requirements))
            raise UnknownIdError("taxonomy", any_id, self._risk_hint(any_id))
        return list(self._related.get(any_id, ()))

    # -- catalogs ------------------------------------------------------------------------------------------

    def catalog(self, catalog_id: str) -> Catalog:
        """The catalog with this id.

        Raises:
            UnknownIdError: ``kind="catalog"``, with a hint.
        """
        try:
            return self._catalogs[catalog_id]
        except KeyError:
            hint = suggest(catalog_id, self._catalogs) or "known: " + ", ".join(self._catalogs)
            raise UnknownIdError("catalog", catalog_id, hint) from None

    def requirement(self, ref: str) -> Requirement:
        """The requirement with reference ``<catalog>:<id>``, e.g. ``gbt45654:9.4.a``.

        Raises:
            UnknownIdError: ``kind="requirement"``, with a hint.
        """
        try:
            return self._requirements[ref]
        except KeyError:
            pass
        if ":" not in ref:
            hint = "a requirement reference has the form '<catalog>:<id>'"
            close = suggest(ref, (r.split(":", 1)[1] for r in self._requirements))
            raise UnknownIdError("requirement", ref, f"{hint}; {close}" if close else hint)
        catalog_id = ref.split(":", 1)[0]
        if catalog_id not in self._catalogs:
            hint = suggest(catalog_id, self._catalogs) or "known catalogs: " + ", ".join(self._catalogs)
            raise UnknownIdError("requirement", ref, f"no catalog {catalog_id!r}; {hint}")
        raise UnknownIdError("requirement", ref, suggest(ref, self._requirements))

    def requirements_for_check(self, check_id: str) -> list[Requirement]:
        """Requirements that name ``check_id`` as a source of evidence (empty for an unknown check)."""
        return list(self._by_check.get(check_id, ()))

    def requirements_for_risk(self, risk_id: str, *, include_related: bool = False) -> list[Requirement]:
        """Requirements that address a risk, its classes above or its risks below.

        Args:
            risk_id: a known risk or class id.
            include_related: also follow one hop of crosswalk links to risks in other taxonomies.

        Raises:
            UnknownIdError: when ``risk_id`` is unknown.
        """
        ids = self._family(risk_id)
        if include_related:
            for other, _relation in self._related.get(risk_id, ()):
                if other in self._risks:
                    ids.extend(self._family(other))
        seen: set[str] = set()
        out: list[Requirement] = []
        for rid in ids:
            for req in self._by_risk.get(rid, ()):
                if req.ref not in seen:
                    seen.add(req.ref)
                    out.append(req)
        return out

    def _family(self, risk_id: str) -> list[str]:
        item = self.risk(risk_id)
        return [item.id, *(a.id for a in self.ancestors(risk_id)), *(d.id for d in self.descendants(risk_id))]

    def _risk_hint(self, risk_id: str) -> str:
        hint = suggest(risk_id, self._risks)
        if hint:
            return hint
        prefix = risk_id.split(".", 1)[0]
        if prefix not in self._taxonomies:
            return "risk ids look like '<taxonomy>.<local id>'; known taxonomies: " + ", ".join(self._taxonomies)
        return f"see Taxonomy.items({prefix!r}) for the ids of that taxonomy"
