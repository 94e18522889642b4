"""Build the tiny Llama bases, tokenizers and LoRA adapters used by the adapter/vocabulary fixtures.

Regenerate everything (idempotent, deterministic):

    python tests/build_adapters.py

Needs torch + transformers + peft + tokenizers (the dev venv). The artifacts are committed, so the
linter's own tests never need torch. Each artifact folder listed in ARTIFACTS is deleted and rebuilt
whole; the case's scripts, run.sh, runtime.json, YAML files and expected.txt are never touched.

Adapters are built the way the case's own training code would build them: the builder works from
inside the case folder and loads the base by its relative path (models/llama-base), so peft writes
that path into adapter_config.json `base_model_name_or_path`, exactly as a training run started from
the case folder would.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

FIXTURES = Path(__file__).resolve().parent / "fixtures"

TINY_LLAMA = {
    "hidden_size": 32,
    "intermediate_size": 37,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "vocab_size": 99,
    "max_position_embeddings": 64,
    "tie_word_embeddings": False,
}

EMB = ["embed_tokens", "lm_head"]
QV = ["q_proj", "v_proj"]
ALL_LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@dataclass(frozen=True)
class Base:
    """A LlamaForCausalLM checkpoint plus a WordLevel tokenizer of exactly `tokens` tokens."""

    rel: str
    vocab: int = 99
    tokens: int = 99
    hidden: int = 32
    intermediate: int = 37
    tied: bool = False


@dataclass(frozen=True)
class Adapter:
    """A LoRA adapter trained (one random step) on `base`, saved with peft save_pretrained.

    Training-time tokenizer: a fresh tokenizer of `tokens` tokens, else the base's tokenizer plus
    `add_special` (tokenizer.add_special_tokens). `resize` resizes the model to len(tokenizer)
    (with `pad_to` as pad_to_multiple_of) before get_peft_model. `edit` post-processes the saved
    folder: "r=8" (adapter_config r edited), "drop_rank_pattern", "zero3" (every LoRA tensor saved
    as a shape-[0] tensor, like a DeepSpeed ZeRO-3 save without gathering).
    """

    rel: str
    base: str
    tokens: int | None = None
    add_special: dict | None = None
    resize: bool = False
    pad_to: int | None = None
    save_tokenizer: bool = False
    r: int = 4
    alpha: int = 8
    targets: tuple[str, ...] = tuple(QV)
    modules_to_save: tuple[str, ...] | None = None
    rank_pattern: dict = field(default_factory=dict)
    task_type: str | None = "CAUSAL_LM"
    num_labels: int | None = None  # load the base as AutoModelForSequenceClassification
    edit: str | None = None


BASE = Base("models/llama-base")
VOCAB120 = Adapter("models/lora-vocab120", "models/llama-base", tokens=120, resize=True,
                   modules_to_save=tuple(EMB), save_tokenizer=True)
LORA_PAD = Adapter("models/lora-pad", "models/llama-base", add_special={"pad_token": "<pad>"}, resize=True,
                   modules_to_save=tuple(EMB), save_tokenizer=True)
LORA_PAD8 = Adapter("models/lora-pad8", "models/llama-base", tokens=121, resize=True, pad_to=8,
                    modules_to_save=tuple(EMB), save_tokenizer=True)
LORA_SFT = Adapter("output/lora-sft", "models/llama-base")
LF_LORA = Adapter("saves/llama-lora", "models/llama-base",
                  add_special={"additional_special_tokens": ["<tool_call>", "</tool_call>"]},
                  resize=True, pad_to=64, save_tokenizer=True, r=8, alpha=16, targets=tuple(ALL_LINEAR),
                  modules_to_save=tuple(EMB))
H48 = Base("models/llama-h48", hidden=48, intermediate=24)  # intermediate 24 keeps the folder < 150 KB
LORA_H48 = Adapter("models/lora-h48", "models/llama-h48")

# case folder (relative to tests/fixtures) -> artifacts, built in order (bases before their adapters)
ARTIFACTS: dict[str, list[Base | Adapter]] = {
    "CKL201/merge_no_resize": [BASE, VOCAB120],
    "CKL201/merge_no_resize_ok": [BASE, VOCAB120],
    "CKL201/added_pad_token": [BASE, LORA_PAD],
    "CKL201/added_pad_token_ok": [BASE, LORA_PAD],
    "CKL201/auto_peft": [BASE, dataclasses.replace(VOCAB120, save_tokenizer=False)],
    "CKL201/auto_peft_ok": [BASE, VOCAB120],
    "CKL201/llamafactory_export": [BASE, LF_LORA],
    "CKL201/llamafactory_export_ok": [BASE, LF_LORA],
    "CKL202/pad_to_multiple": [BASE, LORA_PAD8],
    "CKL202/pad_to_multiple_ok": [BASE, LORA_PAD8],
    "CKL203/shrink": [Base("models/llama-padded", vocab=128, tokens=120)],
    "CKL203/shrink_ok": [Base("models/llama-padded", vocab=128, tokens=120)],
    "CKL203/grow_ok": [Base("models/llama-padded", vocab=128, tokens=130)],
    "CKL204/merge_8bit": [BASE, LORA_SFT],
    "CKL204/merge_4bit_kwarg": [BASE, LORA_SFT],
    "CKL204/merge_fp16_ok": [BASE, LORA_SFT],
    "CKL205/tied_trained": [Base("models/llama-tied", tied=True),
                            Adapter("models/lora-emb", "models/llama-tied", modules_to_save=tuple(EMB))],
    "CKL205/tied_trained_ok": [BASE, Adapter("models/lora-emb", "models/llama-base", modules_to_save=tuple(EMB))],
    "CKL206/rank_edited": [BASE, Adapter("models/lora-sft", "models/llama-base", edit="r=8")],
    "CKL206/rank_edited_ok": [BASE, Adapter("models/lora-sft", "models/llama-base")],
    "CKL206/rank_pattern": [BASE, Adapter("models/lora-sft", "models/llama-base", rank_pattern={"q_proj": 8},
                                          edit="drop_rank_pattern")],
    "CKL207/zero3_empty": [BASE, Adapter("output/lora-zero3", "models/llama-base", edit="zero3")],
    "CKL207/zero3_empty_ok": [BASE, Adapter("output/lora-zero3", "models/llama-base")],
    "CKL208/seq_cls_head_lost": [BASE, Adapter("models/lora-cls", "models/llama-base", num_labels=3,
                                               task_type=None)],
    "CKL208/seq_cls_head_lost_ok": [BASE, Adapter("models/lora-cls", "models/llama-base", num_labels=3,
                                                  task_type="SEQ_CLS")],
    "CKL301/other_base": [BASE, H48, LORA_H48],
    "CKL301/other_base_ok": [H48, LORA_H48],
}

# The bundled MedicalGPT-style example (examples/<name>): a LoRA from incremental pre-training on a
# grown vocabulary, merged without / with --resize_emb.
EXAMPLES_DIR = FIXTURES.parent.parent / "examples"
PT_LORA = Adapter("outputs-pt-zh/lora", "models/llama-base", tokens=120, resize=True,
                  modules_to_save=tuple(EMB), save_tokenizer=True)
EXAMPLES: dict[str, list[Base | Adapter]] = {
    "medicalgpt-merge": [BASE, PT_LORA],
    "medicalgpt-merge-fixed": [BASE, PT_LORA],
}


def make_tokenizer(n: int):
    """A fast tokenizer with exactly n tokens: <unk>, <s>, </s>, then w003 ... w{n-1}."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    vocab.update({f"w{i:03d}": i for i in range(3, n)})
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token="</s>")
    assert len(fast) == n
    return fast


