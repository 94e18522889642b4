"""Static values: what the evaluator knows about an expression, and where that came from.

`Val` wraps a python value (int, str, list, dict, ...) or one of the object models below, plus the
`origins` of its data (the YAML node, shell flag or label file it was read from) and a short `expr`
saying how it was computed. `UNKNOWN` is a value too: the evaluator never guesses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .diagnostics import Location


class _Unknown:
    __slots__ = ()

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN_DATA = _Unknown()


@dataclass
class Val:
    v: Any
    origins: tuple[Location, ...] = ()
    expr: str = ""
    site: Location | None = None  # where `expr` was computed

    @property
    def known(self) -> bool:
        return self.v is not UNKNOWN_DATA

    def with_expr(self, expr: str, site: Location | None) -> "Val":
        return Val(self.v, self.origins, expr, site)


UNKNOWN = Val(UNKNOWN_DATA)


def known(v: Any, origins=(), expr: str = "", site: Location | None = None) -> Val:
    return Val(v, tuple(origins), expr, site)


def merge_origins(*vals: Val) -> tuple[Location, ...]:
    seen: dict[Location, None] = {}
    for val in vals:
        for loc in val.origins:
            seen.setdefault(loc, None)
    return tuple(seen)


def is_plain(v: Any) -> bool:
    """True for data the evaluator can compute with (no unknown parts inside)."""
    if v is UNKNOWN_DATA:
        return False
    if isinstance(v, (list, tuple, set, frozenset)):
        return all(is_plain(x) for x in v)
    if isinstance(v, dict):
        return all(is_plain(k) and is_plain(x) for k, x in v.items())
    return isinstance(v, (int, float, str, bool, bytes, type(None)))


def same(a: Val, b: Val) -> bool:
    if a is b:
        return True
    if not (a.known and b.known):
        return False
    try:
        return type(a.v) is type(b.v) and a.v == b.v
    except Exception:
        return False


def _copy_data(v: Any) -> Any:
    """Copy containers; share everything else (functions, classes, library objects)."""
    if isinstance(v, list):
        return [_copy_data(x) for x in v]
    if isinstance(v, dict):
        return {k: _copy_data(x) for k, x in v.items()}
    if isinstance(v, set):
        return set(v)
    return v


def fork_value(val: Val) -> Val:
    """A copy whose mutable data is independent (used when branches diverge)."""
    if isinstance(val.v, (list, dict, set)):
        return Val(_copy_data(val.v), val.origins, val.expr, val.site)
    if isinstance(val.v, (Instance, ArgNamespace, HFConfig)):
        return Val(val.v.fork(), val.origins, val.expr, val.site)
    if isinstance(val.v, Positioned) and val.v.writes is not None:
        from dataclasses import replace

        return Val(replace(val.v, writes=dict(val.v.writes)), val.origins, val.expr, val.site)
    return val


# -- object models ---------------------------------------------------------------------------


@dataclass
class ExternalRef:
    """A name imported from outside the project, by qualified name (`transformers.BertConfig`)."""

    qualname: str

    @property
    def leaf(self) -> str:
        return self.qualname.rsplit(".", 1)[-1]


@dataclass
class ModuleRef:
    path: Path


@dataclass
class FuncRef:
    file: Any  # PyFile
    node: Any  # libcst.FunctionDef | libcst.Lambda
    env: Any  # defining scope
    bound_self: Val | None = None
    decorators: tuple[str, ...] = ()
    hydra: dict | None = None  # @hydra.main(config_path=..., config_name=...)


@dataclass
class ClassRef:
    file: Any
    node: Any  # libcst.ClassDef
    name: str
    base_vals: list[Val] | None = field(compare=False)  # None: not evaluated yet (see `bases`)
    attrs: dict[str, Val] = field(default_factory=dict)
    is_dataclass: bool = False
    bases_thunk: Any = field(default=None, compare=False, repr=False)

    @property
    def bases(self) -> list[Val]:
        """The base classes, evaluated when first needed: in a library tree most classes' bases
        (and the modules they come from) are never asked for."""
        if self.base_vals is None:
            thunk, self.bases_thunk = self.bases_thunk, None
            self.base_vals = []  # a class whose base refers back to it sees no bases
            self.base_vals = thunk() if thunk is not None else []
        return self.base_vals

    def mro(self) -> list[Any]:
        """Project classes and external bases, depth first."""
        out: list[Any] = [self]
        for base in self.bases:
            if isinstance(base.v, ClassRef):
                out.extend(x for x in base.v.mro() if x not in out)
            elif isinstance(base.v, ExternalRef):
                out.append(base.v)
        return out

    def external_bases(self) -> list[ExternalRef]:
        return [x for x in self.mro() if isinstance(x, ExternalRef)]


@dataclass
class Instance:
    cls: ClassRef
    attrs: dict[str, Val] = field(default_factory=dict)
    built: "Built | None" = None  # how the code constructed it: `CLIP(**model_info)`

    def fork(self) -> "Instance":
        return Instance(self.cls, {k: fork_value(v) for k, v in self.attrs.items()}, self.built)


@dataclass
class Built:
    """A project class constructed by the code, with the arguments it was given."""

    args: list[Val]
    kwargs: dict[str, Val]
    site: Location | None
    call_text: str
    sources: tuple[str, ...] = ()  # data files expanded with `**` ("cn_clip/.../ViT-B-16.json")
    chosen_by: tuple[Location, ...] = ()  # what picked those files (a launch-script flag, ...)


@dataclass(eq=False)
class Checkpoint:
    """What `torch.load(path)` / `safetensors.torch.load_file(path)` returns, known by its file: shapes
    come from the file's header, never from running the load."""

    ref: Val  # the path as evaluated
    how: str  # "torch.load" | "load_file"
    site: Location | None
    base_dirs: tuple[Path, ...]
    keys: tuple[str, ...] = ()  # subscripts taken: checkpoint["state_dict"] -> ("state_dict",)
    optional_keys: tuple[str, ...] = ()  # `.get("state_dict", checkpoint)`: the key may be absent
    rekeyed: bool = False  # went through code that may rename keys ({k[7:]: v ...}, a project function)
    filtered: bool = False  # went through a comprehension that keeps the names but may drop some
    items: bool = False  # `.items()` of it (iterated by a comprehension)
    patched: tuple[str, ...] = ()  # entries the code replaces before loading (`sd[key] = resized`)
    expr: str = ""

    def derive(self, **changes) -> "Checkpoint":
        from dataclasses import replace

        return replace(self, **changes)


