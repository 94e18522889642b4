"""Jupyter notebooks: the code cells of an `.ipynb` as one Python module, with cell-aware positions.

A notebook runs top to bottom, so its code cells are read as one script run as `__main__`, joined in
order as ruff joins them (each cell's lines, then the next cell's). nbformat 4 is read (`source` a
list of strings or one string), and nbformat 3 (`worksheets`, `input`) as far as it is the same.
Cells are numbered as ruff numbers them: 1-based among *all* cells of the notebook, markdown and raw
cells included, which is the position Jupyter shows (ruff's `NotebookIndex.row_to_cell` holds the
index into the raw cell list). Notebooks whose kernel language is not Python are not read as code.

IPython syntax is blanked line by line, so every other line keeps its line and column: line magics
(`%pip install x`, `%matplotlib inline`), shell escapes (`!nvidia-smi`, `files = !ls`), help
(`?obj`, `obj??`) and the `pip install x` automagic become empty lines (an indented one inside a block
becomes `pass`, so the block stays valid); a cell magic (`%%bash`, `%%writefile`) blanks its whole
cell, except the ones whose body is Python (`%%time`, `%%capture`, ... as ruff keeps them). Only
lines that start a statement count: a `%` continuing an expression inside brackets is Python.

Each code cell is compiled on its own in Jupyter: a cell that is not valid Python is reported (CKL001,
in that cell) and left out, and the rest of the notebook is still read.

`RawIndex` maps a (cell, line, column) back to the `.ipynb` file itself, for formats whose consumers
open the file on disk (SARIF, GitHub annotations): the line of the JSON string literal that holds the
source line, and the column inside it (JSON escapes counted).
"""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..diagnostics import Location
from ..textio import ReadError

MAX_BYTES = 50_000_000  # notebooks carry their outputs (images as base64): a larger cap than for code
_NEWLINE = re.compile(r"\r\n|\r|\n")
# Cell magics whose body is Python (ruff's `is_valid_python_code_cell` keeps the same ones).
PYTHON_CELL_MAGICS = {"capture", "debug", "prun", "pypy", "python", "python3", "time", "timeit"}
_CELL_MAGIC = re.compile(r"\s*%%(\w*)")
_ESCAPE_START = ("%", "!", "?")
_ASSIGN_ESCAPE = re.compile(r"\s*[A-Za-z_][\w.\[\]'\", ]*=\s*[%!]")  # `files = !ls`, `t = %timeit -o f()`
_AUTOMAGIC = re.compile(r"\s*(?:pip|conda|mamba)\s+(?:install|uninstall)\b")


class NotebookError(ReadError):
    """A notebook that cannot be read; `cell` is set when one cell is to blame."""

    def __init__(self, reason: str, line: int | None = None, column: int | None = None, cell: int | None = None):
        super().__init__(reason, line, column)
        self.cell = cell


@dataclass
class CodeCell:
    number: int  # 1-based among all cells of the notebook
    lines: list[str]  # the source as written, split into lines
    code: list[str]  # the same lines with IPython syntax blanked
    start: int = 0  # module line of the cell's first line


@dataclass
class Notebook:
    path: Path
    cells: list[CodeCell]  # code cells, in order
    python: bool = True  # False: another kernel language; nothing is read as code
    broken: set[int] = field(default_factory=set)  # cells left out: not valid Python
    _starts: list[int] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        line = 1
        for cell in self.cells:
            cell.start = line
            line += len(cell.lines)
        self._starts = [cell.start for cell in self.cells]

    @property
    def code(self) -> str:
        """The module: every code cell's lines in order (a broken cell's as empty lines)."""
        if not self.python:
            return ""
        lines = [text for cell in self.cells
                 for text in (cell.code if cell.number not in self.broken else [""] * len(cell.lines))]
        return "\n".join(lines) + "\n" if lines else ""

    def cell(self, number: int) -> CodeCell | None:
        return next((c for c in self.cells if c.number == number), None)

    def position(self, line: int) -> tuple[CodeCell, int] | None:
        """Module line -> (cell, 1-based line in the cell)."""
        if not self.cells or line < 1:
            return None
        cell = self.cells[max(0, bisect.bisect_right(self._starts, line) - 1)]
        return cell, min(line - cell.start + 1, len(cell.lines))

    def location(self, path: Path, line: int, column: int, end_line: int | None, end_column: int | None,
                 note: str = "") -> Location:
        """A Location from module positions: cell-relative lines, with the cell number."""
        found = self.position(line)
        if found is None:
            return Location(path, line, column, end_line, end_column, note)
        cell, row = found
        if end_line is not None:
            end = self.position(end_line)
            if end is None or end[0] is not cell:  # a span never leaves its cell; clamp if it seems to
                end_line, end_column = len(cell.lines), len(cell.lines[-1]) + 1
            else:
                end_line = end[1]
        return Location(path, row, column, end_line, end_column, note, cell.number)


# -- reading ------------------------------------------------------------------------------------


