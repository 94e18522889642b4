"""The analysis cache and the parallel first pass (lint/analysis_cache.py).

Every test compares what a user sees (findings) between a cold run, a warm run and `--no-cache`,
and checks the work skipped by counting libcst parses, not by timing.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

import ckpt_lint.project as project_module
from ckpt_lint.analysis_cache import PARALLEL_MIN, cache_root
from ckpt_lint.cli import main
from ckpt_lint.config import Settings
from ckpt_lint.runner import run

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "deepke-ner"


@pytest.fixture(autouse=True)
def _no_replay(request, monkeypatch):
    """These tests look at the analysis cache; the findings replay (tested last) would skip it."""
    if "replay" not in request.node.name:
        import ckpt_lint.findings_cache as findings_cache

        monkeypatch.setattr(findings_cache.FindingsCache, "load", lambda self, key: None)


@pytest.fixture
def parses(monkeypatch):
    """Paths parsed by libcst during the test, in order."""
    import ckpt_lint.sources.python as python_module

    seen: list[Path] = []
    real = python_module.parse_python

    def counting(path, text, **kw):
        seen.append(path)
        return real(path, text, **kw)

    monkeypatch.setattr(python_module, "parse_python", counting)
    return seen


def lint(root: Path, *paths: Path, cache: bool = True, jobs: int = 1) -> list[str]:
    result = run(list(paths) or [root], Settings(), cwd=root, cache=cache, jobs=jobs)
    return [f"{os.path.relpath(f.location.path, root)}:{f.location.line}:{f.location.column}: {f.code}"
            for f in result.findings]


def checkpoint(folder: Path, labels: int) -> None:
    folder.mkdir(parents=True)
    config = {"model_type": "bert", "architectures": ["BertForSequenceClassification"], "hidden_size": 32,
              "id2label": {str(i): f"L{i}" for i in range(labels)}}
    (folder / "config.json").write_text(json.dumps(config, indent=2))


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


LOAD = "from transformers import AutoModelForSequenceClassification\n"


def test_warm_run_skips_unchanged_inert_files(tmp_path, parses):
    checkpoint(tmp_path / "ckpt", 5)
    write(tmp_path, {
        "train.py": LOAD + "model = AutoModelForSequenceClassification.from_pretrained('./ckpt', num_labels=3)\n",
        "docs_only.py": '"""Call `from_pretrained` like this: ..."""\nx = 1\n',  # a word in a docstring
        "helper.py": "def num_labels():\n    return 3\nmodel_name = num_labels()\n",  # parsed, records nothing
    })
    cold = lint(tmp_path)
    assert cold == ["train.py:2:9: CKL101"]
    assert sorted(p.name for p in parses) == ["helper.py", "train.py"]  # the docstring file is not parsed
    parses.clear()
    assert lint(tmp_path) == cold
    assert [p.name for p in parses] == ["train.py"]  # helper.py: inert and unchanged, skipped
    parses.clear()
    assert lint(tmp_path, cache=False) == cold
    assert sorted(p.name for p in parses) == ["helper.py", "train.py"]


def test_cache_lives_in_the_project_and_ignores_itself(tmp_path, monkeypatch):
    monkeypatch.delenv("CKPT_LINT_CACHE_DIR")
    checkpoint(tmp_path / "ckpt", 5)
    write(tmp_path, {"train.py": LOAD + "m = AutoModelForSequenceClassification.from_pretrained('./ckpt', num_labels=3)\n"})
    lint(tmp_path)
    folder = tmp_path / ".ckpt_lint_cache"
    assert (folder / ".gitignore").read_text().splitlines()[-1] == "*"
    assert len(list((folder / "v1").glob("*.json"))) == 1
    shutil.rmtree(folder)
    lint(tmp_path, cache=False)
    assert not folder.exists()  # --no-cache writes nothing


def test_a_changed_import_reanalyses_the_file_that_imports_it(tmp_path):
    """train.py records nothing until lib.build starts loading a model: its cached 'inert' must
    not survive the change in lib.py, which train.py's analysis read."""
    checkpoint(tmp_path / "ckpt", 5)
    write(tmp_path, {
        "train.py": "from lib import build\nnum_labels = 3\nmodel = build(num_labels)\n",
        "lib.py": "def build(n):\n    return n\n",
    })
    assert lint(tmp_path) == []
    write(tmp_path, {"lib.py": LOAD + "def build(n):\n"
                               "    return AutoModelForSequenceClassification.from_pretrained('./ckpt', num_labels=n)\n"})
    assert lint(tmp_path) == ["lib.py:3:12: CKL101"]
    assert lint(tmp_path, cache=False) == ["lib.py:3:12: CKL101"]


