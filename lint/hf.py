"""What transformers does with label counts, measured on 5.23 and 4.57 (research/runtime-semantics.md).

- A `*For{Token,Sequence}Classification` model allocates its head with N_eff rows, where N_eff comes
  from `config=` (its id2label) or from the checkpoint's config.json updated by the call's
  `num_labels` / `id2label` keywords. v5 applies them in call order (the last one wins); v4 raises
  ValueError when both are given and disagree.
- In config.json, v5 lets `num_labels` win over `id2label`; v4 keeps `id2label`.
- Loading a checkpoint whose saved head has M != N_eff rows raises, unless
  `ignore_mismatched_sizes=True` (then the head is re-initialised). A checkpoint with no head loads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .diagnostics import Location
from .values import HFConfig, Val

# The head tensor names per task, in the order transformers models use them.
HEAD_KEYS = {
    "token": ("classifier.weight",),
    "sequence": ("classifier.out_proj.weight", "classifier.weight", "score.weight", "logits_proj.weight",
                 "sequence_summary.summary.weight"),
}


def head_kind(names) -> str | None:
    for name in names:
        if "ForTokenClassification" in name:
            return "token"
        if "ForSequenceClassification" in name:
            return "sequence"
    return None


@dataclass
class Count:
    """A label count and why we believe it."""

    n: int
    why: str  # human description
    origins: tuple[Location, ...] = ()
    version_note: str = ""  # set when the transformers version decided the value


@dataclass
class SavedHead:
    rows: int | None  # None = the checkpoint has no classification head
    why: str
    location: Location | None = None
    extra: list[Location] = field(default_factory=list)


def _label_count_from_config(config, major: int) -> tuple[int | None, str, Location | None]:
    """(labels, why, location) of a config.json Node; None labels when it states nothing."""
    if config is None or not config.is_map:
        return None, "", None
    num = config.get("num_labels")
    id2label = config.get("id2label")
    n_num = num.value if num is not None and isinstance(num.value, int) and not isinstance(num.value, bool) else None
    n_map = len(id2label.value) if id2label is not None and id2label.is_map else None
    if n_num is not None and n_map is not None and n_num != n_map:
        if major >= 5:
            return n_num, f"num_labels {n_num}", num.anchor
        return n_map, f"id2label ({n_map} labels)", id2label.anchor
    if n_map is not None:
        return n_map, f"id2label ({n_map} labels)", id2label.anchor
    if n_num is not None:
        return n_num, f"num_labels {n_num}", num.anchor
    return None, "", None


def config_labels(config, major: int) -> int:
    """The label count transformers derives from a config.json (2 when it states none)."""
    n, _, _ = _label_count_from_config(config, major)
    return 2 if n is None else n


def saved_head(facts, kind: str, major: int, display) -> SavedHead | None:
    """How many rows the checkpoint's classification head has, from the best evidence available."""
    if facts is None:
        return None
    if facts.tensors:
        for key in HEAD_KEYS[kind]:
            info = facts.tensors.get(key)
            if info is not None and info.shape:
                return SavedHead(info.shape[0], f"{key} {list(info.shape)} in {display(info.file)}",
                                 Location(info.file, 1, 1, note=f"{key} {list(info.shape)}"))
        if any(key.endswith(".weight") for key in facts.tensors):
            return SavedHead(None, f"no classification head in {display(facts.weight_files[0]) if facts.weight_files else 'the weights'}")
    config = facts.config
    arch = config.get("architectures") if config is not None and config.is_map else None
    arch_names = [n.value for n in arch.value] if arch is not None and arch.is_seq else []
    n, why, loc = _label_count_from_config(config, major)
    where = display(facts.config_path) if facts.config_path else facts.source_note
    if any("Classification" in str(a) for a in arch_names):
        rows = 2 if n is None else n
        why = why or "no id2label/num_labels (default 2)"
        return SavedHead(rows, f"{why} in {where}", (loc or (arch.anchor if arch is not None else None)))
    meta = facts.meta
    if meta is not None and meta.is_map:
        mwhere = display(facts.meta_path) if facts.meta_path else "model_config.json"
        num = meta.get("num_labels")
        if num is not None and isinstance(num.value, int) and not isinstance(num.value, bool):
            return SavedHead(num.value, f"num_labels {num.value} in {mwhere}", num.anchor)
        for key in ("id2label", "label_map"):
            node = meta.get(key)
            if node is not None and (node.is_map or node.is_seq):
                return SavedHead(len(node.value), f"{key} ({len(node.value)} labels) in {mwhere}", node.anchor)
    if arch_names:
        return SavedHead(None, f"architectures {arch_names} in {where}")
    return None


