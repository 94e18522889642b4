"""Jupyter notebooks: code cells linted as one module run top to bottom, with ruff's cell positions.

Every notebook here is written by the test as Jupyter writes one (nbformat 4, one source line per list
item, `indent=1`), next to a copy of a real checkpoint folder from the fixtures (7 labels: `id2label`
in config.json and `classifier.weight [7, 32]` in model.safetensors). Cells are numbered as ruff
numbers them: 1-based among all cells, markdown cells included.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import jsonschema
import pytest

from ckpt_lint.cli import main
from ckpt_lint.discover import discover
from ckpt_lint.sources.notebook import blank_ipython, load_notebook

REPO = Path(__file__).resolve().parents[1]
CHECKPOINT = REPO / "tests" / "fixtures" / "CKL101" / "labels_file" / "checkpoints" / "ner-7"
SARIF_SCHEMA = REPO / "tests" / "data" / "sarif-schema-2.1.0.json"
MATCHERS = json.loads((REPO / ".github" / "ckpt-lint-matcher.json").read_text(encoding="utf-8"))["problemMatcher"]

LOAD = "model = AutoModelForTokenClassification.from_pretrained(CKPT, num_labels=len(tags))"
HEAD_MESSAGE = ("CKL101 AutoModelForTokenClassification head has 5 labels (num_labels=len(tags) from `labels` in "
                "conf/train.yaml, 2 items) but checkpoint checkpoints/ner-7 was trained with 7 (classifier.weight "
                "[7, 32] in checkpoints/ner-7/model.safetensors): from_pretrained raises a size mismatch for the "
                "classifier")


def code(*lines: str, **extra) -> dict:
    """A code cell as Jupyter stores it: one string per line, each but the last ending in a newline."""
    source = [line + "\n" for line in lines[:-1]] + list(lines[-1:])
    return {"cell_type": "code", "execution_count": None, "id": f"c{len(lines)}", "metadata": {},
            "outputs": [], "source": source, **extra}


def markdown(text: str) -> dict:
    return {"cell_type": "markdown", "id": "md", "metadata": {}, "source": [text]}


def write_notebook(path: Path, cells: list[dict], *, language: str = "python", nbformat: int = 4) -> Path:
    doc = {"cells": cells, "metadata": {"kernelspec": {"display_name": "Python 3", "language": language,
                                                       "name": "python3"}},
           "nbformat": nbformat, "nbformat_minor": 5}
    path.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    return path


def deepke_cells(load: str = LOAD) -> list[dict]:
    """A DeepKE-style fine-tuning notebook: the entity types in conf/train.yaml, BIO tags built in a cell.

    Cell 1 markdown, 2 setup with magics, 3 markdown, 4 the tag list, 5 the load (line 2)."""
    return [
        markdown("# Fine-tune an NER head\n"),
        code("%pip install -q transformers pyyaml", "!nvidia-smi", "%matplotlib inline",
             "import os", "import yaml", "from transformers import AutoModelForTokenClassification"),
        markdown("Load the entity types and the checkpoint trained with 3 of them."),
        code("with open(os.path.join('conf', 'train.yaml')) as f:",
             "    cfg = yaml.safe_load(f)",
             "tags = ['O'] + [f'{p}-{t}' for t in cfg['labels'] for p in ('B', 'I')]",
             "CKPT = os.path.join('checkpoints', 'ner-7')"),
        code("print(len(tags))", load),
    ]


def literal_cells() -> list[dict]:
    """The same notebook with the tag list written in cell 4 (5 tags, the checkpoint has 7)."""
    cells = deepke_cells()
    cells[3] = code("CKPT = os.path.join('checkpoints', 'ner-7')", "",
                    "tags = ['O', 'B-PER', 'I-PER', 'B-ORG', 'I-ORG']")
    return cells


LITERAL_MESSAGE = HEAD_MESSAGE.replace("from `labels` in conf/train.yaml, 2 items",
                                       "from a list of 5 items in notebook.ipynb")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    proj = tmp_path / "my nb"
    shutil.copytree(CHECKPOINT, proj / "checkpoints" / "ner-7")
    (proj / "conf").mkdir()
    (proj / "conf" / "train.yaml").write_text("labels: [PER, ORG]\n", encoding="utf-8")
    write_notebook(proj / "notebook.ipynb", deepke_cells())
    return proj


@pytest.fixture
def lint(monkeypatch, capsys):
    """`lint(*args, cwd=folder)` -> (exit code, stdout): ckpt-lint in-process, offline, isolated."""

    def run(*args, cwd: Path, fmt: str = "concise") -> tuple[int, str]:
        monkeypatch.chdir(cwd)
        capsys.readouterr()
        status = main([*map(str, args), "--isolated", "--output-format", fmt])
        out, err = capsys.readouterr()
        assert "Traceback" not in err and "internal error" not in err, err
        return status, out

    return run


def finding_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line and not line.startswith(("Found ", "All checks"))]


# -- the DeepKE-style head mismatch ------------------------------------------------------------------


def test_head_mismatch_in_a_cell_concise(project, lint):
    status, out = lint(".", cwd=project)
    assert status == 1
    assert finding_lines(out) == [f"notebook.ipynb:cell 5:2:9: {HEAD_MESSAGE}"]


def test_head_mismatch_in_a_cell_json(project, lint):
    _, out = lint(".", cwd=project, fmt="json")
    (finding,) = json.loads(out)
    assert finding["code"] == "CKL101"
    assert (finding["path"], finding["cell"], finding["line"], finding["column"]) == ("notebook.ipynb", 5, 2, 9)
    assert (finding["end_line"], finding["end_column"]) == (2, 9 + len(LOAD) - len("model = "))
    yaml_related = finding["related"][0]
    assert "cell" not in yaml_related
    assert (yaml_related["path"], yaml_related["line"]) == (str(Path("conf/train.yaml")), 1)


def test_related_location_in_another_cell(project, lint):
    write_notebook(project / "notebook.ipynb", literal_cells())
    _, out = lint(".", cwd=project)
    assert finding_lines(out) == [f"notebook.ipynb:cell 5:2:9: {LITERAL_MESSAGE}"]
    _, out = lint(".", cwd=project, fmt="json")
    (finding,) = json.loads(out)
    related = finding["related"][0]  # the list literal: cell 4, line 3, column 8
    assert (related["path"], related["cell"], related["line"], related["column"]) == ("notebook.ipynb", 4, 3, 8)
    assert (related["end_line"], related["end_column"]) == (3, 49)
    _, out = lint(".", cwd=project, fmt="full")
    assert "related: notebook.ipynb:cell 4:3:8: a list of 5 items in notebook.ipynb" in out.splitlines()


def test_fixed_notebook_is_clean(project, lint):
    (project / "conf" / "train.yaml").write_text("labels: [PER, ORG, LOC]\n", encoding="utf-8")
    status, out = lint(".", cwd=project)
    assert (status, out) == (0, "")


def test_full_format_shows_the_cell_and_its_own_lines(project, lint):
    _, out = lint(".", cwd=project, fmt="full")
    lines = out.splitlines()
    assert " --> notebook.ipynb:cell 5:2:9" in lines
    assert f"2 | {LOAD}" in lines  # the cell's line 2 with its text, not line 2 of the JSON file
    caret = lines[lines.index(f"2 | {LOAD}") + 1]
    assert caret == "  | " + " " * 8 + "^" * (len(LOAD) - 8)
    assert "related: conf/train.yaml:1:1: `labels` in conf/train.yaml, 2 items".replace("/", os.sep) in lines


def test_named_notebook_run_pre_commit_style(project, lint, tmp_path):
    status, out = lint(project / "notebook.ipynb", cwd=tmp_path)
    assert status == 1
    inside = "my nb" + os.sep
    message = HEAD_MESSAGE.replace("conf/", inside + "conf/").replace("checkpoints/", inside + "checkpoints/")
    assert finding_lines(out) == [f"{inside}notebook.ipynb:cell 5:2:9: {message}"]


def test_notebook_discovery_honours_excludes_and_checkpoints_folder(project, lint):
    (project / ".ipynb_checkpoints").mkdir()
    shutil.copy(project / "notebook.ipynb", project / ".ipynb_checkpoints" / "notebook-checkpoint.ipynb")
    shutil.copy(project / "notebook.ipynb", project / "scratch.ipynb")
    (project / ".gitignore").write_text("scratch.ipynb\n", encoding="utf-8")
    files = discover([project], root=project, excludes=[])
    assert [(f.path.name, f.kind) for f in files if f.path.suffix == ".ipynb"] == [("notebook.ipynb", "notebook")]
    _, out = lint(".", cwd=project)
    assert [line.split(":cell")[0] for line in finding_lines(out)] == ["notebook.ipynb"]


# -- IPython syntax --------------------------------------------------------------------------------


def test_magics_and_shell_escapes_are_blanked_in_place():
    lines = ["%pip install transformers", "!nvidia-smi", "files = !ls data", "AutoModel?", "?AutoModel",
             "AutoModel.from_pretrained??", "x = (1", "     % 2)  # still Python: inside brackets",
             "print(x)  # a comment may end with ?", "if x:", "    !echo indented", "pip install peft",
             "s = '''", "%not a magic inside a string", "'''"]
    assert blank_ipython(lines) == ["", "", "", "", "", "", "x = (1", "     % 2)  # still Python: inside brackets",
                                    "print(x)  # a comment may end with ?", "if x:", "    pass", "",
                                    "s = '''", "%not a magic inside a string", "'''"]
    assert blank_ipython(["%%bash", "ls -la", "echo \"it's\""]) == ["", "", ""]
    assert blank_ipython(["%%time", "y = 2"]) == ["", "y = 2"]  # a cell magic whose body is Python


def test_magics_shell_escapes_and_cell_magics_give_no_ckl001(project, lint):
    cells = deepke_cells()
    cells[1] = code("%pip install transformers", "!nvidia-smi", "%matplotlib inline", "%load_ext autoreload",
                    "files = !ls", "import os", "import yaml",
                    "from transformers import AutoModelForTokenClassification",
                    "AutoModelForTokenClassification?", "if not files:", "    !wget https://example.org/data.zip")
    cells.insert(2, code("%%bash", "set -e", "for f in *.json; do echo \"$f\"; done", "cat <<'EOF'", "it's", "EOF"))
    cells[-1] = code("%%time", "print(len(tags))", LOAD)  # the body of %%time runs as Python
    write_notebook(project / "notebook.ipynb", cells)
    _, out = lint(".", cwd=project)
    assert [line[:line.index(" CKL") + 7] for line in finding_lines(out)] == ["notebook.ipynb:cell 6:3:9: CKL101"]


# -- unreadable notebooks and cells ----------------------------------------------------------------


def test_cell_with_syntax_error_is_ckl001_in_that_cell_and_the_rest_is_linted(project, lint):
    cells = deepke_cells()
    cells.insert(2, code("total = 0", "print(1 +)", "total += 1"))  # cell 3
    write_notebook(project / "notebook.ipynb", cells)
    _, out = lint(".", cwd=project)
    assert finding_lines(out) == [
        "notebook.ipynb:cell 3:2:10: CKL001 cannot read notebook.ipynb: invalid Python syntax: unexpected token",
        f"notebook.ipynb:cell 6:2:9: {HEAD_MESSAGE}",
    ]
    _, full = lint(".", cwd=project, fmt="full")
    assert " --> notebook.ipynb:cell 3:2:10" in full.splitlines() and "2 | print(1 +)" in full.splitlines()


def test_broken_json_and_binary_notebooks_are_ckl001_and_the_run_goes_on(project, lint):
    broken = '{\n "cells": [\n  {"cell_type": "code", "source": "x = 1"\n'
    (project / "broken.ipynb").write_text(broken, encoding="utf-8")
    (project / "blob.ipynb").write_bytes(b"PK\x03\x04\x00\x00 model.from_pretrained")
    (project / "empty.ipynb").write_text("[]", encoding="utf-8")
    status, out = lint(".", cwd=project)
    assert status == 1
    assert finding_lines(out) == [
        "blob.ipynb:1:1: CKL001 cannot read blob.ipynb: binary file, not text",
        "broken.ipynb:4:1: CKL001 cannot read broken.ipynb: invalid notebook JSON: Expecting ',' delimiter",
        'empty.ipynb:1:1: CKL001 cannot read empty.ipynb: not a Jupyter notebook: no "cells" list '
        '(nor nbformat 3 "worksheets")',
        f"notebook.ipynb:cell 5:2:9: {HEAD_MESSAGE}",
    ]


def test_other_kernel_languages_are_not_read_as_python(project, lint):
    write_notebook(project / "analysis.ipynb", [code("library(ggplot2)", "x <- from_pretrained(1)")], language="R")
    _, out = lint(".", cwd=project)
    assert [line.split(":")[0] for line in finding_lines(out)] == ["notebook.ipynb"]


# -- suppression -----------------------------------------------------------------------------------


def test_suppression_comment_in_a_cell(project, lint):
    cells = deepke_cells(load=LOAD + "  # ckpt-lint: ignore[CKL101]")
    write_notebook(project / "notebook.ipynb", cells)
    assert lint(".", cwd=project) == (0, "")


def test_suppression_is_cell_aware(project, lint):
    cells = deepke_cells(load=LOAD + "  # ckpt-lint: ignore[CKL102]")  # on the load's line, another code
    assert cells[3]["source"][1] == "    cfg = yaml.safe_load(f)\n"
    cells[3]["source"][1] = "    cfg = yaml.safe_load(f)  # ckpt-lint: ignore[CKL101]\n"  # line 2, but of cell 4
    write_notebook(project / "notebook.ipynb", cells)
    _, out = lint(".", cwd=project)
    assert finding_lines(out) == [f"notebook.ipynb:cell 5:2:9: {HEAD_MESSAGE}"]
    cells = literal_cells()  # the tag list in cell 4, line 3: a related location of the finding
    write_notebook(project / "notebook.ipynb", cells)
    assert finding_lines(lint(".", cwd=project)[1]) == [f"notebook.ipynb:cell 5:2:9: {LITERAL_MESSAGE}"]
    cells[3]["source"][2] += "  # ckpt-lint: ignore[CKL101]"
    write_notebook(project / "notebook.ipynb", cells)
    assert lint(".", cwd=project) == (0, "")


# -- machine formats: positions in the file on disk ------------------------------------------------


def _file_line(path: Path, number: int) -> str:
    return path.read_text(encoding="utf-8").split("\n")[number - 1]


def test_sarif_regions_are_real_lines_of_the_ipynb(project, lint):
    write_notebook(project / "notebook.ipynb", literal_cells())
    _, out = lint(".", cwd=project, fmt="sarif")
    log = json.loads(out)
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft4Validator(schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER).validate(log)
    (result,) = log["runs"][0]["results"]
    (location,) = result["locations"]
    assert location["properties"] == {"cell": 5, "cellLine": 2, "cellColumn": 9}
    region = location["physicalLocation"]["region"]
    text = _file_line(project / "notebook.ipynb", region["startLine"])
    assert text.strip() == json.dumps(LOAD)  # the last source line of cell 5, as the list item stores it
    assert text[region["startColumn"] - 1:].startswith("AutoModelForTokenClassification.from_pretrained(")
    assert text[region["endColumn"] - 2] == ")" and region["endLine"] == region["startLine"]
    related = [r for r in result["relatedLocations"] if r["physicalLocation"]["artifactLocation"]["uri"] ==
               "notebook.ipynb"]
    (cell4,) = related
    rel_region = cell4["physicalLocation"]["region"]
    rel_text = _file_line(project / "notebook.ipynb", rel_region["startLine"])
    assert rel_text.strip() == json.dumps("tags = ['O', 'B-PER', 'I-PER', 'B-ORG', 'I-ORG']")
    marked = rel_text[rel_region["startColumn"] - 1:rel_region["endColumn"] - 1]
    assert marked == "['O', 'B-PER', 'I-PER', 'B-ORG', 'I-ORG']"
    assert cell4["properties"] == {"cell": 4, "cellLine": 3, "cellColumn": 8}


def test_github_annotations_are_real_lines_of_the_ipynb(project, lint):
    write_notebook(project / "notebook.ipynb", literal_cells())
    _, out = lint(".", cwd=project, fmt="github")
    (command,) = out.splitlines()
    props = dict(re.findall(r"(\w+)=([^,:]+)", command.split("::")[1]))
    assert props["file"] == "notebook.ipynb"
    text = _file_line(project / "notebook.ipynb", int(props["line"]))
    assert "from_pretrained(CKPT, num_labels=len(tags))" in text
    assert text[int(props["col"]) - 1:].startswith("AutoModelForTokenClassification")
    assert "related: notebook.ipynb:cell 4:3:8" in command


def test_single_string_sources_map_inside_the_literal(project, lint):
    cells = deepke_cells()
    for cell in cells:
        cell["source"] = "".join(cell["source"])  # nbformat allows one string per cell
    write_notebook(project / "notebook.ipynb", cells)
    _, out = lint(".", cwd=project)
    assert finding_lines(out) == [f"notebook.ipynb:cell 5:2:9: {HEAD_MESSAGE}"]
    _, gh = lint(".", cwd=project, fmt="github")
    props = dict(re.findall(r"(\w+)=([^,:]+)", gh.split("::")[1]))
    text = _file_line(project / "notebook.ipynb", int(props["line"]))
    assert text.lstrip().startswith('"source": "print(len(tags))\\nmodel = ')
    assert text[int(props["col"]) - 1:].startswith("AutoModelForTokenClassification")


def test_nbformat_3_worksheets(project, lint):
    cells = deepke_cells()
    for cell in cells:
        if cell["cell_type"] == "code":
            cell["input"] = cell.pop("source")
    doc = {"metadata": {}, "nbformat": 3, "nbformat_minor": 0,
           "worksheets": [{"cells": cells[:3]}, {"cells": cells[3:]}]}
    (project / "notebook.ipynb").write_text(json.dumps(doc, indent=1), encoding="utf-8")
    _, out = lint(".", cwd=project)
    assert finding_lines(out) == [f"notebook.ipynb:cell 5:2:9: {HEAD_MESSAGE}"]
    _, gh = lint(".", cwd=project, fmt="github")
    props = dict(re.findall(r"(\w+)=([^,:]+)", gh.split("::")[1]))
    assert LOAD in _file_line(project / "notebook.ipynb", int(props["line"]))


def test_cell_numbers_count_every_cell_and_lines_map_back():
    cells = deepke_cells()
    nb = load_notebook(Path("nb.ipynb"), json.dumps({"cells": cells, "metadata": {}, "nbformat": 4}))
    assert [c.number for c in nb.cells] == [2, 4, 5]  # markdown cells 1 and 3 are counted, not read
    module = nb.code.split("\n")
    row = module.index(LOAD) + 1
    cell, line = nb.position(row)
    assert (cell.number, line) == (5, 2)
    assert module[:3] == ["", "", ""]  # %pip, !nvidia-smi, %matplotlib: blank lines, positions kept


# -- the problem matcher ---------------------------------------------------------------------------


def test_concise_notebook_lines_parse_with_the_problem_matcher(project, lint):
    cells = deepke_cells()
    cells.insert(2, code("print(1 +)"))
    write_notebook(project / "notebook.ipynb", cells)
    (project / "train.py").write_text("from transformers import AutoModel\nm = AutoModel.from_pretrained(\n",
                                      encoding="utf-8")
    _, out = lint(".", cwd=project.parent)  # paths with a space: "my nb/notebook.ipynb"
    lines = finding_lines(out)
    assert len(lines) == 3
    python, notebook = (re.compile(m["pattern"][0]["regexp"]) for m in MATCHERS)
    python_pattern, notebook_pattern = (m["pattern"][0] for m in MATCHERS)
    for line in lines:
        is_notebook = ":cell " in line
        assert (python.match(line) is None) == is_notebook, line
        assert (notebook.match(line) is None) != is_notebook, line
        match = (notebook if is_notebook else python).match(line)
        pattern = notebook_pattern if is_notebook else python_pattern
        assert match.group(pattern["file"]) == str(Path("my nb") / ("notebook.ipynb" if is_notebook else "train.py"))
        assert match.group(pattern["code"]) in ("CKL001", "CKL101")
    match = notebook.match(lines[1])
    assert match.group(notebook_pattern["message"]) == lines[1].split(".ipynb:", 1)[1]
