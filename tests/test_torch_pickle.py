"""Pickle checkpoints (.bin/.pt) and GGUF headers read without torch and without executing anything.

Shapes are compared with `torch.load(map_location="meta", weights_only=True)` on files torch writes here;
hostile files (code-running globals, zip bombs, deep nesting, truncation, fuzzed bytes) must only ever give
ReadError or UnsafePickle, and must never run the payload.
"""

from __future__ import annotations

import argparse
import builtins
import contextlib
import io
import os
import pickle
import random
import struct
import subprocess
import sys
import warnings
import zipfile
from collections import OrderedDict
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ckpt_lint.models import gguf as gguf_mod
from ckpt_lint.models import torch_pickle as tp
from ckpt_lint.models.gguf import ArraySummary, read_gguf
from ckpt_lint.models.torch_pickle import UnsafePickle, read_torch_checkpoint
from ckpt_lint.textio import ReadError

TORCH_DTYPES = {
    "float32": "F32", "float64": "F64", "float16": "F16", "bfloat16": "BF16", "int64": "I64", "int32": "I32",
    "int16": "I16", "int8": "I8", "uint8": "U8", "uint16": "U16", "bool": "BOOL", "complex64": "C64",
    "float8_e4m3fn": "F8_E4M3", "float8_e5m2": "F8_E5M2", "qint8": "QI8", "quint8": "QU8",
}


@contextlib.contextmanager
def strict():
    """Let unexpected exception types escape the reader instead of becoming ReadError."""
    old = tp._PROPAGATE_INTERNAL_ERRORS
    tp._PROPAGATE_INTERNAL_ERRORS = True
    try:
        yield
    finally:
        tp._PROPAGATE_INTERNAL_ERRORS = old


@pytest.fixture(autouse=True)
def _strict_reader():
    with strict():
        yield


def torch_or_skip():
    return pytest.importorskip("torch")


