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
    memo = project.__dict__.setdefault("_adapter_memo", {})
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
