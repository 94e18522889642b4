"""An adapter load resolved to facts: the adapter folder, the base it goes onto and how that base
was loaded. Shared by the adapter and vocabulary rules (memoized per load)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .diagnostics import Location
from .flow import AdapterLoad
from .values import Val, known


@dataclass
class ResolvedLoad:
    load: AdapterLoad
    adapter: Any  # ModelFacts with adapter_config
    base: Any  # ModelFacts of the base, or None when unknown
    base_ref: Val | None
    base_kwargs: dict[str, Val] = field(default_factory=dict)
    base_cls: str = ""
    base_site: Location | None = None
    auto: bool = False  # AutoPeftModel: the base comes from base_model_name_or_path

    @property
    def ignore_mismatched(self) -> bool:
        val = self.load.kwargs.get("ignore_mismatched_sizes")
        return val is not None and not (val.known and val.v is False)


def resolve(project, load: AdapterLoad) -> ResolvedLoad | None:
    memo = project.adapter_memo
    if id(load) not in memo:
        memo[id(load)] = _resolve(project, load)
    return memo[id(load)]


def _resolve(project, load: AdapterLoad) -> ResolvedLoad | None:
    kw = load.kwargs
    adapter = project.model(load.adapter_ref, load.base_dirs, revision=kw.get("revision"),
                            subfolder=kw.get("subfolder"))
    if adapter is None or adapter.adapter_config is None:
        return None
    if load.how.startswith("AutoPeftModel"):
        node = adapter.adapter_config.get("base_model_name_or_path")
        if node is None or not isinstance(node.value, str):
            return ResolvedLoad(load, adapter, None, None, auto=True)
        where = project.display(adapter.adapter_config_path) if adapter.adapter_config_path else "adapter_config.json"
        ref = known(node.value, (node.loc.with_note(f"base_model_name_or_path in {where}"),))
        base_kwargs = {k: v for k, v in kw.items() if k not in ("revision", "subfolder")}
        base = project.model(ref, load.base_dirs)
        return ResolvedLoad(load, adapter, base, ref, base_kwargs, "AutoModelForCausalLM", load.site, auto=True)
    event = load.base_load
    if event is None or load.base is None:
        return ResolvedLoad(load, adapter, None, None)
    base = project.model(event.ref, event.base_dirs, revision=event.kwargs.get("revision"),
                         subfolder=event.kwargs.get("subfolder"))
    return ResolvedLoad(load, adapter, base, event.ref, dict(event.kwargs), event.cls_name, event.site)


@dataclass
class AdapterSite:
    """An adapter folder to check on its own (rank, empty tensors): where to report, and how it is loaded."""

    facts: Any
    site: Location  # the `r` key in a project adapter_config.json, or the load site
    load: AdapterLoad | None
    in_project: bool


def adapter_sites(project) -> list[AdapterSite]:
    """Every adapter the project contains or loads, once per folder."""
    out: dict[Any, AdapterSite] = {}
    for load in project.adapter_loads:
        resolved = resolve(project, load)
        if resolved is None:
            continue
        key = resolved.adapter.path or resolved.adapter.ref
        if key not in out:
            out[key] = AdapterSite(resolved.adapter, load.site, load, False)
    for source in project.files:
        if source.path.name != "adapter_config.json":
            continue
        folder = source.path.parent
        facts = project.model(known(str(folder)), [project.root])
        if facts is None or facts.adapter_config is None:
            continue
        site = out.get(folder)
        anchor = Location(source.path, 1, 1)
        out[folder] = AdapterSite(facts, anchor, site.load if site else None, True)
    return list(out.values())


def module_of(key: str) -> str:
    """`base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight` -> `model.layers.0.self_attn.q_proj`."""
    name = key[len("base_model.model."):] if key.startswith("base_model.model.") else key
    for suffix in (".lora_A.weight", ".lora_B.weight", ".lora_embedding_A", ".lora_embedding_B",
                   ".lora_A.default.weight", ".lora_B.default.weight"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name.rsplit(".", 1)[0]


def lora_tensors(facts) -> list[tuple[str, str, Any]]:
    """(key, 'A' | 'B' | 'EA' | 'EB', TensorInfo) for every LoRA factor in an adapter header."""
    out = []
    for key, info in (facts.adapter_tensors or {}).items():
        parts = key.split(".")
        for part, kind in (("lora_A", "A"), ("lora_B", "B"), ("lora_embedding_A", "EA"), ("lora_embedding_B", "EB")):
            if part in parts:
                out.append((key, kind, info))
                break
    return out
