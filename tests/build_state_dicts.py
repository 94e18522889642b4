"""Build the torch.save checkpoints of the CKL302/CKL303/CKL501 fixture projects.

    python tests/build_state_dicts.py

Needs torch, transformers and peft (the dev venv); deterministic (seeded), tiny (hidden 32-48).
Each case's checkpoint files listed below are rebuilt; the code and configs of the cases are
hand-written and committed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"
TINY_BERT = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37,
                 vocab_size=99, max_position_embeddings=64, type_vocab_size=2)


def encoder(vocab_size: int, hidden_size: int, num_layers: int):
    """The fixture projects' own model (models.py in each CKL501 case)."""
    from torch import nn

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(vocab_size, hidden_size)
            self.layers = nn.ModuleList(
                [nn.TransformerEncoderLayer(hidden_size, 2, hidden_size * 2, batch_first=True) for _ in range(num_layers)])
            self.norm = nn.LayerNorm(hidden_size)

    return Encoder()


def tiny_bert_dir(folder: Path) -> None:
    from transformers import BertConfig, BertModel

    import torch

    torch.manual_seed(0)
    BertModel(BertConfig(**TINY_BERT)).save_pretrained(folder)


def peft_state_dict():
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    model = BertModel(BertConfig(**TINY_BERT))
    peft_model = get_peft_model(model, LoraConfig(r=4, target_modules=["query", "value"]))
    return {k: v.detach().clone().contiguous() for k, v in peft_model.state_dict().items()}


def main() -> int:
    import torch

    torch.manual_seed(0)
    large = {k: v.clone() for k, v in encoder(99, 48, 3).state_dict().items()}
    for case in ("yaml_config_width", "yaml_config_width_ok", "depth_strict", "depth_strict_false"):
        out = FIXTURES / "CKL501" / case / "ckpt" / "encoder-large.pt"
        out.parent.mkdir(parents=True, exist_ok=True)
        torch.save(large, out)

    from transformers import BertConfig, BertModel

    for case, hidden in (("CKL501/bert_base_vs_large", 48), ("CKL501/bert_base_vs_large_ok", 32)):
        tiny_bert_dir(FIXTURES / case / "models" / "bert-tiny")
        torch.manual_seed(1)
        wide = BertModel(BertConfig(**dict(TINY_BERT, hidden_size=hidden)))
        out = FIXTURES / case / "ckpt" / "finetuned.bin"
        out.parent.mkdir(parents=True, exist_ok=True)
        torch.save({k: v.clone() for k, v in wide.state_dict().items()}, out)

    base_cases = ["CKL302/peft_state_dict", "CKL302/peft_state_dict_ok", "CKL302/peft_saved_in_project",
                  "CKL302/ddp_prefix", "CKL302/ddp_prefix_ok", "CKL303/position_ids_old_ckpt",
                  "CKL303/position_ids_ok"]
    for case in base_cases:
        tiny_bert_dir(FIXTURES / case / "models" / "bert-tiny")
    sd = peft_state_dict()
    for case in ("CKL302/peft_state_dict", "CKL302/peft_state_dict_ok"):
        out = FIXTURES / case / "out" / "peft_sd.pt"
        out.parent.mkdir(parents=True, exist_ok=True)
        torch.save(sd, out)

    torch.manual_seed(0)
    plain = {k: v.clone() for k, v in BertModel(BertConfig(**TINY_BERT)).state_dict().items()}
    for case in ("CKL302/ddp_prefix", "CKL302/ddp_prefix_ok"):
        out = FIXTURES / case / "ckpt" / "ddp_model.pt"
        out.parent.mkdir(parents=True, exist_ok=True)
        torch.save({f"module.{k}": v for k, v in plain.items()}, out)

    # transformers < 4.31 saved the position_ids buffer; >= 4.31 does not
    old = dict(plain)
    old["embeddings.position_ids"] = torch.arange(TINY_BERT["max_position_embeddings"]).expand((1, -1)).clone()
    for case, sd_, version in (("CKL303/position_ids_old_ckpt", old, "4.30.2"), ("CKL303/position_ids_ok", plain, "4.31.0")):
        out = FIXTURES / case / "ckpt" / "pytorch_model.bin"
        out.parent.mkdir(parents=True, exist_ok=True)
        torch.save(sd_, out)
        config = dict(BertConfig(**TINY_BERT).to_dict(), transformers_version=version)
        (out.parent / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
