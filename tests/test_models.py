"""Model facts: safetensors headers, local folders, the HF cache layout, the bundled snapshot."""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import pytest

from ckpt_lint.models import ModelFacts, ModelResolver
from ckpt_lint.models.safetensors import read_header, read_index
from ckpt_lint.textio import ReadError

DATA = Path(__file__).parent / "data" / "models"
SIZES = {"F32": 4, "F16": 2, "BF16": 2, "I64": 8}


def write_safetensors(path: Path, tensors: dict[str, tuple[str, list[int]]], *, metadata=None,
                      data_bytes: int | None = None) -> Path:
    """A real safetensors file: u64 header length, JSON header padded to 8 bytes, zeroed data."""
    header: dict = {"__metadata__": metadata or {"format": "pt"}}
    offset = 0
    for name, (dtype, shape) in tensors.items():
        n = SIZES[dtype]
        for d in shape:
            n *= d
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw)
        f.truncate(8 + len(raw) + (offset if data_bytes is None else data_bytes))  # sparse zeros
    return path


def raw_file(path: Path, header: bytes, length: int | None = None, data: bytes = b"") -> Path:
    path.write_bytes(struct.pack("<Q", len(header) if length is None else length) + header + data)
    return path


BERT_HEAD = {
    "bert.embeddings.word_embeddings.weight": ("F32", [99, 32]),
    "classifier.weight": ("F32", [60, 32]),
    "classifier.bias": ("F32", [60]),
}


# --- read_header ---------------------------------------------------------------------------------

def test_header_shapes_and_dtypes(tmp_path):
    path = write_safetensors(tmp_path / "model.safetensors", {**BERT_HEAD, "x.half": ("BF16", [3, 0, 2])})
    tensors = read_header(path)
    assert set(tensors) == {*BERT_HEAD, "x.half"}  # __metadata__ skipped
    assert tensors["classifier.weight"].shape == (60, 32)
    assert tensors["classifier.bias"].dtype == "F32"
    assert tensors["x.half"].shape == (3, 0, 2) and tensors["x.half"].dtype == "BF16"
    assert tensors["classifier.weight"].file == path


def test_header_matches_the_safetensors_library(tmp_path):
    np = pytest.importorskip("numpy")
    st = pytest.importorskip("safetensors.numpy")
    path = tmp_path / "lib.safetensors"
    st.save_file({"a": np.zeros((5, 7), dtype=np.float16), "b": np.zeros((3,), dtype=np.int64)}, str(path))
    tensors = read_header(path)
    assert {k: (v.dtype, v.shape) for k, v in tensors.items()} == {"a": ("F16", (5, 7)), "b": ("I64", (3,))}


@pytest.mark.parametrize("make, reason", [
    (lambda p: p.write_bytes(b"\x10\0\0"), "truncated safetensors header: file has only 3 bytes"),
    (lambda p: raw_file(p, b'{"a":', length=400), "truncated safetensors header: declares 400 bytes, file has 13"),
    (lambda p: raw_file(p, b"{}", length=2**63), f"header length {2**63} exceeds the limit"),
    (lambda p: raw_file(p, b'{"a": {"dtype": "F32",'), "invalid safetensors header JSON"),
    (lambda p: raw_file(p, b"\xff\xfe{}"), "invalid safetensors header JSON"),
    (lambda p: raw_file(p, b"[1, 2]"), "safetensors header is a JSON list, not an object"),
    (lambda p: raw_file(p, b"[" * 200_000 + b"]" * 200_000), "nested too deeply"),
    (lambda p: p.mkdir(), "not a regular file"),
    (lambda p: raw_file(p, b'{"w": [1]}'), "entry 'w' is not an object"),
    (lambda p: raw_file(p, b'{"w": {"shape": [1], "data_offsets": [0, 4]}}', data=b"\0" * 4), "no dtype"),
    (lambda p: raw_file(p, b'{"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}'),
     "shape must be a list of non-negative integers"),
    (lambda p: raw_file(p, b'{"w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}}'),
     "data_offsets begin 4 > end 0"),
    (lambda p: raw_file(p, b'{"w": {"dtype": "F32", "shape": [1]}}'), "data_offsets must be [begin, end]"),
    (lambda p: write_safetensors(p, BERT_HEAD, data_bytes=100), "truncated: tensor data ends at"),
    (lambda p: p.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:ab\nsize 9\n"),
     "git-lfs pointer file"),
])
def test_header_errors(tmp_path, make, reason):
    path = tmp_path / "bad.safetensors"
    make(path)
    with pytest.raises(ReadError) as err:
        read_header(path)
    assert reason in err.value.reason


