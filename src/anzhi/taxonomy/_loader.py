"""Load and validate taxonomy, catalog and crosswalk YAML files (shipped ones plus the user's).

Every problem is a :class:`anzhi.errors.TaxonomyError` naming the file and the line of the offending node.
File format (one document per file, ``kind`` picks the shape)::

    kind: taxonomy | catalog | crosswalk
    id: ...            # plus name_zh, name_en, status, ... (see the models)
    items: [...]       # taxonomy
    groups: [...]      # catalog (optional)
    requirements: [...]  # catalog
    links: [...]       # crosswalk
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from anzhi.errors import TaxonomyError

from ._models import (
    AttributeType,
    AttrValue,
    Catalog,
    CatalogGroup,
    CrosswalkInfo,
    CrosswalkLink,
    Requirement,
    RiskItem,
    TaxonomyInfo,
)
from ._taxonomy import Taxonomy, suggest
from ._yaml import Loc, YamlDoc, parse_yaml

__all__ = ["default_taxonomy", "load_taxonomy"]

_SUFFIXES = (".yaml", ".yml")
_KINDS = ("taxonomy", "catalog", "crosswalk")
_BODY_KEYS = {"taxonomy": ("items",), "catalog": ("groups", "requirements"), "crosswalk": ("links",)}
_LOADER_SET = {
    "taxonomy": ("taxonomy", "local_id", "extra"),
    "catalog": ("catalog",),
    "crosswalk": ("crosswalk",),
}

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class _At:
    """Where a record came from: its document and the path of its node."""

    doc: YamlDoc
    loc: Loc

    def error(self, message: str, *sub: str | int) -> TaxonomyError:
        return self.doc.error(message, (*self.loc, *sub))


@dataclass
class _Collected:
    taxonomies: dict[str, TaxonomyInfo] = field(default_factory=dict)
    risks: dict[str, RiskItem] = field(default_factory=dict)
    catalogs: dict[str, Catalog] = field(default_factory=dict)
    crosswalks: dict[str, CrosswalkInfo] = field(default_factory=dict)
    links: list[CrosswalkLink] = field(default_factory=list)
    where: dict[str, _At] = field(default_factory=dict)
    """Where each set (``@taxonomy/<id>`` …), risk (id), requirement (ref) and link (``@link/<n>``) is."""
    sources: list[str] = field(default_factory=list)


def _validate(model: type[M], raw: Mapping[str, Any], at: _At, what: str) -> M:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        sub = tuple(p for p in first["loc"] if isinstance(p, str | int))
        name = ".".join(str(p) for p in sub)
        message = first["msg"]
        if first["type"] == "extra_forbidden":
            message = f"unknown field {name!r}"
            if model is RiskItem:
                message += " (declare it under the taxonomy's `attributes:` to use it as an item attribute)"
        elif name:
            message = f"{name}: {message}"
        more = exc.error_count() - 1
        if more:
            message += f" (and {more} more problem{'s' if more > 1 else ''} in this {what})"
        raise at.error(f"{what}: {message}", *sub) from None


def _mapping(value: Any, at: _At, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise at.error(f"{what} must be a mapping, got {type(value).__name__}")
    return value


def _list(value: Any, at: _At, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise at.error(f"{what} must be a list, got {type(value).__name__}")
    return value


def _claim(col: _Collected, key: str, at: _At, what: str) -> None:
    earlier = col.where.get(key)
    if earlier is not None:
        raise at.error(f"duplicate {what}; first defined at {earlier.doc.path}:{earlier.doc.line(earlier.loc)}", "id")
    col.where[key] = at


def _check_attr(name: str, kind: AttributeType, value: Any, at: _At) -> AttrValue:
    ok = {
        AttributeType.BOOL: isinstance(value, bool),
        AttributeType.INT: isinstance(value, int) and not isinstance(value, bool),
        AttributeType.FLOAT: isinstance(value, int | float) and not isinstance(value, bool),
        AttributeType.STR: isinstance(value, str),
        AttributeType.STR_LIST: isinstance(value, list) and all(isinstance(v, str) for v in value),
    }[kind]
    if not ok:
        raise at.error(f"attribute {name!r} must be {kind}, got {value!r}", name)
    if kind is AttributeType.STR_LIST:
        return tuple(value)
    if kind is AttributeType.FLOAT:
        return float(value)
    result: AttrValue = value
    return result


def _header(doc: YamlDoc, kind: str) -> dict[str, Any]:
    data: dict[str, Any] = doc.data
    header = {k: v for k, v in data.items() if k not in (*_BODY_KEYS[kind], "kind")}
    return header


def _load_taxonomy_file(doc: YamlDoc, col: _Collected) -> None:
    root = _At(doc, ())
    info = _validate(TaxonomyInfo, _header(doc, "taxonomy"), root, "taxonomy")
    _claim(col, f"@taxonomy/{info.id}", root, f"taxonomy id {info.id!r}")
    col.taxonomies[info.id] = info
    items = _list(doc.data.get("items"), _At(doc, ("items",)), "items")
    for index, raw_item in enumerate(items):
        at = _At(doc, ("items", index))
        raw = dict(_mapping(raw_item, at, "an item"))
        for key in _LOADER_SET["taxonomy"]:
            if key in raw:
                raise at.error(f"field {key!r} is set by the loader; remove it", key)
        extra = {
            name: _check_attr(name, kind, raw.pop(name), at) for name, kind in info.attributes.items() if name in raw
        }
        item_id = raw.get("id")
        prefix = f"{info.id}."
        if isinstance(item_id, str) and not item_id.startswith(prefix):
            raise at.error(f"item id {item_id!r} must start with {prefix!r}", "id")
        local = item_id[len(prefix) :] if isinstance(item_id, str) else ""
        item = _validate(RiskItem, {**raw, "taxonomy": info.id, "local_id": local, "extra": extra}, at, "item")
        _claim(col, item.id, at, f"risk id {item.id!r}")
        col.risks[item.id] = item


def _load_catalog_file(doc: YamlDoc, col: _Collected) -> None:
    root = _At(doc, ())
    header = _header(doc, "catalog")
    probe = _validate(Catalog, header, root, "catalog")
    _claim(col, f"@catalog/{probe.id}", root, f"catalog id {probe.id!r}")
    groups: dict[str, CatalogGroup] = {}
    group_at: dict[str, _At] = {}
    for index, raw_group in enumerate(_list(doc.data.get("groups", []), _At(doc, ("groups",)), "groups")):
        at = _At(doc, ("groups", index))
        group = _validate(CatalogGroup, _mapping(raw_group, at, "a group"), at, "group")
        if group.id in groups:
            raise at.error(f"duplicate group id {group.id!r} in catalog {probe.id!r}", "id")
        groups[group.id] = group
        group_at[group.id] = at
    for gid, group in groups.items():
        if group.parent is not None and group.parent not in groups:
            raise group_at[gid].error(
                f"unknown parent group {group.parent!r}. {suggest(group.parent, groups)}", "parent"
            )
    requirements: dict[str, Requirement] = {}
    raw_reqs = _list(doc.data.get("requirements"), _At(doc, ("requirements",)), "requirements")
    for index, raw_req in enumerate(raw_reqs):
        at = _At(doc, ("requirements", index))
        raw = _mapping(raw_req, at, "a requirement")
        if "catalog" in raw:
            raise at.error("field 'catalog' is set by the loader; remove it", "catalog")
        req = _validate(Requirement, {**raw, "catalog": probe.id}, at, "requirement")
        if req.id in requirements:
            raise at.error(f"duplicate requirement id {req.id!r} in catalog {probe.id!r}", "id")
        if req.group is not None and req.group not in groups:
            raise at.error(f"unknown group {req.group!r}. {suggest(req.group, groups)}".rstrip(". "), "group")
        requirements[req.id] = req
        col.where[req.ref] = at
    col.catalogs[probe.id] = probe.model_copy(update={"groups": groups, "requirements": requirements})


def _load_crosswalk_file(doc: YamlDoc, col: _Collected) -> None:
    root = _At(doc, ())
    info = _validate(CrosswalkInfo, _header(doc, "crosswalk"), root, "crosswalk")
    _claim(col, f"@crosswalk/{info.id}", root, f"crosswalk id {info.id!r}")
    col.crosswalks[info.id] = info
    for index, raw_link in enumerate(_list(doc.data.get("links"), _At(doc, ("links",)), "links")):
        at = _At(doc, ("links", index))
        raw = _mapping(raw_link, at, "a link")
        if "crosswalk" in raw:
            raise at.error("field 'crosswalk' is set by the loader; remove it", "crosswalk")
        link = _validate(CrosswalkLink, {**raw, "crosswalk": info.id}, at, "link")
        col.where[f"@link/{len(col.links)}"] = at
        col.links.append(link)


_FILE_LOADERS = {
    "taxonomy": _load_taxonomy_file,
    "catalog": _load_catalog_file,
    "crosswalk": _load_crosswalk_file,
}


def _load_document(text: str, path: str, col: _Collected) -> None:
    doc = parse_yaml(text, path)
    root = _At(doc, ())
    data = _mapping(doc.data, root, "the top level of a taxonomy file")
    kind = data.get("kind")
    if kind not in _KINDS:
        raise doc.error(f"'kind' must be one of {', '.join(_KINDS)}; got {kind!r}", ("kind",))
    _FILE_LOADERS[kind](doc, col)
    col.sources.append(path)


def _cross_checks(col: _Collected) -> None:
    for item in col.risks.values():
        if item.parent is not None and item.parent not in col.risks:
            hint = suggest(item.parent, col.risks)
            raise col.where[item.id].error(f"unknown parent {item.parent!r}. {hint}".rstrip(". "), "parent")
    for item in col.risks.values():  # cycles: every chain must end at a root
        seen = {item.id}
        parent = item.parent
        while parent is not None:
            if parent in seen:
                raise col.where[item.id].error(f"parent chain of {item.id!r} loops back to {parent!r}", "parent")
            seen.add(parent)
            parent = col.risks[parent].parent
    for catalog in col.catalogs.values():
        for req in catalog.requirements.values():
            for index, risk_id in enumerate(req.risks):
                if risk_id not in col.risks:
                    hint = suggest(risk_id, col.risks)
                    raise col.where[req.ref].error(
                        f"requirement {req.ref!r} names unknown risk {risk_id!r}. {hint}".rstrip(". "),
                        "risks",
                        index,
                    )
    refs = {req.ref for catalog in col.catalogs.values() for req in catalog.requirements.values()}
    pairs: dict[frozenset[str], int] = {}
    for index, link in enumerate(col.links):
        at = col.where[f"@link/{index}"]
        for end, target in (("a", link.a), ("b", link.b)):
            if target not in col.risks and target not in refs:
                pool = refs if ":" in target else col.risks
                hint = suggest(target, pool)
                raise at.error(f"crosswalk link to unknown id {target!r}. {hint}".rstrip(". "), end)
        pair = frozenset((link.a, link.b))
        if pair in pairs:
            first = col.where[f"@link/{pairs[pair]}"]
            raise at.error(
                f"duplicate crosswalk link {link.a!r} - {link.b!r}; "
                f"first at {first.doc.path}:{first.doc.line(first.loc)}"
            )
        pairs[pair] = index


def _shipped_files() -> Iterator[tuple[str, str]]:
    def walk(node: Traversable) -> Iterator[Traversable]:
        for entry in sorted(node.iterdir(), key=lambda e: e.name):
            if entry.is_dir():
                yield from walk(entry)
            elif entry.name.endswith(_SUFFIXES):
                yield entry

    for entry in walk(resources.files("anzhi.taxonomy").joinpath("data")):
        yield str(entry), entry.read_text(encoding="utf-8")


def _user_files(extra: Path) -> Iterator[tuple[str, str]]:
    if extra.is_file():
        files = [extra]
    elif extra.is_dir():
        files = sorted(p for p in extra.rglob("*") if p.is_file() and p.name.endswith(_SUFFIXES))
    else:
        raise TaxonomyError("extra taxonomy directory does not exist; check the path", path=extra)
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise TaxonomyError(f"cannot read file: {exc}", path=path) from exc
        yield str(path), text


def load_taxonomy(extra_dirs: Sequence[Path] = ()) -> Taxonomy:
    """Load the shipped taxonomies, catalogs and crosswalks plus any from ``extra_dirs``, validating all.

    Args:
        extra_dirs: directories (searched recursively for ``*.yaml`` / ``*.yml``) or single files in the
            same format as the shipped data; loaded after the shipped files, in the order given.

    Returns:
        A validated :class:`Taxonomy`.

    Raises:
        TaxonomyError: naming the file and line of the first problem (syntax, schema, duplicate id,
            unknown parent, crosswalk target, requirement risk, malformed threshold or check id).
    """
    col = _Collected()
    for path, text in _shipped_files():
        _load_document(text, path, col)
    for extra in extra_dirs:
        for path, text in _user_files(Path(extra)):
            _load_document(text, path, col)
    _cross_checks(col)
    return Taxonomy(
        taxonomies=col.taxonomies,
        risks=col.risks,
        catalogs=col.catalogs,
        crosswalks=col.crosswalks,
        links=col.links,
        sources=col.sources,
    )


@functools.cache
def default_taxonomy() -> Taxonomy:
    """The shipped data only, loaded once per process."""
    return load_taxonomy()