def _known_int(val: Val | None) -> int | None:
    if val is None or not val.known:
        return None
    v = val.v
    if isinstance(v, bool) or not isinstance(v, int):
        return None
    return v


def _known_len(val: Val | None) -> int | None:
    if val is None or not val.known:
        return None
    v = val.v
    if isinstance(v, (dict, list, tuple)):
        return len(v)
    from .values import Positioned

    if isinstance(v, Positioned) and (v.node.is_map or v.node.is_seq):
        return len(v.node.value)
    return None


def describe(name: str, val: Val, n: int) -> str:
    """How a count was computed: "num_labels=len(label_list) + 1 from `labels` in conf/train.yaml, 3 items"."""
    notes = list(dict.fromkeys(o.note for o in val.origins if o.note))
    expr = " ".join((val.expr or "").split())
    if not expr or expr == str(n) or any(expr in note for note in notes):
        expr = str(n)
    text = f"{name}={expr}"
    return text + (f" from {'; '.join(notes)}" if notes else "")


def apply_label_kwargs(base: Count | None, kwargs: dict[str, Val], major: int, *, constructor: bool,
                       version_note: str) -> Count | None:
    """The label count after `num_labels=` / `id2label=` keywords (None when unknown)."""
    order = [k for k in kwargs if k in ("num_labels", "id2label")]
    if "**" in kwargs and not order:
        return None
    if not order:
        return base
    counts: dict[str, Count] = {}
    for key in order:
        val = kwargs[key]
        n = _known_int(val) if key == "num_labels" else _known_len(val)
        if n is None:
            return None
        counts[key] = Count(n, describe(key, val, n), val.origins)
    if len(counts) == 2 and counts["num_labels"].n != counts["id2label"].n:
        if major >= 5:
            winner = counts["num_labels"] if constructor else counts[order[-1]]
        else:
            if not constructor:
                return None  # v4 raises ValueError before any shape exists: CKL102 reports it
            winner = counts["id2label"]
        return Count(winner.n, winner.why, winner.origins, version_note)
    return counts[order[-1]]


def config_object_labels(cfg: HFConfig, facts_for, major: int, version_note: str, display) -> Count | None:
    """Effective labels of a config object built in the code (from_pretrained or constructor)."""
    base: Count | None
    constructor = cfg.ref is None
    if constructor:
        base = Count(2, "the default 2 labels")
    else:
        facts = facts_for(cfg.ref, cfg.base_dirs)
        if facts is None or facts.config is None:
            base = None
        else:
            n = config_labels(facts.config, major)
            base = Count(n, f"{n} labels from {display(facts.config_path) if facts.config_path else facts.source_note}")
    count = apply_label_kwargs(base, cfg.kwargs, major, constructor=constructor, version_note=version_note)
    for key, val in cfg.attrs.items():  # config.num_labels = N / config.id2label = {...} afterwards
        if key in ("num_labels", "id2label"):
            n = _known_int(val) if key == "num_labels" else _known_len(val)
            if n is None:
                return None
            count = Count(n, describe(f"config.{key}", val, n), val.origins)
    return count
