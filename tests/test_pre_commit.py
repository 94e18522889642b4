"""The pre-commit hook (.pre-commit-hooks.yaml) run by the real `pre-commit` tool.

The scenario is the one the hook exists for: a DeepKE-style project is committed clean, then only
`conf/train.yaml` (the label list) is edited and staged. The finding it causes is located in
`run_bert.py`, a file nobody touched; the hook must still report it (ckpt-lint reads the project
around the named files and keeps the findings whose related locations are in them).

The hook repository: pre-commit installs hooks from git. `pre-commit try-repo` on this checkout
directly would use the last commit plus *tracked* changes only (its shadow repo runs `git add -u`),
so an uncommitted `.pre-commit-hooks.yaml` or a new module would be missing. The session fixture
therefore copies the working tree's files (tracked and untracked, .gitignore honoured; tests,
examples and benchmarks left out) into a fresh repository with one commit.

Installs: `try-repo` always builds the hook's virtualenv in a throwaway store (it ignores
PRE_COMMIT_HOME), so it is run once. The other runs use `pre-commit run -c CONFIG` (and a real
`git commit` through `pre-commit install`) with a config that pins the hook repository's commit and
a session PRE_COMMIT_HOME, so that virtualenv is built once per session. Each build needs PyPI
(libcst, pyyaml, ...) and takes about 10 s with a warm pip cache, more on a loaded machine.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXED = REPO / "examples" / "deepke-ner-fixed"
FINDING_AT = "run_bert.py:24:13"  # where examples/deepke-ner reports CKL101 (the from_pretrained call)
LABELS_LINE = 15  # conf/train.yaml: the active `labels:` line; line 16 is the other list, commented out

# A standalone script next to the training code: linted, but no finding involves it.
PLOT_SCRIPT = """\
import json
import sys

history = json.load(open(sys.argv[1]))
print(max(h["eval_f1"] for h in history))
"""

HAVE_GIT = shutil.which("git") is not None
HAVE_PRE_COMMIT = importlib.util.find_spec("pre_commit") is not None or shutil.which("pre-commit") is not None
pytestmark = [
    pytest.mark.skipif(not HAVE_GIT, reason="git is not installed (pre-commit needs it)"),
    pytest.mark.skipif(not HAVE_PRE_COMMIT, reason="pre-commit is not installed (pip install -e '.[test]')"),
]

# Left out of the hook repository copy: not part of the installed package, and large.
NOT_PACKAGED = ("tests/", "examples/", "benchmarks/")
# Git variables a surrounding hook or CI job may set; they would point our git calls elsewhere.
GIT_LEAKS = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_PREFIX")


def _pre_commit() -> list[str]:
    if importlib.util.find_spec("pre_commit") is not None:
        return [sys.executable, "-m", "pre_commit"]
    return [shutil.which("pre-commit")]


def _git_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in GIT_LEAKS}
    env.update(GIT_AUTHOR_NAME="ckpt-lint tests", GIT_AUTHOR_EMAIL="tests@ckpt-lint.invalid",
               GIT_COMMITTER_NAME="ckpt-lint tests", GIT_COMMITTER_EMAIL="tests@ckpt-lint.invalid",
               GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull)  # e.g. a core.hooksPath would stop install
    return env


def git(*args: str, cwd: Path) -> str:
    proc = subprocess.run(["git", "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main", *args],
                          cwd=cwd, env=_git_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"git {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def _working_tree_files() -> list[str]:
    """The files a commit of this checkout would hold (tracked + untracked, .gitignore honoured)."""
    if (REPO / ".git").exists():
        listed = git("ls-files", "--cached", "--others", "--exclude-standard", "-z", cwd=REPO)
        names = [n for n in listed.split("\0") if n]
    else:  # an unpacked sdist: the package sources are enough to install the hook
        names = [p.relative_to(REPO).as_posix() for top in ("lint", "rules") for p in (REPO / top).rglob("*")
                 if p.is_file() and "__pycache__" not in p.parts]
        names += ["pyproject.toml", "README.md", ".pre-commit-hooks.yaml"]
    return [n for n in names if not n.startswith(NOT_PACKAGED) and (REPO / n).is_file()]


@pytest.fixture(scope="session")
def hook_repo(tmp_path_factory) -> tuple[Path, str]:
    """(a one-commit git copy of this checkout, its commit id)."""
    dest = tmp_path_factory.mktemp("pre-commit-hook-repo")
    for name in _working_tree_files():
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target)
    assert (dest / ".pre-commit-hooks.yaml").is_file()
    git("init", "-q", cwd=dest)
    git("add", "-A", cwd=dest)
    git("commit", "-q", "-m", "ckpt-lint working tree", cwd=dest)
    return dest, git("rev-parse", "HEAD", cwd=dest).strip()


@pytest.fixture(scope="session")
def pre_commit_home(tmp_path_factory) -> Path:
    """One PRE_COMMIT_HOME for the session: the hook's virtualenv is built once."""
    return tmp_path_factory.mktemp("pre-commit-home")


