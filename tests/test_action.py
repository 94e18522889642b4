"""The composite GitHub Action (action.yml): its structure, and its scripts run the way a runner runs them.

A runner is not available here, so the steps are replayed: each step's `if:` and `${{ }}` expressions
are evaluated by a deliberately tiny evaluator (inputs with their defaults, `github.action_path`),
which raises on anything else, so a change to action.yml that these tests cannot replay fails
loudly instead of being skipped. Scripts run as GitHub runs `shell: bash`
(`bash --noprofile --norc -eo pipefail FILE`). The install step runs against stub `python`/`ckpt-lint`
commands (it must not pip-install into the test environment); the other steps run the real ckpt-lint.
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

yaml = pytest.importorskip("yaml")

from ckpt_lint.report import FORMATS  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
ACTION = yaml.safe_load((REPO / "action.yml").read_text())
SARIF_SCHEMA = REPO / "tests" / "data" / "sarif-schema-2.1.0.json"
MATCHER = re.compile(json.loads((REPO / ".github" / "ckpt-lint-matcher.json").read_text())
                     ["problemMatcher"][0]["pattern"][0]["regexp"])
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
CONDITION = re.compile(r"^inputs\.([A-Za-z0-9_-]+) (==|!=) '([^']*)'$")
STEPS = ACTION["runs"]["steps"]
BASH = shutil.which("bash")


# --------------------------------------------------------------------------------------------
# structure


def _expressions(value) -> list[str]:
    if isinstance(value, dict):
        return [e for v in value.values() for e in _expressions(v)]
    if isinstance(value, list):
        return [e for v in value for e in _expressions(v)]
    return EXPRESSION.findall(value) if isinstance(value, str) else []


def test_metadata():
    assert ACTION["name"] == "ckpt-lint" and ACTION["description"]
    assert ACTION["runs"]["using"] == "composite"
    for name, spec in ACTION["inputs"].items():
        assert spec.get("description"), name
        assert spec.get("required", False) is False, name  # every input has a usable default
    assert ACTION["inputs"]["args"]["default"] == "."
    assert ACTION["inputs"]["output-format"]["default"] == "github"
    assert ACTION["inputs"]["output-format"]["default"] in FORMATS
    for fmt in FORMATS:  # the description names every format the CLI accepts
        assert fmt in ACTION["inputs"]["output-format"]["description"]


def test_every_step_has_a_shell_and_a_name():
    for step in STEPS:
        assert "run" in step and "uses" not in step, step  # setup-python is the caller's job
        assert step.get("shell") == "bash", step  # composite run steps must say which shell
        assert step.get("name"), step


def test_only_declared_inputs_are_referenced():
    declared = set(ACTION["inputs"])
    referenced = set()
    for step in STEPS:
        for expr in _expressions(step) + ([step["if"]] if "if" in step else []):
            referenced.update(re.findall(r"inputs\.([A-Za-z0-9_-]+)", expr))
    assert referenced <= declared, referenced - declared
    assert referenced == declared  # and every input is used


def test_inputs_reach_scripts_through_env_only():
    """`${{ inputs.args }}` pasted into a script would let an input inject shell code."""
    for step in STEPS:
        assert "${{" not in step["run"], step["name"]


def test_the_problem_matcher_the_action_registers_exists():
    [step] = [s for s in STEPS if "add-matcher" in s["run"]]
    assert step["if"] == "inputs.output-format == 'concise'"
    path = re.search(r"::add-matcher::\$CKPT_LINT_ACTION_PATH/(\S+?)\"", step["run"]).group(1)
    assert (REPO / path).is_file()


# --------------------------------------------------------------------------------------------
# replaying the steps


def _evaluate(expr: str, inputs: dict[str, str]) -> str:
    if expr == "github.action_path":
        return str(REPO)
    m = re.fullmatch(r"inputs\.([A-Za-z0-9_-]+)", expr)
    if m is None:
        raise AssertionError(f"the replay does not know the expression {expr!r}: teach tests/test_action.py")
    return inputs[m.group(1)]


def _condition(expr: str, inputs: dict[str, str]) -> bool:
    m = CONDITION.match(expr.strip())
    if m is None:
        raise AssertionError(f"the replay does not know the condition {expr!r}: teach tests/test_action.py")
    name, op, value = m.groups()
    return (inputs[name] == value) == (op == "==")


def run_action(cwd: Path, tmp_path: Path, *, skip_install: bool = True, path_prefix: str = "",
               **given: str) -> tuple[int, str, str]:
    """Run the action's steps in order (stopping at the first failure): (exit code, stdout, stderr)."""
    inputs = {name: str(spec.get("default", "")) for name, spec in ACTION["inputs"].items()}
    inputs.update({k.replace("_", "-"): v for k, v in given.items()})
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "INPUT_", "CKPT_LINT_OUTPUT"))}
    env["PATH"] = os.pathsep.join(p for p in (path_prefix, str(Path(sys.executable).parent), env["PATH"]) if p)
    out, err = [], []
    for i, step in enumerate(STEPS):
        if skip_install and step["name"].startswith("Install"):
            continue
        if "if" in step and not _condition(step["if"], inputs):
            continue
        script = tmp_path / f"step-{i}.sh"
        script.write_text(step["run"])
        step_env = {**env, **{k: EXPRESSION.sub(lambda m: _evaluate(m.group(1), inputs), str(v))
                              for k, v in step.get("env", {}).items()}}
        proc = subprocess.run([BASH, "--noprofile", "--norc", "-eo", "pipefail", str(script)], cwd=cwd,
                              env=step_env, capture_output=True, text=True, timeout=120)
        out.append(proc.stdout)
        err.append(proc.stderr)
        if proc.returncode:
            return proc.returncode, "".join(out), "".join(err)
    return 0, "".join(out), "".join(err)