@dataclass(eq=False)
class StateDictOf:
    """`model.state_dict()`: the names a model object saves under (PEFT and DDP wrappers included)."""

    model: Val
    site: Location | None


@dataclass(eq=False)
class Wrapped:
    """`DistributedDataParallel(model)` / `DataParallel(model)`: the state dict names gain `module.`."""

    inner: Val
    how: str
    site: Location | None


class PathStr(str):
    """A `pathlib.Path` value: a str that also knows `.parent`, `.name`, `/`..."""


@dataclass
class BoundMethod:
    target: Val
    name: str


@dataclass
class FileHandle:
    path: Val
    mode: str = "r"


@dataclass
class Positioned:
    """Data read from a YAML/JSON file (or composed by Hydra) that keeps positions."""

    node: Any  # sources.tree.Node
    what: str  # e.g. "conf/train.yaml" or "Hydra config conf/config.yaml"
    composed: Any = None  # hydra.Composed for cfg.key fallback lookups
    attr_access: bool = False  # OmegaConf/Hydra objects allow cfg.key
    chosen_by: tuple[Location, ...] = ()  # origins of the path that named the file (a flag, a YAML key)
    writes: dict[Any, Val] | None = None  # `data[key] = value` after loading (top level only)


@dataclass
class ArgSpec:
    dest: str
    flags: tuple[str, ...]
    default: Val
    action: str | None = None
    type_name: str | None = None
    nargs: Any = None
    const: Val | None = None
    site: Location | None = None


@dataclass
class ArgParser:
    specs: list[ArgSpec] = field(default_factory=list)
    dataclasses: list[Any] = field(default_factory=list)  # HfArgumentParser: ClassRefs


@dataclass
class ArgNamespace:
    fields: dict[str, Val] = field(default_factory=dict)
    what: str = "args"

    def fork(self) -> "ArgNamespace":
        return ArgNamespace({k: fork_value(v) for k, v in self.fields.items()}, self.what)


@dataclass
class HFConfig:
    """A transformers config object: `XConfig.from_pretrained(ref, **kwargs)` or `XConfig(**kwargs)`."""

    cls_name: str
    ref: Val | None
    kwargs: dict[str, Val]
    attrs: dict[str, Val] = field(default_factory=dict)
    site: Location | None = None
    file: Any = None
    base_dirs: tuple[Path, ...] = ()
    node: Any = None  # the libcst.Call that built it
    certain: bool = True  # built by code that certainly runs

    def fork(self) -> "HFConfig":
        return HFConfig(self.cls_name, self.ref, dict(self.kwargs),
                        {k: fork_value(v) for k, v in self.attrs.items()}, self.site, self.file,
                        self.base_dirs, self.node, self.certain)


@dataclass(eq=False)
class HFObject:
    """A loaded model/tokenizer/other transformers object (result of from_pretrained).

    Objects are shared, never copied, between branches: `steps` (lint.flow.Step) records what
    happened to it in order, each step marked certain or not."""

    cls_name: str
    event: Any  # the LoadEvent (or flow.AdapterLoad / flow.PeftWrap) that created it
    role: str = "model"  # "model" | "tokenizer" | "peft" | "other"
    steps: list = field(default_factory=list)


@dataclass
class Builtin:
    name: str
