"""The project model the rules read: files, launch scenarios, load events and resolved model facts.

`Project.analyze()` reads launch scripts, runs every Python file that can matter through the
static evaluator once per way it is launched (its argparse defaults, and each shell invocation),
and collects the `LoadEvent`s. A Jupyter notebook runs as a script run as `__main__`: its code cells
joined into one module (sources.notebook), with cell-relative positions. Files are read lazily and
once; a file that cannot be read becomes a `ReadProblem` (CKL001) and the run goes on.
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
        self._notebooks: dict[Path, Any] = {}  # sources.notebook.Notebook or None
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
        self._unit = None  # analysis_cache.UnitTrace of the entry file being analysed
        self.unit_deps: dict[str, tuple[str, ...]] = {}  # entry file -> every file its analysis read
        self.unit_records: dict[str, Any] = {}  # entry file -> analysis_cache.UnitRecord
        self._module_reads: list[set[Path]] = []  # one set per imported module executing now

    # -- small services for the evaluator ---------------------------------------------------
    def display(self, path: Path) -> str:
        try:
            return os.path.relpath(path, self.display_base)
        except ValueError:
            return str(path)

    def problem(self, path: Path, reason: str, line: int | None = None, column: int | None = None,
                cell: int | None = None) -> None:
        key = (path, reason, line, column, cell)
        if self._unit is not None:
            self._unit.problems.add(key)
        if key not in self._problem_keys:
            self._problem_keys.add(key)
            self.problems.append(ReadProblem(path, reason, line, column, cell))

    def text(self, path: Path, *, python: bool = False) -> str | None:
        """The file's text; with python=True a notebook's is its code cells as one module."""
        self._note(path)
        if python and path.suffix.lower() == ".ipynb":
            nb = self.notebook(path)
            return nb.code if nb is not None else None
        if path not in self._text:
            from .textio import ReadError, read_text

            try:
                self._text[path] = read_text(path, python=python)
            except ReadError as exc:
                self._text[path] = None
                self.problem(path, exc.reason, exc.line, exc.column)
        return self._text[path]

    def notebook(self, path: Path):
        """A Jupyter notebook's code cells (sources.notebook.Notebook), or None: a CKL001 is recorded."""
        self._note(path)
        if path not in self._notebooks:
            self._notebooks[path] = None
            from .sources.notebook import MAX_BYTES, load_notebook
            from .textio import ReadError, read_text

            try:
                self._notebooks[path] = load_notebook(path, read_text(path, max_bytes=MAX_BYTES))
            except ReadError as exc:
                self.problem(path, exc.reason, exc.line, exc.column, getattr(exc, "cell", None))
        return self._notebooks[path]

    def python(self, path: Path):
        self._note(path)
        if path not in self._py and path.suffix.lower() == ".ipynb":
            self._py[path] = None
            nb = self.notebook(path)
            if nb is not None and nb.python:
                from .sources.notebook import parse_notebook

                self._py[path], problems = parse_notebook(path, nb)
                for reason, cell, line, column in problems:
                    self.problem(path, reason, line, column, cell)
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
        self._note(path)
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
            found = candidate if candidate.is_file() else None
        else:
            found = next((Path(os.path.normpath(base / candidate)) for base in bases if (base / candidate).is_file()),
                         None)
        if found is not None:
            self._note(found)
        return found

    def _note(self, path: Path) -> None:
        """Remember that the entry file being analysed read `path` (for the analysis cache)."""
        if self._unit is not None:
            self._unit.reads.add(path)
        for reads in self._module_reads:
            reads.add(path)

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
        for path in composed.files:
            self._note(path)
        return composed

    def module_scopes(self, scenario: Scenario) -> dict:
        """Imported modules run once per launch scenario; plain runs share one table across files
        (each module scope keeps what it read and whether it recorded anything: `_module_end`)."""
        key = id(scenario) if scenario.shell is not None else None
        return self._module_scopes.setdefault(key, {})

    # -- what an imported module's execution read and recorded (for the analysis cache) ----------
    def _module_begin(self) -> tuple:
        reads: set[Path] = set()
        self._module_reads.append(reads)
        return reads, self._record_counts()

    def _module_end(self, token: tuple, scope) -> None:
        reads, before = token
        self._module_reads.remove(reads)
        scope.deps = frozenset(reads)
        scope.live = self._record_counts() != before or scope.live
        self._module_used(scope)

    def _module_used(self, scope) -> None:
        """An import of a module that already ran: the unit (and the modules importing it) depend
        on what it read, and are not inert if its top level recorded something."""
        deps, live = getattr(scope, "deps", frozenset()), getattr(scope, "live", False)
        for reads in self._module_reads:
            reads.update(deps)
        if self._unit is not None:
            self._unit.reads.update(deps)
            self._unit.live = self._unit.live or live

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
        if self._unit is not None:
            self._unit.models = True
            if facts is not None and facts.kind == "local" and facts.path is not None:
                self._unit.folders.add(facts.path if facts.path.is_dir() else facts.path.parent)
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
    def analyze(self, *, cache=None, named: set[str] | None = None, jobs: int = 1) -> None:
        """Analyse every file. `cache` (analysis_cache.AnalysisCache) skips entry files whose inputs
        did not change and that recorded nothing; with `named` (pre-commit: the real paths of the
        files given), also those whose findings cannot involve a named file."""
        from .analysis_cache import Prepass, scenarios_key

        launches = self._launch_scenarios()
        units = []
        for source in self.files:
            if source.kind == "json" and source.path.name == "config.json":
                self.data(source.path, "json")  # config files are checked on their own (CKL102)
            if source.kind == "yaml":
                self._training_yaml(source.path)
            if source.kind in ("python", "notebook"):
                units.append(source)
        keys = {source.path: scenarios_key(launches.get(source.path)) for source in units}
        cached = {source.path: cache.unit(source.path, keys[source.path]) if cache is not None else None
                  for source in units}
        pending = [source for source in units if cached[source.path] is None]
        prepass = Prepass.start(self, pending, launches, jobs) if cache is not None else None
        try:
            for source in units:
                record = cached[source.path]
                if record is None and prepass is not None and not prepass.claim(source.path):
                    record = prepass.result(source.path)  # a helper process analysed it
                    if record is not None:
                        cache.store(source.path, record)
                if record is not None and (record.inert or (named is not None and record.unaffected_by(named))):
                    for path, reason, line, column, cell in record.problems:
                        self.problem(Path(path), reason, line, column, cell)
                else:
                    record = self.analyze_unit(source, launches.get(source.path))
                    if cache is not None:
                        cache.store(source.path, record)
                self.unit_deps[str(source.path)] = record.deps
                self.unit_records[str(source.path)] = record
        finally:
            if prepass is not None:
                prepass.close()
        self._resolve_references()

    def analyze_unit(self, source, scenarios: list[Scenario] | None):
        """Analyse one Python file or notebook as `__main__`, under each way it is launched (a script
        launched by the project's shell scripts runs the way they launch it; its argparse defaults
        alone are only how it runs when nothing launches it). Returns its analysis_cache.UnitRecord."""
        from .analysis_cache import UnitRecord, UnitTrace, scenarios_key
        from .evaluate import Evaluator
        from .sources.python import can_matter

        before = self._record_counts()
        trace = self._unit = UnitTrace()
        try:
            if source.kind == "notebook":  # runs top to bottom: its code cells are a script run as __main__
                code = self.text(source.path, python=True)
                matters = code is not None and can_matter(code.encode("utf-8", "surrogatepass"))
            else:
                raw = self._raw(source.path)
                matters = raw is not None and can_matter(raw)
            file = self.python(source.path) if matters else None
            if file is not None:
                visited: set[int] = set()
                try:
                    for scenario in scenarios or [Scenario(source.path, source.path.parent)]:
                        evaluator = Evaluator(self, scenario)
                        evaluator.run_module(file, as_main=True)
                        visited |= evaluator.visited_funcs
                    self._run_unreached(file, evaluator, visited)
                except Exception as exc:  # an evaluator bug must not hide the other files' findings
                    self.warnings.append(f"internal error while analysing {self.display(source.path)}: "
                                         f"{type(exc).__name__}: {exc} (please report it)")
        finally:
            self._unit = None
        after = self._record_counts()
        cross = after[3:5] != before[3:5]
        trace.folders.update(self._local_model_folders(before))
        problems = tuple(sorted(((str(p), r, ln, col, cell) for p, r, ln, col, cell in trace.problems),
                                key=lambda t: tuple("" if v is None else str(v) for v in t)))
        return UnitRecord(tuple(sorted(str(p) for p in trace.reads)), inert=after == before and not trace.models and not trace.live,
                          cross=cross, folders=tuple(sorted(str(f) for f in trace.folders)), problems=problems,
                          scenarios=scenarios_key(scenarios))

    def _local_model_folders(self, before: tuple[int, ...]) -> set[Path]:
        """Local model folders named by the records added since `before` (a pre-commit run that
        names a file in one, a config.json or a weight file, must analyse this unit again)."""
        refs = [(e.ref, e.base_dirs) for e in self.events[before[0]:]]
        refs += [(c.ref, c.base_dirs) for c in self.configs[before[1]:]]
        refs += [(x[0], x[1]) for x in self.extra_references[before[8]:]]
        for load in self.state_dict_loads[before[3]:]:
            source = getattr(load.source, "v", None)
            if type(source).__name__ == "Checkpoint":
                refs.append((source.ref, source.base_dirs))
        out: set[Path] = set()
        for ref, bases in refs:
            if ref is None or not ref.known or not isinstance(ref.v, str) or not ref.v.strip():
                continue
            name = Path(os.path.expanduser(ref.v))
            for base in ([Path("/")] if name.is_absolute() else list(bases)):
                candidate = Path(os.path.normpath(base / name))
                if candidate.exists():
                    out.add(candidate if candidate.is_dir() else candidate.parent)
                    break
        return out

    def _record_counts(self) -> tuple[int, ...]:
        return (len(self.events), len(self.configs), len(self.method_calls), len(self.state_dict_loads),
                len(self.state_dict_saves), len(self.adapter_loads), len(self.peft_wraps), len(self.resizes),
                len(self.extra_references), len(self.warnings))

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

        self._note(path)
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
        loaders = _functions_calling(file.text, "from_pretrained")
        for func, self_val in funcs:
            if id(func.node) in visited or not isinstance(func.node, cst.FunctionDef):
                continue
            owner = self_val.v.cls.name if self_val is not None else None
            if loaders is not None and (owner, func.node.name.value) not in loaders:
                continue
            if loaders is None and "from_pretrained" not in file.module.code_for_node(func.node):
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


def _functions_calling(text: str, attr: str) -> set[tuple[str | None, str]] | None:
    """(class name or None, function name) of the top-level functions and methods whose code uses
    `.attr` (docstrings do not count). Python's own parser is ~7x faster than regenerating each
    function's code with libcst; None if it cannot parse the file."""
    import ast

    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    out: set[tuple[str | None, str]] = set()

    def uses(node) -> bool:
        return any(isinstance(n, ast.Attribute) and n.attr == attr for n in ast.walk(node))

    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and uses(node):
            out.add((None, node.name))
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and uses(item):
                    out.add((node.name, item.name))
    return out
