"""A JSON array with one object per finding (ruff-like field names, 1-based columns). In a notebook a
location also has `cell` (1-based among all cells), and its lines are relative to that cell, as ruff's."""

from __future__ import annotations

import json

from ..diagnostics import Edit, Finding, Fix, Location
from ._common import Context, display_path, severity, write


def _span(loc: Location, ctx: Context) -> dict:
    end_line, end_column = loc.end
    span = {"path": display_path(loc.path, ctx.cwd)}
    if loc.cell is not None:
        span["cell"] = loc.cell
    return {**span, "line": loc.line, "column": loc.column, "end_line": end_line, "end_column": end_column}


def _edit(edit: Edit, ctx: Context) -> dict:
    return {
        "path": display_path(edit.path, ctx.cwd),
        "start": {"line": edit.start[0], "column": edit.start[1]},
        "end": {"line": edit.end[0], "column": edit.end[1]},
        "content": edit.content,
    }


def _fix(fix: Fix | None, ctx: Context) -> dict | None:
    if fix is None:
        return None
    return {
        "message": fix.message,
        "applicability": fix.applicability,
        "edits": [_edit(e, ctx) for e in fix.edits],
    }


def as_dict(finding: Finding, ctx: Context) -> dict:
    return {
        "code": finding.code,
        "name": finding.name,
        "severity": severity(finding).value,
        "message": finding.message,
        **_span(finding.location, ctx),
        "fix": _fix(finding.fix, ctx),
        "related": [{**_span(r, ctx), "note": r.note} for r in finding.related],
        "url": None,
    }


def render(findings: list[Finding], ctx: Context) -> None:
    write(ctx.stream, json.dumps([as_dict(f, ctx) for f in findings], indent=2) + "\n")