def test_header_data_end_is_checked_exactly(tmp_path):
    path = write_safetensors(tmp_path / "m.safetensors", {"w": ("F32", [2, 2])}, data_bytes=15)
    with pytest.raises(ReadError) as err:
        read_header(path)
    n = struct.unpack("<Q", path.read_bytes()[:8])[0]
    assert err.value.reason == f"truncated: tensor data ends at {8 + n + 16}, file has {8 + n + 15} bytes"
    path.write_bytes(path.read_bytes() + b"\0")
    assert read_header(path)["w"].shape == (2, 2)


def test_header_length_cap(tmp_path):
    path = write_safetensors(tmp_path / "m.safetensors", {"w": ("F32", [1])})
    with pytest.raises(ReadError, match="exceeds the limit of 16 bytes"):
        read_header(path, max_header=16)


# --- folders and files ---------------------------------------------------------------------------

def sharded(folder: Path) -> None:
    write_safetensors(folder / "model-00001-of-00002.safetensors", {"embed.weight": ("BF16", [128256, 64])})
    write_safetensors(folder / "model-00002-of-00002.safetensors", {"lm_head.weight": ("BF16", [128256, 64])})
    (folder / "model.safetensors.index.json").write_text(json.dumps({
        "metadata": {"total_size": 2 * 2 * 128256 * 64},
        "weight_map": {"embed.weight": "model-00001-of-00002.safetensors",
                       "lm_head.weight": "model-00002-of-00002.safetensors"},
    }, indent=2))


def test_read_index(tmp_path):
    sharded(tmp_path)
    assert read_index(tmp_path / "model.safetensors.index.json") == {
        "embed.weight": "model-00001-of-00002.safetensors", "lm_head.weight": "model-00002-of-00002.safetensors"}
    (tmp_path / "bad.json").write_text('{"weight_map": {"w": "../../etc/x.safetensors"}}')
    with pytest.raises(ReadError, match="not a shard file name"):
        read_index(tmp_path / "bad.json")
    (tmp_path / "none.json").write_text('{"metadata": {}}')
    with pytest.raises(ReadError, match="no `weight_map`"):
        read_index(tmp_path / "none.json")


