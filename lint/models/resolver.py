"""Resolve a model reference (local folder/file or hub id) to ModelFacts.

Steps, in order: local path; Hugging Face cache (no network); ckpt-lint's metadata cache (headers
and listings of earlier Hub lookups, no network); the Hub (unless offline); the bundled snapshot.
`prefetch` runs the Hub lookups of a whole run in parallel before the rules ask.

When the Hub cannot answer, `failures[(ref, revision, subfolder)]` says why (rules CKL002/CKL003).
A repo or revision the Hub says does not exist stops the chain: a typo'd id is not answered by the
snapshot. Any other failure (offline, timeout, network, gated) lets the snapshot answer; the rules
then stay quiet about it, since the facts they need are there.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Callable, Iterable, Sequence

from .facts import ModelFacts
from .hfcache import cache_dir, from_cache
from .local import exists, from_path
from .snapshot import from_snapshot

# (ref, base_dirs, revision, subfolder) -> facts, or None to let the next step try
Step = Callable[[str, "tuple[Path, ...]", "str | None", "str | None"], "ModelFacts | None"]

_PART = r"[A-Za-z0-9_](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9_])?"
_HUB_ID = re.compile(rf"(?:{_PART}/)?{_PART}")
_FILE_SUFFIXES = (".json", ".bin", ".pt", ".pth", ".ckpt", ".safetensors", ".yaml", ".yml", ".txt",
                  ".py", ".gguf", ".h5", ".onnx", ".pkl", ".msgpack", ".git")


class ModelResolver:
    def __init__(self, *, hf_cache: Path | None = None, use_snapshot: bool = True, use_hub: bool = True,
                 offline: bool = False, meta_cache: Path | None = None):
        from .metacache import MetaCache

        self.hf_cache = hf_cache
        self.offline = offline  # besides the environment (HF_HUB_OFFLINE, CKPT_LINT_OFFLINE, ...)
        self.meta = MetaCache(meta_cache)
        self.steps: list[Step] = [self._local, self._cached]
        if use_hub:
            self.steps += [self._metacached, self._hub]
        if use_snapshot:
            self.steps.append(self._bundled)
        self.failures: dict[tuple[str, str | None, str | None], object] = {}  # -> hub.HubFailure
        self._fetched: dict[tuple, object] = {}  # hub key -> ModelFacts | HubFailure (prefetched)
        self._memo: dict[tuple, ModelFacts | None] = {}

    def resolve(self, ref: str, *, base_dirs: Sequence[Path], revision: str | None = None,
                subfolder: str | None = None) -> ModelFacts | None:
        key = (ref, tuple(base_dirs), revision, subfolder)
        if key not in self._memo:
            self._memo[key] = self._run(key, self.steps)
        return self._memo[key]

    def _run(self, key: tuple, steps: Iterable[Step]) -> ModelFacts | None:
        hub_key = (key[0], key[2], key[3])
        for step in steps:
            facts = step(*key)
            if facts is not None:
                return facts
            failure = self.failures.get(hub_key)
            if failure is not None and failure.final:
                return None
        return None

    def prefetch(self, references: Iterable) -> None:
        """Resolve every reference that needs the Hub, in parallel (bounded, with a time budget)."""
        from . import hub

        if self._hub not in self.steps or hub.offline_reason(self.offline):
            return
        before = self.steps[: self.steps.index(self._hub)]
        jobs: dict[tuple, Callable[[], object]] = {}
        cfg = None
        for reference in references:
            ref = getattr(reference.ref, "v", reference.ref)
            if not isinstance(ref, str) or not ref.strip():
                continue
            key = (ref, tuple(reference.base_dirs), reference.revision, reference.subfolder)
            hub_key = (ref, reference.revision, reference.subfolder)
            if key in self._memo or hub_key in self._fetched or hub_key in jobs:
                continue
            facts = self._run(key, before)
            if facts is not None:
                self._memo[key] = facts
            elif self.hub_candidate(ref, key[1]):
                cfg = cfg or hub.hub_config(cache_dir(self.hf_cache))
                jobs[hub_key] = self._job(hub_key, cfg)
        if jobs:
            self._fetched.update(self._timed(hub.run_all(jobs, budget=cfg.budget, label=lambda k: k[0]), cfg))

    def _job(self, hub_key: tuple, cfg) -> Callable[[], object]:
        from . import hub

        ref, revision, subfolder = hub_key
        online = lambda: hub.offline_reason(self.offline) is None  # noqa: E731
        return lambda: hub.fetch(ref, revision, subfolder, cfg, self.meta, online)

    @staticmethod
    def _timed(results: dict, cfg) -> dict:
        from . import hub

        out = {}
        for (ref, revision, subfolder), result in results.items():
            if result is hub.TIMED_OUT:
                result = hub.HubFailure("timeout", f"the Hub did not answer for `{ref}` within {cfg.budget:g} s")
            elif isinstance(result, BaseException):
                result = hub.failure_from(result, ref, revision, cfg)
            out[(ref, revision, subfolder)] = result
        return out

    @staticmethod
    def is_hub_id(ref: str) -> bool:
        """`bert-base-chinese`, `Qwen/Qwen2.5-7B`; not a path, not a file name."""
        return (_HUB_ID.fullmatch(ref) is not None and "--" not in ref and ".." not in ref
                and not ref.lower().endswith(_FILE_SUFFIXES))

    def hub_candidate(self, ref: str, base_dirs: Sequence[Path]) -> bool:
        """A hub id that is not a path into a local folder (`outputs/best` when `outputs/` exists)."""
        if not self.is_hub_id(ref):
            return False
        first = ref.split("/")[0]
        return "/" not in ref or not any(exists(Path(base) / first) for base in base_dirs)

    # -- steps --------------------------------------------------------------------------------
    def _local(self, ref, base_dirs, revision, subfolder) -> ModelFacts | None:
        if not ref.strip() or "\0" in ref:
            return None
        path = Path(os.path.expanduser(ref))
        for candidate in [path] if path.is_absolute() else [base / path for base in base_dirs]:
            if subfolder:
                candidate = candidate / subfolder
            candidate = Path(os.path.abspath(candidate))
            if exists(candidate):
                return from_path(ref, candidate)
        return None

    def _cached(self, ref, base_dirs, revision, subfolder) -> ModelFacts | None:
        if not self.is_hub_id(ref):
            return None
        facts = from_cache(ref, cache_dir(self.hf_cache), revision, subfolder)
        if facts is not None and facts.revision and self._hub in self.steps:
            # The same commit looked up over the Hub before: its record adds the headers.
            return self._from_record(ref, facts.revision, subfolder, complete=True) or facts
        return facts

    def _metacached(self, ref, base_dirs, revision, subfolder) -> ModelFacts | None:
        if not self.hub_candidate(ref, base_dirs):
            return None
        from . import hub

        sha = self.meta.ref(ref, revision)
        # Incomplete (another subfolder, a cleared HF cache): the Hub step completes it, unless offline.
        complete = hub.offline_reason(self.offline) is None
        return self._from_record(ref, sha, subfolder, complete=complete) if sha else None

    def _from_record(self, ref, sha, subfolder, *, complete: bool) -> ModelFacts | None:
        from . import hub

        record = self.meta.record(ref, sha)
        if record is None:
            return None
        cfg = hub.hub_config(cache_dir(self.hf_cache))
        prefix = f"{subfolder.strip('/')}/" if subfolder and subfolder.strip("/") else ""
        find = hub.cache_finder(ref, sha, cfg, record["files"], prefix)
        if complete and hub.missing(record, prefix, find):
            return None
        facts = hub.build_facts(ref, record, prefix, find, cfg)
        facts.finder = hub.lazy_finder(ref, sha, cfg, record["files"], prefix,
                                       lambda: hub.offline_reason(self.offline) is None)
        return facts

    def _hub(self, ref, base_dirs, revision, subfolder) -> ModelFacts | None:
        if not self.hub_candidate(ref, base_dirs):
            return None
        from . import hub

        hub_key = (ref, revision, subfolder)
        reason = hub.offline_reason(self.offline)
        if reason is not None:
            self.failures[hub_key] = hub.HubFailure(
                "offline", f"`{ref}` is not in the HF cache, ckpt-lint's cache or the bundled snapshot, and Hub lookups are off ({reason})")
            return None
        if hub_key not in self._fetched:
            cfg = hub.hub_config(cache_dir(self.hf_cache))
            results = hub.run_all({hub_key: self._job(hub_key, cfg)}, budget=cfg.budget, label=lambda k: k[0])
            self._fetched.update(self._timed(results, cfg))
        result = self._fetched[hub_key]
        if isinstance(result, ModelFacts):
            return result
        self.failures[hub_key] = result
        return None

    def _bundled(self, ref, base_dirs, revision, subfolder) -> ModelFacts | None:
        if subfolder or not self.is_hub_id(ref):
            return None
        return from_snapshot(ref)
