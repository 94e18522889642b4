"""One lint run: settings → discovery → project analysis → rules → filtered, sorted findings."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .config import Settings
from .diagnostics import Finding
from .discover import discover, project_root


@dataclass
class RunResult:
    findings: list[Finding]
    files: int
    rules: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def run(paths: list[Path], settings: Settings, *, cwd: Path, force_exclude: bool = False,
        cache: bool = True, jobs: int | None = None) -> RunResult:
    from .analysis_cache import AnalysisCache
    from .project import Project
    from .rule import LOAD_ERRORS, all_rules, plugin_rules
    from .suppress import Suppressions

    paths = [p if p.is_absolute() else cwd / p for p in paths]
    only_files = all(p.is_file() for p in paths)
    if only_files:  # pre-commit style: the named files, read in the context of their project
        first = paths[0].resolve()
        root = project_root(first) or (cwd if cwd in first.parents else first.parent)
    else:  # the folder being linted is the project: imports and version pins are looked up there
        root = paths[0].resolve() if len(paths) == 1 else cwd
    # Patterns may be written relative to the project, the pyproject that holds them, or the cwd.
    bases = [b for b in (root, settings.source.parent if settings.source else None, cwd) if b is not None]
    scan = [root] if only_files else paths
    files = discover(scan, root=root, excludes=settings.exclude, force_exclude=force_exclude, bases=bases)
    if only_files:  # explicitly named files are read even if excluded, unless --force-exclude
        named = discover(paths, root=root, excludes=settings.exclude, force_exclude=force_exclude, bases=bases)
        files = sorted({f.path: f for f in [*files, *named]}.values(), key=lambda f: str(f.path))

    rules = all_rules()
    extra, warnings = plugin_rules()
    warnings = [*dict.fromkeys(LOAD_ERRORS), *warnings]
    for cls in extra:
        rules.setdefault(cls.code, cls)

    targets = {os.path.realpath(p) for p in paths} if only_files else None
    named = ({os.path.normpath(p) for p in paths} | targets) if targets is not None else None
    project = Project(root, files, display_base=cwd)
    unit_cache = AnalysisCache(root, [f.path for f in files], persistent=cache and _cache_wanted())
    project.analyze(cache=unit_cache, named=named, jobs=jobs or _cores())
    unit_cache.save()
    warnings.extend(project.warnings)
    suppress = Suppressions(project.text, project.notebook)
    if named is not None:  # a finding also involves a named file when its analysis read that file
        for deps in project.unit_deps.values():
            if named.intersection(deps):
                targets |= {os.path.realpath(d) for d in deps}

    findings: dict[tuple, Finding] = {}
    for code, cls in rules.items():
        if not settings.enabled(code):
            continue
        try:
            produced = list(cls().check(project))
        except Exception as exc:  # one broken rule must not hide the others
            warnings.append(f"rule {code} failed: {type(exc).__name__}: {exc}")
            continue
        for finding in produced:
            rels = [_rel(finding.location.path, base) for base in bases]
            if settings.ignored_for(finding.code, rels) or suppress.suppressed(finding):
                continue
            if targets is not None and not _touches(finding, targets):
                continue
            findings.setdefault((finding.code, finding.location, finding.message), finding)
    ordered = sorted(findings.values(), key=Finding.sort_key)
    return RunResult(ordered, len(files), rules, warnings)


def _cache_wanted() -> bool:
    return os.environ.get("CKPT_LINT_NO_CACHE", "").lower() not in ("1", "true", "yes")


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def _touches(finding: Finding, targets: set[str]) -> bool:
    return any(os.path.realpath(loc.path) in targets for loc in (finding.location, *finding.related))
