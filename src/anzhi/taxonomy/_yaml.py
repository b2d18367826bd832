"""A YAML reader that remembers the line of every node, so a broken file is reported at its line.

PyYAML composes a node graph whose nodes carry ``start_mark``; we construct plain Python values from it
ourselves and keep a map from each value's path (keys and list indices from the root) to its 1-based line.
Mapping entries are recorded at their key's line, list items at the line of their first token.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from anzhi.errors import TaxonomyError

Loc = tuple[str | int, ...]

try:  # libyaml when available: the same nodes and marks, parsed in C
    _Loader: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader

_MAX_DEPTH = 64


@dataclass(frozen=True, slots=True)
class YamlDoc:
    """A parsed YAML document with the line of each node."""

    path: str
    data: Any
    lines: Mapping[Loc, int]

    def line(self, loc: Loc) -> int:
        """Line of the node at ``loc``, or of its nearest recorded ancestor (1 when nothing is known)."""
        for end in range(len(loc), -1, -1):
            hit = self.lines.get(loc[:end])
            if hit is not None:
                return hit
        return 1

    def error(self, message: str, loc: Loc = ()) -> TaxonomyError:
        """A :class:`TaxonomyError` that names this file and the line of ``loc``."""
        return TaxonomyError(message, path=self.path, line=self.line(loc))


class _Builder:
    def __init__(self, loader: yaml.SafeLoader, path: str) -> None:
        self.loader = loader
        self.path = path
        self.lines: dict[Loc, int] = {}
        self._active: set[int] = set()

    def fail(self, message: str, node: yaml.Node) -> TaxonomyError:
        return TaxonomyError(message, path=self.path, line=node.start_mark.line + 1)

    def build(self, node: yaml.Node, loc: Loc) -> Any:
        if len(loc) > _MAX_DEPTH:
            raise self.fail("YAML nested too deeply", node)
        if isinstance(node, yaml.ScalarNode):
            return self.loader.construct_object(node, deep=True)
        if id(node) in self._active:
            raise self.fail("recursive YAML alias", node)
        self._active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                items: list[Any] = []
                for index, child in enumerate(node.value):
                    self.lines[(*loc, index)] = child.start_mark.line + 1
                    items.append(self.build(child, (*loc, index)))
                return items
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, loc)
            raise self.fail(f"unsupported YAML node {type(node).__name__}", node)  # pragma: no cover
        finally:
            self._active.discard(id(node))

    def _mapping(self, node: yaml.MappingNode, loc: Loc) -> dict[str, Any]:
        self.loader.flatten_mapping(node)  # resolves `<<` merge keys
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise self.fail("mapping keys must be plain strings", key_node)
            key = self.loader.construct_object(key_node)
            if not isinstance(key, str):
                raise self.fail(f"mapping key {key!r} is not a string; quote it", key_node)
            if key in result:
                raise self.fail(f"duplicate key {key!r} in the same mapping", key_node)
            self.lines[(*loc, key)] = key_node.start_mark.line + 1
            result[key] = self.build(value_node, (*loc, key))
        return result


def parse_yaml(text: str, path: str) -> YamlDoc:
    """Parse one YAML document, keeping node lines.

    Args:
        text: the file's content.
        path: shown in error messages.

    Raises:
        TaxonomyError: on a syntax error, an empty file, several documents, duplicate or non-string keys.
    """
    loader = _Loader(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark is not None else None
            problem = exc.problem or exc.context or "invalid YAML"
            raise TaxonomyError(f"YAML syntax error: {problem}", path=path, line=line) from exc
        except yaml.YAMLError as exc:
            raise TaxonomyError(f"YAML error: {exc}", path=path) from exc
        if node is None:
            raise TaxonomyError("file is empty", path=path, line=1)
        builder = _Builder(loader, path)
        builder.lines[()] = node.start_mark.line + 1
        try:
            data = builder.build(node, ())
        except yaml.MarkedYAMLError as exc:  # a scalar that does not construct, e.g. a bad timestamp
            mark = exc.problem_mark or exc.context_mark
            raise TaxonomyError(
                f"YAML value error: {exc.problem or exc.context}",
                path=path,
                line=mark.line + 1 if mark is not None else None,
            ) from exc
        return YamlDoc(path=path, data=data, lines=builder.lines)
    finally:
        loader.dispose()
