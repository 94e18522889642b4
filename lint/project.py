"""The project model the rules read: files, launch scenarios, load events and resolved model facts.

`Project.analyze()` reads launch scripts, runs every Python file that can matter through the
static evaluator once per way it is launched (its argparse defaults, and each shell invocation),
and collects the `LoadEvent`s. Files are read lazily and once; a file that cannot be read becomes
a `ReadProblem` (CKL001) and the run goes on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from .diagnostics import Location, ReadProblem
from .discover import SourceFile
from .values import UNKNOWN, ArgSpec, Val, known


@dataclass
class Scenario:
    """One way a script runs: its own defaults, or an invocation in a launch script."""

    entry: Path
    cwd: Path
    argv: list = field(default_factory=list)  # shell.ShellArg tokens after the script
    origin: Location | None = None  # the shell command line
    shell: Path | None = None

    def flag_values(self, specs: list[ArgSpec], *, hf_style: bool = False) -> dict[str, Val]:
        by_flag: dict[str, ArgSpec] = {}
        for spec in specs:
            for flag in spec.flags:
                by_flag[flag] = spec
                if hf_style and flag.startswith("--"):
                    by_flag[flag.replace("_", "-")] = spec
        positionals = [s for s in specs if s.flags and not s.flags[0].startswith("-")]
        out: dict[str, Val] = {}
        tokens = self.argv
        i = 0
        while i < len(tokens):
            tok = tokens[i]
            text = tok.text
            if text is None or not text.startswith("-"):
                if text is not None and positionals and "=" not in text:
                    spec = positionals.pop(0)
                    out[spec.dest] = self._value(spec, text, tok, spec.dest)
                i += 1
                continue
            name, eq, raw = text.partition("=")
            spec = by_flag.get(name)
            if spec is None:
                i += 1
                continue
            if eq:
                out[spec.dest] = self._value(spec, raw, tok, name)
                i += 1
                continue
            action = spec.action
            if action in ("store_true", "store_false", "store_const", "count"):
                value = {"store_true": True, "store_false": False}.get(action)
                val = known(value, (self._loc(tok, name),), name) if action in ("store_true", "store_false") else UNKNOWN
                out[spec.dest] = val
                i += 1
                continue
            nxt = tokens[i + 1] if i + 1 < len(tokens) else None
            if action == "bool":  # HfArgumentParser bool field: bare flag means True
                if nxt is not None and nxt.text is not None and nxt.text.lower() in ("true", "false", "1", "0", "yes", "no"):
                    out[spec.dest] = known(nxt.text.lower() in ("true", "1", "yes"), (self._loc(nxt, name),), f"{name} {nxt.text}")
                    i += 2
                else:
                    out[spec.dest] = known(True, (self._loc(tok, name),), name)
                    i += 1
                continue
            if spec.nargs in ("+", "*") or (isinstance(spec.nargs, int) and spec.nargs > 1):
                values, j = [], i + 1
                while j < len(tokens) and not (tokens[j].text or "").startswith("-"):
                    values.append(tokens[j])
                    j += 1
                if all(v.text is not None for v in values):
                    out[spec.dest] = known([self._convert(spec, v.text) for v in values], (self._loc(tok, name),), name)
                else:
                    out[spec.dest] = Val(UNKNOWN.v, (self._loc(tok, name),))
                i = j
                continue
            if nxt is None:
                i += 1
                continue
            out[spec.dest] = self._value(spec, nxt.text, nxt, name)
            i += 2
        return out

    def _loc(self, tok, flag: str, text: str | None = None) -> Location:
        where = os.path.basename(str(self.shell)) if self.shell else "the command line"
        raw = tok.raw if flag in tok.raw else flag + ' ' + tok.raw
        if text is not None and "$" in tok.raw:  # `--vision-model=${vision_model}`: say what it expands to
            raw += f" (= {text})"
        return tok.loc.with_note(f"{raw} in {where}")

    def _value(self, spec: ArgSpec, text: str | None, tok, flag: str) -> Val:
        origin = (self._loc(tok, flag, text),)
        if text is None:
            return Val(UNKNOWN.v, origin)
        try:
            return known(self._convert(spec, text), origin, f"{flag} {text}")
        except ValueError:
            return Val(UNKNOWN.v, origin)

    @staticmethod
    def _convert(spec: ArgSpec, text: str):
        t = spec.type_name
        if t == "int":
            return int(text)
        if t == "float":
            return float(text)
        if spec.action == "bool" or t == "bool":
            return text.lower() in ("true", "1", "yes")
        return text

    def hydra_overrides(self) -> tuple[list[str], dict[str, Location]]:
        overrides, locs = [], {}
        for tok in self.argv:
            text = tok.text
            if text and "=" in text and not text.startswith("-"):
                overrides.append(text)
                locs[text.lstrip("+~").split("=", 1)[0]] = tok.loc.with_note(f"{text} on the command line")
        return overrides, locs


@dataclass(frozen=True)
class ModelReference:
    """A place where the scanned code (or a YAML/adapter file) names a model."""

    ref: Val  # the reference value (a hub id or a path), with its origins
    base_dirs: tuple[Path, ...]  # where a relative path is looked up
    revision: str | None
    subfolder: str | None
    site: Any  # Location of the call or YAML key that names it
    what: str = "load"  # "load" | "config" | "adapter" | "adapter-base" | "yaml"


class Project:
    def __init__(self, root: Path, files: list[SourceFile], *, resolver=None, display_base: Path | None = None):
        self.root = root
        self.files = files
        self.display_base = display_base or Path.cwd()
        self.problems: list[ReadProblem] = []
        self._problem_keys: set[tuple] = set()
        self.events: list[Any] = []
        self.configs: list[Any] = []
        self.warnings: list[str] = []  # our own failures, shown on stderr; never fatal
        self._module_scopes: dict = {}
        self.method_calls: list[Any] = []
        self._py: dict[Path, Any] = {}
        self._text: dict[Path, str | None] = {}
        self._data: dict[tuple[Path, str], Any] = {}
        self._resolver = resolver
        self._pins: dict[Path, dict] = {}
        # (ref Val, base_dirs, site, revision Val|None, subfolder Val|None, what): adapters, YAML
        self.extra_references: list[tuple] = []
        self.adapter_loads: list[Any] = []  # flow.AdapterLoad, in the order reached
        self.peft_wraps: list[Any] = []  # flow.PeftWrap
        self.state_dict_loads: list[Any] = []  # evaluate_torch.StateDictLoad: model.load_state_dict(...)
        self.state_dict_saves: list[Any] = []  # evaluate_torch.StateDictSave: torch.save(obj, path)
        self.resizes: list[tuple] = []  # (HFObject, flow.Step) for every resize_token_embeddings call
        self.adapter_memo: dict[int, Any] = {}  # id(AdapterLoad) -> adapters.ResolvedLoad (rules share it)

    # -- small services for the evaluator ---------------------------------------------------
    def display(self, path: Path) -> str:
        try:
            return os.path.relpath(path, self.display_base)
        except ValueError:
            return str(path)

    def problem(self, path: Path, reason: str, line: int | None = None, column: int | None = None) -> None:
        key = (path, reason, line, column)
        if key not in self._problem_keys:
            self._problem_keys.add(key)
            self.problems.append(ReadProblem(path, reason, line, column))

    def text(self, path: Path, *, python: bool = False) -> str | None:
        if path not in self._text:
            from .textio import ReadError, read_text

            try:
                self._text[path] = read_text(path, python=python)
            except ReadError as exc:
                self._text[path] = None
                self.problem(path, exc.reason, exc.line, exc.column)
        return self._text[path]

    def python(self, path: Path):
        if path not in self._py:
            self._py[path] = None
            text = self.text(path, python=True)
            if text is not None:
                from .sources.python import PySyntaxError, parse_python

                try:
                    self._py[path] = parse_python(path, text)
                except PySyntaxError as exc:
                    self.problem(path, exc.reason, exc.line, exc.column)
        return self._py[path]

    def data(self, path: Path, kind: str):
        """A YAML or JSON file as a positioned Node (None if unreadable: a CKL001 is recorded)."""
        key = (path, kind)
        if key not in self._data:
            self._data[key] = None
            text = self.text(path)
            if text is not None:
                from .textio import ReadError

                try:
                    if kind == "json" or (kind != "yaml" and path.suffix.lower() == ".json"):
                        from .sources.json_reader import load_json

                        self._data[key] = load_json(path, text)
                    else:
                        from .sources.yaml_reader import load_yaml

                        self._data[key] = load_yaml(path, text)
                except ReadError as exc:
                    what = "JSON" if kind == "json" else "YAML"
                    known_prefix = exc.reason.lower().startswith(("invalid", "binary")) or what in exc.reason
                    reason = exc.reason if known_prefix else f"invalid {what}: {exc.reason}"
                    self.problem(path, reason, exc.line, exc.column)
        return self._data[key]

    def find_file(self, name: str, bases: Iterable[Path]) -> Path | None:
        candidate = Path(os.path.expanduser(name))
        if candidate.is_absolute():
            return candidate if candidate.is_file() else None
        for base in bases:
            path = (base / candidate)
            if path.is_file():
                return Path(os.path.normpath(path))
        return None

    def resolve_module(self, name: str, from_file: Path, level: int) -> Path | None:
        parts = [p for p in name.split(".") if p]
        if level:
            base = from_file.parent
            for _ in range(level - 1):
                base = base.parent
            return self._module_at(base, parts)
        for base in self._import_roots(from_file):
            found = self._module_at(base, parts)
            if found is not None:
                return found
        return None

    def _import_roots(self, from_file: Path) -> list[Path]:
        roots = [from_file.parent]
        for extra in (self.root, self.root / "src"):
            if extra not in roots:
                roots.append(extra)
        folder = from_file.parent
        while folder != self.root and self.root in folder.parents:  # the top of a package tree
            folder = folder.parent
            if folder not in roots:
                roots.append(folder)
        return roots

    @staticmethod
    def _module_at(base: Path, parts: list[str]) -> Path | None:
        if not parts:
            init = base / "__init__.py"
            return init if init.is_file() else None
        target = base.joinpath(*parts)
        if target.with_suffix(".py").is_file():
            return target.with_suffix(".py")
        if (target / "__init__.py").is_file():
            return target / "__init__.py"
        return None

    def submodule(self, package_path: Path, name: str) -> Path | None:
        if package_path.name != "__init__.py":
            return None
        return self._module_at(package_path.parent, [name])

    def hydra_compose(self, config_dir: Path, config_name: str, scenario: Scenario):
        from .sources.hydra import compose

        overrides, locs = scenario.hydra_overrides()
        pin = self.pins(config_dir).get("hydra-core")
        version = None
        if pin is not None and pin.version:
            try:
                major, minor = (int(x) for x in pin.version.split(".")[:2])
                version = (major, minor)
            except ValueError:
                version = None
        try:
            composed = compose(config_dir, config_name, hydra_version=version, overrides=overrides,
                               override_locs=locs)
        except Exception as exc:  # never let one config take the run down
            self.problem(config_dir / config_name, f"could not compose Hydra config: {exc}")
            return None
        for problem in composed.problems:
            self.problem(problem.path, problem.reason, problem.line, problem.column)
        return composed

    def module_scopes(self, scenario: Scenario) -> dict:
        key = id(scenario) if scenario.shell is not None else None
        return self._module_scopes.setdefault(key, {})

    def record_load(self, event) -> None:
        self.events.append(event)

    def record_config(self, cfg) -> None:
        self.configs.append(cfg)

    def record_method(self, evaluator, obj, name, args, kwargs, frame, node) -> None:
        self.method_calls.append((obj, name, args, kwargs, frame.file, node, evaluator.scenario))

    # -- model facts and versions -----------------------------------------------------------
    @property
    def resolver(self):
        if self._resolver is None:
            from .models.resolver import ModelResolver

            self._resolver = ModelResolver()
        return self._resolver

    def model(self, ref: Val, base_dirs: Iterable[Path], *, revision: Val | None = None, subfolder: Val | None = None):
        """Resolve a model reference value to ModelFacts, or None when it is not known."""
        if ref is None or not ref.known or not isinstance(ref.v, str) or not ref.v.strip():
            return None
        rev = revision.v if revision is not None and revision.known and isinstance(revision.v, str) else None
        sub = subfolder.v if subfolder is not None and subfolder.known and isinstance(subfolder.v, str) else None
        facts = self.resolver.resolve(ref.v, base_dirs=list(base_dirs), revision=rev, subfolder=sub)
        if facts is not None:
            for problem in facts.problems:
                self.problem(problem.path, problem.reason, problem.line, problem.column)
        return facts

    def pins(self, near: Path | None = None) -> dict:
        """Version pins of the project a file belongs to: the nearest folder (from the file up to
        the linted root) that pins anything, so each sub-project of a monorepo keeps its own."""
        from .versions import find_pins

        folder = near if near is None or near.is_dir() else near.parent
        chain = [folder, *folder.parents] if folder is not None and (folder == self.root or self.root in folder.parents) else []
        for candidate in [*chain[: chain.index(self.root) + 1 if self.root in chain else 0], self.root]:
            if candidate not in self._pins:
                try:
                    self._pins[candidate] = find_pins(candidate, nested=candidate == self.root)
                except Exception:
                    self._pins[candidate] = {}
            if self._pins[candidate] or candidate == self.root:
                return self._pins[candidate]
        return {}

    def library_major(self, package: str = "transformers", current: int = 5, *, near: Path | None = None) -> tuple[int, str]:
        from .versions import effective_major

        return effective_major(self.pins(near).get(package), current=current, package=package)

    # -- analysis -----------------------------------------------------------------------------
    def analyze(self) -> None:
        from .evaluate import Evaluator
        from .sources.python import can_matter

        launches = self._launch_scenarios()
        for source in self.files:
            if source.kind == "json" and source.path.name == "config.json":
                self.data(source.path, "json")  # config files are checked on their own (CKL102)
            if source.kind == "yaml":
                self._training_yaml(source.path)
            if source.kind != "python":
                continue
            raw = self._raw(source.path)
            if raw is None or not can_matter(raw):
                continue
            file = self.python(source.path)
            if file is None:
                continue
            # A script launched by the project's shell scripts runs the way they launch it; its
            # argparse defaults alone are only how it runs when nothing launches it.
            scenarios = launches.get(source.path) or [Scenario(source.path, source.path.parent)]
            visited: set[int] = set()
            try:
                for scenario in scenarios:
                    evaluator = Evaluator(self, scenario)
                    evaluator.run_module(file, as_main=True)
                    visited |= evaluator.visited_funcs
                self._run_unreached(file, evaluator, visited)
            except Exception as exc:  # an evaluator bug must not hide the other files' findings
                self.warnings.append(f"internal error while analysing {self.display(source.path)}: "
                                     f"{type(exc).__name__}: {exc} (please report it)")
        self._resolve_references()

    def references(self) -> list[ModelReference]:
        """Every model reference the analysis found (loads, configs, adapters), in order, deduplicated."""
        out: dict[tuple, ModelReference] = {}

        def add(ref, base_dirs, site, revision=None, subfolder=None, what="load"):
            if ref is None or not ref.known or not isinstance(ref.v, str) or not ref.v.strip():
                return
            rev = revision.v if revision is not None and revision.known and isinstance(revision.v, str) else None
            sub = subfolder.v if subfolder is not None and subfolder.known and isinstance(subfolder.v, str) else None
            key = (ref.v, tuple(base_dirs), rev, sub, site)
            out.setdefault(key, ModelReference(ref, tuple(base_dirs), rev, sub, site, what))

        for event in self.events:
            add(event.ref, event.base_dirs, event.site, event.kwargs.get("revision"),
                event.kwargs.get("subfolder"))
        for cfg in self.configs:
            add(cfg.ref, cfg.base_dirs, cfg.site, what="config")
        for extra in self.extra_references:
            add(*extra)
        for load in self.state_dict_loads:
            source = getattr(load.source, "v", None)
            if type(source).__name__ == "Checkpoint":
                add(source.ref, source.base_dirs, source.site or load.site, what="checkpoint")
        return list(out.values())

    _TRAINING_KEYS = (b"adapter_name_or_path", b"finetuning_type", b"base_model:")

    def _training_yaml(self, path: Path) -> None:
        """LLaMA-Factory / AutoTrain YAML: base + adapter named in data (sources.train_yaml)."""
        raw = self._raw(path)
        if raw is None or not any(key in raw for key in self._TRAINING_KEYS):
            return
        node = self.data(path, "yaml")
        if node is None:
            return
        from .sources.train_yaml import read_training_yaml

        try:
            read_training_yaml(self, path, node)
        except Exception as exc:  # a reader bug must not hide the other files' findings
            self.warnings.append(f"internal error while reading {self.display(path)}: {type(exc).__name__}: {exc}")

    def _resolve_references(self) -> None:
        """Resolve every model reference now, so unreadable checkpoints surface as CKL001."""
        self.resolver.prefetch(self.references())  # Hub lookups of the whole run, in parallel
        for ref in self.references():
            self.model(ref.ref, ref.base_dirs, revision=known(ref.revision) if ref.revision else None,
                       subfolder=known(ref.subfolder) if ref.subfolder else None)

    def _raw(self, path: Path) -> bytes | None:
        """The first bytes of a file for the pre-filter; never blocks on FIFOs or devices."""
        import stat

        try:
            mode = os.stat(path).st_mode
            if not stat.S_ISREG(mode):
                self.problem(path, "not a regular file; skipped")
                return None
            with open(path, "rb") as fh:
                return fh.read(8_000_000)
        except OSError as exc:
            self.problem(path, f"cannot read: {exc.strerror or exc}")
            return None

    def _run_unreached(self, file, evaluator, visited: set[int]) -> None:
        """Functions with a model load that no launch path reached run with unknown arguments."""
        import libcst as cst

        from .values import ClassRef, FuncRef, Instance

        scope = evaluator.modules.get(file.path)
        if scope is None:
            return
        funcs: list[tuple[FuncRef, Val | None]] = []
        for val in list(scope.vars.values()):
            if isinstance(val.v, FuncRef) and val.v.file is file:
                funcs.append((val.v, None))
            elif isinstance(val.v, ClassRef) and val.v.file is file:
                for attr in val.v.attrs.values():
                    if isinstance(attr.v, FuncRef):
                        funcs.append((attr.v, known(Instance(val.v, {}))))
        for func, self_val in funcs:
            if id(func.node) in visited or not isinstance(func.node, cst.FunctionDef):
                continue
            if "from_pretrained" not in file.module.code_for_node(func.node):
                continue
            bound = FuncRef(func.file, func.node, func.env, self_val, func.decorators, None)
            evaluator.run_function_unknown(file, bound)

    def _launch_scenarios(self) -> dict[Path, list[Scenario]]:
        out: dict[Path, list[Scenario]] = {}
        for source in self.files:
            if source.kind != "shell":
                continue
            from .sources.shell import read_shell

            text = self.text(source.path)
            if text is None:
                continue
            try:
                facts = read_shell(source.path, text)
            except Exception as exc:  # a reader bug must not hide the other files' findings
                self.problem(source.path, f"could not read shell script: {exc}")
                continue
            for inv in facts.invocations:
                target, cwd = self._invocation_target(inv, source.path)
                if target is not None:
                    out.setdefault(target, []).append(
                        Scenario(target, cwd, list(inv.args), inv.loc, source.path)
                    )
        return out

    def _invocation_target(self, inv, shell_path: Path) -> tuple[Path | None, Path]:
        bases = [shell_path.parent, self.root, *list(shell_path.parent.parents)[:2]]
        if inv.script:
            for base in bases:
                candidate = Path(os.path.normpath(base / inv.script))
                if candidate.is_file() and candidate.suffix == ".py":
                    return candidate, base
        if inv.module:
            parts = inv.module.split(".")
            for base in bases:
                found = self._module_at(base, parts)
                if found is not None:
                    if found.name == "__init__.py" and (found.parent / "__main__.py").is_file():
                        found = found.parent / "__main__.py"
                    return found, base
        return None, shell_path.parent
