"""GGUF headers (llama.cpp): tensor names, shapes and types, and a few metadata values, without the tensor data.

Layout (little-endian; big-endian files are detected by their version field): `GGUF`, u32 version (2 or 3),
u64 tensor count, u64 metadata count, then the metadata pairs (gguf string key, u32 value type, value), then one
info per tensor (gguf string name, u32 n_dims, n_dims x u64 `ne`, u32 ggml type, u64 offset), padding to
`general.alignment` (default 32), and the tensor data. A gguf string is a u64 length and UTF-8 bytes.

`ne` lists the fastest-varying dimension first, so the PyTorch shape is `ne` reversed. Types are reported as
safetensors-style names where one exists ("F32", "F16", "BF16", "I8"...) and as ggml names otherwise ("Q4_K").
"""

from __future__ import annotations

import os
import stat
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ..textio import ReadError
from .facts import TensorInfo

MAX_HEADER = 64 << 20  # metadata + tensor infos; real headers are ~0.01-10 MB (the vocab dominates)
MAX_KV = 1_000_000
MAX_TENSORS = 1_000_000
MAX_STRING = 64 << 20
MAX_NAME = 1 << 16
MAX_ARRAY = 1 << 26
MAX_DIMS = 8  # GGML_MAX_DIMS is 4
_CHUNK = 1 << 20
_LFS_POINTER = b"version https://git-lfs"

# ggml type id -> (name, block size in elements, bytes per block); from gguf-py GGML_QUANT_SIZES
GGML_TYPES: dict[int, tuple[str, int, int]] = {
    0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20), 6: ("Q5_0", 32, 22),
    7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 9: ("Q8_1", 32, 40), 10: ("Q2_K", 256, 84), 11: ("Q3_K", 256, 110),
    12: ("Q4_K", 256, 144), 13: ("Q5_K", 256, 176), 14: ("Q6_K", 256, 210), 15: ("Q8_K", 256, 292),
    16: ("IQ2_XXS", 256, 66), 17: ("IQ2_XS", 256, 74), 18: ("IQ3_XXS", 256, 98), 19: ("IQ1_S", 256, 50),
    20: ("IQ4_NL", 32, 18), 21: ("IQ3_S", 256, 110), 22: ("IQ2_S", 256, 82), 23: ("IQ4_XS", 256, 136),
    24: ("I8", 1, 1), 25: ("I16", 1, 2), 26: ("I32", 1, 4), 27: ("I64", 1, 8), 28: ("F64", 1, 8),
    29: ("IQ1_M", 256, 56), 30: ("BF16", 1, 2), 34: ("TQ1_0", 256, 54), 35: ("TQ2_0", 256, 66),
    39: ("MXFP4", 32, 17),
}

# metadata value type -> (name, struct code); 8 = string, 9 = array
_SCALARS: dict[int, tuple[str, str]] = {
    0: ("UINT8", "B"), 1: ("INT8", "b"), 2: ("UINT16", "H"), 3: ("INT16", "h"), 4: ("UINT32", "I"),
    5: ("INT32", "i"), 6: ("FLOAT32", "f"), 7: ("BOOL", "?"), 10: ("UINT64", "Q"), 11: ("INT64", "q"),
    12: ("FLOAT64", "d"),
}
_STRING, _ARRAY = 8, 9


@dataclass(frozen=True)
class ArraySummary:
    type: str  # element type: "STRING", "INT32", "ARRAY"...
    length: int
    values: tuple | None = None  # numeric arrays of up to 64 elements


@dataclass
class GGUFHeader:
    version: int
    tensors: dict[str, TensorInfo]
    metadata: dict[str, object]  # scalars (strings cut to 1024 chars) and ArraySummary for arrays
    alignment: int = 32
    data_offset: int = 0  # where tensor data starts
    byteorder: str = "little"

    @property
    def architecture(self) -> str | None:
        arch = self.metadata.get("general.architecture")
        return arch if isinstance(arch, str) else None

    def arch_value(self, key: str) -> object:
        """`<architecture>.<key>`, e.g. arch_value("embedding_length")."""
        arch = self.architecture
        return None if arch is None else self.metadata.get(f"{arch}.{key}")

    @property
    def embedding_length(self) -> int | None:
        return _int_or_none(self.arch_value("embedding_length"))

    @property
    def block_count(self) -> int | None:
        return _int_or_none(self.arch_value("block_count"))

    @property
    def token_count(self) -> int | None:
        """Length of tokenizer.ggml.tokens."""
        tokens = self.metadata.get("tokenizer.ggml.tokens")
        return tokens.length if isinstance(tokens, ArraySummary) else None

    @property
    def vocab_size(self) -> int | None:
        """`<arch>.vocab_size` if present, else the token list length."""
        size = _int_or_none(self.arch_value("vocab_size"))
        return size if size is not None else self.token_count


