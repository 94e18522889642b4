"""The static evaluator: runs a Python file's statements abstractly, without executing anything.

It follows assignments, calls into the project's own functions and classes (a few levels deep),
loops over known lists, argparse/HfArgumentParser defaults overridden by launch-script flags,
Hydra/OmegaConf configs and yaml/json files, and records every transformers load it reaches as a
`LoadEvent`. Anything it cannot know is `UNKNOWN`; a branch it cannot decide runs both ways and
keeps only what both agree on.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import libcst as cst

from .diagnostics import Location
from .values import (
    UNKNOWN,
    UNKNOWN_DATA,
    ArgNamespace,
    ArgParser,
    BoundMethod,
    Builtin,
    ClassRef,
    ExternalRef,
    FileHandle,
    FuncRef,
    HFConfig,
    HFObject,
    Instance,
    ModuleRef,
    Built,
    Checkpoint,
    PathStr,
    Positioned,
    Val,
    fork_value,
    is_plain,
    known,
    merge_origins,
    same,
)

from .evaluate_data import MAX_LOOP, DataCalls
from .evaluate_libraries import LibraryCalls, LoadEvent, is_hf_external  # noqa: F401 (re-exported)
from .evaluate_models import ModelFlow
from .evaluate_torch import MODULE_SELF_METHODS, TorchCalls

MODULE_METHODS = MODULE_SELF_METHODS | {"state_dict", "load_state_dict"}

if TYPE_CHECKING:  # pragma: no cover
    from .project import Project, Scenario
    from .sources.python import PyFile

MAX_DEPTH = 6  # nested project calls followed

MAX_STEPS = 200_000  # statements per entry run (guards pathological files)


class _Return(Exception):
    def __init__(self, value: Val):
        self.value = value


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


class _Dead(Exception):
    """The path raised: whatever follows on it never runs."""


class _LoopUncertain(Exception):
    """A break/continue ran on only some paths: the loop's effect is not known."""


class _Budget(Exception):
    pass


@dataclass(frozen=True)
class LazyImport:
    """`from module import name` not yet imported: resolved when the name is first read."""

    module: str
    level: int
    name: str
    from_path: Path


def _external(qualname: str) -> Val:
    """A name from a library; `typing.TYPE_CHECKING` is False when code runs (so the
    `if TYPE_CHECKING: from .x import *` blocks of package __init__ files are not followed)."""
    if qualname in ("typing.TYPE_CHECKING", "typing_extensions.TYPE_CHECKING"):
        return known(False)
    return known(ExternalRef(qualname))


_BINDINGS = (FuncRef, ClassRef, ModuleRef, ExternalRef, LazyImport)  # names that branches never blur


class Scope:
    def __init__(self, parent: "Scope | None" = None, file: "PyFile | None" = None):
        self.vars: dict[str, Val] = {}
        self.parent = parent
        self.file = file
        self.globals_: set[str] = set()
        self.deps: frozenset = frozenset()  # a module scope: the files its execution read
        self.live = False  # a module scope: its top level recorded loads/configs/...

    def lookup(self, name: str) -> Val | None:
        scope: Scope | None = self
        while scope is not None:
            if name in scope.vars:
                return scope.vars[name]
            scope = scope.parent
        return None

    def set(self, name: str, val: Val) -> None:
        target = self
        if name in self.globals_:  # `global name`: bind in the module scope
            while target.parent is not None:
                target = target.parent
        target.vars[name] = val

    def fork(self) -> "Scope":
        copy = Scope(self.parent, self.file)
        copy.vars = {k: fork_value(v) for k, v in self.vars.items()}
        copy.globals_ = set(self.globals_)
        return copy

    def join(self, *others: "Scope") -> None:
        """Keep in self only what every branch agrees on."""
        names = set(self.vars)
        for other in others:
            names |= set(other.vars)
        for name in names:
            vals = [s.vars.get(name) for s in (self, *others)]
            first = vals[0]
            if first is not None and all(v is not None and same(first, v) for v in vals[1:]):
                continue
            present = [v for v in vals if v is not None]
            if len(present) == len(vals) and all(isinstance(v.v, _BINDINGS) and v.v is present[0].v for v in present):
                continue
            self.vars[name] = _joined(present)


def _joined(vals: list[Val]) -> Val:
    if all(isinstance(v.v, HFObject) for v in vals):
        return vals[-1]  # every branch loaded a model: keep one (each load is recorded as an event)
    if all(isinstance(v.v, HFConfig) for v in vals) and all(_same_config(vals[0].v, v.v) for v in vals[1:]):
        return vals[0]
    return Val(UNKNOWN_DATA, merge_origins(*vals))


def _same_config(a: HFConfig, b: HFConfig) -> bool:
    """Two config objects built alike (same class, reference, keywords and later attributes)."""
    if a is b:
        return True
    if a.cls_name != b.cls_name or (a.ref is None) != (b.ref is None):
        return False
    if a.ref is not None and not same(a.ref, b.ref):
        return False
    return all(
        x.keys() == y.keys() and all(same(x[k], y[k]) for k in x) for x, y in ((a.kwargs, b.kwargs), (a.attrs, b.attrs))
    )


BUILTIN_NAMES = {
    "len", "int", "str", "float", "bool", "list", "tuple", "dict", "set", "sorted", "reversed",
    "enumerate", "range", "zip", "min", "max", "sum", "abs", "round", "open", "print", "isinstance",
    "frozenset", "map", "filter", "any", "all", "getattr", "hasattr", "super", "type",
}

@dataclass
class Frame:
    file: "PyFile"
    depth: int


