"""`--output-format json` against its published, versioned schema (ckpt_lint/data/report.schema.json).

The schema is loaded from the installed package through importlib.resources, as a consumer would,
not from the source tree. It is strict (`additionalProperties: false`, every emitted field required),
so any drift of the output (a field added, renamed, retyped) fails here and must come with a new
schema version. The projects cover every shape the output has: an error with related locations, read
problems (CKL001), fixes with edits (safe and unsafe), notebook cells, and the empty array.
"""

from __future__ import annotations

import json
import re
import shutil
from importlib import resources
from pathlib import Path

import pytest

from ckpt_lint.cli import main

jsonschema = pytest.importorskip("jsonschema")

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
SCHEMA_VERSION = 1


def load_schema() -> dict:
    return json.loads(resources.files("ckpt_lint").joinpath("data", "report.schema.json").read_text("utf-8"))


SCHEMA = load_schema()
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path_factory):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path_factory.mktemp("empty-hf-cache")))
    for var in ("CKPT_LINT_OUTPUT_FORMAT", "CKPT_LINT_DEBUG", "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def json_output(monkeypatch, capsys):
    """`json_output(*args, cwd=folder)` -> (exit code, the parsed JSON array), validated against the schema."""

    def run(*args, cwd: Path) -> tuple[int, list]:
        monkeypatch.chdir(cwd)
        capsys.readouterr()
        code = main([*map(str, args), "--isolated", "--output-format", "json"])
        out, err = capsys.readouterr()
        assert "Traceback" not in err and "internal error" not in err, err
        data = json.loads(out)
        errors = sorted(VALIDATOR.iter_errors(data), key=lambda e: list(e.absolute_path))
        assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)
        return code, data

    return run


def copy_fixture(case: str, dest: Path) -> Path:
    shutil.copytree(FIXTURES / case, dest, ignore=shutil.ignore_patterns("expected.txt", "runtime.json"))
    return dest


# --------------------------------------------------------------------------------------------
# the schema itself


def test_schema_is_valid_draft_2020_12_and_versioned():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert SCHEMA["x-ckpt-lint-schema-version"] == SCHEMA_VERSION
    assert re.fullmatch(rf"https://ckpt-lint\.dev/schema/report-{SCHEMA_VERSION}\.json", SCHEMA["$id"])
    assert SCHEMA["type"] == "array"  # like ruff's: one array, not an envelope


def test_schema_ships_in_the_package_data():
    """pyproject's package-data (data/*.json) is what puts it in the wheel."""
    text = (REPO / "pyproject.toml").read_text()
    assert re.search(r'ckpt_lint\s*=\s*\[[^\]]*"data/\*\.json"', text)
    assert resources.files("ckpt_lint").joinpath("data", "report.schema.json").is_file()


def test_every_object_is_closed():
    """Strictness is what makes drift visible: every object in the schema forbids unknown fields."""
    objects = [d for d in SCHEMA["$defs"].values() if d.get("type") == "object"]
    assert {"finding", "related", "fix", "edit", "point"} <= {k for k, d in SCHEMA["$defs"].items() if d in objects}
    for definition in objects:
        assert definition["additionalProperties"] is False
        assert set(definition["required"]) <= set(definition["properties"])


# --------------------------------------------------------------------------------------------
# real output


def test_error_with_related_locations(json_output):
    code, data = json_output(".", cwd=REPO / "examples" / "deepke-ner")
    assert code == 1
    [finding] = data
    assert finding["code"] == "CKL101" and finding["severity"] == "error"
    assert len(finding["related"]) == 3 and all(r["note"] for r in finding["related"])
    assert finding["fix"]["message"]


def test_error_with_related_locations_from_the_repository_root(json_output):
    _, [finding] = json_output("examples/deepke-ner", cwd=REPO)
    assert finding["path"] == "examples/deepke-ner/run_bert.py"


def test_read_problems(json_output, tmp_path):
    proj = copy_fixture("CKL001/bad_inputs", tmp_path / "proj")
    code, data = json_output(".", cwd=proj)
    assert code == 1
    read = [f for f in data if f["code"] == "CKL001"]
    assert len(read) >= 4
    assert all(f["fix"] is None and f["related"] == [] and f["severity"] == "warning" for f in read)


