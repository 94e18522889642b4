"""Positioned data: the shape YAML and JSON readers return.

A `Node` is a scalar, mapping or sequence that remembers where it was written, so that a
finding about `labels:` can point at that YAML line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

from ..diagnostics import Location


@dataclass
class Node:
    """`value` is a python scalar, a `dict[str, Node]` or a `list[Node]`.

    `loc` spans the value; `key_loc` is the mapping key that holds it (None for roots and items).
    """

    value: Any
    loc: Location
    key_loc: Location | None = None
    tag: str = ""  # "map", "seq" or "" for scalars
    meta: dict = field(default_factory=dict)  # reader extras, e.g. {"package": "_global_"}

    @property
    def is_map(self) -> bool:
        return self.tag == "map"

    @property
    def is_seq(self) -> bool:
        return self.tag == "seq"

    def get(self, key: Any) -> "Node | None":
        if self.is_map:
            return self.value.get(str(key)) if str(key) in self.value else self.value.get(key)
        if self.is_seq and isinstance(key, int) and -len(self.value) <= key < len(self.value):
            return self.value[key]
        return None

    def path(self, *keys: Any) -> "Node | None":
        node: Node | None = self
        for key in keys:
            if node is None:
                return None
            node = node.get(key)
        return node

    def plain(self) -> Any:
        """The python value, recursively (dicts, lists and scalars)."""
        if self.is_map:
            return {k: v.plain() for k, v in self.value.items()}
        if self.is_seq:
            return [v.plain() for v in self.value]
        return self.value

    def items(self) -> Iterator[tuple[str, "Node"]]:
        if self.is_map:
            yield from self.value.items()

    @property
    def anchor(self) -> Location:
        """Where a finding about this value should point: the key if there is one."""
        return self.key_loc or self.loc


def scalar(value: Any, loc: Location, key_loc: Location | None = None) -> Node:
    return Node(value, loc, key_loc, "")


def mapping(items: dict[str, Node], loc: Location, key_loc: Location | None = None) -> Node:
    return Node(items, loc, key_loc, "map")


def sequence(items: list[Node], loc: Location, key_loc: Location | None = None) -> Node:
    return Node(items, loc, key_loc, "seq")
