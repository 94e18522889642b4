"""Architecture sizes: the width/depth the code builds vs the checkpoint it loads into that model."""

from __future__ import annotations

from dataclasses import dataclass

from ckpt_lint.checkpoints import (
    Evidence,
    LoadedCheckpoint,
    evidence,
    is_vision_name,
    load_checkpoint,
    strip_prefix,
    target_model,
    unwrap,
)
from ckpt_lint.diagnostics import Location, Severity
from ckpt_lint.rule import Rule
from ckpt_lint.values import Checkpoint, HFObject, Instance, Positioned, known

WIDTH_KEYS = {"hidden_size", "d_model", "n_embd", "width", "embed_dim", "dim", "hidden_dim", "model_dim"}
DEPTH_KEYS = {"num_hidden_layers", "n_layer", "n_layers", "num_layers", "layers", "depth"}
TOWERS = {"vision": "vision", "visual": "vision", "image": "vision", "img": "vision", "text": "text"}
# A width is "the checkpoint's" when most of a tower's tensors carry it, and "not the checkpoint's"
# when almost none do: in between (ResNets, odd heads) the rule stays silent.
DOMINANT_SHARE = 0.5
RARE_SHARE = 0.25


@dataclass
class Size:
    key: str  # as the code names it: "vision_width"
    kind: str  # "width" | "depth"
    tower: str | None  # "vision" | "text" | None
    value: int
    origins: tuple[Location, ...]


@dataclass
class Build:
    """How the code built the model a state dict is loaded into."""

    sizes: list[Size]
    call_text: str
    site: Location | None
    sources: tuple[str, ...] = ()
    chosen_by: tuple[Location, ...] = ()


def model_build(project, model) -> Build | None:
    """Width/depth a model object was built with: a project class's constructor kwargs, or the
    config.json (plus keyword overrides) of a transformers `from_pretrained`."""
    if isinstance(model, Instance) and model.built is not None:
        b = model.built
        return Build(_sizes(b.kwargs.items()), b.call_text, b.site, b.sources, b.chosen_by)
    if isinstance(model, HFObject) and model.role == "model" and hasattr(model.event, "ref") \
            and getattr(model.event, "method", "") == "from_pretrained":
        event = model.event
        facts = project.model(event.ref, event.base_dirs)
        if facts is None or facts.config is None or not facts.config.is_map:
            return None
        values = {}
        for key, node in facts.config.value.items():
            if isinstance(node.value, int):
                values[key] = known(node.value, (node.anchor.with_note(f"`{key}` in {project.display(node.anchor.path)}"),))
        values.update({k: v for k, v in event.kwargs.items() if k in values})
        where = project.display(facts.config_path) if facts.config_path else facts.source_note
        return Build(_sizes(values.items()), event.call_text, event.site, (where,))
    return None


TOWER_CONFIGS = {"vision_cfg": "vision", "vision_config": "vision", "visual_cfg": "vision",
                 "text_cfg": "text", "text_config": "text"}


def _sizes(items, tower_of: str | None = None, parent: str = "") -> list[Size]:
    out = []
    for key, val in items:
        v = val.v
        if key in TOWER_CONFIGS and tower_of is None:  # open_clip: CLIP(vision_cfg={"width": 1024, ...})
            out.extend(_sizes(_nested(v), TOWER_CONFIGS[key], f"{key}."))
            continue
        if not val.known or isinstance(v, bool) or not isinstance(v, int):
            continue
        tower, base = _split(key)
        tower = tower or tower_of
        kind = "width" if base in WIDTH_KEYS else "depth" if base in DEPTH_KEYS else None
        if kind is not None:
            out.append(Size(parent + key, kind, tower, v, val.origins))
    return out


def _nested(v) -> list:
    if isinstance(v, Positioned) and v.node.is_map:
        return [(k, known(n.value, (n.anchor.with_note(f"`{k}` in {v.what}"),)))
                for k, n in v.node.value.items() if not (n.is_map or n.is_seq)]
    if isinstance(v, dict):
        return [(k, known(x)) for k, x in v.items()]
    return []


def _split(key: str) -> tuple[str | None, str]:
    head, _, rest = key.partition("_")
    if rest and head in TOWERS:
        return TOWERS[head], rest
    return None, key


