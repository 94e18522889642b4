"""`--fix`, `--diff`, `--unsafe-fixes`: applying the edits rules attach to findings (`Fix.edits`).

Rules compute their edits with libcst codemods when they run (`lint.codemods`); this module only
applies text edits, so it works for any rule or plugin that attaches them. As ruff:

- a fix is applied when its applicability allows it: `safe` always, `unsafe` only with
  `--unsafe-fixes` (`unsafe-fixes = true`), `display-only` never; an unsafe fix left out is "hidden"
  and counted;
- only findings that were reported get fixed (suppressed, ignored and unselected ones never are);
- fixes are applied one after another per file, in file order: a fix whose edits overlap or touch an
  edit already taken is skipped (it stays reported; the next `--fix` applies it against the new text),
  and after each fix the Python file is re-parsed with libcst, so a fix that would leave a file that
  does not parse is skipped too; two findings with the very same fix share one application;
- files are written atomically (a temporary file in the same folder, then a rename, keeping the mode),
  in their own encoding — UTF-8, a PEP 263 coding line, UTF-16 — with their byte order mark and line
  endings: the bytes outside the edits do not change, and a file whose text would not encode back to
  the same bytes is left alone;
- `--diff` prints a unified diff (`--- a/path` / `+++ b/path`, paths relative to the working folder)
  of what `--fix` would write, and writes nothing.
"""

from __future__ import annotations

import difflib
import os
import stat
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from .diagnostics import Finding, Fix, Severity


def applicable(fix: Fix | None, unsafe: bool) -> bool:
    """Would `--fix` apply this fix (with `--unsafe-fixes` when `unsafe`)?"""
    return fix is not None and fix.applies(unsafe)


def hidden(fix: Fix | None, unsafe: bool) -> bool:
    """An unsafe fix with edits that only `--unsafe-fixes` would apply."""
    return fix is not None and bool(fix.edits) and fix.applicability == "unsafe" and not unsafe


@dataclass
class _Source:
    path: Path
    raw: bytes
    text: str
    encoding: str
    bom: bytes
    starts: list[int] = field(default_factory=list)


@dataclass
class FileChange:
    path: Path
    original: str
    fixed: str
    encoding: str
    bom: bytes
    raw: bytes  # the bytes read, to notice a file changed before it is written


@dataclass
class Outcome:
    changes: list[FileChange]  # files whose text changes, in path order
    fixed: list[Finding]  # findings whose fix is in `changes`
    skipped: list[Finding]  # applicable fixes left out: overlapping another, stale, or breaking the file
    hidden: int  # unsafe fixes not applied without --unsafe-fixes
    errors: list[str] = field(default_factory=list)  # files that could not be read or written


def plan(findings: Iterable[Finding], *, unsafe: bool) -> Outcome:
    """What `--fix` would change: the new text of each file, and which findings that fixes."""
    from .codemods import to_offset  # (imports libcst)

    findings = list(findings)
    sources: dict[Path, _Source | None] = {}
    taken: dict[Path, list[tuple[int, int, int, str]]] = {}  # path -> (start, end, order, content)
    texts: dict[Path, str] = {}
    done: dict[tuple, bool] = {}  # a fix's edits -> applied?
    fixed: list[Finding] = []
    skipped: list[Finding] = []
    errors: list[str] = []
    order = 0
    for finding in findings:
        if not applicable(finding.fix, unsafe):
            continue
        key = finding.fix.edits
        if key in done:  # the same fix for another finding (another launch of the same script)
            (fixed if done[key] else skipped).append(finding)
            continue
        spans: dict[Path, list[tuple[int, int, int, str]]] = {}
        ok = True
        for edit in key:
            source = _source(edit.path, sources, errors)
            start = to_offset(source.starts, source.text, edit.start) if source else None
            end = to_offset(source.starts, source.text, edit.end) if source else None
            if start is None or end is None or end < start:
                ok = False  # the file is gone, unreadable, or no longer has these positions
                break
            order += 1
            spans.setdefault(edit.path, []).append((start, end, order, edit.content))
        if ok:  # its own edits in order and apart, and none near an edit already taken
            ok = all(a[1] <= b[0] for mine in spans.values() for a, b in zip(sorted(mine), sorted(mine)[1:]))
            ok = ok and not any(_overlaps(span, other) for path, mine in spans.items()
                                for span in mine for other in taken.get(path, []))
        candidate: dict[Path, str] = {}
        if ok:
            for path, mine in spans.items():
                candidate[path] = _apply(sources[path].text, taken.get(path, []) + mine)
                if not _parses(path, candidate[path]):
                    ok = False
                    break
        done[key] = ok
        if not ok:
            skipped.append(finding)
            continue
        for path, mine in spans.items():
            taken.setdefault(path, []).extend(mine)
            texts[path] = candidate[path]
        fixed.append(finding)
    changes = [FileChange(path, sources[path].text, text, sources[path].encoding, sources[path].bom,
                          sources[path].raw)
               for path, text in sorted(texts.items(), key=lambda item: str(item[0]))
               if text != sources[path].text]
    count = sum(1 for f in findings if hidden(f.fix, unsafe))
    return Outcome(changes, fixed, skipped, count, errors)


