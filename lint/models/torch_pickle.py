"""PyTorch checkpoints (.bin/.pt/.pth/.ckpt): tensor names, dtypes and shapes, without torch, without executing.

Two layouts are read:
- zip (`torch.save`, PyTorch >= 1.6): `<archive>/data.pkl` plus one `<archive>/data/<key>` record per storage.
  Only `data.pkl` is read (size and compression ratio checked first); the zip central directory tells whether
  each storage record exists and is big enough.
- legacy stream (`_use_new_zipfile_serialization=False`): pickles for the magic number, the protocol version and
  sys_info, the main pickle, the list of storage keys, then raw storages (an int64 element count and the bytes
  each). The pickles are read; of the storages only their 8-byte counts are read, to detect truncation.

The pickles run on a small pickle machine of our own (`_Machine`), not `pickle.Unpickler`: every global is looked
up in `_ALLOWED`, which maps names to local stand-ins (torch and numpy are never imported). A tensor becomes a
`TensorStub(dtype, shape)`, a storage a `_StorageStub`; nothing else can be called. A global outside the
allow-list raises `UnsafePickle`, as `torch.load(weights_only=True)` raises UnpicklingError. The machine also caps
stream size, opcode count, stack and MARK depth, restricts dict keys and set members to shallow hashable values
(hashing a deeply nested tuple overflows the C stack in CPython), and the result walk caps depth and fan-out.
"""

from __future__ import annotations

import _compat_pickle
import codecs
import io
import os
import stat
import struct
import zipfile
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Callable

from ..textio import ReadError
from .facts import TensorInfo

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C  # torch.serialization.MAGIC_NUMBER (legacy stream)
PROTOCOL_VERSION = 1001

MAX_PICKLE_BYTES = 64 << 20  # data.pkl, or all pickles of a legacy stream together
MAX_OPS = 8_000_000  # pickle opcodes; bounds objects created (memory) and time
MAX_STACK = 100_000
MAX_MARKS = 5_000
MAX_DEPTH = 100  # nesting of the unpickled result
MAX_ENTRIES = 2_000_000  # container entries visited while naming tensors (shared sub-objects are revisited)
MAX_RATIO = 200  # declared size / compressed size of a compressed data.pkl
_LFS_POINTER = b"version https://git-lfs"

# Raise unexpected exceptions instead of turning them into ReadError (the tests set this).
_PROPAGATE_INTERNAL_ERRORS = False


class UnsafePickle(Exception):
    """The pickle refers to a global outside the allow-list: loading it needs (possibly hostile) code."""

    def __init__(self, global_name: str, written: str | None = None):
        self.global_name = global_name  # Python 3 name (pickle protocol 2 maps some: __builtin__ -> builtins)
        self.written = written or global_name  # as the pickle spells it
        self.dangerous = _known_dangerous(global_name) or _known_dangerous(self.written)
        self.reason = f"refusing global {global_name}"
        if self.written != global_name:
            self.reason += f" (pickled as {self.written})"
        if self.dangerous:
            self.reason += " (can run arbitrary code)"
        super().__init__(self.reason)


@dataclass
class PickleCheckpoint:
    tensors: dict[str, TensorInfo]  # dotted names from the top: "state_dict.module.visual.conv1.weight"
    containers: dict[str, dict[str, TensorInfo]]  # top-level key -> its own flat state dict; "" = top-level tensors
    other_keys: dict[str, object]  # top-level values without tensors (epoch, args...), inert and truncated
    format: str = "zip"  # "zip" | "legacy"
    globals: tuple[str, ...] = ()  # allow-listed globals the pickle used
    # Why torch.load(weights_only=True) (torch 2.13's rules) would refuse the file although it was read here:
    # pickle opcodes its unpickler lacks (protocol >= 3 ones) and the numpy/frozenset globals accepted here.
    weights_only_blockers: tuple[str, ...] = ()


def read_torch_checkpoint(path: Path, *, max_pickle_bytes: int = MAX_PICKLE_BYTES,
                          max_ops: int = MAX_OPS) -> PickleCheckpoint:
    """Tensor shapes of a torch.save file. Raises ReadError (broken, truncated, too big, too deeply nested,
    unsupported) or UnsafePickle (a global outside the allow-list)."""
    path = Path(path)
    try:
        return _read(path, max_pickle_bytes, max_ops)
    except (ReadError, UnsafePickle):
        raise
    except OSError as e:
        raise ReadError(f"cannot read: {e.strerror or e}") from None
    except MemoryError:
        raise ReadError("checkpoint pickle needs too much memory") from None
    except RecursionError:
        raise ReadError("checkpoint pickle is nested too deeply") from None
    except Exception as e:  # noqa: BLE001 - a hostile file must never take the linter down
        if _PROPAGATE_INTERNAL_ERRORS:
            raise
        raise ReadError(f"unreadable checkpoint ({type(e).__name__}: {e})") from None


def _read(path: Path, max_pickle_bytes: int, max_ops: int) -> PickleCheckpoint:
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise ReadError("not a regular file")
    with open(path, "rb") as f:
        head = f.read(512)
        if head.startswith(_LFS_POINTER):
            raise ReadError("git-lfs pointer file, not the weights (run `git lfs pull`)")
        if not head:
            raise ReadError("empty file")
        if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
            machine, obj = _read_zip(path, max_pickle_bytes, max_ops)
            kind = "zip"
        elif len(head) >= 262 and head[257:262] == b"ustar":
            raise ReadError("tar checkpoint from PyTorch < 0.4: not supported")
        else:
            f.seek(0)
            machine, obj = _read_legacy(f, max_pickle_bytes, max_ops)
            kind = "legacy"
    return _result(path, obj, machine, kind)


# -- zip format ----------------------------------------------------------------------------------------------
def _read_zip(path: Path, max_bytes: int, max_ops: int) -> tuple[_Machine, object]:
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            if not infos:
                raise ReadError("empty zip archive")
            records = {info.filename: info for info in infos}
            # like torch's PyTorchFileReader: the archive name is the folder of the first record
            archive = infos[0].filename.split("/", 1)[0]
            if f"{archive}/constants.pkl" in records or any(n.startswith(f"{archive}/code/") for n in records):
                raise ReadError("TorchScript archive (torch.jit.save), not a torch.save checkpoint")
            pkl = records.get(f"{archive}/data.pkl")
            if pkl is None:
                raise ReadError(f"zip archive without {archive}/data.pkl: not a torch.save checkpoint")
            _check_entry(pkl, max_bytes)
            with zf.open(pkl) as member:
                data = member.read(max_bytes + 1)
    except zipfile.BadZipFile as e:
        raise ReadError(f"broken zip archive (truncated?): {e}") from None
    except (NotImplementedError, RuntimeError) as e:  # unsupported compression, encryption
        raise ReadError(f"cannot read data.pkl: {e}") from None
    except (EOFError, ValueError, struct.error) as e:
        raise ReadError(f"broken zip archive (truncated?): {e}") from None
    except Exception as e:  # zlib.error and friends
        if type(e).__module__ in ("zlib", "bz2", "lzma", "_lzma", "_bz2"):
            raise ReadError(f"broken zip archive: {e}") from None
        raise
    if len(data) > max_bytes:
        raise ReadError(f"{archive}/data.pkl is over the {_limit(max_bytes)} limit")
    machine = _Machine(io.BytesIO(data), max_bytes, max_ops, _ZipStorages(archive, records))
    return machine, machine.load()