def flatten_torch(obj, prefix=""):
    """{dotted name: (dtype, shape)} of a torch.load result, named like PickleCheckpoint.tensors."""
    import torch

    out = {}
    if isinstance(obj, torch.Tensor):
        out[prefix] = (TORCH_DTYPES[str(obj.dtype).removeprefix("torch.")], tuple(obj.shape))
    elif isinstance(obj, dict):
        for key, value in obj.items():
            out.update(flatten_torch(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            out.update(flatten_torch(value, f"{prefix}.{i}" if prefix else str(i)))
    return out


def ours(path):
    return {name: (t.dtype, t.shape) for name, t in read_torch_checkpoint(path).tensors.items()}


def torch_load(path, weights_only=True, map_location="meta"):
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.load(path, map_location=map_location, weights_only=weights_only)


def assert_same_as_torch(path, *, weights_only=True, map_location="meta"):
    """Our names/dtypes/shapes equal torch's, and weights_only_blockers is empty iff torch's weights_only loads."""
    result = read_torch_checkpoint(path)
    expected = flatten_torch(torch_load(path, weights_only, map_location))
    assert {n: (t.dtype, t.shape) for n, t in result.tensors.items()} == expected
    assert all(t.name == n and t.file == Path(path) for n, t in result.tensors.items())
    try:
        torch_load(path, True, "cpu")
        refused = False
    except Exception:  # noqa: BLE001 - torch's UnpicklingError wrappers vary
        refused = True
    assert bool(result.weights_only_blockers) == refused, result.weights_only_blockers
    return result


def net():
    import torch
    from torch import nn

    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(11, 6)
            self.conv = nn.Conv2d(3, 4, 3)
            self.bn = nn.BatchNorm2d(4)  # num_batches_tracked: int64 scalar
            self.rnn = nn.LSTM(6, 5, batch_first=True)
            self.norm = nn.LayerNorm(6)
            self.head = nn.Linear(6, 11, bias=False)
            self.head.weight = self.embed.weight  # tied: shared storage
            self.register_buffer("mask", torch.ones(3, 3, dtype=torch.bool))

    torch.manual_seed(0)
    return Tiny()


def save(obj, path, **kwargs):
    import torch

    torch.save(obj, path, **kwargs)
    return path


# -- agreement with torch.load(map_location="meta", weights_only=True) ------------------------------------
@pytest.mark.parametrize("legacy", [False, True])
def test_tiny_module_state_dict(tmp_path, legacy):
    torch_or_skip()
    sd = net().state_dict()
    path = save(sd, tmp_path / "pytorch_model.bin", _use_new_zipfile_serialization=not legacy)
    result = assert_same_as_torch(path)
    assert result.format == ("legacy" if legacy else "zip")
    assert list(result.containers) == [""] and result.containers[""] == result.tensors
    assert result.tensors["bn.num_batches_tracked"].dtype == "I64"
    assert result.tensors["bn.num_batches_tracked"].shape == ()
    assert result.tensors["head.weight"].shape == result.tensors["embed.weight"].shape == (11, 6)
    assert result.tensors["mask"].dtype == "BOOL"
    assert result.other_keys == {}
    assert result.weights_only_blockers == ()
    assert "torch._utils._rebuild_tensor_v2" in result.globals


def test_tiny_bert_state_dict(tmp_path):
    torch = torch_or_skip()
    transformers = pytest.importorskip("transformers")
    config = transformers.BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                     intermediate_size=37, max_position_embeddings=64)
    torch.manual_seed(0)
    sd = transformers.BertModel(config).state_dict()
    for legacy in (False, True):
        path = save(sd, tmp_path / f"bert{legacy}.bin", _use_new_zipfile_serialization=not legacy)
        result = assert_same_as_torch(path)
        assert result.tensors["embeddings.word_embeddings.weight"].shape == (99, 32)
        assert result.tensors["encoder.layer.1.intermediate.dense.weight"].shape == (37, 32)
        assert len(result.tensors) == len(sd)


def test_nested_training_checkpoint(tmp_path):
    torch = torch_or_skip()
    model = net()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.conv.weight.sum().backward()
    opt.step()
    ckpt = {"epoch": 3, "model_state_dict": model.state_dict(), "optimizer_state_dict": opt.state_dict(),
            "best_acc": 0.91, "args": {"lr": 1e-3, "name": "run", "layers": [1, 2, 3]}, "note": "x" * 500}
    for legacy in (False, True):
        path = save(ckpt, tmp_path / f"ckpt{legacy}.pt", _use_new_zipfile_serialization=not legacy)
        result = assert_same_as_torch(path)
        assert set(result.containers) == {"model_state_dict", "optimizer_state_dict"}
        assert result.containers["model_state_dict"]["conv.weight"].shape == (4, 3, 3, 3)
        assert result.containers["model_state_dict"]["conv.weight"].name == "conv.weight"
        assert result.tensors["model_state_dict.conv.weight"].name == "model_state_dict.conv.weight"
        assert result.containers["optimizer_state_dict"]["state.1.exp_avg"].shape == (4, 3, 3, 3)
        assert result.other_keys["epoch"] == 3 and result.other_keys["best_acc"] == 0.91
        assert result.other_keys["args"] == {"lr": 1e-3, "name": "run", "layers": [1, 2, 3]}
        assert len(result.other_keys["note"]) == 200


@pytest.mark.parametrize("wrapper", ["state_dict", "model", "module"])
def test_wrapped_state_dicts(tmp_path, wrapper):
    torch = torch_or_skip()
    sd = OrderedDict([("module.visual.conv1.weight", torch.zeros(8, 3, 4, 4)), ("module.ln.bias", torch.zeros(8))])
    path = save({wrapper: sd, "step": 10}, tmp_path / "w.ckpt")
    result = assert_same_as_torch(path)
    assert list(result.containers) == [wrapper]
    assert result.containers[wrapper]["module.visual.conv1.weight"].shape == (8, 3, 4, 4)
    assert f"{wrapper}.module.ln.bias" in result.tensors
    assert result.other_keys == {"step": 10}


@pytest.mark.parametrize("legacy", [False, True])
def test_views_parameters_dtypes_and_odd_tensors(tmp_path, legacy):
    torch = torch_or_skip()
    base = torch.arange(24.0).reshape(4, 6)
    obj = {
        "base": base, "rows": base[1:], "strided": base[1:, ::2], "t": base.t(), "col": base[:, 3],
        "param": torch.nn.Parameter(torch.ones(2, 5)), "empty": torch.zeros(0), "empty2": torch.zeros(3, 0),
        "scalar": torch.tensor(7), "bf16": torch.ones(2, 3, dtype=torch.bfloat16),
        "f16": torch.ones(4, dtype=torch.float16), "i64": torch.arange(5), "i8": torch.zeros(2, dtype=torch.int8),
        "u8": torch.zeros(2, dtype=torch.uint8), "f64": torch.zeros(1, dtype=torch.float64),
        "c64": torch.zeros(2, dtype=torch.complex64), "list": [torch.ones(1), (torch.ones(2), {"deep": torch.ones(3)})],
        "size": torch.Size([2, 3]), "device": torch.device("cpu"), "bytes": b"\x00\xffabc", "none": None,
    }
    attr = torch.zeros(3)
    attr.extra = "python attribute"  # pickled through torch._tensor._rebuild_from_type_v2
    obj["attr"] = attr
    if not legacy:  # torch's legacy loader cannot read these back
        obj["f8"] = torch.zeros(2, dtype=torch.float8_e4m3fn)
        obj["u16"] = torch.zeros(3, dtype=torch.uint16)
        obj["meta"] = torch.empty(2, 3, device="meta")
    path = save(obj, tmp_path / "odd.pt", _use_new_zipfile_serialization=not legacy)
    result = assert_same_as_torch(path)
    assert result.tensors["strided"].shape == (3, 3) and result.tensors["t"].shape == (6, 4)
    assert result.tensors["empty2"].shape == (3, 0) and result.tensors["scalar"].shape == ()
    assert result.tensors["list.1.1.deep"].shape == (3,)
    assert result.other_keys == {"size": (2, 3), "device": "cpu", "bytes": "<5 bytes>", "none": None}


def test_sparse_and_quantized(tmp_path):
    torch = torch_or_skip()
    obj = {"coo": torch.eye(3).to_sparse(), "csr": torch.eye(4).to_sparse_csr(),
           "q": torch.quantize_per_tensor(torch.ones(4), 0.1, 0, torch.qint8),
           "qc": torch.quantize_per_channel(torch.ones(2, 3), torch.tensor([0.1, 0.2]), torch.tensor([0, 0]), 0,
                                            torch.quint8)}
    path = save(obj, tmp_path / "sq.pt")
    result = assert_same_as_torch(path, map_location="cpu")  # quantized tensors have no meta kernels
    assert result.tensors["csr"].shape == (4, 4) and result.tensors["q"].dtype == "QI8"


def test_bare_tensor_and_list_at_top_level(tmp_path):
    torch = torch_or_skip()
    result = read_torch_checkpoint(save(torch.zeros(2, 3), tmp_path / "t.pt"))
    assert result.tensors[""].shape == (2, 3) and result.containers == {"": result.tensors}
    result = assert_same_as_torch(save([{"w": torch.zeros(2)}, {"w": torch.zeros(3)}], tmp_path / "l.pt"))
    assert set(result.containers) == {"0", "1"} and result.containers["1"]["w"].shape == (3,)


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_pickle_protocols(tmp_path, protocol):
    """torch.save(pickle_protocol=4/5) files are read; torch's weights_only unpickler refuses them (FRAME...)."""
    torch_or_skip()
    obj = {"sd": net().state_dict(), "bytes": b"abc", "set": {1, 2}, "big": 10**30, "neg": -5, "f": 1.5}
    path = save(obj, tmp_path / "p.pt", pickle_protocol=protocol)
    result = assert_same_as_torch(path, weights_only=False)
    assert result.other_keys["set"] == [1, 2] and result.other_keys["big"] == 10**30
    assert any("FRAME" in b for b in result.weights_only_blockers) == (protocol >= 4)
    legacy = save(obj, tmp_path / "legacy.pt", pickle_protocol=protocol, _use_new_zipfile_serialization=False)
    assert ours(legacy) == ours(path)


def test_numpy_values_are_read_but_torch_weights_only_refuses_them(tmp_path):
    torch = torch_or_skip()
    np = pytest.importorskip("numpy")
    obj = {"w": torch.zeros(2), "epoch": np.int64(3), "best": np.float64(0.25), "ok": np.bool_(True),
           "f32": np.float32(1.5), "rng": np.zeros((2, 3), dtype=np.uint32), "frozen": frozenset({"a"})}
    for protocol in (2, 5):
        path = save(obj, tmp_path / f"np{protocol}.pt", pickle_protocol=protocol)
        result = assert_same_as_torch(path, weights_only=False)
        assert result.other_keys == {"epoch": 3, "best": 0.25, "ok": True, "f32": 1.5,
                                     "rng": "<ndarray u4 [2, 3]>", "frozen": ["a"]}
        assert "global numpy.dtype" in result.weights_only_blockers
        assert any("frozenset" in b.lower() for b in result.weights_only_blockers)


def test_namespace_and_pickled_modules_are_refused_like_weights_only(tmp_path):
    torch = torch_or_skip()
    path = save({"w": torch.zeros(1), "args": argparse.Namespace(lr=0.1)}, tmp_path / "ns.pt")
    with pytest.raises(UnsafePickle) as info:
        read_torch_checkpoint(path)
    assert info.value.global_name == "argparse.Namespace" and not info.value.dangerous
    assert str(info.value) == "refusing global argparse.Namespace"
    with pytest.raises(Exception, match="Unsupported global"):
        torch_load(path, weights_only=True)

    path = save(torch.nn.Sequential(torch.nn.Linear(2, 2)), tmp_path / "model.pt")  # torch.save(model)
    with pytest.raises(UnsafePickle, match=r"torch\.nn\.modules\.container\.Sequential"):
        read_torch_checkpoint(path)
    with pytest.raises(Exception, match="Unsupported global"):
        torch_load(path, weights_only=True)


def test_allow_list_against_torch_weights_only():
    """Every global torch's weights_only unpickler allows is allowed here (as an inert stand-in); the extras are
    numpy's scalar/array/dtype reconstructors and frozenset, reported as weights_only_blockers."""
    torch_or_skip()
    allowed = pytest.importorskip("torch._weights_only_unpickler")._get_allowed_globals()
    assert set(allowed) <= set(tp._ALLOWED)
    extra = set(tp._ALLOWED) - set(allowed)
    assert extra == set(tp._ALLOWED) - tp._TORCH_GLOBALS
    assert all(name.startswith("numpy.") for name in extra - {"builtins.frozenset", "torch.UntypedStorage"})


def test_torchscript_archive(tmp_path):
    torch = torch_or_skip()
    path = tmp_path / "scripted.pt"
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), str(path))
    with pytest.raises(ReadError, match="TorchScript archive"):
        read_torch_checkpoint(path)


