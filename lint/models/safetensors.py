"""safetensors headers and shard indexes, read without touching tensor data.

A safetensors file is an 8-byte little-endian header length N, N bytes of JSON
(`{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}`), then the data.
"""

from __future__ import annotations

import json
import os
import stat
import struct
from pathlib import Path, PurePosixPath

from ..sources.json_reader import load_json
from ..textio import ReadError
from .facts import TensorInfo

_LFS_POINTER = b"version https://git-lfs"


def read_header(path: Path, *, max_header: int = 100_000_000) -> dict[str, TensorInfo]:
    """Tensor name -> TensorInfo from the header of `path`. Raises ReadError on a bad file."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise ReadError("not a regular file")
        with open(path, "rb") as f:
            size = f.seek(0, 2)
            f.seek(0)
            head = f.read(8)
            if head.startswith(_LFS_POINTER[:8]) and f.read(len(_LFS_POINTER) - 8) == _LFS_POINTER[8:]:
                raise ReadError("git-lfs pointer file, not the weights (run `git lfs pull`)")
            if len(head) < 8:
                raise ReadError(f"truncated safetensors header: file has only {size} bytes")
            (n,) = struct.unpack("<Q", head)
            if n > max_header:
                raise ReadError(f"safetensors header length {n} exceeds the limit of {max_header} bytes")
            if n > size - 8:
                raise ReadError(f"truncated safetensors header: declares {n} bytes, file has {size}")
            f.seek(8)
            raw = f.read(n)
    except OSError as e:
        raise ReadError(f"cannot read: {e.strerror or e}") from e
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise ReadError(f"invalid safetensors header JSON: {e}") from e
    except RecursionError:
        raise ReadError("invalid safetensors header JSON: nested too deeply") from None
    if not isinstance(header, dict):
        raise ReadError(f"safetensors header is a JSON {type(header).__name__}, not an object")
    tensors: dict[str, TensorInfo] = {}
    data_end = 0
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        dtype, shape, begin, end = _entry(name, entry)
        data_end = max(data_end, end)
        tensors[name] = TensorInfo(name, dtype, shape, path)
    if 8 + n + data_end > size:
        raise ReadError(f"truncated: tensor data ends at {8 + n + data_end}, file has {size} bytes")
    return tensors


def _entry(name: str, entry: object) -> tuple[str, tuple[int, ...], int, int]:
    if not isinstance(entry, dict):
        raise ReadError(f"safetensors header entry {name!r} is not an object")
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if not isinstance(dtype, str):
        raise ReadError(f"safetensors header entry {name!r} has no dtype string")
    if not isinstance(shape, list) or not all(_count(d) for d in shape):
        raise ReadError(f"safetensors header entry {name!r}: shape must be a list of non-negative integers")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_count(o) for o in offsets)):
        raise ReadError(f"safetensors header entry {name!r}: data_offsets must be [begin, end]")
    begin, end = offsets
    if begin > end:
        raise ReadError(f"safetensors header entry {name!r}: data_offsets begin {begin} > end {end}")
    return dtype, tuple(shape), begin, end


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def read_index(path: Path) -> dict[str, str]:
    """The `weight_map` of a model.safetensors.index.json: tensor name -> shard file name."""
    weight_map = load_json(path).get("weight_map")
    if weight_map is None or not weight_map.is_map:
        raise ReadError("no `weight_map` object in the shard index")
    result: dict[str, str] = {}
    for tensor, node in weight_map.items():
        shard = node.value
        if not isinstance(shard, str) or not _plain_relative(shard):
            raise ReadError(f"weight_map[{tensor!r}] is not a shard file name", node.loc.line, node.loc.column)
        result[tensor] = shard
    return result


def _plain_relative(name: str) -> bool:
    parts = PurePosixPath(name).parts
    return bool(parts) and "\\" not in name and not name.startswith("/") and ".." not in parts
