"""Every fixture project under tests/fixtures/<CODE>/<case>/ is linted from inside its folder and
must print exactly its expected.txt (concise format; empty = clean). Adding a case = adding a folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from ckpt_lint.cli import main

FIXTURES = Path(__file__).parent / "fixtures"
CASES = sorted(p.parent for p in FIXTURES.glob("*/*/expected.txt"))


@pytest.mark.parametrize("case", CASES, ids=[f"{c.parent.name}/{c.name}" for c in CASES])
def test_fixture(case: Path, capsys, monkeypatch):
    monkeypatch.chdir(case)
    monkeypatch.setenv("HF_HUB_CACHE", str(case / ".no-hf-cache"))
    code = main([".", "--output-format", "concise", "--isolated"])
    out = capsys.readouterr().out
    got = [line for line in out.splitlines() if line and not line.startswith(("Found ", "All checks"))]
    expected = [line for line in (case / "expected.txt").read_text().splitlines() if line.strip()]
    assert got == expected
    assert code == (1 if expected else 0)


def test_every_rule_has_failing_and_passing_fixture():
    from ckpt_lint.rule import all_rules

    for code in all_rules():
        cases = [c for c in CASES if c.parent.name == code]
        failing = [c for c in cases if (c / "expected.txt").read_text().strip()]
        passing = [c for c in cases if not (c / "expected.txt").read_text().strip()]
        assert failing, f"{code} has no failing fixture"
        assert passing, f"{code} has no passing fixture"
