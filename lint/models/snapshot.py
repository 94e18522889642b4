"""The bundled snapshot `ckpt_lint/data/models.json`: configs of well-known hub models.

Each entry is `{"aliases": [...], "source": "...", "config": {...}}` keyed by hub id; only keys a
public source states are filled. The file is parsed once, with positions, so a finding can point
at the bundled line it relies on.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

from ..sources.json_reader import load_json
from ..sources.tree import Node
from .facts import ModelFacts


@functools.lru_cache(maxsize=1)
def _entries() -> tuple[Path, dict[str, Node]]:
    """(bundled file, lower-cased hub id or alias -> entry node)."""
    data = resources.files("ckpt_lint") / "data" / "models.json"
    path = Path(str(data))
    root = load_json(path, data.read_text(encoding="utf-8"))
    table: dict[str, Node] = {}
    for hub_id, entry in root.get("models").items():
        for name in [hub_id, *(alias.value for alias in entry.get("aliases").value)]:
            table[name.lower()] = entry
    return path, table


def from_snapshot(ref: str) -> ModelFacts | None:
    path, table = _entries()
    entry = table.get(ref.lower())  # hub ids are case-insensitive
    if entry is None:
        return None
    source = entry.get("source").value  # every entry has one (tests check)
    return ModelFacts(ref, "snapshot", None, config=entry.get("config"), config_path=path,
                      source_note=f"bundled snapshot (source: {source})")
