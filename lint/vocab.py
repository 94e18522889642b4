"""Vocabulary sizes: len(tokenizer) after the script's mutations, a base model's embedding rows,
an adapter's saved embedding rows, and the rows after the script's resizes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .diagnostics import Location
from .flow import Step, rounded
from .values import UNKNOWN, Val, known

# Embedding modules by family (input embeddings and output heads with vocab rows).
INPUT_EMBEDDINGS = ("embed_tokens", "wte", "word_embeddings", "embed_in", "tok_embeddings", "shared")
OUTPUT_EMBEDDINGS = ("lm_head", "output_layer", "embed_out", "output")
TOKEN_KWARGS = ("pad_token", "eos_token", "bos_token", "unk_token", "sep_token", "cls_token", "mask_token")


@dataclass
class Rows:
    n: int
    what: str  # "vocab_size 99 in models/base/config.json"
    loc: Location | None = None


def tokenizer_count(project, facts) -> Any:
    """TokenizerCount of a model folder (memoized on the facts), or None."""
    if facts is None:
        return None
    if "tokenizer" not in facts.extra:
        facts.extra["tokenizer"] = None
        try:
            from .models.tokenizer_files import count_tokenizer
        except ImportError:  # pragma: no cover
            return None
        from .textio import ReadError

        try:
            facts.extra["tokenizer"] = count_tokenizer(facts.file)
        except ReadError as exc:
            project.problem(facts.path or Path(facts.ref), f"tokenizer files: {exc.reason}")
        stated = facts.extra.get("snapshot_tokenizer")
        if facts.extra["tokenizer"] is None and stated is not None:
            from .models.tokenizer_files import TokenizerCount

            length, source, loc = stated
            facts.extra["tokenizer"] = TokenizerCount(length, loc.path, f"bundled snapshot for {facts.ref}: {source}",
                                                      None, {})
    return facts.extra["tokenizer"]


def tokenizer_length(project, obj) -> Val:
    """len(tokenizer) for a loaded tokenizer object, after the tokens the script added (known only
    when every change is certain and its tokens are known)."""
    event = obj.event
    ref = getattr(event, "ref", None)
    if ref is None:
        return UNKNOWN
    facts = project.model(ref, event.base_dirs, revision=event.kwargs.get("revision"),
                          subfolder=event.kwargs.get("subfolder"))
    count = tokenizer_count(project, facts)
    if count is None:
        return UNKNOWN
    length, existing = count.length, set(count.tokens) if count.tokens is not None else None
    origins = [Location(count.source, 1, 1, note=f"len(tokenizer) = {count.length} ({count.detail})")]
    load_tokens: list[str] = []
    for name in TOKEN_KWARGS:
        val = event.kwargs.get(name)
        if val is not None:
            if not (val.known and (val.v is None or isinstance(val.v, str))):
                return UNKNOWN
            if val.v is not None:
                load_tokens.append(val.v)
    extra = event.kwargs.get("additional_special_tokens")
    if extra is not None:
        if not (extra.known and isinstance(extra.v, (list, tuple)) and all(isinstance(t, str) for t in extra.v)):
            return UNKNOWN
        load_tokens.extend(extra.v)
    batches: list[tuple[list[str], Location | None]] = [(load_tokens, None)] if load_tokens else []
    for step in obj.steps:
        if step.kind != "tokens":
            continue
        tokens = step.values.get("tokens")
        if not step.certain or tokens is None or not tokens.known:
            return UNKNOWN
        batches.append((list(tokens.v), step.site))
    for tokens, site in batches:
        if existing is None:
            return UNKNOWN
        new = [t for t in dict.fromkeys(tokens) if t not in existing]
        length += len(new)
        existing.update(new)
        if site is not None and new:
            origins.append(_with_note(site, f"adds {len(new)} token{'s' if len(new) != 1 else ''}"))
    return known(length, tuple(origins), "len(tokenizer)")


def _with_note(loc, note: str):
    try:
        return loc.with_note(note)
    except AttributeError:
        return loc


def config_where(facts, display) -> str:
    """How to name a model's config in a message: its path when local, else the model id and origin."""
    if facts.kind == "local" and facts.config_path is not None:
        return display(facts.config_path)
    origin = {"snapshot": "bundled snapshot", "hf-cache": "HF cache", "hub": "Hub"}.get(facts.kind, facts.kind)
    return f"{facts.ref}'s config.json ({origin})"


