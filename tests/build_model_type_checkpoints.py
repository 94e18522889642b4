"""Build the tiny checkpoints of the CKL502 (model-type-mismatch) fixture projects.

Regenerate everything (idempotent, deterministic):

    python tests/build_model_type_checkpoints.py

Needs torch + transformers (the dev venv). The artifacts are committed, so the linter's own tests
never need torch. Each folder listed in ARTIFACTS is deleted and rebuilt whole; the case's scripts,
runtime.json and expected.txt are never touched. Models are hidden 32, 2 layers, vocab 99, saved as
safetensors; folders a case only lints (or only loads a tokenizer from) get no weights.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

from build_checkpoints import print_sizes, quiet_transformers

os.environ.setdefault("HF_HUB_OFFLINE", "1")

FIXTURES = Path(__file__).resolve().parent / "fixtures"

TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37, vocab_size=99,
            max_position_embeddings=64)
# A WordPiece vocabulary of 99 entries: BERT's special tokens and w000..w093.
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i:03d}" for i in range(94)]


def bert_config():
    import transformers

    return transformers.BertConfig(**TINY, type_vocab_size=2)


def bert_model(out: Path) -> None:
    """A BERT checkpoint (model_type bert): config.json + model.safetensors, like hfl/chinese-roberta-wwm-ext."""
    import torch
    import transformers

    torch.manual_seed(0)
    transformers.BertModel(bert_config()).save_pretrained(out)


def bert_vocab(out: Path) -> None:
    """A BERT tokenizer folder the way hfl/* ship it: config.json (model_type bert) + vocab.txt only."""
    bert_config().save_pretrained(out)
    (out / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")


def bert_config_only(out: Path) -> None:
    bert_config().save_pretrained(out)


def bert_roberta_tokenizer(out: Path) -> None:
    """model_type bert, but its tokenizer_config.json names RobertaTokenizer (vocab.json + merges.txt)."""
    import transformers

    bert_config().save_pretrained(out)
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "<mask>": 4}
    for ch in "abcdefghijklmnopqrstuvwxyz0123456789\u0120":
        vocab[ch] = len(vocab)
    merges = ["w 0", "w0 0", "w00 1", "w00 2"]
    for merge in merges:
        vocab["".join(merge.split())] = len(vocab)
    tmp = out / "_src"
    tmp.mkdir()
    (tmp / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (tmp / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
    tok = transformers.RobertaTokenizer(vocab_file=str(tmp / "vocab.json"), merges_file=str(tmp / "merges.txt"))
    shutil.rmtree(tmp)
    tok.save_pretrained(out)  # v5 writes tokenizer.json + tokenizer_config.json; keep the classic files too
    (out / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (out / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")


def roberta_model(out: Path) -> None:
    import torch
    import transformers

    config = transformers.RobertaConfig(**TINY, type_vocab_size=1, pad_token_id=1, bos_token_id=0, eos_token_id=2)
    torch.manual_seed(0)
    transformers.RobertaModel(config).save_pretrained(out)


def clip_config(out: Path) -> None:
    """A CLIP config.json (model_type clip) whose text_config/vision_config hold the sub-models' configs."""
    import transformers

    common = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=2)
    config = transformers.CLIPConfig(
        text_config=dict(common, vocab_size=99, max_position_embeddings=16),
        vision_config=dict(common, image_size=32, patch_size=8),
        projection_dim=16,
    )
    config.save_pretrained(out)


# (folder relative to tests/fixtures, builder)
ARTIFACTS = [
    ("CKL502/roberta_on_bert/models/bert-tiny", bert_model),
    ("CKL502/roberta_on_bert_ok/models/bert-tiny", bert_model),
    ("CKL502/roberta_on_bert_v4/models/bert-tiny", bert_vocab),
    ("CKL502/tokenizer_on_bert/models/bert-tiny", bert_vocab),
    ("CKL502/tokenizer_ok/models/bert-tiny", bert_vocab),
    ("CKL502/tokenizer_ok/models/bert-roberta-tokenizer", bert_roberta_tokenizer),
    ("CKL502/project_subclass/models/roberta-tiny", roberta_model),
    ("CKL502/project_subclass_ok/models/roberta-tiny", roberta_model),
    ("CKL502/composite_ok/models/clip-tiny", clip_config),
    ("CKL502/skipped_ok/models/bert-tiny", bert_config_only),
]


def build_all(root: Path = FIXTURES) -> list[Path]:
    quiet_transformers()
    built = []
    for rel, builder in ARTIFACTS:
        out = root / rel
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        builder(out)
        built.append(out)
    return built


def main() -> int:
    return print_sizes(build_all())


if __name__ == "__main__":
    sys.exit(main())