class Evaluator(DataCalls, LibraryCalls, ModelFlow, TorchCalls):
    """One evaluator per scenario (a way the project is launched)."""

    def __init__(self, project: "Project", scenario: "Scenario"):
        self.project = project
        self.scenario = scenario
        # Imported modules run once per launch scenario; plain runs share one table across files.
        self.modules: dict[Path, Scope] = project.module_scopes(scenario)
        self.executing: set[Path] = set()
        self.call_stack: list[Any] = []
        self.steps = 0
        self.visited_funcs: set[int] = set()
        self._resolving: set[LazyImport] = set()
        self._lazy_memo: dict[LazyImport, tuple[Val, tuple[Path, ...]]] = {}
        self._imported: list[Path] = []  # modules imported by the lazy resolution under way
        # > 0 while running code that may not run (a branch on an unknown test, an except
        # handler, a loop body of unknown count): what happens to models there is "may happen"
        self.uncertain = 0

    # -- entry points ------------------------------------------------------------------------
    def run_module(self, file: "PyFile", *, as_main: bool) -> Scope:
        key = file.path
        if not as_main and key in self.modules:
            self.project._module_used(self.modules[key])
            return self.modules[key]
        scope = Scope(None, file)
        scope.vars["__name__"] = known("__main__" if as_main else file.path.stem)
        scope.vars["__file__"] = known(str(file.path))
        if not as_main:
            self.modules[key] = scope
        if key in self.executing:
            return scope
        self.executing.add(key)
        token = self.project._module_begin() if not as_main else None
        try:
            self.exec_block(file.module.body, scope, Frame(file, 0))
        except (_Return, _Break, _Continue, _Dead, _Budget, _LoopUncertain, RecursionError):
            pass
        finally:
            self.executing.discard(key)
            if token is not None:
                self.project._module_end(token, scope)
        if as_main:
            self.modules.setdefault(key, scope)
        return scope

    def run_function_unknown(self, file: "PyFile", func: FuncRef) -> None:
        """Evaluate a function nobody called, with unknown arguments (library-style code)."""
        args: list[Val] = []
        self_val = None
        if func.bound_self is not None:
            self_val = func.bound_self
        try:
            self.call_function(func, args, {}, Frame(file, 0), unknown_params=True, self_val=self_val)
        except (_Budget, RecursionError):
            pass

    # -- statements --------------------------------------------------------------------------
    def exec_block(self, stmts, scope: Scope, frame: Frame) -> None:
        for stmt in stmts:
            self.exec_stmt(stmt, scope, frame)

    def _body(self, node) -> list:
        body = node.body
        return list(body.body) if hasattr(body, "body") else [body]

    def exec_stmt(self, stmt, scope: Scope, frame: Frame) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise _Budget()
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                self.exec_small(small, scope, frame)
        elif isinstance(stmt, cst.SimpleStatementSuite):
            for small in stmt.body:
                self.exec_small(small, scope, frame)
        elif isinstance(stmt, cst.If):
            self.exec_if(stmt, scope, frame)
        elif isinstance(stmt, cst.For):
            self.exec_for(stmt, scope, frame)
        elif isinstance(stmt, cst.While):
            self.exec_unknown_loop(self._body(stmt), scope, frame)
        elif isinstance(stmt, (cst.Try, getattr(cst, "TryStar", cst.Try))):
            self.exec_try(stmt, scope, frame)
        elif isinstance(stmt, cst.With):
            for item in stmt.items:
                val = self.eval(item.item, scope, frame)
                if item.asname is not None:
                    self.assign(item.asname.name, val, scope, frame)
            self.exec_block(self._body(stmt), scope, frame)
        elif isinstance(stmt, cst.FunctionDef):
            scope.set(stmt.name.value, self.make_function(stmt, scope, frame))
        elif isinstance(stmt, cst.ClassDef):
            scope.set(stmt.name.value, self.make_class(stmt, scope, frame))
        # Match and other compound statements: nothing we can follow

    def exec_small(self, node, scope: Scope, frame: Frame) -> None:
        if isinstance(node, cst.Assign):
            val = self.eval(node.value, scope, frame)
            for target in node.targets:
                self.assign(target.target, val, scope, frame)
        elif isinstance(node, cst.AnnAssign):
            if node.value is not None:
                self.assign(node.target, self.eval(node.value, scope, frame), scope, frame)
        elif isinstance(node, cst.AugAssign):
            current = self.eval(node.target, scope, frame)
            right = self.eval(node.value, scope, frame)
            op = type(node.operator).__name__.replace("Assign", "")
            if isinstance(current.v, list) and op == "Add" and right.known:
                items = self.iterate(right, frame)
                if items is None:
                    self.assign(node.target, Val(UNKNOWN_DATA, current.origins), scope, frame)
                else:
                    current.v.extend(i.v for i in items)
                    current.origins = merge_origins(current, right, *items)
            else:
                result = self.binop(op, current, right)
                self.assign(node.target, result.with_expr(frame.file.code(node), frame.file.lazy_loc(node)), scope, frame)
        elif isinstance(node, cst.Expr):
            self.eval(node.value, scope, frame)
        elif isinstance(node, cst.Return):
            raise _Return(self.eval(node.value, scope, frame) if node.value is not None else known(None))
        elif isinstance(node, cst.Raise):
            raise _Dead()
        elif isinstance(node, cst.Break):
            raise _Break()
        elif isinstance(node, cst.Continue):
            raise _Continue()
        elif isinstance(node, cst.Import):
            for alias in node.names:
                name = _dotted(alias.name)
                if alias.asname is not None:
                    scope.set(alias.asname.name.value, self.import_module(name, frame.file.path, 0))
                else:
                    top = name.split(".")[0]
                    scope.set(top, self.import_module(top, frame.file.path, 0))
        elif isinstance(node, cst.ImportFrom):
            self.exec_import_from(node, scope, frame)
        elif isinstance(node, cst.Global):
            for name in node.names:
                scope.globals_.add(name.name.value)
        elif isinstance(node, cst.Del):
            pass

    def exec_if(self, stmt, scope: Scope, frame: Frame) -> None:
        test = self.truth(self.eval(stmt.test, scope, frame))
        orelse = stmt.orelse
        else_body = []
        if isinstance(orelse, cst.If):
            else_body = [orelse]
        elif isinstance(orelse, cst.Else):
            else_body = self._body(orelse)
        if test is True:
            self.exec_block(self._body(stmt), scope, frame)
        elif test is False:
            self.exec_block(else_body, scope, frame)
        else:
            self.exec_branches([self._body(stmt), else_body], scope, frame)

    def exec_branches(self, bodies: list[list], scope: Scope, frame: Frame, *, certain_first: bool = False) -> None:
        """Run each body on a fork; keep what all surviving branches agree on.

        Every body may or may not run (`self.uncertain`), except the first when `certain_first`
        (a try body: it runs unless something raises)."""
        survivors: list[Scope] = []
        returned: list[Val] = []
        jumps: list[type] = []
        for i, body in enumerate(bodies):
            branch = scope.fork()
            maybe = not (certain_first and i == 0)
            self.uncertain += maybe
            try:
                self.exec_block(body, branch, frame)
                survivors.append(branch)
            except _Dead:
                pass
            except _Return as ret:
                returned.append(ret.value)
            except (_Break, _Continue) as jump:
                jumps.append(type(jump))
            finally:
                self.uncertain -= maybe
        if jumps:
            if not survivors and not returned and len(set(jumps)) == 1:
                raise jumps[0]()  # every path breaks (or continues) the same way
            raise _LoopUncertain()
        if not survivors:
            if returned:
                raise _Return(returned[0] if all(same(returned[0], r) for r in returned) else UNKNOWN)
            raise _Dead()
        if returned:
            # some paths return early: the rest of the function may or may not run
            self._mark_maybe_returned(returned)
        first, rest = survivors[0], survivors[1:]
        first.join(*rest)
        scope.vars = first.vars

    def _mark_maybe_returned(self, returned: list[Val]) -> None:
        if self.call_stack:
            self.call_stack[-1]["early"].extend(returned)

    def exec_for(self, stmt, scope: Scope, frame: Frame) -> None:
        iterable = self.eval(stmt.iter, scope, frame)
        items = self.iterate(iterable, frame)
        body = self._body(stmt)
        if items is None or len(items) > MAX_LOOP:
            self.exec_unknown_loop(body, scope, frame, target=stmt.target)
            return
        before = scope.fork()
        try:
            for item in items:
                self.assign(stmt.target, item, scope, frame)
                try:
                    self.exec_block(body, scope, frame)
                except _Break:
                    return
                except _Continue:
                    continue
        except _LoopUncertain:  # some iteration may have stopped early: redo it as an unknown loop
            scope.vars = before.vars
            self.exec_unknown_loop(body, scope, frame, target=stmt.target)
            return
        if stmt.orelse is not None:
            self.exec_block(self._body(stmt.orelse), scope, frame)

    def exec_unknown_loop(self, body, scope: Scope, frame: Frame, target=None) -> None:
        """A loop whose iterations we cannot count: run the body once on a fork and keep what did
        not change; if the body stopped early, everything it may write becomes unknown."""
        branch = scope.fork()
        if target is not None:
            self.assign(target, UNKNOWN, branch, frame)
        completed = False
        self.uncertain += 1
        try:
            self.exec_block(body, branch, frame)
            completed = True
        except (_Break, _Continue, _Dead, _LoopUncertain):
            pass
        except _Return as ret:
            self._mark_maybe_returned([ret.value])
        finally:
            self.uncertain -= 1
        if not completed:
            for name in _names_written(body):
                val = branch.vars.get(name)
                if val is not None and not isinstance(val.v, _BINDINGS):
                    branch.vars[name] = UNKNOWN
        scope.join(branch)

    def exec_try(self, stmt, scope: Scope, frame: Frame) -> None:
        bodies = [self._body(stmt) + (self._body(stmt.orelse) if stmt.orelse else [])]
        for handler in stmt.handlers:
            bodies.append(self._body(handler))
        if len(bodies) == 1:
            self.exec_block(bodies[0], scope, frame)
        else:
            self.exec_branches(bodies, scope, frame, certain_first=True)
        if stmt.finalbody is not None:
            self.exec_block(self._body(stmt.finalbody), scope, frame)

    def exec_import_from(self, node, scope: Scope, frame: Frame) -> None:
        level = len(node.relative)
        modname = _dotted(node.module) if node.module is not None else ""
        if isinstance(node.names, cst.ImportStar):
            mod = self.import_module(modname, frame.file.path, level)
            if isinstance(mod.v, ModuleRef):
                sub = self.modules.get(mod.v.path)
                if sub is not None:
                    for k, v in sub.vars.items():
                        if not k.startswith("_"):
                            scope.set(k, v)
            return
        for alias in node.names:
            name = alias.name.value if isinstance(alias.name, cst.Name) else _dotted(alias.name)
            bind = alias.asname.name.value if alias.asname is not None else name
            # Bound lazily: the module is parsed and run only if the name is ever read.
            scope.set(bind, known(LazyImport(modname, level, name, frame.file.path)))

    def _bind_lazy(self, scope: Scope, name: str, lazy: LazyImport) -> Val:
        val = self.resolve_lazy(lazy)
        holder: Scope | None = scope
        while holder is not None and name not in holder.vars:
            holder = holder.parent
        # Resolved once per function scope; a module scope keeps the lazy binding, since other
        # entry files share it and each must see (and depend on) the import when it uses the name.
        if holder is not None and holder.parent is not None and holder.vars.get(name) is not None \
                and holder.vars[name].v is lazy:
            holder.vars[name] = val
        return val

    def resolve_lazy(self, lazy: LazyImport) -> Val:
        """What `from module import name` binds, importing the module now (memoised per run; a
        memo hit still counts as using the modules involved, for the analysis cache)."""
        memo = self._lazy_memo.get(lazy)
        if memo is not None:
            val, paths = memo
            for path in paths:
                if path in self.modules:
                    self.project._module_used(self.modules[path])
            return val
        if lazy in self._resolving:  # an import cycle: the name is not bound yet at this point
            return UNKNOWN
        self._resolving.add(lazy)
        outer, self._imported = self._imported, []
        try:
            val = self._resolve(lazy)
            self._lazy_memo[lazy] = (val, tuple(self._imported))
            return val
        finally:
            self._resolving.discard(lazy)
            outer.extend(self._imported)
            self._imported = outer

    def _resolve(self, lazy: LazyImport) -> Val:
        mod = self.import_module(lazy.module, lazy.from_path, lazy.level)
        if isinstance(mod.v, ModuleRef):
            sub_scope = self.modules.get(mod.v.path)
            val = sub_scope.vars.get(lazy.name) if sub_scope is not None else None
            if val is not None and isinstance(val.v, LazyImport):  # re-exported by a package
                val = self.resolve_lazy(val.v)
            if val is None:  # maybe a submodule
                full = f"{lazy.module}.{lazy.name}" if lazy.module else lazy.name
                val = self.import_module(full, lazy.from_path, lazy.level)
            return val
        if isinstance(mod.v, ExternalRef):
            return _external(f"{mod.v.qualname}.{lazy.name}")
        return UNKNOWN

    def import_module(self, name: str, from_path: Path, level: int) -> Val:
        path = self.project.resolve_module(name, from_path, level)
        if path is None:
            if level:
                return UNKNOWN
            return known(ExternalRef(name))
        file = self.project.python(path)
        if file is None:
            return UNKNOWN
        self.run_module(file, as_main=False)
        self._imported.append(path)
        return known(ModuleRef(path))

    # -- definitions -------------------------------------------------------------------------
    def make_function(self, node, scope: Scope, frame: Frame) -> Val:
        decorators = []
        hydra = None
        for dec in node.decorators:
            expr = dec.decorator
            head = expr.func if isinstance(expr, cst.Call) else expr
            decorators.append(frame.file.code(head))
            if decorators[-1].rsplit(".", 1)[-1] != "main":  # only @hydra.main matters here
                continue
            val = self.eval(head, scope, frame)
            if isinstance(val.v, ExternalRef) and val.v.qualname in ("hydra.main", "hydra.main.main"):
                hydra = {}
                if isinstance(expr, cst.Call):
                    for arg in expr.args:
                        if arg.keyword is not None:
                            hydra[arg.keyword.value] = self.eval(arg.value, scope, frame)
                hydra["__file__"] = frame.file
        func = FuncRef(frame.file, node, scope, None, tuple(decorators), hydra)
        return known(func, (), node.name.value, frame.file.lazy_loc(node.name))

    def make_class(self, node, scope: Scope, frame: Frame) -> Val:
        def bases() -> list[Val]:
            try:
                return [self.eval(arg.value, scope, frame) for arg in node.bases if arg.keyword is None]
            except (_Return, _Break, _Continue, _Dead, _Budget, _LoopUncertain, RecursionError):
                return [UNKNOWN for arg in node.bases if arg.keyword is None]

        is_dc = any(
            frame.file.code(d.decorator).split("(")[0].split(".")[-1] == "dataclass" for d in node.decorators
        )
        cls = ClassRef(frame.file, node, node.name.value, None if node.bases else [], {}, is_dc, bases)
        body_scope = Scope(scope, frame.file)
        try:
            self.exec_block(self._body(node), body_scope, frame)
        except (_Return, _Break, _Continue, _Dead):
            pass
        for name, val in list(body_scope.vars.items()):  # imports in a class body: bind now
            if isinstance(val.v, LazyImport):
                body_scope.vars[name] = self.resolve_lazy(val.v)
        cls.attrs = body_scope.vars
        if is_dc:
            fields, types = self._dataclass_fields(node, body_scope, frame)
            cls.attrs["__fields__"] = known(fields)
            cls.attrs["__field_types__"] = known(types)
        return known(cls, (), node.name.value, frame.file.lazy_loc(node.name))

    def _dataclass_fields(self, node, body_scope: Scope, frame: Frame) -> tuple[dict[str, Val], dict[str, str]]:
        """Field defaults and annotation texts of a dataclass body."""
        fields: dict[str, Val] = {}
        types: dict[str, str] = {}
        for stmt in self._body(node):
            if not isinstance(stmt, cst.SimpleStatementLine):
                continue
            for small in stmt.body:
                if isinstance(small, cst.AnnAssign) and isinstance(small.target, cst.Name):
                    name = small.target.value
                    types[name] = frame.file.code(small.annotation.annotation)
                    fields[name] = self._field_default(small.value, body_scope, frame) if small.value is not None else UNKNOWN
        return fields, types

    def _field_default(self, value, scope: Scope, frame: Frame) -> Val:
        if isinstance(value, cst.Call) and frame.file.code(value.func).split(".")[-1] == "field":
            for arg in value.args:
                if arg.keyword is not None and arg.keyword.value == "default":
                    return self.eval(arg.value, scope, frame).with_expr(frame.file.code(arg.value), frame.file.lazy_loc(arg.value))
                if arg.keyword is not None and arg.keyword.value == "default_factory":
                    factory = self.eval(arg.value, scope, frame)
                    return self.call(factory, [], {}, frame, node=None)
            return known(None)
        return self.eval(value, scope, frame).with_expr(frame.file.code(value), frame.file.lazy_loc(value))

    # -- assignment --------------------------------------------------------------------------
    def assign(self, target, val: Val, scope: Scope, frame: Frame) -> None:
        if isinstance(target, cst.Name):
            scope.set(target.value, val)
        elif isinstance(target, (cst.Tuple, cst.List)):
            items = self.iterate(val, frame)
            elements = target.elements
            if items is not None and len(items) == len(elements) and not any(isinstance(e, cst.StarredElement) for e in elements):
                for el, item in zip(elements, items):
                    self.assign(el.value, item, scope, frame)
            else:
                for el in elements:
                    self.assign(el.value, UNKNOWN, scope, frame)
        elif isinstance(target, cst.Attribute):
            obj = self.eval(target.value, scope, frame)
            name = target.attr.value
            if isinstance(obj.v, Instance):
                obj.v.attrs[name] = val
            elif isinstance(obj.v, HFConfig):
                obj.v.attrs[name] = val.with_expr(val.expr or frame.file.code(target), val.site or frame.file.lazy_loc(target))
            elif isinstance(obj.v, ArgNamespace):
                obj.v.fields[name] = val
            elif isinstance(obj.v, ClassRef):
                obj.v.attrs[name] = val
            # HFObject: `tokenizer.pad_token = "<new>"` keeps len(tokenizer) (transformers 5.23,
            # measured), so attribute writes on loaded objects change nothing we follow
        elif isinstance(target, cst.Subscript):
            obj = self.eval(target.value, scope, frame)
            if len(target.slice) == 1 and isinstance(target.slice[0].slice, cst.Index):
                key = self.eval(target.slice[0].slice.value, scope, frame)
                if isinstance(obj.v, Positioned) and obj.v.node.is_map:
                    if obj.v.writes is None:
                        obj.v.writes = {}
                    if key.known and is_plain(key.v):
                        obj.v.writes[key.v] = val
                    else:  # an unknown key may overwrite any of them
                        for k in self.positioned_keys(obj.v):
                            obj.v.writes[k] = UNKNOWN
                elif isinstance(obj.v, Checkpoint):
                    if key.known and isinstance(key.v, str):
                        obj.v.patched = obj.v.patched + (key.v,)
                    else:
                        obj.v.rekeyed = True
                elif isinstance(obj.v, dict):
                    if key.known and is_plain(key.v):
                        obj.v[key.v] = val.v
                        obj.origins = merge_origins(obj, val)
                    else:
                        obj.v = UNKNOWN_DATA
                elif isinstance(obj.v, list) and key.known and isinstance(key.v, int):
                    try:
                        obj.v[key.v] = val.v
                    except IndexError:
                        pass
        elif isinstance(target, cst.StarredElement):
            self.assign(target.value, UNKNOWN, scope, frame)

    # -- expressions -------------------------------------------------------------------------
    def eval(self, node, scope: Scope, frame: Frame) -> Val:
        try:
            return self._eval(node, scope, frame)
        except (_Return, _Break, _Continue, _Dead, _Budget):
            raise
        except RecursionError:
            raise _Budget() from None
        except Exception:  # an evaluator bug must not take the run down: the value is unknown
            return UNKNOWN

    def _eval(self, node, scope: Scope, frame: Frame) -> Val:
        file = frame.file
        if isinstance(node, cst.Name):
            name = node.value
            val = scope.lookup(name)
            if val is not None:
                if isinstance(val.v, LazyImport):
                    val = self._bind_lazy(scope, name, val.v)
                return val
            if name in ("True", "False", "None"):
                return known({"True": True, "False": False, "None": None}[name])
            if name in BUILTIN_NAMES:
                return known(Builtin(name))
            return UNKNOWN
        if isinstance(node, (cst.Integer, cst.Float)):
            return known(node.evaluated_value, (), node.value, None)
        if isinstance(node, (cst.SimpleString, cst.ConcatenatedString)):
            value = node.evaluated_value
            return known(value) if value is not None else UNKNOWN
        if isinstance(node, cst.FormattedString):
            return self.eval_fstring(node, scope, frame)
        if isinstance(node, cst.Attribute):
            base = self.eval(node.value, scope, frame)
            return self.getattr(base, node.attr.value, frame)
        if isinstance(node, cst.Subscript):
            return self.eval_subscript(node, scope, frame)
        if isinstance(node, cst.Call):
            return self.eval_call(node, scope, frame)
        if isinstance(node, (cst.List, cst.Tuple, cst.Set)):
            return self.eval_sequence(node, scope, frame)
        if isinstance(node, cst.Dict):
            return self.eval_dict(node, scope, frame)
        if isinstance(node, cst.BinaryOperation):
            left = self.eval(node.left, scope, frame)
            right = self.eval(node.right, scope, frame)
            return self.binop(type(node.operator).__name__, left, right).with_expr(file.code(node), file.lazy_loc(node))
        if isinstance(node, cst.UnaryOperation):
            val = self.eval(node.expression, scope, frame)
            op = type(node.operator).__name__
            if op == "Not":
                truth = self.truth(val)
                return known(not truth, val.origins) if truth is not None else UNKNOWN
            if val.known and isinstance(val.v, (int, float)) and not isinstance(val.v, bool):
                return known(-val.v if op == "Minus" else val.v, val.origins, file.code(node))
            return UNKNOWN
        if isinstance(node, cst.BooleanOperation):
            left = self.eval(node.left, scope, frame)
            truth = self.truth(left)
            is_and = isinstance(node.operator, cst.And)
            if truth is None:
                right = self.eval(node.right, scope, frame)
                return right if same(left, right) else UNKNOWN
            if is_and:
                return self.eval(node.right, scope, frame) if truth else left
            return left if truth else self.eval(node.right, scope, frame)
        if isinstance(node, cst.Comparison):
            return self.eval_compare(node, scope, frame)
        if isinstance(node, cst.IfExp):
            truth = self.truth(self.eval(node.test, scope, frame))
            if truth is True:
                return self.eval(node.body, scope, frame)
            if truth is False:
                return self.eval(node.orelse, scope, frame)
            a, b = self.eval(node.body, scope, frame), self.eval(node.orelse, scope, frame)
            return a if same(a, b) else UNKNOWN
        if isinstance(node, (cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp)):
            return self.eval_comprehension(node, scope, frame)
        if isinstance(node, cst.Lambda):
            return known(FuncRef(file, node, scope))
        if isinstance(node, cst.NamedExpr):
            val = self.eval(node.value, scope, frame)
            self.assign(node.target, val, scope, frame)
            return val
        return UNKNOWN

    def eval_fstring(self, node, scope: Scope, frame: Frame) -> Val:
        parts: list[str] = []
        vals: list[Val] = []
        for part in node.parts:
            if isinstance(part, cst.FormattedStringText):
                parts.append(part.value)
                continue
            val = self.eval(part.expression, scope, frame)
            val = self.plain(val)
            if not val.known or part.format_spec:
                return Val(UNKNOWN_DATA, merge_origins(*vals, val))
            vals.append(val)
            parts.append(str(val.v) if part.conversion != "r" else repr(val.v))
        return known("".join(parts), merge_origins(*vals), frame.file.code(node), frame.file.lazy_loc(node))

    def eval_sequence(self, node, scope: Scope, frame: Frame) -> Val:
        out: list[Any] = []
        origins: list[Val] = []
        for el in node.elements:
            val = self.eval(el.value, scope, frame)
            if isinstance(el, cst.StarredElement):
                items = self.iterate(val, frame)
                if items is None:
                    return Val(UNKNOWN_DATA, merge_origins(val, *origins))
                out.extend(i.v for i in items)
                origins.extend(items)
                origins.append(val)
            else:
                val = self.plain(val)
                out.append(val.v)
                origins.append(val)
        result: Any = out
        if len(out) >= 2 and not any(v.origins for v in origins) and isinstance(node, cst.List):
            # a label list written in the code is itself the origin of a count taken from it
            note = f"a list of {len(out)} items in {self.project.display(frame.file.path)}"
            origins.append(known(None, (frame.file.lazy_loc(node, note),)))
        if isinstance(node, cst.Tuple):
            result = tuple(out)
        elif isinstance(node, cst.Set):
            if not all(is_plain(x) for x in out):
                return Val(UNKNOWN_DATA, merge_origins(*origins))
            result = set(out)
        return known(result, merge_origins(*origins), frame.file.code(node), frame.file.lazy_loc(node))

    def eval_dict(self, node, scope: Scope, frame: Frame) -> Val:
        out: dict[Any, Any] = {}
        origins: list[Val] = []
        for el in node.elements:
            if isinstance(el, cst.StarredDictElement):
                val = self.plain(self.eval(el.value, scope, frame))
                if not isinstance(val.v, dict):
                    return UNKNOWN
                out.update(val.v)
                origins.append(val)
                continue
            key = self.plain(self.eval(el.key, scope, frame))
            if not key.known or not is_plain(key.v):
                return UNKNOWN
            val = self.plain(self.eval(el.value, scope, frame))
            out[key.v] = val.v
            origins.extend((key, val))
        return known(out, merge_origins(*origins), frame.file.code(node), frame.file.lazy_loc(node))

    def eval_comprehension(self, node, scope: Scope, frame: Frame) -> Val:
        inner = Scope(scope, frame.file)
        results: list[tuple[Val, Val | None]] = []
        sources: list[Val] = []
        first = self.eval(node.for_in.iter, inner, frame)
        over_checkpoint = self.checkpoint_comprehension(node, first, frame)
        if over_checkpoint is not None:
            return over_checkpoint

        def run(comp) -> bool:
            iterable = first if comp is node.for_in else self.eval(comp.iter, inner, frame)
            items = self.iterate(iterable, frame)
            sources.append(iterable)
            if items is None or len(items) > MAX_LOOP:
                return False
            for item in items:
                self.assign(comp.target, item, inner, frame)
                keep = True
                for cond in comp.ifs:
                    truth = self.truth(self.eval(cond.test, inner, frame))
                    if truth is None:
                        return False
                    keep = keep and truth
                if not keep:
                    continue
                if comp.inner_for_in is not None:
                    if not run(comp.inner_for_in):
                        return False
                elif isinstance(node, cst.DictComp):
                    results.append((self.plain(self.eval(node.key, inner, frame)), self.plain(self.eval(node.value, inner, frame))))
                else:
                    results.append((self.plain(self.eval(node.elt, inner, frame)), None))
            return True

        if not run(node.for_in):
            return Val(UNKNOWN_DATA, merge_origins(*sources))
        expr, site = frame.file.code(node), frame.file.lazy_loc(node)
        all_vals = [r[0] for r in results] + [r[1] for r in results if r[1] is not None]
        origins = merge_origins(*sources, *all_vals)
        if isinstance(node, cst.DictComp):
            if not all(k.known and is_plain(k.v) for k, _ in results):
                return Val(UNKNOWN_DATA, origins)
            return known({k.v: v.v for k, v in results}, origins, expr, site)
        values = [r[0].v for r in results]
        if isinstance(node, cst.SetComp):
            if not all(is_plain(x) for x in values):
                return Val(UNKNOWN_DATA, origins)
            return known(set(values), origins, expr, site)
        return known(values, origins, expr, site)

    def eval_compare(self, node, scope: Scope, frame: Frame) -> Val:
        left = self.plain(self.eval(node.left, scope, frame))
        result = True
        for comp in node.comparisons:
            right = self.plain(self.eval(comp.comparator, scope, frame))
            op = type(comp.operator).__name__
            if op in ("Is", "IsNot"):
                if right.known and right.v is None and left.known:
                    ok = (left.v is None) == (op == "Is")
                elif left.known and isinstance(left.v, (HFObject, HFConfig, Instance, FuncRef, ClassRef)) and right.known and right.v is None:
                    ok = op == "IsNot"
                else:
                    return UNKNOWN
            else:
                if not (left.known and right.known and is_plain(left.v) and is_plain(right.v)):
                    return UNKNOWN
                try:
                    ok = _COMPARE[op](left.v, right.v)
                except Exception:
                    return UNKNOWN
            result = result and ok
            left = right
        return known(result)

    def eval_subscript(self, node, scope: Scope, frame: Frame) -> Val:
        base = self.eval(node.value, scope, frame)
        if len(node.slice) != 1:
            return UNKNOWN
        sl = node.slice[0].slice
        if isinstance(sl, cst.Slice):
            bounds = []
            for part in (sl.lower, sl.upper, sl.step):
                if part is None:
                    bounds.append(None)
                    continue
                v = self.plain(self.eval(part, scope, frame))
                if not v.known:
                    return UNKNOWN
                bounds.append(v.v)
            base = self.plain(base)
            if base.known and isinstance(base.v, (list, tuple, str)):
                try:
                    return known(base.v[slice(*bounds)], base.origins, frame.file.code(node), frame.file.lazy_loc(node))
                except Exception:
                    return UNKNOWN
            return UNKNOWN
        key = self.plain(self.eval(sl.value, scope, frame))
        return self.getitem(base, key, frame).with_expr(frame.file.code(node), frame.file.lazy_loc(node))

    # -- value helpers -----------------------------------------------------------------------
    def truth(self, val: Val) -> bool | None:
        val = self.plain(val)
        if not val.known:
            return None
        if isinstance(val.v, (HFObject, HFConfig, FuncRef, ClassRef, Instance, ArgNamespace)):
            return True
        if isinstance(val.v, (list, tuple, dict, set)) and not is_plain(val.v):
            return bool(len(val.v))
        if is_plain(val.v):
            return bool(val.v)
        return None

    def plain(self, val: Val) -> Val:
        """Positioned data as plain python, keeping its origin."""
        if isinstance(val.v, Positioned):
            node = val.v.node
            data = node.plain()
            if val.v.writes and isinstance(data, dict):
                data.update({k: w.v for k, w in val.v.writes.items()})
            return Val(data, val.origins or (self._origin(val.v, node),), val.expr, val.site)
        return val

    def _origin(self, pos: Positioned, node, key: str = "") -> Location:
        size = ""
        if node.is_seq:
            size = f", {len(node.value)} items"
        label = f"`{key}`" if key else "value"
        return node.anchor.with_note(f"{label} in {pos.what}{size}")

    def child(self, base: Val, key: Any, frame: Frame, *, attr: bool) -> Val:
        pos: Positioned = base.v
        if pos.writes is not None and key in pos.writes:
            return pos.writes[key]
        node = pos.node
        child = node.get(key) if (node.is_map or node.is_seq) else None
        if child is None and node.is_map and pos.composed is not None and node is pos.composed.root:
            child = pos.composed.lookup(str(key))
        if child is None:
            return UNKNOWN
        if isinstance(child.value, str) and child.value == "???":
            return UNKNOWN
        what = pos.what
        origin = child.anchor.with_note(
            f"`{key}` in {self.project.display(child.anchor.path)}" + (f", {len(child.value)} items" if child.is_seq else "")
        )
        if child.is_map or child.is_seq:
            return known(Positioned(child, what, pos.composed, pos.attr_access, pos.chosen_by), (origin,))
        return known(child.value, (origin,))

    def positioned_keys(self, pos: Positioned) -> list:
        keys = list(pos.node.value) if pos.node.is_map else []
        return keys + [k for k in (pos.writes or {}) if k not in keys]

    def _built(self, args, kwargs, frame: Frame, node) -> Built:
        starred, self._starred = getattr(self, "_starred", []), []
        return Built(list(args), dict(kwargs), frame.file.lazy_loc(node) if node is not None else None,
                     frame.file.code(node, 120) if node is not None else "",
                     tuple(p.what for p in starred), tuple(o for p in starred for o in p.chosen_by))

    def iterate(self, val: Val, frame: Frame) -> list[Val] | None:
        if isinstance(val.v, Positioned):
            node = val.v.node
            origin = val.origins or (self._origin(val.v, node),)
            if node.is_seq:
                return [
                    known(Positioned(n, val.v.what, val.v.composed, val.v.attr_access), origin) if (n.is_map or n.is_seq) else known(n.value, origin)
                    for n in node.value
                ]
            if node.is_map:
                return [known(k, origin) for k in self.positioned_keys(val.v)]
            return None
        if not val.known:
            return None
        v = val.v
        if isinstance(v, FileHandle):
            text = self.read_file_text(v.path, frame)
            if text is None or not text.known:
                return None
            return [known(line, text.origins) for line in text.v.splitlines(keepends=True)]
        if isinstance(v, dict):
            return [known(k, val.origins) for k in v]
        if isinstance(v, (list, tuple, str, set, frozenset, range)):
            if isinstance(v, (set, frozenset)):
                try:
                    v = sorted(v)
                except TypeError:
                    return None
            return [known(x, val.origins) if x is not UNKNOWN_DATA else Val(UNKNOWN_DATA, val.origins) for x in v]
        return None

    def binop(self, op: str, left: Val, right: Val) -> Val:
        left, right = self.plain(left), self.plain(right)
        if op == "Divide" and isinstance(left.v, PathStr):
            return self.torch_binop_path(left, [right])
        origins = merge_origins(left, right)
        if not (left.known and right.known):
            return Val(UNKNOWN_DATA, origins)
        a, b = left.v, right.v
        fn = _BINOPS.get(op)
        if fn is None:
            return Val(UNKNOWN_DATA, origins)
        if isinstance(a, list) and isinstance(b, list) and op == "Add":
            return known(a + b, origins)
        if not (is_plain(a) and is_plain(b)):
            if op == "Multiply" and isinstance(a, list) and isinstance(b, int):
                return known(a * b, origins)
            return Val(UNKNOWN_DATA, origins)
        try:
            result = fn(a, b)
        except Exception:
            return Val(UNKNOWN_DATA, origins)
        if isinstance(result, (str, list, tuple)) and len(result) > 1_000_000:
            return Val(UNKNOWN_DATA, origins)
        return known(result, origins)

    def getattr(self, base: Val, name: str, frame: Frame) -> Val:
        v = base.v
        torch_attr = self.torch_getattr(base, name, frame)
        if torch_attr is not None:
            return torch_attr
        if isinstance(v, ExternalRef):
            if v.qualname == "sys" and name == "argv":
                return self.sys_argv()
            return _external(f"{v.qualname}.{name}")
        if isinstance(v, ModuleRef):
            scope = self.modules.get(v.path)
            if scope is not None and name in scope.vars:
                val = scope.vars[name]
                if isinstance(val.v, LazyImport):
                    val = self._bind_lazy(scope, name, val.v)
                return val
            path = self.project.submodule(v.path, name)
            if path is not None:
                file = self.project.python(path)
                if file is not None:
                    self.run_module(file, as_main=False)
                    return known(ModuleRef(path))
            return UNKNOWN
        if isinstance(v, Positioned):
            if v.attr_access:
                return self.child(base, name, frame, attr=True)
            return known(BoundMethod(base, name))
        if isinstance(v, Instance):
            if name in v.attrs:
                return v.attrs[name]
            for cls in v.cls.mro():
                if isinstance(cls, ClassRef) and name in cls.attrs:
                    attr = cls.attrs[name]
                    if isinstance(attr.v, FuncRef):
                        return known(FuncRef(attr.v.file, attr.v.node, attr.v.env, base, attr.v.decorators))
                    return attr
            fields = v.cls.attrs.get("__fields__")
            if fields is not None and name in fields.v:
                return fields.v[name]
            if v.cls.external_bases() and name in MODULE_METHODS:
                return known(BoundMethod(base, name))  # nn.Module methods: to(), state_dict()...
            return UNKNOWN
        if isinstance(v, ClassRef):
            for cls in v.mro():
                if isinstance(cls, ClassRef) and name in cls.attrs:
                    return cls.attrs[name]
            if v.external_bases():
                return known(BoundMethod(base, name))
            return UNKNOWN
        if isinstance(v, ArgNamespace):
            return v.fields.get(name, UNKNOWN)
        if isinstance(v, HFConfig):
            if name in v.attrs:
                return v.attrs[name]
            if name in v.kwargs:
                return v.kwargs[name]
            from_file = self.config_file_value(v, name)
            if from_file is not None:
                return from_file
            return known(BoundMethod(base, name))
        if base.known:
            return known(BoundMethod(base, name))
        return UNKNOWN

    def sys_argv(self) -> Val:
        """Known only when a launch script says how the script runs."""
        if self.scenario.shell is None:
            return UNKNOWN
        words = [str(self.scenario.entry)] + [tok.text for tok in self.scenario.argv]
        if any(w is None for w in words):
            return UNKNOWN
        origin = self.scenario.origin.with_note(f"the command line in {self.project.display(self.scenario.shell)}")
        return known(words, (origin,), "sys.argv")

    def getitem(self, base: Val, key: Val, frame: Frame) -> Val:
        item = self.checkpoint_item(base, key)
        if item is not None:
            return item
        if isinstance(base.v, Positioned):
            if not key.known:
                return UNKNOWN
            return self.child(base, key.v, frame, attr=False)
        if isinstance(base.v, ArgNamespace) and key.known:
            return base.v.fields.get(key.v, UNKNOWN)
        if isinstance(base.v, HFConfig) and key.known and key.v in base.v.kwargs:
            return base.v.kwargs[key.v]
        if not (base.known and key.known):
            return Val(UNKNOWN_DATA, merge_origins(base))
        try:
            item = base.v[key.v]
        except Exception:
            return Val(UNKNOWN_DATA, base.origins)
        if item is UNKNOWN_DATA:
            return Val(UNKNOWN_DATA, base.origins)
        return known(item, base.origins)

    # -- calls -------------------------------------------------------------------------------
    def eval_call(self, node, scope: Scope, frame: Frame) -> Val:
        func = self.eval(node.func, scope, frame)
        args: list[Val] = []
        kwargs: dict[str, Val] = {}
        starred_sources: list[Positioned] = []
        for arg in node.args:
            val = self.eval(arg.value, scope, frame)
            if not val.expr:
                val = val.with_expr(frame.file.code(arg.value), frame.file.lazy_loc(arg.value))
            if arg.star == "*":
                items = self.iterate(val, frame)
                if items is None:
                    args.append(Val(UNKNOWN_DATA, (), "*" + frame.file.code(arg.value)))
                else:
                    args.extend(items)
            elif arg.star == "**" and isinstance(val.v, Positioned) and val.v.node.is_map:
                for k in self.positioned_keys(val.v):
                    kwargs[str(k)] = self.child(val, k, frame, attr=False).with_expr(
                        f"{frame.file.code(arg.value)}[{k!r}]", frame.file.lazy_loc(arg.value))
                starred_sources.append(val.v)
            elif arg.star == "**":
                val = self.plain(val)
                if isinstance(val.v, dict):
                    for k, x in val.v.items():
                        kwargs[str(k)] = known(x, val.origins, f"{frame.file.code(arg.value)}[{k!r}]", val.site)
                else:
                    kwargs["**"] = UNKNOWN
            elif arg.keyword is not None:
                kwargs[arg.keyword.value] = val
            else:
                args.append(val)
        self._starred = starred_sources
        self._call_scope = scope  # read by adapter loads (evaluate_models): the names a fix may use there
        result = self.call(func, args, kwargs, frame, node=node)
        if result.known and not result.expr:
            result = result.with_expr(frame.file.code(node), frame.file.lazy_loc(node))
        return result

    def call(self, func: Val, args: list[Val], kwargs: dict[str, Val], frame: Frame, *, node) -> Val:
        v = func.v
        if isinstance(v, Builtin):
            return self.call_builtin(v.name, args, kwargs, frame)
        if isinstance(v, FuncRef):
            if v.hydra is not None and not args:
                return self.call_hydra_main(v, frame)
            return self.call_function(v, args, kwargs, frame, self_val=v.bound_self)
        if isinstance(v, ClassRef):
            return self.instantiate(func, args, kwargs, frame, node=node)
        if isinstance(v, BoundMethod):
            return self.call_method(v, args, kwargs, frame, node=node)
        if isinstance(v, ExternalRef):
            return self.call_external(v, args, kwargs, frame, node=node)
        return UNKNOWN

    def call_function(self, func: FuncRef, args: list[Val], kwargs: dict[str, Val], frame: Frame, *,
                      self_val: Val | None = None, unknown_params: bool = False) -> Val:
        if frame.depth >= MAX_DEPTH or id(func.node) in [id(c["node"]) for c in self.call_stack]:
            return UNKNOWN
        node = func.node
        local = Scope(func.env, func.file)
        params = node.params
        self._bind_params(params, args, kwargs, local, Frame(func.file, frame.depth + 1), self_val, unknown_params)
        self.visited_funcs.add(id(node))
        if isinstance(node, cst.Lambda):
            return self.eval(node.body, local, Frame(func.file, frame.depth + 1))
        self.call_stack.append({"node": node, "early": []})
        try:
            self.exec_block(self._body(node), local, Frame(func.file, frame.depth + 1))
            result = known(None)
        except _Return as ret:
            result = ret.value
        except _Dead:
            result = UNKNOWN
        except (_Break, _Continue, _LoopUncertain):
            result = UNKNOWN
        finally:
            ctx = self.call_stack.pop()
        if ctx["early"] and not all(same(result, r) for r in ctx["early"]):
            return UNKNOWN
        return result

    def _bind_params(self, params, args, kwargs, local: Scope, frame: Frame, self_val, unknown_params) -> None:
        positional = list(params.posonly_params) + list(params.params)
        given = list(args)
        if self_val is not None:
            given = [self_val] + given
        for i, param in enumerate(positional):
            name = param.name.value
            if i < len(given):
                local.vars[name] = given[i]
            elif name in kwargs:
                local.vars[name] = kwargs.pop(name)
            elif param.default is not None and not unknown_params:
                local.vars[name] = self.eval(param.default, local.parent or local, frame)
            else:
                local.vars[name] = UNKNOWN
        if isinstance(params.star_arg, cst.Param):
            extra = given[len(positional):]
            local.vars[params.star_arg.name.value] = known([a.v for a in extra]) if not unknown_params else UNKNOWN
        for param in params.kwonly_params:
            name = param.name.value
            if name in kwargs:
                local.vars[name] = kwargs.pop(name)
            elif param.default is not None and not unknown_params:
                local.vars[name] = self.eval(param.default, local.parent or local, frame)
            else:
                local.vars[name] = UNKNOWN
        if params.star_kwarg is not None:
            rest = {k: x.v for k, x in kwargs.items() if k != "**"}
            local.vars[params.star_kwarg.name.value] = known(rest) if "**" not in kwargs and not unknown_params else UNKNOWN

    def instantiate(self, cls_val: Val, args, kwargs, frame: Frame, *, node) -> Val:
        cls: ClassRef = cls_val.v
        ext = cls.external_bases()
        if any(is_hf_external(e) for e in ext) and not any(
            isinstance(c, ClassRef) and "__init__" in c.attrs for c in cls.mro()
        ):
            return UNKNOWN
        inst = Instance(cls, {}, self._built(args, kwargs, frame, node))
        inst_val = known(inst, (), cls.name)
        if cls.is_dataclass:
            fields = cls.attrs.get("__fields__")
            names = list(fields.v) if fields is not None else []
            for name in names:
                inst.attrs[name] = fields.v[name]
            for name, val in zip(names, args):
                inst.attrs[name] = val
            for name, val in kwargs.items():
                inst.attrs[name] = val
            return inst_val
        for c in cls.mro():
            if isinstance(c, ClassRef) and "__init__" in c.attrs and isinstance(c.attrs["__init__"].v, FuncRef):
                init = c.attrs["__init__"].v
                self.call_function(init, args, dict(kwargs), frame, self_val=inst_val)
                break
        return inst_val

    def call_method(self, bm: BoundMethod, args, kwargs, frame: Frame, *, node) -> Val:
        target, name = bm.target, bm.name
        tv = target.v
        if isinstance(tv, ClassRef):  # classmethod-like call on a project class with library bases
            if name == "from_pretrained" or name == "from_config":
                return self.hf_load(target, name, args, kwargs, frame, node=node)
            return UNKNOWN
        handled = self.torch_method(target, name, args, kwargs, frame, node=node)
        if handled is not None:
            return handled
        if isinstance(tv, Positioned):
            return self.call_positioned_method(target, name, args, frame)
        if isinstance(tv, HFConfig):
            if name == "update" and args and isinstance(self.plain(args[0]).v, dict):
                for k, x in self.plain(args[0]).v.items():
                    tv.attrs[str(k)] = known(x, args[0].origins, args[0].expr, args[0].site)
            return known(None)
        if isinstance(tv, ArgParser):
            return self.call_parser(target, name, args, kwargs, frame)
        if isinstance(tv, FileHandle):
            text = self.read_file_text(tv.path, frame)
            if text is None or not text.known:
                return UNKNOWN
            if name == "read":
                return text
            if name == "readlines":
                return known(text.v.splitlines(keepends=True), text.origins)
            return UNKNOWN
        if isinstance(tv, HFObject):
            self.project.record_method(self, tv, name, args, kwargs, frame, node)
            return self.hf_method(target, name, args, kwargs, frame, node=node)
        if isinstance(tv, HFConfig) and name == "from_pretrained":
            return self.hf_load(known(ExternalRef(tv.cls_name)), name, args, kwargs, frame, node=node)
        return self.call_data_method(target, name, args, kwargs)


