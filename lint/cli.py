"""`ckpt-lint [PATH ...]`: argument parsing and exit codes. Nothing heavy is imported at module level.

Also `ckpt-lint cache info|clear` and `ckpt-lint snapshot --update MODEL...`: a first argument
`cache`/`snapshot` is a subcommand only when followed by one of its own words (`info`, `clear`,
`--update`, `-h`), so a folder named `cache` can still be linted.

Exit codes (as ruff): 0 no finding at the failing level, 1 findings, 2 usage/configuration/internal error.
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
    p.add_argument("--exit-zero", action="store_true", help="exit 0 even when there are findings")
    p.add_argument("--fail-on", choices=("error", "warning", "never"),
                   help="lowest severity that makes the exit code 1 (default: warning)")
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    p.add_argument("--explain", metavar="CODE", help="print a rule's documentation and exit")
    p.add_argument("--list-rules", action="store_true", help="list every rule and exit")
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
        return _explain(args.explain, all_rules())

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

    from .runner import run

    with _offline(args.offline):
        result = run(paths, settings, cwd=cwd, force_exclude=args.force_exclude)
    for warning in result.warnings:
        print(f"ckpt-lint: warning: {warning}", file=sys.stderr)

    from .report import render

    color = {"always": True, "never": False}.get(args.color)
    if color is None and os.environ.get("NO_COLOR"):
        color = False
    root = _repo_root(cwd)
    render(result.findings, fmt, stream=sys.stdout, cwd=cwd, root=root, rules=result.rules, color=color,
           tool_version=__version__)
    sys.stdout.flush()
    if args.exit_zero or fail_on == "never":
        return 0
    threshold = 2 if fail_on == "error" else 1
    return 1 if any(f.severity.rank >= threshold for f in result.findings) else 0


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
