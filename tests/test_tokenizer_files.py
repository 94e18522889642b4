"""len(tokenizer) from tokenizer files (ckpt_lint.models.tokenizer_files).

Pure tests use hand-written files. The `runtime` tests compare with the real
`len(AutoTokenizer.from_pretrained(folder))` of transformers 5.23 on the same files; they are
skipped only when transformers (or, for SentencePiece, sentencepiece + protobuf) is missing AND
CKPT_LINT_SKIP_RUNTIME=1. Missing without that variable is a failure.
"""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import os
import random
import struct
from pathlib import Path

import pytest

from ckpt_lint.models.tokenizer_files import TokenizerCount, added_count, count_tokenizer
from ckpt_lint.textio import ReadError

SKIP_RUNTIME = os.environ.get("CKPT_LINT_SKIP_RUNTIME") == "1"


# -- helpers ----------------------------------------------------------------------------------

def write(folder: Path, files: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, value in files.items():
        path = folder / name
        if isinstance(value, bytes):
            path.write_bytes(value)
        elif isinstance(value, str):
            path.write_text(value, encoding="utf-8", newline="")
        else:
            path.write_text(json.dumps(value), encoding="utf-8")
    return folder


class Finder:
    def __init__(self, folder: Path):
        self.folder = folder
        self.asked: list[str] = []

    def __call__(self, name: str) -> Path | None:
        self.asked.append(name)
        path = self.folder / name
        return path if path.is_file() else None


def count(folder: Path) -> TokenizerCount | None:
    return count_tokenizer(Finder(folder))


def tj(vocab, added=(), kind=None) -> dict:
    """A minimal tokenizer.json (enough for the counter, not for the tokenizers library)."""
    kind = kind or ("Unigram" if isinstance(vocab, list) else "WordLevel")
    return {"version": "1.0", "added_tokens": [added_token(i, c) for i, c in added],
            "model": {"type": kind, "vocab": vocab}}


def added_token(index: int, content: str, special: bool = True) -> dict:
    return {"id": index, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
            "normalized": not special, "special": special}


def atd(tokens: dict[int, str]) -> dict:
    return {str(i): {"content": c, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False,
                     "special": True} for i, c in tokens.items()}


def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _ld(field: int, payload: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(payload)) + payload


def spm_model(pieces: list[tuple[str, int]], *, model_type: int = 2, **spec: int) -> bytes:
    """A SentencePiece ModelProto: pieces (text, type), trainer_spec {model_type, unk_id, bos_id, ...}."""
    body = b""
    for i, (text, kind) in enumerate(pieces):
        piece = _ld(1, text.encode()) + b"\x15" + struct.pack("<f", -float(i))
        if kind != 1:
            piece += b"\x18" + _varint(kind)
        body += _ld(1, piece)
    ids = {"unk_id": 40, "bos_id": 41, "eos_id": 42, "pad_id": 43}
    trainer = b"\x18" + _varint(model_type)
    for key, value in spec.items():
        trainer += _varint(ids[key] << 3) + _varint(value)
    return body + _ld(2, trainer) + _ld(3, b"")


LLAMA_PIECES = [("<unk>", 2), ("<s>", 3), ("</s>", 3), ("<u1>", 4)] + [(p, 1) for p in
                ("▁a", "▁b", "ab", "▁ab", "a", "b", "c", "▁")]


# -- pure: absent, broken, capped -------------------------------------------------------------

def test_empty_folder_is_none(tmp_path):
    assert count(tmp_path) is None


def test_folder_without_tokenizer_files_is_none(tmp_path):
    write(tmp_path, {"config.json": {"model_type": "bert", "vocab_size": 10}, "model.safetensors": b"x" * 16})
    assert count(tmp_path) is None


def test_broken_json_raises_read_error(tmp_path):
    write(tmp_path, {"tokenizer.json": '{"model": {"vocab": {"a": 0,}}'})
    with pytest.raises(ReadError) as err:
        count(tmp_path)
    assert "tokenizer.json" in err.value.reason and err.value.line == 1


def test_binary_blob_named_tokenizer_json(tmp_path):
    write(tmp_path, {"tokenizer.json": bytes(range(256)) * 40})
    with pytest.raises(ReadError, match="tokenizer.json"):
        count(tmp_path)


def test_non_utf8_json(tmp_path):
    write(tmp_path, {"tokenizer.json": b'{"model": {"vocab": {"\xff": 0}}}'})
    with pytest.raises(ReadError, match="UTF-8"):
        count(tmp_path)


@pytest.mark.parametrize("doc", [
    [], {"model": 1}, {"model": {"vocab": 3}}, {"model": {"vocab": {"a": "0"}}}, {"model": {"vocab": {"a": -1}}},
    {"model": {"vocab": [[1, 0.0]]}}, {"model": {"vocab": {"a": 0}}, "added_tokens": {}},
    {"model": {"vocab": {"a": 0}}, "added_tokens": [{"id": 1}]},
], ids=lambda d: json.dumps(d)[:40])
def test_malformed_tokenizer_json(tmp_path, doc):
    write(tmp_path, {"tokenizer.json": doc})
    with pytest.raises(ReadError):
        count(tmp_path)


@pytest.mark.parametrize("config", [
    "[1, 2]", "{", '{"added_tokens_decoder": []}', '{"added_tokens_decoder": {"x": {"content": "a"}}}',
    '{"added_tokens_decoder": {"1": "a"}}',
])
def test_broken_tokenizer_config(tmp_path, config):
    write(tmp_path, {"tokenizer.json": tj({"a": 0}), "tokenizer_config.json": config})
    with pytest.raises(ReadError, match="tokenizer_config.json"):
        count(tmp_path)


def test_broken_config_json_does_not_stop_the_count(tmp_path):
    write(tmp_path, {"tokenizer.json": tj({"a": 0, "b": 1}), "config.json": "{oops"})
    assert count(tmp_path).length == 2


def test_truncated_protobuf(tmp_path):
    data = spm_model(LLAMA_PIECES, model_type=2)
    assert count(write(tmp_path / "ok", {"tokenizer.model": data})).length == len(LLAMA_PIECES)
    text = data.index(b"\x0a\x01c")  # the piece "c": cut in its string, in its score, in the trainer_spec
    for cut in (text + 2, text + 5, len(data) - len(_ld(3, b"")) - 1):
        write(tmp_path / f"cut{cut}", {"tokenizer.model": data[:cut]})
        with pytest.raises(ReadError, match="truncated"):
            count(tmp_path / f"cut{cut}")


def test_every_prefix_of_a_model_is_an_error_or_a_count(tmp_path):
    data = spm_model(LLAMA_PIECES, model_type=2)
    path = tmp_path / "tokenizer.model"
    for cut in range(len(data)):
        path.write_bytes(data[:cut])
        try:
            result = count_tokenizer(lambda n: path if n == "tokenizer.model" else None)
        except ReadError:
            continue
        assert result is not None and result.length <= len(LLAMA_PIECES)


@pytest.mark.parametrize("blob", [b"", b"\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", b"hello world\nnot a model\n",
                                  b"\x0a\x02\x0a\x05ab", b"\x08\x01" * 4, b"\x0b\x0c"])
def test_garbage_model_file(tmp_path, blob):
    write(tmp_path, {"tokenizer.model": blob})
    with pytest.raises(ReadError, match="tokenizer.model"):
        count(tmp_path)


def test_git_lfs_pointer(tmp_path):
    write(tmp_path, {"tokenizer.json": "version https://git-lfs.github.com/spec/v1\noid sha256:ab\nsize 12\n"})
    with pytest.raises(ReadError, match="git-lfs"):
        count(tmp_path)


def test_size_cap(tmp_path):
    path = tmp_path / "tokenizer.json"
    with open(path, "wb") as f:
        f.truncate(201_000_000)  # sparse: nothing is read
    with pytest.raises(ReadError, match="cap"):
        count(tmp_path)


def test_random_mutations_only_raise_read_error(tmp_path):
    rng = random.Random(7)
    seeds = {
        "tokenizer.json": json.dumps(tj({"a": 0, "b": 1, "c": 5}, [(6, "<pad>")])).encode(),
        "tokenizer.model": spm_model(LLAMA_PIECES),
        "tokenizer_config.json": json.dumps({"added_tokens_decoder": atd({3: "x"}), "pad_token": "<p>"}).encode(),
        "vocab.txt": "[PAD]\n[UNK]\na\n".encode(),
    }
    for i in range(400):
        name = rng.choice(sorted(seeds))
        data = bytearray(seeds[name])
        for _ in range(rng.randint(1, 4)):
            pos = rng.randrange(len(data))
            op = rng.random()
            if op < 0.4:
                data[pos] = rng.randrange(256)
            elif op < 0.7:
                del data[pos:pos + rng.randint(1, 5)]
            else:
                data[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 3)))
        folder = write(tmp_path / str(i), {name: bytes(data)})
        if name == "tokenizer_config.json":
            write(folder, {"vocab.txt": "a\nb\n"})
        try:
            count(folder)
        except ReadError:
            pass


