"""Settings: `[tool.ckpt-lint]` in pyproject.toml, overridden by command-line flags."""

from __future__ import annotations

import fnmatch
import sys
from dataclasses import dataclass, field
from pathlib import Path

KEYS = {"select", "ignore", "per-file-ignores", "exclude", "extend-exclude", "output-format", "fail-on", "fix",
        "unsafe-fixes"}


class ConfigError(Exception):
    pass


@dataclass
class Settings:
    select: list[str] = field(default_factory=lambda: ["ALL"])
    ignore: list[str] = field(default_factory=list)
    per_file_ignores: dict[str, list[str]] = field(default_factory=dict)
    exclude: list[str] = field(default_factory=list)
    output_format: str | None = None
    fail_on: str = "warning"
    fix: bool = False  # apply safe fixes, as --fix
    unsafe_fixes: bool = False  # also apply unsafe ones, as --unsafe-fixes
    source: Path | None = None  # the pyproject.toml it came from

    def enabled(self, code: str) -> bool:
        return _matches(code, self.select) and not _matches(code, self.ignore)

    def ignored_for(self, code: str, rel_paths: list[str]) -> bool:
        """`rel_paths`: the file's path relative to each folder patterns may be written against."""
        for pattern, codes in self.per_file_ignores.items():
            if not _matches(code, codes):
                continue
            for rel in rel_paths:
                if fnmatch.fnmatch(rel, pattern) or fnmatch.fnmatch(rel.rsplit("/", 1)[-1], pattern):
                    return True
        return False


def _matches(code: str, selectors: list[str]) -> bool:
    return any(s == "ALL" or code.startswith(s) for s in selectors)


def _load_toml(path: Path) -> dict:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    with open(path, "rb") as fh:
        return tomllib.load(fh)


def find_config(start: Path) -> Path | None:
    """The closest pyproject.toml at or above `start` that has a [tool.ckpt-lint] table."""
    start = start if start.is_dir() else start.parent
    for folder in [start, *start.parents]:
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            try:
                if "ckpt-lint" in _load_toml(candidate).get("tool", {}):
                    return candidate
            except Exception as exc:
                try:
                    ours = "tool.ckpt-lint" in candidate.read_text(encoding="utf-8", errors="replace")
                except OSError:
                    ours = False
                if ours:  # our settings are in a file we cannot parse: say so, do not drop them
                    raise ConfigError(f"{candidate}: cannot read TOML: {exc}") from None
    return None


def load_settings(path: Path | None) -> Settings:
    settings = Settings()
    if path is None:
        return settings
    try:
        table = _load_toml(path).get("tool", {}).get("ckpt-lint", {})
    except Exception as exc:
        raise ConfigError(f"{path}: cannot read TOML: {exc}") from None
    unknown = set(table) - KEYS
    if unknown:
        raise ConfigError(f"{path}: unknown [tool.ckpt-lint] key(s): {', '.join(sorted(unknown))}")
    settings.source = path
    if "select" in table:
        settings.select = _codes(table["select"], path, "select")
    if "ignore" in table:
        settings.ignore = _codes(table["ignore"], path, "ignore")
    pfi = table.get("per-file-ignores", {})
    if not isinstance(pfi, dict):
        raise ConfigError(f"{path}: per-file-ignores must be a table of glob = [codes]")
    settings.per_file_ignores = {k: _codes(v, path, f"per-file-ignores.{k}") for k, v in pfi.items()}
    for key in ("exclude", "extend-exclude"):
        if key in table:
            settings.exclude += _codes(table[key], path, key, upper=False)
    if "output-format" in table:
        settings.output_format = str(table["output-format"])
    if "fail-on" in table:
        settings.fail_on = str(table["fail-on"])
    for key in ("fix", "unsafe-fixes"):
        if key in table:
            if not isinstance(table[key], bool):
                raise ConfigError(f"{path}: {key} must be true or false")
            setattr(settings, key.replace("-", "_"), table[key])
    return settings


def _codes(value, path: Path, key: str, *, upper: bool = True) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{path}: {key} must be a list of strings")
    return [v.strip().upper() if upper else v.strip() for v in value]
