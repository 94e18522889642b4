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

import functools
import json
from dataclasses import dataclass, field
from importlib import resources

from .diagnostics import Location
from .values import HFConfig, Val

# Which tensor holds the head, by task and model family (transformers' modeling files).
_OUT_PROJ = {"roberta", "xlm-roberta", "camembert", "electra", "longformer", "mpnet", "data2vec-text", "xmod",
             "roberta-prelayernorm", "esm", "ibert", "roformer", "big_bird", "luke", "mra", "nystromformer",
             "yoso", "ernie_m"}
_SEQ2SEQ = {"bart", "mbart", "plbart", "led", "mvp", "t5", "mt5", "umt5", "bigbird_pegasus"}
_SCORE = {"llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "gemma", "gemma2", "gemma3",
          "gemma3_text", "phi", "phi3", "starcoder2", "stablelm", "persimmon", "gpt_neo", "gptj", "gpt_neox",
          "opt", "bloom", "falcon", "mpt", "gpt_bigcode", "olmo", "olmo2", "deepseek_v3", "glm", "glm4",
          "internlm2", "cohere", "granite", "nemotron", "jamba", "mamba", "gpt2", "biogpt", "ctrl", "transfo-xl",
          "openai-gpt", "reformer", "helium", "smollm3", "arcee", "ministral"}
_TOKEN_SCORE = _SCORE - {"gpt2", "bloom", "falcon", "gpt_neo", "gpt_neox", "biogpt", "mpt", "gpt_bigcode",
                         "opt", "ctrl", "openai-gpt", "reformer", "transfo-xl"}
# Families transformers 5.23 no longer ships (lint/data/model_types.json is generated from 5.23):
# their v4 class names still name a model_type for the head rules.
_LEGACY_PREFIXES = {"Nezha": "nezha", "ErnieM": "ernie_m"}


@functools.lru_cache(maxsize=1)
def _type_table() -> dict:
    """lint/data/model_types.json (built by tests/build_model_types.py from transformers 5.23)."""
    data = json.loads((resources.files("ckpt_lint") / "data" / "model_types.json").read_text(encoding="utf-8"))
    data["_suffix_sets"] = {p: frozenset(data["suffixes"][i] for i in ids) for p, (_, ids) in data["families"].items()}
    return data


def class_config_type(name: str) -> tuple[str, str] | None:
    """(model_type, base_config_key) that `name.from_pretrained` compares with config.json's `model_type`.

    Exact for every public model and config class of transformers 5.23; None for classes it does not
    have (Auto, Peft, project or removed classes) and for the few whose config overrides the check.
    """
    table = _type_table()
    if name in table["classes"]:
        entry = table["classes"][name]
        return None if entry is None else (entry[0], entry[1])
    for end in range(len(name) - 1, 0, -1):
        suffixes = table["_suffix_sets"].get(name[:end])
        if suffixes is not None and name[end:] in suffixes:
            return table["families"][name[:end]][0], ""
    return None


def class_family(name: str) -> tuple[str, str] | None:
    """(family prefix, class-name ending) of a class the table builds from a prefix:
    BertForMaskedLM -> (Bert, ForMaskedLM)."""
    table = _type_table()
    if name in table["classes"]:
        return None
    for end in range(len(name) - 1, 0, -1):
        suffixes = table["_suffix_sets"].get(name[:end])
        if suffixes is not None and name[end:] in suffixes:
            return name[:end], name[end:]
    return None


def matching_class(name: str, model_type: str) -> str | None:
    """The class of `model_type` with the same role as `name` (RobertaForMaskedLM, bert -> BertForMaskedLM)."""
    family = class_family(name)
    if family is None:
        return None
    table = _type_table()
    found = sorted(p + family[1] for p, (t, _) in table["families"].items()
                   if t == model_type and family[1] in table["_suffix_sets"][p])
    return found[0] if len(found) == 1 else None


def auto_class(name: str) -> str | None:
    """The Auto class that builds classes like `name` (BertForMaskedLM -> AutoModelForMaskedLM)."""
    family = class_family(name)
    return _type_table()["auto"].get(family[1]) if family is not None else None


def warned_model_type(config, model_type: str, base_key: str = ""):
    """The config.json `model_type` Node that transformers 5.23 warns about for a class whose config is
    (model_type, base_config_key), or None when it does not warn (matching type, a composite config
    holding the class's sub-config, or no model_type)."""
    if config is None or not config.is_map:
        return None
    if base_key and config.get(base_key) is not None and config.get(base_key).is_map:
        config = config.get(base_key)
    node = config.get("model_type")
    if node is None or node.value == model_type:
        return None
    for _, sub in config.items():  # a composite config that holds the class's own sub-config
        inner = sub.get("model_type") if sub.is_map else None
        if inner is not None and inner.value == model_type:
            return None
    return node if isinstance(node.value, str) else None


def canonical_tokenizer(name: str) -> str:
    """The class a tokenizer name is in transformers 5.23 (RobertaTokenizerFast, BartTokenizer -> RobertaTokenizer)."""
    table = _type_table()
    if name in table["tokenizer_aliases"]:
        return table["tokenizer_aliases"][name]
    if name.endswith("Fast") and name[:-4] in table["tokenizers"]:
        return name[:-4]
    return name


