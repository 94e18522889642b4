"""What a `load_state_dict(...)` call loads and into what: the checkpoint's tensors (the container the
code picked, read from the file's header), the wrappers around the target model, a `torch.save` of the
project that wrote the file, and the sizes that dominate a group of tensors (the width a model was
trained at, its number of blocks)."""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .values import Checkpoint, HFObject, Instance, Val, Wrapped

WRAPPER_PREFIX = "module."
PEFT_PREFIX = "base_model.model."
PEFT_INFIXES = (".lora_A.", ".lora_B.", ".base_layer.", ".modules_to_save.", ".original_module.",
                ".lora_embedding_A.", ".lora_embedding_B.")


@dataclass
class LoadedCheckpoint:
    """The tensors a `load_state_dict(source)` receives, as far as the file tells."""

    checkpoint: Checkpoint
    facts: Any  # ModelFacts of the file
    path: Path | None
    tensors: dict[str, Any] | None  # name -> TensorInfo of the selected container; None = unreadable
    container: str  # "" or the top-level key ("state_dict")
    saved_by: Any = None  # evaluate_torch.StateDictSave that wrote this path, if the project has one


def unwrap(val: Val) -> tuple[Val, list[Wrapped]]:
    """The model under DDP/DataParallel wrappers, and the wrappers (outermost first)."""
    wrappers: list[Wrapped] = []
    while isinstance(val.v, Wrapped) and len(wrappers) < 4:
        wrappers.append(val.v)
        val = val.v.inner
    return val, wrappers


def saves_to(project, ck: Checkpoint):
    """The project's `torch.save(obj, path)` whose path is this checkpoint's, if any (last wins)."""
    if not (ck.ref.known and isinstance(ck.ref.v, str)):
        return None
    want = {_norm(base, ck.ref.v) for base in ck.base_dirs[:1]}
    found = None
    for save in project.state_dict_saves:
        if save.path.known and isinstance(save.path.v, str) and _norm(save.base_dirs[0], save.path.v) in want:
            found = save
    return found


def _norm(base: Path, p: str) -> str:
    return os.path.normpath(p if os.path.isabs(p) else os.path.join(str(base), p))


def load_checkpoint(project, ck: Checkpoint) -> LoadedCheckpoint | None:
    """Resolve the checkpoint file and pick the container the code indexes (`ckpt["state_dict"]`)."""
    if not (ck.ref.known and isinstance(ck.ref.v, str)):
        return None
    saved = saves_to(project, ck)
    facts = project.model(ck.ref, ck.base_dirs)
    if facts is None or facts.path is None or facts.path.is_dir():
        return LoadedCheckpoint(ck, facts, None, None, "", saved_by=saved) if saved is not None else None
    containers = facts.extra.get("containers")
    if containers is None:  # safetensors / a flat pickle: the tensors are the top level
        containers = {"": facts.tensors} if facts.tensors is not None else None
    if containers is None:
        return LoadedCheckpoint(ck, facts, facts.path, None, "", saved_by=saved)
    keys = list(ck.keys)
    container = ""
    if keys:
        if keys[0] in containers:
            container = keys[0]
        elif keys[0] not in ck.optional_keys:
            return LoadedCheckpoint(ck, facts, facts.path, None, "", saved_by=saved)  # KeyError: not ours
    return LoadedCheckpoint(ck, facts, facts.path, containers.get(container) or {}, container, saved)


# -- what the tensors say ---------------------------------------------------------------------------

def strip_prefix(names, prefix: str) -> dict[str, str]:
    return {n[len(prefix):] if n.startswith(prefix) else n: n for n in names}


def common_wrapper_prefix(names) -> str:
    """`module.` when every name carries it (DDP/DataParallel saved), else ""."""
    names = list(names)
    return WRAPPER_PREFIX if names and all(n.startswith(WRAPPER_PREFIX) for n in names) else ""


def peft_names(names) -> list[str]:
    """Names that only a PEFT-wrapped model has."""
    out = []
    for n in names:
        bare = n[len(WRAPPER_PREFIX):] if n.startswith(WRAPPER_PREFIX) else n
        if bare.startswith(PEFT_PREFIX) or any(i in n for i in PEFT_INFIXES):
            out.append(n)
    return out


VISION_WORDS = ("visual", "vision", "image", "img", "vit")


def is_vision_name(bare: str) -> bool:
    """The first one or two name components belong to an image tower (`visual.`, `vision_model.`)."""
    parts = bare.split(".")[:2]
    return any(p.startswith(VISION_WORDS) or p.endswith(("visual", "vision")) for p in parts)


@dataclass
class Evidence:
    """Sizes that dominate a group of tensors."""

    names: list[str]  # the group's tensor names (as in the checkpoint)
    dominant: int | None  # the dimension most tensors share
    share: float  # fraction of the group's tensors with that dimension
    example: str | None  # a 2-D tensor showing it
    counts: Counter
    stacks: dict[str, int]  # "visual.transformer.resblocks" -> number of blocks

    def share_of(self, dim: int) -> float:
        return self.counts.get(dim, 0) / len(self.names) if self.names else 0.0


_STACK = re.compile(r"^(.*?(?:^|\.)(?:layers?|resblocks|blocks?|h|stages?))\.(\d+)\.")


def evidence(tensors: dict[str, Any], names: list[str]) -> Evidence:
    counts: Counter = Counter()
    considered = []
    for n in names:
        shape = tuple(tensors[n].shape)
        dims = shape[:1] if len(shape) == 4 else shape  # conv weights: out channels
        if not dims or len(shape) > 4:
            continue
        considered.append(n)
        counts.update({d for d in dims if d >= 8})
    stacks: dict[str, int] = {}
    for n in names:
        m = _STACK.match(n)
        if m:
            stacks[m.group(1)] = max(stacks.get(m.group(1), 0), int(m.group(2)) + 1)
    if not counts or not considered:
        return Evidence(considered, None, 0.0, None, counts, stacks)
    dominant, count = counts.most_common(1)[0]
    square = [n for n in considered if len(tensors[n].shape) == 2 and dominant in tensors[n].shape]
    example = next((n for n in square if "attn" in n or "attention" in n), None) or next(iter(square), None)
    return Evidence(considered, dominant, count / len(considered), example, counts, stacks)


def target_model(val: Val) -> Any:
    """The object a state dict is loaded into: a project Instance, an HFObject, or None."""
    inner, _ = unwrap(val)
    return inner.v if isinstance(inner.v, (Instance, HFObject)) else None

