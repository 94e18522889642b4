"""`ckpt-lint [PATH ...]`: argument parsing and exit codes. Nothing heavy is imported at module level.

Also `ckpt-lint cache info|clear` and `ckpt-lint snapshot --update MODEL...`: a first argument
`cache`/`snapshot` is a subcommand only when followed by one of its own words (`info`, `clear`,
`--update`, `-h`), so a folder named `cache` can still be linted.

Exit codes (as ruff): 0 no finding at the failing level, 1 findings, 2 usage/configuration/internal error;
with `--fix` they are those of the findings that remain, with `--diff` 1 when a fix would change a file.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import __version__
from .report import FORMATS


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ckpt-lint",
        description="Static compatibility linter for ML training code: finds checkpoint/config "
        "mismatches (head sizes, vocabularies, adapters) before a job runs. Never runs your code, "
        "never downloads weights.",
    )
    p.add_argument("paths", nargs="*", type=Path, help="files or folders to check (default: .)")
    p.add_argument("--output-format", choices=FORMATS, help="how to print findings (default: full)")
    p.add_argument("--select", help="comma-separated codes or prefixes to enable (default: ALL)")
    p.add_argument("--ignore", help="comma-separated codes or prefixes to disable")
    p.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                   help="gitignore-style patterns to skip (repeatable, comma-separated)")
    p.add_argument("--force-exclude", action="store_true",
                   help="apply excludes to paths named on the command line too (for pre-commit)")
    p.add_argument("--config", type=Path, metavar="PYPROJECT",
                   help="read [tool.ckpt-lint] from this file instead of the nearest pyproject.toml")
    p.add_argument("--isolated", action="store_true", help="ignore any pyproject.toml configuration")
    p.add_argument("--offline", action="store_true",
                   help="no Hub requests: local folders, the HF cache, ckpt-lint's cache and the bundled "
                   "snapshot only (as HF_HUB_OFFLINE=1)")
    p.add_argument("--no-cache", action="store_true",
                   help="do not read or write the analysis cache (.ckpt_lint_cache/; also CKPT_LINT_NO_CACHE=1)")
    p.add_argument("--jobs", "-j", type=int, metavar="N",
                   help="processes for a cold run's first pass (default: the number of cores; 1: none)")
    p.add_argument("--exit-zero", action="store_true", help="exit 0 even when there are findings")
    p.add_argument("--fix", action=argparse.BooleanOptionalAction, default=None,
                   help="apply the safe fixes in place, then report what remains (default: `fix` in the config)")
    p.add_argument("--unsafe-fixes", action=argparse.BooleanOptionalAction, default=None,
                   help="also apply (and show as fixable) unsafe fixes, which may change what the code does")
    p.add_argument("--diff", action="store_true",
                   help="print a diff of what --fix would change and change no file; exit 1 if there is one")
    p.add_argument("--fail-on", choices=("error", "warning", "never"),
                   help="lowest severity that makes the exit code 1 (default: warning)")
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    p.add_argument("--explain", metavar="CODE", help="print a rule's documentation and exit")
    p.add_argument("--list-rules", action="store_true", help="list every rule (plugins included) and exit")
    p.add_argument("--statistics", action="store_true",
                   help="instead of the findings, print how many there are of each code (exit code unchanged)")
    p.add_argument("--show-settings", action="store_true",
                   help="print the resolved settings (config file, rules, project root) and exit without linting")
    p.add_argument("--version", action="version", version=f"ckpt-lint {__version__}")
    return p


def _split(values) -> list[str]:
    out: list[str] = []
    for value in values if isinstance(values, list) else [values]:
        out.extend(v.strip() for v in str(value).split(",") if v.strip())
    return out


SUBCOMMANDS = {"cache": ("info", "clear", "-h", "--help"), "snapshot": ("--update", "-h", "--help")}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    sub = argv[0] if len(argv) > 1 and argv[1] in SUBCOMMANDS.get(argv[0], ()) else None
    parser = _sub_parser(sub) if sub else build_parser()
    try:
        args = parser.parse_args(argv[1:] if sub else argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help/--version
        return int(exc.code or 0)
    try:
        if sub == "cache":
            return _cache(args)
        if sub == "snapshot":
            return _snapshot(args)
        return _main(args)
    except KeyboardInterrupt:
        print("ckpt-lint: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    except Exception as exc:  # never a traceback for users; CKPT_LINT_DEBUG=1 shows it
        if os.environ.get("CKPT_LINT_DEBUG"):
            raise
        print(f"ckpt-lint: internal error: {type(exc).__name__}: {exc} "
              f"(set CKPT_LINT_DEBUG=1 for a traceback, and please report it)", file=sys.stderr)
        return 2


def _main(args) -> int:
    from .config import ConfigError, find_config, load_settings
    from .rule import all_rules

    if args.explain or args.list_rules:
        return _explain(args.explain, _with_plugins(all_rules()))

    cwd = Path.cwd()
    paths = args.paths or [Path(".")]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        print(f"ckpt-lint: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    try:
        config_path = None if args.isolated else (args.config or find_config(paths[0].resolve()))
        settings = load_settings(config_path)
    except ConfigError as exc:
        print(f"ckpt-lint: {exc}", file=sys.stderr)
        return 2
    if args.select:
        settings.select = [c.upper() for c in _split(args.select)]
    if args.ignore:
        settings.ignore += [c.upper() for c in _split(args.ignore)]
    settings.exclude += _split(args.exclude)
    fmt = args.output_format or os.environ.get("CKPT_LINT_OUTPUT_FORMAT") or settings.output_format or "full"
    if fmt not in FORMATS:
        print(f"ckpt-lint: unknown output format {fmt!r} (choose from {', '.join(FORMATS)})", file=sys.stderr)
        return 2
    fail_on = args.fail_on or settings.fail_on
    if fail_on not in ("error", "warning", "never"):
        print(f"ckpt-lint: fail-on must be error, warning or never (got {fail_on!r})", file=sys.stderr)
        return 2
    if args.show_settings:
        return _show_settings(args, settings, paths, cwd, fmt, fail_on)

    from .runner import run

    fix = settings.fix if args.fix is None else args.fix
    unsafe = settings.unsafe_fixes if args.unsafe_fixes is None else args.unsafe_fixes
    outcome = fixed = None
    with _offline(args.offline):
        result = run(paths, settings, cwd=cwd, force_exclude=args.force_exclude, cache=not args.no_cache,
                     jobs=args.jobs)
        if args.diff or fix:
            from . import fixes

            outcome = fixes.plan(result.findings, unsafe=unsafe)
            if args.diff:
                return _diff(outcome, result.warnings, cwd, args.exit_zero)
            fixed = fixes.write(outcome)
            if fixed:  # re-lint: report what remains
                result = run(paths, settings, cwd=cwd, force_exclude=args.force_exclude,
                             cache=not args.no_cache, jobs=args.jobs)
    for warning in [*result.warnings, *(outcome.errors if outcome else [])]:
        print(f"ckpt-lint: warning: {warning}", file=sys.stderr)

    from .report import render

    color = {"always": True, "never": False}.get(args.color)
    if color is None and os.environ.get("NO_COLOR"):
        color = False
    root = _repo_root(cwd)
    if args.statistics:
        _statistics(result.findings, fmt, result.rules)
    else:
        render(result.findings, fmt, stream=sys.stdout, cwd=cwd, root=root, rules=result.rules, color=color,
               tool_version=__version__, unsafe_fixes=unsafe)
    _fix_note(fmt, result.findings, unsafe, outcome, fixed)
    sys.stdout.flush()
    if args.exit_zero or fail_on == "never":
        return 0
    threshold = 2 if fail_on == "error" else 1
    return 1 if any(f.severity.rank >= threshold for f in result.findings) else 0


def _diff(outcome, warnings: list[str], cwd: Path, exit_zero: bool) -> int:
    """`--diff`: the diff on stdout, `Would fix N errors.` on stderr; 1 if any file would change."""
    from .fixes import summary, unified_diff
    from .report._common import write

    for warning in [*warnings, *outcome.errors]:
        print(f"ckpt-lint: warning: {warning}", file=sys.stderr)
    for change in outcome.changes:
        write(sys.stdout, unified_diff(change, cwd))
    sys.stdout.flush()
    print(summary(outcome.fixed, outcome.hidden, would=True), file=sys.stderr)
    return 1 if outcome.changes and not exit_zero else 0


def _fix_note(fmt: str, findings, unsafe: bool, outcome, fixed) -> None:
    """After the findings: `Fixed N errors.` with --fix; in the full format, what --fix could do. It goes
    to stderr for the machine formats, whose stdout is one document."""
    from .fixes import availability, summary

    if outcome is not None:
        note = summary(fixed or [], outcome.hidden)
    else:
        note = availability(findings, unsafe) if fmt == "full" else None
    if note:
        print(note, file=sys.stdout if fmt in ("full", "concise") else sys.stderr)


class _offline:
    """`--offline`: CKPT_LINT_OFFLINE=--offline for the run (read by the model resolver), then restored."""

    def __init__(self, on: bool):
        self.on, self.old = on, os.environ.get("CKPT_LINT_OFFLINE")

    def __enter__(self):
        if self.on:
            os.environ["CKPT_LINT_OFFLINE"] = "--offline"

    def __exit__(self, *exc):
        if self.on:
            if self.old is None:
                os.environ.pop("CKPT_LINT_OFFLINE", None)
            else:
                os.environ["CKPT_LINT_OFFLINE"] = self.old


def _sub_parser(sub: str) -> argparse.ArgumentParser:
    if sub == "cache":
        p = argparse.ArgumentParser(prog="ckpt-lint cache", description="ckpt-lint's metadata cache of Hub "
                                    "lookups (safetensors headers, file listings); the HF cache is left alone.")
        p.add_argument("action", choices=("info", "clear"), help="info: where it is and what it holds; clear: empty it")
        return p
    p = argparse.ArgumentParser(prog="ckpt-lint snapshot", description="Regenerate entries of the bundled model "
                                "snapshot from the Hub (for maintainers).")
    p.add_argument("--update", nargs="+", metavar="MODEL", required=True, help="hub ids to add or refresh")
    p.add_argument("--output", type=Path, metavar="JSON",
                   help="write this file instead of the bundled ckpt_lint/data/models.json")
    return p


def _cache(args) -> int:
    from .models.hfcache import cache_dir
    from .models.hub import hub_config, offline_reason
    from .models.metacache import MetaCache

    cache = MetaCache()
    if args.action == "clear":
        count = cache.clear()
        print(f"removed ckpt-lint's metadata cache at {cache.root} ({count} repos); the HF cache is left alone")
        return 0
    info = cache.info()
    print(f"ckpt-lint metadata cache: {info['path']} ({info['repos']} repos, {info['commits']} commits, "
          f"{info['bytes']:,} bytes)")
    print(f"HF cache: {cache_dir()}")
    print(f"Hub endpoint: {hub_config(cache_dir()).endpoint} (offline: {offline_reason() or 'no'})")
    for name in info["names"]:
        print(f"  {name}")
    return 0


def _snapshot(args) -> int:
    from .models.hub import offline_reason
    from .models.snapshot import bundled_path, update

    reason = offline_reason()
    if reason:
        print(f"ckpt-lint: snapshot --update needs the Hub, but lookups are off ({reason})", file=sys.stderr)
        return 2
    failures = update(args.update, args.output)
    for model, why in failures:
        print(f"ckpt-lint: cannot update {model}: {why}", file=sys.stderr)
    print(f"wrote {args.output or bundled_path()}")
    return 1 if failures else 0


def _repo_root(cwd: Path) -> Path:
    for folder in [cwd, *cwd.parents]:
        if (folder / ".git").exists():
            return folder
    return cwd


def _explain(code: str | None, rules: dict) -> int:
    if code is None:
        for c, cls in rules.items():
            print(f"{c}  {cls.name:<24} {cls.severity.value:<8} {cls.summary()}")
        return 0
    cls = rules.get(code.upper())
    if cls is None:
        print(f"ckpt-lint: unknown rule {code!r}; known: {', '.join(rules)}", file=sys.stderr)
        return 2
    print(f"{cls.code} {cls.name} ({cls.severity.value})\n")
    print(cls.doc())
    return 0


def _with_plugins(rules: dict) -> dict:
    """The built-in rules plus those of `ckpt_lint.rules` entry points (a built-in code wins, as in a run);
    a plugin that fails to load is a warning on stderr."""
    from .rule import plugin_rules

    extra, errors = plugin_rules()
    for error in errors:
        print(f"ckpt-lint: warning: {error}", file=sys.stderr)
    table = dict(rules)
    for cls in extra:
        table.setdefault(cls.code, cls)
    return dict(sorted(table.items()))


def _statistics(findings, fmt: str, rules: dict) -> None:
    """`--statistics` (as ruff's): one line per code, `  3  CKL101  head-size-mismatch`, most frequent first,
    then by code; with `--output-format json`, an array of {code, name, count}."""
    import json
    from collections import Counter

    from .report._common import one_line, write

    counts = Counter(f.code for f in findings)
    names = {}
    for f in findings:
        names.setdefault(f.code, f.name or getattr(rules.get(f.code), "name", ""))
    rows = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    if fmt == "json":
        write(sys.stdout, json.dumps([{"code": c, "name": names[c], "count": n} for c, n in rows], indent=2) + "\n")
        return
    if not rows:
        return
    count_width = max(3, len(str(rows[0][1])))
    code_width = max(len(c) for c, _ in rows)
    write(sys.stdout, "".join(f"{n:>{count_width}}  {c:<{code_width}}  {one_line(names[c])}".rstrip() + "\n"
                              for c, n in rows))


def _project_root(paths: list[Path], cwd: Path) -> Path:
    """The project a run of `paths` reads (imports, version pins): as lint.runner.run decides it."""
    from .discover import project_root

    paths = [p if p.is_absolute() else cwd / p for p in paths]
    if all(p.is_file() for p in paths):
        first = paths[0].resolve()
        return project_root(first) or (cwd if cwd in first.parents else first.parent)
    return paths[0].resolve() if len(paths) == 1 else cwd


def _cache_line(args, root) -> str:
    from .analysis_cache import cache_root
    from .runner import _cache_wanted

    if args.no_cache or not _cache_wanted():
        return "off (--no-cache or CKPT_LINT_NO_CACHE)"
    return str(cache_root(Path(root)))


def _show_settings(args, settings, paths: list[Path], cwd: Path, fmt: str, fail_on: str) -> int:
    """`--show-settings`: what a run with these arguments would use, one `key: value` line each; exit 0."""
    from .models.hub import offline_reason
    from .rule import all_rules
    from .runner import _cores

    def listed(values) -> str:
        return ", ".join(values) if values else "(none)"

    with _offline(args.offline):
        offline = offline_reason()
    rules = _with_plugins(all_rules())
    enabled = [code for code in rules if settings.enabled(code)]
    lines = [
        f"config: {settings.source if settings.source else 'none'}" + (" (--isolated)" if args.isolated else ""),
        f"select: {listed(settings.select)}",
        f"ignore: {listed(settings.ignore)}",
        f"per-file-ignores: {'' if settings.per_file_ignores else '(none)'}",
        *(f"  {pattern}: {listed(codes)}" for pattern, codes in settings.per_file_ignores.items()),
        f"exclude: {listed(settings.exclude)}",
        f"force-exclude: {'yes' if args.force_exclude else 'no'}",
        f"output-format: {fmt}",
        f"fail-on: {'never (--exit-zero)' if args.exit_zero else fail_on}",
    ]
    for key in ("fix", "unsafe_fixes"):  # present once --fix exists; a flag given overrides the config
        if hasattr(settings, key):
            given = getattr(args, key, None)
            value = getattr(settings, key) if given is None else given
            lines.append(f"{key.replace('_', '-')}: {'yes' if value else 'no'}")
    lines += [
        f"offline: {f'yes ({offline})' if offline else 'no'}",
        f"project-root: {_project_root(paths, cwd)}",
        f"cache: {_cache_line(args, _project_root(paths, cwd))}",
        f"jobs: {args.jobs or _cores()}",
        f"version: {__version__}",
        f"rules: {len(enabled)} of {len(rules)} enabled",
        *(f"  {code}  {rules[code].name}" for code in enabled),
    ]
    print("\n".join(lines))
    return 0