# -- hostile files -----------------------------------------------------------------------------------------
class SystemPayload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class ExecPayload(SystemPayload):
    def __reduce__(self):
        return builtins.exec, (f"open({str(self.marker)!r}, 'w').close()",)


class PopenPayload(SystemPayload):
    def __reduce__(self):
        return subprocess.Popen, (["touch", str(self.marker)],)


def torch_zip(path, data_pkl, records=None, archive="archive"):
    """A torch.save-style zip written without torch."""
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{archive}/data.pkl", data_pkl)
        zf.writestr(f"{archive}/byteorder", "little")
        for key, data in (records or {}).items():
            zf.writestr(f"{archive}/data/{key}", data)
        zf.writestr(f"{archive}/version", "3\n")
    return path


def legacy_stream(main_pickle, keys=b"\x80\x02]q\x00.", protocol=2):
    head = pickle.dumps(tp.MAGIC_NUMBER, protocol=protocol) + pickle.dumps(tp.PROTOCOL_VERSION, protocol=protocol)
    head += pickle.dumps({"protocol_version": 1001, "little_endian": True}, protocol=protocol)
    return head + main_pickle + keys


PAYLOADS = [(SystemPayload, ("posix.system", "nt.system", "os.system")),
            (ExecPayload, ("builtins.exec",)),  # protocol 2 writes __builtin__.exec
            (PopenPayload, ("subprocess.Popen",))]  # protocol 2 writes commands.Popen