def _check_entry(info: zipfile.ZipInfo, max_bytes: int) -> None:
    if info.flag_bits & 0x1:
        raise ReadError(f"{info.filename} is encrypted")
    if info.file_size > max_bytes:
        raise ReadError(f"{info.filename} declares {info.file_size} bytes, over the {_limit(max_bytes)} limit")
    if info.compress_type != zipfile.ZIP_STORED:
        if info.compress_type != zipfile.ZIP_DEFLATED:
            raise ReadError(f"{info.filename} uses zip compression method {info.compress_type}")
        if info.file_size > (1 << 20) and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise ReadError(f"{info.filename} expands {info.compress_size} bytes to {info.file_size}: zip bomb?")


class _ZipStorages:
    """persistent_load for data.pkl: ('storage', storage_type, key, location, numel) -> _StorageStub."""

    def __init__(self, archive: str, records: dict[str, zipfile.ZipInfo]):
        self.archive = archive
        self.records = records

    def __call__(self, pid: object) -> _StorageStub:
        if not (isinstance(pid, tuple) and len(pid) == 5 and _ascii(pid[0]) == "storage"):
            raise ReadError(f"unsupported persistent id in data.pkl: {_short(pid)}")
        _, storage_type, key, _location, numel = pid
        dtype = _storage_dtype(storage_type)
        key = _ascii(key)
        if not _count(numel) or not key:
            raise ReadError(f"bad storage reference in data.pkl: {_short(pid)}")
        nbytes = _nbytes(dtype, numel)
        record = self.records.get(f"{self.archive}/data/{key}")
        if record is None:
            raise ReadError(f"storage record {self.archive}/data/{key} is missing (truncated archive?)")
        if nbytes is not None and record.file_size < nbytes:
            raise ReadError(f"storage record {self.archive}/data/{key} has {record.file_size} bytes, "
                            f"its tensors need {nbytes}")
        return _StorageStub(dtype, key, nbytes)


# -- legacy stream -------------------------------------------------------------------------------------------
def _read_legacy(f: BinaryIO, max_bytes: int, max_ops: int) -> tuple[_Machine, object]:
    size = os.fstat(f.fileno()).st_size
    budget = [max_bytes]
    blockers: set[str] = set()  # torch.load(weights_only=True) reads all these pickles with its own unpickler

    def pickle_at(persistent: Callable[[object], object] | None) -> tuple[_Machine, object]:
        machine = _Machine(f, budget[0], max_ops, persistent)
        value = machine.load()
        budget[0] -= machine.consumed
        blockers.update(machine.blockers)
        return machine, value

    try:
        _, magic = pickle_at(None)
    except ReadError as e:
        raise ReadError(f"not a PyTorch checkpoint: neither a zip archive nor a legacy pickle stream ({e})") from None
    if type(magic) is not int or magic != MAGIC_NUMBER:
        raise ReadError("not a PyTorch checkpoint: a pickle, but without torch's magic number")
    _, version = pickle_at(None)
    if version != PROTOCOL_VERSION:
        raise ReadError(f"unsupported legacy torch.save protocol version {_short(version)}")
    pickle_at(None)  # sys_info: byte order and C type sizes
    storages = _LegacyStorages()
    machine, obj = pickle_at(storages)
    _, keys = pickle_at(None)
    if type(keys) is not list or not all(type(k) is str for k in keys):
        raise ReadError("legacy checkpoint: the storage key list is not a list of strings")
    _check_legacy_records(f, size, keys, storages.roots)
    machine.blockers = blockers
    return machine, obj


class _LegacyStorages:
    """persistent_load of the legacy stream: ('storage', type, root_key, location, numel, view_metadata)."""

    def __init__(self) -> None:
        self.roots: dict[str, tuple[str, int]] = {}  # root key -> (dtype, numel)

    def __call__(self, pid: object) -> _StorageStub:
        if not (isinstance(pid, tuple) and len(pid) == 6 and _ascii(pid[0]) == "storage"):
            raise ReadError(f"unsupported persistent id in the checkpoint pickle: {_short(pid)}")
        _, storage_type, root_key, _location, numel, view = pid
        dtype = _storage_dtype(storage_type)
        root_key = _ascii(root_key)
        if not _count(numel) or not root_key:
            raise ReadError(f"bad storage reference: {_short(pid)}")
        self.roots.setdefault(root_key, (dtype, numel))
        if view is None:
            return _StorageStub(dtype, root_key, _nbytes(dtype, numel))
        if not (isinstance(view, tuple) and len(view) == 3 and _count(view[1]) and _count(view[2])):
            raise ReadError(f"bad storage view: {_short(view)}")
        view_key, offset, view_size = view
        if offset + view_size > numel:
            raise ReadError(f"storage view {_short(view_key)} extends past its storage")
        return _StorageStub(dtype, _ascii(view_key), _nbytes(dtype, view_size))


def _check_legacy_records(f: BinaryIO, size: int, keys: list[str], roots: dict[str, tuple[str, int]]) -> None:
    """Each storage is an int64 element count and its bytes: read the counts, seek over the bytes."""
    offset = f.tell()
    for key in keys:
        if key not in roots:
            raise ReadError(f"legacy checkpoint: storage {key!r} is listed but no tensor uses it")
        dtype, numel = roots[key]
        itemsize = _DTYPES[dtype][1]
        f.seek(offset)
        head = f.read(8)
        if len(head) < 8:
            raise ReadError(f"truncated: storage {key!r} starts at byte {offset}, the file has {size}")
        (count,) = struct.unpack("<q", head)
        if count != numel:
            raise ReadError(f"legacy checkpoint: storage {key!r} holds {count} elements, the pickle says {numel}")
        if itemsize is None:
            return  # cannot size the rest
        offset += 8 + count * itemsize
        if offset > size:
            raise ReadError(f"truncated: storage {key!r} ends at byte {offset}, the file has {size}")


