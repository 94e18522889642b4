"""`--statistics` and `--show-settings`, in-process from a real working folder (as tests/test_cli.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ckpt_lint import __version__
from ckpt_lint.cli import main
from ckpt_lint.rule import all_rules

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
LABELS_CASE = "CKL101/labels_file"  # one CKL101 error in predict.py
CONFLICT_CASE = "CKL102/num_labels_id2label"  # one CKL102 warning in train.py
READ_CASE = "CKL001/bad_inputs"  # four CKL001 warnings and one CKL101 error


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path_factory):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path_factory.mktemp("empty-hf-cache")))
    for var in ("NO_COLOR", "FORCE_COLOR", "CKPT_LINT_OUTPUT_FORMAT", "CKPT_LINT_DEBUG", "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def cli(monkeypatch, capsys):
    """`cli(*args, cwd=folder)` -> (exit code, stdout, stderr) of `ckpt-lint args` run in-process."""

    def run(*args, cwd: Path) -> tuple[int, str, str]:
        monkeypatch.chdir(cwd)
        capsys.readouterr()
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        assert "Traceback" not in err and "internal error" not in err, err
        return code, out, err

    return run


def copy_fixture(case: str, dest: Path) -> Path:
    shutil.copytree(FIXTURES / case, dest, ignore=shutil.ignore_patterns("expected.txt", "runtime.json"))
    return dest


def two_findings_project(dest: Path) -> Path:
    """A CKL101 error (predict.py) and a CKL102 warning (train.py): one of each, so ties sort by code."""
    copy_fixture(LABELS_CASE, dest)
    shutil.copy(FIXTURES / CONFLICT_CASE / "train.py", dest / "train.py")
    shutil.copytree(FIXTURES / CONFLICT_CASE / "checkpoints" / "bert-tiny", dest / "checkpoints" / "bert-tiny")
    return dest


def settings_of(out: str) -> dict[str, str]:
    """The `key: value` lines of --show-settings (indented continuation lines left out)."""
    return dict(line.split(": ", 1) for line in out.splitlines() if line and not line.startswith(" ")
                and ": " in line)


def listed_rules(out: str) -> list[str]:
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("rules: "))
    return [line.split()[0] for line in lines[start + 1:] if line.startswith("  ")]


# --------------------------------------------------------------------------------------------
# --statistics


def test_statistics_counts_per_code_most_frequent_first(cli, tmp_path):
    proj = copy_fixture(READ_CASE, tmp_path / "proj")
    code, out, _ = cli("--statistics", "--output-format", "concise", cwd=proj)
    assert code == 1  # as without --statistics
    assert out == "  4  CKL001  unreadable-file\n  1  CKL101  head-size-mismatch\n"


def test_statistics_ties_sort_by_code(cli, tmp_path):
    proj = two_findings_project(tmp_path / "proj")
    code, out, _ = cli("--statistics", "--output-format", "concise", cwd=proj)
    assert code == 1
    assert out.splitlines() == ["  1  CKL101  head-size-mismatch", "  1  CKL102  num-labels-conflict"]


def test_statistics_replace_the_findings_in_the_default_format(cli, tmp_path):
    proj = copy_fixture(LABELS_CASE, tmp_path / "proj")
    code, out, _ = cli("--statistics", cwd=proj)
    assert code == 1
    assert out.splitlines()[0] == "  1  CKL101  head-size-mismatch"
    assert "-->" not in out and "predict.py" not in out and "Found 1 error" not in out


@pytest.mark.parametrize(("flags", "code"), [
    ([], 1),
    (["--fail-on", "error"], 0),  # only a warning
    (["--exit-zero"], 0),
])
def test_statistics_keep_the_exit_code(cli, tmp_path, flags, code):
    proj = copy_fixture(CONFLICT_CASE, tmp_path / "proj")
    got, out, _ = cli("--statistics", "--output-format", "concise", *flags, cwd=proj)
    assert got == code
    assert out == "  1  CKL102  num-labels-conflict\n"


def test_statistics_honour_selection(cli, tmp_path):
    proj = two_findings_project(tmp_path / "proj")
    _, out, _ = cli("--statistics", "--output-format", "concise", "--ignore", "CKL101", cwd=proj)
    assert out == "  1  CKL102  num-labels-conflict\n"


def test_statistics_of_a_clean_project_print_nothing(cli):
    code, out, _ = cli("--statistics", "--output-format", "concise", cwd=REPO / "examples" / "deepke-ner-fixed")
    assert (code, out) == (0, "")


def test_statistics_as_json(cli, tmp_path):
    proj = copy_fixture(READ_CASE, tmp_path / "proj")
    code, out, _ = cli("--statistics", "--output-format", "json", cwd=proj)
    assert code == 1
    assert json.loads(out) == [{"code": "CKL001", "name": "unreadable-file", "count": 4},
                               {"code": "CKL101", "name": "head-size-mismatch", "count": 1}]
    _, out, _ = cli("--statistics", "--output-format", "json", cwd=REPO / "examples" / "deepke-ner-fixed")
    assert json.loads(out) == []


# --------------------------------------------------------------------------------------------
# --show-settings


PYPROJECT = """\
[tool.ckpt-lint]
select = ["CKL1", "CKL2"]
ignore = ["CKL102"]
exclude = ["third_party/"]
per-file-ignores = { "legacy/*.py" = ["CKL101", "CKL201"] }
output-format = "concise"
fail-on = "error"
"""


def test_show_settings_from_a_pyproject(cli, tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    proj = copy_fixture(LABELS_CASE, tmp_path / "proj")
    (proj / "pyproject.toml").write_text(PYPROJECT)
    code, out, err = cli("--show-settings", cwd=proj)
    assert (code, err) == (0, "")
    s = settings_of(out)
    assert s["config"] == str(proj / "pyproject.toml")
    assert (s["select"], s["ignore"], s["exclude"]) == ("CKL1, CKL2", "CKL102", "third_party/")
    assert "  legacy/*.py: CKL101, CKL201" in out.splitlines()
    assert (s["output-format"], s["fail-on"], s["offline"]) == ("concise", "error", "no")
    assert s["project-root"] == str(proj.resolve())
    assert s["version"] == __version__
    enabled = [c for c in all_rules() if c.startswith(("CKL1", "CKL2")) and c != "CKL102"]
    assert listed_rules(out) == enabled
    assert s["rules"] == f"{len(enabled)} of {len(all_rules())} enabled"


def test_show_settings_does_not_lint(cli, tmp_path, monkeypatch):
    import ckpt_lint.runner

    def no_run(*args, **kwargs):
        raise AssertionError("--show-settings ran the linter")

    monkeypatch.setattr(ckpt_lint.runner, "run", no_run)
    proj = copy_fixture(LABELS_CASE, tmp_path / "proj")
    code, out, _ = cli("--show-settings", "--output-format", "concise", cwd=proj)
    assert code == 0
    assert "predict.py" not in out and "Found" not in out


def test_show_settings_defaults_and_flags(cli, tmp_path):
    proj = copy_fixture(LABELS_CASE, tmp_path / "proj")
    (proj / "pyproject.toml").write_text(PYPROJECT)
    _, out, _ = cli("--show-settings", "--isolated", cwd=proj)
    s = settings_of(out)
    assert s["config"] == "none (--isolated)"
    assert (s["select"], s["ignore"], s["exclude"], s["per-file-ignores"]) == ("ALL", "(none)", "(none)", "(none)")
    assert (s["output-format"], s["fail-on"]) == ("full", "warning")
    assert s["offline"] == "yes (HF_HUB_OFFLINE=1)"  # the tests run with it
    assert listed_rules(out) == list(all_rules())

    _, out, _ = cli("--show-settings", "--select", "ckl1", "--ignore", "CKL103", "--exclude", "gen/,*.bak",
                    "--output-format", "json", "--fail-on", "never", "--offline", "--force-exclude", cwd=proj)
    s = settings_of(out)
    assert s["select"] == "CKL1"  # replaces the pyproject's select
    assert s["ignore"] == "CKL102, CKL103"  # adds to its ignore
    assert s["exclude"] == "third_party/, gen/, *.bak"
    assert (s["output-format"], s["fail-on"], s["offline"], s["force-exclude"]) == ("json", "never",
                                                                                    "yes (--offline)", "yes")
    assert settings_of(cli("--show-settings", "--exit-zero", cwd=proj)[1])["fail-on"] == "never (--exit-zero)"


def test_show_settings_config_flag_and_environment_format(cli, tmp_path, monkeypatch):
    proj = copy_fixture(LABELS_CASE, tmp_path / "proj")
    other = tmp_path / "ci.toml"
    other.write_text('[tool.ckpt-lint]\nignore = ["CKL2"]\n')
    monkeypatch.setenv("CKPT_LINT_OUTPUT_FORMAT", "github")
    _, out, _ = cli("--show-settings", "--config", other, cwd=proj)
    s = settings_of(out)
    assert (s["config"], s["ignore"], s["output-format"]) == (str(other), "CKL2", "github")


def test_show_settings_project_root(cli, tmp_path):
    """The root a run would read the project from: the folder named, or the repository of named files."""
    repo = tmp_path / "repo"
    proj = copy_fixture(LABELS_CASE, repo / "proj")
    (repo / ".git").mkdir()
    assert settings_of(cli("--show-settings", "proj", cwd=repo)[1])["project-root"] == str(proj.resolve())
    assert settings_of(cli("--show-settings", "proj/predict.py", cwd=repo)[1])["project-root"] == str(repo.resolve())
    assert settings_of(cli("--show-settings", "proj", "proj/data", cwd=repo)[1])["project-root"] == str(repo)


@pytest.mark.parametrize(("args", "message"), [
    (["no-such-dir"], "no such file or folder"),
    (["--output-format", "xml"], "invalid choice"),
])
def test_show_settings_usage_errors_exit_2(cli, tmp_path, args, message):
    code, out, err = cli("--show-settings", *args, cwd=tmp_path)
    assert code == 2 and out == "" and message in err


def test_show_settings_bad_config_exits_2(cli, tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.ckpt-lint]\nselect = 3\n")
    code, out, err = cli("--show-settings", cwd=tmp_path)
    assert code == 2 and out == "" and "select must be a list of strings" in err