# -- pure: counting rules -------------------------------------------------------------------------

def test_length_is_distinct_strings_not_max_id(tmp_path):
    result = count(write(tmp_path, {"tokenizer.json": tj({"[UNK]": 0, "a": 1, "b": 5}, [(9, "<pad>"), (1, "a")])}))
    assert result.length == 4
    assert result.tokens == {"[UNK]", "a", "b", "<pad>"}
    assert "holes" in result.detail and result.source.name == "tokenizer.json"


def test_unigram_counts_list_entries(tmp_path):
    vocab = [["<unk>", 0.0], ["a", -1.0], ["b", -2.0], ["a", -3.0]]
    assert count(write(tmp_path, {"tokenizer.json": tj(vocab, [(4, "<pad>")])})).length == 5


def test_added_tokens_decoder_ignores_legacy_files(tmp_path):
    files = {"tokenizer.json": tj({"a": 0, "b": 1}, [(2, "x")]),
             "special_tokens_map.json": {"pad_token": "<pad>"}, "added_tokens.json": {"w": 9}}
    legacy = count(write(tmp_path / "legacy", {**files, "tokenizer_config.json": {}}))
    assert legacy.length == 5 and legacy.special == {"pad_token": "<pad>"}
    finder = Finder(write(tmp_path / "new", {**files, "tokenizer_config.json": {"added_tokens_decoder": atd({7: "q"})}}))
    result = count_tokenizer(finder)
    assert result.length == 4 and result.special == {}
    assert finder.asked == ["tokenizer_config.json", "tokenizer.json", "config.json"]