def _limit(n: int) -> str:
    return f"{n >> 20} MB" if n >= 1 << 20 and not n % (1 << 20) else f"{n} byte"


def _int_or_none(value: object) -> int | None:
    return value if type(value) is int else None


def read_gguf(path: Path, *, max_header: int = MAX_HEADER) -> GGUFHeader:
    """The header of a .gguf file. Raises ReadError on a bad, truncated or oversized file."""
    path = Path(path)
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise ReadError("not a regular file")
        with open(path, "rb") as f:
            return _read(path, f, max_header)
    except OSError as e:
        raise ReadError(f"cannot read: {e.strerror or e}") from None
    except (struct.error, OverflowError, MemoryError) as e:
        raise ReadError(f"malformed GGUF header ({type(e).__name__}: {e})") from None


class _Cursor:
    """Sequential reads over a file through a buffer, bounded by `limit` bytes from the start."""

    def __init__(self, f: BinaryIO, size: int, limit: int, order: str = "<"):
        self.f = f
        self.size = size
        self.limit = limit
        self.order = order
        self.buf = b""
        self.base = 0  # file offset of buf[0]
        self.pos = 0  # offset into buf

    @property
    def offset(self) -> int:
        return self.base + self.pos

    def need(self, n: int) -> None:
        if self.pos + n <= len(self.buf):
            return
        end = self.offset + n
        if end > self.size:
            raise ReadError(f"truncated GGUF header: needs byte {end}, the file has {self.size}")
        if end > self.limit:
            raise ReadError(f"GGUF header is over the {_limit(self.limit)} limit")
        start = self.offset
        self.f.seek(start)
        self.buf = self.f.read(max(n, min(_CHUNK, self.limit - start)))
        self.base, self.pos = start, 0
        if len(self.buf) < n:
            raise ReadError(f"truncated GGUF header at byte {start}")

    def unpack(self, code: str) -> object:
        n = struct.calcsize(code)
        self.need(n)
        (value,) = struct.unpack_from(self.order + code, self.buf, self.pos)
        self.pos += n
        return value

    def u32(self) -> int:
        return self.unpack("I")  # type: ignore[return-value]

    def u64(self) -> int:
        return self.unpack("Q")  # type: ignore[return-value]

    def skip(self, n: int) -> None:
        end = self.offset + n
        if end > self.size:
            raise ReadError(f"truncated GGUF header: needs byte {end}, the file has {self.size}")
        if end > self.limit:
            raise ReadError(f"GGUF header is over the {_limit(self.limit)} limit")
        if self.pos + n <= len(self.buf):
            self.pos += n
        else:
            self.buf, self.base, self.pos = b"", end, 0

    def string(self, limit: int, what: str) -> str:
        n = self.u64()
        if n > limit:
            raise ReadError(f"GGUF {what} is {n} bytes long, over the {limit} byte limit")
        self.need(n)
        raw = self.buf[self.pos:self.pos + n]
        self.pos += n
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ReadError(f"GGUF {what} at byte {self.offset - n} is not UTF-8") from None

    def fits(self, count: int, least: int, what: str) -> None:
        """Fail early when `count` items of at least `least` bytes each cannot fit in the file or the limit."""
        if count * least > self.size - self.offset:
            raise ReadError(f"GGUF header declares {count} {what}, which cannot fit in the "
                            f"{self.size - self.offset} bytes left (truncated or corrupt)")
        if count * least > self.limit - self.offset:
            raise ReadError(f"GGUF header is over the {_limit(self.limit)} limit ({count} {what})")

    def skip_strings(self, count: int) -> None:
        order = self.order + "Q"
        for _ in range(count):
            self.need(8)
            (n,) = struct.unpack_from(order, self.buf, self.pos)
            self.pos += 8
            if n > MAX_STRING:
                raise ReadError(f"GGUF string at byte {self.offset - 8} is {n} bytes long")
            self.skip(n)


