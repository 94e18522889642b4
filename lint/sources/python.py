"""Python reader: libcst parsing with lazy 1-based positions, and the cheap text pre-filter."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ..diagnostics import Location

# A file is parsed eagerly only when its text can matter: a model load, or a value that feeds one.
PREFILTER = re.compile(
    rb"from_pretrained|num_labels|id2label|load_state_dict|resize_token_embeddings|PeftModel|get_peft_model|"
    rb"torch\.save\(|hydra"
)


_WORDS = frozenset({"from_pretrained", "num_labels", "id2label", "load_state_dict", "resize_token_embeddings",
                    "PeftModel", "get_peft_model", "hydra"})


def can_matter(data: bytes) -> bool:
    """Whether a file is worth parsing with libcst: a regex over the bytes, then (for the files it
    passes) the names its compiled code really uses, so a word in a docstring or comment (most of
    transformers' modeling files) does not count. `compile` only builds bytecode, never runs it,
    and is ~10x faster than libcst; a file it cannot compile is parsed (and reported) by libcst."""
    if PREFILTER.search(data) is None:
        return False
    import types
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escapes etc. are not ours to report
            code = compile(data, "<ckpt-lint>", "exec", dont_inherit=True, optimize=2)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
        return True
    names: set[str] = set()
    stack = [code]
    while stack:
        co = stack.pop()
        names.update(co.co_names)
        names.update(co.co_varnames)
        for const in co.co_consts:
            if isinstance(const, types.CodeType):
                stack.append(const)
            elif isinstance(const, str):
                names.add(const)
            elif isinstance(const, tuple):  # keyword-argument names of calls
                names.update(c for c in const if isinstance(c, str))
    return bool(names & _WORDS) or ("save" in names and "torch" in names)


class PySyntaxError(Exception):
    def __init__(self, reason: str, line: int | None, column: int | None):
        super().__init__(reason)
        self.reason, self.line, self.column = reason, line, column


@dataclass
class PyFile:
    path: Path
    text: str
    module: object  # libcst.Module
    _positions: object = field(default=None, repr=False)
    cells: object = field(default=None, repr=False)  # sources.notebook.Notebook for an .ipynb: cell positions
    _code: dict = field(default_factory=dict, repr=False)  # (id(node), limit) -> code

    def _position_map(self):
        if self._positions is None:
            from libcst.metadata import MetadataWrapper, PositionProvider

            wrapper = MetadataWrapper(self.module, unsafe_skip_copy=True)
            self._positions = wrapper.resolve(PositionProvider)
        return self._positions

    def loc(self, node, note: str = "") -> Location:
        rng = self._position_map().get(node)
        if rng is None:
            return Location(self.path, 1, 1, note=note)
        if self.cells is not None:  # a notebook: lines relative to the cell, with its number
            return self.cells.location(self.path, rng.start.line, rng.start.column + 1, rng.end.line,
                                       rng.end.column + 1, note)
        return Location(
            self.path, rng.start.line, rng.start.column + 1, rng.end.line, rng.end.column + 1, note
        )

    def lazy_loc(self, node, note: str = "") -> "LazyLocation":
        return LazyLocation(self, node, note)

    def code(self, node, limit: int = 80) -> str:
        """A node's source on one line (memoised: the evaluator asks again each time code runs)."""
        key = (id(node), limit)
        text = self._code.get(key)
        if text is None:
            text = " ".join(self.module.code_for_node(node).split())
            text = self._code[key] = text if len(text) <= limit else text[: limit - 1] + "…"
        return text


def parse_python(path: Path, text: str, *, cells=None) -> PyFile:
    import libcst

    try:
        module = libcst.parse_module(text)
    except libcst.ParserSyntaxError as exc:
        raise PySyntaxError(*_syntax_error(exc, text)) from None
    except (RecursionError, MemoryError):
        raise PySyntaxError("Python file too deeply nested to parse", None, None) from None
    return PyFile(path, text, module, cells=cells)


def _syntax_error(exc, text: str) -> tuple[str, int | None, int | None]:
    """A short reason and 1-based position from libcst's error (the native parser puts the
    real column only in its message: "error at 3:14: expected one of ...")."""
    message = str(getattr(exc, "message", "") or exc).splitlines()[0]
    line, col = exc.raw_line, exc.raw_column + 1
    at = re.search(r"error at (\d+):(\d+)", message)
    if at:
        line, col = int(at.group(1)), int(at.group(2))
    detail = message.split(": ", 2)[-1] if at else message
    if detail.startswith("expected one of"):
        detail = "unexpected token"
    hint = ""
    if re.search(r"^\s*(print\s+[^(\s=]|exec\s+[\"'])", text, re.M) or re.search(r"except\s+\w+\s*,\s*\w+\s*:", text):
        hint = " (Python 2 syntax?)"
    return f"invalid Python syntax{hint}: {detail}", line, col


class LazyLocation(Location):
    """A node's location, resolved only when something reads its line or column: positions cost a
    code generation pass over the whole file, and most values the evaluator computes are never shown."""

    def __init__(self, file: PyFile, node, note: str = ""):  # noqa: D107 - no dataclass __init__
        object.__setattr__(self, "_file", file)
        object.__setattr__(self, "_node", node)
        object.__setattr__(self, "_note", note)
        object.__setattr__(self, "_resolved", None)

    def _loc(self) -> Location:
        if self._resolved is None:
            object.__setattr__(self, "_resolved", self._file.loc(self._node))
        return self._resolved

    path = property(lambda self: self._file.path)
    line = property(lambda self: self._loc().line)
    column = property(lambda self: self._loc().column)
    end_line = property(lambda self: self._loc().end_line)
    end_column = property(lambda self: self._loc().end_column)
    note = property(lambda self: self._note)
    cell = property(lambda self: self._loc().cell)

    def with_note(self, note: str) -> "LazyLocation":
        return LazyLocation(self._file, self._node, note)

    def __hash__(self) -> int:
        return hash((self._file.path, id(self._node), self._note))

    def __eq__(self, other) -> bool:
        if isinstance(other, LazyLocation):
            return self._node is other._node and self._note == other._note
        if isinstance(other, Location):
            return (self.path, self.cell, self.line, self.column, self.end_line, self.end_column, self.note) == (
                other.path, other.cell, other.line, other.column, other.end_line, other.end_column, other.note)
        return NotImplemented

    def __repr__(self) -> str:
        return f"LazyLocation({self.path}, {self._node.__class__.__name__}, note={self._note!r})"


def walk(node, *, into_defs: bool = True):
    """Every libcst node under `node`, in source order (pre-order); with into_defs=False the bodies of
    nested functions, classes and lambdas are not entered."""
    import libcst as cst  # lazily, like the parser: importing this module must stay cheap

    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        if not into_defs and current is not node and isinstance(current, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            continue
        stack.extend(reversed(list(current.children)))
