"""How the evaluator computes with plain data: builtins (len, sorted, enumerate, ...) and the
methods of lists, dicts, strings and positioned YAML/JSON data."""

from __future__ import annotations

from typing import TYPE_CHECKING


from .values import (
    UNKNOWN,
    UNKNOWN_DATA,
    FileHandle,
    HFObject,
    Positioned,
    Val,
    is_plain,
    known,
    merge_origins,
)

if TYPE_CHECKING:  # pragma: no cover
    from .evaluate import Frame

MAX_LOOP = 2000  # iterations unrolled per loop


class DataCalls:
    """Mixed into the Evaluator."""

    def call_data_method(self, target: Val, name: str, args: list[Val], kwargs: dict[str, Val]) -> Val:
        tv = target.v
        args = [self.plain(a) for a in args]
        origins = merge_origins(target, *args)
        if isinstance(tv, list):
            if name == "append" and len(args) == 1:
                tv.append(args[0].v)
                target.origins = origins
                return known(None)
            if name == "extend" and len(args) == 1:
                items = self.iterate(args[0], None)
                if items is None:
                    target.v = UNKNOWN_DATA
                else:
                    tv.extend(i.v for i in items)
                    target.origins = origins
                return known(None)
            if name == "insert" and len(args) == 2 and args[0].known:
                tv.insert(args[0].v, args[1].v)
                target.origins = origins
                return known(None)
            if name in ("pop", "remove", "clear", "sort", "reverse"):
                if all(a.known for a in args) and is_plain(tv):
                    try:
                        result = getattr(tv, name)(*[a.v for a in args])
                        return known(result, origins) if result is not None else known(None)
                    except Exception:
                        pass
                target.v = UNKNOWN_DATA
                return UNKNOWN
            if name in ("index", "count", "copy") and all(a.known for a in args):
                try:
                    return known(getattr(tv, name)(*[a.v for a in args]), origins)
                except Exception:
                    return UNKNOWN
            return UNKNOWN
        if isinstance(tv, dict):
            if name in ("keys", "values", "items"):
                return known(list(getattr(tv, name)()), origins)
            if name == "get" and args and args[0].known:
                if args[0].v in tv:
                    return known(tv[args[0].v], origins)
                return args[1] if len(args) > 1 else known(None)
            if name == "update" and len(args) == 1 and isinstance(args[0].v, dict):
                tv.update(args[0].v)
                target.origins = origins
                return known(None)
            if name == "setdefault" and args and args[0].known:
                return known(tv.setdefault(args[0].v, args[1].v if len(args) > 1 else None), origins)
            if name == "copy":
                return known(dict(tv), origins)
            return UNKNOWN
        if isinstance(tv, str) and name in _STR_METHODS:
            if not all(a.known and is_plain(a.v) for a in args):
                return UNKNOWN
            try:
                kw = {k: self.plain(x).v for k, x in kwargs.items()}
                if name == "format":
                    if not all(is_plain(x) for x in kw.values()):
                        return UNKNOWN
                return known(getattr(tv, name)(*[a.v for a in args], **kw), origins)
            except Exception:
                return UNKNOWN
        return UNKNOWN

    def _isinstance(self, obj: Val, types: Val) -> Val:
        """isinstance(x, str) / (int, float) on plain known data; unknown for anything else."""
        from .values import Builtin

        names = [t.name if isinstance(t, Builtin) else None
                 for t in (types.v if isinstance(types.v, tuple) else (types.v,))]
        table = {"str": str, "int": int, "float": float, "bool": bool, "list": list, "dict": dict,
                 "tuple": tuple, "set": set}
        obj = self.plain(obj)
        if not obj.known or not is_plain(obj.v) or not names or any(n not in table for n in names):
            return UNKNOWN
        return known(isinstance(obj.v, tuple(table[n] for n in names)))

    def call_positioned_method(self, target: Val, name: str, args: list[Val], frame: Frame) -> Val:
        if name == "get" and args:
            key = self.plain(args[0])
            if key.known:
                child = self.child(target, key.v, frame, attr=False)
                if child.known:
                    return child
                return args[1] if len(args) > 1 else known(None)
            return UNKNOWN
        if name in ("keys", "values", "items"):
            plain = self.plain(target)
            if isinstance(plain.v, dict):
                return known(list(getattr(plain.v, name)()), plain.origins)
        return UNKNOWN

    def call_builtin(self, name: str, args: list[Val], kwargs: dict[str, Val], frame: Frame) -> Val:
        if name == "len" and len(args) == 1:
            arg = args[0]
            if isinstance(arg.v, Positioned):
                node = arg.v.node
                if node.is_map or node.is_seq:
                    origin = arg.origins or (self._origin(arg.v, node),)
                    return known(len(node.value), origin)
                return UNKNOWN
            if isinstance(arg.v, FileHandle):
                return UNKNOWN
            if isinstance(arg.v, HFObject):
                return self.hf_len(arg)
            if arg.known and isinstance(arg.v, (list, tuple, dict, set, str, frozenset, range)):
                return known(len(arg.v), arg.origins)
            return Val(UNKNOWN_DATA, arg.origins)
        if name == "open":
            if args:
                mode = self.plain(args[1]).v if len(args) > 1 else self.plain(kwargs.get("mode", known("r"))).v
                return known(FileHandle(args[0], mode if isinstance(mode, str) else "r"))
            return UNKNOWN
        if name == "isinstance" and len(args) == 2:
            return self._isinstance(args[0], args[1])
        if name in ("print", "isinstance", "hasattr", "type", "super", "getattr"):
            return UNKNOWN
        if name == "range":
            vals = [self.plain(a) for a in args]
            if all(v.known and isinstance(v.v, int) for v in vals) and 0 < len(vals) <= 3:
                r = range(*[v.v for v in vals])
                if len(r) <= MAX_LOOP:
                    return known(list(r), merge_origins(*vals))
            return UNKNOWN
        if name in ("enumerate", "zip", "sorted", "reversed", "list", "tuple", "set", "frozenset", "dict", "map", "filter"):
            return self._call_collection(name, args, kwargs, frame)
        if name in ("int", "float", "str", "bool", "abs", "round", "min", "max", "sum", "any", "all"):
            vals = [self.plain(a) for a in args]
            if name in ("min", "max", "sum", "any", "all") and len(vals) == 1:
                items = self.iterate(vals[0], frame)
                if items is None:
                    return Val(UNKNOWN_DATA, vals[0].origins)
                vals = [known([i.v for i in items], vals[0].origins)]
            if not vals and name in ("int", "float", "str", "bool"):
                return known({"int": 0, "float": 0.0, "str": "", "bool": False}[name])
            if all(v.known and is_plain(v.v) for v in vals):
                try:
                    return known(_PY_BUILTINS[name](*[v.v for v in vals]), merge_origins(*vals))
                except Exception:
                    return Val(UNKNOWN_DATA, merge_origins(*vals))
            return Val(UNKNOWN_DATA, merge_origins(*vals))
        return UNKNOWN

    def _call_collection(self, name: str, args: list[Val], kwargs: dict[str, Val], frame: Frame) -> Val:
        if name in ("map", "filter"):
            return UNKNOWN
        if not args:
            return known({"list": [], "tuple": (), "set": set(), "frozenset": frozenset(), "dict": {}}.get(name))
        if name == "dict" and isinstance(self.plain(args[0]).v, dict):
            return known(dict(self.plain(args[0]).v), args[0].origins)
        seqs = [self.iterate(a, frame) for a in args]
        if any(s is None for s in seqs):
            return Val(UNKNOWN_DATA, merge_origins(*args))
        origins = merge_origins(*args)
        values = [[i.v for i in s] for s in seqs]
        if any(x is UNKNOWN_DATA for seq in values for x in seq) and name in ("sorted", "set", "frozenset", "dict"):
            return Val(UNKNOWN_DATA, origins)
        try:
            if name == "enumerate":
                start = self.plain(args[1]).v if len(args) > 1 else self.plain(kwargs.get("start", known(0))).v
                return known([(start + i, x) for i, x in enumerate(values[0])], origins)
            if name == "zip":
                return known([tuple(t) for t in zip(*values)], origins)
            if name == "sorted":
                reverse = kwargs.get("reverse")
                if "key" in kwargs:
                    return Val(UNKNOWN_DATA, origins)
                return known(sorted(values[0], reverse=bool(reverse and self.plain(reverse).v)), origins)
            if name == "reversed":
                return known(list(reversed(values[0])), origins)
            if name == "list":
                return known(list(values[0]), origins)
            if name == "tuple":
                return known(tuple(values[0]), origins)
            if name in ("set", "frozenset"):
                return known(set(values[0]), origins)
            if name == "dict":
                return known(dict(values[0]), origins)
        except Exception:
            return Val(UNKNOWN_DATA, origins)
        return UNKNOWN


_PY_BUILTINS = {
    "int": int, "float": float, "str": str, "bool": bool, "abs": abs, "round": round,
    "min": min, "max": max, "sum": sum, "any": any, "all": all,
}

_STR_METHODS = {
    "split", "rsplit", "strip", "lstrip", "rstrip", "lower", "upper", "replace", "join", "format",
    "startswith", "endswith", "splitlines", "title", "capitalize", "zfill", "removeprefix", "removesuffix",
}
