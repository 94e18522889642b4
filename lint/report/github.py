"""GitHub Actions workflow commands (`::error file=…::message`), plus a job summary table."""

from __future__ import annotations

import os
from collections import Counter

from ..diagnostics import Finding, Severity
from ._common import Context, display_path, printable, severity, summary_line, write

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
        lines.append(f"related: {display_path(loc.path, ctx.cwd)}:{loc.line}:{loc.column}{note}")
    if finding.fix is not None:
        lines.append(f"help: {finding.fix.message}")
    return "\n".join(printable(line) for line in lines)


def command(finding: Finding, ctx: Context) -> str:
    loc = finding.location
    end_line, end_column = loc.end
    title = f"{finding.code} ({finding.name})" if finding.name else finding.code
    props = {
        "file": printable(display_path(loc.path, ctx.cwd)),
        "line": loc.line,
        "col": loc.column,
        "endLine": end_line,
        "endColumn": end_column,
        "title": title,
    }
    text = ",".join(f"{key}={escape_property(str(value))}" for key, value in props.items())
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
    write(ctx.stream, "".join(command(f, ctx) + "\n" for f in findings))
    _append_step_summary(findings)
