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
    facts = ModelFacts(ref, "snapshot", None, config=entry.get("config"), config_path=path,
                       source_note=f"bundled snapshot (source: {source})")
    tokenizer = entry.get("tokenizer")
    if tokenizer is not None and tokenizer.get("length") is not None:
        # len(tokenizer) as a source states it: used when no tokenizer file can be read
        facts.extra["snapshot_tokenizer"] = (tokenizer.get("length").value, tokenizer.get("source").value,
                                             tokenizer.get("length").loc)
    return facts


# -- `ckpt-lint snapshot --update MODEL...` (maintainers) -------------------------------------------

# Config keys an updated entry carries (besides any key the entry already had).
SNAPSHOT_KEYS = ("model_type", "architectures", "hidden_size", "vocab_size", "num_hidden_layers",
                 "intermediate_size", "num_attention_heads", "num_key_value_heads", "tie_word_embeddings",
                 "padded_vocab_size", "num_layers", "ffn_hidden_size", "multi_query_group_num")


def bundled_path() -> Path:
    return Path(str(resources.files("ckpt_lint") / "data" / "models.json"))


def update(models: list[str], output: Path | None = None, *, log=print) -> list[tuple[str, str]]:
    """Refresh (or add) the entries of `models` from their config.json on the Hub and write the file
    (`output`, starting from its current content if it exists, else from the bundled file).
    Returns the failures as (model, reason); the other entries are written."""
    import datetime
    import json

    from .hfcache import cache_dir
    from .hub import failure_from, fetch_config, hub_config

    target = output or bundled_path()
    source = target if target.exists() else bundled_path()
    data = json.loads(source.read_text(encoding="utf-8"))
    table = data.setdefault("models", {})
    cfg = hub_config(cache_dir())
    today = datetime.date.today().isoformat()
    failures: list[tuple[str, str]] = []
    for model in models:
        try:
            hub_id, sha, config = fetch_config(model, cfg)
        except Exception as exc:  # every failure is reported, none is fatal
            failure = failure_from(exc, model, None, cfg)
            failures.append((model, "not found on the Hub" if failure.kind == "not-found" else failure.message))
            continue
        key = _entry_key(table, model) or _entry_key(table, hub_id) or model
        entry = table.setdefault(key, {"aliases": [], "source": "", "config": {}})
        keep = [k for k in SNAPSHOT_KEYS if k in config] + [k for k in entry["config"] if k not in SNAPSHOT_KEYS]
        entry["config"] = {k: config[k] for k in keep if k in config}
        entry["source"] = f"hub config.json of {hub_id}@{sha} (ckpt-lint snapshot --update, {today})"
        for alias in (model, hub_id):
            if alias.lower() != key.lower() and _entry_key(table, alias) in (None, key) and alias not in entry["aliases"]:
                entry["aliases"].append(alias)
        log(f"updated {key} from {hub_id}@{sha[:8]} ({len(entry['config'])} config keys)")
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(target)
    _entries.cache_clear()
    return failures


def _entry_key(table: dict, name: str) -> str | None:
    """The key of the entry whose id or alias is `name` (hub ids are case-insensitive)."""
    low = name.lower()
    for key, entry in table.items():
        if key.lower() == low or low in (a.lower() for a in entry.get("aliases", [])):
            return key
    return None