# -- the pickle machine --------------------------------------------------------------------------------------
class _Machine:
    """A pickle interpreter (protocols 0-5) that can only call allow-listed stand-ins."""

    def __init__(self, f: BinaryIO, max_bytes: int, max_ops: int,
                 persistent_load: Callable[[object], object] | None):
        self._f = f
        self._limit = max_bytes
        self._max_ops = max_ops
        self._persistent_load = persistent_load
        self.consumed = 0
        self.globals: set[str] = set()
        self.blockers: set[str] = set()
        self.stack: list[Any] = []
        self.metastack: list[list[Any]] = []
        self.memo: dict[int, Any] = {}

    # reading
    def read(self, n: int) -> bytes:
        if n < 0:
            raise ReadError("malformed pickle: negative length")
        if self.consumed + n > self._limit:
            raise ReadError(f"pickle is over the {_limit(self._limit)} limit (or declares a bogus length)")
        data = self._f.read(n)
        self.consumed += len(data)
        if len(data) < n:
            raise ReadError("truncated pickle")
        return data

    def readline(self) -> bytes:
        line = self._f.readline(self._limit - self.consumed + 1)
        self.consumed += len(line)
        if self.consumed > self._limit:
            raise ReadError(f"pickle is over the {_limit(self._limit)} limit")
        if not line.endswith(b"\n"):
            raise ReadError("truncated pickle")
        return line[:-1]

    def load(self) -> object:
        ops = _OPS
        ops_left = self._max_ops
        read = self.read
        try:
            while True:
                code = read(1)[0]
                handler = ops.get(code)
                if handler is None:
                    raise ReadError(f"malformed pickle: invalid opcode 0x{code:02x} at byte {self.consumed - 1}")
                if code not in _TORCH_OPS:
                    self.blockers.add(f"pickle opcode {_OPNAMES.get(code, hex(code))}")
                if handler is _Machine._stop:
                    return self._pop()
                handler(self)
                ops_left -= 1
                if ops_left < 0:
                    raise ReadError(f"pickle has more than {self._max_ops} opcodes")
                if len(self.stack) > MAX_STACK:
                    raise ReadError(f"pickle stack over {MAX_STACK} items: nested too deeply")
        except (IndexError, KeyError, TypeError, ValueError, OverflowError, struct.error) as e:
            raise ReadError(f"malformed pickle ({type(e).__name__}: {e})") from None
        finally:
            self.stack = []
            self.metastack = []
            self.memo = {}

    # stack helpers
    def _pop(self) -> Any:
        if not self.stack:
            raise ReadError("malformed pickle: stack underflow")
        return self.stack.pop()

    def _pop_mark(self) -> list[Any]:
        if not self.metastack:
            raise ReadError("malformed pickle: no MARK")
        items = self.stack
        self.stack = self.metastack.pop()
        return items

    def _top(self) -> Any:
        if not self.stack:
            raise ReadError("malformed pickle: stack underflow")
        return self.stack[-1]

    def _find_class(self, module: str, name: str) -> _Global:
        full = f"{module}.{name}"
        mapped = _compat_pickle.NAME_MAPPING.get((module, name))
        if mapped is not None:
            canonical = ".".join(mapped)
        else:
            canonical = f"{_compat_pickle.IMPORT_MAPPING.get(module, module)}.{name}"
        glob = _ALLOWED.get(canonical)
        if glob is None:
            if not all(part.isidentifier() for part in f"{module}.{name}".split(".")):
                # cannot be imported, so cannot run anything: a corrupt file rather than a hostile one
                raise ReadError(f"malformed pickle: global {_short(full)} is not a Python name")
            raise UnsafePickle(canonical, full)
        self.globals.add(canonical)
        if canonical not in _TORCH_GLOBALS:
            self.blockers.add(f"global {canonical}")
        return glob

    def _call(self, func: object, args: object) -> object:
        if not isinstance(func, _Global):
            raise ReadError(f"malformed pickle: calls a {type(func).__name__}")
        if func.call is None:
            raise ReadError(f"unsupported pickle: {func.name} is called")
        if type(args) is not tuple:
            raise ReadError(f"malformed pickle: arguments of {func.name} are not a tuple")
        try:
            return func.call(*args)
        except TypeError as e:
            raise ReadError(f"unsupported call {func.name}{_short(args)}: {e}") from None

    # opcodes
    def _proto(self) -> None:
        proto = self.read(1)[0]
        if proto > 5:
            raise ReadError(f"unsupported pickle protocol {proto}")

    def _frame(self) -> None:
        self.read(8)  # frames only chunk the stream

    def _stop(self) -> None:  # handled in load()
        raise AssertionError

    def _mark(self) -> None:
        if len(self.metastack) >= MAX_MARKS:
            raise ReadError("pickle nested too deeply (MARK)")
        self.metastack.append(self.stack)
        self.stack = []

    def _pop_op(self) -> None:
        if self.stack:
            self.stack.pop()
        else:
            self._pop_mark()

    def _pop_mark_op(self) -> None:
        self._pop_mark()

    def _dup(self) -> None:
        self.stack.append(self._top())

    def _none(self) -> None:
        self.stack.append(None)

    def _true(self) -> None:
        self.stack.append(True)

    def _false(self) -> None:
        self.stack.append(False)

    def _int(self) -> None:
        line = self.readline()
        if line == b"00":
            self.stack.append(False)
        elif line == b"01":
            self.stack.append(True)
        else:
            self.stack.append(int(line))

    def _long(self) -> None:
        line = self.readline()
        self.stack.append(int(line[:-1] if line.endswith(b"L") else line))

    def _binint(self) -> None:
        self.stack.append(struct.unpack("<i", self.read(4))[0])

    def _binint1(self) -> None:
        self.stack.append(self.read(1)[0])

    def _binint2(self) -> None:
        self.stack.append(struct.unpack("<H", self.read(2))[0])

    def _long1(self) -> None:
        n = self.read(1)[0]
        self.stack.append(int.from_bytes(self.read(n), "little", signed=True))

    def _long4(self) -> None:
        (n,) = struct.unpack("<i", self.read(4))
        self.stack.append(int.from_bytes(self.read(n), "little", signed=True))

    def _float(self) -> None:
        self.stack.append(float(self.readline()))

    def _binfloat(self) -> None:
        self.stack.append(struct.unpack(">d", self.read(8))[0])

    def _string(self) -> None:
        data = self.readline()
        if len(data) < 2 or data[0] != data[-1] or data[0] not in b"\"'":
            raise ReadError("malformed pickle: STRING opcode argument must be quoted")
        self.stack.append(_py2_str(codecs.escape_decode(data[1:-1])[0]))

    def _binstring(self) -> None:
        (n,) = struct.unpack("<i", self.read(4))
        self.stack.append(_py2_str(self.read(n)))

    def _short_binstring(self) -> None:
        self.stack.append(_py2_str(self.read(self.read(1)[0])))

    def _binbytes(self) -> None:
        self.stack.append(self.read(struct.unpack("<I", self.read(4))[0]))

    def _short_binbytes(self) -> None:
        self.stack.append(self.read(self.read(1)[0]))

    def _binbytes8(self) -> None:
        self.stack.append(self.read(struct.unpack("<Q", self.read(8))[0]))

    def _bytearray8(self) -> None:
        self.stack.append(bytearray(self.read(struct.unpack("<Q", self.read(8))[0])))

    def _unicode(self) -> None:
        self.stack.append(self.readline().decode("raw-unicode-escape"))

    def _binunicode(self) -> None:
        self.stack.append(self.read(struct.unpack("<I", self.read(4))[0]).decode("utf-8", "surrogatepass"))

    def _short_binunicode(self) -> None:
        self.stack.append(self.read(self.read(1)[0]).decode("utf-8", "surrogatepass"))

    def _binunicode8(self) -> None:
        self.stack.append(self.read(struct.unpack("<Q", self.read(8))[0]).decode("utf-8", "surrogatepass"))

    def _empty_tuple(self) -> None:
        self.stack.append(())

    # NB: `self.stack.append(f(self._pop_mark()))` would bind `append` of the stack before the MARK is popped
    def _tuple(self) -> None:
        items = tuple(self._pop_mark())
        self.stack.append(items)

    def _tuple1(self) -> None:
        self.stack[-1] = (self.stack[-1],)

    def _tuple2(self) -> None:
        if len(self.stack) < 2:
            raise ReadError("malformed pickle: stack underflow")
        self.stack[-2:] = [(self.stack[-2], self.stack[-1])]

    def _tuple3(self) -> None:
        if len(self.stack) < 3:
            raise ReadError("malformed pickle: stack underflow")
        self.stack[-3:] = [(self.stack[-3], self.stack[-2], self.stack[-1])]

    def _empty_list(self) -> None:
        self.stack.append([])

    def _list(self) -> None:
        items = self._pop_mark()
        self.stack.append(items)

    def _empty_dict(self) -> None:
        self.stack.append({})

    def _dict(self) -> None:
        items = self._pop_mark()
        if len(items) % 2:
            raise ReadError("malformed pickle: odd number of DICT items")
        d: dict[Any, Any] = {}
        for i in range(0, len(items), 2):
            d[_key(items[i])] = items[i + 1]
        self.stack.append(d)

    def _empty_set(self) -> None:
        self.stack.append(set())

    def _frozenset(self) -> None:
        items = frozenset(_key(k) for k in self._pop_mark())
        self.stack.append(items)

    def _append(self) -> None:
        value = self._pop()
        _target(self._top(), list, "APPEND").append(value)

    def _appends(self) -> None:
        items = self._pop_mark()
        _target(self._top(), list, "APPENDS").extend(items)

    def _setitem(self) -> None:
        value = self._pop()
        key = self._pop()
        _target(self._top(), dict, "SETITEM")[_key(key)] = value

    def _setitems(self) -> None:
        items = self._pop_mark()
        if len(items) % 2:
            raise ReadError("malformed pickle: odd number of SETITEMS items")
        target = _target(self._top(), dict, "SETITEMS")
        for i in range(0, len(items), 2):
            target[_key(items[i])] = items[i + 1]

    def _additems(self) -> None:
        items = self._pop_mark()
        target = _target(self._top(), set, "ADDITEMS")
        for item in items:
            target.add(_key(item))

    def _get(self) -> None:
        self._get_index(int(self.readline()))

    def _binget(self) -> None:
        self._get_index(self.read(1)[0])

    def _long_binget(self) -> None:
        self._get_index(struct.unpack("<I", self.read(4))[0])

    def _get_index(self, index: int) -> None:
        if index not in self.memo:
            raise ReadError(f"malformed pickle: memo {index} is not set")
        self.stack.append(self.memo[index])

    def _put(self) -> None:
        index = int(self.readline())
        if index < 0:
            raise ReadError("malformed pickle: negative memo index")
        self.memo[index] = self._top()

    def _binput(self) -> None:
        self.memo[self.read(1)[0]] = self._top()

    def _long_binput(self) -> None:
        self.memo[struct.unpack("<I", self.read(4))[0]] = self._top()

    def _memoize(self) -> None:
        self.memo[len(self.memo)] = self._top()

    def _global(self) -> None:
        module = self.readline().decode("utf-8")
        name = self.readline().decode("utf-8")
        self.stack.append(self._find_class(module, name))

    def _stack_global(self) -> None:
        name = self._pop()
        module = self._pop()
        if type(name) is not str or type(module) is not str:
            raise ReadError("malformed pickle: STACK_GLOBAL needs two strings")
        self.stack.append(self._find_class(module, name))

    def _reduce(self) -> None:
        args = self._pop()
        self.stack[-1] = self._call(self._top(), args)

    def _newobj(self) -> None:
        args = self._pop()
        cls = self._pop()
        self.stack.append(self._call(cls, args))

    def _newobj_ex(self) -> None:
        kwargs = self._pop()
        args = self._pop()
        cls = self._pop()
        if kwargs:
            raise ReadError("unsupported pickle: NEWOBJ_EX with keyword arguments")
        self.stack.append(self._call(cls, args))

    def _inst(self) -> None:
        module = self.readline().decode("utf-8")
        name = self.readline().decode("utf-8")
        cls = self._find_class(module, name)
        args = tuple(self._pop_mark())
        self.stack.append(self._call(cls, args))

    def _obj(self) -> None:
        items = self._pop_mark()
        if not items:
            raise ReadError("malformed pickle: OBJ without a class")
        self.stack.append(self._call(items[0], tuple(items[1:])))

    def _build(self) -> None:
        state = self._pop()
        inst = self._top()
        if isinstance(inst, (_NpDtype, _ArrayStub)):
            inst.setstate(state)
        elif isinstance(inst, (dict, TensorStub)):
            pass  # OrderedDict attributes (a state_dict's _metadata), tensor python attributes: not needed
        else:
            raise ReadError(f"unsupported pickle: BUILD on {type(inst).__name__}")

    def _persid(self) -> None:
        self._persistent(self.readline().decode("ascii"))

    def _binpersid(self) -> None:
        self._persistent(self._pop())

    def _persistent(self, pid: object) -> None:
        if self._persistent_load is None:
            raise ReadError("malformed checkpoint: persistent id outside the main pickle")
        self.stack.append(self._persistent_load(pid))

    def _unsupported(self) -> None:
        raise ReadError("unsupported pickle: extension codes or out-of-band buffers")


