"""How the evaluator follows plain PyTorch code around checkpoints: `torch.load`/`load_file` results
(known by their file, never loaded), `state_dict()`/`load_state_dict()`, `torch.save`, DDP/DataParallel
wrappers, `nn.Module` methods of project models, and `pathlib.Path` values."""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .diagnostics import Location
from .values import (
    UNKNOWN,
    Checkpoint,
    HFObject,
    Instance,
    PathStr,
    StateDictOf,
    Val,
    Wrapped,
    known,
)

if TYPE_CHECKING:  # pragma: no cover
    from .evaluate import Frame

CHECKPOINT_LOADERS = {
    "torch.load": "torch.load",
    "safetensors.torch.load_file": "load_file",
    "safetensors.torch.load": None,  # bytes in memory: nothing to read
}
WRAPPERS = {
    "torch.nn.parallel.DistributedDataParallel": "DistributedDataParallel",
    "torch.nn.parallel.distributed.DistributedDataParallel": "DistributedDataParallel",
    "torch.nn.DataParallel": "DataParallel",
    "torch.nn.parallel.DataParallel": "DataParallel",
}
# Calls that hand the same module back (names, shapes and keys unchanged).
IDENTITY_CALLS = {"torch.nn.SyncBatchNorm.convert_sync_batchnorm"}
# nn.Module methods that return the module itself.
MODULE_SELF_METHODS = {"to", "cuda", "cpu", "float", "double", "half", "bfloat16", "train", "eval",
                       "requires_grad_", "apply", "zero_grad", "share_memory", "type", "to_empty"}
PATH_ATTRS = {"parent", "name", "stem", "suffix"}


@dataclass
class StateDictLoad:
    """`target.load_state_dict(source, strict=...)` reached by the evaluator."""

    target: Val  # the model (HFObject, project Instance, Wrapped)
    source: Val  # usually a Checkpoint or StateDictOf
    strict: Val
    site: Location
    call_text: str
    file: Any
    node: Any
    scenario: Any
    certain: bool


@dataclass
class StateDictSave:
    """`torch.save(obj, path)`: what was saved where, so a later `torch.load(path)` knows it."""

    obj: Val
    path: Val
    site: Location
    base_dirs: tuple
    certain: bool