def _config_rows(facts, display) -> Rows | None:
    config = facts.config
    if config is None:
        return None
    where = config_where(facts, display)
    for keys in (("vocab_size",), ("padded_vocab_size",), ("text_config", "vocab_size")):
        node = config.path(*keys)
        if node is not None and isinstance(node.value, int) and not isinstance(node.value, bool) and node.value > 0:
            return Rows(node.value, f"{'.'.join(keys)} in {where}", node.loc)
    return None


def base_rows(facts, load_kwargs: dict[str, Val] | None, display) -> Rows | None:
    """The embedding rows of a base model as loaded: a `vocab_size=` keyword, its input embedding
    tensor, or its config's vocab_size."""
    kwargs = load_kwargs or {}
    if "vocab_size" in kwargs:
        val = kwargs["vocab_size"]
        if val.known and isinstance(val.v, int):
            return Rows(val.v, f"vocab_size={val.v} passed to from_pretrained", val.site)
        return None
    if facts is None:
        return None
    from_config = _config_rows(facts, display)
    if from_config is not None:
        return from_config
    for name, info in (facts.tensors or {}).items():
        leaf = name.rsplit(".", 2)
        if len(info.shape) == 2 and name.endswith(".weight") and len(leaf) >= 2 and leaf[-2] in INPUT_EMBEDDINGS:
            return Rows(info.shape[0], f"`{name}` in {display(info.file)}", Location(info.file, 1, 1))
    return None


@dataclass
class SavedRows:
    key: str
    n: int
    file: Path


def adapter_embedding_rows(facts) -> list[SavedRows]:
    """Tensors of an adapter that carry vocabulary rows: saved embeddings/heads (modules_to_save,
    save_embedding_layers), LoRA on embeddings (`lora_embedding_A` is [r, V]) or on lm_head
    (`lora_B` is [V, r])."""
    out: list[SavedRows] = []
    for name, info in (facts.adapter_tensors or {}).items():
        parts = name.split(".")
        shape = info.shape
        if len(shape) != 2:
            continue
        module = _module_before(parts)
        if module in INPUT_EMBEDDINGS or module in OUTPUT_EMBEDDINGS:
            if "lora_embedding_A" in parts:
                out.append(SavedRows(name, shape[1], info.file))
            elif "lora_embedding_B" in parts or "lora_A" in parts:
                continue
            elif "lora_B" in parts:
                if module in OUTPUT_EMBEDDINGS:
                    out.append(SavedRows(name, shape[0], info.file))
            elif parts[-1] == "weight":
                out.append(SavedRows(name, shape[0], info.file))
    # the input embedding's plain key first: the one users recognise in the error
    out.sort(key=lambda r: (_module_before(r.key.split(".")) not in INPUT_EMBEDDINGS,
                            "modules_to_save" in r.key or "original_module" in r.key, r.key))
    return out


def _module_before(parts: list[str]) -> str:
    """The module name a tensor belongs to: `...model.embed_tokens.weight` -> embed_tokens,
    `...embed_tokens.base_layer.weight` -> embed_tokens, `...lm_head.lora_B.weight` -> lm_head."""
    skip = {"weight", "bias", "base_layer", "lora_A", "lora_B", "lora_embedding_A", "lora_embedding_B",
            "modules_to_save", "original_module", "default"}
    for part in reversed(parts):
        if part not in skip:
            return part
    return ""


@dataclass
class AfterResize:
    rows: int | None  # None: unknown (an uncertain or unresolved resize)
    resized: bool  # a resize certainly happened
    last: Step | None  # the last certain resize
    maybe: Step | None  # a resize that may or may not happen / to an unknown size
    pad: int | None = None


def rows_after(initial: int | None, steps: list[Step]) -> AfterResize:
    rows, resized, last, maybe, pad = initial, False, None, None, None
    for step in steps:
        if step.kind != "resize":
            continue
        n, m = step.values.get("n"), step.values.get("pad")
        n_ok = n is not None and n.known and (n.v is None or isinstance(n.v, int)) and not isinstance(n.v, bool)
        m_ok = m is None or (m.known and (m.v is None or isinstance(m.v, int)))
        if not step.certain or not n_ok or not m_ok:
            maybe = step
            rows = None
            continue
        multiple = m.v if m is not None else None
        base = n.v if n.v is not None else rows
        if base is None:
            maybe = step
            continue
        rows = rounded(base, multiple)
        resized, last, pad, maybe = True, step, multiple, None
    return AfterResize(rows, resized, last, maybe, pad)
