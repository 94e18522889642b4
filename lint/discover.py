"""Which files a run reads: walk the given paths, honour .gitignore and the usual skip list."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# As ruff: folders that never hold the project's own code.
SKIP_DIRS = {
    ".bzr", ".direnv", ".eggs", ".git", ".git-rewrite", ".hg", ".ipynb_checkpoints", ".mypy_cache",
    ".nox", ".pants.d", ".pyenv", ".pytest_cache", ".pytype", ".ruff_cache", ".svn", ".tox", ".venv",
    ".vscode", "__pypackages__", "_build", "buck-out", "build", "dist", "node_modules",
    "site-packages", "venv", "__pycache__", ".ckpt_lint_cache", "wandb", "mlruns",
}
KINDS = {".py": "python", ".ipynb": "notebook", ".yaml": "yaml", ".yml": "yaml", ".json": "json", ".sh": "shell",
         ".bash": "shell"}


@dataclass(frozen=True)
class SourceFile:
    path: Path
    kind: str


def kind_of(path: Path) -> str | None:
    return KINDS.get(path.suffix.lower())


class _Ignores:
    """Stacked .gitignore files (each applies to its own folder and below) plus --exclude globs."""

    def __init__(self, root: Path, excludes: list[str], bases: list[Path]):
        import pathspec

        self._pathspec = pathspec
        self.root = root
        self.bases = list(dict.fromkeys([root, *bases]))  # patterns are relative to any of these
        self.exclude = pathspec.GitIgnoreSpec.from_lines(excludes) if excludes else None
        self.specs: dict[Path, object] = {}

    def load(self, folder: Path) -> None:
        gi = folder / ".gitignore"
        if folder not in self.specs and gi.is_file():
            try:
                lines = gi.read_text(encoding="utf-8", errors="replace").splitlines()
                self.specs[folder] = self._pathspec.GitIgnoreSpec.from_lines(lines)
            except OSError:
                pass

    def ignored(self, path: Path, is_dir: bool) -> bool:
        if self.exclude is not None:
            suffix = "/" if is_dir else ""
            for base in self.bases:
                rel = _rel(path, base)
                if rel and self.exclude.match_file(rel + suffix):
                    return True
        for folder, spec in self.specs.items():
            rel = _rel(path, folder)
            if rel is not None and rel and spec.match_file(rel + ("/" if is_dir else "")):
                return True
        return False


def _rel(path: Path, base: Path) -> str | None:
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return None


def _is_venv(folder: Path) -> bool:
    return (folder / "pyvenv.cfg").is_file() or (folder / "conda-meta").is_dir()


def discover(paths: list[Path], *, root: Path, excludes: list[str], force_exclude: bool = False,
             bases: list[Path] = (), walked: list[Path] | None = None) -> list[SourceFile]:
    """Files under `paths`; `excludes` are gitignore-style patterns relative to `root` or any of `bases`.
    `walked` receives every file passed on the way, linted or not (for the findings cache's key)."""
    ignores = _Ignores(root, excludes, list(bases))
    for parent in [root, *root.parents][::-1]:
        ignores.load(parent)
    found: dict[Path, SourceFile] = {}
    for given in paths:
        given = given.resolve() if given.exists() else given.absolute()
        if given.is_file():
            if walked is not None:
                walked.append(given)
            kind = kind_of(given)
            if kind and not (force_exclude and ignores.ignored(given, False)):
                found[given] = SourceFile(given, kind)
            continue
        if not given.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(given, followlinks=False):
            folder = Path(dirpath)
            ignores.load(folder)
            dirnames[:] = sorted(
                d for d in dirnames
                if d not in SKIP_DIRS and not d.endswith(".egg-info")
                and not _is_venv(folder / d) and not ignores.ignored(folder / d, True)
            )
            for name in sorted(filenames):
                path = folder / name
                if walked is not None:
                    walked.append(path)
                kind = kind_of(path)
                if kind and not ignores.ignored(path, False):
                    found[path] = SourceFile(path, kind)
    return sorted(found.values(), key=lambda f: str(f.path))


def project_root(start: Path) -> Path | None:
    """The nearest folder at or above `start` that looks like a project root, if any."""
    start = start if start.is_dir() else start.parent
    for folder in [start, *start.parents]:
        if any((folder / marker).exists() for marker in (".git", "pyproject.toml", "setup.py", "setup.cfg")):
            return folder
    return None