@pytest.mark.parametrize("payload,names", PAYLOADS, ids=["os.system", "exec", "Popen"])
@pytest.mark.parametrize("protocol", [2, 4], ids=["GLOBAL", "STACK_GLOBAL"])
@pytest.mark.parametrize("layout", ["zip", "raw", "legacy"])
def test_code_running_globals_are_refused(tmp_path, payload, names, protocol, layout):
    marker = tmp_path / "pwned"
    data = pickle.dumps({"w": [1.0], "x": payload(marker)}, protocol=protocol)
    assert (b"\x93" in data) == (protocol == 4)  # STACK_GLOBAL
    path = tmp_path / "evil.pt"
    if layout == "zip":
        torch_zip(path, data)
    elif layout == "raw":
        path.write_bytes(data)
    else:
        path.write_bytes(legacy_stream(data))
    with pytest.raises(UnsafePickle) as info:
        read_torch_checkpoint(path)
    assert info.value.global_name in names and info.value.dangerous
    assert "can run arbitrary code" in str(info.value)
    assert not marker.exists()


def test_payload_saved_by_torch_is_refused(tmp_path):
    torch = torch_or_skip()
    marker = tmp_path / "pwned"
    for protocol in (2, 4):
        path = save({"w": torch.zeros(2), "x": SystemPayload(marker)}, tmp_path / f"e{protocol}.pt",
                    pickle_protocol=protocol)
        with pytest.raises(UnsafePickle, match=r"refusing global (posix|nt)\.system"):
            read_torch_checkpoint(path)
    assert not marker.exists()


@pytest.mark.parametrize("data", [
    b"(S'touch pwned'\nios\nsystem\n.",  # INST, protocol 0
    b"(cos\nsystem\nS'touch pwned'\no.",  # OBJ
    b"\x80\x02cbuiltins\ngetattr\nq\x00.",  # a bare global, never called
    b"\x80\x04\x8c\x08builtins\x8c\x04eval\x93\x8c\x05print\x85R.",  # STACK_GLOBAL + REDUCE
    b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\nq\x00ccopyreg\n_reconstructor\n.",
])
def test_other_ways_to_reach_a_global(tmp_path, data):
    path = tmp_path / "evil.pt"
    path.write_bytes(data)
    with pytest.raises(UnsafePickle):
        read_torch_checkpoint(path)
    torch_zip(tmp_path / "evil.zip", data)
    with pytest.raises(UnsafePickle):
        read_torch_checkpoint(tmp_path / "evil.zip")
    assert not (Path.cwd() / "pwned").exists()


def test_zip_bomb_by_declared_size(tmp_path):
    path = torch_zip(tmp_path / "bomb.pt", b"\x80\x02}.")
    raw = bytearray(path.read_bytes())
    # patch the uncompressed size of data.pkl (first record) in the local header and the central directory
    struct.pack_into("<I", raw, 22, 0xFFFF0000)
    central = raw.index(b"PK\x01\x02")
    struct.pack_into("<I", raw, central + 24, 0xFFFF0000)
    path.write_bytes(bytes(raw))
    with pytest.raises(ReadError, match=r"declares 4294901760 bytes, over the 64 MB limit"):
        read_torch_checkpoint(path)


def test_zip_bomb_by_compression_ratio(tmp_path):
    path = tmp_path / "bomb.pt"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("archive/data.pkl", b"\x80\x02]" + b"N" * (16 << 20) + b".")
    with pytest.raises(ReadError, match="zip bomb"):
        read_torch_checkpoint(path)


def test_declared_size_over_the_cap(tmp_path):
    path = torch_zip(tmp_path / "big.pt", b"\x80\x02]" + b"N" * 2000 + b"e.")
    with pytest.raises(ReadError, match="over the 1000 byte limit"):
        read_torch_checkpoint(path, max_pickle_bytes=1000)