def build_base(spec: Base) -> None:
    import torch
    import transformers

    config = transformers.LlamaConfig(**{**TINY_LLAMA, "vocab_size": spec.vocab, "hidden_size": spec.hidden,
                                         "intermediate_size": spec.intermediate,
                                         "tie_word_embeddings": spec.tied})
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(config).to(torch.float32)
    model.save_pretrained(spec.rel)
    make_tokenizer(spec.tokens).save_pretrained(spec.rel)


def _train_step(model) -> None:
    """Stand-in for training: nudge every trainable tensor (LoRA B is no longer zero)."""
    import torch

    torch.manual_seed(1)
    with torch.no_grad():
        for _, p in sorted(model.named_parameters()):
            if p.requires_grad:
                p.add_(torch.randn_like(p) * 0.02)


def build_adapter(spec: Adapter) -> None:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import (
        AutoModelForCausalLM,
        AutoModelForSequenceClassification,
        AutoTokenizer,
    )

    if spec.tokens is not None:
        tokenizer = make_tokenizer(spec.tokens)
    else:
        tokenizer = AutoTokenizer.from_pretrained(spec.base)
        if spec.add_special:
            tokenizer.add_special_tokens(spec.add_special)
    torch.manual_seed(0)
    if spec.num_labels is not None:
        model = AutoModelForSequenceClassification.from_pretrained(spec.base, num_labels=spec.num_labels)
    else:
        model = AutoModelForCausalLM.from_pretrained(spec.base)
    if spec.resize:
        model.resize_token_embeddings(len(tokenizer), pad_to_multiple_of=spec.pad_to)
    config = LoraConfig(task_type=spec.task_type, r=spec.r, lora_alpha=spec.alpha, lora_dropout=0.05,
                        target_modules=list(spec.targets), rank_pattern=dict(spec.rank_pattern),
                        modules_to_save=list(spec.modules_to_save) if spec.modules_to_save else None)
    model = get_peft_model(model, config)
    _train_step(model)
    model.save_pretrained(spec.rel)
    if spec.save_tokenizer:
        tokenizer.save_pretrained(spec.rel)
    (Path(spec.rel) / "README.md").unlink(missing_ok=True)  # peft's model-card template
    _edit(Path(spec.rel), spec.edit)


