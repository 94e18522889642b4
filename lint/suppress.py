"""Inline suppression: `# ckpt-lint: ignore` and `# ckpt-lint: ignore[CKL101, CKL102]`.

Only real comments count (Python comments come from the tokenizer, so a `#` inside a string is not
one). A finding is suppressed by a directive on its own line or on the line of any of its related
locations (e.g. next to `labels:` in the YAML that fed it). In a notebook, directives are comments of
its code cells, keyed by (cell, line) as notebook locations are.
"""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

DIRECTIVE = re.compile(r"ckpt-lint:\s*ignore(?!-)(?:\[(?P<codes>[^\]]*)\])?", re.I)


def python_comments(text: str) -> dict[int, str]:
    out: dict[int, str] = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.COMMENT:
                out[tok.start[0]] = tok.string[1:]
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return out


def hash_comments(text: str) -> dict[int, str]:
    """Comments of YAML and shell: `#` at a line start or after whitespace, outside quotes."""
    out: dict[int, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        quote = None
        for i, ch in enumerate(line):
            if quote:
                if ch == quote:
                    quote = None
            elif ch in "'\"":
                quote = ch
            elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
                out[number] = line[i + 1:]
                break
    return out


def directives(comments: dict[int, str]) -> dict[int, set[str] | None]:
    """line -> codes it ignores (None = all)."""
    out: dict[int, set[str] | None] = {}
    for line, comment in comments.items():
        match = DIRECTIVE.search(comment)
        if match is None:
            continue
        codes = match.group("codes")
        out[line] = None if codes is None else {c.strip().upper() for c in codes.split(",") if c.strip()}
    return out


def notebook_directives(nb) -> dict[tuple[int, int], set[str] | None]:
    """(cell, line) -> codes, from each code cell's comments (a cell is tokenized on its own)."""
    out: dict = {}
    for cell in nb.cells:
        text = "\n".join(cell.code)  # IPython lines blanked: they are no Python for the tokenizer
        if "ckpt-lint" in text:
            out.update({(cell.number, line): codes for line, codes in directives(python_comments(text)).items()})
    return out


class Suppressions:
    def __init__(self, text_of, notebook_of=None):
        self._text_of = text_of  # path -> text or None
        self._notebook_of = notebook_of  # path -> sources.notebook.Notebook or None
        self._cache: dict[Path, dict] = {}

    def _for(self, path: Path) -> dict:
        if path not in self._cache:
            if path.suffix.lower() == ".ipynb":
                nb = self._notebook_of(path) if self._notebook_of is not None else None
                self._cache[path] = notebook_directives(nb) if nb is not None else {}
                return self._cache[path]
            text = self._text_of(path)
            if text is None:
                self._cache[path] = {}
            elif path.suffix == ".py":
                self._cache[path] = directives(python_comments(text)) if "ckpt-lint" in text else {}
            elif path.suffix.lower() in (".yaml", ".yml", ".sh", ".bash", ".cfg", ".txt"):
                self._cache[path] = directives(hash_comments(text)) if "ckpt-lint" in text else {}
            else:
                self._cache[path] = {}
        return self._cache[path]

    def suppressed(self, finding) -> bool:
        for loc in (finding.location, *finding.related):
            key = loc.line if loc.cell is None else (loc.cell, loc.line)
            codes = self._for(loc.path).get(key, False)
            if codes is None or (codes and finding.code in codes):
                return True
        return False