def deep_lists(n):
    return b"\x80\x02" + b"]" * n + b"a" * (n - 1) + b"."


def memo_chain(n):
    """n lists each holding the previous one, built through the memo with a constant stack depth."""
    out = bytearray(b"\x80\x02]r\x00\x00\x00\x000")
    for i in range(1, n):
        out += b"]j" + struct.pack("<I", i - 1) + b"ar" + struct.pack("<I", i) + b"0"
    return bytes(out + b"j" + struct.pack("<I", n - 1) + b".")


@pytest.mark.parametrize("data", [deep_lists(100_000), memo_chain(100_000), b"\x80\x02" + b"(" * 100_000],
                         ids=["stack", "memo", "marks"])
def test_deep_nesting(tmp_path, data):
    for path in (tmp_path / "deep.pt", torch_zip(tmp_path / "deep.zip", data)):
        if path.suffix == ".pt":
            path.write_bytes(legacy_stream(data))
        with pytest.raises(ReadError, match="nested too deeply"):
            read_torch_checkpoint(path)


def test_deep_tuple_dict_key_does_not_crash_the_interpreter(tmp_path):
    """hash() of a 1e6-deep tuple overflows the C stack (segfault) in CPython: keys are checked first."""
    data = b"\x80\x02}N" + b"\x85" * 1_000_000 + b"K\x01s."
    path = torch_zip(tmp_path / "deep.pt", data)
    code = ("import sys; from ckpt_lint.models.torch_pickle import read_torch_checkpoint\n"
            "from ckpt_lint.textio import ReadError\n"
            "try:\n    read_torch_checkpoint(sys.argv[1])\nexcept ReadError as e:\n    print('ReadError', e)\n")
    run = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "ReadError unsupported pickle: a tuple used as a dict key" in run.stdout
    data = b"\x80\x02cbuiltins\nset\n]N" + b"\x85" * 200 + b"a\x85R."  # set([deep tuple])
    with pytest.raises(ReadError, match="used as a dict key or set member"):
        read_torch_checkpoint(torch_zip(tmp_path / "set.pt", data))


def test_shared_sub_objects_cannot_blow_up_the_walk(tmp_path, monkeypatch):
    torch = torch_or_skip()
    nest = [torch.zeros(1)]
    for _ in range(40):
        nest = [nest, nest]  # 2**40 paths to one tensor, a few hundred bytes of pickle
    path = save({"x": nest}, tmp_path / "laughs.pt")
    monkeypatch.setattr(tp, "MAX_ENTRIES", 10_000)
    with pytest.raises(ReadError, match="over 10000 objects"):
        read_torch_checkpoint(path)
    cyclic = [torch.zeros(1)]
    cyclic.append(cyclic)
    result = read_torch_checkpoint(save({"c": cyclic}, tmp_path / "cycle.pt"))
    assert list(result.tensors) == ["c.0"]


def test_opcode_cap(tmp_path):
    path = torch_zip(tmp_path / "many.pt", b"\x80\x02]" + b"N" * 5000 + b"(" + b"N" * 10 + b"e.")
    with pytest.raises(ReadError, match="more than 1000 opcodes"):
        read_torch_checkpoint(path, max_ops=1000)


def test_truncated_files(tmp_path):
    torch_or_skip()
    sd = net().state_dict()
    for legacy in (False, True):
        path = save(sd, tmp_path / "full.pt", _use_new_zipfile_serialization=not legacy)
        data = path.read_bytes()
        for cut in (len(data) - 1, len(data) - 100, len(data) // 2, 600, 100, 10, 1):
            (tmp_path / "cut.pt").write_bytes(data[:cut])
            with pytest.raises(ReadError):
                read_torch_checkpoint(tmp_path / "cut.pt")


def test_storage_record_missing_or_short(tmp_path):
    torch = torch_or_skip()
    path = save({"w": torch.zeros(4, 4)}, tmp_path / "ok.pt")
    with zipfile.ZipFile(path) as zf:
        records = {i.filename: zf.read(i) for i in zf.infolist()}
    pkl = records["ok/data.pkl"]
    with pytest.raises(ReadError, match=r"storage record archive/data/0 is missing"):
        read_torch_checkpoint(torch_zip(tmp_path / "missing.pt", pkl))
    with pytest.raises(ReadError, match=r"has 8 bytes, its tensors need 64"):
        read_torch_checkpoint(torch_zip(tmp_path / "short.pt", pkl, {"0": b"\0" * 8}))
    bigger = pkl.replace(b"K\x04K\x04\x86", b"K\x04K\x05\x86")  # size (4, 4) -> (4, 5), stride unchanged
    assert bigger != pkl
    with pytest.raises(ReadError, match="needs 68 bytes of storage '0', which has 64"):
        read_torch_checkpoint(torch_zip(tmp_path / "over.pt", bigger, {"0": b"\0" * 64}))


@pytest.mark.parametrize("content,message", [
    (b"", "empty file"),
    (bytes(random.Random(0).randrange(256) for _ in range(4096)), "not a PyTorch checkpoint"),
    (b"hello world\n", "not a PyTorch checkpoint"),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 100, "not a PyTorch checkpoint"),
    (b"version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 12\n", "git-lfs pointer"),
    (pickle.dumps({"a": 1}, protocol=2), "without torch's magic number"),
    (b"PK\x03\x04" + b"\0" * 100, "broken zip archive"),
])
def test_not_a_checkpoint(tmp_path, content, message):
    path = tmp_path / "x.bin"
    path.write_bytes(content)
    with pytest.raises(ReadError, match=message):
        read_torch_checkpoint(path)