def _target(obj: object, kind: type, op: str) -> Any:
    if not isinstance(obj, kind):
        raise ReadError(f"malformed pickle: {op} on a {type(obj).__name__}")
    return obj


_KEY_ATOMS = (str, int, float, bool, type(None), bytes, complex)


def _key(value: object, depth: int = 0) -> Any:
    """`value` if it may be hashed safely: atoms, and small shallow tuples/frozensets of them."""
    kind = type(value)
    if kind in _KEY_ATOMS or kind is _Global:
        return value
    if (kind is tuple or kind is frozenset) and depth < 4 and len(value) <= 16:  # type: ignore[arg-type]
        for item in value:  # type: ignore[attr-defined]
            _key(item, depth + 1)
        return value
    raise ReadError(f"unsupported pickle: a {kind.__name__} used as a dict key or set member")


def _py2_str(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


_OPS: dict[int, Callable[[_Machine], None]] = {ord(k): v for k, v in {
    "\x80": _Machine._proto, "\x95": _Machine._frame, ".": _Machine._stop, "(": _Machine._mark,
    "0": _Machine._pop_op, "1": _Machine._pop_mark_op, "2": _Machine._dup, "N": _Machine._none,
    "\x88": _Machine._true, "\x89": _Machine._false, "I": _Machine._int, "L": _Machine._long,
    "J": _Machine._binint, "K": _Machine._binint1, "M": _Machine._binint2, "\x8a": _Machine._long1,
    "\x8b": _Machine._long4, "F": _Machine._float, "G": _Machine._binfloat, "S": _Machine._string,
    "T": _Machine._binstring, "U": _Machine._short_binstring, "B": _Machine._binbytes,
    "C": _Machine._short_binbytes, "\x8e": _Machine._binbytes8, "\x96": _Machine._bytearray8,
    "V": _Machine._unicode, "X": _Machine._binunicode, "\x8c": _Machine._short_binunicode,
    "\x8d": _Machine._binunicode8, ")": _Machine._empty_tuple, "t": _Machine._tuple, "\x85": _Machine._tuple1,
    "\x86": _Machine._tuple2, "\x87": _Machine._tuple3, "]": _Machine._empty_list, "l": _Machine._list,
    "}": _Machine._empty_dict, "d": _Machine._dict, "\x8f": _Machine._empty_set, "\x91": _Machine._frozenset,
    "a": _Machine._append, "e": _Machine._appends, "s": _Machine._setitem, "u": _Machine._setitems,
    "\x90": _Machine._additems, "g": _Machine._get, "h": _Machine._binget, "j": _Machine._long_binget,
    "p": _Machine._put, "q": _Machine._binput, "r": _Machine._long_binput, "\x94": _Machine._memoize,
    "c": _Machine._global, "\x93": _Machine._stack_global, "R": _Machine._reduce, "\x81": _Machine._newobj,
    "\x92": _Machine._newobj_ex, "i": _Machine._inst, "o": _Machine._obj, "b": _Machine._build,
    "P": _Machine._persid, "Q": _Machine._binpersid, "\x82": _Machine._unsupported,
    "\x83": _Machine._unsupported, "\x84": _Machine._unsupported, "\x97": _Machine._unsupported,
    "\x98": _Machine._unsupported,
}.items()}

# The opcodes torch 2.13's weights_only unpickler implements (torch/_weights_only_unpickler.py).
_TORCH_OPS = frozenset(b"cRb\x81aesu(t\x85\x86\x87N\x89\x88)]}\x8fJKMGXUQhjqr\x8a\x80.")
_OPNAMES = {
    0x95: "FRAME (protocol 4)", 0x93: "STACK_GLOBAL (protocol 4)", 0x94: "MEMOIZE (protocol 4)",
    0x8C: "SHORT_BINUNICODE (protocol 4)", 0x8D: "BINUNICODE8 (protocol 4)", 0x8E: "BINBYTES8 (protocol 4)",
    0x90: "ADDITEMS (protocol 4)", 0x91: "FROZENSET (protocol 4)", 0x92: "NEWOBJ_EX (protocol 4)",
    0x96: "BYTEARRAY8 (protocol 5)", ord("B"): "BINBYTES (protocol 3)", ord("C"): "SHORT_BINBYTES (protocol 3)",
    0x8B: "LONG4", ord("I"): "INT (protocol 0)", ord("L"): "LONG (protocol 0)", ord("F"): "FLOAT (protocol 0)",
    ord("S"): "STRING (protocol 0)", ord("T"): "BINSTRING", ord("V"): "UNICODE (protocol 0)",
    ord("l"): "LIST", ord("d"): "DICT", ord("g"): "GET (protocol 0)", ord("p"): "PUT (protocol 0)",
    ord("i"): "INST", ord("o"): "OBJ", ord("P"): "PERSID", ord("0"): "POP", ord("1"): "POP_MARK", ord("2"): "DUP",
}


# -- stand-ins -----------------------------------------------------------------------------------------------
class _Global:
    """An allow-listed global: a marker (storage type, dtype, tensor class...) and maybe a stand-in callable."""

    __slots__ = ("name", "kind", "dtype", "call")

    def __init__(self, name: str, kind: str, dtype: str | None = None, call: Callable[..., Any] | None = None):
        self.name = name
        self.kind = kind  # "storage" | "dtype" | "type" | "qscheme" | "function"
        self.dtype = dtype
        self.call = call

    def __repr__(self) -> str:
        return f"<{self.name}>"


class TensorStub:
    """What a tensor unpickles to here: its dtype (torch name, "float32") and shape."""

    __slots__ = ("dtype", "shape")
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, dtype: str, shape: tuple[int, ...]):
        self.dtype = dtype
        self.shape = shape

    def __repr__(self) -> str:
        return f"TensorStub({self.dtype}, {self.shape})"