class TorchCalls:
    """Mixed into the Evaluator."""

    def torch_external(self, q: str, args, kwargs, frame: Frame, *, node) -> Val | None:
        """torch/safetensors/pathlib calls; None when `q` is none of them."""
        if q in CHECKPOINT_LOADERS:
            how = CHECKPOINT_LOADERS[q]
            path = args[0] if args else kwargs.get("f", kwargs.get("filename", UNKNOWN))
            if how is None:
                return UNKNOWN
            path = self.plain(path)
            site = frame.file.lazy_loc(node) if node is not None else None
            return known(Checkpoint(path, how, site, self.base_dirs(frame), expr=frame.file.code(node) if node is not None else q))
        if q == "torch.save" and len(args) + len(kwargs) >= 2:
            obj = args[0] if args else kwargs.get("obj", UNKNOWN)
            path = args[1] if len(args) > 1 else kwargs.get("f", UNKNOWN)
            site = frame.file.lazy_loc(node) if node is not None else Location(frame.file.path)
            self.project.state_dict_saves.append(
                StateDictSave(obj, self.plain(path), site, self.base_dirs(frame), self.uncertain == 0))
            return known(None)
        if q in WRAPPERS and args:
            site = frame.file.lazy_loc(node) if node is not None else None
            return known(Wrapped(args[0], WRAPPERS[q], site), (), frame.file.code(node) if node is not None else q)
        if q in IDENTITY_CALLS and args:
            return args[0]
        if q in ("pathlib.Path", "pathlib.PurePath", "pathlib.PosixPath"):
            joined = self.call_ospath("join", args, frame) if args else known(".")
            if joined.known and isinstance(joined.v, str):
                return known(PathStr(joined.v), joined.origins)
            return UNKNOWN
        if q in ("os.path.isfile", "os.path.exists", "os.path.isdir") and args:
            return self._exists(args[0], frame, q.rsplit(".", 1)[-1])
        return None

    def _exists(self, path_val: Val, frame: Frame, how: str) -> Val:
        """True when the path names a file of the linted project; unknown otherwise (data, outputs and
        downloads usually live outside the repository, so absence proves nothing)."""
        path = self.plain(path_val)
        if not (path.known and isinstance(path.v, str)):
            return UNKNOWN
        found = self.project.find_file(path.v, self.base_dirs(frame))
        if found is None:
            return UNKNOWN
        if how == "isfile" and not found.is_file() or how == "isdir" and not found.is_dir():
            return UNKNOWN
        return known(True, path.origins)

    # -- attributes and methods of the values above ---------------------------------------------
    def torch_getattr(self, base: Val, name: str, frame: Frame) -> Val | None:
        v = base.v
        if isinstance(v, PathStr):
            if name in PATH_ATTRS:
                p = str(v)
                value = {"parent": lambda: posixpath.dirname(p.rstrip("/")) or ".",
                         "name": lambda: posixpath.basename(p),
                         "stem": lambda: os.path.splitext(posixpath.basename(p))[0],
                         "suffix": lambda: os.path.splitext(p)[1]}[name]()
                return known(PathStr(value) if name == "parent" else value, base.origins)
            return None
        if isinstance(v, Wrapped):
            if name == "module":
                return v.inner
            return None
        return None

    def torch_method(self, target: Val, name: str, args, kwargs, frame: Frame, *, node) -> Val | None:
        """Methods of checkpoints, paths, wrapped and project models; None when not ours."""
        v = target.v
        if isinstance(v, PathStr):
            if name in ("joinpath",):
                return self.torch_binop_path(target, args)
            if name in ("resolve", "absolute", "expanduser"):
                return target
            if name in ("exists", "is_file", "is_dir"):
                return self._exists(target, frame, {"exists": "exists", "is_file": "isfile", "is_dir": "isdir"}[name])
            if name in ("read_text",):
                text = self.read_file_text(target, frame)
                return text if text is not None else UNKNOWN
            return UNKNOWN
        if isinstance(v, Checkpoint):
            if name == "items":
                return known(v.derive(items=True))
            if name in ("keys", "values", "copy"):
                return known(v.derive()) if name == "copy" else UNKNOWN
            if name == "get" and args:
                key = self.plain(args[0])
                if key.known and isinstance(key.v, str):
                    return known(v.derive(keys=v.keys + (key.v,), optional_keys=v.optional_keys + (key.v,)))
            if name in ("pop", "update", "__setitem__"):
                return UNKNOWN
            return UNKNOWN
        if isinstance(v, (Wrapped, Instance, HFObject)):
            if name == "state_dict":
                return known(StateDictOf(target, frame.file.lazy_loc(node) if node is not None else None))
            if name == "load_state_dict":
                source = args[0] if args else kwargs.get("state_dict", UNKNOWN)
                strict = args[1] if len(args) > 1 else kwargs.get("strict", known(True))
                site = frame.file.lazy_loc(node) if node is not None else Location(frame.file.path)
                self.project.state_dict_loads.append(StateDictLoad(
                    target, source, self.plain(strict), site,
                    frame.file.code(node, 120) if node is not None else "load_state_dict(...)",
                    frame.file, node, self.scenario, self.uncertain == 0))
                return UNKNOWN
            if isinstance(v, (Wrapped, Instance)) and name in MODULE_SELF_METHODS:
                return target
        return None

    def torch_binop_path(self, left: Val, parts: list[Val]) -> Val:
        vals = [self.plain(p) for p in parts]
        if not all(p.known and isinstance(p.v, str) for p in vals):
            return UNKNOWN
        joined = posixpath.join(str(left.v), *[str(p.v) for p in vals])
        origins = tuple(dict.fromkeys([*left.origins, *(o for p in vals for o in p.origins)]))
        return known(PathStr(joined), origins)

    def checkpoint_item(self, base: Val, key: Val) -> Val | None:
        """checkpoint["state_dict"]: the nested container, still known by its file."""
        if isinstance(base.v, Checkpoint):
            if key.known and isinstance(key.v, str):
                return known(base.v.derive(keys=base.v.keys + (key.v,)))
            return UNKNOWN
        return None

    def checkpoint_comprehension(self, node, iterable: Val, frame: Frame) -> Val | None:
        """`{k: v for k, v in ckpt.items() if ...}`: the same tensors (maybe fewer); a key expression
        other than the loop's own name may rename them."""
        import libcst as cst

        ck = iterable.v
        if not (isinstance(ck, Checkpoint) and ck.items and isinstance(node, cst.DictComp)):
            return None
        target = node.for_in.target
        names = [e.value.value for e in target.elements if isinstance(e.value, cst.Name)] \
            if isinstance(target, cst.Tuple) else []
        plain_key = bool(names) and isinstance(node.key, cst.Name) and node.key.value == names[0]
        return known(ck.derive(items=False, filtered=ck.filtered or bool(node.for_in.ifs),
                               rekeyed=ck.rekeyed or not plain_key))
