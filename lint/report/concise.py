"""`path:line:col: CODE message` (in a notebook `path:cell N:line:col: CODE message`, as ruff), one line
per finding, then a summary line. Never coloured."""

from __future__ import annotations

from ..diagnostics import Finding
from ._common import Context, one_line, position, summary_line, write


def line(finding: Finding, ctx: Context) -> str:
    return f"{position(finding.location, ctx.cwd)}: {finding.code} {one_line(finding.message)}"


def render(findings: list[Finding], ctx: Context) -> None:
    if not findings:
        return
    lines = [line(f, ctx) for f in findings] + [summary_line(findings)]
    write(ctx.stream, "\n".join(lines) + "\n")
