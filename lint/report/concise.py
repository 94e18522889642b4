"""`path:line:col: CODE message`, one line per finding, then a summary line. Never coloured."""

from __future__ import annotations

from ..diagnostics import Finding
from ._common import Context, display_path, one_line, printable, summary_line, write


def line(finding: Finding, ctx: Context) -> str:
    loc = finding.location
    return f"{printable(display_path(loc.path, ctx.cwd))}:{loc.line}:{loc.column}: {finding.code} {one_line(finding.message)}"


def render(findings: list[Finding], ctx: Context) -> None:
    if not findings:
        return
    lines = [line(f, ctx) for f in findings] + [summary_line(findings)]
    write(ctx.stream, "\n".join(lines) + "\n")
