"""Replay the findings of a run when nothing it could depend on changed (an editor task re-run, CI
re-run, a pre-commit run on files already checked): no libcst import, no parse, no rule.

The key is conservative: the ckpt-lint version, the settings and named paths, the environment that
steers model lookups, the installed rule plugins, and the size and mtime of *every* file discovery
walked past (not only the ones it lints: pins in requirements.txt, weight and tokenizer files), plus
the files of the local model folders and checkpoints outside the project that the previous run
read (Hub models are answered from caches keyed by commit). Stored beside the
analysis cache (lint/analysis_cache.py); written atomically; any problem reading it means a full run.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from .diagnostics import Edit, Finding, Fix, Location, Severity

_ENV = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "CKPT_LINT_OFFLINE", "HF_ENDPOINT", "HF_HOME", "HF_HUB_CACHE",
        "CKPT_LINT_CACHE_DIR", "CKPT_LINT_HUB_TIMEOUT")
MAX_FOLDER_FILES = 2000


def base_key(*, settings, paths, force_exclude: bool, walked: list[Path]) -> str:
    from importlib.metadata import entry_points

    from . import __version__

    h = hashlib.blake2b(digest_size=16)
    plugins = sorted(f"{ep.name}={ep.value}" for ep in entry_points(group="ckpt_lint.rules"))
    token = bool(os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN"))  # never the token
    head = [__version__, repr(settings), sorted(map(str, paths)), force_exclude, plugins, token,
            [os.environ.get(k) for k in _ENV]]
    h.update(json.dumps(head, default=str).encode("utf-8", "surrogatepass"))
    for path in walked:
        h.update(_stat_line(path))
    return h.hexdigest()


def folders_key(folders: list[str]) -> str | None:
    h = hashlib.blake2b(digest_size=16)
    count = 0
    for folder in sorted(folders):
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames.sort()
            for name in sorted(filenames):
                count += 1
                if count > MAX_FOLDER_FILES:
                    return None
                h.update(_stat_line(Path(dirpath) / name))
    return h.hexdigest()


def _stat_line(path: Path) -> bytes:
    try:
        st = os.stat(path)
        sig = f"{st.st_size}:{st.st_mtime_ns}"
    except OSError:
        sig = "-"
    return f"{path}\0{sig}\n".encode("utf-8", "surrogatepass")


class FindingsCache:
    def __init__(self, folder: Path, root: Path, named: bool):
        tag = hashlib.blake2b(f"{root}\0{named}".encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()
        self.path = folder / f"findings-{tag}.json"

    def load(self, key: str) -> tuple[list[Finding], list[str], int] | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if data["key"] != key or folders_key(data["folders"]) != data["folders_key"]:
                return None
            return [_finding(f) for f in data["findings"]], list(data["warnings"]), int(data["files"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def store(self, key: str, folders: list[str], findings: list[Finding], warnings: list[str], files: int) -> None:
        fkey = folders_key(folders)
        if fkey is None:
            return
        data = {"key": key, "folders": folders, "folders_key": fkey, "files": files, "warnings": warnings,
                "findings": [_to_json(f) for f in findings]}
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(data, separators=(",", ":")), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError:
            try:
                tmp.unlink()
            except OSError:
                pass

    def forget(self) -> None:
        try:
            self.path.unlink()
        except OSError:
            pass


def _loc_json(loc: Location) -> list:
    return [str(loc.path), loc.line, loc.column, loc.end_line, loc.end_column, loc.note, loc.cell]


def _loc(data: list) -> Location:
    path, line, column, end_line, end_column, note, cell = data
    return Location(Path(path), line, column, end_line, end_column, note, cell)


def _to_json(f: Finding) -> dict:
    fix = None
    if f.fix is not None:
        fix = [f.fix.message, f.fix.applicability,
               [[str(e.path), list(e.start), list(e.end), e.content] for e in f.fix.edits]]
    return {"code": f.code, "name": f.name, "severity": f.severity.value, "message": f.message,
            "location": _loc_json(f.location), "related": [_loc_json(r) for r in f.related], "fix": fix}


def _finding(data: dict) -> Finding:
    fix = None
    if data["fix"] is not None:
        message, applicability, edits = data["fix"]
        fix = Fix(message, applicability, tuple(Edit(Path(p), tuple(s), tuple(e), c) for p, s, e, c in edits))
    return Finding(data["code"], data["name"], Severity(data["severity"]), data["message"], _loc(data["location"]),
                   fix, tuple(_loc(r) for r in data["related"]))