def tokenizer_model_types(name: str) -> list[str] | None:
    """The model_types transformers 5.23 registers tokenizer class `name` for; None when unknown or generic."""
    return _type_table()["tokenizers"].get(canonical_tokenizer(name))


def tokenizer_of_type(model_type: str) -> str | None:
    """The (specific) tokenizer class registered for `model_type`; None when generic or none."""
    for cls, types in _type_table()["tokenizers"].items():
        if model_type in types:
            return cls
    return None


def tokenizer_files(name: str) -> list[str]:
    """The vocabulary files a tokenizer class builds itself from (vocab.json, merges.txt), besides tokenizer.json."""
    return _type_table()["tokenizer_files"].get(canonical_tokenizer(name), [])


def head_kind(names) -> str | None:
    """"token" / "sequence" for *ForTokenClassification / *ForSequenceClassification classes."""
    for name in names:
        if "ForTokenClassification" in name:
            return "token"
        if "ForSequenceClassification" in name:
            return "sequence"
    return None


def model_type_of_class(name: str) -> str | None:
    """`RobertaForSequenceClassification` -> "roberta"; None for Auto classes, names without "For" and
    classes transformers does not have (lint/data/model_types.json, plus a few v4-only families)."""
    if name.startswith("Auto") or "For" not in name:
        return None
    found = class_config_type(name)
    if found is not None:
        return found[0]
    return _LEGACY_PREFIXES.get(name.split("For", 1)[0])


def head_key(kind: str, model_type: str | None) -> str | None:
    """The state-dict key of a task head's weight; None when the family is unknown."""
    if model_type is None:
        return None
    mt = model_type.replace("_", "-") if model_type.replace("_", "-") in _OUT_PROJ else model_type
    if kind == "token":
        return "score.weight" if model_type in _TOKEN_SCORE else "classifier.weight"
    if mt in _OUT_PROJ:
        return "classifier.out_proj.weight"
    if model_type in _SEQ2SEQ:
        return "classification_head.out_proj.weight"
    if model_type in _SCORE:
        return "score.weight"
    if model_type == "xlnet":
        return "logits_proj.weight"
    if model_type in ("xlm", "flaubert"):
        return "sequence_summary.summary.weight"
    return "classifier.weight"


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


def label_count_from_config(config, major: int) -> tuple[int | None, str, Location | None]:
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
    n, _, _ = label_count_from_config(config, major)
    return 2 if n is None else n


def checkpoint_model_type(facts) -> str | None:
    config = facts.config if facts is not None else None
    node = config.get("model_type") if config is not None and config.is_map else None
    return node.value if node is not None and isinstance(node.value, str) else None


def _arch_names(config) -> list[str]:
    arch = config.get("architectures") if config is not None and config.is_map else None
    return [str(n.value) for n in arch.value] if arch is not None and arch.is_seq else []


def saved_head(facts, key: str, major: int, display) -> SavedHead | None:
    """How many rows the checkpoint's head tensor `key` has, from the best evidence available.

    Evidence order: the weights' header; a config.json whose architecture has that same head; the
    project's metadata beside the weights (model_config.json). `rows=None` means: no such head.
    """
    if facts is None:
        return None
    if facts.tensors:
        info = facts.tensors.get(key)
        if info is not None and info.shape:
            return SavedHead(info.shape[0], f"{key} {list(info.shape)} in {display(info.file)}",
                             Location(info.file, 1, 1, note=f"{key} {list(info.shape)}"))
        return SavedHead(None, f"no {key} in the weights")
    config = facts.config
    arch_names = _arch_names(config)
    n, why, loc = label_count_from_config(config, major)
    where = display(facts.config_path) if facts.config_path else facts.source_note
    ckpt_type = checkpoint_model_type(facts)
    for arch in arch_names:
        kind = head_kind([arch])
        if kind is not None and head_key(kind, model_type_of_class(arch) or ckpt_type) == key:
            rows = 2 if n is None else n
            return SavedHead(rows, f"{why or 'no id2label (default 2 labels)'} in {where}", loc)
    meta = facts.meta
    if meta is not None and meta.is_map:
        mwhere = display(facts.meta_path) if facts.meta_path else "model_config.json"
        num = meta.get("num_labels")
        if num is not None and isinstance(num.value, int) and not isinstance(num.value, bool):
            return SavedHead(num.value, f"num_labels {num.value} in {mwhere}", num.anchor)
        for name in ("id2label", "label_map"):
            node = meta.get(name)
            if node is not None and (node.is_map or node.is_seq):
                return SavedHead(len(node.value), f"{name} ({len(node.value)} labels) in {mwhere}", node.anchor)
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
    origins = [o for o in val.origins if o.note]
    if any(o.path.suffix not in (".py", ".ipynb") for o in origins):  # data files explain more than code literals
        origins = [o for o in origins if o.path.suffix not in (".py", ".ipynb")]
    notes = list(dict.fromkeys(o.note for o in origins))
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
