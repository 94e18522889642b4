"""The bundled model snapshot `ckpt_lint/data/models.json`: every entry is sourced and well formed.

The file is data the rules trust when neither the Hub nor the HF cache can answer, so these tests check
the shape of every entry (not the truth of each value, which the entry's `source` answers for):
sources, unique ids and aliases, sane value types, internally consistent dims and label maps, the
optional `tokenizer` block, and lookups through `from_snapshot`.
"""

from __future__ import annotations

import json
import re
from importlib import resources

import pytest

from ckpt_lint.models.resolver import ModelResolver
from ckpt_lint.models.snapshot import from_snapshot

DATA = json.loads((resources.files("ckpt_lint") / "data" / "models.json").read_text(encoding="utf-8"))
MODELS: dict[str, dict] = DATA["models"]
IDS = sorted(MODELS)

# Size-like keys: a positive int wherever they appear (top level or a nested text/vision config).
POSITIVE_INTS = {
    "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
    "head_dim", "vocab_size", "max_position_embeddings", "padded_vocab_size", "num_layers", "ffn_hidden_size",
    "multi_query_group_num", "seq_length", "dim", "hidden_dim", "n_heads", "n_layers", "projection_dim",
    "patch_size", "image_size", "pooler_hidden_size", "pooler_fc_size", "position_buckets", "max_window_layers",
}
TOKEN_IDS = {"bos_token_id", "eos_token_id", "pad_token_id"}
BOOLS = {"tie_word_embeddings", "use_cache", "attention_bias", "mlp_bias", "use_sliding_window", "relative_attention"}
DTYPES = {"float32", "float16", "bfloat16"}
NESTED = ("text_config", "vision_config")
# Where `head_dim` is stated it need not equal hidden_size / num_attention_heads: Gemma and Qwen3 project
# attention to heads * head_dim != hidden_size (e.g. gemma-7b-it: 16 x 256 = 4096 vs hidden 3072).
HEAD_DIM_DECOUPLED = {"google/gemma-7b-it", "google/gemma-2-2b", "google/gemma-2-9b", "Qwen/Qwen3-0.6B", "Qwen/Qwen3-4B"}


def configs(entry: dict) -> list[tuple[str, dict]]:
    """The entry's config and its nested text/vision configs, with a label for messages."""
    cfg = entry["config"]
    return [("config", cfg)] + [(name, cfg[name]) for name in NESTED if name in cfg]


# --- entry shape and sources ---------------------------------------------------------------------

def test_file_has_about_and_enough_models():
    assert DATA["about"].strip()
    assert len(MODELS) >= 60


@pytest.mark.parametrize("hub_id", IDS)
def test_entry_keys_and_source(hub_id):
    entry = MODELS[hub_id]
    assert {"aliases", "source", "config"} <= set(entry) <= {"aliases", "source", "config", "tokenizer"}
    source = entry["source"]
    assert isinstance(source, str) and source.strip()
    # a source names a place: a repo path / URL, a code-index id, an issue or PR number, or the research notes
    assert re.search(r"/|code-index id \d+|#\d+|research/", source), source
    assert isinstance(entry["aliases"], list) and all(isinstance(a, str) and a for a in entry["aliases"])
    assert isinstance(entry["config"], dict) and entry["config"]


def test_ids_and_aliases_are_unique_hub_ids():
    seen: dict[str, str] = {}
    for hub_id, entry in MODELS.items():
        for name in [hub_id, *entry["aliases"]]:
            assert ModelResolver.is_hub_id(name), name
            assert name.lower() not in seen, f"{name} is both in {seen.get(name.lower())} and {hub_id}"
            seen[name.lower()] = hub_id


def test_name_or_path_is_never_bundled():
    """`_name_or_path` is what transformers writes on save (often a local path), not a fact of the model."""
    for hub_id, entry in MODELS.items():
        for label, cfg in configs(entry):
            assert "_name_or_path" not in cfg and "_commit_hash" not in cfg, (hub_id, label)


# --- value types ---------------------------------------------------------------------------------