@pytest.fixture
def project(tmp_path) -> Path:
    """examples/deepke-ner-fixed committed in a fresh repository: clean to start with."""
    proj = tmp_path / "deepke"
    shutil.copytree(FIXED, proj)
    (proj / "scripts").mkdir()
    (proj / "scripts" / "plot_metrics.py").write_text(PLOT_SCRIPT)
    git("init", "-q", cwd=proj)
    git("add", "-A", cwd=proj)
    git("commit", "-q", "-m", "clean DeepKE project", cwd=proj)
    return proj


def break_label_list(proj: Path) -> None:
    """Swap in the 3-entity list (commented out below the 28-type one) and stage the change."""
    path = proj / "conf" / "train.yaml"
    lines = path.read_text().splitlines(keepends=True)
    good, bad = lines[LABELS_LINE - 1], lines[LABELS_LINE]
    assert good.startswith("labels: [") and bad.startswith("# labels: ['LOC'")
    lines[LABELS_LINE - 1], lines[LABELS_LINE] = bad.removeprefix("# "), "# " + good
    path.write_text("".join(lines))
    git("add", "conf/train.yaml", cwd=proj)


def _env(home: Path, tmp_path: Path) -> dict[str, str]:
    env = _git_env()
    env.update(PRE_COMMIT_HOME=str(home), HF_HUB_OFFLINE="1", NO_COLOR="1", PRE_COMMIT_COLOR="never",
               HF_HUB_CACHE=str(tmp_path / "empty-hf-cache"), PIP_DISABLE_PIP_VERSION_CHECK="1")
    env.pop("CKPT_LINT_OUTPUT_FORMAT", None)
    return env


def _checked(proc: subprocess.CompletedProcess) -> tuple[int, str]:
    out = proc.stdout + proc.stderr
    assert "An error has occurred" not in out, out  # pre-commit itself failed (install, manifest)
    assert "Traceback" not in out and "internal error" not in out, out
    return proc.returncode, out


def try_repo(proj: Path, hook: tuple[Path, str], tmp_path: Path, *args: str) -> tuple[int, str]:
    """`pre-commit try-repo HOOK_REPO ckpt-lint --ref SHA ARGS` in `proj` (builds its own hook env)."""
    repo, sha = hook
    cmd = [*_pre_commit(), "try-repo", str(repo), "ckpt-lint", "--ref", sha, "--color", "never", *args]
    home = tmp_path / "unused-pre-commit-home"  # try-repo uses a temporary store whatever this says
    return _checked(subprocess.run(cmd, cwd=proj, env=_env(home, tmp_path), capture_output=True, text=True,
                                   timeout=300))


@pytest.fixture(scope="session")
def config(hook_repo, tmp_path_factory) -> Path:
    """A .pre-commit-config.yaml (kept outside the projects) pinning the hook repository's commit."""
    repo, sha = hook_repo
    path = tmp_path_factory.mktemp("pre-commit-config") / ".pre-commit-config.yaml"
    path.write_text(f"repos:\n- repo: {json.dumps(str(repo))}\n  rev: {sha}\n  hooks:\n  - id: ckpt-lint\n")
    return path


@pytest.fixture
def env(pre_commit_home, tmp_path) -> dict[str, str]:
    return _env(pre_commit_home, tmp_path)


@pytest.fixture
def pre_commit(project, config, env):
    """`pre_commit("run", ARGS)` in the project, with the session's PRE_COMMIT_HOME and config."""

    def run(command: str, *args: str) -> tuple[int, str]:
        cmd = [*_pre_commit(), command, "-c", str(config), *args]
        return _checked(subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True, timeout=300))

    return run


