"""YAML to plain data, remembering where every node was written.

Positions let every later error point at ``FILE:LINE:COL``. Duplicate keys, which PyYAML
silently lets the last one win, are reported instead, since a doubled step or gate is
almost always a copy-paste mistake during a stressful edit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

Path = tuple[str | int, ...]
MAX_NODES = 200_000
MAX_DEPTH = 64


@dataclass(frozen=True)
class Mark:
    line: int  # 1-based
    col: int  # 1-based


@dataclass
class Positions:
    """Where each value (and each mapping key) was written, by data path."""

    values: dict[Path, Mark] = field(default_factory=dict)
    keys: dict[Path, Mark] = field(default_factory=dict)
    styles: dict[Path, str | None] = field(default_factory=dict)

    def find(self, path: Path, *, key: bool = False) -> Mark:
        """Nearest known mark for ``path``: the node itself or its closest ancestor."""
        probe = tuple(path)
        if key and probe in self.keys:
            return self.keys[probe]
        while probe:
            if probe in self.values:
                return self.values[probe]
            probe = probe[:-1]
        return self.values.get((), Mark(1, 1))


class YamlProblem(ValueError):
    """The text is not YAML we can read; carries a 1-based position when known."""

    def __init__(self, message: str, mark: Mark | None = None):
        super().__init__(message)
        self.message = message
        self.mark = mark


@dataclass
class Duplicate:
    path: Path
    mark: Mark
    first: Mark


def _mark(node: yaml.Node) -> Mark:
    return Mark(node.start_mark.line + 1, node.start_mark.column + 1)


class _Loader(yaml.SafeLoader):
    """PyYAML's composer recurses once per nesting level: refuse depth before Python's stack
    gives out, with the place where it happened."""

    def __init__(self, text: str):
        super().__init__(text)
        self._depth = 0

    def compose_node(self, parent, index):
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise YamlProblem(f"YAML nested deeper than {MAX_DEPTH} levels",
                                  Mark(mark.line + 1, mark.column + 1))
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _position(text: str, index: int) -> Mark:
    line_start = text.rfind("\n", 0, index) + 1
    return Mark(text.count("\n", 0, index) + 1, index - line_start + 1)


def load(text: str, empty: str = "the file is empty: a plan needs at least a 'cutover' section"
         ) -> tuple[Any, Positions, list[Duplicate]]:
    try:
        loader = _Loader(text)
    except yaml.reader.ReaderError as exc:  # checked up front, for the whole text
        raise _unreadable(text, exc) from None
    try:
        try:
            root = loader.get_single_node()
        except yaml.reader.ReaderError as exc:
            raise _unreadable(text, exc) from None
        except yaml.MarkedYAMLError as exc:
            where = exc.problem_mark or exc.context_mark
            mark = Mark(where.line + 1, where.column + 1) if where else Mark(1, 1)
            problem = exc.problem or exc.context or "malformed YAML"
            raise YamlProblem(f"malformed YAML: {problem}", mark) from None
        except yaml.YAMLError as exc:
            raise YamlProblem(f"malformed YAML: {exc}", Mark(1, 1)) from None
        if root is None:
            raise YamlProblem(empty, Mark(1, 1))
        pos = Positions()
        dups: list[Duplicate] = []
        budget = [MAX_NODES]
        data = _build(loader, root, (), pos, dups, budget, 0)
        return data, pos, dups
    finally:
        loader.dispose()


def _unreadable(text: str, exc: yaml.reader.ReaderError) -> YamlProblem:
    char = exc.character
    shown = f"U+{char:04X}" if isinstance(char, int) else repr(char)
    return YamlProblem(f"character {shown} is not allowed in YAML (write control characters as escapes "
                       "in a double-quoted string)", _position(text, exc.position))


_MERGE = "tag:yaml.org,2002:merge"


def _build(loader, node, path: Path, pos: Positions, dups, budget, depth) -> Any:
    budget[0] -= 1
    if budget[0] < 0:
        # Aliases can expand a small file into billions of nodes ("billion laughs").
        raise YamlProblem(f"too many YAML nodes (over {MAX_NODES}); is an alias expanding a huge tree?", _mark(node))
    if depth > MAX_DEPTH:
        raise YamlProblem(f"YAML nested deeper than {MAX_DEPTH} levels", _mark(node))
    pos.values[path] = _mark(node)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        first: dict[Any, Mark] = {}
        merges = []
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise YamlProblem("mapping keys must be plain text", _mark(key_node))
            if key_node.tag == _MERGE:
                merges.append(value_node)
                continue
            key = _key(loader, key_node)
            child = (*path, key)
            if key in first:
                dups.append(Duplicate(child, _mark(key_node), first[key]))
                continue
            first[key] = _mark(key_node)
            pos.keys[child] = _mark(key_node)
            out[key] = _build(loader, value_node, child, pos, dups, budget, depth + 1)
        for merged in merges:
            _merge(loader, out, merged, path, pos, budget, depth)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [
            _build(loader, item, (*path, i), pos, dups, budget, depth + 1)
            for i, item in enumerate(node.value)
        ]
    pos.styles[path] = node.style
    return _scalar(loader, node)


def _merge(loader, out: dict, merged, path: Path, pos: Positions, budget, depth) -> None:
    """``<<: *anchor`` (or a list of them): keys written here win, then the first source.

    Done here rather than by PyYAML so every merged node counts against the node budget (merge
    chains expand like aliases) and nesting stays bounded; each merged value keeps the place
    it was written at (the anchor), for error positions.
    """
    sources = merged.value if isinstance(merged, yaml.SequenceNode) else [merged]
    for source in sources:
        if not isinstance(source, yaml.MappingNode):
            raise YamlProblem("a merge key (<<) takes a mapping or a list of mappings", _mark(source))
        scratch = Positions()
        built = _build(loader, source, path, scratch, [], budget, depth + 1)
        for key, value in built.items():
            if key not in out:
                out[key] = value
                tables: tuple[tuple[dict[Path, Any], dict[Path, Any]], ...] = (
                    (scratch.values, pos.values), (scratch.keys, pos.keys),
                    (scratch.styles, pos.styles))
                for table, into in tables:
                    for p, mark in table.items():
                        if p[:len(path) + 1] == (*path, key):
                            into.setdefault(p, mark)


def _key(loader, node) -> Any:
    key = _scalar(loader, node)
    if isinstance(key, bool):
        # `on:`/`yes:` keys come back as booleans under YAML 1.1; keep what was written.
        return node.value
    if not isinstance(key, (str, int)):
        return str(key)
    return key


def _scalar(loader, node) -> Any:
    try:
        return loader.construct_object(node, deep=True)
    except yaml.YAMLError as exc:
        raise YamlProblem(f"bad value: {getattr(exc, 'problem', None) or exc}", _mark(node)) from None
    except Exception as exc:  # noqa: BLE001 - a scalar PyYAML cannot convert is a bad value, whatever it raised
        raise YamlProblem(f"bad value: {exc}", _mark(node)) from None