def test_lookups_stop_at_the_first_source(tmp_path):
    finder = Finder(write(tmp_path, {"tokenizer.json": tj({"a": 0}), "tokenizer.model": b"junk", "vocab.txt": "x\n"}))
    assert count_tokenizer(finder).length == 1
    assert "tokenizer.model" not in finder.asked and "vocab.txt" not in finder.asked


def test_special_tokens_reported(tmp_path):
    config = {"tokenizer_class": "PreTrainedTokenizerFast", "eos_token": "</s>", "pad_token": None,
              "bos_token": {"__type": "AddedToken", "content": "<s>"}, "image_token": "<image>",
              "extra_special_tokens": ["<e1>"], "add_bos_token": True}
    result = count(write(tmp_path, {"tokenizer.json": tj({"a": 0, "</s>": 1}), "tokenizer_config.json": config}))
    assert result.special == {"bos_token": "<s>", "eos_token": "</s>", "image_token": "<image>"}
    assert result.length == 2 + 3  # <s>, <image>, <e1>


def test_bert_class_adds_its_default_specials(tmp_path):
    result = count(write(tmp_path, {"vocab.txt": "[UNK]\na\nb\n", "config.json": {"model_type": "bert"}}))
    assert result.length == 3 + 4  # [SEP] [PAD] [CLS] [MASK]
    assert result.source.name == "vocab.txt"