def test_zip_without_data_pkl(tmp_path):
    path = tmp_path / "x.pt"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data/0", b"\0" * 8)
        zf.writestr("archive/version", b"3\n")
    with pytest.raises(ReadError, match="zip archive without archive/data.pkl"):
        read_torch_checkpoint(path)
    with zipfile.ZipFile(path, "w"):
        pass
    with pytest.raises(ReadError):
        read_torch_checkpoint(path)
    with pytest.raises(ReadError, match="not a regular file"):
        read_torch_checkpoint(tmp_path)
    with pytest.raises(ReadError, match="cannot read"):
        read_torch_checkpoint(tmp_path / "missing.pt")


# -- fuzzing -----------------------------------------------------------------------------------------------
_BASES: dict[str, bytes] = {}


def base_files():
    """A small zip checkpoint's data.pkl and records, and the same checkpoint as a legacy stream."""
    if not _BASES:
        torch = torch_or_skip()
        buf = io.BytesIO()
        obj = {"w": torch.zeros(2, 3), "b": torch.ones(3, dtype=torch.float16), "v": torch.arange(6)[::2],
               "n": {"x": [1, 2.5, "s"], "p": torch.nn.Parameter(torch.ones(1))}, "epoch": 3}
        torch.save(obj, buf)
        with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as zf:
            for info in zf.infolist():
                _BASES[info.filename.split("/", 1)[1]] = zf.read(info)
        buf = io.BytesIO()
        torch.save(obj, buf, _use_new_zipfile_serialization=False)
        _BASES["legacy"] = buf.getvalue()
        _BASES["zip"] = _zip_bytes(_BASES)
    return _BASES


def _zip_bytes(parts, data_pkl=None):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("archive/data.pkl", parts["data.pkl"] if data_pkl is None else data_pkl)
        for name, data in parts.items():
            if name.startswith("data/") or name in ("byteorder", "version"):
                zf.writestr(f"archive/{name}", data)
    return out.getvalue()


def mutate(data: bytes, edits, cut) -> bytes:
    raw = bytearray(data)
    for position, value in edits:
        if raw:
            raw[position % len(raw)] = value
    if cut is not None:
        raw = raw[: cut % (len(raw) + 1)]
    return bytes(raw)


EDITS = st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), min_size=1, max_size=6)
CUTS = st.one_of(st.none(), st.integers(0, 1 << 20))
FUZZ = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))


def read_or_refuse(reader, path):
    with strict():
        try:
            result = reader(path)
        except (ReadError, UnsafePickle):
            return None
    return result


@FUZZ
@given(edits=EDITS, cut=CUTS)
def test_fuzz_data_pkl(tmp_path_factory, edits, cut):
    parts = base_files()
    path = tmp_path_factory.getbasetemp() / "fuzz-pkl.pt"
    path.write_bytes(_zip_bytes(parts, mutate(parts["data.pkl"], edits, cut)))
    result = read_or_refuse(read_torch_checkpoint, path)
    if result is not None:
        assert all(type(d) is int and d >= 0 for t in result.tensors.values() for d in t.shape)


@FUZZ
@given(edits=EDITS, cut=CUTS)
def test_fuzz_legacy_stream(tmp_path_factory, edits, cut):
    path = tmp_path_factory.getbasetemp() / "fuzz-legacy.pt"
    path.write_bytes(mutate(base_files()["legacy"], edits, cut))
    read_or_refuse(read_torch_checkpoint, path)


@settings(FUZZ, max_examples=100)
@given(edits=EDITS, cut=CUTS)
def test_fuzz_zip_file(tmp_path_factory, edits, cut):
    path = tmp_path_factory.getbasetemp() / "fuzz-zip.pt"
    path.write_bytes(mutate(base_files()["zip"], edits, cut))
    read_or_refuse(read_torch_checkpoint, path)


def test_fuzz_bases_are_valid(tmp_path):
    parts = base_files()
    for name in ("zip", "legacy"):
        (tmp_path / name).write_bytes(parts[name])
        assert read_torch_checkpoint(tmp_path / name).tensors["n.p"].shape == (1,)


# -- GGUF --------------------------------------------------------------------------------------------------
GGML = {"F32": (0, 1, 4), "F16": (1, 1, 2), "Q4_0": (2, 32, 18), "Q8_0": (8, 32, 34), "Q4_K": (12, 256, 144),
        "BF16": (30, 1, 2)}
SCALAR_CODES = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}


