"""Diagnostics about the input itself: files ckpt-lint could not read."""

from __future__ import annotations

from ckpt_lint.diagnostics import Location, Severity
from ckpt_lint.rule import Rule


class UnreadableFile(Rule):
    """A file that matters could not be read or parsed; checks that needed it were skipped.

    ## What it does
    Reports Python files with syntax errors (including Python 2 code), invalid YAML or JSON, binary
    files with a text name, files over the size cap, unreadable files and truncated or invalid
    safetensors headers — with the reason and, when known, the line and column.

    ## Why is this bad?
    ckpt-lint cannot check what it cannot read: a broken `train.yaml` hides the label list, a
    truncated `model.safetensors` hides the head's shape. The run goes on with the other files, but
    the rules that needed this one stay silent rather than guess.

    ## Example
    ```yaml
    labels: ['LOC', 'ORG'      # unclosed flow sequence
    ```

    ## How to fix
    Fix the file, or exclude it (`--exclude`, `[tool.ckpt-lint] exclude`) if it is not meant to be
    read (a template, a vendored file).
    """

    code = "CKL001"
    name = "unreadable-file"
    severity = Severity.WARNING

    def check(self, project):
        for problem in project.problems:
            loc = Location(problem.path, problem.line or 1, problem.column or 1, cell=problem.cell)
            yield self.finding(loc, f"cannot read {project.display(problem.path)}: {problem.reason}")
        from ckpt_lint.adapters import adapter_sites

        unreadable = {problem.path for problem in project.problems}
        for site in adapter_sites(project):  # adapters whose weights were not read: said once, as an info
            facts = site.facts
            if facts.adapter_tensors is None and facts.adapter_weights_note and site.load is not None and not (
                    facts.path is not None and facts.path / "adapter_model.bin" in unreadable):
                where = project.display(facts.path) if facts.path else facts.ref
                yield self.finding(site.load.site, f"adapter {where}: {facts.adapter_weights_note}; adapter checks "
                                   f"use adapter_config.json and the adapter's tokenizer only",
                                   severity=Severity.INFO)