@pytest.mark.parametrize("hub_id", IDS)
def test_value_types(hub_id):
    for label, cfg in configs(MODELS[hub_id]):
        where = f"{hub_id} {label}"
        for key, value in cfg.items():
            if key in POSITIVE_INTS:
                assert type(value) is int and value > 0, (where, key, value)
            elif key in TOKEN_IDS:
                ok = value is None or (type(value) is int and value >= 0) or (
                    isinstance(value, list) and value and all(type(v) is int and v >= 0 for v in value))
                assert ok, (where, key, value)
            elif key in BOOLS:
                assert type(value) is bool, (where, key, value)
            elif key == "architectures":
                assert isinstance(value, list) and value and all(isinstance(a, str) and a for a in value), where
            elif key == "model_type":
                assert isinstance(value, str) and value, where
            elif key == "torch_dtype":
                assert value in DTYPES, (where, value)
            elif key in NESTED:
                assert label == "config" and isinstance(value, dict) and value, (where, key)
            elif key in ("rope_scaling", "quantization_config"):
                assert value is None or isinstance(value, dict), (where, key)
            elif key == "auto_map":  # remote-code class names: {"AutoConfig": "configuration_x.XConfig", ...}
                assert isinstance(value, dict) and all(isinstance(v, str) for v in value.values()), where
            elif key in ("id2label", "label2id"):
                assert isinstance(value, dict) and value, (where, key)
            else:  # anything else is a plain JSON scalar or list, never a nested object
                assert value is None or isinstance(value, (str, int, float, bool, list)), (where, key, value)
            if key.endswith(("_dropout_prob", "_pdrop", "dropout")) and isinstance(value, (int, float)):
                assert 0 <= value < 1, (where, key, value)


# --- internal consistency ------------------------------------------------------------------------

def _pairs():
    for hub_id, entry in MODELS.items():
        for label, cfg in configs(entry):
            yield hub_id, label, cfg


def test_hidden_size_divides_into_heads():
    checked = 0
    for hub_id, label, cfg in _pairs():
        for hidden_key, heads_key in (("hidden_size", "num_attention_heads"), ("dim", "n_heads")):
            hidden, heads = cfg.get(hidden_key), cfg.get(heads_key)
            if hidden and heads:
                checked += 1
                assert hidden % heads == 0, (hub_id, label, hidden, heads)
                head_dim = cfg.get("head_dim")
                if head_dim and hub_id not in HEAD_DIM_DECOUPLED:
                    assert head_dim * heads == hidden, (hub_id, label, head_dim, heads, hidden)
    assert checked >= 55


def test_decoupled_head_dim_list_is_current():
    """The exceptions above are exactly the entries whose stated head_dim is not hidden / heads."""
    decoupled = {hub_id for hub_id, label, cfg in _pairs()
                 if cfg.get("head_dim") and cfg.get("num_attention_heads") and cfg.get("hidden_size")
                 and cfg["head_dim"] * cfg["num_attention_heads"] != cfg["hidden_size"]}
    assert decoupled == HEAD_DIM_DECOUPLED


def test_key_value_heads_divide_attention_heads():
    for hub_id, label, cfg in _pairs():
        heads = cfg.get("num_attention_heads")
        for kv_key in ("num_key_value_heads", "multi_query_group_num"):
            kv = cfg.get(kv_key)
            if heads and kv:
                assert kv <= heads and heads % kv == 0, (hub_id, label, kv_key, heads, kv)


@pytest.mark.parametrize("hub_id", [h for h in IDS if {"id2label", "label2id"} & set(MODELS[h]["config"])])
def test_label_maps_are_consistent(hub_id):
    cfg = MODELS[hub_id]["config"]
    id2label, label2id = cfg.get("id2label"), cfg.get("label2id")
    if id2label is not None:
        # JSON object keys are strings; transformers turns them into ints 0..n-1
        assert sorted(int(k) for k in id2label) == list(range(len(id2label)))
        assert all(re.fullmatch(r"\d+", k) for k in id2label)
        assert len(set(id2label.values())) == len(id2label), "labels must be distinct"
    if label2id is not None:
        assert all(type(v) is int for v in label2id.values())
        assert sorted(label2id.values()) == list(range(len(label2id)))
    if id2label is not None and label2id is not None:
        assert {label: int(i) for i, label in id2label.items()} == label2id


