"""How the evaluator follows library calls: os.path, json/yaml/OmegaConf files, argparse and
HfArgumentParser, Hydra's @hydra.main, and transformers' from_pretrained (recorded as LoadEvents)."""

from __future__ import annotations

import os
import posixpath
from pathlib import Path
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any


from .diagnostics import Location
from .values import (
    UNKNOWN,
    UNKNOWN_DATA,
    ArgNamespace,
    ArgParser,
    ArgSpec,
    Builtin,
    ClassRef,
    ExternalRef,
    FileHandle,
    FuncRef,
    HFConfig,
    HFObject,
    Instance,
    Positioned,
    Val,
    fork_value,
    known,
    merge_origins,
)
from .evaluate_models import PEFT_CONFIGS
from .flow import role_of

if TYPE_CHECKING:  # pragma: no cover
    from .evaluate import Frame

# Names that mean "a config class" / "a model or tokenizer class" in transformers-like libraries.
HF_MODULE_PREFIXES = ("transformers", "peft", "sentence_transformers", "modelscope")


def is_hf_external(ref: ExternalRef) -> bool:
    return ref.qualname.split(".")[0] in HF_MODULE_PREFIXES


@dataclass
class LoadEvent:
    """A `Something.from_pretrained(...)` the evaluator reached, with its evaluated arguments."""

    method: str  # "from_pretrained"
    cls_name: str  # the class as written (project subclass or library class)
    hf_bases: tuple[str, ...]  # library classes it is or derives from
    ref: Val
    args: list[Val]
    kwargs: dict[str, Val]  # in call order
    site: Location
    call_text: str
    file: Any
    node: Any
    scenario: Any
    base_dirs: tuple[Path, ...]
    config: HFConfig | None = None
    project_class: ClassRef | None = None
    certain: bool = True  # False under an `if` on an unknown test, in an except handler, an unknown loop