def test_vocab_txt_lines(tmp_path):
    text = "[PAD]\n[UNK]\na\r\nb\n\n\na\nz \n z\nq\t\nx\u00a0\nw\x1c\nlast"
    result = count(write(tmp_path, {"vocab.txt": text, "tokenizer_config.json": {"tokenizer_class": "BertTokenizer"}}))
    # [PAD] [UNK] a b "" z " z" q x "w\x1c" last, then [CLS] [SEP] [MASK] added
    assert result.length == 11 + 3
    assert {"", " z", "x", "w\x1c"} <= result.tokens


def test_sentencepiece_generic_and_llama(tmp_path):
    data = spm_model(LLAMA_PIECES, model_type=2)
    generic = count(write(tmp_path / "g", {"tokenizer.model": data}))
    assert generic.length == len(LLAMA_PIECES)
    assert generic.special == {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}
    llama = count(write(tmp_path / "l", {"tokenizer.model": data,
                                          "tokenizer_config.json": {"tokenizer_class": "LlamaTokenizer",
                                                                    "pad_token": "<pad>"}}))
    assert llama.length == len(LLAMA_PIECES) + 1


def test_t5_sentinels(tmp_path):
    data = spm_model([("<pad>", 3), ("</s>", 3), ("<unk>", 2), ("▁a", 1)], model_type=1, unk_id=2, bos_id=-1, eos_id=1)
    result = count(write(tmp_path, {"spiece.model": data, "tokenizer_config.json": {"tokenizer_class": "T5Tokenizer"}}))
    assert result.length == 4 + 100


def test_xlm_roberta_model_file_is_not_counted(tmp_path):
    write(tmp_path, {"sentencepiece.bpe.model": spm_model(LLAMA_PIECES),
                     "tokenizer_config.json": {"tokenizer_class": "XLMRobertaTokenizer"}})
    assert count(tmp_path) is None


def test_tiktoken_model(tmp_path):
    ranks = [bytes([b]) for b in range(256)] + [b"ab", b"abc"]
    text = b"".join(base64.b64encode(t) + b" %d\n" % i for i, t in enumerate(ranks))
    config = {"added_tokens_decoder": atd({258: "<|begin|>", 261: "<|end|>"}), "eos_token": "<|end|>"}
    result = count(write(tmp_path, {"tokenizer.model": text, "tokenizer_config.json": config}))
    assert result.length == 258 + 4  # <|begin|>, two reserved placeholders, <|end|>


def test_added_count():
    existing = frozenset({"a", "b", "<pad>"})
    assert added_count(existing, ["a", "new", "new", "", "<pad>", "x"]) == 2
    assert added_count(existing, []) == 0
    assert added_count(None, ["x"]) is None


# -- runtime: the real transformers length ------------------------------------------------------

def need(*modules: str) -> None:
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if not missing:
        return
    if SKIP_RUNTIME:
        pytest.skip(f"{missing} missing and CKPT_LINT_SKIP_RUNTIME=1")
    pytest.fail(f"tokenizer agreement needs {missing} (pip install -e '.[runtime]'), "
                "or set CKPT_LINT_SKIP_RUNTIME=1", pytrace=False)


@pytest.fixture(scope="module")
def tf():
    need("transformers", "tokenizers")
    import transformers

    transformers.logging.set_verbosity_error()
    return transformers


def agree(tf, folder: Path) -> TokenizerCount:
    """count_tokenizer == len(AutoTokenizer.from_pretrained(folder)), token sets equal too."""
    real = tf.AutoTokenizer.from_pretrained(str(folder))
    mine = count(folder)
    assert mine is not None, f"no count for {sorted(p.name for p in folder.iterdir())}"
    assert mine.length == len(real), mine.detail
    assert mine.tokens == set(real.get_vocab()), mine.detail
    return mine


