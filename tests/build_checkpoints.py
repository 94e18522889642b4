"""Build the tiny BERT checkpoints used by the fixture projects.

Regenerate everything (idempotent, deterministic):

    python tests/build_checkpoints.py

Needs torch + transformers (the dev venv). The checkpoints are committed, so the
linter's own tests never need torch. Each checkpoint folder listed in CHECKPOINTS
is deleted and rebuilt; nothing else in the fixture tree is touched.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"

TINY_BERT = dict(
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=37,
    vocab_size=99,
    max_position_embeddings=64,
    type_vocab_size=2,
)

# DeepKE cnSchema entity types (example/ner/standard/conf/train.yaml, commented-out list)
CNSCHEMA_28 = [
    "YAS", "TOJ", "NGS", "QCV", "OKB", "BQF", "CAR", "ZFM", "EMT", "UER",
    "QEE", "UFT", "GJS", "SVA", "ANO", "KEJ", "ZDI", "CAT", "GCK", "FQK",
    "BAK", "RET", "QZP", "QAQ", "ZRE", "TDZ", "CVC", "PMN",
]


def deepke_label_map(types: list[str]) -> dict[int, str]:
    """DeepKE's label_map: ids start at 1 (0 is padding) -> len + 1 = 2*N + 4 rows."""
    labels = ["O"]
    for t in types:
        labels += [f"B-{t}", f"I-{t}"]
    labels += ["[CLS]", "[SEP]"]
    return {i: label for i, label in enumerate(labels, start=1)}


def _deepke_id2label() -> dict[int, str]:
    return {0: "[PAD]", **deepke_label_map(CNSCHEMA_28)}  # 60 entries


NER_7 = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]

# (folder relative to tests/fixtures, model class name, id2label or None, post-processing)
CHECKPOINTS: list[tuple[str, str, dict | None, str | None]] = [
    ("CKL101/deepke_hydra/pretrained/ner-28types", "BertForTokenClassification", _deepke_id2label(), None),
    ("CKL101/deepke_hydra_ok/pretrained/ner-28types", "BertForTokenClassification", _deepke_id2label(), None),
    ("CKL101/argparse_shell/checkpoints/sst-3", "BertForSequenceClassification",
     {0: "negative", 1: "neutral", 2: "positive"}, None),
    ("CKL101/argparse_shell_ok/checkpoints/sst-3", "BertForSequenceClassification",
     {0: "negative", 1: "neutral", 2: "positive"}, None),
    ("CKL101/labels_file/checkpoints/ner-7", "BertForTokenClassification", dict(enumerate(NER_7)), None),
    ("CKL101/labels_file_ok/checkpoints/ner-7", "BertForTokenClassification", dict(enumerate(NER_7)), None),
    ("CKL101/headless_base_ok/checkpoints/bert-tiny", "BertForMaskedLM", None, None),
    ("CKL101/model_config_json/checkpoints", "BertForTokenClassification", _deepke_id2label(), "deepke_release"),
    ("CKL101/model_config_json_ok/checkpoints", "BertForTokenClassification", _deepke_id2label(), "deepke_release"),
    ("CKL102/num_labels_id2label/checkpoints/bert-tiny", "BertForMaskedLM", None, None),
    ("CKL102/num_labels_id2label_ok/checkpoints/bert-tiny", "BertForMaskedLM", None, None),
    ("CKL102/num_labels_id2label_v4/checkpoints/bert-tiny", "BertForMaskedLM", None, None),
]

# Files this script owns inside a checkpoint folder (anything else there is left alone).
_OWNED = ("config.json", "model.safetensors", "pytorch_model.bin", "model_config.json")


def _deepke_release(model, out: Path) -> None:
    """Mimic DeepKE's released cnSchema NER checkpoint (#531/#491).

    v4 `save_pretrained(safe_serialization=False)` wrote pytorch_model.bin; v5 has no such
    option, so torch.save the state dict ourselves. The released config.json is the base
    model's (no id2label, architectures BertForMaskedLM); the label count lives only in
    DeepKE's own model_config.json and in the weights.
    """
    import torch

    (out / "model.safetensors").unlink()
    torch.save(model.state_dict(), out / "pytorch_model.bin")
    cfg_path = out / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg.pop("id2label", None)
    cfg.pop("label2id", None)
    cfg["architectures"] = ["BertForMaskedLM"]
    cfg_path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    label_map = deepke_label_map(CNSCHEMA_28)
    meta = {
        "bert_model": "bert-base-chinese",
        "do_lower": True,
        "max_seq_length": 128,
        "num_labels": len(label_map) + 1,
        "label_map": {str(k): v for k, v in label_map.items()},
    }
    (out / "model_config.json").write_text(json.dumps(meta, ensure_ascii=False) + "\n")


def build_checkpoint(rel: str, cls_name: str, id2label: dict | None, post: str | None,
                     root: Path = FIXTURES) -> Path:
    import torch
    import transformers

    out = root / rel
    if out.is_dir():
        for name in _OWNED:
            (out / name).unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)

    kwargs = dict(TINY_BERT)
    if id2label is not None:
        kwargs["id2label"] = id2label
        kwargs["label2id"] = {v: k for k, v in id2label.items()}
    config = transformers.BertConfig(**kwargs)
    torch.manual_seed(0)
    model = getattr(transformers, cls_name)(config)
    model.save_pretrained(out)
    if post == "deepke_release":
        _deepke_release(model, out)
    return out


def quiet_transformers() -> None:
    """No progress bars or info logs while the builders save models."""
    import transformers

    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()


def build_all(root: Path = FIXTURES) -> list[Path]:
    quiet_transformers()
    return [build_checkpoint(*spec, root=root) for spec in CHECKPOINTS]


def print_sizes(folders: list[Path]) -> int:
    """One line per built folder, relative to tests/fixtures; the builders' main() ends here."""
    for out in folders:
        size = sum(p.stat().st_size for p in out.iterdir() if p.is_file())
        print(f"{out.relative_to(FIXTURES)}  {size / 1024:.1f} KB")
    return 0


def main() -> int:
    return print_sizes(build_all())


if __name__ == "__main__":
    sys.exit(main())