def test_sharded_folder(tmp_path):
    sharded(tmp_path / "llama")
    facts = ModelResolver(use_snapshot=False).resolve("llama", base_dirs=[tmp_path])
    assert facts.problems == []
    assert facts.tensors["lm_head.weight"].shape == (128256, 64)
    assert facts.tensors["embed.weight"].file.name == "model-00001-of-00002.safetensors"
    assert [p.name for p in facts.weight_files] == [
        "model.safetensors.index.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]


def test_sharded_folder_with_a_missing_shard(tmp_path):
    sharded(tmp_path / "llama")
    (tmp_path / "llama" / "model-00002-of-00002.safetensors").unlink()
    facts = ModelResolver(use_snapshot=False).resolve("llama", base_dirs=[tmp_path])
    assert facts.tensors is None
    assert [p.reason for p in facts.problems] == ["shard model-00002-of-00002.safetensors listed in the index is missing"]


def test_folder_with_config_weights_and_meta(tmp_path):
    folder = tmp_path / "checkpoints"
    write_safetensors(folder / "model.safetensors", BERT_HEAD)
    (folder / "config.json").write_text(json.dumps({"model_type": "bert", "hidden_size": 32,
                                                    "id2label": {"0": "O", "1": "B-LOC"}}, indent=2))
    (folder / "model_config.json").write_text(json.dumps({"bert_model": "bert-base-chinese", "num_labels": 60,
                                                          "label_map": {"1": "O"}}, indent=2))
    facts = ModelResolver().resolve("checkpoints", base_dirs=[tmp_path / "elsewhere", tmp_path])
    assert isinstance(facts, ModelFacts)
    assert (facts.kind, facts.path, facts.source_note) == ("local", folder, "local folder checkpoints")
    assert facts.config_path == folder / "config.json"
    assert facts.config_value("hidden_size") == 32
    assert facts.config_value("id2label", "1") == "B-LOC"
    assert facts.config_value("num_labels") is None
    assert facts.config.get("hidden_size").loc.line == 3  # positioned
    assert facts.meta.get("num_labels").value == 60 and facts.meta_path == folder / "model_config.json"
    assert facts.tensors["classifier.weight"].shape == (60, 32)
    assert facts.weight_files == [folder / "model.safetensors"] and facts.weights_note is None
    assert facts.problems == [] and facts.revision is None


def test_deepke_checkpoint_with_only_a_pickle():
    facts = ModelResolver().resolve("checkpoints", base_dirs=[DATA / "deepke-ner"])
    assert facts.kind == "local" and facts.tensors is None  # a text placeholder: a read problem, the rest still read
    assert [p.reason.split(":")[0] for p in facts.problems] == ["not a PyTorch checkpoint"]
    assert [p.name for p in facts.weight_files] == ["pytorch_model.bin"]
    assert facts.config_value("vocab_size") == 21128 and facts.config_value("id2label") is None
    assert facts.meta.path("label_map", "1").value == "O" and facts.meta.get("num_labels").value == 60


def test_sharded_pickle_folder(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "pytorch_model.bin.index.json").write_text('{"weight_map": {}}')
    facts = ModelResolver().resolve("m", base_dirs=[tmp_path])
    assert facts.tensors == {} and facts.problems == []  # an index listing no shards: no tensors
    (tmp_path / "m" / "pytorch_model.bin.index.json").write_text('{"weight_map": {"a.weight": "pytorch_model-1.bin"}}')
    facts = ModelResolver().resolve("m", base_dirs=[tmp_path])
    assert facts.tensors is None and [p.reason for p in facts.problems] == [
        "shard pytorch_model-1.bin listed in the index is missing"]


def test_adapter_folder(tmp_path):
    folder = tmp_path / "lora"
    write_safetensors(folder / "adapter_model.safetensors", {
        "base_model.model.classifier.weight": ("F32", [3, 32]),
        "base_model.model.bert.encoder.layer.0.attention.self.query.lora_A.weight": ("F32", [4, 32]),
    })
    (folder / "adapter_config.json").write_text('{"peft_type": "LORA", "r": 4}')
    facts = ModelResolver().resolve(str(folder), base_dirs=[])
    assert facts.adapter_tensors["base_model.model.classifier.weight"].shape == (3, 32)
    assert facts.tensors is None and facts.weights_note is None  # an adapter is not a full checkpoint
    assert facts.adapter_value("r") == 4 and facts.adapter_config_path == folder / "adapter_config.json"
    assert facts.config is None and facts.problems == []


def test_weights_file_refs(tmp_path):
    write_safetensors(tmp_path / "out" / "head.safetensors", BERT_HEAD)
    (tmp_path / "out" / "config.json").write_text('{"hidden_size": 32}')
    (tmp_path / "out" / "re_bert.pth").write_bytes(b"PK\3\4 not read")
    resolver = ModelResolver()
    st = resolver.resolve("out/head.safetensors", base_dirs=[tmp_path])
    assert st.path == tmp_path / "out" / "head.safetensors" and st.source_note == "local file out/head.safetensors"
    assert st.tensors["classifier.bias"].shape == (60,) and st.config_value("hidden_size") == 32
    pth = resolver.resolve("./out/re_bert.pth", base_dirs=[tmp_path])
    assert pth.tensors is None and len(pth.problems) == 1  # a broken zip: a read problem (CKL001), never a crash
    assert pth.problems[0].path == tmp_path / "out" / "re_bert.pth"
    assert pth.weight_files == [tmp_path / "out" / "re_bert.pth"] and pth.config_value("hidden_size") == 32
    cfg = resolver.resolve("out/config.json", base_dirs=[tmp_path])
    assert cfg.config_value("hidden_size") == 32 and cfg.weight_files == []


def test_subfolder(tmp_path):
    write_safetensors(tmp_path / "sd" / "text_encoder" / "model.safetensors", {"w": ("F16", [4])})
    facts = ModelResolver().resolve("sd", base_dirs=[tmp_path], subfolder="text_encoder")
    assert facts.path == tmp_path / "sd" / "text_encoder" and facts.tensors["w"].shape == (4,)


def test_bad_files_become_problems_not_exceptions(tmp_path):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "config.json").write_text('{"hidden_size": 768,\n  "vocab_size": }\n')
    raw_file(folder / "model.safetensors", b"{}", length=10_000)
    (folder / "model_config.json").write_text('{"num_labels": 10}')
    facts = ModelResolver().resolve("broken", base_dirs=[tmp_path])
    assert facts.config is None and facts.config_path == folder / "config.json"
    assert facts.tensors is None and facts.meta.get("num_labels").value == 10
    by_file = {p.path.name: p for p in facts.problems}
    assert set(by_file) == {"config.json", "model.safetensors"}
    assert by_file["config.json"].line == 2
    assert by_file["model.safetensors"].reason == "truncated safetensors header: declares 10000 bytes, file has 10"


