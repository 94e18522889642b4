"""CKLX01 hardcoded-cuda-device: the example plugin rule, and the template for a team's own rules.

A plugin rule is a `ckpt_lint.rule.Rule` subclass with a `code` (letters then digits, so the problem
matcher and the JSON schema accept it; selectors match by prefix, so `--ignore CKL` also silences
CKLX01: a team prefix of its own, such as ACME001, avoids that), a kebab-case `name`, a `severity`, and a
docstring that is its documentation (`ckpt-lint --explain CKLX01`, SARIF help): first line the
summary, then "What it does", "Why is this bad?", "Example", "How to fix".

`check(project)` yields findings made with `self.finding(location, message, fix=..., related=...)`.
What a rule can read from the `project` it is given (ckpt_lint.project.Project):
  - `project.files`: the files of the run (`.path`, `.kind`: python, notebook, yaml, json, shell);
  - `project.python(path)`: a parsed Python file or notebook (None if unreadable; ckpt-lint reports
    that as CKL001): `.module` is the libcst tree, `.loc(node)` a node's Location (cells included),
    `.code(node)` its source on one line;
  - `project.text(path)`, `project.data(path, "yaml"|"json")` for other files;
  - `project.events` / `project.configs`: the model loads and configs the evaluator followed (what the
    built-in rules use; their fields are in ckpt_lint.flow and ckpt_lint.hf).
Selection (`--select`, `--ignore`, per-file-ignores) and `# ckpt-lint: ignore[CKLX01]` comments apply
to plugin rules exactly as to the built-in ones; a plugin that fails to import, or whose check raises,
is a warning on stderr and the run goes on.
"""

from __future__ import annotations

import re

import libcst as cst

from ckpt_lint.diagnostics import Severity
from ckpt_lint.rule import Rule

DEVICE = re.compile(r"cuda:\d+")
METHODS = {"to", "device", "cuda"}  # model.to("cuda:0"), torch.device("cuda:1"), x.cuda("cuda:0")


class HardcodedCudaDevice(Rule):
    """A fixed GPU index (`.to("cuda:0")`) in training code.

    ## What it does
    Flags `.to("cuda:N")`, `torch.device("cuda:N")` and `.cuda("cuda:N")` with a literal device index.

    ## Why is this bad?
    Under torchrun or DeepSpeed every process should use its own GPU (`LOCAL_RANK`). A hard-coded
    `cuda:0` puts every rank on the first GPU: it runs out of memory, or the job runs N times on one card.

    ## Example
    ```python
    model.to("cuda:0")
    ```

    ## How to fix
    Use `torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))`, or `accelerator.device`.
    """

    code = "CKLX01"
    name = "hardcoded-cuda-device"
    severity = Severity.WARNING

    def check(self, project):
        for source in project.files:
            if source.kind not in ("python", "notebook"):
                continue
            py = project.python(source.path)
            if py is None:  # unreadable: already a CKL001
                continue
            calls = _DeviceCalls()
            py.module.visit(calls)
            for node, device in calls.found:
                yield self.finding(
                    py.loc(node),
                    f"`{py.code(node)}` puts every process on {device}: each torchrun/DDP rank needs its own GPU",
                    fix='use torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0))) or accelerator.device',
                )


class _DeviceCalls(cst.CSTVisitor):
    def __init__(self) -> None:
        self.found: list[tuple[cst.Call, str]] = []

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        name = func.attr.value if isinstance(func, cst.Attribute) else getattr(func, "value", None)
        if name in METHODS and node.args and isinstance(node.args[0].value, cst.SimpleString):
            value = node.args[0].value.evaluated_value
            if isinstance(value, str) and DEVICE.fullmatch(value):
                self.found.append((node, value))