def backend(kind: str):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    if kind == "WordLevel":
        tok = Tokenizer(models.WordLevel({"[UNK]": 0, "hello": 1, "world": 2, "b": 7}, unk_token="[UNK]"))
        tok.pre_tokenizer = pre_tokenizers.Whitespace()
    elif kind == "WordPiece":
        tok = Tokenizer(models.WordPiece({"[UNK]": 0, "[CLS]": 1, "hel": 2, "##lo": 3}, unk_token="[UNK]"))
        tok.pre_tokenizer = pre_tokenizers.Whitespace()
    elif kind == "BPE":
        vocab = {"h": 0, "e": 1, "l": 2, "o": 3, "he": 4, "ll": 5, "Ġ": 6, "<|endoftext|>": 7}
        tok = Tokenizer(models.BPE(vocab, [("h", "e"), ("l", "l")]))
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
    else:
        tok = Tokenizer(models.Unigram([("<unk>", 0.0), ("▁he", -1.0), ("llo", -2.0), ("▁", -3.0)], unk_id=0))
        tok.pre_tokenizer = pre_tokenizers.Metaspace()
    return tok


@pytest.mark.runtime
@pytest.mark.parametrize("kind", ["WordLevel", "WordPiece", "BPE", "Unigram"])
def test_saved_fast_tokenizers(tf, tmp_path, kind):
    tok = tf.PreTrainedTokenizerFast(tokenizer_object=backend(kind), eos_token="world" if kind == "WordLevel" else None)
    tok.save_pretrained(tmp_path / "v1")
    before = agree(tf, tmp_path / "v1")
    new = ["hello", "fresh", "fresh", "<tool>"]
    tok.add_tokens(new)
    tok.add_special_tokens({"pad_token": "<pad>", "additional_special_tokens": ["<x>", "hello"]})
    assert len(tok) - before.length == added_count(before.tokens, [*new, "<pad>", "<x>", "hello"])
    tok.save_pretrained(tmp_path / "v2")
    assert agree(tf, tmp_path / "v2").length == len(tok)


