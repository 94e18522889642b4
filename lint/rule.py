"""The rule base class and rule discovery.

A rule is a class in a module of `ckpt_lint.rules` (or of a plugin registered under the entry-point
group `ckpt_lint.rules`). Its docstring is its documentation: the first line is the summary, then
sections "What it does", "Why is this bad?", "Example", "How to fix". `ckpt-lint --explain CODE`,
SARIF rule metadata and the README table all read it, so docs cannot drift from code.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import textwrap
from typing import TYPE_CHECKING, ClassVar, Iterable

from .diagnostics import Finding, Fix, Location, Severity

if TYPE_CHECKING:  # pragma: no cover
    from .project import Project


class Rule:
    code: ClassVar[str] = ""
    name: ClassVar[str] = ""
    severity: ClassVar[Severity] = Severity.ERROR

    def check(self, project: "Project") -> Iterable[Finding]:  # pragma: no cover - interface
        raise NotImplementedError

    # -- documentation -------------------------------------------------------------------
    @classmethod
    def doc(cls) -> str:
        return textwrap.dedent(inspect.getdoc(cls) or "").strip()

    @classmethod
    def summary(cls) -> str:
        return cls.doc().splitlines()[0].strip() if cls.doc() else cls.name

    # -- helpers ---------------------------------------------------------------------------
    def finding(
        self,
        location: Location,
        message: str,
        *,
        fix: Fix | str | None = None,
        related: Iterable[Location] = (),
        severity: Severity | None = None,
    ) -> Finding:
        if isinstance(fix, str):
            fix = Fix(fix)
        return Finding(
            code=self.code,
            name=self.name,
            severity=severity or self.severity,
            message=message,
            location=location,
            fix=fix,
            related=_unique(related),
        )


def _rules_in_module(module) -> list[type[Rule]]:
    found = []
    for _, obj in inspect.getmembers(module, inspect.isclass):
        if issubclass(obj, Rule) and obj is not Rule and obj.code and obj.__module__ == module.__name__:
            found.append(obj)
    return found


LOAD_ERRORS: list[str] = []  # rule modules that failed to import (reported, never fatal)


def builtin_rules() -> list[type[Rule]]:
    from . import rules as rules_pkg

    classes: list[type[Rule]] = []
    for info in pkgutil.iter_modules(rules_pkg.__path__):
        try:
            module = importlib.import_module(f"{rules_pkg.__name__}.{info.name}")
        except Exception as exc:
            LOAD_ERRORS.append(f"rule module {info.name!r} failed to load: {type(exc).__name__}: {exc}")
            continue
        classes.extend(_rules_in_module(module))
    return classes


def plugin_rules() -> tuple[list[type[Rule]], list[str]]:
    """Rules from the `ckpt_lint.rules` entry-point group; returns (rules, load errors)."""
    from importlib.metadata import entry_points

    classes: list[type[Rule]] = []
    errors: list[str] = []
    for ep in entry_points(group="ckpt_lint.rules"):
        try:
            obj = ep.load()
        except Exception as exc:  # a broken plugin must not take the run down
            errors.append(f"plugin {ep.name!r} failed to load: {exc}")
            continue
        if inspect.ismodule(obj):
            classes.extend(_rules_in_module(obj))
        elif inspect.isclass(obj) and issubclass(obj, Rule):
            classes.append(obj)
        else:
            errors.append(f"plugin {ep.name!r} is neither a Rule subclass nor a module of rules")
    return classes, errors


def all_rules() -> dict[str, type[Rule]]:
    table: dict[str, type[Rule]] = {}
    for cls in builtin_rules():
        table[cls.code] = cls
    return dict(sorted(table.items()))


def _unique(locs: Iterable[Location]) -> tuple[Location, ...]:
    """Related locations in order, each position once (the first note wins)."""
    out: dict = {}
    for loc in locs:
        out.setdefault((loc.path, loc.cell, loc.line, loc.column), loc)
    return tuple(out.values())