class _StorageStub:
    __slots__ = ("dtype", "key", "nbytes")
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, dtype: str, key: str, nbytes: int | None):
        self.dtype = dtype
        self.key = key
        self.nbytes = nbytes


class _Layout:
    __slots__ = ("name",)
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, name: str):
        self.name = name


class _NpDtype:
    __slots__ = ("name", "byteorder")
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, name: str):
        self.name = name
        self.byteorder = "="

    def setstate(self, state: object) -> None:
        if isinstance(state, tuple) and len(state) > 1 and state[1] in ("<", ">", "|", "="):
            self.byteorder = state[1]


class _ArrayStub:
    __slots__ = ("dtype", "shape")
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, dtype: str = "?", shape: tuple[int, ...] = ()):
        self.dtype = dtype
        self.shape = shape

    def setstate(self, state: object) -> None:
        # ndarray.__setstate__((version, shape, dtype, is_fortran, data)), older pickles without version
        if isinstance(state, tuple) and len(state) in (4, 5):
            shape, dtype = state[-4], state[-3]
            self.shape = _shape(shape, "ndarray shape")
            self.dtype = dtype.name if isinstance(dtype, _NpDtype) else "?"
        else:
            raise ReadError("unsupported pickle: numpy array state")


# torch dtype name -> (safetensors-style name, bytes per element or None)
_DTYPES: dict[str, tuple[str, int | None]] = {
    "float32": ("F32", 4), "float64": ("F64", 8), "float16": ("F16", 2), "bfloat16": ("BF16", 2),
    "int64": ("I64", 8), "int32": ("I32", 4), "int16": ("I16", 2), "int8": ("I8", 1),
    "uint8": ("U8", 1), "uint16": ("U16", 2), "uint32": ("U32", 4), "uint64": ("U64", 8), "bool": ("BOOL", 1),
    "complex32": ("C32", 4), "complex64": ("C64", 8), "complex128": ("C128", 16),
    "float8_e4m3fn": ("F8_E4M3", 1), "float8_e5m2": ("F8_E5M2", 1), "float8_e4m3fnuz": ("F8_E4M3FNUZ", 1),
    "float8_e5m2fnuz": ("F8_E5M2FNUZ", 1), "float8_e8m0fnu": ("F8_E8M0", 1), "float4_e2m1fn_x2": ("F4_E2M1_X2", 1),
    "qint8": ("QI8", 1), "quint8": ("QU8", 1), "qint32": ("QI32", 4), "quint4x2": ("QU4X2", 1),
    "quint2x4": ("QU2X4", 1), "bits8": ("BITS8", 1), "bits16": ("BITS16", 2), "bits1x8": ("BITS1X8", 1),
    "bits2x4": ("BITS2X4", 1), "bits4x2": ("BITS4X2", 1),
    **{f"int{n}": (f"I{n}", None) for n in range(1, 8)}, **{f"uint{n}": (f"U{n}", None) for n in range(1, 8)},
}
_STORAGES = {
    "FloatStorage": "float32", "DoubleStorage": "float64", "HalfStorage": "float16", "BFloat16Storage": "bfloat16",
    "LongStorage": "int64", "IntStorage": "int32", "ShortStorage": "int16", "CharStorage": "int8",
    "ByteStorage": "uint8", "BoolStorage": "bool", "ComplexFloatStorage": "complex64",
    "ComplexDoubleStorage": "complex128", "QInt8Storage": "qint8", "QUInt8Storage": "quint8",
    "QInt32Storage": "qint32", "QUInt4x2Storage": "quint4x2", "QUInt2x4Storage": "quint2x4",
}
_TENSOR_TYPES = ("Float", "Double", "Half", "BFloat16", "Long", "Int", "Short", "Char", "Byte", "Bool")
_NP_SCALARS = {"f2": "e", "f4": "f", "f8": "d", "i1": "b", "i2": "h", "i4": "i", "i8": "q",
               "u1": "B", "u2": "H", "u4": "I", "u8": "Q", "b1": "?"}