def test_config_ok_weights_truncated(tmp_path):
    folder = tmp_path / "half"
    write_safetensors(folder / "model.safetensors", BERT_HEAD, data_bytes=8)
    (folder / "config.json").write_text('{"num_labels": 60}')
    facts = ModelResolver().resolve(str(folder), base_dirs=[])
    assert facts.config_value("num_labels") == 60
    assert facts.tensors is None and len(facts.problems) == 1
    assert facts.problems[0].reason.startswith("truncated: tensor data ends at")


def test_unresolved_and_odd_refs(tmp_path):
    resolver = ModelResolver(hf_cache=tmp_path / "empty-cache")
    assert resolver.resolve("pretrained/chinese-bert-wwm", base_dirs=[tmp_path]) is None
    assert resolver.resolve("no-such-org/no-such-model", base_dirs=[tmp_path]) is None
    assert resolver.resolve("", base_dirs=[tmp_path]) is None
    assert resolver.resolve("a\0b", base_dirs=[tmp_path]) is None
    assert resolver.resolve("C:\\Models\\DeepKE\\pretrained", base_dirs=[tmp_path]) is None


def test_memoized(tmp_path):
    write_safetensors(tmp_path / "m" / "model.safetensors", {"w": ("F32", [1])})
    resolver = ModelResolver()
    first = resolver.resolve("m", base_dirs=[tmp_path])
    shutil.rmtree(tmp_path / "m")
    assert resolver.resolve("m", base_dirs=[tmp_path]) is first
    assert resolver.resolve("m", base_dirs=[tmp_path], subfolder="x") is None


# --- the Hugging Face cache ----------------------------------------------------------------------

SHA = "c30a6ed22ab4564dc1e3b2ecbf6e766b0611a33f"
OLD_SHA = "0" * 40


def hf_cache(cache: Path, repo: str = "bert-base-chinese") -> Path:
    """A cache laid out as huggingface_hub writes it: refs/, blobs/<etag>, snapshot symlinks."""
    root = cache / f"models--{repo.replace('/', '--')}"
    (root / "refs").mkdir(parents=True)
    (root / "refs" / "main").write_text(SHA)  # no trailing newline, like huggingface_hub
    (root / "blobs").mkdir()
    config = {"architectures": ["BertForMaskedLM"], "hidden_size": 768, "model_type": "bert", "vocab_size": 21128}
    (root / "blobs" / "8a7a3e5d0f35e4aa0b5e4ef3b0c49bbbd3c0d3a2").write_text(json.dumps(config, indent=2))
    etag = "e6f1c1d5ab4d5b0f3c9a1b8fdc3d1f8a0ad0e1b6b9d5cf2f7e0ad1b3c5e7f9a1"  # sha256 etag (LFS)
    write_safetensors(root / "blobs" / etag, {"bert.embeddings.word_embeddings.weight": ("F32", [21128, 768])})
    snap = root / "snapshots" / SHA
    snap.mkdir(parents=True)
    (snap / "config.json").symlink_to("../../blobs/8a7a3e5d0f35e4aa0b5e4ef3b0c49bbbd3c0d3a2")
    (snap / "model.safetensors").symlink_to(f"../../blobs/{etag}")
    (root / ".no_exist" / SHA).mkdir(parents=True)
    (root / ".no_exist" / SHA / "model_config.json").touch()
    old = root / "snapshots" / OLD_SHA
    old.mkdir()
    (old / "config.json").symlink_to("../../blobs/8a7a3e5d0f35e4aa0b5e4ef3b0c49bbbd3c0d3a2")
    (cache / "CACHEDIR.TAG").write_text("Signature: 8a477f597d28d172789f06886806bc55\n")
    return snap