def _cases() -> dict[str, dict]:
    v = {"[UNK]": 0, "a": 1, "b": 2}
    bert = tj({"[UNK]": 0, "a": 1, "##b": 2}, [(3, "<new>")], kind="WordPiece")
    bpe = tj({"a": 0, "b": 1, "ab": 2, "Ġ": 3}, [(4, "<|im_start|>")], kind="BPE")
    bpe["model"]["merges"] = ["a b"]
    full = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\na\nb\n##c\n"
    vj = {"a": 0, "b": 1, "ab": 2, "<|endoftext|>": 3}
    return {
        "holes": {"tokenizer.json": tj({"[UNK]": 0, "a": 1, "b": 5}, [(3, "x"), (100, "y"), (1, "a"), (7, "")])},
        "cfg specials": {"tokenizer.json": tj(v), "tokenizer_config.json": {
            "pad_token": "<pad>", "eos_token": "a", "image_token": "<img>", "additional_special_tokens": ["<s1>", "a"]}},
        "cfg atd + json added": {"tokenizer.json": tj(v, [(3, "x")]), "tokenizer_config.json": {
            "tokenizer_class": "PreTrainedTokenizerFast", "added_tokens_decoder": atd({3: "q", 7: "r"})}},
        "legacy added_tokens.json": {"tokenizer.json": tj(v, [(3, "x")]), "tokenizer_config.json": {},
                                     "added_tokens.json": {"x": 3, "w": 9, "a": 10}},
        "stm overrides cfg": {"tokenizer.json": tj(v), "tokenizer_config.json": {"pad_token": "<p1>"},
                              "special_tokens_map.json": {"pad_token": "<p2>", "additional_special_tokens": ["<x1>"]}},
        "extra and additional": {"tokenizer.json": tj(v), "tokenizer_config.json": {
            "extra_special_tokens": ["<e1>"], "additional_special_tokens": ["<e2>"]}},
        "extra dict": {"tokenizer.json": tj(v), "tokenizer_config.json": {"extra_special_tokens": {"image_token": "<im>"}}},
        "bert json legacy": {"tokenizer.json": bert, "tokenizer_config.json": {"tokenizer_class": "BertTokenizer"}},
        "bert json atd": {"tokenizer.json": bert, "tokenizer_config.json": {
            "tokenizer_class": "BertTokenizerFast", "pad_token": None, "added_tokens_decoder": atd({0: "[UNK]"})}},
        "electra by model_type": {"tokenizer.json": bert, "config.json": {"model_type": "electra"}},
        "qwen2 rebuild drops json-only added": {"tokenizer.json": bpe, "tokenizer_config.json": {
            "tokenizer_class": "Qwen2Tokenizer", "added_tokens_decoder": {}}, "config.json": {"model_type": "qwen2"}},
        "qwen2 type overrides generic hub": {"tokenizer.json": bpe, "tokenizer_config.json": {
            "tokenizer_class": "PreTrainedTokenizerFast", "added_tokens_decoder": {}}, "config.json": {"model_type": "qwen2"}},
        "llama class over byte-level json": {"tokenizer.json": bpe, "tokenizer_config.json": {
            "tokenizer_class": "LlamaTokenizerFast", "added_tokens_decoder": {}}},  # (a llama config.json costs 3 s)
        "roberta json": {"tokenizer.json": bpe, "tokenizer_config.json": {"tokenizer_class": "RobertaTokenizer"}},
        "gemma json": {"tokenizer.json": bpe, "tokenizer_config.json": {"tokenizer_class": "GemmaTokenizer"}},
        "bert vocab.txt": {"vocab.txt": full, "tokenizer_config.json": {"tokenizer_class": "BertTokenizer"}},
        "bert vocab.txt by model_type": {"vocab.txt": full, "config.json": {"model_type": "bert"}},
        "bert vocab.txt missing specials": {"vocab.txt": "[UNK]\na\nb\n", "config.json": {"model_type": "bert"}},
        "bert vocab.txt messy lines": {"vocab.txt": full.replace("\n", "\r\n") + "a\n\n  \nz \n z\nx\u00a0\nw\x1c\nlast",
                                       "tokenizer_config.json": {"tokenizer_class": "BertTokenizer"}},
        "bert vocab.txt + legacy files": {"vocab.txt": full, "tokenizer_config.json": {"tokenizer_class": "BertTokenizer"},
                                          "added_tokens.json": {"<e1>": 8, "a": 5},
                                          "special_tokens_map.json": {"additional_special_tokens": ["<e2>"]}},
        "gpt2 vocab.json": {"vocab.json": vj, "merges.txt": "#version: 0.2\na b\n",
                            "tokenizer_config.json": {"tokenizer_class": "GPT2Tokenizer", "pad_token": "<pad>"}},
        "roberta vocab.json": {"vocab.json": vj, "merges.txt": "#version: 0.2\na b\n",
                               "tokenizer_config.json": {"tokenizer_class": "RobertaTokenizer"},
                               "added_tokens.json": {"<x>": 4}},
    }


