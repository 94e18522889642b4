"""Helpers shared by the output formats."""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterable

from ..diagnostics import Finding, Location, Severity

_NEWLINE = re.compile(r"\r\n|\r|\n")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def printable(text: str) -> str:
    """Replace control characters: escape sequences in a file or path must not reach a terminal."""
    return _CONTROL.sub("\ufffd", text)


@dataclass(frozen=True)
class Context:
    stream: IO[str]
    cwd: Path
    root: Path
    rules: dict[str, type]  # code -> Rule class
    color: bool | None
    tool_version: str
    unsafe_fixes: bool = False  # --unsafe-fixes: unsafe fixes are applicable too (marked `[*]`)


def display_path(path: os.PathLike | str, base: Path) -> str:
    """`path` relative to `base`; unchanged when no relative path exists (another drive)."""
    try:
        return os.path.relpath(path, base)
    except ValueError:
        return os.fspath(path)


def position(loc: Location, base: Path) -> str:
    """`path:line:col`, or ruff's notebook form `path:cell N:line:col`."""
    cell = f"cell {loc.cell}:" if loc.cell is not None else ""
    return f"{printable(display_path(loc.path, base))}:{cell}{loc.line}:{loc.column}"


def severity(finding: Finding) -> Severity:
    return Severity(finding.severity)


def one_line(text: str) -> str:
    return printable(_NEWLINE.sub(" ", text))


def summary_line(findings: Iterable[Finding]) -> str:
    """`Found 2 errors, 1 warning.`, or `All checks passed!`; zero counts are left out."""
    counts = Counter(severity(f) for f in findings)
    if not counts:
        return "All checks passed!"
    parts = [f"{counts[s]} {s.value}{'' if counts[s] == 1 else 's'}" for s in Severity if counts[s]]
    return f"Found {', '.join(parts)}."


def write(stream: IO[str], text: str) -> None:
    """Write `text`, replacing what the stream's encoding cannot represent."""
    try:
        stream.write(text)
    except UnicodeEncodeError:
        encoding = getattr(stream, "encoding", None) or "ascii"
        stream.write(text.encode(encoding, "replace").decode(encoding))


class SourceCache:
    """Lines of the files findings point into, each file read once; a notebook's lines are its cells'.

    Missing, unreadable, binary (NUL bytes) and very large files have no lines.
    """

    MAX_BYTES = 2_000_000

    def __init__(self) -> None:
        self._files: dict[str, list[str] | None] = {}
        self._cells: dict[str, dict[int, list[str]]] = {}

    def lines(self, path: os.PathLike | str, cell: int | None = None) -> list[str] | None:
        key = os.fspath(path)
        if cell is not None:
            if key not in self._cells:
                from ..sources.notebook import MAX_BYTES, cell_lines

                text = _read_text(key, MAX_BYTES)
                self._cells[key] = cell_lines(text) if text is not None else {}
            return self._cells[key].get(cell)
        if key not in self._files:
            text = _read_text(key, self.MAX_BYTES)
            self._files[key] = _NEWLINE.split(text) if text is not None else None
        return self._files[key]

    def line(self, path: os.PathLike | str, number: int, cell: int | None = None) -> str | None:
        lines = self.lines(path, cell)
        if lines is None or not 1 <= number <= len(lines):
            return None
        return lines[number - 1]


def _read_text(path: str, max_bytes: int) -> str | None:
    try:
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError:
        return None
    if len(data) > max_bytes or b"\0" in data:
        return None
    return data.decode("utf-8", errors="replace").removeprefix("\ufeff")


class FileSpans:
    """Where a location is in the file on disk, for consumers that open it (SARIF, GitHub): a notebook
    location (cell, line, column) becomes the line and column of its source string in the .ipynb; if
    that cannot be mapped, the line where the cell starts (then without columns)."""

    def __init__(self) -> None:
        self._indexes: dict[str, object] = {}

    def __call__(self, loc: Location) -> tuple[int, int | None, int | None, int | None]:
        """(line, column, end_line, end_column); the end may be None."""
        if loc.cell is None:
            return loc.line, loc.column, loc.end_line, loc.end_column
        index = self._index(loc.path)
        start = index.position(loc.cell, loc.line, loc.column) if index is not None else None
        if start is None:
            first = index.cell_start(loc.cell) if index is not None else None
            return first or 1, None, None, None
        end_line, end_column = loc.end
        end = index.position(loc.cell, end_line, end_column) if loc.end_line is not None else None
        return start[0], start[1], *(end if end is not None else (None, None))

    def _index(self, path: os.PathLike | str):
        key = os.fspath(path)
        if key not in self._indexes:
            from ..sources.notebook import MAX_BYTES, RawIndex
            from ..textio import ReadError

            text = _read_text(key, MAX_BYTES)
            try:
                self._indexes[key] = RawIndex(Path(key), text) if text is not None else None
            except (ReadError, RecursionError):
                self._indexes[key] = None
        return self._indexes[key]