def test_touch_without_change_keeps_the_cache(tmp_path, parses):
    write(tmp_path, {"helper.py": "def num_labels():\n    return 3\n"})
    lint(tmp_path)
    assert [p.name for p in parses] == ["helper.py"]
    parses.clear()
    os.utime(tmp_path / "helper.py", ns=(1, 1))
    lint(tmp_path)
    assert parses == []  # same content hash: still fresh
    (tmp_path / "helper.py").write_text("def num_labels():\n    return 4\n")
    lint(tmp_path)
    assert [p.name for p in parses] == ["helper.py"]


def test_a_new_file_invalidates_module_resolution(tmp_path):
    """`from labels import LABELS` resolves to nothing, then to a new labels.py."""
    checkpoint(tmp_path / "ckpt", 5)
    write(tmp_path, {"train.py": LOAD + "from labels import LABELS\n"
                                 "m = AutoModelForSequenceClassification.from_pretrained('./ckpt', num_labels=len(LABELS))\n"})
    assert lint(tmp_path) == []
    write(tmp_path, {"labels.py": "LABELS = ['a', 'b', 'c']\n"})
    assert lint(tmp_path) == ["train.py:3:5: CKL101"]


def test_read_problems_are_replayed_from_the_cache(tmp_path):
    write(tmp_path, {"broken.py": "num_labels = (\n"})
    cold = lint(tmp_path)
    assert cold == ["broken.py:1:15: CKL001"] or cold[0].endswith("CKL001")
    assert lint(tmp_path) == cold


def test_corrupt_or_unwritable_cache_is_ignored(tmp_path, monkeypatch):
    checkpoint(tmp_path / "ckpt", 5)
    write(tmp_path, {"train.py": LOAD + "m = AutoModelForSequenceClassification.from_pretrained('./ckpt', num_labels=3)\n"})
    expected = ["train.py:2:5: CKL101"]
    assert lint(tmp_path) == expected
    (cache_file,) = cache_root(tmp_path).glob("v1/*.json")
    cache_file.write_bytes(b"\x00not json")
    assert lint(tmp_path) == expected
    assert json.loads(cache_file.read_text())["format"] == 1  # rewritten
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the cache folder should go")
    monkeypatch.setenv("CKPT_LINT_CACHE_DIR", str(blocker))
    assert lint(tmp_path) == expected


def test_named_weight_or_config_file_after_a_full_run(tmp_path, capsys):
    """pre-commit stages only the re-downloaded checkpoint's config.json: the CKL101 at the load
    that reads it must still be reported although train.py's analysis is cached."""
    shutil.copytree(EXAMPLE, tmp_path / "p")
    root = tmp_path / "p"
    (root / ".git").mkdir()
    full = lint(root)
    assert full == ["run_bert.py:24:13: CKL101"]
    assert lint(root, root / "pretrained" / "ner-28types" / "config.json") == full
    assert lint(root, root / "conf" / "train.yaml") == full
    assert lint(root, root / "tools" / "preprocess.py") == full  # run_bert.py imports it
    (root / "plot.py").write_text("import matplotlib\n")
    assert lint(root, root / "plot.py") == []


def test_named_run_skips_files_that_cannot_involve_the_named_ones(tmp_path, parses):
    checkpoint(tmp_path / "a" / "ckpt", 5)
    checkpoint(tmp_path / "b" / "ckpt", 5)
    write(tmp_path, {
        "pyproject.toml": "[project]\nname = 'x'\n",
        "a/train.py": LOAD + "m = AutoModelForSequenceClassification.from_pretrained('./ckpt', num_labels=3)\n",
        "b/train.py": LOAD + "m = AutoModelForSequenceClassification.from_pretrained('./ckpt', num_labels=3)\n",
    })
    assert lint(tmp_path) == ["a/train.py:2:5: CKL101", "b/train.py:2:5: CKL101"]
    parses.clear()
    assert lint(tmp_path, tmp_path / "b" / "train.py") == ["b/train.py:2:5: CKL101"]
    assert [p.relative_to(tmp_path).as_posix() for p in parses] == ["b/train.py"]


