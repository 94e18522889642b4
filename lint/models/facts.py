"""What a model reference resolves to: its config, tensor shapes and where they came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    kind: str  # "local" | "hf-cache" | "snapshot"
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

    def config_value(self, *keys: Any) -> Any:
        """The plain value at `keys` in config.json, or None."""
        node = self.config.path(*keys) if self.config is not None else None
        return node.plain() if node is not None else None