def check_cached(facts: ModelFacts, snap: Path) -> None:
    assert facts.kind == "hf-cache" and facts.revision == SHA
    assert facts.path == snap and facts.config_path == snap / "config.json"
    assert facts.source_note == f"HF cache bert-base-chinese@{SHA[:8]}"
    assert facts.config_value("hidden_size") == 768
    assert facts.config_value("architectures") == ["BertForMaskedLM"]
    # the header is read through the snapshot symlink, from the blob
    assert facts.tensors["bert.embeddings.word_embeddings.weight"].shape == (21128, 768)
    assert facts.weight_files == [snap / "model.safetensors"] and facts.problems == []
    assert facts.meta is None  # cached as missing (.no_exist)


def test_hf_cache_from_env(tmp_path, monkeypatch):
    snap = hf_cache(tmp_path / "hub")
    monkeypatch.delenv("HUGGINGFACE_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    check_cached(ModelResolver(use_snapshot=False).resolve("bert-base-chinese", base_dirs=[tmp_path]), snap)


def test_hf_cache_from_arg(tmp_path, monkeypatch):
    snap = hf_cache(tmp_path / "hub")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "elsewhere"))
    check_cached(ModelResolver(hf_cache=tmp_path / "hub").resolve("bert-base-chinese", base_dirs=[]), snap)


def test_hf_cache_from_hf_home(tmp_path, monkeypatch):
    snap = hf_cache(tmp_path / "home" / "hub")
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    check_cached(ModelResolver().resolve("bert-base-chinese", base_dirs=[]), snap)


def test_hf_cache_revision_and_sharded(tmp_path):
    cache = tmp_path / "hub"
    hf_cache(cache)
    resolver = ModelResolver(hf_cache=cache, use_snapshot=False)
    old = resolver.resolve("bert-base-chinese", base_dirs=[], revision=OLD_SHA)
    assert old.revision == OLD_SHA and old.tensors is None and old.weight_files == [] and old.problems == []
    assert resolver.resolve("bert-base-chinese", base_dirs=[], revision="v2.0") is None

    root = cache / "models--Qwen--Qwen2.5-7B"
    (root / "refs").mkdir(parents=True)
    (root / "refs" / "main").write_text(SHA)
    snap = root / "snapshots" / SHA
    snap.mkdir(parents=True)
    (root / "blobs").mkdir()
    sharded(tmp_path / "download")
    for i, file in enumerate(sorted((tmp_path / "download").iterdir())):
        file.rename(root / "blobs" / f"{i:064x}")
        (snap / file.name).symlink_to(f"../../blobs/{i:064x}")
    facts = resolver.resolve("Qwen/Qwen2.5-7B", base_dirs=[])
    assert facts.source_note == f"HF cache Qwen/Qwen2.5-7B@{SHA[:8]}" and facts.problems == []
    assert facts.tensors["lm_head.weight"].shape == (128256, 64)
    (snap / "model-00002-of-00002.safetensors").unlink()  # a shard not downloaded yet
    partial = ModelResolver(hf_cache=cache, use_snapshot=False).resolve("Qwen/Qwen2.5-7B", base_dirs=[])
    assert partial.tensors is None and partial.problems == []
    assert partial.weights_note == "shard model-00002-of-00002.safetensors is not in the HF cache"


def test_local_folder_beats_the_cache(tmp_path):
    hf_cache(tmp_path / "hub")
    write_safetensors(tmp_path / "bert-base-chinese" / "model.safetensors", {"w": ("F32", [2])})
    facts = ModelResolver(hf_cache=tmp_path / "hub").resolve("bert-base-chinese", base_dirs=[tmp_path])
    assert facts.kind == "local" and facts.tensors["w"].shape == (2,)