def test_unsafe_pickle_and_warnings(json_output, tmp_path):
    proj = copy_fixture("CKL004/unsafe_pickle", tmp_path / "proj")
    _, data = json_output(".", cwd=proj)
    assert "CKL004" in {f["code"] for f in data}


@pytest.mark.parametrize(("case", "applicability"), [("CKL201/added_pad_token", "safe"),
                                                     ("CKL101/labels_file", "unsafe")])
def test_fixes_with_edits(json_output, tmp_path, case, applicability):
    proj = copy_fixture(case, tmp_path / "proj")
    _, [finding] = json_output(".", cwd=proj)
    fix = finding["fix"]
    assert fix["applicability"] == applicability
    assert fix["edits"] and fix["edits"][0]["path"] == finding["path"]


def test_notebook_cells(json_output, tmp_path):
    pytest.importorskip("ckpt_lint.sources.notebook")
    proj = tmp_path / "nb"
    shutil.copytree(FIXTURES / "CKL101" / "labels_file" / "checkpoints" / "ner-7", proj / "checkpoints" / "ner-7")

    def cell(*lines: str) -> dict:
        return {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                "source": [line + "\n" for line in lines[:-1]] + [lines[-1]]}

    notebook = {"cells": [cell("import os", "from transformers import AutoModelForTokenClassification"),
                          cell("CKPT = os.path.join('checkpoints', 'ner-7')", "tags = ['O', 'B-PER', 'I-PER']"),
                          cell("model = AutoModelForTokenClassification.from_pretrained(CKPT, num_labels=len(tags))")],
                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (proj / "train.ipynb").write_text(json.dumps(notebook, indent=1))
    code, [finding] = json_output(".", cwd=proj)
    assert code == 1 and finding["code"] == "CKL101"
    assert (finding["path"], finding["cell"], finding["line"]) == ("train.ipynb", 3, 1)
    assert any(r.get("cell") == 2 for r in finding["related"])


def test_empty_run_is_an_empty_array(json_output):
    assert json_output(".", cwd=REPO / "examples" / "deepke-ner-fixed") == (0, [])


# --------------------------------------------------------------------------------------------
# the schema rejects drift


def _finding() -> dict:
    return {"code": "CKL101", "name": "head-size-mismatch", "severity": "error", "message": "m", "path": "a.py",
            "line": 1, "column": 1, "end_line": 1, "end_column": 2,
            "fix": {"message": "f", "applicability": "safe",
                    "edits": [{"path": "a.py", "start": {"line": 1, "column": 1}, "end": {"line": 1, "column": 1},
                               "content": "x"}]},
            "related": [{"path": "b.yaml", "line": 2, "column": 1, "end_line": 2, "end_column": 1, "note": ""}],
            "url": None}


def _drop(key):
    return lambda f: f.pop(key)


@pytest.mark.parametrize("change", [
    lambda f: f.update(extra=1),  # a new field
    _drop("end_line"),  # a field gone
    lambda f: f.update(severity="fatal"),
    lambda f: f.update(line=0),  # 0-based
    lambda f: f.update(column="1"),
    lambda f: f.update(code="ckl101"),
    lambda f: f.update(cell=0),
    lambda f: f["related"][0].update(extra=1),
    lambda f: f["related"][0].pop("note"),
    lambda f: f["fix"].update(applicability="maybe"),
    lambda f: f["fix"].update(extra=1),
    lambda f: f["fix"]["edits"][0]["start"].update(offset=3),
])
def test_schema_rejects(change):
    finding = _finding()
    assert VALIDATOR.is_valid([finding])
    change(finding)
    assert not VALIDATOR.is_valid([finding])


def test_schema_accepts_optional_cells_and_a_hint_only_fix():
    finding = _finding()
    finding["cell"] = 3
    finding["related"][0]["cell"] = 1
    finding["fix"] = {"message": "hint", "applicability": "display-only", "edits": []}
    assert VALIDATOR.is_valid([finding])
    finding["fix"] = None
    assert VALIDATOR.is_valid([finding])
    assert not VALIDATOR.is_valid(finding)  # the output is the array
