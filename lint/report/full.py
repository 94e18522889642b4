"""ruff-like `full` output: header, location, source excerpt with carets, related, help, summary.

Lines are built as lists of (text, style) pieces; rich is imported only inside `render`.
"""

from __future__ import annotations

import io
import os

from ..diagnostics import Finding, Location, Severity
from ._common import Context, SourceCache, position, printable, severity, summary_line, write

Piece = tuple[str, str]
Line = list[Piece]

TAB = 4
MAX_SPAN_LINES = 5  # longer spans show their first and last two lines
_STYLES = {Severity.ERROR: "bold red", Severity.WARNING: "bold yellow", Severity.INFO: "bold blue"}
_GUTTER = "bold blue"
_printable = printable


def use_color(color: bool | None, stream) -> bool:
    if color is not None:
        return color
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def _header(finding: Finding) -> Line:
    sev = severity(finding)
    message = "\n  ".join(_printable(part) for part in finding.message.splitlines() or [""])
    return [(finding.code, _STYLES[sev]), (" ", ""), (f"[{sev.value}]", _STYLES[sev]), (f" {message}", "bold")]


def _position(loc: Location, ctx: Context) -> str:
    return position(loc, ctx.cwd)


def _width(text: str) -> int:
    from rich.cells import cell_len

    return cell_len(text.expandtabs(TAB))


def _underline(line: str, start: int, end: int) -> tuple[int, int]:
    """(indent, width) in terminal cells of the 0-based character span [start, end) of `line`."""
    start = min(max(start, 0), len(line))
    end = min(max(end, start), len(line))
    indent = _width(line[:start])
    return indent, max(1, _width(line[:end]) - indent)


def _marked_span(line: str, number: int, loc: Location) -> tuple[int, int]:
    """The part of source line `number` that `loc` covers, as 0-based [start, end)."""
    end_line, end_column = loc.end
    start = loc.column - 1 if number == loc.line else len(line) - len(line.lstrip())
    end = end_column - 1 if number == end_line else len(line)
    return start, end


def _shown_lines(loc: Location, count: int) -> list[int | None]:
    """Line numbers of the excerpt; None marks elided lines."""
    last = min(max(loc.end_line or loc.line, loc.line), count)
    numbers = list(range(loc.line, last + 1))
    if len(numbers) > MAX_SPAN_LINES:
        return numbers[:2] + [None] + numbers[-2:]
    return numbers


def _excerpt(finding: Finding, sources: SourceCache) -> list[Line]:
    loc = finding.location
    lines = sources.lines(loc.path, loc.cell)  # in a notebook: the cell's own lines
    if lines is None or not 1 <= loc.line <= len(lines):
        return []
    numbers = _shown_lines(loc, len(lines))
    pad = len(str(max(n for n in numbers if n is not None)))
    style = _STYLES[severity(finding)]
    gutter = [(" " * pad + " |", _GUTTER)]
    out = [gutter]
    for number in numbers:
        if number is None:
            out.append([("." * pad, _GUTTER), (" |", _GUTTER)])
            continue
        text = _printable(lines[number - 1])
        indent, width = _underline(text, *_marked_span(text, number, loc))
        out.append([(f"{number:>{pad}} |", _GUTTER), (" " + text.expandtabs(TAB), "")])
        out.append(gutter + [(" " + " " * indent, ""), ("^" * width, style)])
    return out + [gutter]


def _related(loc: Location, ctx: Context) -> Line:
    note = f": {_printable(loc.note)}" if loc.note else ""
    return [("related", "bold cyan"), (f": {_position(loc, ctx)}{note}", "")]


def finding_lines(finding: Finding, ctx: Context, sources: SourceCache) -> list[Line]:
    lines = [_header(finding), [(" --> ", _GUTTER), (_position(finding.location, ctx), "")]]
    lines += _excerpt(finding, sources)
    lines += [_related(loc, ctx) for loc in finding.related]
    if finding.fix is not None:
        mark = "[*] " if finding.fix.applies(ctx.unsafe_fixes) else ""  # as ruff: `--fix` would apply it
        lines.append([("help", "bold cyan"), (f": {mark}{_printable(finding.fix.message)}", "")])
    return lines


def _all_lines(findings: list[Finding], ctx: Context) -> list[Line]:
    sources = SourceCache()
    lines: list[Line] = []
    for finding in findings:
        lines += finding_lines(finding, ctx, sources) + [[]]
    summary_style = "bold red" if any(severity(f) is Severity.ERROR for f in findings) else "bold"
    return lines + [[(summary_line(findings), summary_style if findings else "bold green")]]


def render(findings: list[Finding], ctx: Context) -> None:
    from rich.console import Console
    from rich.text import Text

    color = use_color(ctx.color, ctx.stream)
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        force_terminal=color,
        color_system="standard" if color else None,
        no_color=not color,
        soft_wrap=True,
        highlight=False,
        markup=False,
        emoji=False,
        legacy_windows=False,
    )
    for line in _all_lines(findings, ctx):
        console.print(Text.assemble(*line), soft_wrap=True)
    write(ctx.stream, buffer.getvalue())