def _complete(files: dict) -> dict:
    """Turn the minimal tokenizer.json of a case into one the tokenizers library accepts."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    doc = files.get("tokenizer.json")
    if doc is None:
        return files
    model = doc["model"]
    if model["type"] == "WordLevel":
        tok = Tokenizer(models.WordLevel(model["vocab"], unk_token="[UNK]"))
        tok.pre_tokenizer = pre_tokenizers.Whitespace()
    elif model["type"] == "WordPiece":
        tok = Tokenizer(models.WordPiece(model["vocab"], unk_token="[UNK]"))
        tok.pre_tokenizer = pre_tokenizers.Whitespace()
    else:
        tok = Tokenizer(models.BPE(model["vocab"], [tuple(m.split()) for m in model["merges"]]))
        tok.pre_tokenizer = pre_tokenizers.ByteLevel()
    full = json.loads(tok.to_str())
    full["added_tokens"] = doc["added_tokens"]
    return {**files, "tokenizer.json": full}


@pytest.mark.runtime
@pytest.mark.parametrize("case", sorted(_cases()))
def test_hand_written_folders(tf, tmp_path, case):
    agree(tf, write(tmp_path, _complete(_cases()[case])))


@pytest.fixture(scope="module")
def spm(tf):
    need("sentencepiece", "google.protobuf")
    import sentencepiece

    rng = random.Random(0)
    words = ["".join(rng.choice("abcdefghij") for _ in range(rng.randint(2, 7))) for _ in range(300)]
    lines = [" ".join(rng.choice(words) for _ in range(12)) for _ in range(300)]
    models = {}
    for kind, extra in (("bpe", {"user_defined_symbols": ["<u1>"], "control_symbols": ["<c1>"]}),
                        ("unigram", {"pad_id": 3}), ("char", {})):
        buf = io.BytesIO()
        sentencepiece.SentencePieceTrainer.train(sentence_iterator=iter(lines), model_writer=buf, model_type=kind,
                                                 vocab_size=100, minloglevel=2, **extra)
        models[kind] = buf.getvalue()
    return models


SPM_CASES = {
    "bpe generic": ("bpe", "tokenizer.model", {}),
    "bpe llama": ("bpe", "tokenizer.model", {"tokenizer_class": "LlamaTokenizer"}),
    "bpe llama pad": ("bpe", "tokenizer.model", {"tokenizer_class": "LlamaTokenizer", "pad_token": "<pad>"}),
    "bpe llama atd": ("bpe", "tokenizer.model", {"tokenizer_class": "LlamaTokenizer",
                                                 "added_tokens_decoder": atd({5: "<r5>", 300: "<x>"})}),
    "bpe generic atd renames a control piece": ("bpe", "tokenizer.model", {"added_tokens_decoder": atd({3: "<r3>"})}),
    "unigram generic": ("unigram", "tokenizer.model", {}),
    "unigram t5": ("unigram", "spiece.model", {"tokenizer_class": "T5Tokenizer"}),
    "unigram t5 extra_ids": ("unigram", "tokenizer.model", {"tokenizer_class": "T5Tokenizer", "extra_ids": 5}),
    "char generic": ("char", "tokenizer.model", {}),
}


@pytest.mark.runtime
@pytest.mark.parametrize("case", sorted(SPM_CASES))
def test_sentencepiece_models(tf, spm, tmp_path, case):
    kind, name, config = SPM_CASES[case]
    agree(tf, write(tmp_path, {name: spm[kind], "tokenizer_config.json": config}))


@pytest.mark.runtime
def test_sentencepiece_legacy_files_and_resave(tf, spm, tmp_path):
    folder = write(tmp_path / "a", {
        "tokenizer.model": spm["bpe"], "tokenizer_config.json": {"tokenizer_class": "LlamaTokenizer"},
        # the .model's control/user pieces replace special_tokens_map's additional_special_tokens
        "special_tokens_map.json": {"pad_token": "[PAD]", "additional_special_tokens": ["<a1>"]},
        "added_tokens.json": {"[PAD]": 100, "<a2>": 101}})
    agree(tf, folder)
    tok = tf.AutoTokenizer.from_pretrained(str(folder))
    tok.add_special_tokens({"pad_token": "<pad>"})
    tok.add_tokens(["newtok"])
    tok.save_pretrained(tmp_path / "b")
    assert agree(tf, tmp_path / "b").length == len(tok)


@pytest.mark.runtime
def test_tiktoken_model_agrees(tf, tmp_path):
    pytest.importorskip("tiktoken")  # optional: transformers needs it to read tiktoken files at all
    ranks = [bytes([b]) for b in range(256)] + [b"ab", b"abc", b"he", b"hello"]
    text = b"".join(base64.b64encode(t) + b" %d\n" % i for i, t in enumerate(ranks))
    config = {"added_tokens_decoder": atd({260: "<|begin|>", 263: "<|end|>"}), "eos_token": "<|end|>",
              "pad_token": "<|pad|>"}
    agree(tf, write(tmp_path, {"tokenizer.model": text, "tokenizer_config.json": config}))


@pytest.mark.runtime
def test_len_after_token_changes(tf, spm, tmp_path):
    """The transformers 5.23 behaviours documented in the module docstring, (a)-(d)."""
    folder = write(tmp_path / "base", {"tokenizer.model": spm["bpe"],
                                       "tokenizer_config.json": {"tokenizer_class": "LlamaTokenizer"}})
    known = count(folder).tokens

    def load(**kwargs):
        return tf.AutoTokenizer.from_pretrained(str(folder), **kwargs)

    base = len(load())
    plain = next(t for t in sorted(known) if t.startswith("▁"))
    tok = load()  # (a)
    assert tok.add_special_tokens({"pad_token": "<pad>"}) == 1 and len(tok) == base + 1
    assert tok.add_special_tokens({"pad_token": "<pad>"}) == 0 and len(tok) == base + 1
    tok = load()
    tok.add_special_tokens({"pad_token": "</s>"})
    assert len(tok) == base
    tok = load()  # (b)
    assert tok.add_tokens([plain, "new", "new"]) == 2 and len(tok) == base + 1
    assert added_count(known, [plain, "new", "new"]) == 1
    tok = load()  # (c)
    tok.pad_token = "<new>"
    assert len(tok) == base and tok.pad_token_id == tok.unk_token_id
    tok.save_pretrained(tmp_path / "c")
    assert len(tf.AutoTokenizer.from_pretrained(str(tmp_path / "c"))) == base + 1 == count(tmp_path / "c").length
    tok = load()
    tok.pad_token = tok.eos_token
    assert len(tok) == base
    tok = load(pad_token="<pad>", additional_special_tokens=["<x>", "<y>", "</s>"])  # (d)
    assert len(tok) == base + 3 == base + added_count(known, ["<pad>", "<x>", "<y>", "</s>"])


@pytest.mark.runtime
def test_generic_sentencepiece_renames_placeholders_from_added_tokens_json(tf, spm, tmp_path):
    agree(tf, write(tmp_path, {"tokenizer.model": spm["bpe"], "added_tokens.json": {"<r3>": 3, "<new>": 130}}))


@pytest.mark.runtime
def test_class_tables_match_transformers(tf):
    """The embedded copies of transformers' class tables have not drifted."""
    import inspect

    from transformers.models.auto import tokenization_auto as auto

    from ckpt_lint.models import tokenizer_files as tfm

    assert tfm._INCORRECT_HUB_CLASS == set(auto.MODELS_WITH_INCORRECT_HUB_TOKENIZER_CLASS)
    for model_type, name in tfm._MODEL_TYPES.items():
        assert tfm._canonical(auto.TOKENIZER_MAPPING_NAMES.get(model_type) or "TokenizersBackend") == name, model_type
    for alias, target in tfm._ALIASES.items():
        assert tfm._canonical(auto.tokenizer_class_from_name(alias).__name__) == tfm._canonical(target), alias
    for name, profile in tfm._PROFILES.items():
        params = inspect.signature(auto.tokenizer_class_from_name(name).__init__).parameters
        defaults = {k: p.default for k, p in params.items() if k in tfm.SPECIAL_ATTRIBUTES and p.default}
        if name == "DistilBertTokenizer":  # forwards **kwargs to BertTokenizer
            params = inspect.signature(auto.tokenizer_class_from_name("BertTokenizer").__init__).parameters
            defaults = {k: p.default for k, p in params.items() if k in tfm.SPECIAL_ATTRIBUTES and p.default}
        assert defaults == profile.defaults, name
        assert params["extra_ids"].default == profile.extra_ids if "extra_ids" in params else not profile.extra_ids
