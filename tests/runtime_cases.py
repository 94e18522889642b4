"""Fixture cases with a measured runtime outcome (tests/fixtures/<RULE>/<case>/runtime.json).

runtime.json = {"argv": [...], "raises": bool, "error": regex, "code": rule, "severity": "warning"} (last three optional). A raising case must print
a traceback matching "error" (default: a size mismatch), so a case cannot pass by crashing some other way. argv runs with cwd = a copy of the case folder
(so Hydra's outputs/ and __pycache__ never land in the repo); "python" means sys.executable,
and the interpreter's bin dir is put first on PATH so `python` inside run.sh resolves to it.

    python tests/runtime_cases.py      # run every case, print the measured outcome
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"
TIMEOUT = 120
SIZE_MISMATCH = re.compile(r"size mismatch|ignore_mismatched_sizes")
_ERROR_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception): ")


@dataclass
class Outcome:
    case: str
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    pattern: re.Pattern = SIZE_MISMATCH

    @property
    def raised_expected(self) -> bool:
        """Exited non-zero with the error the case is about (its runtime.json "error", else a size mismatch)."""
        return self.returncode != 0 and bool(self.pattern.search(self.stderr))

    @property
    def error_line(self) -> str:
        for line in self.stderr.splitlines():
            if _ERROR_LINE.match(line):
                return line
        return ""


EXAMPLES = FIXTURES.parent.parent / "examples"


def discover() -> list[Path]:
    """Fixture cases and bundled examples with a runtime.json ({"code": ...} names the rule for examples)."""
    return sorted(p.parent for p in [*FIXTURES.glob("*/*/runtime.json"), *EXAMPLES.glob("*/runtime.json")])


def case_id(case_dir: Path) -> str:
    return f"{case_dir.parent.name}/{case_dir.name}"


def load_spec(case_dir: Path) -> dict:
    return json.loads((case_dir / "runtime.json").read_text())


def _argv(argv: list[str]) -> list[str]:
    head = {"python": sys.executable, "bash": shutil.which("bash") or "bash"}
    return [head.get(argv[0], argv[0]), *argv[1:]]


def run_case(case_dir: Path, workdir: Path) -> Outcome:
    """Copy the case folder into workdir and run its argv there."""
    dest = workdir / case_dir.parent.name / case_dir.name
    shutil.copytree(case_dir, dest, ignore=shutil.ignore_patterns("__pycache__", "outputs", ".hydra"))
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    env["HF_HUB_OFFLINE"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.pop("PYTHONPATH", None)
    spec = load_spec(case_dir)
    start = time.monotonic()
    proc = subprocess.run(_argv(spec["argv"]), cwd=dest, env=env,
                          capture_output=True, text=True, timeout=TIMEOUT)
    pattern = re.compile(spec["error"]) if spec.get("error") else SIZE_MISMATCH
    return Outcome(case_id(case_dir), proc.returncode, proc.stdout, proc.stderr, time.monotonic() - start, pattern)


def run_all(cases: list[Path], workdir: Path) -> dict[str, Outcome]:
    workers = max(2, os.cpu_count() or 2)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        outcomes = pool.map(lambda c: run_case(c, workdir), cases)
        return {o.case: o for o in outcomes}


def main() -> int:
    cases = discover()
    with tempfile.TemporaryDirectory() as tmp:
        results = run_all(cases, Path(tmp))
    bad = 0
    for case in cases:
        o = results[case_id(case)]
        expected = load_spec(case)["raises"]
        status = "RAISES" if o.raised_expected else ("LOADS" if o.returncode == 0 else f"EXIT {o.returncode}")
        ok = o.raised_expected == expected and (expected or "loaded" in o.stdout)
        bad += not ok
        print(f"{'ok ' if ok else 'BAD'} {o.case:40s} {status:7s} {o.seconds:5.1f}s  {o.error_line}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
