"""A half-precision backbone whose outputs feed a float32 module the code creates itself."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst

from ckpt_lint.diagnostics import Location, Severity
from ckpt_lint.rule import Rule
from ckpt_lint.sources.python import walk
from ckpt_lint.values import ExternalRef, HFConfig

# torch dtype spellings (torch attribute or dtype="..." string) -> canonical name
DTYPE_NAMES = {"bfloat16": "bfloat16", "float16": "float16", "half": "float16", "float32": "float32",
               "float": "float32", "float64": "float64", "double": "float64"}
HEADER_DTYPES = {"BF16": "bfloat16", "F16": "float16", "F32": "float32", "F64": "float64"}
HALF = {"bfloat16": "BFloat16", "float16": "Half"}  # how torch names them in the error

# torch.nn modules whose forward raises on a bf16/fp16 input with float32 weights (measured, torch 2.13 CPU)
RAISING = {
    "Linear": "mat1 and mat2 must have the same dtype, but got {half} and Float",
    "Bilinear": "All tensors must have the same dtype",
    "LSTM": "RNN input dtype (torch.{dtype}) does not match weight dtype (torch.float32)",
    "GRU": "RNN input dtype (torch.{dtype}) does not match weight dtype (torch.float32)",
    "RNN": "RNN input dtype (torch.{dtype}) does not match weight dtype (torch.float32)",
    "MultiheadAttention": "expected m1 and m2 to have the same dtype",
    "TransformerEncoderLayer": "expected m1 and m2 to have the same dtype",
    "TransformerDecoderLayer": "expected m1 and m2 to have the same dtype",
    "Conv1d": "Input type (c10::{half}) and bias type (float) should be the same",
    "Conv2d": "Input type (c10::{half}) and bias type (float) should be the same",
    "Conv3d": "Input type (c10::{half}) and bias type (float) should be the same",
    "ConvTranspose1d": "Input type (c10::{half}) and bias type (float) should be the same",
    "ConvTranspose2d": "Input type (c10::{half}) and bias type (float) should be the same",
    "PReLU": "prelu: Type promoting not supported. Got {half} and Float",
}
# torch.nn modules that keep the input dtype (float32 LayerNorm on a bf16 input returns bf16)
PASS_THROUGH = {"Dropout", "Dropout1d", "Dropout2d", "AlphaDropout", "Identity", "ReLU", "GELU", "Tanh",
                "Sigmoid", "SiLU", "Mish", "LeakyReLU", "ELU", "Softmax", "LogSoftmax", "Flatten",
                "LayerNorm", "Hardtanh", "Softplus", "ReLU6", "SELU", "CELU", "GLU"}
# tensor methods / torch functions that return a tensor of the input's dtype
SAME_DTYPE_METHODS = {
    "mean", "sum", "max", "min", "amax", "amin", "squeeze", "unsqueeze", "view", "reshape", "permute",
    "transpose", "contiguous", "flatten", "detach", "clone", "narrow", "select", "expand", "expand_as",
    "repeat", "view_as", "reshape_as", "index_select", "gather", "roll", "flip", "t", "masked_fill",
    "tanh", "relu", "sigmoid", "squeeze_", "unsqueeze_", "cuda", "cpu", "logsumexp", "nan_to_num",
}
SAME_DTYPE_FUNCS = {
    "torch." + n for n in ("mean", "sum", "max", "min", "amax", "amin", "squeeze", "unsqueeze", "flatten",
                           "tanh", "relu", "sigmoid", "transpose", "permute", "reshape", "logsumexp",
                           "index_select", "gather", "narrow", "select", "roll", "flip")
} | {
    "torch.nn.functional." + n for n in ("dropout", "relu", "gelu", "tanh", "silu", "normalize",
                                         "avg_pool1d", "max_pool1d", "adaptive_avg_pool1d",
                                         "adaptive_max_pool1d", "leaky_relu", "elu", "softmax",
                                         "log_softmax", "layer_norm")
}
CONCAT_FUNCS = {"torch.cat", "torch.stack", "torch.concat", "torch.concatenate", "torch.hstack", "torch.vstack"}
CAST_METHODS = {"float", "double", "half", "bfloat16", "type", "to_empty"}
NON_TENSOR_ATTRS = {"shape", "dtype", "device", "ndim", "is_cuda", "requires_grad", "grad_fn"}
# wrappers that keep the backbone's output dtype (model = get_peft_model(model, cfg), ...)
KEEP_WRAPPERS = {"get_peft_model", "compile", "DistributedDataParallel", "DataParallel"}
KEEP_METHODS = {"to", "cuda", "cpu", "eval", "train", "requires_grad_"}  # `to` only to a device
QUANTIZED = ("quantization_config", "load_in_4bit", "load_in_8bit")

# Anything that runs the forward in another precision than the code shows: autocast/AMP, a
# mixed-precision trainer or accelerator, DeepSpeed, a whole-model cast, a changed default dtype.
MIXED_PRECISION = re.compile(
    rb"autocast|GradScaler|mixed_precision|set_default_dtype|deepspeed|"
    rb"precision\s*[=:]\s*['\"]?(?:16|bf16|b?f?16-(?:mixed|true)|half)|"
    rb"\b(?:bf16|fp16|half_precision)(?:_full_eval)?['\"]?\s*[=:]\s*(?:True|true|1)\b|--(?:bf16|fp16)\b|"
    rb"['\"](?:bf16|fp16)['\"]\s*:\s*\{|\.half\(\)|\.bfloat16\(\)|\bamp\.|\bapex\b|"
    rb"\.to\([^()]*(?:torch\.(?:bfloat16|float16|half)\b|dtype\s*=)"
)
DEFAULT_DTYPE = re.compile(rb"set_default_dtype")
MARKER_LIMIT = 1_000_000  # bytes read per file for the mixed-precision markers


@dataclass
class LoadDtype:
    dtype: str  # "bfloat16" | "float16"
    how: str  # why, for the message
    related: list[Location] = field(default_factory=list)
    version_note: str | None = None  # when the transformers default decided it


@dataclass
class Head:
    key: str  # "self.head" or a local name
    kind: str  # "nn.Linear"
    leaf: str  # "Linear"
    node: cst.CSTNode  # the creation call


class DtypeMismatch(Rule):
    """A backbone loaded in bfloat16/float16 feeds its outputs to a float32 module created by the code.

    ## What it does
    For every `from_pretrained` of a model, works out the dtype the weights are loaded in: the
    `dtype=`/`torch_dtype=` argument (also when passed through a `**kwargs` dict), or for `"auto"` the
    checkpoint's config.json `dtype`/`torch_dtype`, else the dtype of its stored tensors (safetensors
    header). Without an argument, transformers 5.x loads with `"auto"` and 4.x in float32; the
    project's pinned transformers version decides. When that dtype is bfloat16 or float16, it follows
    the loaded model inside the class (any method) or function that loads it: a torch module created
    there in float32 (`nn.Linear`, `nn.Conv1d`, `nn.LSTM`, `nn.MultiheadAttention`, an `nn.Sequential`
    starting with one; no `dtype=`, never `.to(dtype)`/`.half()`) that is called on the backbone's
    output (`outputs.last_hidden_state[:, 0]`, `self.bert(...)[0]`, through dropout, `torch.mean`
    pooling, helper methods and simple assignments) is reported at that call.

    It stays silent when a cast or `torch.autocast` comes in between, when the backbone is cast to
    float32 after loading, for heads defined inside a `PreTrainedModel` subclass (they are created
    under the load dtype), for quantized or `trust_remote_code` loads, when the project calls
    `torch.set_default_dtype`, and for a class-level head (whose forward may run anywhere) when the
    project shows mixed-precision training in any file (autocast, `GradScaler`, `bf16=True`/`fp16=True`,
    `mixed_precision`, Lightning `precision=`, DeepSpeed, a `.half()` or `.to(dtype=...)` cast): it is
    a warning, tuned not to fire on ordinary float32 code.

    ## Why is this bad?
    The first forward pass fails: `RuntimeError: mat1 and mat2 must have the same dtype, but got
    BFloat16 and Float` (`Half and Float` for float16). transformers 5 made `dtype="auto"` the
    default, so code that worked under 4.x (float32 by default) breaks on the upgrade as soon as the
    checkpoint was saved in bfloat16 or float16, as many recent checkpoints are.

    ## Example
    ```python
    class Classifier(nn.Module):
        def __init__(self, name):
            super().__init__()
            self.encoder = AutoModel.from_pretrained(name, torch_dtype=torch.bfloat16)
            self.head = nn.Linear(self.encoder.config.hidden_size, 5)     # float32

        def forward(self, input_ids):
            out = self.encoder(input_ids=input_ids)
            return self.head(out.last_hidden_state[:, 0])                  # raises
    ```

    ## How to fix
    Create the head in the backbone's dtype (`nn.Linear(..., dtype=torch.bfloat16)` or
    `.to(self.encoder.dtype)`), load the backbone with `dtype=torch.float32`, cast the features
    (`.float()`) before the head, or run the forward under `torch.autocast`.
    """

    code = "CKL401"
    name = "dtype-mismatch"
    severity = Severity.WARNING

    def __init__(self):
        self._files: dict[int, _FileInfo] = {}
        self._markers: tuple[bool, bool] | None = None

    def check(self, project):
        done: set[int] = set()
        for event in project.events:
            if event.method != "from_pretrained" or event.node is None or id(event.node) in done:
                continue
            if _role(event.cls_name) != "model" or any(k in event.kwargs for k in QUANTIZED):
                continue
            trust = event.kwargs.get("trust_remote_code")
            if trust is not None and (not trust.known or trust.v):
                continue
            load = self._load_dtype(event, project)
            if load is None:
                continue
            info = self._info(event.file)
            found = _trace(info, event.node)
            if found is None:
                continue
            call, head, backbone_text = found
            if self._suppressed(project, info, call):
                continue
            done.add(id(event.node))
            yield self._finding(project, event, info, load, call, head, backbone_text)

    # -- the load dtype ------------------------------------------------------------------------
    def _load_dtype(self, event, project) -> LoadDtype | None:
        kwargs = event.kwargs
        major, version_note = project.library_major("transformers", near=event.site.path)
        chosen = None  # (keyword, Val): `dtype` wins over `torch_dtype`; None means "not given"
        names = ("dtype", "torch_dtype")
        if major < 5 and not _v4_accepts_dtype(project, event.site.path):
            names = ("torch_dtype",)  # transformers < 4.56 ignores (or chokes on) `dtype=`
            if "dtype" in kwargs:
                return None
        for name in names:
            val = kwargs.get(name)
            if val is None:
                continue
            if not val.known:
                return None
            if val.v is not None:
                chosen = (name, val)
                break
        if chosen is None:
            if "**" in kwargs or major < 5:
                return None  # options we cannot see, or the 4.x float32 default
            auto = self._auto(event, project)
            if auto is None:
                return None
            dtype, where, related = auto
            how = f"no dtype argument: transformers {major}.x loads with dtype='auto', and {where}"
            return LoadDtype(dtype, how, related, version_note)
        name, val = chosen
        spelled = _dtype_of(val.v)
        if spelled is None:
            return None
        text = f"{name}={_show(val.v)}"
        expr = val.expr or ""
        if expr and expr != _show(val.v) and not expr.startswith(("torch.", "'", '"')):
            text += f" via {expr}"
        related = [o for o in val.origins if o is not None]
        if val.site is not None and "[" in expr:
            related.append(val.site.with_note(f"{name} set here"))
        if spelled != "auto":
            return LoadDtype(spelled, text, related) if spelled in HALF else None
        auto = self._auto(event, project)
        if auto is None:
            return None
        dtype, where, more = auto
        return LoadDtype(dtype, f"{text}: {where}", related + more)

    def _auto(self, event, project) -> tuple[str, str, list[Location]] | None:
        """What dtype="auto" resolves to: the config's dtype, else the stored tensors' dtype."""
        revision, subfolder = event.kwargs.get("revision"), event.kwargs.get("subfolder")
        facts = project.model(event.ref, event.base_dirs, revision=revision, subfolder=subfolder)
        if facts is None or _remote_code(facts):
            return None
        config_facts = facts
        cfg = event.kwargs.get("config")
        if cfg is not None:
            if not cfg.known or not isinstance(cfg.v, HFConfig):
                return None
            for key in ("dtype", "torch_dtype"):
                given = cfg.v.kwargs.get(key)
                if given is not None:
                    spelled = _dtype_of(given.v) if given.known else None
                    if spelled not in HALF:
                        return None
                    site = [cfg.v.site.with_note(f"config built with {key}={_show(given.v)}")] if cfg.v.site else []
                    return spelled, f"the config= object says {key}={_show(given.v)}", site
            if cfg.v.ref is None:
                config_facts = None  # a config built in code: its dtype is None, the weights decide
            elif not (cfg.v.ref.known and cfg.v.ref.v == event.ref.v):
                config_facts = project.model(cfg.v.ref, cfg.v.base_dirs or event.base_dirs)
                if config_facts is None or _remote_code(config_facts):
                    return None
        if config_facts is not None:
            if config_facts.config is None or not config_facts.config.is_map:
                return None
            where_cfg = _config_where(config_facts, project.display)
            for key in ("dtype", "torch_dtype"):
                node = config_facts.config.get(key)
                if node is None or node.value is None:
                    continue
                spelled = DTYPE_NAMES.get(node.value) if isinstance(node.value, str) else None
                if spelled not in HALF:
                    return None
                return spelled, f'{where_cfg} says "{key}": "{node.value}"', [node.anchor.with_note(f"{key}: {node.value}")]
            no_dtype = f"{where_cfg} has no dtype"
        else:
            no_dtype = "the config= object has no dtype"
        tensors = facts.tensors or {}
        floats = {HEADER_DTYPES[t.dtype] for t in tensors.values() if t.dtype in HEADER_DTYPES}
        if len(floats) != 1:
            return None  # no readable header, or mixed dtypes: which one comes first is not ours to guess
        spelled = floats.pop()
        if spelled not in HALF:
            return None
        first = next(t for t in tensors.values() if HEADER_DTYPES.get(t.dtype) == spelled)
        header = {v: k for k, v in HEADER_DTYPES.items()}[spelled]
        return (spelled, f"{no_dtype}, so the tensors stored as {header} in {project.display(first.file)} decide",
                [Location(first.file, 1, 1, note=f"tensors stored as {header}")])

    # -- what hides the mismatch at run time ---------------------------------------------------
    def _suppressed(self, project, info: "_FileInfo", call) -> bool:
        if info.under_autocast(call):
            return True
        mixed, default_dtype = self._project_markers(project)
        if default_dtype:
            return True
        return call.scope_kind == "class" and mixed

    def _project_markers(self, project) -> tuple[bool, bool]:
        if self._markers is None:
            mixed = default = False
            for source in project.files:
                if source.kind not in ("python", "notebook", "yaml", "json", "shell") or _is_checkpoint_file(source.path):
                    continue
                try:
                    with open(source.path, "rb") as fh:
                        data = fh.read(MARKER_LIMIT)
                except OSError:
                    continue
                mixed = mixed or MIXED_PRECISION.search(data) is not None
                default = default or DEFAULT_DTYPE.search(data) is not None
                if mixed and default:
                    break
            self._markers = (mixed, default)
        return self._markers

    def _info(self, file) -> "_FileInfo":
        info = self._files.get(id(file))
        if info is None:
            info = self._files[id(file)] = _FileInfo(file)
        return info

    # -- the finding ---------------------------------------------------------------------------
    def _finding(self, project, event, info, load: LoadDtype, call, head: Head, backbone: str):
        file = event.file
        at = lambda node: f"{project.display(file.path)}:{file.loc(node).line_ref}"  # noqa: E731
        half = HALF[load.dtype]
        error = RAISING[head.leaf].format(half=half, dtype=load.dtype)
        message = (
            f"`{file.code(call.node, 60)}` feeds the output of `{backbone}` to {head.kind} created in float32 at "
            f"{at(head.node)}, but `{backbone}` is loaded in {load.dtype} at {at(event.node)} ({load.how}): "
            f"the forward raises `{error}`"
        )
        if load.version_note:
            message += f" [{load.version_note}]"
        related = [
            event.site.with_note(f"{backbone} loaded in {load.dtype} here"),
            *load.related,
            file.loc(head.node).with_note(f"{head.kind} created in float32 here"),
        ]
        fix = (f"create {head.key} in the backbone's dtype (`.to({backbone}.dtype)` or dtype=torch.{load.dtype}), "
               f"load the backbone with dtype=torch.float32, cast the features with .float(), or run the forward "
               f"under torch.autocast")
        return self.finding(file.loc(call.node), message, fix=fix, related=related)


# ---------------------------------------------------------------------------------------------
# small helpers

def _role(cls_name: str) -> str:
    from ckpt_lint.flow import role_of

    return role_of(cls_name)


def _dtype_of(v) -> str | None:
    """'bfloat16' / 'float16' / 'float32' / 'auto' for a dtype argument value, None if not known."""
    if isinstance(v, ExternalRef):
        parts = v.qualname.split(".")
        return DTYPE_NAMES.get(parts[1]) if len(parts) == 2 and parts[0] == "torch" else None
    if isinstance(v, str):
        return "auto" if v == "auto" else DTYPE_NAMES.get(v)
    return None


def _show(v) -> str:
    return v.qualname if isinstance(v, ExternalRef) else repr(v)


def _v4_accepts_dtype(project, near: Path) -> bool:
    """`dtype=` exists since transformers 4.56; an older (or unknown) 4.x pin is not trusted with it."""
    pin = project.pins(near).get("transformers")
    if pin is None or not pin.version:
        return False
    try:
        major, minor = (int(x) for x in pin.version.split(".")[:2])
    except ValueError:
        return False
    return (major, minor) >= (4, 56)


def _remote_code(facts) -> bool:
    config = facts.config
    return config is not None and config.is_map and config.get("auto_map") is not None


def _config_where(facts, display) -> str:
    from ckpt_lint.vocab import config_where

    return config_where(facts, display)


def _is_checkpoint_file(path: Path) -> bool:
    name = path.name
    return name in ("config.json", "tokenizer.json", "tokenizer_config.json", "vocab.json",
                    "special_tokens_map.json", "generation_config.json", "adapter_config.json") or \
        name.endswith(".index.json")


# ---------------------------------------------------------------------------------------------
# the syntactic data flow inside one class or function

@dataclass
class _Consumption:
    node: cst.Call
    scope_kind: str  # "class" | "function" | "module"


class _FileInfo:
    """Parents and import aliases of one parsed file."""

    def __init__(self, file):
        self.file = file
        self.parents: dict[int, cst.CSTNode] = {}
        self.aliases: dict[str, str] = {}
        stack: list[cst.CSTNode] = [file.module]
        while stack:
            node = stack.pop()
            for child in node.children:
                self.parents[id(child)] = node
                stack.append(child)
            if isinstance(node, cst.Import):
                for alias in node.names:
                    full = _dotted(alias.name)
                    if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                        self.aliases[alias.asname.name.value] = full
                    elif full:
                        self.aliases.setdefault(full.split(".")[0], full.split(".")[0])
            elif isinstance(node, cst.ImportFrom) and not node.relative:
                module = _dotted(node.module) if node.module is not None else ""
                if isinstance(node.names, cst.ImportStar) or not module:
                    continue
                for alias in node.names:
                    name = _dotted(alias.name)
                    local = alias.asname.name.value if alias.asname is not None and isinstance(alias.asname.name, cst.Name) else name
                    self.aliases[local] = f"{module}.{name}"

    def parent(self, node):
        return self.parents.get(id(node))

    def qualify(self, expr) -> str | None:
        if isinstance(expr, cst.Name):
            return self.aliases.get(expr.value)
        if isinstance(expr, cst.Attribute):
            base = self.qualify(expr.value)
            return f"{base}.{expr.attr.value}" if base else None
        return None

    def code(self, node) -> str:
        return self.file.module.code_for_node(node)

    def enclosing(self, node, kinds):
        current = self.parent(node)
        while current is not None and not isinstance(current, kinds):
            current = self.parent(current)
        return current

    def under_autocast(self, call: _Consumption) -> bool:
        """The call runs under autocast: a `with ...autocast...` around it, an autocast decorator on
        its function, or (for a plain function) a call of that function made under autocast."""
        node = call.node
        current = self.parent(node)
        func = None
        while current is not None:
            if isinstance(current, cst.With) and _autocast_with(self, current):
                return True
            if isinstance(current, (cst.FunctionDef, cst.Lambda)):
                func = func or current
                if isinstance(current, cst.FunctionDef) and any(
                        "autocast" in self.code(d.decorator) for d in current.decorators):
                    return True
            current = self.parent(current)
        if call.scope_kind == "function" and isinstance(func, cst.FunctionDef):
            name = func.name.value
            for other in walk(self.file.module):
                if isinstance(other, cst.Call) and isinstance(other.func, cst.Name) and other.func.value == name:
                    up = self.parent(other)
                    while up is not None:
                        if isinstance(up, cst.With) and _autocast_with(self, up):
                            return True
                        up = self.parent(up)
        return False


def _autocast_with(info: _FileInfo, node: cst.With) -> bool:
    return any(re.search(r"autocast|\bamp\b|precision", info.code(item.item)) for item in node.items)


def _dotted(expr) -> str:
    if isinstance(expr, cst.Name):
        return expr.value
    if isinstance(expr, cst.Attribute):
        base = _dotted(expr.value)
        return f"{base}.{expr.attr.value}" if base else ""
    return ""




def _key(expr) -> str | None:
    """'self.x' or 'x' for the expressions the flow tracks."""
    if isinstance(expr, cst.Name):
        return expr.value
    if (isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name) and expr.value.value == "self"):
        return f"self.{expr.attr.value}"
    return None


def _device_only(info: _FileInfo, call: cst.Call) -> bool:
    """`.to(device)`, `.to("cuda")`: keeps the dtype. Anything that may name a dtype does not."""
    if not call.args:
        return False
    for arg in call.args:
        if arg.keyword is not None:
            if arg.keyword.value in ("non_blocking", "copy", "device"):
                continue
            return False
        if arg.star:
            return False
        value = arg.value
        if isinstance(value, cst.SimpleString):
            continue
        if isinstance(value, cst.Integer):
            continue
        text = info.code(value)
        if "dtype" in text:
            return False
        if isinstance(value, (cst.Name, cst.Attribute)) and ("device" in text.rsplit(".", 1)[-1].lower()
                                                            or text.rsplit(".", 1)[-1] in ("cuda", "cpu", "local_rank", "rank")):
            continue
        if isinstance(value, cst.Call) and (info.qualify(value.func) == "torch.device" or "device" in info.code(value.func)):
            continue
        return False
    return True


def _trace(info: _FileInfo, load_call: cst.Call):
    """(consumption, head, backbone text) when the load's result reaches a float32 module."""
    target = _load_target(info, load_call)
    if target is None:
        return None
    key, assign = target
    func = info.enclosing(assign, (cst.FunctionDef,))
    klass = None
    if func is not None:
        owner = info.parent(info.parent(func))  # FunctionDef -> IndentedBlock -> ClassDef
        if isinstance(owner, cst.ClassDef):
            klass = owner
    local = None
    if key.startswith("self."):
        if klass is None:
            return None
        scope_kind, root = "class", klass
    elif func is not None:
        # `encoder = AutoModel...; self.encoder = encoder` in a method: follow the attribute
        alias = _self_alias(info, func, key) if klass is not None else None
        if alias is not None:
            local, key, scope_kind, root = key, alias, "class", klass
        else:
            scope_kind, root = "function", func
    else:
        scope_kind, root = "module", info.file.module
    if scope_kind == "class" and _is_pretrained_subclass(info, root):
        return None  # its modules are created under the load dtype when it is itself loaded (row k)
    flow = _Flow(info, root, scope_kind, key, local)
    return flow.run()