def gguf_bytes(kv, tensors, *, version=3, order="<", alignment=32, ne_override=None):
    """A GGUF file: kv is [(key, type, value)], with type 9 values as (element type, [values]);
    tensors is [(name, torch shape, ggml type name)]. Tensor data is zeros."""

    def s(text):
        raw = text.encode() if isinstance(text, str) else text
        return struct.pack(order + "Q", len(raw)) + raw

    def value(vtype, v):
        if vtype == 8:
            return s(v)
        if vtype == 9:
            etype, items = v
            return struct.pack(order + "IQ", etype, len(items)) + b"".join(value(etype, i) for i in items)
        return struct.pack(order + SCALAR_CODES[vtype], v)

    out = b"GGUF" + struct.pack(order + "IQQ", version, len(tensors), len(kv))
    for key, vtype, v in kv:
        out += s(key) + struct.pack(order + "I", vtype) + value(vtype, v)
    offset, sizes = 0, []
    for name, shape, type_name in tensors:
        type_id, block, block_bytes = GGML[type_name]
        ne = list(reversed(shape)) if ne_override is None else ne_override
        count = 1
        for d in shape:
            count *= d
        size = count // block * block_bytes
        out += s(name) + struct.pack(order + "I", len(ne)) + b"".join(struct.pack(order + "Q", d) for d in ne)
        out += struct.pack(order + "IQ", type_id, offset)
        sizes.append(size)
        offset += -(-size // alignment) * alignment
    out += b"\0" * (-len(out) % alignment)
    return out + b"\0" * offset


LLAMA_KV = [
    ("general.architecture", 8, "llama"), ("general.name", 8, "tiny"), ("llama.embedding_length", 4, 64),
    ("llama.block_count", 4, 2), ("llama.context_length", 4, 128), ("llama.rope.freq_base", 6, 10000.0),
    ("llama.attention.head_count", 9, (4, [4, 4])), ("general.file_type", 4, 1), ("flag", 7, True),
    ("u64", 10, 2**40), ("i8", 1, -3), ("f64", 12, 0.5), ("u8", 0, 255), ("i16", 3, -300), ("u16", 2, 65535),
    ("i64", 11, -(2**40)), ("i32", 5, -7),
    ("tokenizer.ggml.model", 8, "llama"), ("tokenizer.ggml.tokens", 9, (8, [f"tok{i}" for i in range(1000)])),
    ("tokenizer.ggml.scores", 9, (6, [0.0] * 1000)), ("tokenizer.ggml.token_type", 9, (5, [1] * 1000)),
    ("tokenizer.chat_template", 8, "{{ x }}" * 500), ("nested", 9, (9, [(4, [1, 2]), (8, ["a"])])),
]
LLAMA_TENSORS = [("token_embd.weight", (1000, 64), "F16"), ("blk.0.attn_q.weight", (64, 64), "Q4_0"),
                 ("blk.0.ffn_up.weight", (172, 256), "Q4_K"), ("output_norm.weight", (64,), "F32"),
                 ("blk.1.attn_k.weight", (16, 64), "Q8_0"), ("blk.1.x", (2, 3, 4), "BF16")]


def write(tmp_path, data, name="m.gguf"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("order", ["<", ">"])
def test_gguf_header(tmp_path, order):
    path = write(tmp_path, gguf_bytes(LLAMA_KV, LLAMA_TENSORS, order=order))
    header = read_gguf(path)
    assert header.version == 3 and header.byteorder == ("little" if order == "<" else "big")
    assert {n: (t.dtype, t.shape) for n, t in header.tensors.items()} == {
        "token_embd.weight": ("F16", (1000, 64)), "blk.0.attn_q.weight": ("Q4_0", (64, 64)),
        "blk.0.ffn_up.weight": ("Q4_K", (172, 256)), "output_norm.weight": ("F32", (64,)),
        "blk.1.attn_k.weight": ("Q8_0", (16, 64)), "blk.1.x": ("BF16", (2, 3, 4))}
    assert header.tensors["token_embd.weight"].file == path
    assert header.architecture == "llama" and header.embedding_length == 64 and header.block_count == 2
    assert header.vocab_size == header.token_count == 1000
    meta = header.metadata
    assert meta["tokenizer.ggml.tokens"] == ArraySummary("STRING", 1000)
    assert meta["tokenizer.ggml.scores"] == ArraySummary("FLOAT32", 1000)
    assert meta["llama.attention.head_count"] == ArraySummary("UINT32", 2, (4, 4))
    assert meta["nested"] == ArraySummary("ARRAY", 2)
    assert (meta["u64"], meta["i8"], meta["f64"], meta["flag"], meta["i64"]) == (2**40, -3, 0.5, True, -(2**40))
    assert len(meta["tokenizer.chat_template"]) == 1024
    assert header.data_offset % 32 == 0


def test_gguf_vocab_size_key_and_alignment(tmp_path):
    kv = [("general.architecture", 8, "qwen2"), ("qwen2.vocab_size", 4, 151936), ("general.alignment", 4, 64)]
    header = read_gguf(write(tmp_path, gguf_bytes(kv, [("a", (3, 32), "F32"), ("b", (5,), "F16")], alignment=64)))
    assert header.vocab_size == 151936 and header.token_count is None and header.alignment == 64
    assert header.data_offset % 64 == 0 and header.tensors["b"].shape == (5,)
    assert read_gguf(write(tmp_path, gguf_bytes([], [], version=2))).version == 2


@pytest.mark.parametrize("data,message", [
    (b"", "not a GGUF file"),
    (b"GGML" + b"\0" * 40, "not a GGUF file"),
    (b"tjgg" + b"\0" * 40, "pre-GGUF"),
    (b"GGUF\x03\0\0\0", "truncated GGUF header"),
    (b"GGUF" + struct.pack("<IQQ", 1, 0, 0), "unsupported GGUF version 1"),
    (b"GGUF" + struct.pack("<IQQ", 3, 2**60, 0), "implausible"),
    (b"GGUF" + struct.pack("<IQQ", 3, 0, 10**5), "cannot fit"),
    (b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 2**40) + b"\0" * 20, "over the 65536 byte limit"),
    (b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 1) + b"k" + struct.pack("<IIQ", 9, 8, 2**25),
     "cannot fit"),
    (b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 1) + b"k" + struct.pack("<I", 13) + b"\0" * 8,
     "unknown value type 13"),
    (b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 1) + b"\xff" + struct.pack("<I", 4) + b"\0" * 4,
     "not UTF-8"),
])
def test_gguf_bad_headers(tmp_path, data, message):
    with pytest.raises(ReadError, match=message):
        read_gguf(write(tmp_path, data))


