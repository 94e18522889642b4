"""What happens to a loaded model or tokenizer, in order: the script flow the adapter rules read.

The evaluator appends a `Step` to an `HFObject` for each call that changes it (a resize, added
tokens, a merge). A step taken where the code may not run (a branch on an unknown test, an except
handler, a loop of unknown count) is not `certain`: rules report only what is certain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .diagnostics import Location
from .values import Val

# Methods that return the model itself (so `model = model.to(device)` keeps its history).
SAME_MODEL = ("to", "cuda", "cpu", "eval", "train", "half", "float", "bfloat16", "requires_grad_",
              "tie_weights", "enable_input_require_grads", "gradient_checkpointing_enable")


@dataclass
class Step:
    kind: str  # "resize" | "tokens" | "merge"
    site: Location
    certain: bool
    values: dict[str, Val] = field(default_factory=dict)  # resize: n, pad; tokens: tokens
    text: str = ""  # the call as written, for messages


@dataclass
class AdapterLoad:
    """An adapter put onto a base model: `PeftModel.from_pretrained(base, adapter)`,
    `base.load_adapter(adapter)`, `AutoPeftModelFor*.from_pretrained(adapter)` or a training YAML
    naming a base and an adapter (LLaMA-Factory)."""

    how: str  # "PeftModel.from_pretrained", "AutoPeftModelForCausalLM.from_pretrained", "load_adapter", "LLaMA-Factory"
    base: Any  # the base HFObject, or None when the adapter names its own base (AutoPeftModel)
    base_steps: list[Step]  # steps on the base before the adapter was loaded
    adapter_ref: Val
    kwargs: dict[str, Val]
    site: Location
    base_dirs: tuple[Path, ...]
    certain: bool = True
    result: Any = None  # the HFObject the load returned (merges are steps on it)
    base_load: Any = None  # the LoadEvent of the base (for YAML: a synthetic one)
    scenario: Any = None  # the launch (project.Scenario) this load ran in
    file: Any = None  # the PyFile of the call, and its libcst node (None for training YAML)
    node: Any = None
    # tokenizers bound to plain names of the calling scope when the adapter was loaded:
    # (name, HFObject, how many of its steps had happened) — what `len(name)` is there
    tokenizers: list = field(default_factory=list)


@dataclass
class PeftWrap:
    """`get_peft_model(model, LoraConfig(...))`: an adapter about to be trained."""

    base: Any  # HFObject or None
    config: Any  # HFConfig of the LoraConfig call, or None
    site: Location
    base_dirs: tuple[Path, ...]


def role_of(cls_name: str) -> str:
    """'tokenizer', 'peft', 'model' or 'other' for a loaded object's class name."""
    if "Tokenizer" in cls_name or cls_name.endswith("Processor"):
        return "tokenizer"
    if cls_name.startswith(("Peft", "AutoPeft")):
        return "peft"
    if cls_name.endswith("Config"):
        return "other"
    return "model"


def rounded(n: int, multiple: int | None) -> int:
    """resize_token_embeddings rounding: ceil(n / m) * m."""
    if not multiple:
        return n
    return ((n + multiple - 1) // multiple) * multiple