def _read(path: Path, f: BinaryIO, max_header: int) -> GGUFHeader:
    size = os.fstat(f.fileno()).st_size
    head = f.read(24)
    if head.startswith(_LFS_POINTER[:8]):
        raise ReadError("git-lfs pointer file, not the weights (run `git lfs pull`)")
    if head[:4] != b"GGUF":
        if head[:4] in (b"lmgg", b"fmgg", b"tjgg", b"algg"):
            raise ReadError("pre-GGUF GGML/GGJT file: not supported")
        raise ReadError("not a GGUF file (no GGUF magic)")
    if len(head) < 24:
        raise ReadError(f"truncated GGUF header: the file has {size} bytes")
    (version,) = struct.unpack_from("<I", head, 4)
    order = "<"
    if version not in (2, 3) and struct.unpack_from(">I", head, 4)[0] in (2, 3):
        order = ">"
        (version,) = struct.unpack_from(">I", head, 4)
    if version not in (2, 3):
        raise ReadError(f"unsupported GGUF version {version}" + (" (v1 uses 32-bit counts)" if version == 1 else ""))
    n_tensors, n_kv = struct.unpack_from(order + "QQ", head, 8)
    if n_tensors > MAX_TENSORS or n_kv > MAX_KV:
        raise ReadError(f"GGUF header declares {n_tensors} tensors and {n_kv} metadata entries: implausible")
    cur = _Cursor(f, size, max_header, order)
    cur.skip(24)
    cur.fits(n_kv, 13, "metadata entries")  # u64 key length, u32 type, >= 1 byte of value
    cur.fits(n_tensors, 24, "tensor infos")  # u64 name length, u32 n_dims, u32 type, u64 offset

    metadata: dict[str, object] = {}
    for _ in range(n_kv):
        key = cur.string(MAX_NAME, "metadata key")
        metadata[key] = _value(cur, cur.u32(), key, 0)

    alignment = metadata.get("general.alignment", 32)
    if type(alignment) is not int or alignment <= 0 or alignment & (alignment - 1):
        raise ReadError(f"GGUF general.alignment must be a power of two, not {alignment!r}")

    infos: list[tuple[str, tuple[int, ...], int, int]] = []
    for _ in range(n_tensors):
        name = cur.string(MAX_NAME, "tensor name")
        n_dims = cur.u32()
        if n_dims > MAX_DIMS:
            raise ReadError(f"GGUF tensor {name!r} has {n_dims} dimensions")
        ne = tuple(cur.u64() for _ in range(n_dims))
        infos.append((name, ne, cur.u32(), cur.u64()))
    data_offset = -(-cur.offset // alignment) * alignment

    tensors: dict[str, TensorInfo] = {}
    for name, ne, ggml_type, offset in infos:
        if name in tensors:
            raise ReadError(f"GGUF tensor {name!r} is listed twice")
        kind = GGML_TYPES.get(ggml_type)
        if offset % alignment:
            raise ReadError(f"GGUF tensor {name!r}: offset {offset} is not a multiple of the alignment {alignment}")
        if kind is not None:
            type_name, block, block_bytes = kind
            count = 1
            for d in ne:
                count *= d
            if ne and ne[0] % block:
                raise ReadError(f"GGUF tensor {name!r}: {ne[0]} is not a multiple of the {type_name} block "
                                f"size {block}")
            end = data_offset + offset + count // block * block_bytes
            if end > size:
                raise ReadError(f"truncated: GGUF tensor {name!r} ends at byte {end}, the file has {size}")
        else:
            type_name = f"GGML_TYPE_{ggml_type}"
        tensors[name] = TensorInfo(name, type_name, tuple(reversed(ne)), path)
    return GGUFHeader(version, tensors, metadata, alignment, data_offset, "big" if order == ">" else "little")


def _value(cur: _Cursor, vtype: int, key: str, depth: int) -> object:
    if vtype in _SCALARS:
        value = cur.unpack(_SCALARS[vtype][1])
        return value
    if vtype == _STRING:
        text = cur.string(MAX_STRING, f"value of {key!r}")
        return text if len(text) <= 1024 else text[:1023] + "…"
    if vtype != _ARRAY:
        raise ReadError(f"GGUF metadata {key!r} has unknown value type {vtype}")
    if depth >= 3:
        raise ReadError(f"GGUF metadata {key!r}: arrays nested too deeply")
    etype, count = cur.u32(), cur.u64()
    if count > MAX_ARRAY:
        raise ReadError(f"GGUF metadata {key!r} declares {count} elements, over the {MAX_ARRAY} limit")
    least = struct.calcsize(_SCALARS[etype][1]) if etype in _SCALARS else 8 if etype == _STRING else 12
    cur.fits(count, least, f"elements in {key!r}")
    if etype in _SCALARS:
        name, code = _SCALARS[etype]
        if count <= 64:
            return ArraySummary(name, count, tuple(cur.unpack(code) for _ in range(count)))
        cur.skip(count * struct.calcsize(code))
        return ArraySummary(name, count)
    if etype == _STRING:
        cur.skip_strings(count)
        return ArraySummary("STRING", count)
    if etype == _ARRAY:
        for _ in range(count):
            _value(cur, _ARRAY, key, depth + 1)
        return ArraySummary("ARRAY", count)
    raise ReadError(f"GGUF metadata {key!r} is an array of unknown type {etype}")