def _limit(n: int) -> str:
    return f"{n >> 20} MB" if n >= 1 << 20 and not n % (1 << 20) else f"{n} byte"


def _count(value: object) -> bool:
    return type(value) is int and value >= 0


def _ascii(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("ascii", "replace")
    if isinstance(value, str):
        return value
    raise ReadError(f"malformed checkpoint: expected a string, got {type(value).__name__}")


def _short(value: object, limit: int = 80) -> str:
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - repr of hostile data
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _nbytes(dtype: str, numel: int) -> int | None:
    itemsize = _DTYPES[dtype][1]
    return None if itemsize is None else numel * itemsize


def _storage_dtype(storage_type: object) -> str:
    if isinstance(storage_type, _Global) and storage_type.kind == "storage" and storage_type.dtype:
        return storage_type.dtype
    raise ReadError(f"malformed checkpoint: storage type is {_short(storage_type)}")


def _dtype(value: object) -> str:
    if isinstance(value, _Global) and value.kind == "dtype" and value.dtype:
        return value.dtype
    raise ReadError(f"malformed checkpoint: expected a torch dtype, got {_short(value)}")


def _shape(value: object, what: str = "size") -> tuple[int, ...]:
    if type(value) not in (tuple, list) or len(value) > 64 or not all(_count(d) for d in value):  # type: ignore
        raise ReadError(f"malformed checkpoint: tensor {what} {_short(value)}")
    return tuple(value)  # type: ignore[arg-type]


def _tensor(storage: object, offset: object, size: object, stride: object, dtype: str | None = None) -> TensorStub:
    if not isinstance(storage, _StorageStub):
        raise ReadError(f"malformed checkpoint: tensor storage is {_short(storage)}")
    shape, strides = _shape(size), _shape(stride, "stride")
    if len(strides) != len(shape) or not _count(offset):
        raise ReadError(f"malformed checkpoint: tensor size {shape}, stride {strides}, offset {_short(offset)}")
    dtype = dtype or storage.dtype
    itemsize = _DTYPES[dtype][1]
    if storage.nbytes is not None and itemsize is not None and all(shape):
        end = offset + sum((n - 1) * s for n, s in zip(shape, strides)) + 1  # type: ignore[operator]
        if end * itemsize > storage.nbytes:
            raise ReadError(f"malformed checkpoint: a {list(shape)} tensor (stride {list(strides)}, offset "
                            f"{offset}) needs {end * itemsize} bytes of storage {storage.key!r}, "
                            f"which has {storage.nbytes}")
    return TensorStub(dtype, shape)


def _rebuild_tensor(storage, storage_offset, size, stride):
    return _tensor(storage, storage_offset, size, stride)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                       metadata=None):
    return _tensor(storage, storage_offset, size, stride)


def _rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype, metadata=None):
    return _tensor(storage, storage_offset, size, stride, _dtype(dtype))


def _rebuild_qtensor(storage, storage_offset, size, stride, quantizer_params, requires_grad, backward_hooks):
    return _tensor(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad, backward_hooks, state=None):
    if not isinstance(data, TensorStub):
        raise ReadError(f"malformed checkpoint: Parameter data is {_short(data)}")
    return data


def _rebuild_meta_tensor_no_storage(dtype, size, stride, requires_grad=False):
    return TensorStub(_dtype(dtype), _shape(size))


def _rebuild_wrapper_subclass(cls, dtype, size, stride, storage_offset, layout, device, requires_grad):
    return TensorStub(_dtype(dtype), _shape(size))


def _rebuild_device_tensor(data, dtype, device, requires_grad):
    if not isinstance(data, (TensorStub, _ArrayStub)):
        raise ReadError(f"malformed checkpoint: device tensor data is {_short(data)}")
    return TensorStub(_dtype(dtype), data.shape)


def _rebuild_sparse_tensor(layout, data):
    if not isinstance(layout, _Layout) or type(data) is not tuple:
        raise ReadError("malformed checkpoint: sparse tensor")
    if layout.name == "torch.sparse_coo" and len(data) in (3, 4):
        values, size = data[1], data[2]
    elif layout.name in ("torch.sparse_csr", "torch.sparse_csc", "torch.sparse_bsr", "torch.sparse_bsc") \
            and len(data) == 4:
        values, size = data[2], data[3]
    else:
        raise ReadError(f"unsupported sparse layout {_short(layout.name)}")
    if not isinstance(values, TensorStub):
        raise ReadError("malformed checkpoint: sparse tensor values")
    return TensorStub(values.dtype, _shape(size))


def _rebuild_nested_tensor(*args):
    raise ReadError("nested tensors (torch._utils._rebuild_nested_tensor) are not supported")


def _rebuild_from_type_v2(func, new_type, args, state):
    if not (isinstance(func, _Global) and func.kind == "function" and func.name.startswith("torch._utils._rebuild")):
        raise ReadError(f"malformed checkpoint: _rebuild_from_type_v2 of {_short(func)}")
    if type(args) is not tuple or func.call is None:
        raise ReadError("malformed checkpoint: _rebuild_from_type_v2 arguments")
    return func.call(*args)


