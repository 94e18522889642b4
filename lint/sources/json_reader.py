"""JSON to positioned `Node`s: a small iterative parser that accepts exactly what `json.loads` does."""

from __future__ import annotations

import bisect
import json
import re
from json.decoder import scanstring
from json.scanner import NUMBER_RE
from pathlib import Path

from ..diagnostics import Location
from ..textio import ReadError, read_text
from .tree import Node, mapping, scalar, sequence

MAX_DEPTH = 500
_WS = re.compile(r"[ \t\n\r]*")
_CONSTANTS = {"null": None, "true": True, "false": False,
              "NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}


def load_json(path: Path, text: str | None = None) -> Node:
    """The JSON document in `path` (or `text`) as a `Node`. Raises ReadError."""
    path = Path(path).absolute()
    if text is None:
        text = read_text(path)
    return _Parser(path, text).document()


class _Container:
    """An object or array being filled; `key` is the pending object key."""

    def __init__(self, start: int, is_object: bool):
        self.start = start
        self.is_object = is_object
        self.items: dict[str, Node] | list[Node] = {} if is_object else []
        self.key: tuple[str, Location] | None = None


class _Parser:
    def __init__(self, path: Path, text: str):
        self.path = path
        self.text = text
        self.lines = [0] + [m.end() for m in re.finditer("\n", text)]
        self.pos = 0

    # -- driver ----------------------------------------------------------------------------
    def document(self) -> Node:
        stack: list[_Container] = []
        while True:
            node = self._next_value(stack)
            while stack:  # attach the value; close every container it completes
                self._attach(stack[-1], node)
                if not self._after_item(stack[-1]):
                    break
                node = self._close(stack.pop())
            else:
                break
        self._skip_ws()
        if self.pos != len(self.text):
            self._fail("Extra data")
        return node

    def _next_value(self, stack: list[_Container]) -> Node:
        """Open containers up to the next complete value: a scalar or an empty container."""
        while True:
            top = stack[-1] if stack else None
            if top is not None and top.is_object and top.key is None:
                self._skip_ws()
                if self._peek() == "}" and not top.items:
                    self.pos += 1
                    return self._close(stack.pop())
                self._object_key(top)
            self._skip_ws()
            ch = self._peek()
            if not ch or ch not in "[{":
                return self._value()
            if len(stack) >= MAX_DEPTH:
                self._fail(f"nested deeper than {MAX_DEPTH} levels")
            stack.append(_Container(self.pos, ch == "{"))
            self.pos += 1
            if ch == "[":
                self._skip_ws()
                if self._peek() == "]":
                    self.pos += 1
                    return self._close(stack.pop())

    def _after_item(self, top: _Container) -> bool:
        """After an item: consume `,` (False: another item follows) or the closer (True)."""
        self._skip_ws()
        ch = self._peek()
        if ch == ("}" if top.is_object else "]"):
            self.pos += 1
            return True
        if ch != ",":
            self._fail("Expecting ',' delimiter")
        self.pos += 1
        return False

    # -- pieces ----------------------------------------------------------------------------
    def _object_key(self, top: _Container) -> None:
        """Read `"key" :` into `top.key`."""
        if self._peek() != '"':
            self._fail("Expecting property name enclosed in double quotes")
        start = self.pos
        key = self._string()
        top.key = (key, self._loc(start, self.pos))
        self._skip_ws()
        if self._peek() != ":":
            self._fail("Expecting ':' delimiter")
        self.pos += 1

    def _attach(self, top: _Container, node: Node) -> None:
        if top.is_object:
            key, key_loc = top.key
            node.key_loc = key_loc
            top.items[key] = node
            top.key = None
        else:
            top.items.append(node)

    def _close(self, top: _Container) -> Node:
        loc = self._loc(top.start, self.pos)
        return mapping(top.items, loc) if top.is_object else sequence(top.items, loc)

    def _value(self) -> Node:
        start = self.pos
        value = self._string() if self._peek() == '"' else self._number_or_constant()
        return scalar(value, self._loc(start, self.pos))

    def _string(self) -> str:
        try:
            value, self.pos = scanstring(self.text, self.pos + 1, True)
        except json.JSONDecodeError as exc:
            self.pos = exc.pos
            self._fail(exc.msg)
        return value

    def _number_or_constant(self):
        match = NUMBER_RE.match(self.text, self.pos)
        if match:
            integer, frac, exp = match.groups()
            self.pos = match.end()
            if frac or exp:
                return float(integer + (frac or "") + (exp or ""))
            try:
                return int(integer)
            except ValueError:  # more digits than int() allows, as json.loads
                self.pos = match.start()
                self._fail("integer has too many digits")
        for word, value in _CONSTANTS.items():
            if self.text.startswith(word, self.pos):
                self.pos += len(word)
                return value
        self._fail("Expecting value")

    # -- text helpers ----------------------------------------------------------------------
    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _skip_ws(self) -> None:
        self.pos = _WS.match(self.text, self.pos).end()

    def _point(self, index: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.lines, index)
        return line, index - self.lines[line - 1] + 1

    def _loc(self, start: int, end: int) -> Location:
        line, column = self._point(start)
        end_line, end_column = self._point(end)
        return Location(self.path, line, column, end_line, end_column)

    def _fail(self, message: str):
        raise ReadError(f"invalid JSON: {message}", *self._point(self.pos))