class LibraryCalls:
    """Mixed into the Evaluator."""

    def call_external(self, ref: ExternalRef, args, kwargs, frame: Frame, *, node) -> Val:
        q = ref.qualname
        leaf = ref.leaf
        handled = self.torch_external(q, args, kwargs, frame, node=node)
        if handled is not None:
            return handled
        if leaf in ("from_pretrained", "from_config") and "." in q:
            cls = ExternalRef(q.rsplit(".", 1)[0])
            return self.hf_load(known(cls), leaf, args, kwargs, frame, node=node)
        if q in ("os.path.join", "posixpath.join", "os.path.normpath", "os.path.abspath", "os.path.dirname",
                 "os.path.basename", "os.path.expanduser", "os.path.realpath"):
            return self.call_ospath(q.rsplit(".", 1)[-1], args, frame)
        if q in ("os.getcwd", "pathlib.Path.cwd"):
            return known(str(self.scenario.cwd), (), "os.getcwd()")
        if q in ("pathlib.Path", "pathlib.PurePath"):
            return self.call_ospath("join", args, frame) if args else UNKNOWN
        if q in ("hydra.utils.get_original_cwd",):
            return known(str(self.scenario.cwd), (), "hydra.utils.get_original_cwd()")
        if q in ("hydra.utils.to_absolute_path",) and args:
            return self.call_ospath("join", [known(str(self.scenario.cwd)), args[0]], frame)
        if q in ("json.load", "yaml.safe_load", "yaml.load", "yaml.full_load", "yaml.unsafe_load") and args:
            return self.load_data_file(args[0], frame, kind="json" if q.startswith("json") else "yaml")
        if q in ("omegaconf.OmegaConf.load",) and args:
            val = self.load_data_file(known(FileHandle(args[0])), frame, kind="yaml")
            if isinstance(val.v, Positioned):
                val.v.attr_access = True
            return val
        if q in ("omegaconf.OmegaConf.create",) and args:
            return args[0]
        if q in ("omegaconf.OmegaConf.to_container", "omegaconf.OmegaConf.to_object") and args:
            return self.plain(args[0])
        if q in ("argparse.ArgumentParser",) or (leaf == "HfArgumentParser"):
            parser = ArgParser()
            if leaf == "HfArgumentParser" and args:
                classes = self.iterate(args[0], frame) if isinstance(args[0].v, (list, tuple)) else [args[0]]
                parser.dataclasses = [c.v for c in classes or []]  # library ones (TrainingArguments) stay unknown
            return known(parser)
        if q == "copy.deepcopy" and args:
            return fork_value(args[0])
        if q.split(".")[0] in ("peft", "transformers"):
            handled = self.peft_call(leaf, args, kwargs, frame, node=node)
            if handled is not None:
                return handled
        cls = ref
        if is_hf_external(cls) and _is_config_class(leaf):
            kwargs = {k: self.plain(v) for k, v in kwargs.items()}
            cfg = HFConfig(leaf, None, dict(kwargs), {}, frame.file.lazy_loc(node) if node is not None else None,
                           frame.file, self.base_dirs(frame), node)
            self.project.record_config(cfg)
            return known(cfg)
        return UNKNOWN

    def call_ospath(self, fn: str, args: list[Val], frame: Frame) -> Val:
        vals = [self.plain(a) for a in args]
        if not all(v.known and isinstance(v.v, str) for v in vals) or not vals:
            return Val(UNKNOWN_DATA, merge_origins(*vals))
        parts = [v.v for v in vals]
        origins = merge_origins(*vals)
        if fn == "join":
            return known(posixpath.join(*parts) if "\\" not in "".join(parts) else os.path.join(*parts), origins)
        p = parts[0]
        if fn == "dirname":
            return known(os.path.dirname(p), origins)
        if fn == "basename":
            return known(os.path.basename(p), origins)
        if fn in ("abspath", "realpath"):
            return known(p if os.path.isabs(p) else os.path.join(str(self.scenario.cwd), p), origins)
        if fn == "normpath":
            return known(os.path.normpath(p), origins)
        if fn == "expanduser":
            return known(p, origins) if not p.startswith("~") else Val(UNKNOWN_DATA, origins)
        return UNKNOWN

    def read_file_text(self, path_val: Val, frame: Frame | None) -> Val | None:
        path = self.plain(path_val)
        if not path.known or not isinstance(path.v, str):
            return None
        found = self.project.find_file(path.v, self.base_dirs(frame) if frame else (self.scenario.cwd,))
        if found is None:
            return None
        text = self.project.text(found)
        if text is None:
            return None
        lines = text.count("\n") + (0 if text.endswith("\n") or not text else 1)
        origin = Location(found, 1, 1, note=f"{self.project.display(found)} ({lines} lines)")
        return known(text, (origin,))

    def load_data_file(self, handle: Val, frame: Frame, *, kind: str) -> Val:
        if isinstance(handle.v, FileHandle):
            path_val = self.plain(handle.v.path)
        else:
            path_val = self.plain(handle)
        if not path_val.known or not isinstance(path_val.v, str):
            return UNKNOWN
        found = self.project.find_file(path_val.v, self.base_dirs(frame))
        if found is None:
            return UNKNOWN
        node = self.project.data(found, kind)
        if node is None:
            return UNKNOWN
        return known(Positioned(node, self.project.display(found), chosen_by=path_val.origins),
                     (node.loc.with_note(self.project.display(found)),))

    def base_dirs(self, frame: Frame | None) -> tuple[Path, ...]:
        dirs = [self.scenario.cwd]
        if frame is not None:
            dirs.append(frame.file.path.parent)
        dirs.append(self.project.root)
        out: list[Path] = []
        for d in dirs:
            if d not in out:
                out.append(d)
        return tuple(out)

    # -- argparse / HfArgumentParser -----------------------------------------------------------
    def call_parser(self, target: Val, name: str, args, kwargs, frame: Frame) -> Val:
        parser: ArgParser = target.v
        if name == "add_argument":
            self._add_argument(parser, args, kwargs, frame)
            return UNKNOWN
        if name in ("add_argument_group", "add_mutually_exclusive_group"):
            return target
        if name == "set_defaults":
            for spec in parser.specs:
                if spec.dest in kwargs:
                    spec.default = kwargs[spec.dest]
            return known(None)
        if name in ("parse_args", "parse_known_args"):
            ns = self._parse(parser, frame)
            return known((ns.v, []), ns.origins) if name == "parse_known_args" else ns
        if name in ("parse_args_into_dataclasses", "parse_yaml_file", "parse_json_file", "parse_dict"):
            return self._parse_dataclasses(parser, name, args, kwargs, frame)
        return UNKNOWN

    def _add_argument(self, parser: ArgParser, args, kwargs, frame: Frame) -> None:
        flags = tuple(a.v for a in args if a.known and isinstance(a.v, str))
        if not flags:
            return
        dest_val = kwargs.get("dest")
        if dest_val is not None and dest_val.known:
            dest = dest_val.v
        else:
            longs = [f for f in flags if f.startswith("--")]
            dest = (longs[0] if longs else flags[0]).lstrip("-").replace("-", "_")
        action = self.plain(kwargs["action"]).v if "action" in kwargs else None
        if "default" in kwargs:
            default = kwargs["default"]
        elif action == "store_true":
            default = known(False)
        elif action == "store_false":
            default = known(True)
        else:
            default = known(None)
        type_val = kwargs.get("type")
        type_name = None
        if type_val is not None:
            tv = type_val.v
            type_name = tv.name if isinstance(tv, Builtin) else (tv.leaf if isinstance(tv, ExternalRef) else "custom")
        parser.specs.append(ArgSpec(
            dest, flags, default, action if isinstance(action, str) else None, type_name,
            self.plain(kwargs["nargs"]).v if "nargs" in kwargs else None,
            kwargs.get("const"), default.site,
        ))

    def _parse(self, parser: ArgParser, frame: Frame) -> Val:
        overrides = self.scenario.flag_values(parser.specs)
        fields: dict[str, Val] = {}
        for spec in parser.specs:
            fields[spec.dest] = overrides.get(spec.dest, spec.default)
        return known(ArgNamespace(fields))

    def _parse_dataclasses(self, parser: ArgParser, name: str, args, kwargs, frame: Frame) -> Val:
        source: Val | None = None
        if name in ("parse_yaml_file", "parse_json_file"):
            path = args[0] if args else kwargs.get("yaml_file", kwargs.get("json_file", UNKNOWN))
            source = self.load_data_file(path, frame, kind="yaml" if "yaml" in name else "json")
        elif name == "parse_dict" and args:
            source = args[0]
        instances = []
        for cls in parser.dataclasses:
            if not isinstance(cls, ClassRef):
                instances.append(UNKNOWN)
                continue
            fields = cls.attrs.get("__fields__")
            types = cls.attrs.get("__field_types__")
            specs = []
            for fname, default in (fields.v.items() if fields is not None else []):
                ann = types.v.get(fname, "") if types is not None else ""
                specs.append(ArgSpec(fname, (f"--{fname}",), default,
                                     "bool" if ann.startswith("bool") else None,
                                     ann.split("[")[0] if ann else None))
            overrides = self.scenario.flag_values(specs, hf_style=True) if name == "parse_args_into_dataclasses" else {}
            inst = Instance(cls, {})
            for spec in specs:
                value = overrides.get(spec.dest, spec.default)
                if source is not None:
                    if isinstance(source.v, Positioned):
                        child = self.child(source, spec.dest, frame, attr=False)
                        value = child if child.known else (UNKNOWN if source.v.node.get(spec.dest) is not None else spec.default)
                    elif isinstance(self.plain(source).v, dict):
                        data = self.plain(source).v
                        value = known(data[spec.dest], source.origins) if spec.dest in data else spec.default
                    else:
                        value = UNKNOWN
                inst.attrs[spec.dest] = value
            instances.append(known(inst))
        return known(tuple(i.v for i in instances))

    # -- Hydra -------------------------------------------------------------------------------
    def call_hydra_main(self, func: FuncRef, frame: Frame) -> Val:
        info = func.hydra or {}
        file = info.get("__file__") or func.file
        config_path = self.plain(info.get("config_path", known(None)))
        config_name = self.plain(info.get("config_name", known(None)))
        if not (config_name.known and isinstance(config_name.v, str)):
            cfg = UNKNOWN
        else:
            rel = config_path.v if config_path.known and isinstance(config_path.v, str) else ""
            config_dir = (file.path.parent / rel) if rel else file.path.parent
            composed = self.project.hydra_compose(config_dir, config_name.v, self.scenario)
            if composed is None or composed.root is None:
                cfg = UNKNOWN
            else:
                what = f"Hydra config {self.project.display(config_dir / config_name.v)}"
                cfg = known(Positioned(composed.root, what, composed, True))
        return self.call_function(func, [cfg], {}, frame)

    # -- transformers ------------------------------------------------------------------------
    def hf_load(self, cls_val: Val, method: str, args, kwargs, frame: Frame, *, node) -> Val:
        cls = cls_val.v
        args = [self.plain(a) for a in args]
        kwargs = {k: self.plain(v) for k, v in kwargs.items()}
        if isinstance(cls, ClassRef):
            hf_bases = tuple(e.leaf for e in cls.external_bases() if is_hf_external(e) or e.leaf.endswith(("Model", "Config")) or "For" in e.leaf)
            cls_name = cls.name
            project_class = cls
        else:
            if not is_hf_external(cls) and not _looks_hf(cls.leaf):
                return UNKNOWN
            hf_bases = (cls.leaf,)
            cls_name = cls.leaf
            project_class = None
        if not hf_bases:
            return UNKNOWN
        if hf_bases[0].startswith(("Peft", "AutoPeft")) or hf_bases[0] in PEFT_CONFIGS:
            if method != "from_pretrained":
                return UNKNOWN
            return self.peft_from_pretrained(hf_bases[0], args, kwargs, frame, node=node)
        site = frame.file.lazy_loc(node) if node is not None else Location(frame.file.path)
        ref = args[0] if args else kwargs.get("pretrained_model_name_or_path", kwargs.get("model_name_or_path", UNKNOWN))
        if method == "from_config":
            ref = UNKNOWN
        config_val = kwargs.get("config")
        if config_val is None and method == "from_config" and args:
            config_val = args[0]
        config = config_val.v if config_val is not None and isinstance(config_val.v, HFConfig) else None
        if any(_is_config_class(b) for b in hf_bases):
            cfg = HFConfig(cls_name, ref, dict(kwargs), {}, site, frame.file, self.base_dirs(frame), node)
            cfg.certain = self.uncertain == 0
            self.project.record_config(cfg)
            return known(cfg)
        event = LoadEvent(method, cls_name, hf_bases, ref, list(args), dict(kwargs), site,
                          frame.file.code(node, 120) if node is not None else cls_name, frame.file, node,
                          self.scenario, self.base_dirs(frame), config, project_class, self.uncertain == 0)
        self.project.record_load(event)
        role = role_of(hf_bases[0]) if role_of(cls_name) == "model" else role_of(cls_name)
        return known(HFObject(cls_name, event, role), (), frame.file.code(node) if node is not None else cls_name, site)


def _is_config_class(name: str) -> bool:
    from .evaluate_models import QUANT_CONFIGS

    return name.endswith("Config") and not name.endswith("QuantizationConfig") and name not in (
        "GenerationConfig", "TrainingArguments", *PEFT_CONFIGS, *QUANT_CONFIGS)


def _looks_hf(name: str) -> bool:
    return name.startswith("Auto") or "For" in name or name.endswith(("Model", "Config", "Tokenizer", "TokenizerFast"))