def _pairs(args: tuple) -> dict:
    out: dict = {}
    if not args:
        return out
    if len(args) != 1:
        raise ReadError("malformed pickle: dict constructor arguments")
    items = args[0]
    if isinstance(items, dict):
        items = list(items.items())
    if type(items) not in (list, tuple):
        raise ReadError("malformed pickle: dict constructor arguments")
    for pair in items:
        if type(pair) not in (list, tuple) or len(pair) != 2:
            raise ReadError("malformed pickle: dict constructor item")
        out[_key(pair[0])] = pair[1]
    return out


def _ordered_dict(*args):
    return OrderedDict(_pairs(args))


def _counter(*args):
    return dict(_pairs(args))


def _members(args: tuple) -> list:
    if not args:
        return []
    if len(args) != 1 or type(args[0]) not in (list, tuple, set, frozenset):
        raise ReadError("malformed pickle: set constructor arguments")
    return [_key(item) for item in args[0]]


def _set(*args):
    return set(_members(args))


def _frozenset_(*args):
    return frozenset(_members(args))


def _latin1(text: object, encoding: object) -> bytes:
    if type(text) is not str or encoding not in ("latin1", "latin-1", "iso-8859-1"):
        raise ReadError(f"unsupported pickle: encode({_short(text, 30)}, {_short(encoding)})")
    return text.encode("latin-1")


def _codecs_encode(obj, encoding="utf-8", errors="strict"):
    return _latin1(obj, encoding)


def _bytearray(*args):
    if not args:
        return bytearray()
    if len(args) == 1 and type(args[0]) in (bytes, bytearray):
        return bytearray(args[0])
    if len(args) == 2:
        return bytearray(_latin1(args[0], args[1]))
    raise ReadError("unsupported pickle: bytearray arguments")


def _complex(*args):
    if len(args) <= 2 and all(type(a) in (int, float) for a in args):
        return complex(*args)
    raise ReadError("unsupported pickle: complex arguments")


def _torch_size(*args):
    if len(args) != 1:
        raise ReadError("malformed checkpoint: torch.Size arguments")
    return _shape(args[0])


def _torch_device(*args):
    if 1 <= len(args) <= 2 and type(args[0]) is str and (len(args) == 1 or args[1] is None or _count(args[1])):
        return args[0] if len(args) == 1 or args[1] is None else f"{args[0]}:{args[1]}"
    raise ReadError("malformed checkpoint: torch.device arguments")


def _get_layout(name):
    if type(name) is not str:
        raise ReadError("malformed checkpoint: layout name")
    return _Layout(name)


def _np_dtype(name, align=False, copy=True):
    if type(name) is not str:
        raise ReadError("unsupported pickle: numpy dtype")
    return _NpDtype(name)


def _np_scalar(dtype, data=None):
    if not isinstance(dtype, _NpDtype):
        raise ReadError("malformed pickle: numpy scalar without a dtype")
    if dtype.name == "O":
        return data
    code = _NP_SCALARS.get(dtype.name)
    if code is not None and type(data) is bytes and len(data) == struct.calcsize(code):
        return struct.unpack((">" if dtype.byteorder == ">" else "<") + code, data)[0]
    if dtype.name in ("c8", "c16") and type(data) is bytes and len(data) in (8, 16):
        fmt = ("<" if dtype.byteorder != ">" else ">") + ("ff" if len(data) == 8 else "dd")
        return complex(*struct.unpack(fmt, data))
    return f"<numpy {dtype.name} scalar>"


def _np_reconstruct(cls, shape, dtype_code):
    if not (isinstance(cls, _Global) and cls.name == "numpy.ndarray"):
        raise ReadError(f"unsupported pickle: numpy _reconstruct of {_short(cls)}")
    return _ArrayStub()


def _np_frombuffer(buf, dtype, shape, order="C"):
    return _ArrayStub(dtype.name if isinstance(dtype, _NpDtype) else "?", _shape(shape, "ndarray shape"))


def _allowed() -> dict[str, _Global]:
    table: dict[str, _Global] = {}

    def add(name: str, kind: str, dtype: str | None = None, call: Callable[..., Any] | None = None) -> None:
        table[name] = _Global(name, kind, dtype, call)

    for cls, dtype in _STORAGES.items():
        add(f"torch.{cls}", "storage", dtype)
        if not cls.startswith("Q"):
            add(f"torch.cuda.{cls}", "storage", dtype)  # GPU checkpoints from old PyTorch versions
    add("torch.storage.UntypedStorage", "storage", "uint8")
    add("torch.UntypedStorage", "storage", "uint8")
    add("torch.storage.TypedStorage", "type")
    for dtype in _DTYPES:
        add(f"torch.{dtype}", "dtype", dtype)
    for module in ("torch", "torch.cuda", "torch.sparse", "torch.cuda.sparse"):
        for prefix in _TENSOR_TYPES:
            if not (prefix == "Bool" and module.endswith("sparse")):
                add(f"{module}.{prefix}Tensor", "type")
    add("torch.Tensor", "type")
    add("torch.nn.parameter.Parameter", "type")
    for scheme in ("per_tensor_affine", "per_tensor_symmetric", "per_channel_affine", "per_channel_symmetric",
                   "per_channel_affine_float_qparams"):
        add(f"torch.{scheme}", "qscheme")
    for func in (_rebuild_tensor, _rebuild_tensor_v2, _rebuild_tensor_v3, _rebuild_qtensor, _rebuild_parameter,
                 _rebuild_meta_tensor_no_storage, _rebuild_wrapper_subclass, _rebuild_sparse_tensor,
                 _rebuild_nested_tensor):
        add(f"torch._utils.{func.__name__}", "function", call=func)
    add("torch._utils._rebuild_parameter_with_state", "function", call=_rebuild_parameter)
    add("torch._utils._rebuild_device_tensor_from_cpu_tensor", "function", call=_rebuild_device_tensor)
    add("torch._utils._rebuild_device_tensor_from_numpy", "function", call=_rebuild_device_tensor)
    add("torch._tensor._rebuild_from_type_v2", "function", call=_rebuild_from_type_v2)
    add("torch.serialization._get_layout", "function", call=_get_layout)
    add("torch.Size", "function", call=_torch_size)
    add("torch.device", "function", call=_torch_device)
    add("collections.OrderedDict", "function", call=_ordered_dict)
    add("collections.Counter", "function", call=_counter)
    add("_codecs.encode", "function", call=_codecs_encode)
    add("builtins.set", "function", call=_set)
    add("builtins.frozenset", "function", call=_frozenset_)
    add("builtins.bytearray", "function", call=_bytearray)
    add("builtins.complex", "function", call=_complex)
    # numpy (not in torch's default weights_only allow-list): numbers and arrays in checkpoint metadata
    add("numpy.dtype", "function", call=_np_dtype)
    add("numpy.ndarray", "type")
    for core in ("numpy.core", "numpy._core"):
        add(f"{core}.multiarray.scalar", "function", call=_np_scalar)
        add(f"{core}.multiarray._reconstruct", "function", call=_np_reconstruct)
        add(f"{core}.numeric._frombuffer", "function", call=_np_frombuffer)
    return table