def _load_target(info: _FileInfo, call: cst.Call):
    """The key the loaded model is assigned to: `x = Auto.from_pretrained(...).to(device)` -> 'x'."""
    node = call
    while True:
        parent = info.parent(node)
        if isinstance(parent, cst.Attribute) and parent.value is node:
            grand = info.parent(parent)
            if not (isinstance(grand, cst.Call) and grand.func is parent):
                return None
            method = parent.attr.value
            if method not in KEEP_METHODS or (method == "to" and not _device_only(info, grand)):
                return None  # cast at load (.float(), .to(torch.float32)) or something we do not follow
            node = grand
            continue
        break
    if isinstance(parent, cst.Assign) and parent.value is node and len(parent.targets) == 1:
        key = _key(parent.targets[0].target)
        return (key, parent) if key else None
    if isinstance(parent, cst.AnnAssign) and parent.value is node:
        key = _key(parent.target)
        return (key, parent) if key else None
    return None


def _self_alias(info: _FileInfo, func: cst.FunctionDef, name: str) -> str | None:
    for node in walk(func, into_defs=False):
        if isinstance(node, cst.Assign) and len(node.targets) == 1 and isinstance(node.value, cst.Name) \
                and node.value.value == name:
            key = _key(node.targets[0].target)
            if key and key.startswith("self."):
                return key
    return None