def assert_reports_the_head_mismatch(code: int, out: str) -> None:
    assert code == 1, out
    assert "ckpt-lint" in out and "Failed" in out, out
    assert "CKL101" in out, out
    assert f"--> {FINDING_AT}" in out, out
    assert "has 10 labels" in out and "trained with 60" in out, out
    assert f"related: conf/train.yaml:{LABELS_LINE}:1" in out, out


def assert_passes(code: int, out: str) -> None:
    assert code == 0, out
    assert "Passed" in out and "CKL" not in out, out


def test_try_repo_on_the_staged_label_list(project, hook_repo, tmp_path):
    """As the hook's README tells users to try it: try-repo with the changed file named."""
    break_label_list(project)
    assert git("diff", "--cached", "--name-only", cwd=project).split() == ["conf/train.yaml"]
    assert_reports_the_head_mismatch(*try_repo(project, hook_repo, tmp_path, "--files", "conf/train.yaml"))


def test_staged_label_list_reports_the_load_in_an_unchanged_script(project, pre_commit):
    """`pre-commit run` with no file arguments passes the staged files: only conf/train.yaml."""
    break_label_list(project)
    assert_reports_the_head_mismatch(*pre_commit("run"))


@pytest.mark.parametrize(("files", "reported"), [
    (["run_bert.py"], True),  # the finding's own file
    (["pretrained/ner-28types/config.json"], True),  # the checkpoint head it compares with
    (["scripts/plot_metrics.py"], False),  # a script of the project that has nothing to do with the load
])
def test_named_files(project, pre_commit, files, reported):
    break_label_list(project)
    result = pre_commit("run", "--files", *files)
    (assert_reports_the_head_mismatch if reported else assert_passes)(*result)


def test_all_files(project, pre_commit):
    break_label_list(project)
    assert_reports_the_head_mismatch(*pre_commit("run", "--all-files"))


def git_commit(proj: Path, message: str, env: dict[str, str]) -> tuple[int, str]:
    return _checked(subprocess.run(["git", "-c", "commit.gpgsign=false", "commit", "-m", message], cwd=proj,
                                   env=env, capture_output=True, text=True, timeout=300))


def test_git_commit_is_refused_then_accepted_once_fixed(project, pre_commit, env):
    """The installed git hook: the commit with the broken list fails, a clean one goes through."""
    code, out = pre_commit("install")
    assert code == 0, out
    break_label_list(project)
    assert_reports_the_head_mismatch(*git_commit(project, "3 entity types", env))
    assert git("diff", "--cached", "--name-only", cwd=project).split() == ["conf/train.yaml"]  # not committed

    git("checkout", "HEAD", "--", "conf/train.yaml", cwd=project)  # the temporary project's own checkout
    path = project / "conf" / "train.yaml"
    path.write_text(path.read_text().replace("learning_rate: 2e-5", "learning_rate: 3e-5"))
    git("add", "conf/train.yaml", cwd=project)
    assert_passes(*git_commit(project, "learning rate", env))
    assert git("log", "--format=%s", "-1", cwd=project).strip() == "learning rate"


def test_fixed_project_passes(project, pre_commit):
    assert_passes(*pre_commit("run", "--all-files"))


def test_hook_manifest_filters():
    """The `files` regex lets through every kind of file that can change a finding, and not others."""
    import re

    yaml = pytest.importorskip("yaml")
    [hook] = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "ckpt-lint" and hook["language"] == "python"
    assert hook["entry"].split() == ["ckpt-lint", "--force-exclude"]
    assert hook["require_serial"] is True and hook["pass_filenames"] is True
    files = re.compile(hook["files"])
    for name in ("train.py", "nb/explore.ipynb", "conf/train.yaml", "x.yml", "pretrained/config.json",
                 "adapter_config.json", "tokenizer.json", "vocab.txt", "requirements-dev.txt", "pyproject.toml",
                 "setup.cfg", "run.sh", "scripts/launch.bash", "model.safetensors", "pytorch_model.bin",
                 "ckpt/epoch_3.pt", "ViT-L-14.pth", "last.ckpt", "llama.gguf", "tokenizer.model"):
        assert files.search(name), name
    for name in ("README.md", "docs/index.rst", "image.png", "Makefile", "model.safetensors.bak"):
        assert not files.search(name), name