_ALLOWED = _allowed()
_TORCH_GLOBALS = frozenset(name for name in _ALLOWED
                           if not name.startswith("numpy.") and name not in ("builtins.frozenset",
                                                                              "torch.UntypedStorage"))

# Modules and builtins that exploits use; only to say "can run arbitrary code" in the message.
_DANGEROUS_MODULES = frozenset((
    "os", "posix", "nt", "subprocess", "sys", "socket", "runpy", "pickle", "_pickle", "shutil", "importlib",
    "ctypes", "marshal", "types", "code", "codeop", "pty", "commands", "webbrowser", "requests", "httplib",
    "http", "urllib", "urllib2", "asyncio", "multiprocessing", "pdb", "bdb", "timeit", "cProfile", "profile",
    "operator", "_operator", "functools", "copyreg", "copy_reg", "platform", "tempfile", "signal", "threading",
    "_thread", "io", "_io", "posixpath", "ntpath", "glob", "zipimport", "pkgutil", "site", "imp", "numpy.testing",
    "torch.hub", "torch.serialization", "torch._inductor", "torch.jit", "torch._dynamo", "torch.ops", "pydoc",
))
_DANGEROUS_BUILTINS = frozenset((
    "eval", "exec", "execfile", "compile", "open", "file", "getattr", "setattr", "delattr", "__import__",
    "globals", "locals", "vars", "input", "raw_input", "breakpoint", "apply", "reload", "type", "object",
))


def _known_dangerous(name: str) -> bool:
    module, _, attr = name.rpartition(".")
    if module in ("builtins", "__builtin__", "__builtins__"):
        return attr in _DANGEROUS_BUILTINS or attr.startswith("_")
    return any(module == m or module.startswith(m + ".") for m in _DANGEROUS_MODULES)


# -- walking the result --------------------------------------------------------------------------------------
@dataclass
class _Walk:
    entries: int = field(default_factory=lambda: MAX_ENTRIES)
    has_tensor: dict[int, bool] = field(default_factory=dict)


def _contains_tensor(obj: object, walk: _Walk, depth: int = 0) -> bool:
    if isinstance(obj, TensorStub):
        return True
    kind = type(obj)
    if kind not in (dict, OrderedDict, list, tuple):
        return False
    key = id(obj)
    known = walk.has_tensor.get(key)
    if known is not None:
        return known
    if depth > MAX_DEPTH:
        raise ReadError(f"checkpoint pickle is nested too deeply (over {MAX_DEPTH} levels)")
    walk.has_tensor[key] = False  # a cycle back to here adds nothing
    values = obj.values() if kind is dict or kind is OrderedDict else obj  # type: ignore[attr-defined]
    found = False
    for value in values:  # type: ignore[attr-defined]
        if _contains_tensor(value, walk, depth + 1):
            found = True
    walk.has_tensor[key] = found
    return found


def _name_tensors(obj: object, prefix: str, out: dict[str, TensorStub], walk: _Walk, path: set[int]) -> None:
    if isinstance(obj, TensorStub):
        out[prefix] = obj
        return
    if not walk.has_tensor.get(id(obj)) or id(obj) in path:
        return
    path.add(id(obj))
    kind = type(obj)
    items = obj.items() if kind is dict or kind is OrderedDict else enumerate(obj)  # type: ignore[attr-defined]
    for key, value in items:
        walk.entries -= 1
        if walk.entries < 0:
            raise ReadError(f"checkpoint names over {MAX_ENTRIES} objects (shared sub-objects?)")
        name = _key_name(key)
        _name_tensors(value, f"{prefix}.{name}" if prefix else name, out, walk, path)
    path.discard(id(obj))


def _key_name(key: object) -> str:
    if type(key) is str:
        return key
    if type(key) is int:
        return str(key) if abs(key) < 1 << 64 else "<int>"
    return _short(key, 60)


def _summary(value: object, depth: int = 0) -> object:
    """An inert, bounded copy of a plain value for `other_keys`."""
    kind = type(value)
    if value is None or kind in (bool, float, complex):
        return value
    if kind is int:
        return value if value.bit_length() <= 256 else f"<int of {value.bit_length()} bits>"  # type: ignore
    if kind is str:
        return value if len(value) <= 200 else value[:199] + "…"  # type: ignore[index]
    if kind in (bytes, bytearray):
        return f"<{len(value)} bytes>"  # type: ignore[arg-type]
    if isinstance(value, _ArrayStub):
        return f"<ndarray {value.dtype} {list(value.shape)}>"
    if isinstance(value, _Global):
        return f"<{value.name}>"
    if isinstance(value, (_NpDtype, _Layout)):
        return f"<{value.name}>"
    if isinstance(value, _StorageStub):
        return f"<storage {value.dtype}>"
    if depth >= 4:
        return "…"
    if kind in (dict, OrderedDict):
        out = {}
        for i, (k, v) in enumerate(value.items()):  # type: ignore[attr-defined]
            if i == 50:
                out["…"] = f"{len(value) - 50} more"  # type: ignore[arg-type]
                break
            out[_key_name(k)] = _summary(v, depth + 1)
        return out
    if kind in (list, tuple, set, frozenset):
        items = list(value)[:21] if kind in (set, frozenset) else value[:21]  # type: ignore[index]
        out_list = [_summary(v, depth + 1) for v in items[:20]]
        if len(value) > 20:  # type: ignore[arg-type]
            out_list.append(f"… {len(value) - 20} more")  # type: ignore[arg-type]
        return tuple(out_list) if kind is tuple else out_list
    return f"<{kind.__name__}>"


def _result(path: Path, obj: object, machine: _Machine, kind: str) -> PickleCheckpoint:
    walk = _Walk()

    def info(name: str, stub: TensorStub) -> TensorInfo:
        return TensorInfo(name, _DTYPES[stub.dtype][0], stub.shape, path)

    tensors: dict[str, TensorInfo] = {}
    containers: dict[str, dict[str, TensorInfo]] = {}
    other: dict[str, object] = {}
    if isinstance(obj, TensorStub):
        tensors[""] = info("", obj)
        containers[""] = dict(tensors)
    elif type(obj) in (dict, OrderedDict, list, tuple):
        items = obj.items() if type(obj) in (dict, OrderedDict) else enumerate(obj)  # type: ignore[attr-defined]
        for key, value in items:
            name = _key_name(key)
            if isinstance(value, TensorStub):
                tensors[name] = containers.setdefault("", {})[name] = info(name, value)
            elif _contains_tensor(value, walk):
                found: dict[str, TensorStub] = {}
                _name_tensors(value, "", found, walk, {id(obj)})
                own = containers[name] = {}
                for sub, stub in found.items():
                    full = f"{name}.{sub}" if sub else name
                    tensors[full] = info(full, stub)
                    own[sub] = info(sub, stub)
            else:
                other[name] = _summary(value)
    else:
        other[""] = _summary(obj)
    return PickleCheckpoint(tensors, containers, other, kind, tuple(sorted(machine.globals)),
                            tuple(sorted(machine.blockers)))
