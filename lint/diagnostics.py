"""The data every stage passes on: locations, findings, fixes, read problems."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"error": 2, "warning": 1, "info": 0}[self.value]


@dataclass(frozen=True)
class Location:
    """A span in a file. `path` is absolute; line and column are 1-based."""

    path: Path
    line: int = 1
    column: int = 1
    end_line: int | None = None
    end_column: int | None = None
    note: str = ""  # for related locations: what stands there ("label list", "checkpoint config")
    cell: int | None = None  # in a notebook: the cell (1-based among all cells); line and end_line are in it

    def with_note(self, note: str) -> "Location":
        return Location(self.path, self.line, self.column, self.end_line, self.end_column, note, self.cell)

    @property
    def line_ref(self) -> str:
        """The line as a reader finds it: `12`, or `cell 3:2` in a notebook."""
        return str(self.line) if self.cell is None else f"cell {self.cell}:{self.line}"

    @property
    def end(self) -> tuple[int, int]:
        return (self.end_line or self.line, self.end_column or self.column)


@dataclass(frozen=True)
class Edit:
    """Replace the text between two 1-based (line, column) positions of `path`."""

    path: Path
    start: tuple[int, int]
    end: tuple[int, int]
    content: str


@dataclass(frozen=True)
class Fix:
    """How to fix a finding. `edits` may be empty: then it is a hint only."""

    message: str
    applicability: str = "display-only"  # "safe" | "unsafe" | "display-only"
    edits: tuple[Edit, ...] = ()

    def applies(self, unsafe: bool = False) -> bool:
        """Whether `--fix` applies it: it has edits, and is safe (or unsafe, with `--unsafe-fixes`)."""
        return bool(self.edits) and (self.applicability == "safe" or (unsafe and self.applicability == "unsafe"))


@dataclass(frozen=True)
class Finding:
    code: str
    name: str
    severity: Severity
    message: str
    location: Location
    fix: Fix | None = None
    related: tuple[Location, ...] = ()

    def sort_key(self):
        loc = self.location
        return (str(loc.path), loc.cell or 0, loc.line, loc.column, self.code, self.message)


@dataclass(frozen=True)
class ReadProblem:
    """A file that could not be read or understood; becomes a CKL001 finding."""

    path: Path
    reason: str
    line: int | None = None
    column: int | None = None
    cell: int | None = None  # in a notebook: line and column are in this cell