def load_notebook(path: Path, text: str) -> Notebook:
    """The notebook in `text` (the .ipynb file's content). Raises NotebookError."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotebookError(f"invalid notebook JSON: {exc.msg}", exc.lineno, exc.colno) from None
    except RecursionError:
        raise NotebookError("invalid notebook JSON: nested too deeply") from None
    cells = raw_cells(doc)
    if cells is None:
        raise NotebookError("not a Jupyter notebook: no \"cells\" list (nor nbformat 3 \"worksheets\")", 1, 1)
    code: list[CodeCell] = []
    for number, cell in enumerate(cells, 1):
        if not _is_code(cell):
            continue
        source = cell.get("source", cell.get("input", ""))
        if isinstance(source, list) and all(isinstance(s, str) for s in source):
            source = "".join(source)
        if not isinstance(source, str):
            raise NotebookError(f"invalid notebook: the source of cell {number} is not text", cell=number)
        lines = _NEWLINE.split(source)
        code.append(CodeCell(number, lines, blank_ipython(lines)))
    return Notebook(Path(path), code, python=_is_python(doc))


def raw_cells(doc) -> list | None:
    """The cells of a notebook document in order (nbformat 3: the worksheets' cells), or None."""
    if not isinstance(doc, dict):
        return None
    if isinstance(doc.get("cells"), list):
        return doc["cells"]
    sheets = doc.get("worksheets")
    if isinstance(sheets, list):
        return [c for ws in sheets if isinstance(ws, dict) and isinstance(ws.get("cells"), list) for c in ws["cells"]]
    return None


def _is_code(cell) -> bool:
    if not isinstance(cell, dict) or cell.get("cell_type") != "code":
        return False
    meta = cell.get("metadata")
    vscode = meta.get("vscode") if isinstance(meta, dict) else None
    language = vscode.get("languageId") if isinstance(vscode, dict) else None
    return language in (None, "python")  # VS Code marks cells of other languages this way (ruff skips them)


def _is_python(doc: dict) -> bool:
    """As ruff: `language_info.name`, else `kernelspec.language`; no information means Python."""
    meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
    for key, name in (("language_info", "name"), ("kernelspec", "language")):
        info = meta.get(key)
        if isinstance(info, dict) and isinstance(info.get(name), str):
            return info[name].lower() == "python"
    return True


# -- IPython syntax ---------------------------------------------------------------------------------


def blank_ipython(lines: list[str]) -> list[str]:
    """`lines` with IPython-only syntax blanked (same number of lines; other lines unchanged)."""
    first = next((i for i, text in enumerate(lines) if text.strip()), None)
    if first is not None:
        magic = _CELL_MAGIC.match(lines[first])
        if magic:
            if magic.group(1) not in PYTHON_CELL_MAGICS:
                return [""] * len(lines)
            lines = [*lines[:first], "", *lines[first + 1:]]
    out: list[str] = []
    state = _Scan()
    escape_continues = False
    seen_code = False
    for text in lines:
        if escape_continues or (state.at_statement_start() and _is_escape(text, state)):
            indent = text[: len(text) - len(text.lstrip())]
            out.append(indent + "pass" if indent and seen_code and not escape_continues else "")
            escape_continues = text.rstrip().endswith("\\")
            continue
        out.append(text)
        state.feed(text)
        seen_code = seen_code or bool(text.strip())
    return out


def _is_escape(text: str, state: "_Scan") -> bool:
    stripped = text.lstrip()
    if not stripped:
        return False
    if stripped.startswith(_ESCAPE_START) or _ASSIGN_ESCAPE.match(text) or _AUTOMAGIC.match(text):
        return True
    code = state.code_part(text)  # `obj?`, `obj??`: a `?` ending the code part (not in a comment)
    return code is not None and code.rstrip().endswith("?")


class _Scan:
    """Just enough tokenizing to know where statements start: brackets, strings, `\\` continuations."""

    def __init__(self) -> None:
        self.depth = 0
        self.quote: str | None = None  # an open triple-quoted string (or a `\`-continued one)
        self.continued = False

    def at_statement_start(self) -> bool:
        return self.depth == 0 and self.quote is None and not self.continued

    def feed(self, text: str) -> None:
        self._walk(text, record=True)

    def code_part(self, text: str) -> str | None:
        """`text` up to its comment; None if it ends inside a string."""
        saved = (self.depth, self.quote, self.continued)
        end = self._walk(text, record=False)
        self.depth, self.quote, self.continued = saved
        return text[:end] if end is not None else None

    def _walk(self, text: str, *, record: bool) -> int | None:
        depth, quote, i, n = self.depth, self.quote, 0, len(text)
        comment = n
        while i < n:
            ch = text[i]
            if quote:
                if ch == "\\":
                    i += 2
                    continue
                if text.startswith(quote, i):
                    i += len(quote)
                    quote = None
                    continue
                i += 1
                continue
            if ch == "#":
                comment = i
                break
            if ch in "\"'":
                quote = ch * 3 if text.startswith(ch * 3, i) else ch
                i += len(quote)
                continue
            if ch in "([{":
                depth += 1
            elif ch in ")]}":
                depth = max(0, depth - 1)
            i += 1
        backslash = text[:comment].rstrip("\r\n").endswith("\\")
        if quote is not None and len(quote) == 1 and not backslash:
            quote = None  # an unterminated one-line string: a syntax error the parser will report
        if record:
            self.depth, self.quote, self.continued = depth, quote, backslash and quote is None
        return None if quote is not None else comment


# -- parsing ----------------------------------------------------------------------------------------


def parse_notebook(path: Path, nb: Notebook):
    """(PyFile or None, problems): the module parsed; problems are (reason, cell, line, column) of the
    cells that are not valid Python (those cells are left out, as `nb.broken`)."""
    from .python import PySyntaxError, parse_python

    try:
        return parse_python(path, nb.code, cells=nb), []
    except PySyntaxError:
        pass
    problems = []
    for cell in nb.cells:  # Jupyter compiles each cell on its own: find the ones that fail
        try:
            parse_python(path, "\n".join(cell.code) + "\n")
        except PySyntaxError as exc:
            nb.broken.add(cell.number)
            problems.append((exc.reason, cell.number, exc.line, exc.column))
    try:
        return parse_python(path, nb.code, cells=nb), problems
    except PySyntaxError as exc:  # every cell parses alone, not together (an indented cell continuing a block)
        found = nb.position(exc.line) if exc.line else None
        cell, line = (found[0].number, found[1]) if found else (None, exc.line)
        problems.append((exc.reason, cell, line, exc.column))
        return None, problems


# -- back to the file on disk -------------------------------------------------------------------------


def cell_lines(text: str) -> dict[int, list[str]]:
    """Cell number -> its source lines as written, for excerpts (every cell type)."""
    try:
        cells = raw_cells(json.loads(text))
    except (ValueError, RecursionError):
        return {}
    out: dict[int, list[str]] = {}
    for number, cell in enumerate(cells or [], 1):
        source = cell.get("source", cell.get("input")) if isinstance(cell, dict) else None
        if isinstance(source, list) and all(isinstance(s, str) for s in source):
            source = "".join(source)
        if isinstance(source, str):
            out[number] = _NEWLINE.split(source)
    return out


class RawIndex:
    """Positions of the cells' source strings in the .ipynb file (through the positioned JSON reader)."""

    def __init__(self, path: Path, text: str):
        from .json_reader import load_json

        self.lines = text.split("\n")
        self.cells: dict[int, tuple[Location, list]] = {}  # number -> (cell object's location, source literals)
        root = load_json(path, text)  # raises ReadError
        for number, node in enumerate(self._cell_nodes(root), 1):
            source = (node.get("source") or node.get("input")) if node.is_map else None
            if source is None:
                literals = []
            elif source.is_seq:
                literals = [item for item in source.value if not item.is_map and isinstance(item.value, str)]
            else:
                literals = [source] if isinstance(source.value, str) else []
            self.cells[number] = (node.loc, literals)

    @staticmethod
    def _cell_nodes(root) -> list:
        """As `raw_cells`, on positioned nodes."""
        def items(node) -> list:
            return list(node.value) if node is not None and node.is_seq else []

        if root.get("cells") is not None:
            return items(root.get("cells"))
        return [cell for sheet in items(root.get("worksheets")) for cell in items(sheet.get("cells"))]

    def position(self, cell: int, line: int, column: int) -> tuple[int, int] | None:
        """(line, column) in the file of the cell's (line, column); None if it cannot be mapped."""
        entry = self.cells.get(cell)
        if entry is None or not entry[1]:
            return None
        literals = entry[1]
        source = "".join(item.value for item in literals)
        starts = [0] + [m.end() for m in _NEWLINE.finditer(source)]
        if not 1 <= line <= len(starts):
            return None
        offset = min(starts[line - 1] + max(column - 1, 0), len(source))
        for item in literals:
            length = len(item.value)
            if offset < length or item is literals[-1]:
                return self._in_literal(item.loc, min(offset, length))
            offset -= length
        return None

    def cell_start(self, cell: int) -> int | None:
        entry = self.cells.get(cell)
        return entry[0].line if entry is not None else None

    def _in_literal(self, loc: Location, index: int) -> tuple[int, int] | None:
        """The file position of decoded character `index` of the string literal at `loc`."""
        if loc.end_line != loc.line or not 1 <= loc.line <= len(self.lines):
            return None
        raw = self.lines[loc.line - 1][loc.column:]  # after the opening quote
        r = 0
        for _ in range(index):
            if r >= len(raw):
                return None
            if raw[r] != "\\":
                r += 1
            elif raw.startswith("\\u", r):
                high = raw[r + 2:r + 6]
                r += 12 if high.lower().startswith(("d8", "d9", "da", "db")) and raw.startswith("\\u", r + 6) else 6
            else:
                r += 2
        return loc.line, loc.column + 1 + r
