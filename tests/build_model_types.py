"""Build lint/data/model_types.json: which `model_type` each transformers class loads (CKL502).

Regenerate (deterministic: sorted keys, no timestamps) whenever the transformers version the
project targets changes:

    python tests/build_model_types.py            # writes lint/data/model_types.json
    python tests/build_model_types.py --check    # exit 1 when the bundled file is out of date

Dev-only: needs transformers (the dev venv, `pip install -e '.[runtime]'`); the linter itself only
reads the JSON. Every public model and config class of transformers is imported and asked for what
`from_pretrained` compares with config.json's `model_type` (transformers 5.23
`PreTrainedConfig.from_pretrained`):

    config_dict = config.json
    if cls.base_config_key in config_dict: config_dict = config_dict[cls.base_config_key]
    if config_dict["model_type"] != cls.model_type:
        use any sub-dict whose model_type == cls.model_type, else WARN "You are using a model of type ..."

where `cls` is the model's `config_class` (a config class is its own). So each class is recorded as
its config's `model_type` plus `base_config_key`. To keep the file small the table is compressed:

- "prefixes": family prefix -> model_type ("Bert" -> "bert"), taken from `XPreTrainedModel` and
  `XConfig` classes; "suffixes": the class-name endings that follow a family prefix ("Model",
  "ForMaskedLM", "Config", ...). A class name resolves to the longest prefix whose remainder is a
  known suffix.
- "classes": every class the prefix rule would get wrong, written out: [model_type, base_config_key],
  or null for a class whose check we do not model (its config overrides `from_pretrained`, has no
  model_type, or a union config_class). The builder verifies that the lookup reproduces every class.
- "tokenizers": tokenizer class -> the model_types transformers registers it for
  (`TOKENIZER_MAPPING_NAMES`, generic `TokenizersBackend` entries left out); "tokenizer_aliases":
  names that are the same class in 5.23 (`RobertaTokenizerFast`, `BartTokenizer` -> `RobertaTokenizer`);
  "tokenizer_files": the vocabulary files a tokenizer class builds itself from (`vocab_files_names`
  without tokenizer.json).
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "lint" / "data" / "model_types.json"


def _truth():
    """(class name -> (model_type, base_config_key) or None, kind) for every public model/config class."""
    import transformers
    from transformers import PreTrainedConfig, PreTrainedModel

    transformers.utils.logging.set_verbosity_error()
    warnings.simplefilter("ignore")
    models: dict[str, tuple[str, str] | None] = {}
    configs: dict[str, tuple[str, str] | None] = {}
    for name in sorted(n for n in dir(transformers) if n[:1].isupper()):
        try:
            obj = getattr(transformers, name)
        except Exception:  # an optional backend is missing: the class is unknown to the table
            continue
        if not isinstance(obj, type) or obj.__name__ != name:
            continue
        if issubclass(obj, PreTrainedModel):
            models[name] = _config_key(obj.config_class, PreTrainedConfig)
        elif issubclass(obj, PreTrainedConfig) and obj is not PreTrainedConfig:
            configs[name] = _config_key(obj, PreTrainedConfig)
    return models, configs


def _config_key(cfg, base) -> tuple[str, str] | None:
    if not isinstance(cfg, type) or not issubclass(cfg, base):
        return None  # None or a union annotation
    model_type = getattr(cfg, "model_type", "")
    key = getattr(cfg, "base_config_key", "")
    if not isinstance(model_type, str) or not model_type or not isinstance(key, str):
        return None
    for klass in cfg.__mro__:
        if klass is base:
            break
        if "from_pretrained" in klass.__dict__:
            return None  # its own check (e.g. ClvpEncoderConfig): not modelled
    return model_type, key


def lookup(name: str, families: dict, suffixes: list, classes: dict):
    """What the linter does with the table (kept in sync with lint/hf.py `class_config_type`)."""
    if name in classes:
        entry = classes[name]
        return None if entry is None else tuple(entry)
    for end in range(len(name) - 1, 0, -1):
        family = families.get(name[:end])
        if family is not None and name[end:] in {suffixes[i] for i in family[1]}:
            return family[0], ""
    return None


def _tokenizers():
    import transformers
    from transformers.models.auto.tokenization_auto import TOKENIZER_MAPPING_NAMES
    from transformers.tokenization_utils_base import PreTrainedTokenizerBase

    generic = {"TokenizersBackend", "PreTrainedTokenizerFast", "PreTrainedTokenizer", "PythonBackend",
               "MistralCommonBackend", "SentencePieceBackend"}
    types: dict[str, set[str]] = {}
    for model_type, name in TOKENIZER_MAPPING_NAMES.items():
        names = name if isinstance(name, (list, tuple)) else [name]
        for n in names:
            if not isinstance(n, str):
                continue
            cls = getattr(transformers, n, None)
            canonical = cls.__name__ if isinstance(cls, type) else n
            if canonical not in generic:
                types.setdefault(canonical, set()).add(model_type)
    aliases: dict[str, str] = {}
    files: dict[str, list[str]] = {}
    for n in sorted(n for n in dir(transformers) if "Tokenizer" in n and n[:1].isupper()):
        try:
            cls = getattr(transformers, n)
        except Exception:
            continue
        if not isinstance(cls, type) or not issubclass(cls, PreTrainedTokenizerBase):
            continue
        if cls.__name__ != n and cls.__name__ in types:
            aliases[n] = cls.__name__
        if n in types:
            names = getattr(cls, "vocab_files_names", {}) or {}
            own = list(dict.fromkeys(v for v in names.values()  # the class's own order: vocab.json, merges.txt
                                     if isinstance(v, str) and v not in ("tokenizer.json", "tokenizer_config.json")))
            if own:
                files[n] = own
    return {k: sorted(v) for k, v in sorted(types.items())}, dict(sorted(aliases.items())), dict(sorted(files.items()))


def _auto_classes(truth: dict) -> dict[str, str]:
    """Class-name ending -> the Auto class whose mapping holds every known class with that ending."""
    from transformers.models.auto import modeling_auto

    holders: dict[str, set[str]] = {}
    for name in dir(modeling_auto):
        mapping = getattr(getattr(modeling_auto, name), "_model_mapping", None)
        names = getattr(mapping, "_model_mapping", None)
        if not name.startswith("AutoModel") or not isinstance(names, dict):
            continue
        for value in names.values():
            for cls in value if isinstance(value, (list, tuple)) else [value]:
                holders.setdefault(cls, set()).add(name)
    return holders


def build() -> dict:
    import transformers

    models, configs = _truth()
    truth = {**models, **configs}
    prefixes: dict[str, str] = {}
    for name, value in sorted(truth.items()):
        if value is None or value[1]:
            continue
        for end in ("PreTrainedModel", "Config"):
            if name.endswith(end) and len(name) > len(end):
                prefix = name[: -len(end)]
                if prefixes.get(prefix, value[0]) != value[0] and end == "Config":
                    continue  # the PreTrainedModel's type wins
                prefixes[prefix] = value[0]
    members: dict[str, set[str]] = {}  # prefix -> suffixes of the classes it covers
    for name, value in truth.items():
        if value is None or value[1]:
            continue
        for end in range(len(name) - 1, 0, -1):
            prefix = name[:end]
            if prefix in prefixes:
                if prefixes[prefix] == value[0]:
                    members.setdefault(prefix, set()).add(name[end:])
                break
    suffixes = sorted({s for group in members.values() for s in group})
    index = {s: i for i, s in enumerate(suffixes)}
    families = {p: [prefixes[p], sorted(index[s] for s in members[p])] for p in sorted(members)}
    classes: dict[str, list | None] = {}
    for name, value in sorted(truth.items()):
        if lookup(name, families, suffixes, {}) != value:
            classes[name] = None if value is None else list(value)
    for name, value in truth.items():  # the compressed table must reproduce every class
        assert lookup(name, families, suffixes, classes) == value, name
    holders = _auto_classes(truth)
    auto: dict[str, str] = {}  # for the fix hint: the Auto class that builds classes with this ending
    for suffix in suffixes:
        with_suffix = [p + suffix for p, (_, ids) in families.items() if index[suffix] in ids]
        counts: dict[str, int] = {}
        for cls in with_suffix:
            for holder in holders.get(cls, ()):
                counts[holder] = counts.get(holder, 0) + 1
        named = "AutoModel" if suffix in ("Model", "BaseModel") else "AutoModel" + suffix
        if named in counts:
            auto[suffix] = named
        elif counts:
            best = min(counts, key=lambda a: (-counts[a], a))
            if 5 * counts[best] >= 4 * len(with_suffix):  # a clear majority, else no hint
                auto[suffix] = best
    tokenizers, aliases, files = _tokenizers()
    return {
        "about": ("Generated by tests/build_model_types.py from transformers "
                  f"{transformers.__version__}: which model_type each class's from_pretrained compares "
                  "with config.json (see that script's docstring for the layout)."),
        "transformers": transformers.__version__,
        "suffixes": suffixes,
        "families": families,
        "classes": dict(sorted(classes.items())),
        "auto": dict(sorted(auto.items())),
        "tokenizers": tokenizers,
        "tokenizer_aliases": aliases,
        "tokenizer_files": files,
    }


def render(data: dict) -> str:
    # one entry per line: readable diffs when transformers is bumped, still small
    lines = ["{"]
    items = list(data.items())
    for i, (key, value) in enumerate(items):
        comma = "," if i < len(items) - 1 else ""
        if isinstance(value, dict) and value:
            lines.append(f"  {json.dumps(key)}: {{")
            entries = list(value.items())
            for j, (k, v) in enumerate(entries):
                sep = "," if j < len(entries) - 1 else ""
                lines.append(f"    {json.dumps(k)}: {json.dumps(v, separators=(',', ':'))}{sep}")
            lines.append(f"  }}{comma}")
        else:
            lines.append(f"  {json.dumps(key)}: {json.dumps(value, separators=(',', ':'))}{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    text = render(build())
    if "--check" in argv:
        current = OUT.read_text(encoding="utf-8") if OUT.exists() else ""
        if current != text:
            print(f"{OUT} is out of date: run python tests/build_model_types.py")
            return 1
        print(f"{OUT} is up to date")
        return 0
    OUT.write_text(text, encoding="utf-8")
    data = json.loads(text)
    print(f"{OUT}: {len(data['families'])} families, {len(data['suffixes'])} suffixes, "
          f"{len(data['classes'])} listed classes, {len(data['tokenizers'])} tokenizers, {len(text) // 1024} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
