"""SARIF 2.1.0 with what GitHub code scanning requires (one run, rule metadata, fingerprints).

Regions are lines of the files as stored: a notebook location points at the line of the .ipynb that
holds its source string (`FileSpans`), and says its cell in the location's properties."""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from pathlib import Path
from urllib.parse import quote

from ..diagnostics import Edit, Finding, Location, Severity
from ._common import Context, FileSpans, SourceCache, display_path, severity, write

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://pypi.org/project/ckpt-lint/"
SRCROOT = "%SRCROOT%"
FINGERPRINT = "ckptLint/v1"
_LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def artifact_location(path: os.PathLike | str, root: Path) -> dict:
    """A URI relative to %SRCROOT%, or an absolute file URI for files outside the root."""
    rel = display_path(path, root)
    if os.path.isabs(rel) or rel.split(os.sep)[0] == os.pardir:
        return {"uri": Path(os.path.abspath(path)).as_uri()}
    return {"uri": quote(rel.replace(os.sep, "/"), errors="surrogateescape"), "uriBaseId": SRCROOT}


def _region(start: tuple[int, int | None], end: tuple[int | None, int | None]) -> dict:
    region = {"startLine": start[0], "endLine": end[0] or start[0]}
    if start[1] is not None:  # no startColumn: the region starts at the line's start
        region["startColumn"] = start[1]
    if end[1] is not None:  # no endColumn: the region runs to the end of endLine
        region["endColumn"] = end[1]
    return region


def _physical(loc: Location, root: Path, spans: FileSpans) -> dict:
    line, column, end_line, end_column = spans(loc)
    return {
        "artifactLocation": artifact_location(loc.path, root),
        "region": _region((line, column), (end_line, end_column)),
    }


def _location(loc: Location, root: Path, spans: FileSpans, **extra) -> dict:
    out = {**extra, "physicalLocation": _physical(loc, root, spans)}
    if loc.cell is not None:  # where a notebook reader finds it
        out["properties"] = {"cell": loc.cell, "cellLine": loc.line, "cellColumn": loc.column}
    return out


def _text(text: str) -> dict:
    return {"text": text}


def rule_descriptor(code: str, cls: type | None, finding: Finding) -> dict:
    """Metadata from the rule class; codes without one (read problems, plugins) get a stub."""
    name = getattr(cls, "name", "") or finding.name or code
    summary = cls.summary() if cls is not None else name
    doc = (cls.doc() if cls is not None else "") or summary
    level = severity(finding) if cls is None else Severity(cls.severity)
    return {
        "id": code,
        "name": name,
        "shortDescription": _text(summary),
        "fullDescription": _text(doc),
        "help": {"text": doc, "markdown": doc},
        "defaultConfiguration": {"level": _LEVELS[level]},
    }


def _rules(findings: list[Finding], rules: dict[str, type]) -> tuple[list[dict], dict[str, int]]:
    first = {}
    for f in findings:
        first.setdefault(f.code, f)
    codes = sorted(first)
    return [rule_descriptor(c, rules.get(c), first[c]) for c in codes], {c: i for i, c in enumerate(codes)}


def _fix(finding: Finding, root: Path) -> list[dict]:
    """SARIF `fixes` for a fix with edits, one artifactChange per file."""
    if finding.fix is None or not finding.fix.edits:
        return []
    by_path: dict[str, list[Edit]] = {}
    for edit in finding.fix.edits:
        by_path.setdefault(os.fspath(edit.path), []).append(edit)
    changes = [
        {
            "artifactLocation": artifact_location(path, root),
            "replacements": [
                {"deletedRegion": _region(e.start, e.end), "insertedContent": _text(e.content)} for e in edits
            ],
        }
        for path, edits in by_path.items()
    ]
    return [{"description": _text(finding.fix.message), "artifactChanges": changes}]


class _Fingerprints:
    """Hash of code + relative path + stripped source line, with a counter for repeats.

    Line numbers stay out, so a finding keeps its fingerprint when lines above it move.
    """

    def __init__(self, root: Path) -> None:
        self._root = root
        self._sources = SourceCache()
        self._seen: Counter[str] = Counter()

    def __call__(self, finding: Finding) -> dict:
        loc = finding.location
        text = (self._sources.line(loc.path, loc.line, loc.cell) or finding.message).strip()
        key = "\0".join((finding.code, artifact_location(loc.path, self._root)["uri"], text))
        self._seen[key] += 1
        digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        return {FINGERPRINT: f"{digest}:{self._seen[key]}"}


def _result(finding: Finding, index: int, root: Path, fingerprint: _Fingerprints, spans: FileSpans) -> dict:
    result = {
        "ruleId": finding.code,
        "ruleIndex": index,
        "level": _LEVELS[severity(finding)],
        "message": _text(finding.message),
        "locations": [_location(finding.location, root, spans)],
        "partialFingerprints": fingerprint(finding),
    }
    if finding.related:
        result["relatedLocations"] = [
            _location(loc, root, spans, id=i, message=_text(loc.note or "related location"))
            for i, loc in enumerate(finding.related)
        ]
    fixes = _fix(finding, root)
    if fixes:
        result["fixes"] = fixes
    return result


def _root_uri(root: Path) -> str:
    uri = Path(os.path.abspath(root)).as_uri()
    return uri if uri.endswith("/") else uri + "/"


def sarif_log(findings: list[Finding], ctx: Context) -> dict:
    rules, index = _rules(findings, ctx.rules)
    fingerprint = _Fingerprints(ctx.root)
    spans = FileSpans()
    driver = {
        "name": "ckpt-lint",
        "semanticVersion": ctx.tool_version,
        "informationUri": INFORMATION_URI,
        "rules": rules,
    }
    run = {
        "tool": {"driver": driver},
        "originalUriBaseIds": {SRCROOT: {"uri": _root_uri(ctx.root)}},
        "columnKind": "unicodeCodePoints",
        "results": [_result(f, index[f.code], ctx.root, fingerprint, spans) for f in findings],
    }
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}


def render(findings: list[Finding], ctx: Context) -> None:
    write(ctx.stream, json.dumps(sarif_log(findings, ctx), indent=2) + "\n")
