"""Output formats. `render` imports only the module of the format asked for."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import IO

from ..diagnostics import Finding
from ._common import Context

_MODULES = {"full": "full", "concise": "concise", "json": "json_format", "github": "github", "sarif": "sarif"}
FORMATS = tuple(_MODULES)  # ("full", "concise", "json", "github", "sarif")


def render(
    findings: list[Finding],
    fmt: str,
    *,
    stream: IO[str],
    cwd: Path,
    root: Path,
    rules: dict[str, type],
    color: bool | None = None,
    tool_version: str = "0.1.0",
    unsafe_fixes: bool = False,
) -> None:
    """Write `findings` (sorted, filtered, absolute paths) to `stream` in format `fmt`. `unsafe_fixes`:
    unsafe fixes count as applicable (`--unsafe-fixes`), as safe ones always do."""
    if fmt not in _MODULES:
        raise ValueError(f"unknown output format {fmt!r}; choose one of {', '.join(FORMATS)}")
    module = importlib.import_module(f"{__name__}.{_MODULES[fmt]}")
    module.render(findings, Context(stream, Path(cwd), Path(root), rules, color, tool_version, unsafe_fixes))
