"""The command line end to end, as users run it.

Most runs are in-process (`ckpt_lint.cli.main` with a real working directory and captured
output); a few are real subprocesses of `python -m ckpt_lint` (the FIFO case needs a timeout, and
the module entry point and console script must work on their own). Every project is a real folder
in `tmp_path`, usually a copy of a fixture under tests/fixtures, and every assertion is about what
a user sees: exit codes, exact `path:line:col`, message numbers, stderr.

"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import pytest

from ckpt_lint import __version__
from ckpt_lint.cli import main

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
EXAMPLE = REPO / "examples" / "deepke-ner"
EXAMPLE_FIXED = REPO / "examples" / "deepke-ner-fixed"
MATCHER_FILE = REPO / ".github" / "ckpt-lint-matcher.json"
SARIF_SCHEMA = REPO / "tests" / "data" / "sarif-schema-2.1.0.json"

MATCHER = re.compile(json.loads(MATCHER_FILE.read_text())["problemMatcher"][0]["pattern"][0]["regexp"])
GITHUB_COMMAND = re.compile(
    r"^::(?P<level>error|warning|notice) file=(?P<file>[^,]+),line=(?P<line>\d+),col=(?P<col>\d+),"
    r"endLine=(?P<end_line>\d+),endColumn=(?P<end_col>\d+),title=(?P<title>[A-Z]+\d+)[^:]*::(?P<message>.*)$"
)
ANSI = "\x1b"

# What the labels_file fixture reports (the one-finding workhorse of these tests).
LABELS_CASE = "CKL101/labels_file"
LABELS_AT = "predict.py:13:9"
LABELS_LOAD_LINE = 13
# What the CKL102 fixture reports (a warning only).
CONFLICT_CASE = "CKL102/num_labels_id2label"
CONFLICT_AT = "train.py:3:62"


# --------------------------------------------------------------------------------------------
# helpers


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def findings(self) -> list[str]:
        """The concise finding lines (summary and blank lines left out)."""
        return [line for line in self.out.splitlines() if MATCHER.match(line)]

    @property
    def codes(self) -> list[str]:
        return [MATCHER.match(line).group(4) for line in self.findings]

    def at(self, code: str) -> list[str]:
        """`path:line:col` of every concise finding with `code`."""
        return [":".join(m.group(1, 2, 3)) for m in map(MATCHER.match, self.findings) if m.group(4) == code]


def assert_clean_stderr(err: str) -> None:
    assert "Traceback" not in err, err
    assert "internal error" not in err, err


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path_factory):
    """No real HF cache, no colour or format forced from the environment, no CI side files."""
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path_factory.mktemp("empty-hf-cache")))
    for var in ("HUGGINGFACE_HUB_CACHE", "NO_COLOR", "FORCE_COLOR", "CKPT_LINT_OUTPUT_FORMAT",
                "CKPT_LINT_DEBUG", "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def cli(monkeypatch, capsys):
    """`cli(*args, cwd=folder)`: run `ckpt-lint args` in-process from `folder`."""

    def run(*args, cwd: Path) -> Result:
        monkeypatch.chdir(cwd)
        capsys.readouterr()
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        assert_clean_stderr(err)
        return Result(code, out, err)

    return run


def run_module(*args, cwd: Path, timeout: float = 60) -> Result:
    """A real `python -m ckpt_lint args` subprocess (inherits the test's environment)."""
    proc = subprocess.run([sys.executable, "-m", "ckpt_lint", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)
    assert_clean_stderr(proc.stderr)
    return Result(proc.returncode, proc.stdout, proc.stderr)


def copy_fixture(case: str, dest: Path) -> Path:
    """A fixture project copied to `dest` (without its test bookkeeping files)."""
    shutil.copytree(FIXTURES / case, dest, ignore=shutil.ignore_patterns("expected.txt", "runtime.json"))
    return dest


def expected(case: str) -> list[str]:
    """The fixture's expected concise lines (as seen from inside the fixture folder)."""
    return [line for line in (FIXTURES / case / "expected.txt").read_text().splitlines() if line.strip()]


def two_findings_project(dest: Path) -> Path:
    """labels_file (CKL101 error in predict.py) plus the CKL102 script and checkpoint (warning in train.py)."""
    copy_fixture(LABELS_CASE, dest)
    shutil.copy(FIXTURES / CONFLICT_CASE / "train.py", dest / "train.py")
    shutil.copytree(FIXTURES / CONFLICT_CASE / "checkpoints" / "bert-tiny", dest / "checkpoints" / "bert-tiny")
    return dest


def append_to_line(path: Path, number: int, text: str) -> None:
    lines = path.read_text().splitlines(keepends=True)
    lines[number - 1] = lines[number - 1].rstrip("\n") + text + "\n"
    path.write_text("".join(lines))


def write_pyproject(folder: Path, body: str) -> Path:
    path = folder / "pyproject.toml"
    path.write_text("[tool.ckpt-lint]\n" + body + "\n")
    return path


# --------------------------------------------------------------------------------------------
# 1. exit codes


def test_error_finding_exits_1(cli, tmp_path):
    proj = copy_fixture(LABELS_CASE, tmp_path / "proj")
    r = cli("--output-format", "concise", cwd=proj)
    assert r.code == 1
    assert r.findings == expected(LABELS_CASE)
    assert r.out.splitlines()[-1] == "Found 1 error."
    assert r.err == ""


def test_fixed_variant_exits_0_and_prints_nothing(cli, tmp_path):
    proj = copy_fixture("CKL101/labels_file_ok", tmp_path / "proj")
    r = cli("--output-format", "concise", cwd=proj)
    assert (r.code, r.out, r.err) == (0, "", "")


def test_exit_zero_flag(cli, tmp_path):
    proj = copy_fixture(LABELS_CASE, tmp_path / "proj")
    r = cli("--output-format", "concise", "--exit-zero", cwd=proj)
    assert r.code == 0
    assert r.findings == expected(LABELS_CASE)  # still reported


@pytest.mark.parametrize(("flags", "code"), [
    ([], 1),  # default fail-on is warning
    (["--fail-on", "error"], 0),
    (["--fail-on", "warning"], 1),
    (["--fail-on", "never"], 0),
])
def test_fail_on_with_only_a_warning(cli, tmp_path, flags, code):
    proj = copy_fixture(CONFLICT_CASE, tmp_path / "proj")
    r = cli("--output-format", "concise", *flags, cwd=proj)
    assert r.code == code
    assert r.findings == expected(CONFLICT_CASE)
    assert r.at("CKL102") == [CONFLICT_AT]


def test_fail_on_error_still_fails_on_an_error(cli, tmp_path):
    proj = copy_fixture(LABELS_CASE, tmp_path / "proj")
    assert cli("--fail-on", "error", cwd=proj).code == 1


def test_fail_on_from_pyproject(cli, tmp_path):
    proj = copy_fixture(CONFLICT_CASE, tmp_path / "proj")
    write_pyproject(proj, 'fail-on = "error"')
    r = cli("--output-format", "concise", cwd=proj)
    assert r.code == 0
    assert r.codes == ["CKL102"]


def test_missing_path_exits_2_with_message(cli, tmp_path):
    r = cli("no-such-dir", "--output-format", "concise", cwd=tmp_path)
    assert r.code == 2
    assert r.out == ""
    assert r.err == "ckpt-lint: no such file or folder: no-such-dir\n"


def test_unknown_output_format_flag_exits_2(cli, tmp_path):
    proj = copy_fixture(LABELS_CASE, tmp_path / "proj")
    r = cli("--output-format", "xml", cwd=proj)
    assert r.code == 2
    assert r.out == ""
    assert "invalid choice: 'xml'" in r.err


def test_unknown_output_format_from_environment_exits_2(cli, tmp_path, monkeypatch):
    proj = copy_fixture(LABELS_CASE, tmp_path / "proj")
    monkeypatch.setenv("CKPT_LINT_OUTPUT_FORMAT", "xml")
    r = cli(cwd=proj)
    assert r.code == 2
    assert r.out == ""
    assert "unknown output format 'xml'" in r.err


def test_unknown_output_format_from_pyproject_exits_2(cli, tmp_path):
    proj = copy_fixture(LABELS_CASE, tmp_path / "proj")
    write_pyproject(proj, 'output-format = "xml"')
    r = cli(cwd=proj)
    assert r.code == 2
    assert "unknown output format 'xml'" in r.err


def test_pyproject_unknown_key_exits_2_naming_the_file(cli, tmp_path):
    proj = copy_fixture(LABELS_CASE, tmp_path / "proj")
    pyproject = write_pyproject(proj, 'ignores = ["CKL101"]')
    r = cli("proj", "--output-format", "concise", cwd=tmp_path)
    assert r.code == 2
    assert r.out == ""
    assert str(pyproject) in r.err
    assert "unknown [tool.ckpt-lint] key(s): ignores" in r.err


def test_pyproject_wrong_value_type_exits_2_naming_the_file(cli, tmp_path):
    proj = copy_fixture(LABELS_CASE, tmp_path / "proj")
    pyproject = write_pyproject(proj, "ignore = 101")
    r = cli("proj", cwd=tmp_path)
    assert r.code == 2
    assert f"{pyproject}: ignore must be a list of strings" in r.err


def test_pyproject_invalid_toml_exits_2_naming_the_file(cli, tmp_path):
    proj = copy_fixture(LABELS_CASE, tmp_path / "proj")
    pyproject = proj / "pyproject.toml"
    pyproject.write_text('[tool.ckpt-lint]\nignore = ["CKL101"\n')  # unclosed array
    r = cli("proj", "--output-format", "concise", cwd=tmp_path)
    assert r.code == 2
    assert str(pyproject) in r.err


def test_config_flag_with_invalid_toml_exits_2_naming_the_file(cli, tmp_path):
    proj = copy_fixture(LABELS_CASE, tmp_path / "proj")
    (tmp_path / "broken.toml").write_text("[tool.ckpt-lint\n")
    r = cli(proj, "--config", "broken.toml", cwd=tmp_path)
    assert r.code == 2
    assert r.out == ""
    assert r.err.startswith("ckpt-lint: broken.toml: cannot read TOML:")


def test_config_flag_with_missing_file_exits_2(cli, tmp_path):
    proj = copy_fixture(LABELS_CASE, tmp_path / "proj")
    r = cli(proj, "--config", "absent.toml", cwd=tmp_path)
    assert r.code == 2
    assert "absent.toml" in r.err


# --------------------------------------------------------------------------------------------
# 2. --explain, --list-rules, --version, --help


@pytest.mark.parametrize("code", ["CKL101", "ckl101"])
def test_explain_prints_the_rule_documentation(cli, tmp_path, code):
    r = cli("--explain", code, cwd=tmp_path)
    assert r.code == 0
    assert r.out.splitlines()[0] == "CKL101 head-size-mismatch (error)"
    sections = ["## What it does", "## Why is this bad?", "## Example", "## How to fix"]
    positions = [r.out.index(s) for s in sections]
    assert positions == sorted(positions)
    assert "size mismatch for classifier.weight" in r.out
    assert "ignore_mismatched_sizes=True" in r.out
    assert r.err == ""


def test_explain_unknown_code_exits_2(cli, tmp_path):
    r = cli("--explain", "CKL999", cwd=tmp_path)
    assert r.code == 2
    assert r.out == ""
    assert r.err.startswith("ckpt-lint: unknown rule 'CKL999'; known: ")
    assert "CKL101" in r.err


def test_list_rules(cli, tmp_path):
    r = cli("--list-rules", cwd=tmp_path)
    assert r.code == 0
    rows = {line.split()[0]: line.split()[1:3] for line in r.out.splitlines()}
    assert rows["CKL001"] == ["unreadable-file", "warning"]
    assert rows["CKL101"] == ["head-size-mismatch", "error"]
    assert rows["CKL102"] == ["num-labels-conflict", "warning"]


def test_version(cli, tmp_path):
    r = cli("--version", cwd=tmp_path)
    assert (r.code, r.out) == (0, f"ckpt-lint {__version__}\n")


def test_help(cli, tmp_path):
    r = cli("--help", cwd=tmp_path)
    assert r.code == 0
    assert r.out.startswith("usage: ckpt-lint")
    for flag in ("--output-format", "--select", "--ignore", "--exclude", "--config", "--isolated",
                 "--exit-zero", "--fail-on", "--explain", "--list-rules"):
        assert flag in r.out


# --------------------------------------------------------------------------------------------
# 3. paths relative to the working directory; single files (pre-commit)


def test_paths_relative_to_parent_folder(cli, tmp_path):
    copy_fixture(LABELS_CASE, tmp_path / "proj")
    r = cli("proj", "--output-format", "concise", cwd=tmp_path)
    assert r.code == 1
    assert r.at("CKL101") == [f"proj/{LABELS_AT}"]
    # paths inside the message are relative to the working directory too
    assert "from proj/data/labels.txt (4 lines)" in r.findings[0]
    assert "checkpoint proj/checkpoints/ner-7 was trained with 7" in r.findings[0]


@pytest.mark.parametrize("args", [["."], []], ids=["dot", "no-path"])
def test_paths_relative_inside_the_project(cli, tmp_path, args):
    proj = copy_fixture(LABELS_CASE, tmp_path / "proj")
    r = cli(*args, "--output-format", "concise", cwd=proj)
    assert r.code == 1
    assert r.findings == expected(LABELS_CASE)
    assert r.at("CKL101") == [LABELS_AT]


def test_paths_relative_from_a_subfolder(cli, tmp_path):
    proj = copy_fixture(LABELS_CASE, tmp_path / "proj")
    r = cli("..", "--output-format", "concise", cwd=proj / "data")
    assert r.at("CKL101") == [f"../{LABELS_AT}"]


@pytest.mark.parametrize(("named", "codes"), [
    ("data/labels.txt", ["CKL101"]),  # the YAML/label list that feeds the finding (related location)
    ("predict.py", ["CKL101"]),  # the finding's own file
    ("checkpoints/ner-7/model.safetensors", ["CKL101"]),  # the checkpoint whose head it compares with
    ("train.py", ["CKL102"]),
    ("checkpoints/ner-7/config.json", []),  # read, but no finding points there
])
def test_single_file_reports_only_findings_that_involve_it(cli, tmp_path, named, codes):
    proj = two_findings_project(tmp_path / "proj")
    (proj / ".git").mkdir()  # as in a pre-commit run from a repository root
    whole = cli("proj", "--output-format", "concise", cwd=tmp_path)
    assert whole.at("CKL101") == [f"proj/{LABELS_AT}"] and whole.at("CKL102") == [f"proj/{CONFLICT_AT}"]

    r = cli(f"proj/{named}", "--output-format", "concise", cwd=tmp_path)
    assert r.codes == codes
    assert r.code == (1 if codes else 0)
    for line in r.findings:
        assert line in whole.findings


def test_several_files_named(cli, tmp_path):
    proj = two_findings_project(tmp_path / "proj")
    (proj / ".git").mkdir()
    r = cli("proj/train.py", "proj/data/labels.txt", "--output-format", "concise", cwd=tmp_path)
    assert r.at("CKL101") == [f"proj/{LABELS_AT}"]
    assert r.at("CKL102") == [f"proj/{CONFLICT_AT}"]


def test_single_file_pre_commit_style_subprocess(tmp_path):
    proj = two_findings_project(tmp_path / "proj")
    (proj / ".git").mkdir()
    r = run_module("data/labels.txt", "--output-format", "concise", cwd=proj)
    assert r.code == 1
    assert r.findings == expected(LABELS_CASE)


def test_single_file_in_subfolder_of_project_without_markers(cli, tmp_path):
    proj = copy_fixture(LABELS_CASE, tmp_path / "proj")
    assert cli(".", "--output-format", "concise", cwd=proj).at("CKL101") == [LABELS_AT]
    r = cli("data/labels.txt", "--output-format", "concise", cwd=proj)
    assert r.at("CKL101") == [LABELS_AT]


# --------------------------------------------------------------------------------------------
# 4. configuration: [tool.ckpt-lint] and the matching flags

BOTH = ["CKL101", "CKL102"]


@pytest.mark.parametrize(("body", "codes"), [
    ("", BOTH),
    ('ignore = ["CKL101"]', ["CKL102"]),
    ('ignore = ["ckl1"]', []),
    ('select = ["CKL0"]', []),
    ('select = ["CKL102"]', ["CKL102"]),
    ('select = ["ALL"]\nignore = ["CKL102"]', ["CKL101"]),
    ('per-file-ignores = {"predict.py" = ["CKL101"]}', ["CKL102"]),
    ('per-file-ignores = {"*.py" = ["CKL102"]}', ["CKL101"]),
    ('per-file-ignores = {"predict.py" = ["CKL102"]}', BOTH),
    ('exclude = ["predict.py"]', ["CKL102"]),
    ('extend-exclude = ["train.py"]', ["CKL101"]),
], ids=lambda v: v if isinstance(v, str) else None)
@pytest.mark.parametrize("where", ["parent", "inside"])
def test_pyproject_settings(cli, tmp_path, body, codes, where):
    proj = two_findings_project(tmp_path / "proj")
    write_pyproject(proj, body)
    if where == "parent":
        r = cli("proj", "--output-format", "concise", cwd=tmp_path)
    else:
        r = cli(".", "--output-format", "concise", cwd=proj)
    assert r.codes == codes
    assert r.code == (1 if codes else 0)


@pytest.mark.parametrize(("flags", "codes"), [
    (["--ignore", "CKL101"], ["CKL102"]),
    (["--ignore", "ckl101,CKL102"], []),
    (["--select", "CKL0"], []),
    (["--select", "CKL101"], ["CKL101"]),
    (["--exclude", "predict.py"], ["CKL102"]),
    (["--exclude", "predict.py", "--exclude", "train.py"], []),
    (["--exclude", "predict.py,train.py"], []),
])
def test_command_line_settings(cli, tmp_path, flags, codes):
    two_findings_project(tmp_path / "proj")
    r = cli("proj", "--output-format", "concise", *flags, cwd=tmp_path)
    assert r.codes == codes
    assert r.code == (1 if codes else 0)


def test_command_line_ignore_adds_to_pyproject_ignore(cli, tmp_path):
    proj = two_findings_project(tmp_path / "proj")
    write_pyproject(proj, 'ignore = ["CKL102"]')
    assert cli("proj", "--output-format", "concise", cwd=tmp_path).codes == ["CKL101"]
    assert cli("proj", "--output-format", "concise", "--ignore", "CKL101", cwd=tmp_path).codes == []


def test_command_line_select_replaces_pyproject_select(cli, tmp_path):
    proj = two_findings_project(tmp_path / "proj")
    write_pyproject(proj, 'select = ["CKL101"]')
    assert cli("proj", "--output-format", "concise", "--select", "CKL102", cwd=tmp_path).codes == ["CKL102"]


def test_pyproject_output_format(cli, tmp_path):
    proj = two_findings_project(tmp_path / "proj")
    write_pyproject(proj, 'output-format = "json"')
    r = cli("proj", cwd=tmp_path)
    assert [d["code"] for d in json.loads(r.out)] == BOTH


def test_isolated_ignores_the_pyproject(cli, tmp_path):
    proj = two_findings_project(tmp_path / "proj")
    write_pyproject(proj, 'ignore = ["ALL"]\nunknown-key = 1')  # not even validated
    r = cli("proj", "--output-format", "concise", "--isolated", cwd=tmp_path)
    assert r.codes == BOTH
    assert r.code == 1


def test_config_flag_reads_another_file(cli, tmp_path):
    proj = two_findings_project(tmp_path / "proj")
    write_pyproject(proj, 'ignore = ["CKL102"]')  # the nearest one: replaced, not merged
    (tmp_path / "settings").mkdir()
    write_pyproject(tmp_path / "settings", 'ignore = ["CKL101"]')
    r = cli("proj", "--output-format", "concise", "--config", "settings/pyproject.toml", cwd=tmp_path)
    assert r.codes == ["CKL102"]


def test_pyproject_in_a_parent_folder_applies(cli, tmp_path):
    two_findings_project(tmp_path / "repo" / "proj")
    write_pyproject(tmp_path / "repo", 'ignore = ["CKL101"]')
    assert cli("repo/proj", "--output-format", "concise", cwd=tmp_path).codes == ["CKL102"]


def test_pyproject_without_the_table_is_not_used(cli, tmp_path):
    proj = two_findings_project(tmp_path / "proj")
    (proj / "pyproject.toml").write_text('[project]\nname = "proj"\n')
    write_pyproject(tmp_path, 'ignore = ["CKL101"]')  # further up, with the table: this one counts
    assert cli("proj", "--output-format", "concise", cwd=tmp_path).codes == ["CKL102"]


@pytest.mark.parametrize("body", [
    'exclude = ["proj/predict.py"]',
    'per-file-ignores = {"proj/*.py" = ["CKL101"]}',
], ids=["exclude", "per-file-ignores"])
def test_pyproject_patterns_are_relative_to_the_pyproject(cli, tmp_path, body):
    copy_fixture(LABELS_CASE, tmp_path / "proj")
    write_pyproject(tmp_path, body)
    assert cli(".", "--output-format", "concise", cwd=tmp_path).codes == []  # works from here
    assert cli("proj", "--output-format", "concise", cwd=tmp_path).codes == []  # same config, same project


def test_command_line_exclude_path_relative_to_working_directory(cli, tmp_path):
    copy_fixture(LABELS_CASE, tmp_path / "proj")
    r = cli("proj", "--output-format", "concise", "--exclude", "proj/predict.py", cwd=tmp_path)
    assert r.codes == []


def test_named_file_is_linted_even_if_excluded_unless_force_exclude(cli, tmp_path):
    proj = copy_fixture(LABELS_CASE, tmp_path / "proj")
    write_pyproject(proj, 'exclude = ["predict.py"]')
    assert cli("proj", "--output-format", "concise", cwd=tmp_path).codes == []
    assert cli("proj/predict.py", "--output-format", "concise", cwd=tmp_path).codes == ["CKL101"]
    r = cli("proj/predict.py", "--output-format", "concise", "--force-exclude", cwd=tmp_path)
    assert (r.code, r.codes) == (0, [])


# --------------------------------------------------------------------------------------------
# 5. discovery


def test_gitignored_script_is_not_linted(cli, tmp_path):
    proj = copy_fixture(LABELS_CASE, tmp_path / "proj")
    (proj / ".gitignore").write_text("# generated\npredict.py\n")
    r = cli("proj", "--output-format", "concise", cwd=tmp_path)
    assert (r.code, r.out) == (0, "")


def test_gitignored_folder_is_not_linted(cli, tmp_path):
    proj = copy_fixture(LABELS_CASE, tmp_path / "proj")
    copy_fixture(LABELS_CASE, proj / "scratch")
    (proj / ".gitignore").write_text("scratch/\n")
    r = cli("proj", "--output-format", "concise", cwd=tmp_path)
    assert r.at("CKL101") == [f"proj/{LABELS_AT}"]


@pytest.mark.parametrize("folder", [".venv", "venv", "node_modules", "site-packages", "__pycache__",
                                    "build", "dist", "lib/python3.11/site-packages", "myenv (pyvenv.cfg)"])
def test_tool_folders_are_skipped(cli, tmp_path, folder):
    proj = copy_fixture(LABELS_CASE, tmp_path / "proj")
    inner = proj / folder.split(" ")[0]
    copy_fixture(LABELS_CASE, inner)  # a complete failing copy of the project inside it
    if "pyvenv.cfg" in folder:
        (inner / "pyvenv.cfg").write_text("home = /usr/bin\n")
    r = cli("proj", "--output-format", "concise", cwd=tmp_path)
    assert r.at("CKL101") == [f"proj/{LABELS_AT}"]


def test_ordinary_subfolder_is_linted(cli, tmp_path):
    """The control for the skip tests: the same copy in an ordinary folder is reported."""
    proj = copy_fixture(LABELS_CASE, tmp_path / "proj")
    copy_fixture(LABELS_CASE, proj / "sub")
    r = cli("proj", "--output-format", "concise", cwd=tmp_path)
    assert r.at("CKL101") == [f"proj/{LABELS_AT}", f"proj/sub/{LABELS_AT}"]


# --------------------------------------------------------------------------------------------
# 6. inline suppression


@pytest.mark.parametrize(("comment", "silenced"), [
    ("  # ckpt-lint: ignore[CKL101]", True),
    ("  # ckpt-lint: ignore", True),
    ("  # ckpt-lint: ignore[ckl101]", True),
    ("  # noqa: E501  ckpt-lint: ignore[CKL102, CKL101]", True),
    ("  # ckpt-lint: ignore[CKL102]", False),
    ("  # ckpt-lint: ignore-next-line", False),
    ('; note = "# ckpt-lint: ignore"', False),  # in a string literal, not a comment
])
def test_python_directive_on_the_load_line(cli, tmp_path, comment, silenced):
    proj = copy_fixture(LABELS_CASE, tmp_path / "proj")
    append_to_line(proj / "predict.py", LABELS_LOAD_LINE, comment)
    r = cli(".", "--output-format", "concise", cwd=proj)
    assert r.at("CKL101") == ([] if silenced else [LABELS_AT])
    assert r.code == (0 if silenced else 1)


def test_python_directive_on_another_line_does_not_count(cli, tmp_path):
    proj = copy_fixture(LABELS_CASE, tmp_path / "proj")
    append_to_line(proj / "predict.py", 14, "  # ckpt-lint: ignore")
    assert cli(".", "--output-format", "concise", cwd=proj).at("CKL101") == [LABELS_AT]


@pytest.mark.parametrize(("comment", "silenced"), [
    ("   # ckpt-lint: ignore[CKL101]", True),
    ("   # ckpt-lint: ignore", True),
    ("   # ckpt-lint: ignore[CKL102]", False),
])
def test_yaml_directive_on_the_label_list_silences_the_python_finding(cli, tmp_path, comment, silenced):
    proj = copy_fixture("CKL101/deepke_hydra", tmp_path / "proj")
    train_yaml = proj / "conf" / "train.yaml"
    assert train_yaml.read_text().splitlines()[19].startswith("labels:")
    append_to_line(train_yaml, 20, comment)
    r = cli(".", "--output-format", "concise", cwd=proj)
    assert r.at("CKL101") == ([] if silenced else ["run_bert.py:15:13"])


def test_yaml_directive_on_another_line_does_not_count(cli, tmp_path):
    proj = copy_fixture("CKL101/deepke_hydra", tmp_path / "proj")
    append_to_line(proj / "conf" / "train.yaml", 18, "  # ckpt-lint: ignore")
    assert cli(".", "--output-format", "concise", cwd=proj).at("CKL101") == ["run_bert.py:15:13"]


@pytest.mark.parametrize(("comment", "silenced"), [
    ("  # ckpt-lint: ignore[CKL101]", True),
    ("  # ckpt-lint: ignore[CKL102]", False),
])
def test_shell_directive_on_the_flag_line(cli, tmp_path, comment, silenced):
    proj = copy_fixture("CKL101/argparse_shell", tmp_path / "proj")
    run_sh = proj / "run.sh"
    assert run_sh.read_text().splitlines()[5].strip() == "--num_labels 5"
    append_to_line(run_sh, 6, comment)
    r = cli(".", "--output-format", "concise", cwd=proj)
    assert r.at("CKL101") == ([] if silenced else ["train.py:17:13"])


# --------------------------------------------------------------------------------------------
# 7. output formats end to end on examples/deepke-ner


@pytest.fixture(params=["repo-root", "inside"])
def example(request):
    """(cwd, path argument, expected path prefix) for the DeepKE example."""
    if request.param == "repo-root":
        return REPO, "examples/deepke-ner", "examples/deepke-ner/"
    return EXAMPLE, ".", ""


EXAMPLE_AT = (24, 13)
EXAMPLE_END = (24, 83)
EXAMPLE_LABELS_LINE = 15


def test_example_concise_lines_parse_with_the_problem_matcher(cli, example):
    cwd, target, prefix = example
    r = cli(target, "--output-format", "concise", cwd=cwd)
    assert r.code == 1
    lines = r.out.splitlines()
    assert lines[-1] == "Found 1 error."
    assert MATCHER.match(lines[-1]) is None
    assert [MATCHER.match(line) is not None for line in lines[:-1]] == [True]
    m = MATCHER.match(lines[0])
    assert m.groups()[:4] == (f"{prefix}run_bert.py", "24", "13", "CKL101")
    assert "has 10 labels" in m.group(5) and "trained with 60" in m.group(5)
    assert f"from `labels` in {prefix}conf/train.yaml, 3 items" in m.group(5)


def test_example_json(cli, example):
    cwd, target, prefix = example
    concise = cli(target, "--output-format", "concise", cwd=cwd)
    r = cli(target, "--output-format", "json", cwd=cwd)
    assert r.code == 1
    [item] = json.loads(r.out)
    assert item["code"] == "CKL101"
    assert item["name"] == "head-size-mismatch"
    assert item["severity"] == "error"
    assert item["path"] == f"{prefix}run_bert.py"
    assert (item["line"], item["column"]) == EXAMPLE_AT
    assert (item["end_line"], item["end_column"]) == EXAMPLE_END
    assert concise.at("CKL101") == [f"{item['path']}:{item['line']}:{item['column']}"]
    assert item["message"] == MATCHER.match(concise.findings[0]).group(5)
    assert "60 labels" in item["fix"]["message"]
    related = {(r["path"], r["line"]) for r in item["related"]}
    assert (f"{prefix}conf/train.yaml", EXAMPLE_LABELS_LINE) in related
    assert any(p == f"{prefix}pretrained/ner-28types/config.json" for p, _ in related)


def test_example_github(cli, example):
    cwd, target, prefix = example
    r = cli(target, "--output-format", "github", cwd=cwd)
    assert r.code == 1
    [line] = r.out.splitlines()
    assert re.match(r"^::error file=[^,]+,line=\d+,col=\d+,endLine=\d+,endColumn=\d+,title=CKL101", line)
    m = GITHUB_COMMAND.match(line)
    assert m is not None
    assert m["file"] == f"{prefix}run_bert.py"
    assert (int(m["line"]), int(m["col"])) == EXAMPLE_AT
    assert (int(m["end_line"]), int(m["end_col"])) == EXAMPLE_END
    assert "%0Arelated: " + f"{prefix}conf/train.yaml:{EXAMPLE_LABELS_LINE}:1" in m["message"]
    assert "%0Ahelp: " in m["message"]


def test_example_sarif(cli, example):
    jsonschema = pytest.importorskip("jsonschema")
    cwd, target, prefix = example
    r = cli(target, "--output-format", "sarif", cwd=cwd)
    assert r.code == 1
    log = json.loads(r.out)
    jsonschema.validate(log, json.loads(SARIF_SCHEMA.read_text()))
    assert log["version"] == "2.1.0"
    [run] = log["runs"]
    rules = {rule["id"]: rule for rule in run["tool"]["driver"]["rules"]}
    assert "## How to fix" in rules["CKL101"]["help"]["text"]
    assert rules["CKL101"]["defaultConfiguration"]["level"] == "error"
    base = run["originalUriBaseIds"]["%SRCROOT%"]["uri"]

    def file_of(physical: dict) -> Path:
        artifact = physical["artifactLocation"]
        assert artifact["uriBaseId"] == "%SRCROOT%"
        assert not artifact["uri"].startswith(("/", "file:"))  # relative
        return Path(unquote(urlparse(urljoin(base, artifact["uri"])).path))

    [result] = run["results"]
    assert result["ruleId"] == "CKL101" and result["level"] == "error"
    [location] = result["locations"]
    assert file_of(location["physicalLocation"]) == EXAMPLE / "run_bert.py"
    region = location["physicalLocation"]["region"]
    assert (region["startLine"], region["startColumn"]) == EXAMPLE_AT
    related = [(file_of(loc["physicalLocation"]), loc["physicalLocation"]["region"]["startLine"])
               for loc in result["relatedLocations"]]
    assert (EXAMPLE / "conf" / "train.yaml", EXAMPLE_LABELS_LINE) in related


def test_example_full_plain(cli, example):
    cwd, target, prefix = example
    r = cli(target, "--output-format", "full", "--color", "never", cwd=cwd)
    assert r.code == 1
    assert ANSI not in r.out
    lines = r.out.splitlines()
    assert lines[0].startswith("CKL101 [error] TrainNer head has 10 labels")
    assert lines[1] == f" --> {prefix}run_bert.py:24:13"
    source = "    model = TrainNer.from_pretrained(cfg.bert_model, from_tf=False, config=config)"
    i = lines.index(f"24 | {source}")
    assert lines[i + 1] == "   | " + " " * 12 + "^" * (EXAMPLE_END[1] - EXAMPLE_AT[1])
    labels_yaml = f"{prefix}conf/train.yaml"
    assert f"related: {labels_yaml}:{EXAMPLE_LABELS_LINE}:1: `labels` in {labels_yaml}, 3 items" in lines
    help_line = "help: use the label list the checkpoint was trained with (60 labels)"
    assert any(line.startswith(help_line) for line in lines)  # no `[*]`: the fix is unsafe
    assert lines[-2:] == ["Found 1 error.", "No fixes available (1 hidden fix can be enabled with --unsafe-fixes)."]


def test_full_default_format_is_uncoloured_when_not_a_terminal(cli):
    r = cli("examples/deepke-ner", cwd=REPO)
    assert r.out.startswith("CKL101 [error] ")
    assert ANSI not in r.out


def test_full_color_always_is_coloured(cli):
    r = cli("examples/deepke-ner", "--color", "always", cwd=REPO)
    assert ANSI in r.out


@pytest.mark.parametrize("fmt", ["concise", "json", "github", "sarif"])
@pytest.mark.parametrize("how", ["--color-always", "FORCE_COLOR"])
def test_machine_formats_are_never_coloured(cli, monkeypatch, fmt, how):
    args = ["examples/deepke-ner", "--output-format", fmt]
    if how == "FORCE_COLOR":
        monkeypatch.setenv("FORCE_COLOR", "1")
    else:
        args += ["--color", "always"]
    r = cli(*args, cwd=REPO)
    assert r.code == 1
    assert r.out
    assert ANSI not in r.out


@pytest.mark.parametrize("fmt", ["full", "concise", "github"])
def test_escape_characters_in_paths_never_reach_the_terminal(cli, tmp_path, fmt):
    copy_fixture(LABELS_CASE, tmp_path / "p\x1b[31mX")
    r = cli(".", "--output-format", fmt, "--color", "never", cwd=tmp_path)
    assert r.code == 1
    assert ANSI not in r.out


@pytest.mark.parametrize(("fmt", "out"), [
    ("concise", ""),
    ("github", ""),
    ("json", "[]\n"),
    ("full", "All checks passed!\n"),
])
def test_fixed_example_is_clean_in_every_format(cli, fmt, out):
    r = cli("examples/deepke-ner-fixed", "--output-format", fmt, "--color", "never", cwd=REPO)
    assert (r.code, r.out) == (0, out)


def test_fixed_example_sarif_has_no_results(cli):
    r = cli("examples/deepke-ner-fixed", "--output-format", "sarif", cwd=REPO)
    assert r.code == 0
    assert json.loads(r.out)["runs"][0]["results"] == []


def test_example_as_a_subprocess():
    r = run_module("examples/deepke-ner", "--output-format", "concise", cwd=REPO)
    assert r.code == 1
    assert r.at("CKL101") == ["examples/deepke-ner/run_bert.py:24:13"]
    assert r.err == ""


def test_console_script(tmp_path):
    script = Path(sys.executable).with_name("ckpt-lint")
    if not script.exists():
        pytest.skip("no ckpt-lint console script next to this interpreter")
    copy_fixture(LABELS_CASE, tmp_path / "proj")
    proc = subprocess.run([str(script), "proj", "--output-format", "concise"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert Result(proc.returncode, proc.stdout, proc.stderr).at("CKL101") == [f"proj/{LABELS_AT}"]


# --------------------------------------------------------------------------------------------
# 8. bad input never crashes


def test_odd_files_next_to_a_real_finding(cli, tmp_path):
    proj = copy_fixture(LABELS_CASE, tmp_path / "proj")
    (proj / "empty.py").write_bytes(b"")
    (proj / "nul.py").write_bytes(b"\0")
    (proj / "x.py").mkdir()
    (proj / "y.yaml").mkdir()
    (proj / "config.json").symlink_to("does-not-exist.json")
    (proj / "loop.yaml").symlink_to("loop.yaml")
    r = cli(".", "--output-format", "concise", cwd=proj)
    assert r.code == 1
    assert r.at("CKL101") == [LABELS_AT]
    assert "config.json:1:1: CKL001 cannot read config.json: cannot read file: no such file or directory" in r.findings
    assert set(r.codes) <= {"CKL001", "CKL101"}


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_fifo_named_run_sh_does_not_hang(tmp_path):
    proj = copy_fixture(LABELS_CASE, tmp_path / "proj")
    os.mkfifo(proj / "run.sh")
    r = run_module(".", "--output-format", "concise", cwd=proj, timeout=60)
    assert r.code == 1
    assert r.at("CKL101") == [LABELS_AT]
    assert "run.sh:1:1: CKL001 cannot read run.sh: not a regular file (a FIFO)" in r.findings


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
@pytest.mark.parametrize("name", ["conf.yaml", "config.json"])
def test_fifo_data_files_do_not_hang(tmp_path, name):
    proj = copy_fixture(LABELS_CASE, tmp_path / "proj")
    os.mkfifo(proj / name)
    r = run_module(".", "--output-format", "concise", cwd=proj, timeout=60)
    assert r.code == 1
    assert r.at("CKL101") == [LABELS_AT]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_fifo_named_py_does_not_hang(tmp_path):
    proj = copy_fixture(LABELS_CASE, tmp_path / "proj")
    os.mkfifo(proj / "pipe.py")
    try:
        r = run_module(".", "--output-format", "concise", cwd=proj, timeout=20)
    except subprocess.TimeoutExpired:
        pytest.fail("ckpt-lint hung on a FIFO named pipe.py")
    assert r.code == 1
    assert r.at("CKL101") == [LABELS_AT]


def test_unreadable_file(cli, tmp_path):
    proj = copy_fixture(LABELS_CASE, tmp_path / "proj")
    locked = proj / "locked.py"
    locked.write_text("from transformers import AutoModel\nAutoModel.from_pretrained('x')\n")
    locked.chmod(0)
    try:
        if os.access(locked, os.R_OK):
            pytest.skip("file stays readable (running as root?)")
        r = cli(".", "--output-format", "concise", cwd=proj)
    finally:
        locked.chmod(0o644)
    assert r.code == 1
    assert r.at("CKL101") == [LABELS_AT]
    assert r.at("CKL001") == ["locked.py:1:1"]


# --------------------------------------------------------------------------------------------
# 9. a Hub id resolved through a real Hugging Face cache folder

HF_SHA = "0123456789abcdef0123456789abcdef01234567"
HF_ETAG = "9f2c6a1e0d4b8c7a3e5f1b2d4c6e8a0b1c3d5e7f9a2b4c6d8e0f1a3b5c7d9e1f"


def make_hf_cache(cache: Path, repo_id: str, config: dict) -> Path:
    """The layout huggingface_hub writes: refs/main -> sha, snapshots/<sha>/config.json -> ../../blobs/<etag>."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "blobs").mkdir()
    (repo / "snapshots" / HF_SHA).mkdir(parents=True)
    (repo / "refs" / "main").write_text(HF_SHA)
    (repo / "blobs" / HF_ETAG).write_text(json.dumps(config, indent=2))
    (repo / "snapshots" / HF_SHA / "config.json").symlink_to(Path("..", "..", "blobs", HF_ETAG))
    return repo


def ner_config(labels: int) -> dict:
    return {
        "architectures": ["BertForTokenClassification"],
        "model_type": "bert",
        "hidden_size": 768,
        "id2label": {str(i): f"TAG-{i}" for i in range(labels)},
        "label2id": {f"TAG-{i}": i for i in range(labels)},
    }


def hub_script(folder: Path, repo_id: str, num_labels: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "train.py"
    script.write_text(
        "from transformers import AutoModelForTokenClassification\n"
        "\n"
        f'model = AutoModelForTokenClassification.from_pretrained("{repo_id}", num_labels={num_labels})\n'
    )
    return script


@pytest.fixture
def hf_cache(tmp_path, monkeypatch) -> Path:
    cache = tmp_path / "hf-cache"
    make_hf_cache(cache, "myorg/ner-60", ner_config(60))
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    return cache


def test_hf_cache_layout_is_what_huggingface_hub_reads(hf_cache):
    hub = pytest.importorskip("huggingface_hub")
    hit = hub.try_to_load_from_cache("myorg/ner-60", "config.json", cache_dir=hf_cache)
    assert isinstance(hit, str) and json.loads(Path(hit).read_text())["id2label"]["59"] == "TAG-59"


def test_hub_id_in_cache_with_other_label_count(cli, tmp_path, hf_cache):
    hub_script(tmp_path / "proj", "myorg/ner-60", 10)
    r = cli("proj", "--output-format", "json", cwd=tmp_path)
    assert r.code == 1
    [item] = json.loads(r.out)
    assert item["code"] == "CKL101"
    assert (item["path"], item["line"], item["column"]) == ("proj/train.py", 3, 9)
    assert "has 10 labels (num_labels=10)" in item["message"]
    assert "myorg/ner-60" in item["message"] and "trained with 60" in item["message"]
    assert f"HF cache myorg/ner-60@{HF_SHA[:8]}" in item["message"]


def test_hub_id_in_cache_with_same_label_count(cli, tmp_path, hf_cache):
    hub_script(tmp_path / "proj", "myorg/ner-60", 60)
    r = cli("proj", "--output-format", "concise", cwd=tmp_path)
    assert (r.code, r.out) == (0, "")


def test_hub_id_through_hf_home(cli, tmp_path, monkeypatch):
    make_hf_cache(tmp_path / "hf-home" / "hub", "myorg/ner-60", ner_config(60))
    monkeypatch.delenv("HF_HUB_CACHE")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    hub_script(tmp_path / "proj", "myorg/ner-60", 10)
    assert cli("proj", "--output-format", "concise", cwd=tmp_path).at("CKL101") == ["proj/train.py:3:9"]


def test_hub_id_unknown_everywhere_is_only_an_info(cli, tmp_path, hf_cache):
    hub_script(tmp_path / "proj", "myorg/not-cached-anywhere", 10)
    r = cli("proj", "--output-format", "concise", cwd=tmp_path)
    assert r.code == 0 and r.at("CKL101") == []
    assert r.at("CKL003") == ["proj/train.py:3:9"]  # offline, nothing cached: an info, never a guess


def test_hub_id_in_cache_as_a_subprocess(tmp_path, hf_cache):
    hub_script(tmp_path / "proj", "myorg/ner-60", 10)
    r = run_module("proj", "--output-format", "concise", cwd=tmp_path)
    assert r.code == 1
    assert r.at("CKL101") == ["proj/train.py:3:9"]
