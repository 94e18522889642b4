"""Helpers shared by the output formats."""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterable

from ..diagnostics import Finding, Severity

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


def display_path(path: os.PathLike | str, base: Path) -> str:
    """`path` relative to `base`; unchanged when no relative path exists (another drive)."""
    try:
        return os.path.relpath(path, base)
    except ValueError:
        return os.fspath(path)


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
    """Lines of the files findings point into, each file read once.

    Missing, unreadable, binary (NUL bytes) and very large files have no lines.
    """

    MAX_BYTES = 2_000_000

    def __init__(self) -> None:
        self._files: dict[str, list[str] | None] = {}

    def lines(self, path: os.PathLike | str) -> list[str] | None:
        key = os.fspath(path)
        if key not in self._files:
            self._files[key] = _read_lines(key, self.MAX_BYTES)
        return self._files[key]

    def line(self, path: os.PathLike | str, number: int) -> str | None:
        lines = self.lines(path)
        if lines is None or not 1 <= number <= len(lines):
            return None
        return lines[number - 1]


def _read_lines(path: str, max_bytes: int) -> list[str] | None:
    try:
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError:
        return None
    if len(data) > max_bytes or b"\0" in data:
        return None
    text = data.decode("utf-8", errors="replace").removeprefix("\ufeff")
    return _NEWLINE.split(text)