def test_gguf_bad_tensors(tmp_path):
    good = gguf_bytes(LLAMA_KV[:3], [("w", (4, 64), "Q8_0")])
    with pytest.raises(ReadError, match=r"truncated: GGUF tensor 'w' ends at byte"):
        read_gguf(write(tmp_path, good[:-20]))
    with pytest.raises(ReadError, match="not a multiple of the Q8_0 block size 32"):
        read_gguf(write(tmp_path, gguf_bytes([], [("w", (4, 64), "Q8_0")], ne_override=[60, 4])))
    with pytest.raises(ReadError, match="has 9 dimensions"):
        read_gguf(write(tmp_path, gguf_bytes([], [("w", (1,), "F32")], ne_override=[1] * 9)))
    with pytest.raises(ReadError, match="general.alignment must be a power of two"):
        read_gguf(write(tmp_path, gguf_bytes([("general.alignment", 4, 48)], [])))
    with pytest.raises(ReadError, match="listed twice"):
        read_gguf(write(tmp_path, gguf_bytes([], [("w", (2,), "F32"), ("w", (2,), "F32")])))
    unknown = bytearray(gguf_bytes([], [("w", (2,), "F32")]))
    type_at = unknown.index(b"w") + 1 + 4 + 8
    struct.pack_into("<I", unknown, type_at, 99)
    assert read_gguf(write(tmp_path, bytes(unknown))).tensors["w"].dtype == "GGML_TYPE_99"
    misaligned = bytearray(gguf_bytes([], [("w", (2,), "F32")]))
    struct.pack_into("<Q", misaligned, type_at + 4, 4)
    with pytest.raises(ReadError, match="not a multiple of the alignment"):
        read_gguf(write(tmp_path, bytes(misaligned)))


def test_gguf_header_cap(tmp_path):
    path = write(tmp_path, gguf_bytes(LLAMA_KV, LLAMA_TENSORS))
    with pytest.raises(ReadError, match="GGUF header is over the 1000 byte limit"):
        read_gguf(path, max_header=1000)


def test_gguf_types_table_matches_gguf_package():
    gguf = pytest.importorskip("gguf")
    for type_id, (name, block, size) in gguf_mod.GGML_TYPES.items():
        qtype = gguf.GGMLQuantizationType(type_id)
        assert qtype.name == name and gguf.GGML_QUANT_SIZES[qtype] == (block, size)


def test_gguf_matches_gguf_package(tmp_path):
    gguf = pytest.importorskip("gguf")
    path = write(tmp_path, gguf_bytes(LLAMA_KV, LLAMA_TENSORS))
    reader = gguf.GGUFReader(path)
    theirs = {t.name: tuple(int(d) for d in reversed(t.shape)) for t in reader.tensors}
    assert theirs == {n: t.shape for n, t in read_gguf(path).tensors.items()}


@FUZZ
@given(edits=st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)), min_size=1, max_size=6), cut=CUTS)
def test_fuzz_gguf(tmp_path_factory, edits, cut):
    base = gguf_bytes(LLAMA_KV[:8] + LLAMA_KV[17:20], LLAMA_TENSORS[:3])
    header_end = base.index(b"blk.0.attn_q.weight") + 64  # keep mutations in the header
    data = mutate(base[:header_end], edits, cut) + base[header_end:] if cut is None else mutate(base, edits, cut)
    path = tmp_path_factory.getbasetemp() / "fuzz.gguf"
    path.write_bytes(data)
    try:
        header = read_gguf(path)
    except ReadError:
        return
    assert all(type(d) is int for t in header.tensors.values() for d in t.shape)
