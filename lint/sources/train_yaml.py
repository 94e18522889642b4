"""Training-framework YAML that names a base and an adapter: the same checks as a script.

- LLaMA-Factory (`model_name_or_path`, `adapter_name_or_path`, `finetuning_type`): the tokenizer is
  the base's plus `new_special_tokens`/`add_tokens`/`add_special_tokens`; adding tokens turns
  `resize_vocab` on; a resize happens only when len(tokenizer) exceeds the embeddings, rounded up
  to a multiple of 64; `export_dir` merges; `quantization_bit` loads the base quantized.
- AutoTrain (`task: llm*`, `base_model`, `params`): the trainer resizes the embeddings to
  len(tokenizer) unconditionally (with chat-template tokens when `chat_template` is chatml/zephyr).
"""

from __future__ import annotations

from pathlib import Path

from ..diagnostics import Location
from ..evaluate_libraries import LoadEvent
from ..flow import AdapterLoad, Step
from ..values import UNKNOWN, HFObject, Val, known

LLAMA_FACTORY_PAD = 64  # src/llamafactory/model/model_utils/embedding.py: pad_to_multiple_of=64


def _val(node, what: str) -> Val:
    return known(node.value, (node.anchor.with_note(what),))


def _tokens(node) -> list[str] | None:
    """A comma-separated string or a list of tokens; None when absent or not plain."""
    if node is None or node.value is None:
        return []
    if isinstance(node.value, str):
        return [t.strip() for t in node.value.split(",") if t.strip()]
    plain = node.plain()
    if isinstance(plain, list) and all(isinstance(t, str) for t in plain):
        return plain
    return None


def read_training_yaml(project, path: Path, root) -> None:
    """Add the adapter loads / resizes a training YAML implies to the project."""
    if not hasattr(root, "get") or not root.is_map:
        return
    if root.get("model_name_or_path") is not None and (
            root.get("adapter_name_or_path") is not None or root.get("finetuning_type") is not None):
        _llama_factory(project, path, root)
    elif root.get("base_model") is not None and root.get("params") is not None and root.get("task") is not None:
        _autotrain(project, path, root)


def _base_event(project, path: Path, node, key: str, kwargs: dict) -> LoadEvent:
    """A load the framework does for the YAML (not recorded as a script load)."""
    dirs = tuple(dict.fromkeys([project.root, path.parent]))
    ref = _val(node, f"{key} in {project.display(path)}")
    return LoadEvent("from_pretrained", "AutoModelForCausalLM", ("AutoModelForCausalLM",), ref, [], kwargs,
                     node.anchor, f"{key}: {node.value}", None, None, None, dirs)


def _llama_factory(project, path: Path, root) -> None:
    from ..vocab import base_rows, tokenizer_count

    model_node = root.get("model_name_or_path")
    if not isinstance(model_node.value, str):
        return
    where = project.display(path)
    kwargs: dict[str, Val] = {}
    qbit = root.get("quantization_bit")
    if qbit is not None and isinstance(qbit.value, int) and not isinstance(qbit.value, bool):
        kwargs["quantization_bit"] = _val(qbit, f"quantization_bit in {where}")
    event = _base_event(project, path, model_node, "model_name_or_path", kwargs)
    base = HFObject("AutoModelForCausalLM", event)
    project.extra_references.append((event.ref, event.base_dirs, model_node.anchor, None, None, "yaml"))

    # Tokens LLaMA-Factory adds to the base tokenizer, and whether it resizes.
    added: list[str] = []
    for key in ("new_special_tokens", "add_tokens", "add_special_tokens"):
        tokens = _tokens(root.get(key))
        if tokens is None:
            added = None
            break
        added.extend(tokens)
    resize_node = root.get("resize_vocab")
    resize = bool(resize_node is not None and resize_node.value is True) or bool(added)
    if resize:
        facts = project.model(event.ref, event.base_dirs)
        count = tokenizer_count(project, facts)
        rows = base_rows(facts, {}, project.display)
        site = (resize_node or root.get("new_special_tokens") or model_node).anchor
        if count is None or rows is None or added is None or count.tokens is None:
            base.steps.append(Step("resize", site, False, {"n": UNKNOWN}, "resize_vocab"))  # size unknown
        else:
            length = count.length + len([t for t in dict.fromkeys(added) if t not in count.tokens])
            if length > rows.n:
                origins = (Location(count.source, 1, 1, note=f"len(tokenizer) = {count.length} ({count.detail})"),)
                base.steps.append(Step("resize", site, True,
                                       {"n": known(length, origins, "len(tokenizer)"), "pad": known(LLAMA_FACTORY_PAD)},
                                       f"resize_vocab (to len(tokenizer) = {length}, pad_to_multiple_of=64)"))
                project.resizes.append((base, base.steps[-1]))

    adapters = root.get("adapter_name_or_path")
    if adapters is None or not isinstance(adapters.value, str):
        return
    for name in [a.strip() for a in adapters.value.split(",") if a.strip()]:
        ref = known(name, (adapters.anchor.with_note(f"adapter_name_or_path in {where}"),))
        load = AdapterLoad("LLaMA-Factory", base, list(base.steps), ref, {}, adapters.anchor, event.base_dirs)
        load.base_load = event
        if root.get("export_dir") is not None:
            load.base_steps.append(Step("merge", root.get("export_dir").anchor, True, {}, "export_dir"))
        project.adapter_loads.append(load)
        project.extra_references.append((ref, event.base_dirs, adapters.anchor, None, None, "adapter"))


def _autotrain(project, path: Path, root) -> None:
    from ..vocab import tokenizer_count

    task = root.get("task")
    model_node = root.get("base_model")
    if not (isinstance(task.value, str) and task.value.startswith("llm") and isinstance(model_node.value, str)):
        return
    event = _base_event(project, path, model_node, "base_model", {})
    project.extra_references.append((event.ref, event.base_dirs, model_node.anchor, None, None, "yaml"))
    chat = root.path("data", "chat_template")
    if chat is not None and chat.value in ("chatml", "zephyr"):
        return  # AutoTrain adds its own chat tokens: the length is not known statically
    count = tokenizer_count(project, project.model(event.ref, event.base_dirs))
    if count is None:
        return
    base = HFObject("AutoModelForCausalLM", event)
    origins = (Location(count.source, 1, 1, note=f"len(tokenizer) = {count.length} ({count.detail})"),)
    step = Step("resize", model_node.anchor, True, {"n": known(count.length, origins, "len(tokenizer)")},
                "AutoTrain's model.resize_token_embeddings(len(tokenizer))")
    base.steps.append(step)
    project.resizes.append((base, step))

