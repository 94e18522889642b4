"""The Hugging Face cache: `models--org--name/snapshots/<sha>/...`, looked up without network.

Files are found through `huggingface_hub.try_to_load_from_cache`, which only reads the
filesystem (refs/<revision> -> sha -> snapshots/<sha>/<file>, a symlink into blobs/).
"""

from __future__ import annotations

import os
from pathlib import Path

from .facts import ModelFacts
from .local import ADAPTER, ADAPTER_BIN, ADAPTER_CONFIG, CONFIG, INDEX, META, PICKLES, SINGLE, read_folder

# A snapshot counts as cached when one of these is there.
_PROBES = (CONFIG, META, SINGLE, INDEX, ADAPTER, ADAPTER_CONFIG, ADAPTER_BIN, *PICKLES)


def cache_dir(explicit: Path | None = None) -> Path:
    """The hub cache folder, chosen as huggingface_hub does, but read from the environment now."""
    if explicit is not None:
        return explicit
    env = os.environ
    chosen = env.get("HF_HUB_CACHE") or env.get("HUGGINGFACE_HUB_CACHE")
    if not chosen:
        cache_home = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        chosen = os.path.join(env.get("HF_HOME") or os.path.join(cache_home, "huggingface"), "hub")
    return Path(os.path.expandvars(os.path.expanduser(chosen)))


def from_cache(ref: str, cache: Path, revision: str | None, subfolder: str | None) -> ModelFacts | None:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    prefix = f"{subfolder.strip('/')}/" if subfolder else ""
    found: dict[str, Path | None] = {}

    def find(name: str) -> Path | None:
        if name not in found:
            try:
                hit = try_to_load_from_cache(ref, prefix + name, cache_dir=cache, revision=revision)
            except (ValueError, OSError):  # a filename huggingface_hub refuses, an unreadable ref
                hit = None
            found[name] = Path(hit) if isinstance(hit, str) else None  # else None or _CACHED_NO_EXIST
        return found[name]

    hit = next((p for p in map(find, _PROBES) if p is not None), None)
    if hit is None:
        return None
    folder = hit.parent
    snapshots = cache / f"models--{ref.replace('/', '--')}" / "snapshots"
    sha = folder.relative_to(snapshots).parts[0]
    where = f"{ref}@{sha[:8]}" + (f" subfolder {prefix.rstrip('/')}" if prefix else "")
    return read_folder(ref, "hf-cache", folder, find, f"HF cache {where}", revision=sha)
