"""ckpt-lint's own metadata cache: what the HF cache cannot hold, keyed by repo + commit sha.

The HF cache keeps the small files (config.json, ...) that the Hub step downloads; it has no place
for a safetensors *header* without the weights. This cache keeps, per repo and commit, the file
listing and the headers read over HTTP, plus refs (revision as written -> sha), so that a second
run needs no network at all. Layout (JSON, one file per commit):

    $CKPT_LINT_CACHE_DIR (default ~/.cache/ckpt-lint, or the platform's cache folder)
      hub/models--org--name/refs/<revision, url-quoted>    -> the commit sha
      hub/models--org--name/<sha>.json                     -> {"files": {path: size}, "headers": {...}}

`headers[path]` is `{"tensors": {name: [dtype, shape]}}` or `{"error": reason}`. Writes are atomic;
an unwritable cache only costs the warm run.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
from pathlib import Path
from urllib.parse import quote

FORMAT = 1
_TAG = "Signature: 8a477f597d28d172789f06886806bc55\n# ckpt-lint metadata cache (ckpt-lint cache clear)\n"


def default_dir() -> Path:
    """CKPT_LINT_CACHE_DIR, else the platform's user cache folder + ckpt-lint."""
    env = os.environ
    if env.get("CKPT_LINT_CACHE_DIR"):
        return Path(os.path.expanduser(env["CKPT_LINT_CACHE_DIR"]))
    if os.name == "nt" and env.get("LOCALAPPDATA"):
        return Path(env["LOCALAPPDATA"]) / "ckpt-lint" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "ckpt-lint"
    return Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ckpt-lint"


def is_sha(revision: str | None) -> bool:
    return revision is not None and len(revision) == 40 and all(c in "0123456789abcdef" for c in revision)


class MetaCache:
    def __init__(self, root: Path | None = None):
        self._root = root
        self._records: dict[tuple[str, str], dict | None] = {}
        self._lock = threading.Lock()

    @property
    def root(self) -> Path:
        return self._root if self._root is not None else default_dir()

    def _repo(self, repo: str) -> Path:
        return self.root / "hub" / f"models--{repo.replace('/', '--')}"

    # -- refs -----------------------------------------------------------------------------------
    def ref(self, repo: str, revision: str | None) -> str | None:
        if is_sha(revision):
            return revision
        try:
            sha = (self._repo(repo) / "refs" / quote(revision or "main", safe="")).read_text().strip()
        except (OSError, UnicodeDecodeError):
            return None
        return sha if is_sha(sha) else None

    def set_ref(self, repo: str, revision: str | None, sha: str) -> None:
        if not is_sha(revision):
            self._write(self._repo(repo) / "refs" / quote(revision or "main", safe=""), sha)

    # -- records --------------------------------------------------------------------------------
    def record(self, repo: str, sha: str) -> dict | None:
        key = (repo, sha)
        with self._lock:
            if key not in self._records:
                self._records[key] = self._load(self._repo(repo) / f"{sha}.json", repo, sha)
            return self._records[key]

    def update(self, repo: str, sha: str, files: dict[str, int | None], headers: dict[str, dict]) -> dict:
        """Merge a listing and new headers into the record of (repo, sha) and save it."""
        key = (repo, sha)
        with self._lock:  # load + merge + write in one go: lookups of two subfolders may race
            if key not in self._records:
                self._records[key] = self._load(self._repo(repo) / f"{sha}.json", repo, sha)
            old = self._records[key] or {}
            record = {"format": FORMAT, "repo": repo, "sha": sha, "files": files,
                      "headers": {**old.get("headers", {}), **headers}}
            self._records[key] = record
            self._write(self._repo(repo) / f"{sha}.json", json.dumps(record, separators=(",", ":")))
        return record

    @staticmethod
    def _load(path: Path, repo: str, sha: str) -> dict | None:
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        ok = (isinstance(record, dict) and record.get("format") == FORMAT and record.get("sha") == sha
              and isinstance(record.get("files"), dict) and isinstance(record.get("headers"), dict))
        return record if ok else None  # another format or a damaged file: refetch

    def _write(self, path: Path, text: str) -> None:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tag = self.root / "CACHEDIR.TAG"
            if not tag.exists():
                tag.write_text(_TAG)
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)
        except OSError:  # read-only or full disk: the next run refetches
            try:
                tmp.unlink()
            except OSError:
                pass

    # -- `ckpt-lint cache info|clear` -----------------------------------------------------------
    def info(self) -> dict:
        hub = self.root / "hub"
        repos = sorted(p for p in hub.iterdir() if p.is_dir()) if hub.is_dir() else []
        records = [f for repo in repos for f in repo.glob("*.json")]
        size = sum(f.stat().st_size for f in self.root.rglob("*") if f.is_file()) if self.root.is_dir() else 0
        return {"path": self.root, "repos": len(repos), "commits": len(records), "bytes": size,
                "names": [p.name[len("models--"):].replace("--", "/") for p in repos]}

    def clear(self) -> int:
        """Delete the cache; returns how many repos it held."""
        count = self.info()["repos"]
        shutil.rmtree(self.root / "hub", ignore_errors=True)
        with self._lock:
            self._records.clear()
        return count
