"""What each entry file's analysis read and found, cached between runs (ruff-style, `--no-cache`).

A *unit* is one Python file (or notebook) analysed as `__main__` under each way it is launched.
While it runs, the project notes every file it reads (the file itself, the modules it imports, the
YAML/JSON it loads, Hydra configs) and the read problems met. A unit is *inert* when it recorded
nothing the rules read (no load, config, adapter, state dict...). Most files of a large tree are
inert (transformers' modeling files mention `from_pretrained` only in docstrings), and an inert
unit whose inputs are unchanged is skipped on the next run: not read, not compiled, not parsed.

Inputs are compared by size and mtime, then by content hash (a `touch` does not invalidate).
The cache also keys on the ckpt-lint version and the list of discovered files (a new module can
change what an import resolves to). It lives in `<project>/.ckpt_lint_cache/` (git-ignored by a
`.gitignore` inside, as ruff does), or `$CKPT_LINT_CACHE_DIR/analysis/`; an unwritable place just means no
cache. Writes are atomic (temporary file + rename), so concurrent runs or Ctrl-C never leave a
corrupt file; the loser of a race only loses its additions.

With several cores, units with no valid cache entry are first analysed in forked worker processes;
the main process then re-analyses only the units that are not inert (their records hold syntax
trees, which are not worth shipping between processes).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

FORMAT = 1
MAX_HASHED = 64 << 20  # a unit that read a bigger file is not cached
PARALLEL_MIN = 16  # pending units below which forking workers costs more than it saves


@dataclass
class UnitTrace:
    """Collected while one unit runs."""

    reads: set[Path] = field(default_factory=set)
    problems: set[tuple] = field(default_factory=set)  # (path, reason, line, column, cell)
    folders: set[Path] = field(default_factory=set)  # local model folders resolved
    models: bool = False  # the unit asked for a model's facts
    live: bool = False  # it imported a module whose top level recorded something (in an earlier unit)


@dataclass(frozen=True)
class UnitRecord:
    deps: tuple[str, ...]
    inert: bool
    cross: bool  # recorded state-dict saves/loads: they pair across files
    folders: tuple[str, ...] = ()
    problems: tuple[tuple, ...] = ()
    scenarios: str = ""

    def to_json(self) -> dict:
        return {"deps": list(self.deps), "inert": self.inert, "cross": self.cross, "folders": list(self.folders),
                "problems": [list(p) for p in self.problems], "scenarios": self.scenarios}

    @classmethod
    def from_json(cls, data: dict) -> "UnitRecord":
        return cls(tuple(data["deps"]), bool(data["inert"]), bool(data["cross"]), tuple(data.get("folders", ())),
                   tuple(tuple(p) for p in data.get("problems", ())), str(data.get("scenarios", "")))

    def unaffected_by(self, named: set[str]) -> bool:
        """Whether none of the named files can change this unit's findings (pre-commit runs)."""
        if self.cross:
            return False
        if any(dep in named for dep in self.deps):
            return False
        return not any(n.startswith(folder.rstrip(os.sep) + os.sep) for n in named for folder in self.folders)