def _source(path: Path, sources: dict, errors: list[str]) -> _Source | None:
    from .codemods import line_starts  # (imports libcst)

    if path not in sources:
        from .textio import ReadError, read_source

        sources[path] = None
        try:
            text, encoding, bom, raw = read_source(path, python=path.suffix == ".py")
        except ReadError as exc:
            errors.append(f"{path}: {exc}")
            return None
        try:
            same = bom + text.encode(encoding) == raw
        except UnicodeEncodeError:
            same = False
        if not same:  # e.g. a codec that does not round-trip: writing would change other bytes
            errors.append(f"{path}: its {encoding} text does not encode back to the same bytes; not fixed")
            return None
        sources[path] = _Source(path, raw, text, encoding, bom, line_starts(text))
    return sources[path]


def _overlaps(a: tuple, b: tuple) -> bool:
    """Edits that overlap or touch (two insertions at one place, a replacement next to another)."""
    return a[0] <= b[1] and b[0] <= a[1]


def _apply(text: str, spans: list[tuple[int, int, int, str]]) -> str:
    for start, end, _, content in sorted(spans, key=lambda s: (s[0], s[2]), reverse=True):
        text = text[:start] + content + text[end:]
    return text


def _parses(path: Path, text: str) -> bool:
    if path.suffix != ".py":
        return True
    import libcst

    try:
        libcst.parse_module(text)
    except (libcst.ParserSyntaxError, RecursionError):
        return False
    return True


# -- writing -------------------------------------------------------------------------------------
def write(outcome: Outcome) -> list[Finding]:
    """Write the changed files; returns the findings whose fix was written (errors go to outcome.errors)."""
    written: set[Path] = set()
    for change in outcome.changes:
        try:
            data = change.bom + change.fixed.encode(change.encoding)
        except UnicodeEncodeError:
            outcome.errors.append(f"{change.path}: the fix cannot be written in the file's encoding "
                                  f"({change.encoding}); not fixed")
            continue
        try:
            _write_atomic(change.path, data, change.raw)
        except OSError as exc:
            outcome.errors.append(f"{change.path}: cannot write: {exc.strerror or exc}")
            continue
        except _Changed:
            outcome.errors.append(f"{change.path}: changed while ckpt-lint was fixing it; not fixed")
            continue
        written.add(change.path)
    changed = {c.path for c in outcome.changes}
    return [f for f in outcome.fixed if all(e.path in written or e.path not in changed for e in f.fix.edits)]


class _Changed(Exception):
    pass


def _write_atomic(path: Path, data: bytes, expected: bytes) -> None:
    real = os.path.realpath(path)  # a symlink stays a symlink: its target is rewritten
    with open(real, "rb") as fh:
        if fh.read() != expected:
            raise _Changed()
    mode = stat.S_IMODE(os.stat(real).st_mode)
    folder, name = os.path.split(real)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".ckpt-lint", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, real)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


# -- diff and messages ------------------------------------------------------------------------------
def _lines(text: str) -> list[str]:
    from .codemods import line_starts  # (imports libcst)

    starts = line_starts(text)
    lines = [text[a:b] for a, b in zip(starts, [*starts[1:], len(text)])]
    return lines[:-1] if lines and lines[-1] == "" else lines


def unified_diff(change: FileChange, cwd: Path) -> str:
    """`--- a/path` / `+++ b/path` and hunks with 3 lines of context; line endings as in the file."""
    from .report._common import display_path

    rel = display_path(change.path, cwd).replace(os.sep, "/")
    out = []
    for line in difflib.unified_diff(_lines(change.original), _lines(change.fixed), f"a/{rel}", f"b/{rel}"):
        if not line.endswith(("\n", "\r")):
            line += "\n\\ No newline at end of file\n"
        out.append(line)
    return "".join(out)


def _amount(findings: list[Finding]) -> str:
    counts = Counter(Severity(f.severity) for f in findings)
    parts = [f"{counts[s]} {s.value}{'' if counts[s] == 1 else 's'}" for s in Severity if counts[s]]
    return ", ".join(parts) or "0 errors"


def _hidden_note(count: int) -> str:
    return f"{count} hidden fix{'' if count == 1 else 'es'} can be enabled with --unsafe-fixes"


def summary(fixed: list[Finding], hidden_count: int, *, would: bool = False) -> str:
    """`Fixed 2 errors.` / `Would fix 1 error (1 hidden fix can be enabled with --unsafe-fixes).`"""
    text = f"{'Would fix' if would else 'Fixed'} {_amount(fixed)}"
    return text + (f" ({_hidden_note(hidden_count)})." if hidden_count else ".")


def availability(findings: Iterable[Finding], unsafe: bool) -> str | None:
    """The ruff-style hint after a plain run: `[*] 2 fixable with --fix.`, or None when nothing is."""
    findings = list(findings)
    fixable = sum(1 for f in findings if applicable(f.fix, unsafe))
    count = sum(1 for f in findings if hidden(f.fix, unsafe))
    if fixable:
        return f"[*] {fixable} fixable with --fix" + (f" ({_hidden_note(count)})." if count else ".")
    if count:
        return f"No fixes available ({_hidden_note(count)})."
    return None
