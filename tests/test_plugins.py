"""Plugin rules through a real entry point: tests/plugin_example, the template teams copy.

A temporary site folder gets the example package and a `.dist-info` whose entry_points.txt is
generated from the template's own pyproject.toml (so the template cannot drift from what is tested),
as `pip install` would leave them. ckpt-lint then runs as a subprocess with that folder on
PYTHONPATH, discovering the rule through importlib.metadata like an installed plugin.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "tests" / "plugin_example"
MATCHER = re.compile(json.loads((REPO / ".github" / "ckpt-lint-matcher.json").read_text())
                     ["problemMatcher"][0]["pattern"][0]["regexp"])

TRAIN = """\
import torch
from transformers import AutoModel

model = AutoModel.from_pretrained("bert-base-uncased")
model.to("cuda:0")
device = torch.device("cuda", 0)
batch = torch.zeros(2).to(device)
"""
FINDING = ('train.py:5:1: CKLX01 `model.to("cuda:0")` puts every process on cuda:0: '
           "each torchrun/DDP rank needs its own GPU")


def write_dist(site: Path, name: str, entry_points: dict[str, str]) -> None:
    """`name-0.1.0.dist-info` with METADATA and entry_points.txt, as pip leaves an installed project."""
    dist = site / f"{name.replace('-', '_')}-0.1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1.0\n")
    lines = "".join(f"{key} = {value}\n" for key, value in entry_points.items())
    (dist / "entry_points.txt").write_text(f"[ckpt_lint.rules]\n{lines}")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The example plugin, installed by hand."""
    site = tmp_path_factory.mktemp("plugin-site")
    shutil.copytree(TEMPLATE / "ckpt_lint_example", site / "ckpt_lint_example",
                    ignore=shutil.ignore_patterns("__pycache__"))
    project = tomllib.loads((TEMPLATE / "pyproject.toml").read_text())["project"]
    write_dist(site, project["name"], project["entry-points"]["ckpt_lint.rules"])
    return site


@pytest.fixture(scope="module")
def broken_site(site, tmp_path_factory) -> Path:
    """The example plugin plus two broken ones: one raises on import, one raises in check()."""
    broken = tmp_path_factory.mktemp("broken-site")
    (broken / "ckpt_lint_broken.py").write_text('raise RuntimeError("this plugin is broken")\n')
    (broken / "ckpt_lint_flaky.py").write_text(
        "from ckpt_lint.rule import Rule\n\n\n"
        "class Flaky(Rule):\n"
        '    """Always fails."""\n\n'
        '    code = "CKLY01"\n'
        '    name = "always-fails"\n\n'
        "    def check(self, project):\n"
        '        raise ValueError("flaky plugin")\n'
    )
    write_dist(broken, "ckpt-lint-broken", {"broken": "ckpt_lint_broken", "flaky": "ckpt_lint_flaky:Flaky"})
    return broken


@pytest.fixture
def project(tmp_path) -> Path:
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "train.py").write_text(TRAIN)
    return proj


