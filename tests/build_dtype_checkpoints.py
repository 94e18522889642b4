"""Build the tiny half-precision BERT checkpoints used by the CKL401 (dtype-mismatch) fixtures.

Regenerate everything (idempotent, deterministic):

    python tests/build_dtype_checkpoints.py

Needs torch + transformers (the dev venv). The checkpoints are committed, so the linter's own
tests never need torch. Each folder listed in CHECKPOINTS is deleted and rebuilt; nothing else in
the fixture tree is touched. Every checkpoint is a headless `BertModel` (hidden 32, 2 layers,
vocab 99, no pooler) saved with `save_pretrained` in the dtype named, so config.json says
`"dtype": "<that dtype>"` the way transformers 5.x (and 4.57) writes it.

post-processing:
    "no-dtype-field"  remove `dtype`/`torch_dtype` from config.json: transformers then reads the
                      dtype of the stored tensors (safetensors header "BF16") for dtype="auto".
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from build_checkpoints import print_sizes, quiet_transformers

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

# (folder relative to tests/fixtures, torch dtype name, post-processing or None)
CHECKPOINTS: list[tuple[str, str, str | None]] = [
    ("CKL401/bf16_kwarg_head/checkpoints/bert-tiny", "float32", None),
    ("CKL401/bf16_head_cast_ok/checkpoints/bert-tiny", "float32", None),
    ("CKL401/autocast_ok/checkpoints/bert-bf16", "bfloat16", None),
    ("CKL401/fp32_explicit_ok/checkpoints/bert-bf16", "bfloat16", None),
    ("CKL401/v5_default_auto/checkpoints/bert-bf16", "bfloat16", None),
    ("CKL401/v4_pinned_ok/checkpoints/bert-bf16", "bfloat16", None),
    ("CKL401/v5_auto_header_dtype/checkpoints/bert-bf16", "bfloat16", "no-dtype-field"),
    ("CKL401/fp16_function/checkpoints/bert-fp16", "float16", None),
    ("CKL401/head_inside_pretrained_ok/checkpoints/bert-bf16", "bfloat16", None),
    ("CKL401/model_kwargs_dict/checkpoints/bert-tiny", "float32", None),
    ("CKL401/output_float_ok/checkpoints/bert-bf16", "bfloat16", None),
]

# Files this script owns inside a checkpoint folder (anything else there is left alone).
_OWNED = ("config.json", "model.safetensors")


def build_checkpoint(rel: str, dtype: str, post: str | None, root: Path = FIXTURES) -> Path:
    import torch
    import transformers

    out = root / rel
    if out.is_dir():
        for name in _OWNED:
            (out / name).unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)

    config = transformers.BertConfig(**TINY_BERT)
    torch.manual_seed(0)
    model = transformers.BertModel(config, add_pooling_layer=False)
    model.to(getattr(torch, dtype))
    model.save_pretrained(out)
    cfg_path = out / "config.json"
    cfg = json.loads(cfg_path.read_text())
    if post == "no-dtype-field":
        cfg.pop("dtype", None)
        cfg.pop("torch_dtype", None)
    elif post is not None:
        raise ValueError(f"unknown post-processing {post!r}")
    cfg_path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    return out


def build_all(root: Path = FIXTURES) -> list[Path]:
    quiet_transformers()
    return [build_checkpoint(*spec, root=root) for spec in CHECKPOINTS]


def main() -> int:
    return print_sizes(build_all())


if __name__ == "__main__":
    sys.exit(main())
