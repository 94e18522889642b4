"""Resolve a model reference (local folder/file or hub id) to ModelFacts, without network.

Steps are tried in order: local path, Hugging Face cache, bundled snapshot. A Hub step
(network) belongs between the cache and the snapshot: insert it into `steps`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Callable, Sequence

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
    def __init__(self, *, hf_cache: Path | None = None, use_snapshot: bool = True):
        self.hf_cache = hf_cache
        self.steps: list[Step] = [self._local, self._cached]
        if use_snapshot:
            self.steps.append(self._bundled)
        self._memo: dict[tuple, ModelFacts | None] = {}

    def resolve(self, ref: str, *, base_dirs: Sequence[Path], revision: str | None = None,
                subfolder: str | None = None) -> ModelFacts | None:
        key = (ref, tuple(base_dirs), revision, subfolder)
        if key not in self._memo:
            facts = None
            for step in self.steps:
                facts = step(*key)
                if facts is not None:
                    break
            self._memo[key] = facts
        return self._memo[key]

    @staticmethod
    def is_hub_id(ref: str) -> bool:
        """`bert-base-chinese`, `Qwen/Qwen2.5-7B`; not a path, not a file name."""
        return (_HUB_ID.fullmatch(ref) is not None and "--" not in ref and ".." not in ref
                and not ref.lower().endswith(_FILE_SUFFIXES))

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
        return from_cache(ref, cache_dir(self.hf_cache), revision, subfolder)

    def _bundled(self, ref, base_dirs, revision, subfolder) -> ModelFacts | None:
        if subfolder or not self.is_hub_id(ref):
            return None
        return from_snapshot(ref)
