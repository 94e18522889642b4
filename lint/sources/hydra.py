"""Compose a Hydra config statically: defaults lists, packages, `_self_`, overrides, interpolation.

Follows Hydra's own rules for the pinned version: 1.0 (legacy: group options without a
`# @package` header land at the root, defaults override the primary config) or 1.1+ (options
land in their group's package, a config's own keys win over its defaults list). Nothing is
executed; every value keeps the file and line it came from. Problems are collected, never raised.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..diagnostics import Location, ReadProblem
from ..textio import ReadError, read_text
from .tree import Node, mapping, scalar
from .yaml_reader import load_yaml

MAX_NESTING = 32
MISSING = "???"
_HEADER = re.compile(r"#\s*@(\w+)\s+(\S+)\s*$")
_OVERRIDE = re.compile(r"(~|\+\+|\+)?([^=]+?)(?:=(.*))?", re.S)
_INTERPOLATION = re.compile(r"\$\{([^${}]*)\}")
_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


@dataclass
class Composed:
    root: Node | None  # merged mapping; every leaf keeps the Location it was written at
    files: list[Path] = field(default_factory=list)  # every config file read
    problems: list[ReadProblem] = field(default_factory=list)
    group_nodes: list[tuple[str, Node]] = field(default_factory=list)  # (group path, option content)

    def lookup(self, dotted: str | list[str]) -> Node | None:
        """The node at a dotted path, interpolations resolved; None if absent or `???`.

        A key missing at its composed path is looked for in the composed group options, most
        recent first (code written for Hydra 1.0 reads `cfg.bert_model` that 1.1 puts under
        `hydra.model`); such a result carries `meta["fallback"]` = the group path.
        """
        keys = dotted.split(".") if isinstance(dotted, str) else [str(k) for k in dotted]
        node = self._walk(self.root, keys, [], 0)
        if node is None:
            node = self._fallback(keys, 0)
        return self._resolve(node, keys, 0)

    # -- lookup helpers ----------------------------------------------------------------------
    def _walk(self, node: Node | None, keys: list[str], prefix: list[str], depth: int) -> Node | None:
        for i, key in enumerate(keys):
            node = self._resolve(node, prefix + keys[:i], depth)
            if node is None:
                return None
            if node.is_seq and re.fullmatch(r"-?\d+", key):
                node = node.get(int(key))
            else:
                node = node.get(key) if node.is_map else None
        return node

    def _fallback(self, keys: list[str], depth: int) -> Node | None:
        for group, option in reversed(self.group_nodes):
            group_keys = group.split("/")
            found = self._walk(option, keys, [], depth)
            if found is None and keys[:len(group_keys)] == group_keys:
                found = self._walk(option, keys[len(group_keys):], [], depth)
            if found is not None:
                return replace(found, meta={**found.meta, "fallback": group})
        return None

    def _resolve(self, node: Node | None, path: list[str], depth: int) -> Node | None:
        """Follow `${...}` in a scalar; a value that is exactly `???` is None."""
        if node is None or node.tag or not isinstance(node.value, str):
            return node
        value = node.value
        if value == MISSING:
            return None
        if "${" not in value or depth > 20:
            return node
        exact = _INTERPOLATION.fullmatch(value)
        if exact:
            found, target = self._target(exact.group(1), path, depth)
            return target if found else node
        pieces = []
        for match in _INTERPOLATION.finditer(value):
            found, target = self._target(match.group(1), path, depth)
            if found and target is None:
                return None  # refers to a `???`
            if target is None or target.tag:
                return node
            pieces.append((match.span(), _text(target.value)))
        for (start, end), text in reversed(pieces):
            value = value[:start] + text + value[end:]
        return Node(value, node.loc, node.key_loc, "", {**node.meta, "interpolated": node.value})

    def _target(self, expr: str, path: list[str], depth: int) -> tuple[bool, Node | None]:
        """(found, resolved node): a found target resolves to None when it is `???`."""
        expr = expr.strip()
        if ":" in expr or not expr:  # resolvers (${oc.env:X}, ${now:...}) are runtime-only
            return False, None
        dots = len(expr) - len(expr.lstrip("."))
        keys = expr.lstrip(".").split(".")
        if dots:  # relative: ${.sibling}, ${..uncle}
            keys = path[:max(0, len(path) - dots)] + keys
        node = self._walk(self.root, keys, [], depth + 1)
        if node is None:
            node = self._fallback(keys, depth + 1)
        return node is not None, self._resolve(node, keys, depth + 1)


def _text(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return "null" if value is None else str(value)


def compose(
    config_dir: Path,
    config_name: str,
    *,
    hydra_version: tuple[int, int] | None = None,
    overrides: Iterable[str] = (),
    override_locs: dict[str, Location] | None = None,
) -> Composed:
    """Compose `config_name` from `config_dir` as the given Hydra version would (None: 1.1+).

    `overrides` are command-line overrides; `override_locs` maps each override string to the
    place (e.g. a shell script line) its value is blamed on.
    """
    legacy = hydra_version is not None and tuple(hydra_version) < (1, 1)
    return _Composer(Path(config_dir).absolute(), legacy, override_locs or {}).run(config_name, list(overrides))


# -- defaults lists ---------------------------------------------------------------------------
@dataclass
class _Entry:
    """One defaults-list entry."""

    kind: str  # "self", "config" (a config path) or "group"
    loc: Location
    path: str = ""  # config path, or group path, as written (may start with "/")
    name: str | list[str] | None = None  # a group's option(s); None: null / deleted
    package: str | None = None  # @package from the entry
    optional: bool = False
    override: bool = False
    external: bool = False  # appended from the command line (+group=option)


@dataclass
class _Config:
    """A loaded config file."""

    path: Path
    content: Node | None  # without its defaults list
    defaults: list[_Entry]
    header: str | None  # the `# @package` header


@dataclass
class _Item:
    """Content to merge, in composition order."""

    node: Node
    package: str
    group: str | None  # the group path when it came from a group default
    config: str


def _split_package(spec: str) -> tuple[str, str | None]:
    """`group@pkg` (or Hydra 1.0's `group@pkg1:pkg2`, renamed to pkg2)."""
    group, _, package = spec.partition("@")
    if ":" in package:
        package = package.split(":", 1)[1]
    return group, package or None


class _Composer:
    def __init__(self, config_dir: Path, legacy: bool, override_locs: dict[str, Location]):
        self.dir = config_dir
        self.legacy = legacy
        self.override_locs = override_locs
        self.result = Composed(None)
        self.cache: dict[str, _Config | None] = {}
        self.choices: dict[str, str | list[str] | None] = {}
        self.deletions: dict[str, str | None] = {}
        self.appends: list[_Entry] = []
        self.stack: list[str] = []

    def run(self, config_name: str, overrides: list[str]) -> Composed:
        config_name = re.sub(r"\.ya?ml$", "", config_name).strip("/")
        primary = self._load(config_name)
        if primary is None:
            self.result.problems.append(ReadProblem(self.dir / f"{config_name}.yaml", "primary Hydra config not found"))
            return self.result
        key_overrides = self._parse_overrides(overrides, primary.path)
        group = config_name.rpartition("/")[0]
        package = self._package(None, primary.header, group, group, "", config_name)
        items = self._expand(config_name, primary, package, None, primary=True)
        root = mapping({}, Location(primary.path, 1, 1))
        for item in items:
            root = self._merge_item(root, item)
        for kind, keys, node in key_overrides:
            root = _set(root, keys, None if kind == "~" else node)
        self.result.root = root
        return self.result

    # -- loading -------------------------------------------------------------------------------
    def _load(self, config: str) -> _Config | None:
        """The config at `group/name`, cached; None if there is no such file."""
        if config in self.cache:
            return self.cache[config]
        path = next((p for p in (self.dir / f"{config}.yaml", self.dir / f"{config}.yml") if p.is_file()), None)
        loaded = None if path is None else self._read(path)
        self.cache[config] = loaded
        return loaded

    def _read(self, path: Path) -> _Config:
        self.result.files.append(path)
        try:
            text = read_text(path)
            node = load_yaml(path, text)
        except ReadError as exc:
            self.result.problems.append(ReadProblem(path, exc.reason, exc.line, exc.column))
            return _Config(path, None, [], None)
        defaults: list[_Entry] = []
        if node is not None and node.is_map and "defaults" in node.value:
            defaults = self._entries(node.value["defaults"])
            node = mapping({k: v for k, v in node.value.items() if k != "defaults"}, node.loc, node.key_loc)
        return _Config(path, node, defaults, _header(text))

    def _entries(self, node: Node) -> list[_Entry]:
        if not node.is_seq:
            self._problem(node.loc, "the defaults list must be a list")
            return []
        entries = []
        for item in node.value:
            entry = self._entry(item)
            if entry is None:
                self._problem(item.loc, f"unsupported defaults entry {item.plain()!r}")
            elif entry.kind != "skip":
                entries.append(entry)
        return entries

    def _entry(self, item: Node) -> _Entry | None:
        if not item.tag and isinstance(item.value, str):
            text = item.value.strip()
            if text == "_self_":
                return _Entry("self", item.loc)
            if text.startswith("~"):  # Hydra 1.0 deletion
                self.deletions.setdefault(text[1:], None)
                return _Entry("skip", item.loc)
            path, package = _split_package(text)
            return _Entry("config", item.loc, path, path.rpartition("/")[2], package)
        if not item.is_map:
            return None
        optional = item.value.get("optional")
        keys = [k for k in item.value if k != "optional"]
        if len(keys) != 1:
            return None
        words = keys[0].split()
        value = item.value[keys[0]].plain()
        if not words or not (value is None or isinstance(value, str) or _str_list(value)):
            return None
        flags = set(words[:-1])
        group, package = _split_package(words[-1])
        if group.startswith("~"):
            self.deletions.setdefault(group[1:], value)
            return _Entry("skip", item.loc)
        return _Entry(
            "group", item.loc, group, value, package,
            optional="optional" in flags or bool(optional and optional.value is True),
            override="override" in flags,
        )

    # -- overrides -----------------------------------------------------------------------------
    def _parse_overrides(self, overrides: list[str], primary: Path) -> list[tuple[str, list[str], Node]]:
        """Record group overrides; return key overrides as (prefix, keys, value node)."""
        keyed = []
        for text in overrides:
            match = _OVERRIDE.fullmatch(text.strip())
            loc = self.override_locs.get(text) or Location(primary, 1, 1, note=f"command-line override {text!r}")
            if not match or (match.group(3) is None and match.group(1) != "~"):
                self._problem(loc, f"unsupported Hydra override {text!r}")
                continue
            prefix, key, raw = match.group(1) or "", match.group(2).strip(), match.group(3)
            value = _override_value(raw or "", loc)
            group, package = _split_package(key)
            if "/" in group or (self.dir / group).is_dir():
                self._group_override(prefix, key, group, package, value, loc)
            else:
                keyed.append((prefix, key.split("."), value))
        return keyed

    def _group_override(
        self, prefix: str, key: str, group: str, package: str | None, value: Node, loc: Location
    ) -> None:
        name = value.plain()
        if prefix == "~":
            self.deletions[key.lstrip("/")] = name if isinstance(name, str) and name else None
        elif prefix == "+":
            self.appends.append(_Entry("group", loc, "/" + group, name, package, external=True))
        else:
            self.choices[key.lstrip("/")] = name

    # -- expansion -------------------------------------------------------------------------------
    def _expand(
        self, config: str, loaded: _Config, package: str, group: str | None, primary: bool = False
    ) -> list[_Item]:
        """The items a config contributes: its defaults and its own content, in merge order."""
        if config in self.stack or len(self.stack) >= MAX_NESTING:
            self._problem(Location(loaded.path), f"defaults list recursion through '{config}'")
            return []
        own = [_Item(loaded.content, package, group, config)] if loaded.content is not None else []
        entries = list(loaded.defaults)
        if not any(e.kind == "self" for e in entries):  # 1.0: defaults override the config; 1.1+: the reverse
            own_entry = _Entry("self", Location(loaded.path))
            entries = [own_entry, *entries] if self.legacy else [*entries, own_entry]
        if primary:
            entries += self.appends
        base = config.rpartition("/")[0]
        for entry in entries:
            if entry.override and entry.kind == "group":
                self.choices.setdefault(self._key(entry, base), entry.name)
        self.stack.append(config)
        chunks = []
        for entry in reversed(entries):  # as Hydra: later siblings' overrides reach earlier ones
            if entry.kind == "self":
                chunks.append(own)
            elif not entry.override:
                chunks.append(self._expand_entry(entry, base, package))
        self.stack.pop()
        return [item for chunk in reversed(chunks) for item in chunk]

    def _group_path(self, entry: _Entry, base: str) -> str:
        path = entry.path if entry.kind == "group" else entry.path.rpartition("/")[0]
        if path.startswith("/") or entry.external or not base:
            return path.lstrip("/")
        return f"{base}/{path}" if path else base

    def _key(self, entry: _Entry, base: str) -> str:
        """How overrides name a group default: `group` or `group@package`."""
        return self._group_path(entry, base) + (f"@{entry.package}" if entry.package else "")

    def _expand_entry(self, entry: _Entry, base: str, parent_package: str) -> list[_Item]:
        group = self._group_path(entry, base)
        if entry.kind == "config":
            names: list = [entry.name]
        else:
            key = self._key(entry, base)
            deleted = self.deletions.get(key, False)
            if deleted is None or deleted == entry.name:
                return []
            chosen = self.choices.get(key, entry.name)
            names = chosen if isinstance(chosen, list) else [chosen]
        items = []
        for name in names:
            if not isinstance(name, str) or name == MISSING or "${" in name:
                continue  # null placeholder, mandatory `???`, or a runtime interpolation
            config = f"{group}/{name}" if group else name
            loaded = self._load(config)
            if loaded is None:
                if not entry.optional and not config.startswith("hydra/"):  # Hydra or a plugin may provide it
                    self._problem(entry.loc, f"defaults entry '{config}': no {config}.yaml in {self.dir}")
                continue
            relative = entry.path.lstrip("/") if entry.kind == "group" else entry.path.lstrip("/").rpartition("/")[0]
            parent = "" if entry.external else parent_package
            package = self._package(entry.package, loaded.header, relative, group, parent, name)
            group_key = group if entry.kind == "group" else None
            items += self._expand(config, loaded, package, group_key)
        return items

    def _package(
        self, package: str | None, header: str | None, relative: str, group: str, parent: str, name: str
    ) -> str:
        """Where a config's content goes, as a dotted path ("" = the root)."""
        group_pkg = group.replace("/", ".")
        if self.legacy:  # Hydra 1.0: absolute packages, no header = _global_
            result = (package or header or "_global_").replace("_group_", group_pkg).replace("_name_", name)
            return "" if result == "_global_" else result.replace("_global_.", "")
        if package is not None:
            package = "" if package == "_here_" else package
            if "_group_" in package:
                package = "_global_." + package.replace("_group_", group_pkg)
        elif header is not None and header != "_group_":  # headers are absolute
            header = header.replace("_group_", group_pkg)
            package = header if header.startswith("_global_") else f"_global_.{header}"
        if package is None:
            package = relative.replace("/", ".")
        package = package.replace("_name_", name)
        joined = ".".join(p for p in (parent, package) if p)
        cut = joined.rfind("_global_")
        return joined if cut < 0 else joined[cut + len("_global_") + 1:]

    # -- merging -------------------------------------------------------------------------------
    def _merge_item(self, root: Node, item: _Item) -> Node:
        node = item.node
        if item.group is not None:
            meta = {**node.meta, "package": item.package, "config": item.config}
            self.result.group_nodes.append((item.group, Node(node.value, node.loc, None, node.tag, meta)))
        keys = item.package.split(".") if item.package else []
        if not keys and not node.is_map:
            self._problem(node.loc, f"config '{item.config}' is not a mapping; not merged")
            return root
        for key in reversed(keys):
            node = mapping({key: node}, node.loc)
        return _merge(root, node)

    def _problem(self, loc: Location, reason: str) -> None:
        self.result.problems.append(ReadProblem(loc.path, reason, loc.line, loc.column))


def _merge(base: Node, incoming: Node) -> Node:
    """OmegaConf-style merge: mappings merge deeply; lists and scalars replace; `???` never wins."""
    if not (base.is_map and incoming.is_map):
        return base if _is_missing(incoming) and not _is_missing(base) else incoming
    items = dict(base.value)
    for key, value in incoming.value.items():
        items[key] = _merge(items[key], value) if key in items else value
    return Node(items, incoming.loc, incoming.key_loc or base.key_loc, "map", incoming.meta)


def _set(root: Node, keys: list[str], value: Node | None) -> Node:
    """A copy of `root` with `keys` set to `value` (None deletes)."""
    head, rest = keys[0], keys[1:]
    items = dict(root.value) if root.is_map else {}
    if rest:
        child = items.get(head)
        items[head] = _set(child if child is not None and child.is_map else mapping({}, root.loc), rest, value)
    elif value is None:
        items.pop(head, None)
    else:
        items[head] = Node(value.value, value.loc, value.loc, value.tag, value.meta)
    return Node(items, root.loc, root.key_loc, "map", root.meta)


def _is_missing(node: Node) -> bool:
    return not node.tag and node.value == MISSING


def _override_value(text: str, loc: Location) -> Node:
    """A command-line value: YAML scalars and flow collections, every node placed at `loc`."""
    if text.strip() == "":
        return scalar("", loc)
    try:
        node = load_yaml(loc.path, text)
    except ReadError:
        node = None
    if node is None:
        node = scalar(text, loc)
    return _relocate(node, loc)


def _relocate(node: Node, loc: Location) -> Node:
    if node.is_map:
        value = {k: _relocate(v, loc) for k, v in node.value.items()}
    elif node.is_seq:
        value = [_relocate(v, loc) for v in node.value]
    elif isinstance(node.value, str) and _FLOAT.fullmatch(node.value):
        value = float(node.value)  # Hydra's grammar reads 1e-3 as a float
    else:
        value = node.value
    return Node(value, loc, None, node.tag, {})


def _header(text: str) -> str | None:
    """The `# @package` value from the leading comment lines, as Hydra reads it."""
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        match = _HEADER.match(line)
        if not match:
            return None
        if match.group(1) == "package":
            return match.group(2)
    return None


def _str_list(value) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)
