"""Every fixture project under tests/fixtures/<CODE>/<case>/ is linted from inside its folder and
must print exactly its expected.txt (concise format; empty = clean). Adding a case = adding a folder.

Runs are offline (tests/conftest.py), except for a case with a `hub/` folder: its repos
(`hub/<org>/<name>/...`, see tests/hub_server.py) are served by a local Hub for that run, which is
then online with an empty HF cache; `hub/` itself is not linted. In expected.txt, lines starting with
`#` are comments, and `# exit: N` states the exit code when it is not the default (1 if any finding
is expected, else 0) — e.g. 0 for a case whose only finding is an info.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import pytest

from ckpt_lint.cli import main

FIXTURES = Path(__file__).parent / "fixtures"
CASES = sorted(p.parent for p in FIXTURES.glob("*/*/expected.txt"))


@pytest.mark.parametrize("case", CASES, ids=[f"{c.parent.name}/{c.name}" for c in CASES])
def test_fixture(case: Path, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(case)
    monkeypatch.setenv("HF_HUB_CACHE", str(case / ".no-hf-cache"))
    args = [".", "--output-format", "concise", "--isolated"]
    with contextlib.ExitStack() as stack:
        if (case / "hub").is_dir():
            from conftest import serve_hub

            stack.enter_context(serve_hub(monkeypatch, case / "hub", tmp_path / "hf-cache"))
            args += ["--exclude", "/hub/"]
        code = main(args)
    out = capsys.readouterr().out
    got = [line for line in out.splitlines() if line and not line.startswith(("Found ", "All checks"))]
    text = (case / "expected.txt").read_text()
    expected = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    assert got == expected
    exit_code = re.search(r"^# exit: (\d+)$", text, re.M)
    assert code == (int(exit_code.group(1)) if exit_code else 1 if expected else 0)


def test_every_rule_has_failing_and_passing_fixture():
    from ckpt_lint.rule import all_rules

    for code in all_rules():
        cases = [c for c in CASES if c.parent.name == code]
        failing = [c for c in cases if (c / "expected.txt").read_text().strip()]
        passing = [c for c in cases if not (c / "expected.txt").read_text().strip()]
        assert failing, f"{code} has no failing fixture"
        assert passing, f"{code} has no passing fixture"
