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


def load(text: str) -> tuple[Any, Positions, list[Duplicate]]:
    loader = yaml.SafeLoader(text)
    try:
        try:
            root = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            where = exc.problem_mark or exc.context_mark
            mark = Mark(where.line + 1, where.column + 1) if where else None
            problem = exc.problem or exc.context or "malformed YAML"
            raise YamlProblem(f"malformed YAML: {problem}", mark) from None
        except yaml.YAMLError as exc:
            raise YamlProblem(f"malformed YAML: {exc}") from None
        if root is None:
            raise YamlProblem("the file is empty: a plan needs at least a 'cutover' section", Mark(1, 1))
        pos = Positions()
        dups: list[Duplicate] = []
        budget = [MAX_NODES]
        data = _build(loader, root, (), pos, dups, budget, 0)
        return data, pos, dups
    finally:
        loader.dispose()


def _build(loader, node, path: Path, pos: Positions, dups, budget, depth) -> Any:
    budget[0] -= 1
    if budget[0] < 0:
        # Aliases can expand a small file into billions of nodes ("billion laughs").
        raise YamlProblem(f"too many YAML nodes (over {MAX_NODES}); is an alias expanding a huge tree?", _mark(node))
    if depth > 64:
        raise YamlProblem("YAML nested deeper than 64 levels", _mark(node))
    pos.values[path] = _mark(node)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        out: dict[Any, Any] = {}
        first: dict[Any, Mark] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise YamlProblem("mapping keys must be plain text", _mark(key_node))
            key = _scalar(loader, key_node)
            if not isinstance(key, (str, int, bool)) or isinstance(key, float):
                key = str(key)
            if isinstance(key, bool):
                # `on:`/`yes:` keys come back as booleans under YAML 1.1; keep what was written.
                key = key_node.value
            child = (*path, key)
            if key in first:
                dups.append(Duplicate(child, _mark(key_node), first[key]))
                continue
            first[key] = _mark(key_node)
            pos.keys[child] = _mark(key_node)
            out[key] = _build(loader, value_node, child, pos, dups, budget, depth + 1)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [
            _build(loader, item, (*path, i), pos, dups, budget, depth + 1)
            for i, item in enumerate(node.value)
        ]
    pos.styles[path] = node.style
    return _scalar(loader, node)


def _scalar(loader, node) -> Any:
    try:
        return loader.construct_object(node, deep=True)
    except yaml.YAMLError as exc:
        raise YamlProblem(f"bad value: {getattr(exc, 'problem', None) or exc}", _mark(node)) from None
    except (ValueError, OverflowError) as exc:
        raise YamlProblem(f"bad value: {exc}", _mark(node)) from None
