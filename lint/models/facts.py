"""What a model reference resolves to: its config, tensor shapes and where they came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..diagnostics import ReadProblem
from ..sources.tree import Node


@dataclass(frozen=True)
class TensorInfo:
    name: str
    dtype: str  # safetensors dtype: "F32", "BF16", ...
    shape: tuple[int, ...]
    file: Path


@dataclass
class ModelFacts:
    ref: str  # the reference as written
    kind: str  # "local" | "hf-cache" | "hub" | "snapshot"
    path: Path | None  # folder or file read from (None for snapshot)
    config: Node | None = None  # config.json, positioned
    config_path: Path | None = None
    tensors: dict[str, TensorInfo] | None = None  # from safetensors headers; None = no readable header
    weight_files: list[Path] = field(default_factory=list)
    weights_note: str | None = None  # why shapes are missing, e.g. a pickle checkpoint
    meta: Node | None = None  # project metadata beside the weights (DeepKE model_config.json)
    meta_path: Path | None = None
    problems: list[ReadProblem] = field(default_factory=list)
    source_note: str = ""  # "local folder pretrained/ner", "HF cache bert-base-chinese@1a2b3c4d", ...
    revision: str | None = None
    adapter_config: Node | None = None  # adapter_config.json (PEFT), positioned
    adapter_config_path: Path | None = None
    adapter_tensors: dict[str, TensorInfo] | None = None  # adapter_model.safetensors header
    adapter_weights_note: str | None = None  # why adapter shapes are missing (adapter_model.bin)
    unsafe: list = field(default_factory=list)  # (path, torch_pickle.UnsafePickle) of pickles refused
    # name -> local Path of a file in the model folder (downloaded on demand for the Hub), or None
    finder: Callable[[str], "Path | None"] | None = field(default=None, repr=False)
    extra: dict[str, Any] = field(default_factory=dict, repr=False)  # memo for lazy facts (tokenizer, ...)

    def file(self, name: str) -> Path | None:
        """A file of the model folder by name (tokenizer.json, vocab.txt, ...), or None."""
        if self.finder is None:
            return None
        try:
            return self.finder(name)
        except Exception:  # a finder must never take the run down
            return None

    def adapter_value(self, *keys: Any) -> Any:
        node = self.adapter_config.path(*keys) if self.adapter_config is not None else None
        return node.plain() if node is not None else None

    def config_value(self, *keys: Any) -> Any:
        """The plain value at `keys` in config.json, or None."""
        node = self.config.path(*keys) if self.config is not None else None
        return node.plain() if node is not None else None
