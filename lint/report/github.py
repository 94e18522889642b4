"""GitHub Actions workflow commands (`::error file=…::message`), plus a job summary table.

GitHub annotates lines of the file as stored: a notebook location points at the line of the .ipynb
that holds its source string (`FileSpans`); the message keeps the `cell N:line:col` form."""

from __future__ import annotations

import os
from collections import Counter

from ..diagnostics import Finding, Severity
from ._common import Context, FileSpans, display_path, position, printable, severity, summary_line, write

_COMMANDS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def escape_data(text: str) -> str:
    """As actions/toolkit `escapeData`."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """As actions/toolkit `escapeProperty`."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _message(finding: Finding, ctx: Context) -> str:
    lines = finding.message.splitlines() or [""]
    for loc in finding.related:
        note = f": {loc.note}" if loc.note else ""
        lines.append(f"related: {position(loc, ctx.cwd)}{note}")
    if finding.fix is not None:
        lines.append(f"help: {finding.fix.message}")
    return "\n".join(printable(line) for line in lines)


def command(finding: Finding, ctx: Context, spans: FileSpans | None = None) -> str:
    loc = finding.location
    line, column, end_line, end_column = (spans or FileSpans())(loc)
    title = f"{finding.code} ({finding.name})" if finding.name else finding.code
    props = {
        "file": printable(display_path(loc.path, ctx.cwd)),
        "line": line,
        "col": column,
        "endLine": end_line or line,
        "endColumn": end_column or column,
        "title": title,
    }
    text = ",".join(f"{key}={escape_property(str(value))}" for key, value in props.items() if value is not None)
    return f"::{_COMMANDS[severity(finding)]} {text}::{escape_data(_message(finding, ctx))}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def step_summary(findings: list[Finding]) -> str:
    """Markdown for `$GITHUB_STEP_SUMMARY`: the summary line and a count per code."""
    parts = ["### ckpt-lint\n", f"{summary_line(findings)}\n"]
    counts = Counter((f.code, f.name, severity(f).value) for f in findings)
    if counts:
        parts.append("| Code | Name | Severity | Count |\n|---|---|---|---:|")
        parts += [f"| {_cell(c)} | {_cell(n)} | {s} | {k} |" for (c, n, s), k in sorted(counts.items())]
    return "\n".join(parts) + "\n\n"


def _append_step_summary(findings: list[Finding]) -> None:
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return
    try:
        with open(path, "a", encoding="utf-8", errors="replace") as fh:
            fh.write(step_summary(findings))
    except OSError:
        pass  # a summary is a nicety; never fail the run over it


def render(findings: list[Finding], ctx: Context) -> None:
    spans = FileSpans()
    write(ctx.stream, "".join(command(f, ctx, spans) + "\n" for f in findings))
    _append_step_summary(findings)
