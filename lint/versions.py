"""Version pins of the libraries whose behaviour rules depend on (transformers 4 vs 5, ...).

Dependency files are read as text and never executed: requirements*.txt (following -r/-c),
pyproject.toml, setup.cfg, string literals of setup.py, conda environment.yml.
"""

from __future__ import annotations

import ast
import io
import os
import re
import sys
import tokenize
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import yaml

from .diagnostics import Location
from .textio import ReadError, read_text

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

DEFAULT_PACKAGES = ("transformers", "peft", "hydra-core", "torch")
_CONDA_NAMES = {"pytorch": "torch"}  # conda package name -> pip name


@dataclass(frozen=True)
class Pin:
    package: str  # normalized: "hydra-core"
    spec: str  # as written, spaces removed: "==4.26.0", ">=1.5,<=1.11", "^4.30", "=4.26" (conda)
    location: Location  # the line of the pin
    major: int | None  # the major version a fresh install gets, when the spec decides it
    version: str | None  # the version when exact (==, ===, ~=, a bare or conda `=` version)


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def find_pins(root: Path, packages: Iterable[str] = DEFAULT_PACKAGES, *, nested: bool = True) -> dict[str, Pin]:
    """Normalized package name -> its most telling pin in the project's dependency files.

    `nested=False` reads only `root` itself (and its `requirements/` folder), not its sub-folders."""
    root = Path(os.path.abspath(root))
    wanted = {normalize(p) for p in packages}
    best: dict[str, Pin] = {}
    seen: set[Path] = set()
    for path in _dependency_files(root, nested):
        for pin in _READERS[_kind(path)](path, seen):
            if pin.package in wanted and _rank(pin) > _rank(best.get(pin.package)):
                best[pin.package] = pin
    return best


def effective_major(pin: Pin | None, *, current: int, package: str = "transformers") -> tuple[int, str]:
    """(major version to reason with, why) for `pin`; the installed-today `current` when unpinned."""
    if pin is None:
        return current, f"{package} {current}.x assumed: no pin found"
    where = _where(pin.location)
    written = pin.package + pin.spec if pin.spec[:1] in "=<>!~^" else f"{pin.package} {pin.spec}".rstrip()
    if pin.major is None or (pin.version is None and pin.major > current):
        return current, f"{pin.package} {current}.x assumed: {written} in {where} allows it"
    if pin.version is not None:
        return pin.major, f"{written} pinned in {where}"
    return pin.major, f"{written} in {where} limits it to {pin.major}.x"


def spec_major(spec: str) -> tuple[int | None, str | None]:
    """(major, exact version) of a version spec: pip, poetry (^, ~, bare) or conda (=, bare)."""
    exact: tuple[int, str | None] | None = None
    uppers: list[int] = []
    for clause in spec.split(","):
        m = _CLAUSE.fullmatch(clause.strip())
        if not m:
            continue
        op, version, release, wildcard = m.group("op") or "", m.group("ver"), m.group("rel"), m.group("star")
        parts = [int(x) for x in release.split(".")]
        if op in ("", "=", "==", "===", "~=", "^", "~"):
            pinned = op in ("", "=", "==", "===", "~=") and not wildcard
            exact = exact or (parts[0], version if pinned else None)
        elif op == "<=":
            uppers.append(parts[0])
        elif op == "<" and (parts[0] > 0 or any(parts[1:])):
            uppers.append(parts[0] - 1 if not any(parts[1:]) else parts[0])
    if exact:
        return exact
    return (min(uppers) if uppers else None), None


_CLAUSE = re.compile(r"(?P<op>===|==|~=|<=|>=|!=|<|>|\^|~|=)?\s*v?"
                     r"(?P<ver>(?P<rel>\d+(?:\.\d+)*)(?P<star>\.\*)?[A-Za-z0-9.+!_-]*)")
_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_REQUIREMENT = re.compile(rf"\s*(?P<name>{_NAME})\s*(?:\[[^\]]*\])?\s*(?P<rest>[^;]*)")
_PEP440_SPEC = re.compile(r"\(?\s*((===|==|~=|!=|<=|>=|<|>)\s*[A-Za-z0-9.*+!_-]+\s*,?\s*)*\)?\s*")


def _rank(pin: Pin | None) -> int:
    if pin is None:
        return -1
    return 2 if pin.major is not None else 1 if pin.spec else 0