needs_bash = pytest.mark.skipif(BASH is None, reason="bash is not installed")


@needs_bash
def test_default_inputs_annotate_through_workflow_commands(tmp_path):
    code, out, err = run_action(REPO / "examples" / "deepke-ner", tmp_path)
    assert code == 1, err
    [line] = out.splitlines()
    assert line.startswith("::error file=run_bert.py,line=24,col=13,"), line
    assert "::add-matcher::" not in out


@needs_bash
def test_concise_registers_the_matcher_and_writes_sarif(tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    sarif = tmp_path / "out" / "ckpt-lint.sarif"
    sarif.parent.mkdir()
    code, out, err = run_action(REPO, tmp_path, args="examples/deepke-ner", output_format="concise",
                                sarif_file=str(sarif))
    assert code == 1, err
    lines = out.splitlines()
    assert lines[0] == f"::add-matcher::{REPO}/.github/ckpt-lint-matcher.json"
    assert Path(lines[0].removeprefix("::add-matcher::")).is_file()
    m = MATCHER.match(lines[1])
    assert m and m.groups()[:4] == ("examples/deepke-ner/run_bert.py", "24", "13", "CKL101")
    assert lines[2] == "Found 1 error."
    log = json.loads(sarif.read_text())
    jsonschema.validate(log, json.loads(SARIF_SCHEMA.read_text()))
    [result] = log["runs"][0]["results"]
    assert result["ruleId"] == "CKL101"


@needs_bash
def test_sarif_file_is_written_even_when_clean(tmp_path):
    sarif = tmp_path / "clean.sarif"
    code, out, err = run_action(REPO, tmp_path, args="examples/deepke-ner-fixed", sarif_file=str(sarif))
    assert (code, out) == (0, ""), err
    assert json.loads(sarif.read_text())["runs"][0]["results"] == []


@needs_bash
@pytest.mark.parametrize(("args", "code"), [
    ("examples/deepke-ner --select CKL2", 0),  # options pass through
    ("'examples/deepke-ner' \"--ignore=CKL101\"", 0),  # shell-style quotes are honoured
    ("examples/deepke-ner --output-format concise", 1),  # a later --output-format wins over the input
    ("examples/deepke-ner-* $(touch pwned) `touch pwned`", 2),  # nothing is expanded or executed
])
def test_args_are_split_like_a_command_line(tmp_path, args, code):
    got, out, err = run_action(REPO, tmp_path, args=args)
    assert got == code, (out, err)
    assert not (REPO / "pwned").exists() and not (tmp_path / "pwned").exists()
    if code == 2:
        assert "no such file or folder: examples/deepke-ner-*, $(touch, pwned)" in err


@needs_bash
def test_unbalanced_quotes_fail_the_step(tmp_path):
    code, out, err = run_action(REPO, tmp_path, args="'examples/deepke-ner")
    assert code != 0 and out == ""
    assert "No closing quotation" in err


@needs_bash
@pytest.mark.parametrize(("version", "installed"), [
    ("", str(REPO)),  # the action's own checkout
    ("ckpt-lint==0.1.0", "ckpt-lint==0.1.0"),
])
def test_install_step(tmp_path, version, installed):
    stubs = tmp_path / "bin"
    stubs.mkdir()
    for name in ("python", "ckpt-lint"):  # record the command instead of installing anything
        (stubs / name).write_text(f'#!/bin/sh\necho "{name} $*" >> "{tmp_path}/calls"\n')
        (stubs / name).chmod(0o755)
    assert STEPS[0]["name"].startswith("Install")
    code, _, err = run_action(tmp_path, tmp_path, skip_install=False, path_prefix=str(stubs), version=version,
                              args=".")
    assert code == 0, err
    calls = (tmp_path / "calls").read_text().splitlines()
    assert calls[0] == f"python -m pip install --disable-pip-version-check --quiet {installed}", calls
    assert calls[1] == "ckpt-lint --version"
