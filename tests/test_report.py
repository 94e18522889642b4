"""Output formats: real renders of real findings, checked line by line and against schemas."""

from __future__ import annotations

import dataclasses
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from ckpt_lint.diagnostics import Edit, Finding, Fix, Location, Severity
from ckpt_lint.report import FORMATS, render
from ckpt_lint.report._common import summary_line
from ckpt_lint.report.github import escape_data, escape_property
from ckpt_lint.rule import Rule

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"
ANSI = "\x1b["

TRAIN_PY = "import torch\n\nmodel = build(num_labels=10)\n"
LABELS_YAML = "labels:\n  - cat\n  - dog\n"


class HeadSize(Rule):
    """Classifier head size differs from the number of labels.

    ## What it does
    Compares `num_labels` with the label list.

    ## How to fix
    Make them agree.
    """

    code = "CKL101"
    name = "head-size-mismatch"
    severity = Severity.ERROR


class VocabSize(Rule):
    """Embedding size differs from the tokenizer's vocabulary."""

    code = "CKL102"
    name = "vocab-size-mismatch"
    severity = Severity.WARNING


RULES = {"CKL101": HeadSize, "CKL102": VocabSize}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for var in ("GITHUB_STEP_SUMMARY", "NO_COLOR", "FORCE_COLOR"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    proj = tmp_path / "my proj"
    proj.mkdir()
    (proj / "train.py").write_text(TRAIN_PY, encoding="utf-8")
    (proj / "labels.yaml").write_text(LABELS_YAML, encoding="utf-8")
    return proj


@pytest.fixture
def findings(project: Path) -> list[Finding]:
    train, labels = project / "train.py", project / "labels.yaml"
    return [
        Finding(
            code="CKL101",
            name="head-size-mismatch",
            severity=Severity.ERROR,
            message="num_labels=10 but labels.yaml has 2 labels\n(checked at 100%)",
            location=Location(train, 3, 15, 3, 28),
            fix=Fix("set num_labels=2", "safe", (Edit(train, (3, 26), (3, 28), "2"),)),
            related=(Location(labels, 1, 1, 3, 8, note="label list"),),
        ),
        Finding(
            code="CKL102",
            name="vocab-size-mismatch",
            severity=Severity.WARNING,
            message="vocab_size=3 but the tokenizer has 5 tokens",
            location=Location(train, 1, 8),
        ),
        Finding(
            code="CKL001",
            name="read-error",
            severity=Severity.INFO,
            message="could not read file",
            location=Location(project / "gone.py", 2, 3),
        ),
    ]


def run(findings, fmt, cwd: Path, root: Path | None = None, **kwargs) -> str:
    out = io.StringIO()
    render(findings, fmt, stream=out, cwd=cwd, root=root or cwd, rules=RULES, **kwargs)
    return out.getvalue()


# -- dispatch ---------------------------------------------------------------------------------


def test_formats_and_unknown_format(tmp_path):
    assert FORMATS == ("full", "concise", "json", "github", "sarif")
    with pytest.raises(ValueError, match="unknown output format 'xml'"):
        run([], "xml", tmp_path)


def test_only_full_imports_rich(tmp_path):
    code = (
        "import io, sys\nfrom pathlib import Path\nfrom ckpt_lint.report import render\n"
        "for fmt in ('concise', 'json', 'github', 'sarif'):\n"
        "    render([], fmt, stream=io.StringIO(), cwd=Path('.'), root=Path('.'), rules={})\n"
        "print('rich' in sys.modules)\n"
    )
    env = {"PATH": "", "PYTHONIOENCODING": "utf-8"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_summary_line_counts_and_plurals(findings):
    error, warning, info = findings
    assert summary_line([]) == "All checks passed!"
    assert summary_line([error]) == "Found 1 error."
    assert summary_line([error, error, warning]) == "Found 2 errors, 1 warning."
    assert summary_line([warning, info, info]) == "Found 1 warning, 2 infos."
    assert summary_line(findings) == "Found 1 error, 1 warning, 1 info."


# -- concise ----------------------------------------------------------------------------------


def test_concise_lines_exact(findings, project):
    out = run(findings, "concise", project.parent, color=True)
    assert out.splitlines() == [
        "my proj/train.py:3:15: CKL101 num_labels=10 but labels.yaml has 2 labels (checked at 100%)",
        "my proj/train.py:1:8: CKL102 vocab_size=3 but the tokenizer has 5 tokens",
        "my proj/gone.py:2:3: CKL001 could not read file",
        "Found 1 error, 1 warning, 1 info.",
    ]
    assert ANSI not in out


def test_concise_paths_relative_to_cwd(findings, project):
    sub = project.parent / "elsewhere"
    sub.mkdir()
    assert run(findings[1:2], "concise", sub).splitlines()[0] == (
        "../my proj/train.py:1:8: CKL102 vocab_size=3 but the tokenizer has 5 tokens"
    )


def test_concise_prints_nothing_without_findings(tmp_path):
    assert run([], "concise", tmp_path) == ""


# -- problem matcher --------------------------------------------------------------------------


def _matchers() -> dict[str, tuple[re.Pattern, dict]]:
    """owner -> (regexp, pattern): "ckpt-lint" for `path:line:col:` lines, "ckpt-lint-notebook" for
    `path:cell N:line:col:` lines (file-level annotations: the cell's line is not a line of the .ipynb)."""
    doc = json.loads((REPO / ".github" / "ckpt-lint-matcher.json").read_text(encoding="utf-8"))
    out = {}
    for matcher in doc["problemMatcher"]:
        (pattern,) = matcher["pattern"]
        out[matcher["owner"]] = (re.compile(pattern["regexp"]), pattern)
    assert set(out) == {"ckpt-lint", "ckpt-lint-notebook"}
    return out


def _matcher() -> tuple[re.Pattern, dict]:
    return _matchers()["ckpt-lint"]


def _only_match(line: str) -> tuple[str, re.Match, dict] | None:
    """The one matcher that parses `line` (two matching would annotate twice)."""
    hits = [(owner, regexp.match(line), pattern) for owner, (regexp, pattern) in _matchers().items()]
    hits = [hit for hit in hits if hit[1]]
    assert len(hits) <= 1, line
    return hits[0] if hits else None


def test_matcher_parses_every_concise_line(findings, project):
    notebook = project / "fine tune.ipynb"
    findings = [*findings, dataclasses.replace(
        findings[0], message="head has 3 labels: cell 1:2:3: CKL102 is not a position",
        location=Location(notebook, 2, 9, 2, 40, cell=5), related=(Location(notebook, 1, 8, cell=4),))]
    lines = run(findings, "concise", project.parent).splitlines()
    assert lines[-2] == ("my proj/fine tune.ipynb:cell 5:2:9: CKL101 head has 3 labels: cell 1:2:3: CKL102 is not "
                         "a position")
    for finding, line in zip(findings, lines[:-1]):
        owner, match, pattern = _only_match(line)
        loc = finding.location
        assert match.group(pattern["file"]) == f"my proj/{loc.path.name}"
        assert match.group(pattern["code"]) == finding.code
        if loc.cell is None:
            assert owner == "ckpt-lint"
            assert int(match.group(pattern["line"])) == loc.line
            assert int(match.group(pattern["column"])) == loc.column
            assert match.group(pattern["message"]) == finding.message.replace("\n", " ")
        else:
            assert owner == "ckpt-lint-notebook" and "line" not in pattern and "column" not in pattern
            position = f"cell {loc.cell}:{loc.line}:{loc.column}"
            assert match.group(pattern["message"]) == f"{position}: {finding.code} {finding.message}"
    assert _only_match(lines[-1]) is None  # the summary line is not a problem


def test_matcher_windows_drive_letter():
    regexp, pattern = _matcher()
    match = regexp.match(r"C:\work\my proj\train.py:3:5: CKL101 msg: with colons 1:2:3")
    assert match.group(pattern["file"]) == r"C:\work\my proj\train.py"
    assert (match.group(pattern["line"]), match.group(pattern["column"])) == ("3", "5")
    assert match.group(pattern["code"]) == "CKL101"
    assert match.group(pattern["message"]) == "msg: with colons 1:2:3"
    owner, match, pattern = _only_match(r"C:\work\my proj\fine tune.ipynb:cell 12:3:5: CKL101 msg: cell 1:2:3 x")
    assert owner == "ckpt-lint-notebook"
    assert match.group(pattern["file"]) == r"C:\work\my proj\fine tune.ipynb"
    assert match.group(pattern["code"]) == "CKL101"
    assert match.group(pattern["message"]) == "cell 12:3:5: CKL101 msg: cell 1:2:3 x"
    for summary in ("Found 2 errors, 1 warning.", "Found 1 info.", "All checks passed!"):
        assert _only_match(summary) is None


# -- json -------------------------------------------------------------------------------------


def test_json_has_every_field(findings, project):
    data = json.loads(run(findings, "json", project.parent, color=True))
    keys = {"code", "name", "severity", "message", "path", "line", "column", "end_line", "end_column",
            "fix", "related", "url"}
    assert [set(item) for item in data] == [keys] * 3
    first, second, third = data
    assert first["code"] == "CKL101" and first["name"] == "head-size-mismatch"
    assert first["severity"] == "error" and second["severity"] == "warning" and third["severity"] == "info"
    assert first["message"] == findings[0].message
    assert (first["path"], first["line"], first["column"], first["end_line"], first["end_column"]) == (
        "my proj/train.py", 3, 15, 3, 28)
    assert first["fix"] == {
        "message": "set num_labels=2",
        "applicability": "safe",
        "edits": [{"path": "my proj/train.py", "start": {"line": 3, "column": 26},
                   "end": {"line": 3, "column": 28}, "content": "2"}],
    }
    assert first["related"] == [{"path": "my proj/labels.yaml", "line": 1, "column": 1, "end_line": 3,
                                 "end_column": 8, "note": "label list"}]
    assert first["url"] is None
    # end falls back to the start; no fix is null
    assert (second["end_line"], second["end_column"], second["fix"], second["related"]) == (1, 8, None, [])


def test_json_empty_is_empty_array(tmp_path):
    assert json.loads(run([], "json", tmp_path)) == []


# -- github -----------------------------------------------------------------------------------


def test_github_escaping_helpers():
    assert escape_data("100%\r\nnext") == "100%25%0D%0Anext"
    assert escape_property("a,b:c%\n") == "a%2Cb%3Ac%25%0A"


def test_github_commands(findings, project):
    lines = run(findings, "github", project.parent, color=True).splitlines()
    assert lines == [
        "::error file=my proj/train.py,line=3,col=15,endLine=3,endColumn=28,title=CKL101 (head-size-mismatch)"
        "::num_labels=10 but labels.yaml has 2 labels%0A(checked at 100%25)"
        "%0Arelated: my proj/labels.yaml:1:1: label list%0Ahelp: set num_labels=2",
        "::warning file=my proj/train.py,line=1,col=8,endLine=1,endColumn=8,title=CKL102 (vocab-size-mismatch)"
        "::vocab_size=3 but the tokenizer has 5 tokens",
        "::notice file=my proj/gone.py,line=2,col=3,endLine=2,endColumn=3,title=CKL001 (read-error)"
        "::could not read file",
    ]


def test_github_escapes_properties(tmp_path):
    odd = Finding("CKL101", "a,b", Severity.ERROR, "m", Location(tmp_path / "x,y:z.py", 1, 1))
    assert run([odd], "github", tmp_path).startswith(
        "::error file=x%2Cy%3Az.py,line=1,col=1,endLine=1,endColumn=1,title=CKL101 (a%2Cb)::m")


def test_github_step_summary(findings, project, monkeypatch):
    summary = project / "summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    run(findings + findings[:1], "github", project.parent)
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("earlier step\n### ckpt-lint\n")
    assert "Found 2 errors, 1 warning, 1 info." in text
    assert "| CKL101 | head-size-mismatch | error | 2 |" in text
    assert "| CKL102 | vocab-size-mismatch | warning | 1 |" in text


def test_github_step_summary_unwritable_is_ignored(findings, project, monkeypatch):
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(project))  # a directory: open() fails
    assert run(findings, "github", project.parent).count("\n") == 3


# -- sarif ------------------------------------------------------------------------------------

TEXT = {"type": "object", "required": ["text"], "properties": {"text": {"type": "string", "minLength": 1}}}
GITHUB_MINIMUM = {
    "type": "object",
    "required": ["$schema", "version", "runs"],
    "properties": {
        "version": {"const": "2.1.0"},
        "runs": {"type": "array", "minItems": 1, "items": {
            "type": "object",
            "required": ["tool", "results"],
            "properties": {
                "tool": {"type": "object", "required": ["driver"], "properties": {"driver": {
                    "type": "object",
                    "required": ["name", "rules"],
                    "properties": {"name": {"type": "string"}, "rules": {"type": "array", "items": {
                        "type": "object",
                        "required": ["id", "shortDescription", "fullDescription", "help"],
                        "properties": {"id": {"type": "string"}, "shortDescription": TEXT,
                                       "fullDescription": TEXT, "help": TEXT},
                    }}},
                }}},
                "results": {"type": "array", "items": {
                    "type": "object",
                    "required": ["message", "locations", "partialFingerprints"],
                    "properties": {
                        "message": TEXT,
                        "locations": {"type": "array", "minItems": 1, "maxItems": 10, "items": {
                            "type": "object",
                            "required": ["physicalLocation"],
                            "properties": {"physicalLocation": {
                                "type": "object",
                                "required": ["artifactLocation", "region"],
                                "properties": {
                                    "artifactLocation": {"type": "object", "required": ["uri"]},
                                    "region": {"type": "object", "required": ["startLine"]},
                                },
                            }},
                        }},
                        "partialFingerprints": {"type": "object", "minProperties": 1},
                    },
                }},
            },
        }},
    },
}


def sarif(findings, project: Path) -> dict:
    return json.loads(run(findings, "sarif", project.parent, root=project, tool_version="1.2.3"))


def test_sarif_matches_github_minimum(findings, project):
    jsonschema.Draft202012Validator(GITHUB_MINIMUM).validate(sarif(findings, project))


def test_sarif_matches_official_schema(findings, project):
    schema = json.loads((DATA / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    validator = jsonschema.Draft4Validator(schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)
    validator.validate(sarif(findings, project))
    validator.validate(sarif([], project))


def test_sarif_tool_and_rules(findings, project):
    log = sarif(findings, project)
    assert log["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json" and log["version"] == "2.1.0"
    (run_,) = log["runs"]
    driver = run_["tool"]["driver"]
    assert (driver["name"], driver["semanticVersion"]) == ("ckpt-lint", "1.2.3")
    assert driver["informationUri"].startswith("https://")
    assert [r["id"] for r in driver["rules"]] == ["CKL001", "CKL101", "CKL102"]
    unknown, head, vocab = driver["rules"]
    assert head["name"] == "head-size-mismatch"
    assert head["shortDescription"]["text"] == "Classifier head size differs from the number of labels."
    assert head["fullDescription"]["text"] == HeadSize.doc()
    assert head["help"] == {"text": HeadSize.doc(), "markdown": HeadSize.doc()}
    assert head["defaultConfiguration"]["level"] == "error"
    assert vocab["defaultConfiguration"]["level"] == "warning"
    assert unknown["shortDescription"]["text"] == "read-error"  # no rule class: a stub
    assert unknown["defaultConfiguration"]["level"] == "note"
    for result in run_["results"]:
        assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
    assert [r["level"] for r in run_["results"]] == ["error", "warning", "note"]


def test_sarif_locations_are_relative_to_root(findings, project):
    (run_,) = sarif(findings, project)["runs"]
    assert run_["originalUriBaseIds"]["%SRCROOT%"]["uri"] == project.as_uri() + "/"
    first = run_["results"][0]
    assert first["message"]["text"] == findings[0].message
    (location,) = first["locations"]
    assert location["physicalLocation"] == {
        "artifactLocation": {"uri": "train.py", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 3, "startColumn": 15, "endLine": 3, "endColumn": 28},
    }
    (related,) = first["relatedLocations"]
    assert related["message"]["text"] == "label list"
    assert related["physicalLocation"]["artifactLocation"] == {"uri": "labels.yaml", "uriBaseId": "%SRCROOT%"}
    assert related["physicalLocation"]["region"] == {"startLine": 1, "startColumn": 1, "endLine": 3, "endColumn": 8}
    (fix,) = first["fixes"]
    assert fix["description"]["text"] == "set num_labels=2"
    (change,) = fix["artifactChanges"]
    assert change["replacements"] == [{
        "deletedRegion": {"startLine": 3, "startColumn": 26, "endLine": 3, "endColumn": 28},
        "insertedContent": {"text": "2"},
    }]
    assert "fixes" not in run_["results"][1]
    # no end column given: the region runs to the end of the line
    assert run_["results"][1]["locations"][0]["physicalLocation"]["region"] == {
        "startLine": 1, "startColumn": 8, "endLine": 1}


def test_sarif_uris_forward_slashes_and_encoded(project):
    nested = project / "sub dir" / "cfg.yaml"
    nested.parent.mkdir()
    nested.write_text("a: 1\n", encoding="utf-8")
    outside = project.parent / "outside.py"
    made = [Finding("CKL101", "n", Severity.ERROR, "m", Location(p, 1, 1)) for p in (nested, outside)]
    inside, other = (r["locations"][0]["physicalLocation"]["artifactLocation"]
                     for r in sarif(made, project)["runs"][0]["results"])
    assert inside == {"uri": "sub%20dir/cfg.yaml", "uriBaseId": "%SRCROOT%"}
    assert other == {"uri": outside.as_uri()}


def test_sarif_fingerprints_stable(findings, project):
    def prints(log):
        return [r["partialFingerprints"]["ckptLint/v1"] for r in log["runs"][0]["results"]]

    first = prints(sarif(findings, project))
    assert first == prints(sarif(findings, project))
    assert len(set(first)) == len(first)
    # a line inserted above moves the finding but keeps its fingerprint
    train = project / "train.py"
    train.write_text("# new comment\n" + TRAIN_PY, encoding="utf-8")
    moved = dataclasses.replace(findings[0], location=Location(train, 4, 15, 4, 28))
    assert prints(sarif([moved], project))[0] == first[0]
    # identical findings on identical lines differ by their occurrence counter
    twice = prints(sarif([findings[1], findings[1]], project))
    assert twice[0] != twice[1] and twice[0].rsplit(":", 1)[0] == twice[1].rsplit(":", 1)[0]


# -- full -------------------------------------------------------------------------------------


def test_full_plain(findings, project):
    out = run(findings, "full", project.parent, color=False)
    assert ANSI not in out
    lines = out.splitlines()
    assert lines[:10] == [
        "CKL101 [error] num_labels=10 but labels.yaml has 2 labels",
        "  (checked at 100%)",
        " --> my proj/train.py:3:15",
        "  |",
        "3 | model = build(num_labels=10)",
        "  |" + " " * 15 + "^" * 13,
        "  |",
        "related: my proj/labels.yaml:1:1: label list",
        "help: [*] set num_labels=2",  # a safe fix with edits: --fix applies it
        "",
    ]
    assert lines[10:16] == [
        "CKL102 [warning] vocab_size=3 but the tokenizer has 5 tokens",
        " --> my proj/train.py:1:8",
        "  |",
        "1 | import torch",
        "  |        ^",
        "  |",
    ]
    # a missing file: no excerpt, no crash
    assert lines[17:20] == ["CKL001 [info] could not read file", " --> my proj/gone.py:2:3", ""]
    assert lines[-1] == "Found 1 error, 1 warning, 1 info."


def test_full_marks_only_the_fixes_fix_would_apply(findings, project):
    safe = findings[0]
    unsafe = dataclasses.replace(safe, fix=dataclasses.replace(safe.fix, applicability="unsafe"))
    hint = dataclasses.replace(safe, fix=Fix("set num_labels=2"))  # display-only, no edits

    def help_lines(finding, **kwargs):
        out = run([finding], "full", project.parent, color=False, **kwargs)
        return [line for line in out.splitlines() if line.startswith("help")]

    assert help_lines(unsafe) == ["help: set num_labels=2"]  # hidden unless --unsafe-fixes
    assert help_lines(unsafe, unsafe_fixes=True) == ["help: [*] set num_labels=2"]
    assert help_lines(hint, unsafe_fixes=True) == ["help: set num_labels=2"]


def test_full_colour(findings, project):
    coloured = run(findings, "full", project.parent, color=True)
    assert ANSI in coloured
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == run(findings, "full", project.parent, color=False)


def test_full_auto_colour_off_for_non_tty(findings, project):
    assert ANSI not in run(findings, "full", project.parent)


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_full_auto_colour_on_for_tty_unless_no_color(findings, project, monkeypatch):
    def render_tty() -> str:
        out = _Tty()
        render(findings, "full", stream=out, cwd=project.parent, root=project, rules=RULES)
        return out.getvalue()

    assert ANSI in render_tty()
    monkeypatch.setenv("NO_COLOR", "1")
    assert ANSI not in render_tty()


def test_full_empty(tmp_path):
    assert run([], "full", tmp_path, color=False) == "All checks passed!\n"


def test_full_never_wraps_and_handles_unicode(tmp_path):
    src = tmp_path / "wide.py"
    src.write_text("\tx = '日本語' + y  # " + "z" * 300 + "\n", encoding="utf-8")
    message = "long " * 60 + "ünïcödé ✓"
    out = run([Finding("CKL101", "n", Severity.ERROR, message, Location(src, 1, 14, 1, 15))], "full",
              tmp_path, color=False)
    lines = out.splitlines()
    assert lines[0] == f"CKL101 [error] {message}"
    source, caret = lines[3], lines[4]
    assert source.startswith("1 |     x = '日本語' + y")  # tab shown as 4 spaces
    # '日本語' is 3 characters but 6 cells wide: the caret sits under "y"
    assert caret == "  |" + " " * len(" " + " " * 4 + "x = '日本語' + ") + " " * 3 + "^"
    assert len(source) > 300


def test_full_unencodable_stream(findings, project):
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii")
    bad = Finding("CKL101", "n", Severity.ERROR, "héad ✓", findings[0].location)
    render([bad], "full", stream=stream, cwd=project.parent, root=project, rules=RULES, color=False)
    stream.flush()
    assert raw.getvalue().decode("ascii").startswith("CKL101 [error] h?ad ?")
