"""Runtime agreement: the linter reports an error exactly when the real load raises.

(a) runs each fixture case (tests/fixtures/*/*/runtime.json) with real torch + transformers and
    checks the recorded outcome; (b) runs ckpt-lint on the same folder.
Missing torch/transformers/hydra is a failure, not a skip, unless CKPT_LINT_SKIP_RUNTIME=1.
"""

from __future__ import annotations

import importlib.util
import json
import os

import pytest

from runtime_cases import case_id, discover, load_spec, run_all

pytestmark = pytest.mark.runtime

CASES = discover()
IDS = [case_id(c) for c in CASES]
SKIP_RUNTIME = os.environ.get("CKPT_LINT_SKIP_RUNTIME") == "1"
RUNTIME_DEPS = ("torch", "transformers", "hydra")


def test_cases_discovered():
    assert len(CASES) >= 11, IDS


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    if SKIP_RUNTIME:
        pytest.skip("CKPT_LINT_SKIP_RUNTIME=1")
    missing = [m for m in RUNTIME_DEPS if importlib.util.find_spec(m) is None]
    if missing:
        pytest.fail(f"runtime agreement needs {missing} (pip install -e '.[runtime]'), "
                    "or set CKPT_LINT_SKIP_RUNTIME=1", pytrace=False)
    return run_all(CASES, tmp_path_factory.mktemp("runtime"))


@pytest.mark.parametrize("case_dir", CASES, ids=IDS)
def test_runtime_outcome(case_dir, outcomes):
    o = outcomes[case_id(case_dir)]
    detail = f"exit {o.returncode}\n--- stdout\n{o.stdout[-2000:]}\n--- stderr\n{o.stderr[-4000:]}"
    if load_spec(case_dir)["raises"]:
        assert o.returncode != 0, detail
        assert o.raised_expected, detail
        assert "loaded" not in o.stdout.splitlines(), detail
    else:
        assert o.returncode == 0, detail
        assert "loaded" in o.stdout.splitlines(), detail


def _lint(case_dir, capsys, monkeypatch) -> list[dict]:
    from ckpt_lint.cli import main

    monkeypatch.chdir(case_dir)
    capsys.readouterr()
    rc = main([str(case_dir), "--output-format", "json", "--isolated"])
    out = capsys.readouterr().out
    assert rc in (0, 1), f"exit code {rc}\n{out}"
    try:
        findings = json.loads(out)
    except json.JSONDecodeError:
        pytest.fail(f"linter printed no JSON array:\n{out!r}")
    assert isinstance(findings, list), out
    return findings


@pytest.mark.parametrize("case_dir", CASES, ids=IDS)
def test_linter_agrees(case_dir, capsys, monkeypatch):
    """raises <=> an error finding; the case's own rule (its folder's name) is the one that reports it.

    A case whose runtime.json says "severity": "warning" is about a rule that warns (the failure is a
    forward-time error, or depends on how the code is run): there, raises <=> that rule's warning, and
    no error is reported either way."""
    findings = _lint(case_dir, capsys, monkeypatch)
    errors = [f for f in findings if f.get("severity") == "error"]
    spec = load_spec(case_dir)
    code = spec.get("code", case_dir.parent.name)
    if spec.get("severity") == "warning":
        warned = [f for f in findings if f["code"] == code and f.get("severity") == "warning"]
        assert not errors, f"errors reported: {json.dumps(errors, indent=1)}"
        assert bool(warned) == spec["raises"], f"raises={spec['raises']} but findings: {json.dumps(findings, indent=1)}"
        return
    if spec["raises"]:
        assert any(f["code"] == code for f in errors), \
            f"load raises but no {code} error; findings: {json.dumps(findings, indent=1)}"
    else:
        assert not errors, f"load succeeds but errors reported: {json.dumps(errors, indent=1)}"
