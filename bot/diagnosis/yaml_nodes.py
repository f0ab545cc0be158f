"""Checking a YAML file node by node, so that every problem names its line: `file:line: field: what`.

The lines come from the YAML nodes' marks (a value's problem is reported at the line of its field name)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from bot.diagnosis.questionnaire_records import ID_PATTERN
from bot.errors import Problem


def join_field(prefix: str, key: str) -> str:
    """`prefix.key`, or `key` at the top level."""
    return f"{prefix}.{key}" if prefix else key


def is_number(value: Any) -> bool:
    """A finite int or float (not a bool)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class NodeChecker:
    """Reads YAML nodes into values and collects `Problem`s with their lines (`problems`)."""

    def __init__(self, path: Path, loader: yaml.SafeLoader) -> None:
        self.path = path
        self.loader = loader
        self.problems: list[Problem] = []
        self.key_lines: dict[int, int] = {}  # id(value node) → line of its field name

    def bad(self, node: yaml.Node, field: str, message: str) -> None:
        """A problem at the line of `node`'s field name (a block list starts on the line after it)."""
        line = self.key_lines.get(id(node), node.start_mark.line + 1)
        self.problems.append(Problem(self.path, line, f"{field}: {message}"))

    def value(self, node: yaml.Node) -> Any:
        return self.loader.construct_object(node, deep=True)

    def fields(
        self, node: yaml.Node, field: str, allowed: Sequence[str], required: Sequence[str]
    ) -> dict[str, yaml.Node] | None:
        if not isinstance(node, yaml.MappingNode):
            self.bad(node, field or "file", "expected a mapping of fields (name: value)")
            return None
        found: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = self.value(key_node)
            where = join_field(field, str(key))
            if not isinstance(key, str):
                self.bad(key_node, where, "a field name must be a text")
            elif key in found:
                self.bad(key_node, where, f"duplicate field (first at line {self.key_lines[id(found[key])]})")
            elif key not in allowed:
                self.bad(key_node, where, f"unknown field (known: {', '.join(allowed)})")
            else:
                found[key] = value_node
                self.key_lines[id(value_node)] = key_node.start_mark.line + 1
        for key in required:
            if key not in found:
                self.bad(node, join_field(field, key), "missing field")
        return found

    def named(self, node: yaml.Node, prefix: str, number: int) -> str:
        """`prefix[id]` for a list item that has a text id, else `prefix[number]`."""
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if isinstance(value_node, yaml.ScalarNode) and self.value(key_node) == "id":
                    value = self.value(value_node)
                    if isinstance(value, str) and ID_PATTERN.match(value):
                        return f"{prefix}[{value}]"
        return f"{prefix}[{number}]"

    def items(self, node: yaml.Node | None, field: str, *, empty_ok: bool = False) -> list[yaml.Node]:
        if node is None:
            return []
        if not isinstance(node, yaml.SequenceNode):
            self.bad(node, field, "expected a list (lines starting with '- ')")
            return []
        if not node.value and not empty_ok:
            self.bad(node, field, "the list is empty")
        return list(node.value)

    def text(self, fields: dict[str, yaml.Node], key: str, field: str) -> str:
        node = fields.get(key)
        if node is None:
            return ""
        value = self.value(node)
        if not isinstance(value, str) or not value.strip():
            self.bad(node, join_field(field, key), f"must be a non-empty text, got {value!r}")
            return ""
        return " ".join(value.split())

    def ident(self, fields: dict[str, yaml.Node], field: str) -> str:
        node = fields.get("id")
        if node is None:
            return ""
        value = self.value(node)
        if not (isinstance(value, str) and ID_PATTERN.match(value)):
            self.bad(
                node, join_field(field, "id"), f"must be lowercase letters, digits and hyphens, got {value!r}"
            )
            return ""
        return value

    def words(self, fields: dict[str, yaml.Node], key: str, field: str) -> tuple[str, ...]:
        node = fields.get(key)
        if node is None:
            return ()
        value = self.value(node)
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            self.bad(node, join_field(field, key), "must be a list of words, e.g. [collectivité, mairie]")
            return ()
        return tuple(v.strip() for v in value)