def _where(loc: Location) -> str:
    try:
        shown = loc.path.relative_to(Path.cwd())
    except ValueError:
        shown = loc.path
    return f"{shown.as_posix()}:{loc.line}"


def _pin(name: str, spec: str, path: Path, line: int, column: int = 1) -> Pin:
    spec = re.sub(r"\s+", "", spec)
    major, version = spec_major(spec) if not spec.startswith("@") else (None, None)
    return Pin(normalize(name), spec, Location(path, line, column), major, version)


def _pep508(text: str, path: Path, line: int, column: int = 1) -> Pin | None:
    """A PEP 508 requirement (`transformers[torch]>=4.30; python_version>'3.8'`), or None."""
    m = _REQUIREMENT.match(text)
    if not m:
        return None
    rest = m.group("rest").strip()
    if not rest.startswith("@") and not _PEP440_SPEC.fullmatch(rest):
        return None
    return _pin(m.group("name"), rest.strip("()"), path, line, column + m.start("name"))


# --- which files ---------------------------------------------------------------------------------

_SKIP_DIRS = {"node_modules", "venv", "env", "site-packages", "__pycache__", "build", "dist"}


def _dependency_files(root: Path, nested: bool = True) -> list[Path]:
    top = sorted(root.glob("requirement*.txt"), key=lambda p: (p.name != "requirements.txt", p.name))
    top += [root / n for n in ("pyproject.toml", "setup.cfg", "setup.py", "environment.yml", "environment.yaml")]
    below = sorted((root / "requirements").glob("*.txt"))
    try:
        subdirs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")
                         and d.name not in _SKIP_DIRS) if nested else []
    except OSError:
        subdirs = []
    for sub in subdirs:
        if next(sub.glob("*.py"), None) is None:  # env/, docker/: not a sub-project with its own code
            below += sorted(sub.glob("requirement*.txt"))
    return [p for p in top + below if p.is_file()]


def _kind(path: Path) -> str:
    if path.suffix == ".txt":
        return "requirements"
    return {"pyproject.toml": "pyproject", "setup.cfg": "setup.cfg", "setup.py": "setup.py"}.get(path.name, "conda")


def _text(path: Path, python: bool = False) -> str | None:
    try:
        return read_text(path, python=python)
    except ReadError:
        return None


# --- readers: path -> pins of every package named ------------------------------------------------

def _requirements(path: Path, seen: set[Path]) -> Iterator[Pin]:
    if path.resolve() in seen or (text := _text(path)) is None:
        return
    seen.add(path.resolve())
    for line_no, line in _logical_lines(text):
        line = re.sub(r"(^|\s)#.*", "", line).strip()
        include = re.match(r"(-r|-c|--requirement|--constraint)(?:\s*=\s*|\s+|(?=[^-\s]))(\S+)", line)
        if include:
            yield from _requirements(Path(os.path.normpath(path.parent / include.group(2))), seen)
        elif line and not line.startswith("-"):
            line = re.sub(r"\s+--?[A-Za-z].*", "", line)  # per-requirement options: --hash=...
            pin = _pep508(line, path, line_no)
            if pin:
                yield pin


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """Lines with trailing-backslash continuations joined, numbered by their first line."""
    start, parts = 0, []
    for i, line in enumerate(text.splitlines(), 1):
        start = start or i
        if line.endswith("\\"):
            parts.append(line[:-1])
            continue
        yield start, "".join(parts) + line
        start, parts = 0, []
    if parts:
        yield start, "".join(parts)


def _pyproject(path: Path, seen: set[Path]) -> Iterator[Pin]:
    text = _text(path)
    try:
        data = tomllib.loads(text) if text is not None else {}
    except tomllib.TOMLDecodeError:
        return
    lines = text.splitlines() if text else []
    project = _table(data, "project")
    groups = [project.get("dependencies"), *_table(project, "optional-dependencies").values(),
              *_table(data, "dependency-groups").values()]
    for dep in (d for group in groups if isinstance(group, list) for d in group):
        if isinstance(dep, str):
            line, column = _find(lines, rf"""["']{re.escape(dep)}["']""")
            pin = _pep508(dep, path, line, column + 1)
            if pin:
                yield pin
    poetry = _table(_table(data, "tool"), "poetry")
    tables = [_table(poetry, "dependencies"), _table(poetry, "dev-dependencies"),
              *(_table(group, "dependencies") for group in _table(poetry, "group").values())]
    for name, value in (item for table in tables for item in table.items()):
        spec = _poetry_spec(value)
        if spec is not None:
            line, column = _find(lines, rf"""^\s*["']?{re.escape(name)}["']?\s*=""")
            yield _pin(name, spec, path, line, column)


