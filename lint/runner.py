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
    replayable: bool = False  # the findings cache may store this run
    folders: list[str] = field(default_factory=list)  # local model folders outside the project it read


class _LazyRules(dict):
    """The rule table of a replayed run, loaded only if a report asks for it (SARIF rule metadata)."""

    def _fill(self) -> None:
        if not self:
            from .rule import all_rules, plugin_rules

            table = all_rules()
            for cls in plugin_rules()[0]:
                table.setdefault(cls.code, cls)
            self.update(table)

    def get(self, key, default=None):
        self._fill()
        return super().get(key, default)

    def __getitem__(self, key):
        self._fill()
        return super().__getitem__(key)

    def items(self):
        self._fill()
        return super().items()


def run(paths: list[Path], settings: Settings, *, cwd: Path, force_exclude: bool = False,
        cache: bool = True, jobs: int | None = None) -> RunResult:
    from .analysis_cache import AnalysisCache, cache_root
    from .findings_cache import FindingsCache, base_key

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
    walked: list[Path] = []
    files = discover(scan, root=root, excludes=settings.exclude, force_exclude=force_exclude, bases=bases,
                     walked=walked)
    if only_files:  # explicitly named files are read even if excluded, unless --force-exclude
        named = discover(paths, root=root, excludes=settings.exclude, force_exclude=force_exclude, bases=bases,
                         walked=walked)
        files = sorted({f.path: f for f in [*files, *named]}.values(), key=lambda f: str(f.path))

    persistent = cache and _cache_wanted()
    replay = FindingsCache(cache_root(root), root, only_files) if persistent else None
    if replay is not None:  # nothing changed since the last identical run: its findings, at once
        key = base_key(settings=settings, paths=sorted(os.path.realpath(p) for p in paths),
                       force_exclude=force_exclude, walked=sorted(set(walked)))
        hit = replay.load(key)
        if hit is not None:
            found, warned, count = hit
            return RunResult(found, count, _LazyRules(), warned)
    result = _run(paths, settings, cwd=cwd, root=root, files=files, bases=bases, only_files=only_files,
                  unit_cache=AnalysisCache(root, [f.path for f in files], persistent=persistent), jobs=jobs)
    if replay is not None:
        if result.replayable:
            replay.store(key, result.folders, result.findings, result.warnings, result.files)
        else:
            replay.forget()
    return result


def _run(paths, settings, *, cwd, root, files, bases, only_files, unit_cache, jobs) -> RunResult:
    from .project import Project
    from .rule import LOAD_ERRORS, all_rules, plugin_rules
    from .suppress import Suppressions

    rules = all_rules()
    extra, warnings = plugin_rules()
    warnings = [*dict.fromkeys(LOAD_ERRORS), *warnings]
    for cls in extra:
        rules.setdefault(cls.code, cls)

    targets = {os.path.realpath(p) for p in paths} if only_files else None
    named = ({os.path.normpath(p) for p in paths} | targets) if targets is not None else None
    project = Project(root, files, display_base=cwd)
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
    records = project.unit_records.values()
    folders = sorted({f for rec in records for f in rec.folders if not f.startswith(str(root) + os.sep)})
    return RunResult(ordered, len(files), rules, warnings, replayable=True, folders=folders)


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