def _edit(out: Path, edit: str | None) -> None:
    cfg_path = out / "adapter_config.json"
    cfg = json.loads(cfg_path.read_text())
    if isinstance(cfg.get("target_modules"), list):  # peft writes a set: order follows PYTHONHASHSEED
        cfg["target_modules"] = sorted(cfg["target_modules"])
    if edit == "r=8":  # Chinese-LLaMA-Alpaca #618: adapter_config.json copied from another adapter
        cfg["r"] = 8
    elif edit == "drop_rank_pattern":
        del cfg["rank_pattern"]
    elif edit == "zero3":
        import torch
        from safetensors.torch import load_file, save_file

        weights = out / "adapter_model.safetensors"
        tensors = {k: torch.empty(0) if "lora_" in k else v for k, v in load_file(weights).items()}
        save_file(tensors, weights, metadata={"format": "pt"})
    elif edit is not None:
        raise ValueError(edit)
    cfg_path.write_text(json.dumps(cfg, indent=2, sort_keys=True))  # peft's own format


def build_case(case: str, root: Path = FIXTURES, table: dict | None = None) -> list[Path]:
    case_dir = root / case
    case_dir.mkdir(parents=True, exist_ok=True)
    built = []
    with contextlib.chdir(case_dir):
        for spec in (table or ARTIFACTS)[case]:
            shutil.rmtree(spec.rel, ignore_errors=True)
            (build_base if isinstance(spec, Base) else build_adapter)(spec)
            built.append(case_dir / spec.rel)
    return built


def build_all(root: Path = FIXTURES, verbose: bool = False) -> list[Path]:
    import peft  # noqa: F401  (fail early when the dev venv is not active)
    import transformers

    transformers.utils.logging.disable_progress_bar()
    if not verbose:  # -v shows the transformers/peft warnings of each build
        transformers.utils.logging.set_verbosity_error()
        warnings.filterwarnings("ignore")
    built = [out for case in ARTIFACTS for out in build_case(case, root)]
    if root == FIXTURES:
        built += [out for case in EXAMPLES for out in build_case(case, EXAMPLES_DIR, EXAMPLES)]
    return built


def main() -> int:
    total = 0
    for out in build_all(verbose="-v" in sys.argv[1:]):
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
        total += size
        print(f"{out.relative_to(FIXTURES.parent.parent)}  {size / 1024:.1f} KB")
    print(f"total  {total / 1024:.1f} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