_WRITTEN: dict[int, tuple[Any, frozenset[str]]] = {}  # id(first statement) -> (it, names): loops re-run


def _names_written(body) -> set[str]:
    """Names a block may rebind or mutate: assignment targets and receivers of methods/items."""
    key = id(body[0]) if body else 0
    hit = _WRITTEN.get(key)
    if hit is not None and hit[0] is (body[0] if body else None) and len(_WRITTEN) < 100_000:
        return set(hit[1])
    names = _names_written_walk(body)
    if body and len(_WRITTEN) < 100_000:
        _WRITTEN[key] = (body[0], frozenset(names))
    return names


def _names_written_walk(body) -> set[str]:
    names: set[str] = set()

    def base_name(expr) -> None:
        while isinstance(expr, (cst.Attribute, cst.Subscript)):
            expr = expr.value
        if isinstance(expr, cst.Name):
            names.add(expr.value)
        elif isinstance(expr, (cst.Tuple, cst.List)):
            for el in expr.elements:
                base_name(el.value)
        elif isinstance(expr, cst.StarredElement):
            base_name(expr.value)

    stack = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, (cst.FunctionDef, cst.ClassDef)):
            names.add(node.name.value)
            continue
        if isinstance(node, (cst.AssignTarget, cst.AugAssign, cst.AnnAssign, cst.For, cst.NamedExpr)):
            base_name(node.target)
        elif isinstance(node, cst.WithItem) and node.asname is not None:
            base_name(node.asname.name)
        elif isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
            base_name(node.func.value)
        stack.extend(node.children)
    return names


def _dotted(node) -> str:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return f"{_dotted(node.value)}.{node.attr.value}"
    return ""


_COMPARE = {
    "Equal": lambda a, b: a == b,
    "NotEqual": lambda a, b: a != b,
    "LessThan": lambda a, b: a < b,
    "GreaterThan": lambda a, b: a > b,
    "LessThanEqual": lambda a, b: a <= b,
    "GreaterThanEqual": lambda a, b: a >= b,
    "In": lambda a, b: a in b,
    "NotIn": lambda a, b: a not in b,
}

_BINOPS = {
    "Add": lambda a, b: a + b,
    "Subtract": lambda a, b: a - b,
    "Multiply": lambda a, b: a * b,
    "Divide": lambda a, b: a / b,
    "FloorDivide": lambda a, b: a // b,
    "Modulo": lambda a, b: a % b,
    "Power": lambda a, b: a ** b if abs(b) < 64 else (_ for _ in ()).throw(OverflowError()),
}