def test_parallel_first_pass_finds_the_same(tmp_path):
    checkpoint(tmp_path / "ckpt", 5)
    files = {f"lib/m{i:02d}.py": f"def num_labels_{i}():\n    return {i}\n" for i in range(PARALLEL_MIN + 4)}
    files.update({f"train_{i}.py": LOAD + f"from lib.m{i:02d} import num_labels_{i}\n"
                  f"m = AutoModelForSequenceClassification.from_pretrained('./ckpt', num_labels=num_labels_{i}())\n"
                  for i in (3, 5, 7)})
    files["lib/__init__.py"] = ""
    write(tmp_path, files)
    expected = ["train_3.py:3:5: CKL101", "train_7.py:3:5: CKL101"]
    assert lint(tmp_path, cache=False, jobs=1) == expected
    assert lint(tmp_path, cache=False, jobs=2) == expected
    assert lint(tmp_path, jobs=2) == expected  # fills the cache from the helpers' records
    assert lint(tmp_path, jobs=2) == expected  # warm


def test_parallel_first_pass_survives_a_crashing_helper(tmp_path, monkeypatch):
    """A unit the helper fails on is analysed again by the main process."""
    checkpoint(tmp_path / "ckpt", 5)
    files = {f"m{i:02d}.py": f"def num_labels_{i}():\n    return {i}\n" for i in range(PARALLEL_MIN + 4)}
    files["train.py"] = LOAD + "m = AutoModelForSequenceClassification.from_pretrained('./ckpt', num_labels=3)\n"
    write(tmp_path, files)
    main_pid = os.getpid()
    real = project_module.Project.analyze_unit

    def flaky(self, source, scenarios):
        if os.getpid() != main_pid:
            raise RuntimeError("helper bug")
        return real(self, source, scenarios)

    monkeypatch.setattr(project_module.Project, "analyze_unit", flaky)
    assert lint(tmp_path, cache=False, jobs=2) == ["train.py:2:5: CKL101"]


def test_cli_no_cache_and_jobs_flags(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("CKPT_LINT_CACHE_DIR")
    checkpoint(tmp_path / "ckpt", 5)
    write(tmp_path, {"train.py": LOAD + "m = AutoModelForSequenceClassification.from_pretrained('./ckpt', num_labels=3)\n"})
    monkeypatch.chdir(tmp_path)
    assert main(["--output-format", "concise", "--no-cache", "-j", "1", "."]) == 1
    assert "train.py:2:5: CKL101" in capsys.readouterr().out
    assert not (tmp_path / ".ckpt_lint_cache").exists()
    monkeypatch.setenv("CKPT_LINT_NO_CACHE", "1")
    assert main(["--output-format", "concise", "."]) == 1
    assert not (tmp_path / ".ckpt_lint_cache").exists()


# -- the findings cache: replaying a run when nothing changed ---------------------------------------
def _no_analysis(monkeypatch):
    """Make any analysis fail loudly: a replayed run must not reach it."""
    def boom(*a, **k):
        raise AssertionError("analysed although nothing changed")

    monkeypatch.setattr(project_module.Project, "analyze", boom)


def test_unchanged_run_is_replayed_without_analysis(tmp_path, monkeypatch, capsys):
    shutil.copytree(EXAMPLE, tmp_path / "p")
    root = tmp_path / "p"
    (root / ".git").mkdir()
    monkeypatch.chdir(root)
    outputs = []
    for _ in range(2):
        assert main(["--output-format", "sarif", "."]) == 1
        outputs.append(capsys.readouterr().out)
        _no_analysis(monkeypatch)  # the second run is a replay
    assert outputs[0] == outputs[1]  # rule metadata included: the rule table loads on demand


def test_replay_invalidated_by_any_walked_file_and_outside_model_folder(tmp_path, monkeypatch):
    outside = tmp_path / "models" / "ckpt"
    checkpoint(outside, 5)
    root = tmp_path / "proj"
    write(root, {"train.py": LOAD + f"m = AutoModelForSequenceClassification.from_pretrained({str(outside)!r}, "
                                    "num_labels=3)\n"})
    assert lint(root) == ["train.py:2:5: CKL101"]
    checkpoint_json = outside / "config.json"
    checkpoint(tmp_path / "models" / "ok", 3)
    shutil.copy(tmp_path / "models" / "ok" / "config.json", checkpoint_json)  # outside the project
    assert lint(root) == []
    (root / "requirements.txt").write_text("transformers==4.30.0\n")  # not linted, but walked: re-run
    calls = []
    real = project_module.Project.analyze
    monkeypatch.setattr(project_module.Project, "analyze", lambda self, **kw: calls.append(1) or real(self, **kw))
    lint(root)
    assert calls == [1]
    lint(root)
    assert calls == [1]  # replayed