def ckpt_lint(*args, cwd: Path, sites: list[Path]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("CKPT_LINT_OUTPUT_FORMAT", "GITHUB_STEP_SUMMARY")}
    env["PYTHONPATH"] = os.pathsep.join([*map(str, sites), *filter(None, [env.get("PYTHONPATH")])])
    env["HF_HUB_OFFLINE"] = "1"
    proc = subprocess.run([sys.executable, "-m", "ckpt_lint", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    return proc


def findings(out: str) -> list[str]:
    return [line for line in out.splitlines() if MATCHER.match(line)]


def test_the_plugin_finding_is_reported(project, site):
    proc = ckpt_lint(".", "--output-format", "concise", "--isolated", cwd=project, sites=[site])
    assert proc.returncode == 1, proc.stderr  # a warning fails at the default fail-on
    assert findings(proc.stdout) == [FINDING]
    assert proc.stderr == ""


def test_without_the_plugin_there_is_nothing(project):
    proc = ckpt_lint(".", "--output-format", "concise", "--isolated", cwd=project, sites=[])
    assert (proc.returncode, proc.stdout) == (0, "")


def test_list_rules_and_explain(tmp_path, site):
    listed = ckpt_lint("--list-rules", cwd=tmp_path, sites=[site])
    assert listed.returncode == 0
    assert re.search(r"^CKLX01  hardcoded-cuda-device\s+warning\s+A fixed GPU index", listed.stdout, re.M)
    assert "CKL101" in listed.stdout
    explained = ckpt_lint("--explain", "cklx01", cwd=tmp_path, sites=[site])
    assert explained.returncode == 0
    assert explained.stdout.startswith("CKLX01 hardcoded-cuda-device (warning)")
    assert "## How to fix" in explained.stdout


@pytest.mark.parametrize(("flags", "reported"), [
    (["--select", "CKLX"], True),
    (["--select", "CKLX01,CKL101"], True),
    (["--select", "CKL1"], False),  # a prefix of the built-in codes only
    (["--ignore", "CKLX01"], False),
    (["--ignore", "cklx"], False),
    (["--ignore", "CKL"], False),  # a selector matches by prefix: CKL covers CKLX01 too
])
def test_select_and_ignore_apply_to_plugin_rules(project, site, flags, reported):
    proc = ckpt_lint(".", "--output-format", "concise", "--isolated", *flags, cwd=project, sites=[site])
    assert findings(proc.stdout) == ([FINDING] if reported else [])
    assert proc.returncode == (1 if reported else 0)


def test_show_settings_lists_the_plugin_rule(project, site):
    proc = ckpt_lint("--show-settings", "--isolated", "--select", "CKLX", cwd=project, sites=[site])
    assert proc.returncode == 0
    assert "  CKLX01  hardcoded-cuda-device" in proc.stdout.splitlines()
    assert re.search(r"^rules: 1 of \d+ enabled$", proc.stdout, re.M)


def test_inline_suppression_applies_to_plugin_rules(project, site):
    path = project / "train.py"
    path.write_text(TRAIN.replace('model.to("cuda:0")', 'model.to("cuda:0")  # ckpt-lint: ignore[CKLX01]'))
    proc = ckpt_lint(".", "--output-format", "concise", "--isolated", cwd=project, sites=[site])
    assert (proc.returncode, findings(proc.stdout)) == (0, [])


def test_json_output_of_a_plugin_finding_matches_the_schema(project, site):
    jsonschema = pytest.importorskip("jsonschema")
    from importlib import resources

    schema = json.loads(resources.files("ckpt_lint").joinpath("data", "report.schema.json").read_text("utf-8"))
    proc = ckpt_lint(".", "--output-format", "json", "--isolated", cwd=project, sites=[site])
    data = json.loads(proc.stdout)
    jsonschema.validate(data, schema)
    [finding] = data
    assert (finding["code"], finding["name"], finding["severity"]) == ("CKLX01", "hardcoded-cuda-device", "warning")
    assert "LOCAL_RANK" in finding["fix"]["message"]


def test_broken_plugins_are_warnings_and_the_run_goes_on(project, site, broken_site):
    proc = ckpt_lint(".", "--output-format", "concise", "--isolated", cwd=project, sites=[site, broken_site])
    assert proc.returncode == 1
    assert findings(proc.stdout) == [FINDING]  # the working plugin still runs
    warnings = proc.stderr.splitlines()
    assert "ckpt-lint: warning: plugin 'broken' failed to load: this plugin is broken" in warnings
    assert any(w.startswith("ckpt-lint: warning: rule CKLY01 failed: ValueError: flaky plugin") for w in warnings)
    listed = ckpt_lint("--list-rules", cwd=project, sites=[site, broken_site])
    assert listed.returncode == 0 and "CKLX01" in listed.stdout
    assert "ckpt-lint: warning: plugin 'broken' failed to load" in listed.stderr
