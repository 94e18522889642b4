"""Reading a model folder (or one weights file) from disk: config.json, safetensors headers, meta.

`read_folder` takes a `find(name) -> Path | None` so that the HF cache step can reuse it on a
cached snapshot, where files are looked up through huggingface_hub instead of a directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from ..diagnostics import ReadProblem
from ..sources.json_reader import load_json
from ..sources.tree import Node
from ..textio import ReadError
from .facts import ModelFacts, TensorInfo
from .safetensors import read_header, read_index

Finder = Callable[[str], "Path | None"]

CONFIG = "config.json"
META = "model_config.json"  # DeepKE-style project metadata: num_labels, label_map, bert_model
ADAPTER_CONFIG = "adapter_config.json"  # PEFT
SINGLE = "model.safetensors"
INDEX = "model.safetensors.index.json"
ADAPTER = "adapter_model.safetensors"
ADAPTER_BIN = "adapter_model.bin"
PICKLES = ("pytorch_model.bin", "pytorch_model.bin.index.json")
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt")


def problem(path: Path, err: ReadError) -> ReadProblem:
    return ReadProblem(path, err.reason, err.line, err.column)


def exists(path: Path) -> bool:
    try:
        return path.exists()
    except (OSError, ValueError):  # permission, NUL byte in a name
        return False


def from_path(ref: str, path: Path) -> ModelFacts:
    """Facts for an existing local folder or file."""
    if path.is_dir():
        return read_folder(ref, "local", path, lambda name: _child(path, name), f"local folder {ref}")
    facts = ModelFacts(ref, "local", path, source_note=f"local file {ref}")
    name = path.name.lower()
    if name.endswith(".safetensors.index.json"):
        facts.tensors = _sharded(facts, path, lambda shard: _child(path.parent, shard))
    elif name.endswith(".json"):
        facts.config, facts.config_path = _json(facts, path)
        return facts
    elif name.endswith(".safetensors"):
        facts.tensors = _single(facts, path)
    elif name.endswith(PICKLE_SUFFIXES):
        facts.tensors = _pickled(facts, path)
    elif name.endswith(".gguf"):
        facts.tensors = _gguf(facts, path)
    else:
        facts.weights_note = f"{path.name}: not a weights format ckpt-lint reads"
    _beside(facts, lambda n: _child(path.parent, n))
    return facts


def read_folder(ref: str, kind: str, folder: Path, find: Finder, source_note: str,
                revision: str | None = None) -> ModelFacts:
    facts = ModelFacts(ref, kind, folder, source_note=source_note, revision=revision)
    _beside(facts, find)
    headers = []
    main, adapter = find(SINGLE), find(ADAPTER)
    if main is not None:
        headers.append(_single(facts, main))
    elif (index := find(INDEX)) is not None:
        headers.append(_sharded(facts, index, find))
    if adapter is not None:
        facts.adapter_tensors = _single(facts, adapter)
    elif (adapter_bin := find(ADAPTER_BIN)) is not None:
        facts.adapter_tensors = _pickled(facts, adapter_bin)
        if facts.adapter_tensors is None:
            facts.adapter_weights_note = facts.weights_note or f"{ADAPTER_BIN} could not be read"
            facts.weights_note = None
    if headers:
        facts.tensors = None if any(h is None for h in headers) else {k: v for h in headers for k, v in h.items()}
    elif adapter is None and facts.adapter_config is None:
        single, index = find(PICKLES[0]), find(PICKLES[1])
        if single is not None:
            facts.tensors = _pickled(facts, single)
        elif index is not None:
            facts.tensors = _sharded(facts, index, find, reader=_pickled)
        elif others := _pickle_files(folder):  # optimizer.pt, training_args.bin...: not model weights, not read
            facts.weight_files.extend(others)
            facts.weights_note = _pickle_note(others[0])
    return facts


def _beside(facts: ModelFacts, find: Finder) -> None:
    """config.json, model_config.json and adapter_config.json next to the weights."""
    facts.finder = find
    config, meta, adapter = find(CONFIG), find(META), find(ADAPTER_CONFIG)
    if config is not None:
        facts.config, facts.config_path = _json(facts, config)
    if meta is not None:
        facts.meta, facts.meta_path = _json(facts, meta)
    if adapter is not None:
        facts.adapter_config, facts.adapter_config_path = _json(facts, adapter)


def _json(facts: ModelFacts, path: Path) -> tuple[Node | None, Path]:
    try:
        return load_json(path), path
    except ReadError as e:
        facts.problems.append(problem(path, e))
        return None, path


def _single(facts: ModelFacts, path: Path) -> dict[str, TensorInfo] | None:
    facts.weight_files.append(path)
    try:
        return read_header(path)
    except ReadError as e:
        facts.problems.append(problem(path, e))
        return None


def _pickled(facts: ModelFacts, path: Path) -> dict[str, TensorInfo] | None:
    """Shapes of a torch.save file, read without torch and without running the pickle. A nested
    checkpoint ({"state_dict": ...}, {"model": ...}) gives its largest state dict."""
    from .torch_pickle import UnsafePickle, read_torch_checkpoint

    facts.weight_files.append(path)
    try:
        ckpt = read_torch_checkpoint(path)
    except UnsafePickle as e:
        facts.unsafe.append((path, e))
        facts.weights_note = f"{path.name} was not read: {e.reason}"
        return None
    except ReadError as e:
        facts.problems.append(problem(path, e))
        return None
    facts.extra["containers"] = ckpt.containers  # the code may index one: checkpoint["state_dict"]
    if ckpt.containers.get(""):
        return ckpt.containers[""]
    best = max(ckpt.containers.items(), key=lambda kv: len(kv[1]), default=None)
    if best is None or not best[1]:
        facts.weights_note = f"{path.name} holds no tensors"
        return None
    facts.extra["container"] = best[0]  # the checkpoint key holding the weights ("state_dict")
    return best[1]


def _gguf(facts: ModelFacts, path: Path) -> dict[str, TensorInfo] | None:
    from .gguf import read_gguf

    facts.weight_files.append(path)
    try:
        return read_gguf(path).tensors
    except ReadError as e:
        facts.problems.append(problem(path, e))
        return None


def _sharded(facts: ModelFacts, index: Path, find: Finder, reader=None) -> dict[str, TensorInfo] | None:
    facts.weight_files.append(index)
    try:
        weight_map = read_index(index)
    except ReadError as e:
        facts.problems.append(problem(index, e))
        return None
    tensors: dict[str, TensorInfo] = {}
    for shard in sorted(set(weight_map.values())):
        path = find(shard)
        if path is None and facts.kind == "hf-cache":
            facts.weights_note = f"shard {shard} is not in the HF cache"
            return None
        if path is None:
            facts.problems.append(ReadProblem(index, f"shard {shard} listed in the index is missing"))
            return None
        header = (reader or _single)(facts, path)
        if header is None:
            return None
        tensors.update(header)
    return tensors


def _child(folder: Path, name: str) -> Path | None:
    path = folder / name
    return path if exists(path) and path.is_file() else None


def _pickle_files(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.suffix.lower() in PICKLE_SUFFIXES and p.is_file())
    except OSError:
        return []


def _pickle_note(path: Path) -> str:
    if path.name.endswith(".json"):
        return f"{path.name} lists pickle shards; their shapes are not read yet"
    return f"{path.name} is a pickle; its shapes are not read yet"