def _table(data: object, key: str) -> dict:
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, dict) else {}


def _poetry_spec(value: object) -> str | None:
    """`"^4.30"`, `{version = "^4.30", extras = [...]}`, or a list of those (the first counts)."""
    if isinstance(value, list) and value:
        value = value[0]
    if isinstance(value, dict):
        value = value.get("version", "")
    return value.strip() if isinstance(value, str) and value.strip() != "*" else None


def _find(lines: list[str], pattern: str) -> tuple[int, int]:
    """(1-based line, 1-based column) of the first match of `pattern`, else (1, 1)."""
    regex = re.compile(pattern, re.IGNORECASE)
    for i, line in enumerate(lines, 1):
        m = regex.search(line)
        if m:
            return i, m.start() + 1 + len(m.group()) - len(m.group().lstrip())
    return 1, 1


def _setup_cfg(path: Path, seen: set[Path]) -> Iterator[Pin]:
    """`install_requires` in [options] and every key of [options.extras_require]."""
    section, collecting = "", False
    for i, line in enumerate((_text(path) or "").splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            section, collecting = stripped[1:-1].strip(), False
            continue
        if not stripped or stripped[0] in "#;":
            continue
        if not line[0].isspace():  # a new key
            key, _, value = stripped.partition("=")
            collecting = (section == "options" and key.strip() == "install_requires") or \
                section == "options.extras_require"
            stripped = value.strip()
        if collecting and stripped:
            pin = _pep508(stripped, path, i, line.index(stripped) + 1)
            if pin:
                yield pin


def _setup_py(path: Path, seen: set[Path]) -> Iterator[Pin]:
    """Requirement-shaped string literals; the file is tokenized, never run."""
    text = _text(path, python=True)
    if text is None:
        return
    try:
        tokens = [t for t in tokenize.generate_tokens(io.StringIO(text).readline) if t.type == tokenize.STRING]
    except (tokenize.TokenError, SyntaxError):
        return
    for tok in tokens:
        try:
            value = ast.literal_eval(tok.string)
        except (ValueError, SyntaxError):
            continue
        if isinstance(value, str):
            for offset, part in enumerate(value.splitlines()):
                pin = _pep508(part, path, tok.start[0] + offset, tok.start[1] + 2 if not offset else 1)
                if pin:
                    yield pin


def _conda(path: Path, seen: set[Path]) -> Iterator[Pin]:
    """`dependencies:` of an environment.yml: conda match specs, and pip requirements under `pip:`."""
    text = _text(path)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader) if text is not None else None
    except yaml.YAMLError:
        return
    deps = _yaml_get(root, "dependencies")
    for item in deps.value if isinstance(deps, yaml.SequenceNode) else []:
        if isinstance(item, yaml.ScalarNode):
            pin = _conda_spec(item.value, path, item.start_mark.line + 1, item.start_mark.column + 1)
            if pin:
                yield pin
        pip = _yaml_get(item, "pip")
        for req in pip.value if isinstance(pip, yaml.SequenceNode) else []:
            if isinstance(req, yaml.ScalarNode):
                pin = _pep508(req.value, path, req.start_mark.line + 1, req.start_mark.column + 1)
                if pin:
                    yield pin


def _yaml_get(node: object, key: str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                return v
    return None


def _conda_spec(text: str, path: Path, line: int, column: int) -> Pin | None:
    """`pytorch=1.11`, `conda-forge::transformers>=4.30`, `torch 1.11.0 py3.9_0`."""
    m = re.fullmatch(rf"\s*(?:[\w./-]+::)?(?P<name>{_NAME})\s*(?P<rest>.*)", text)
    if not m:
        return None
    name, rest = m.group("name"), m.group("rest").strip()
    if rest[:1] == "=" and rest[:2] != "==":
        rest = "=" + rest[1:].split("=")[0]  # `=1.2=build` -> `=1.2`
    elif rest[:1].isdigit():
        rest = rest.split()[0]  # `1.2.3 build`
    return _pin(_CONDA_NAMES.get(name.lower(), name), rest, path, line, column + m.start("name"))


_READERS = {"requirements": _requirements, "pyproject": _pyproject, "setup.cfg": _setup_cfg,
            "setup.py": _setup_py, "conda": _conda}