def _is_pretrained_subclass(info: _FileInfo, klass: cst.ClassDef) -> bool:
    return any(re.search(r"Pre[Tt]rained|PreTrainedModel|ModelMixin", info.code(base.value)) for base in klass.bases)


class _Flow:
    """Heads, casts and consumptions of one backbone inside its class or function."""

    def __init__(self, info: _FileInfo, root, scope_kind: str, backbone: str, local: str | None = None):
        self.info = info
        self.local = local  # the method-local name the backbone was loaded into, if any
        self.root = root
        self.scope_kind = scope_kind
        self.backbone = {backbone}
        self.backbone_text = backbone
        if scope_kind == "class":
            self.bodies = [s for s in root.body.body if isinstance(s, cst.FunctionDef)]
        else:
            self.bodies = [root]
        self.heads: dict[str, Head] = {}
        self.pass_through: set[str] = set()
        self.returns_derived: set[str] = set()

    def nodes(self):
        for body in self.bodies:
            yield from walk(body, into_defs=False)

    def run(self):
        if not self._collect():
            return None
        if not self.heads:
            return None
        if self.scope_kind == "class":
            for _ in range(3):  # methods returning the backbone's output, through each other
                before = set(self.returns_derived)
                for method in self.bodies:
                    if _FlowWalk(self, method).returns_derived():
                        self.returns_derived.add(method.name.value)
                if self.returns_derived == before:
                    break
        for body in self.bodies:
            found = _FlowWalk(self, body).consumption()
            if found is not None:
                call, head = found
                return _Consumption(call, self.scope_kind), head, self.backbone_text
        return None

    def _collect(self) -> bool:
        """Find the float32 heads; False when the backbone is cast or replaced in a way we do not follow."""
        assigned: dict[str, list] = {}
        for node in self.nodes():
            if isinstance(node, cst.Assign):
                for target in node.targets:
                    key = _key(target.target)
                    if key is not None:
                        assigned.setdefault(key, []).append(node.value)
                    elif isinstance(target.target, (cst.Tuple, cst.List)):
                        for el in target.target.elements:
                            k = _key(el.value)
                            if k is not None:
                                assigned.setdefault(k, []).append(None)
            elif isinstance(node, cst.AnnAssign) and node.value is not None:
                key = _key(node.target)
                if key is not None:
                    assigned.setdefault(key, []).append(node.value)
        # the backbone: every (re)assignment must keep its dtype
        for key in list(self.backbone):
            values = assigned.get(key, [])
            for value in values:
                if value is None:
                    return False
                if isinstance(value, cst.Call) and _is_load_chain(value):
                    continue
                if self.local is not None and isinstance(value, cst.Name) and value.value == self.local:
                    continue
                if not self._keeps_backbone(value):
                    return False
        # casts of the backbone (or of the whole class) after loading
        for node in self.nodes():
            if not (isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute)):
                continue
            receiver, method = node.func.value, node.func.attr.value
            key = _key(receiver)
            whole = self.scope_kind == "class" and isinstance(receiver, cst.Name) and receiver.value == "self"
            if key in self.backbone or whole:
                if method in CAST_METHODS or (method == "to" and not _device_only(self.info, node)):
                    return False
        # float32 modules, and pass-through ones (dropout, activations)
        for key, values in assigned.items():
            if key in self.backbone or (self.scope_kind == "class") != key.startswith("self."):
                continue
            made = [self._module(v) if v is not None else None for v in values]
            if all(m is not None and m[0] == "pass" for m in made):
                self.pass_through.add(key)
                continue
            if len(made) != 1 or made[0] is None or made[0][0] != "fp32":
                continue
            _, leaf, node = made[0]
            self.heads[key] = Head(key, f"nn.{leaf}", leaf, node)
        for node in self.nodes():  # heads cast later: self.head.to(dtype), head.half()
            if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
                key = _key(node.func.value)
                method = node.func.attr.value
                if key in self.heads and (method in CAST_METHODS or (method == "to" and not _device_only(self.info, node))):
                    del self.heads[key]
        return True

    def _keeps_backbone(self, value) -> bool:
        """`model = model.to(device)`, `model = get_peft_model(model, cfg)`: still the same dtype."""
        node = value
        while isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and _key(node.func.value) is None:
            method = node.func.attr.value
            if method not in KEEP_METHODS or (method == "to" and not _device_only(self.info, node)):
                return False
            node = node.func.value
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and _key(node.func.value) in self.backbone:
            method = node.func.attr.value
            return method in KEEP_METHODS and (method != "to" or _device_only(self.info, node))
        if isinstance(node, cst.Call):
            leaf = _dotted(node.func).rsplit(".", 1)[-1]
            return leaf in KEEP_WRAPPERS and bool(node.args) and _key(node.args[0].value) in self.backbone
        return False

    def _module(self, value):
        """('fp32', leaf, creation) for a float32 module that raises on half input, ('pass', ...) for a
        dtype-keeping one, None otherwise."""
        node = value
        while isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and \
                node.func.attr.value in ("to", "cuda", "cpu", "half", "float", "bfloat16", "double", "type", "train", "eval", "requires_grad_"):
            method = node.func.attr.value
            if method in CAST_METHODS or (method == "to" and not _device_only(self.info, node)):
                return None
            node = node.func.value
        if not isinstance(node, cst.Call):
            return None
        qual = self.info.qualify(node.func) or ""
        if not qual.startswith("torch.nn.") or qual.count(".") != 2:
            return None
        leaf = qual.rsplit(".", 1)[-1]
        if leaf == "Sequential":
            for arg in node.args:
                if arg.keyword is not None or arg.star:
                    return None
                inner = self._module(arg.value)
                if inner is None:
                    return None
                if inner[0] == "fp32":
                    return inner
            return ("pass", "Sequential", node)
        for arg in node.args:
            if arg.star == "**":
                return None
            if arg.keyword is not None and arg.keyword.value == "dtype":
                if self.info.qualify(arg.value) not in ("torch.float32", "torch.float"):
                    return None
        if leaf in PASS_THROUGH:
            return ("pass", leaf, node)
        if leaf in RAISING:
            return ("fp32", leaf, node)
        return None