def scenarios_key(scenarios) -> str:
    """The launches of an entry file, as text: a launch script that changes its flags re-runs it."""
    if not scenarios:
        return ""
    parts = [f"{s.shell}|{s.cwd}|{' '.join(t.raw for t in s.argv)}" for s in scenarios]
    return hashlib.blake2b("\n".join(parts).encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()


def cache_root(project_root: Path) -> Path:
    env = os.environ.get("CKPT_LINT_CACHE_DIR")  # ckpt-lint's own cache folder, shared by projects
    return Path(env) / "analysis" if env else project_root / ".ckpt_lint_cache"


class AnalysisCache:
    """Unit records for one project root. `persistent=False` (`--no-cache`) keeps them in memory."""

    def __init__(self, root: Path, listing: Iterable[Path], *, persistent: bool = True):
        from . import __version__

        self.root = root
        self.persistent = persistent
        digest = hashlib.blake2b(digest_size=12)
        for path in sorted(str(p) for p in listing):
            digest.update(path.encode("utf-8", "surrogatepass") + b"\0")
        self.key = f"{__version__}:{digest.hexdigest()}"
        self.path = cache_root(root) / f"v{FORMAT}" / (hashlib.blake2b(str(root).encode("utf-8", "surrogatepass"),
                                                                       digest_size=8).hexdigest() + ".json")
        self.files: dict[str, list] = {}  # path -> [size, mtime_ns, content hash]
        self.units: dict[str, UnitRecord] = {}
        self._fresh: dict[str, bool] = {}
        self._dirty = False
        if persistent:
            self._load()

    # -- reading --------------------------------------------------------------------------------
    def _load(self) -> None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if data.get("format") != FORMAT or data.get("key") != self.key:
                return
            files = data["files"]
            units = {path: UnitRecord.from_json(rec) for path, rec in data["units"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return  # missing, unreadable or from another version: start afresh
        self.files, self.units = files, units

    def unit(self, path: Path, scenarios: str) -> UnitRecord | None:
        """The record of a unit if every file it read is unchanged (and it is launched the same way)."""
        record = self.units.get(str(path))
        if record is None or record.scenarios != scenarios:
            return None
        return record if all(self.fresh(dep) for dep in record.deps) else None

    def fresh(self, path: str) -> bool:
        if path not in self._fresh:
            self._fresh[path] = self._check(path)
        return self._fresh[path]

    def _check(self, path: str) -> bool:
        known = self.files.get(path)
        if known is None:
            return False
        try:
            st = os.stat(path)
        except OSError:
            return False
        if [st.st_size, st.st_mtime_ns] == known[:2]:
            return True
        if st.st_size > MAX_HASHED or st.st_size != known[0]:
            return False
        digest = _hash(path)
        if digest is None or digest != known[2]:
            return False
        self.files[path] = [st.st_size, st.st_mtime_ns, digest]  # touched, not changed
        self._dirty = True
        return True

    # -- writing --------------------------------------------------------------------------------
    def store(self, path: Path, record: UnitRecord) -> None:
        for dep in record.deps:
            if dep not in self._fresh or dep not in self.files:
                sig = _signature(dep)
                if sig is None:  # vanished while we read it: never cache this unit
                    self.units.pop(str(path), None)
                    return
                self.files[dep] = sig
                self._fresh[dep] = True
        self.units[str(path)] = record
        self._dirty = True

    def save(self) -> None:
        if not (self.persistent and self._dirty):
            return
        data = {"format": FORMAT, "key": self.key, "files": self.files,
                "units": {path: rec.to_json() for path, rec in self.units.items()}}
        try:
            folder = self.path.parent
            folder.mkdir(parents=True, exist_ok=True)
            ignore = folder.parent / ".gitignore"
            if not ignore.exists():
                ignore.write_text("# Automatically created by ckpt-lint.\n*\n", encoding="utf-8")
            tmp = folder / f".{self.path.name}.{os.getpid()}.tmp"
            tmp.write_text(json.dumps(data, separators=(",", ":")), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError:
            try:
                tmp.unlink()  # type: ignore[possibly-undefined]
            except (OSError, NameError):
                pass


def _signature(path: str) -> list | None:
    import stat

    try:
        st = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_HASHED:
        return None  # FIFOs, devices, huge files: the unit is simply not cached
    digest = _hash(path)
    return None if digest is None else [st.st_size, st.st_mtime_ns, digest]


def _hash(path: str) -> str | None:
    try:
        with open(path, "rb") as fh:
            return hashlib.blake2b(fh.read(), digest_size=16).hexdigest()
    except OSError:
        return None


# -- parallel first pass ------------------------------------------------------------------------
class Prepass:
    """Forked helpers that analyse units from the end of the list while the main process works
    from the front; each unit is claimed once (a shared array under a lock). When the main process
    reaches a unit a helper took, it waits for that record: an inert unit is done; any other is
    analysed again in the main process, in file order, so the findings never depend on timing."""

    def __init__(self, project, sources: list, launches: dict, jobs: int):
        import multiprocessing

        ctx = multiprocessing.get_context("fork")
        self.index = {str(s.path): i for i, s in enumerate(sources)}
        self.claims = ctx.Array("b", len(sources), lock=False)
        self.lock = ctx.Lock()
        self.queue = ctx.SimpleQueue()
        self.results: dict[int, UnitRecord | None] = {}
        self.workers = []
        for _ in range(jobs - 1):
            proc = ctx.Process(target=_helper, args=(project, sources, launches, self.claims, self.lock, self.queue),
                               daemon=True)
            proc.start()
            self.workers.append(proc)

    @classmethod
    def start(cls, project, sources: list, launches: dict, jobs: int) -> "Prepass | None":
        if jobs < 2 or len(sources) < PARALLEL_MIN or not sys.platform.startswith("linux"):
            return None
        try:
            return cls(project, sources, launches, jobs)
        except (OSError, RuntimeError, ImportError, ValueError):  # no fork or semaphores here: run serially
            return None

    def claim(self, path: Path) -> bool:
        """True if the main process should analyse this unit itself (no helper has it)."""
        i = self.index.get(str(path))
        if i is None:
            return True
        with self.lock:
            if self.claims[i]:
                return False
            self.claims[i] = 2
        return True

    def result(self, path: Path) -> UnitRecord | None:
        """The record a helper produced for this unit (None if it failed or died)."""
        i = self.index[str(path)]
        while i not in self.results:
            if self._poll():
                continue
            if not any(w.is_alive() for w in self.workers) and not self._poll():
                return None
        return self.results.pop(i)

    def _poll(self) -> bool:
        import time

        if self.queue.empty():
            time.sleep(0.002)
            return False
        i, record = self.queue.get()
        self.results[i] = record
        return True

    def close(self) -> None:
        for w in self.workers:
            if w.is_alive():
                w.terminate()
            w.join(timeout=5)


def _helper(project, sources, launches, claims, lock, queue) -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    for i in range(len(sources) - 1, -1, -1):
        with lock:
            if claims[i]:
                continue
            claims[i] = 1
        try:
            record = project.analyze_unit(sources[i], launches.get(sources[i].path))
        except Exception:  # the main process analyses it again and reports what went wrong
            record = None
        queue.put((i, record))


def _size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0