class ArchitectureMismatch(Rule):
    """The model the code builds has another width or depth than the checkpoint loaded into it.

    ## What it does
    Follows `model.load_state_dict(torch.load(path)["state_dict"])` (also through DDP/DataParallel
    wrappers, dict comprehensions that filter keys, and `safetensors.torch.load_file`) back to how
    `model` was built — a project class constructed from a JSON/YAML architecture config chosen by a
    flag (`model_configs/{args.vision_model}.json` → `json.load` → `CLIP(**info)`), with the values
    coming from a launch script — and compares the widths and depths it was given (`hidden_size`,
    `d_model`, `width`, `vision_width`, `text_hidden_size`, `num_hidden_layers`, `vision_layers`...)
    with the checkpoint's own tensors, read from the file's header without loading it: the dimension
    most tensors of that tower share, and the number of blocks (`resblocks.N`, `layer.N`).

    ## Why is this bad?
    `load_state_dict` refuses every tensor of another width, `strict=False` included:
    `size mismatch for module.visual.transformer.resblocks.0.attn.in_proj_weight: copying a param
    with shape torch.Size([3072, 1024]) from checkpoint, the shape in current model is
    torch.Size([2304, 768])` — a ViT-B-16 config given a ViT-L-14 checkpoint (Chinese-CLIP #302).
    Another number of blocks raises `Unexpected key(s)`/`Missing key(s)` under `strict=True` and
    leaves random or dropped blocks with `strict=False`.
    Sizes the code adapts on purpose are not compared: image resolution and position embeddings
    (interpolated by `resize_pos_embed`-style code), entries the code replaces before loading.

    ## Example
    ```bash
    resume=${DATAPATH}/pretrained_weights/clip_cn_vit-l-14.pt
    vision_model=ViT-B-16
    python cn_clip/training/main.py --resume=${resume} --vision-model=${vision_model}
    ```

    ## How to fix
    Choose the architecture config that matches the checkpoint (the message lists the configs beside
    the chosen one that do), or resume from a checkpoint of the size you build.
    """

    code = "CKL501"
    name = "architecture-mismatch"
    severity = Severity.ERROR

    def check(self, project):
        for load in project.state_dict_loads:
            if not load.certain or not isinstance(load.source.v, Checkpoint):
                continue
            model = target_model(load.target)
            build = model_build(project, model)
            if build is None or not build.sizes:
                continue
            loaded = load_checkpoint(project, load.source.v)
            if loaded is None or not loaded.tensors or loaded.checkpoint.rekeyed:
                continue
            finding = self._compare(project, load, build, loaded)
            if finding is not None:
                yield finding

    def _compare(self, project, load, build: Build, loaded: LoadedCheckpoint):
        _, wrappers = unwrap(load.target)
        names = [n for n in loaded.tensors if n not in loaded.checkpoint.patched]
        bare = strip_prefix(names, "module.") if all(n.startswith("module.") for n in names) else {n: n for n in names}
        vision = [orig for b, orig in bare.items() if is_vision_name(b)]
        two_towers = bool(vision) and len(vision) < len(bare)
        groups: dict[str | None, list[str]] = {
            "vision": vision if vision else list(bare.values()),
            "text": [orig for b, orig in bare.items() if not is_vision_name(b)] if vision else list(bare.values()),
            None: list(bare.values()),
        }
        problems = []
        for size in build.sizes:
            if size.tower is None and two_towers:
                continue  # `embed_dim` of a two-tower model is the projection, not a tower's width
            group = groups[size.tower]
            if not group:
                continue
            ev = evidence(loaded.tensors, group)
            problem = _disagrees(size, ev)
            if problem is not None:
                problems.append((size, ev, problem))
        if not problems:
            return None
        problems.sort(key=lambda p: p[0].kind != "width")
        widths = [p for p in problems if p[0].kind == "width"]
        strict = load.strict.v if load.strict.known else True
        severity = Severity.ERROR if widths or strict else Severity.WARNING
        return self._finding(project, load, build, loaded, problems, severity, strict)

    def _finding(self, project, load, built: Build, loaded: LoadedCheckpoint, problems, severity, strict):
        where = project.display(loaded.path) + (f'["{loaded.container}"]' if loaded.container else "")
        parts = []
        for size, ev, text in problems:
            parts.append(f"{size.key}={size.value} {text}")
        sources = ", ".join(built.sources) if built.sources else ""
        chosen = "; ".join(_flag_text(o) for o in built.chosen_by)
        what = f"`{built.call_text}`" + (f" (from {sources}" + (f", chosen by {chosen}" if chosen else "") + ")"
                                         if sources else "")
        if any(size.kind == "width" for size, _, _ in problems):
            outcome = "load_state_dict raises a size mismatch (strict=False does not help)"
        elif strict:
            outcome = "load_state_dict raises Missing/Unexpected key(s)"
        else:
            outcome = "strict=False silently leaves blocks random or dropped"
        message = f"{what} builds a model the checkpoint {where} does not fit: {'; '.join(parts)}: {outcome}"
        related: list[Location] = []
        for size, ev, _ in problems:
            related.extend(o.with_note(f"{size.key} = {size.value}") for o in size.origins)
        related.extend(o.with_note(f"chose the config: {o.note}" if o.note else "chose the config file")
                       for o in built.chosen_by)
        if built.site is not None:
            related.append(built.site.with_note("model built here"))
        ck = loaded.checkpoint
        if ck.site is not None:
            related.append(ck.site.with_note(f"checkpoint read here ({ck.how})"))
        related.extend(o.with_note(f"checkpoint path: {o.note}" if o.note else "checkpoint path") for o in ck.ref.origins)
        matching = _matching_configs(project, problems)
        fix = ("use the architecture config the checkpoint was trained with"
               + (f" ({', '.join(matching)} {'match' if len(matching) > 1 else 'matches'} it)" if matching else "")
               + ", or resume from a checkpoint of the size this config builds")
        return self.finding(load.site, message, fix=fix, related=_off_line(related, load.site), severity=severity)