def _is_load_chain(value: cst.Call) -> bool:
    node = value
    while isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
        if node.func.attr.value == "from_pretrained":
            return True
        node = node.func.value
    return False


class _FlowWalk:
    """One function body in source order: which names hold the backbone's output at each call."""

    def __init__(self, flow: _Flow, body):
        self.flow = flow
        self.info = flow.info
        self.body = body
        self.env: set[str] = set()
        self.outputs: set[str] = set()  # names holding the backbone's ModelOutput itself

    # public ---------------------------------------------------------------------------------
    def consumption(self):
        self.env, self.outputs = set(), set()
        self._found = None
        self._returns = None
        self._visit(self.body, top=True)
        return self._found

    def returns_derived(self) -> bool:
        self.env, self.outputs = set(), set()
        self._found = None
        self._returns = []
        self._visit(self.body, top=True)
        return bool(self._returns) and all(self._returns)

    # walking ---------------------------------------------------------------------------------
    def _visit(self, node, top: bool = False):
        if self._found is not None:
            return
        if not top and isinstance(node, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            return
        if isinstance(node, cst.Assign):
            self._visit(node.value)
            derived = self._derived(node.value)
            for target in node.targets:
                self._bind(target.target, node.value, derived)
            return
        if isinstance(node, cst.AnnAssign):
            if node.value is not None:
                self._visit(node.value)
                self._bind(node.target, node.value, self._derived(node.value))
            return
        if isinstance(node, cst.AugAssign):
            self._visit(node.value)
            key = _key(node.target)
            if key is not None and not self._derived(node.value):
                self.env.discard(key)
            return
        if isinstance(node, cst.For):
            self._visit(node.iter)
            self._bind(node.target, node.iter, self._derived(node.iter), iterate=True)
            self._visit(node.body)
            if node.orelse is not None:
                self._visit(node.orelse)
            return
        if isinstance(node, cst.Return):
            if node.value is not None:
                self._visit(node.value)
                if self._returns is not None:
                    self._returns.append(self._derived(node.value))
            return
        if isinstance(node, cst.Call):
            for child in node.children:
                self._visit(child)
            self._check_call(node)
            return
        for child in node.children:
            self._visit(child)

    def _bind(self, target, value, derived: bool, iterate: bool = False):
        key = _key(target)
        if key is not None and not key.startswith("self."):
            if derived:
                self.env.add(key)
            else:
                self.env.discard(key)
            if derived and not iterate and self._model_output(value):
                self.outputs.add(key)
            else:
                self.outputs.discard(key)
            return
        if isinstance(target, (cst.Tuple, cst.List)):
            # `seq, pooled = self.bert(..., return_dict=False)`; a ModelOutput unpacks to its keys
            ok = derived and (iterate or not self._model_output(value))
            for el in target.elements:
                self._bind(el.value, None, ok)

    def _model_output(self, value) -> bool:
        """A ModelOutput as the backbone returned it (a dict: unpacking it gives its keys)."""
        if isinstance(value, cst.Name):
            return value.value in self.outputs
        return self._backbone_call(value) and not _kwarg_false(value, "return_dict")

    def _check_call(self, call: cst.Call):
        func = call.func
        if isinstance(func, cst.Attribute) and func.attr.value == "forward":
            func = func.value
        key = _key(func)
        head = self.flow.heads.get(key) if key else None
        if head is None:
            return
        positional = [a for a in call.args if a.keyword is None and not a.star]
        if positional and self._derived(positional[0].value):
            self._found = (call, head)

    # the expressions that carry the backbone's output ---------------------------------------
    def _backbone_call(self, expr) -> bool:
        if not isinstance(expr, cst.Call):
            return False
        func = expr.func
        if isinstance(func, cst.Attribute) and func.attr.value == "forward":
            func = func.value
        return _key(func) in self.flow.backbone

    def _derived(self, expr) -> bool:
        if isinstance(expr, cst.Name):
            return expr.value in self.env
        if isinstance(expr, cst.Call):
            if any(a.keyword is not None and a.keyword.value == "dtype" for a in expr.args):
                return False
            if self._backbone_call(expr):
                return True
            func = expr.func
            positional = [a.value for a in expr.args if a.keyword is None and not a.star]
            key = _key(func)
            if key is not None and key in self.flow.pass_through:
                return bool(positional) and self._derived(positional[0])
            if key is not None and key.startswith("self.") and key[5:] in self.flow.returns_derived:
                return True
            if isinstance(func, cst.Attribute) and self._derived(func.value):
                method = func.attr.value
                if method in SAME_DTYPE_METHODS:
                    return True
                return method == "to" and _device_only(self.info, expr)
            qual = self.info.qualify(func)
            if qual in SAME_DTYPE_FUNCS and positional:
                return self._derived(positional[0])
            if qual in CONCAT_FUNCS and positional:
                first = positional[0]
                if isinstance(first, (cst.List, cst.Tuple)):
                    return bool(first.elements) and all(
                        not isinstance(el, cst.StarredElement) and self._derived(el.value) for el in first.elements)
                return self._derived(first)
            return False
        if isinstance(expr, cst.Attribute):
            if expr.attr.value in NON_TENSOR_ATTRS:
                return False
            return self._derived(expr.value)
        if isinstance(expr, cst.Subscript):
            return self._derived(expr.value)
        if isinstance(expr, cst.BinaryOperation):
            left, right = self._derived(expr.left), self._derived(expr.right)
            if left and right:
                return True
            other = expr.right if left else expr.left if right else None
            return other is not None and isinstance(other, (cst.Integer, cst.Float))
        if isinstance(expr, cst.UnaryOperation):
            return self._derived(expr.expression)
        return False


def _kwarg_false(call, name: str) -> bool:
    if not isinstance(call, cst.Call):
        return False
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == name:
            return isinstance(arg.value, cst.Name) and arg.value.value == "False"
    return False