def test_some_classifiers_carry_labels():
    with_labels = [h for h in IDS if "id2label" in MODELS[h]["config"]]
    assert "distilbert/distilbert-base-uncased-finetuned-sst-2-english" in with_labels
    assert "dslim/bert-base-NER" in with_labels


# --- the optional tokenizer block ----------------------------------------------------------------

TOKENIZED = [h for h in IDS if "tokenizer" in MODELS[h]]


def test_tokenizer_blocks_exist():
    assert {"bert-base-chinese", "Qwen/Qwen2.5-0.5B", "meta-llama/Llama-2-7b-hf"} <= set(TOKENIZED)


@pytest.mark.parametrize("hub_id", TOKENIZED)
def test_tokenizer_block_shape(hub_id):
    block = MODELS[hub_id]["tokenizer"]
    assert set(block) == {"length", "source"}
    assert type(block["length"]) is int and block["length"] > 0
    assert isinstance(block["source"], str) and block["source"].strip()
    # released checkpoints have at least one embedding row per token (Qwen pads the matrix beyond it)
    cfg = MODELS[hub_id]["config"]
    rows = cfg.get("vocab_size") or cfg.get("padded_vocab_size")
    if rows is not None:
        assert block["length"] <= rows, (hub_id, block["length"], rows)


# --- lookups through from_snapshot ---------------------------------------------------------------

@pytest.mark.parametrize("ref, key, value", [
    ("google-bert/bert-base-uncased", "vocab_size", 30522),
    ("bert-base-uncased", "vocab_size", 30522),  # legacy id, an alias
    ("BERT-BASE-CASED", "vocab_size", 28996),  # hub ids are case-insensitive
    ("roberta-base", "max_position_embeddings", 514),
    ("FacebookAI/xlm-roberta-large", "vocab_size", 250002),
    ("distilbert-base-uncased", "n_layers", 6),
    ("hfl/rbt3", "num_hidden_layers", 3),
    ("hfl/chinese-bert-wwm-ext", "vocab_size", 21128),
    ("meta-llama/llama-2-7b-hf", "max_position_embeddings", 4096),
    ("meta-llama/Meta-Llama-3.1-8B-Instruct", "num_key_value_heads", 8),
    ("Qwen/Qwen2.5-7B-Instruct", "vocab_size", 152064),
    ("qwen/qwen3-4b", "intermediate_size", 9728),
    ("THUDM/chatglm2-6b", "multi_query_group_num", 2),
    ("microsoft/phi-2", "model_type", "phi"),
    ("google/gemma-2-2b", "head_dim", 256),
])
def test_from_snapshot_resolves(ref, key, value):
    facts = from_snapshot(ref)
    assert facts is not None and facts.kind == "snapshot" and facts.ref == ref
    assert facts.config_value(key) == value
    assert facts.source_note.startswith("bundled snapshot (source: ")


def test_from_snapshot_nested_and_labels():
    clip = from_snapshot("openai/clip-vit-base-patch32")
    assert clip.config_value("vision_config", "patch_size") == 32
    assert clip.config_value("text_config", "vocab_size") == 49408
    cn = from_snapshot("OFA-Sys/chinese-clip-vit-large-patch14")
    assert cn.config_value("vision_config", "hidden_size") == 1024
    assert cn.config_value("text_config", "num_hidden_layers") == 12
    sst2 = from_snapshot("distilbert-base-uncased-finetuned-sst-2-english")
    assert sst2.config_value("id2label") == {"0": "NEGATIVE", "1": "POSITIVE"}


def test_from_snapshot_alias_shares_the_entry_and_points_at_its_line():
    by_alias = from_snapshot("roberta-base")
    by_id = from_snapshot("FacebookAI/roberta-base")
    assert by_alias.config is by_id.config
    loc = by_id.config.get("vocab_size").loc
    assert '"vocab_size": 50265' in loc.path.read_text(encoding="utf-8").splitlines()[loc.line - 1]


def test_from_snapshot_unknown():
    assert from_snapshot("google-bert/bert-base-uncased-not-bundled") is None
    assert from_snapshot("") is None