def _disagrees(size: Size, ev: Evidence) -> str | None:
    """Why the checkpoint's tensors contradict this size, or None."""
    if size.kind == "width":
        if ev.dominant is None or ev.dominant == size.value:
            return None
        if ev.share < DOMINANT_SHARE or ev.share_of(size.value) > RARE_SHARE:
            return None
        shown = f", e.g. `{ev.example}`" if ev.example else ""
        return (f"but the checkpoint is {ev.dominant} wide there ({round(ev.share * len(ev.names))} of "
                f"{len(ev.names)} tensors have a {ev.dominant} dimension{shown})")
    if not ev.stacks or size.value in ev.stacks.values():
        return None
    stack, count = max(ev.stacks.items(), key=lambda kv: kv[1])
    return f"but the checkpoint has {count} blocks in `{stack}`"


def _flag_text(origin: Location) -> str:
    note = (origin.note or "").rsplit(" in ", 1)[0]
    return f"`{note}` ({origin.path.name}:{origin.line_ref})" if note else f"{origin.path.name}:{origin.line_ref}"


def _matching_configs(project, problems) -> list[str]:
    """Sibling config files (same folder as the chosen one) whose sizes agree with the checkpoint."""
    folders = {o.path.parent for size, _, _ in problems for o in size.origins if o.path.suffix in (".json", ".yaml", ".yml")}
    if len(folders) != 1:
        return []
    (folder,) = folders
    out = []
    try:
        candidates = sorted(p for p in folder.iterdir() if p.suffix in (".json", ".yaml", ".yml"))[:200]
    except OSError:
        return []
    for path in candidates:
        node = project.data(path, "json" if path.suffix == ".json" else "yaml")
        data = node.plain() if node is not None else None
        if not isinstance(data, dict):
            continue
        if all(_fits(_get(data, size.key), size, ev) for size, ev, _ in problems):
            out.append(path.name)
    return out


def _get(data: dict, dotted: str):
    for part in dotted.split("."):
        data = data.get(part) if isinstance(data, dict) else None
    return data


def _fits(value, size: Size, ev: Evidence) -> bool:
    if not isinstance(value, int) or isinstance(value, bool):
        return False
    if size.kind == "width":
        return value == ev.dominant
    return value in ev.stacks.values()


def _off_line(locs, site) -> list[Location]:
    """Related places other than the load's own line (its arguments are shown there already)."""
    return [loc for loc in locs if (loc.path, loc.cell, loc.line) != (site.path, site.cell, site.line)]