def test_huggingface_hub_is_imported_lazily():
    import subprocess
    import sys

    code = "import sys, ckpt_lint.models, ckpt_lint.versions; print('huggingface_hub' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- the bundled snapshot ------------------------------------------------------------------------

def test_snapshot_bert_base_chinese(tmp_path):
    resolver = ModelResolver(hf_cache=tmp_path / "empty")
    facts = resolver.resolve("bert-base-chinese", base_dirs=[tmp_path])
    assert facts.kind == "snapshot" and facts.path is None and facts.tensors is None
    assert facts.config_value("hidden_size") == 768
    assert facts.config_value("vocab_size") == 21128
    assert facts.config_value("architectures") == ["BertForMaskedLM"]
    assert facts.config_value("tie_word_embeddings") is None  # not stated by the source
    assert facts.source_note.startswith("bundled snapshot (source: hub config.json as copied in")
    loc = facts.config.get("vocab_size").loc
    assert loc.path.name == "models.json" and facts.config_path == loc.path
    assert '"vocab_size": 21128' in loc.path.read_text(encoding="utf-8").splitlines()[loc.line - 1]
    alias = resolver.resolve("google-bert/bert-base-chinese", base_dirs=[])
    assert alias.config is facts.config and alias.ref == "google-bert/bert-base-chinese"


@pytest.mark.parametrize("ref, key, value", [
    ("meta-llama/Llama-3.2-1B", "tie_word_embeddings", True),
    ("meta-llama/Meta-Llama-3.1-8B", "num_key_value_heads", 8),
    ("Qwen/Qwen2.5-7B", "vocab_size", 152064),
    ("qwen/qwen2-0.5b", "hidden_size", 896),  # hub ids are case-insensitive
    ("hfl/chinese-roberta-wwm-ext-large", "model_type", "bert"),
    ("THUDM/chatglm3-6b", "padded_vocab_size", 65024),
    ("mistralai/Mistral-7B-v0.3", "vocab_size", 32768),
])
def test_snapshot_entries(ref, key, value):
    assert ModelResolver().resolve(ref, base_dirs=[]).config_value(key) == value


def test_snapshot_file_is_well_formed():
    from importlib import resources

    data = json.loads((resources.files("ckpt_lint") / "data" / "models.json").read_text(encoding="utf-8"))
    ids = [i.lower() for hub_id, e in data["models"].items() for i in [hub_id, *e["aliases"]]]
    assert len(ids) == len(set(ids))
    for hub_id, entry in data["models"].items():  # value checks: tests/test_snapshot_data.py
        assert {"aliases", "source", "config"} <= set(entry) <= {"aliases", "source", "config", "tokenizer"}
        assert entry["source"].strip() and ModelResolver.is_hub_id(hub_id)


def test_snapshot_off_and_unknown(tmp_path):
    assert ModelResolver(use_snapshot=False, hf_cache=tmp_path).resolve("bert-base-chinese", base_dirs=[]) is None
    assert ModelResolver(hf_cache=tmp_path).resolve("bert-base-uncased-not-bundled", base_dirs=[]) is None
    assert ModelResolver(hf_cache=tmp_path).resolve("bert-base-chinese", base_dirs=[], subfolder="x") is None


@pytest.mark.parametrize("ref", [
    "bert-base-chinese", "Qwen/Qwen2.5-7B", "hfl/chinese-roberta-wwm-ext", "meta-llama/Llama-3.1-8B",
    "THUDM/chatglm3-6b", "gpt2", "a", "org_1/model.v2",
])
def test_is_hub_id(ref):
    assert ModelResolver.is_hub_id(ref)


@pytest.mark.parametrize("ref", [
    "./bert", "../bert", "/abs/bert", "C:\\Models\\bert", "pretrained\\bert", "a/b/c", "config.json",
    "model.safetensors", "out/pytorch_model.bin", "re_bert.pth", "conf/train.yaml", "org--name", "a..b",
    "", "-bert", "bert-", "org/", "/name", "bert base", "bert@main", "~/models/bert", "x" * 97,
])
def test_is_not_hub_id(ref):
    assert not ModelResolver.is_hub_id(ref)
