"""`len(tokenizer)` from the files in a tokenizer folder, without loading a tokenizer.

Matches `len(AutoTokenizer.from_pretrained(folder))` in transformers 5.23 (tokenizers 0.23) for the
usual folders; checked against the real library in tests/test_tokenizer_files.py.

How transformers 5.23 counts (measured):

- `len(tokenizer)` = the model's vocab size + the added tokens not in that vocab. The vocab size is
  the number of distinct keys (BPE / WordPiece / WordLevel), or of list entries (Unigram). It is
  NOT max id + 1: vocab `{"[UNK]": 0, "a": 1, "b": 5}` gives len 3. Ids written in `added_tokens`,
  `added_tokens_decoder` or `added_tokens.json` are ignored on load; an added token already in the
  vocab adds nothing; "" is never added.
- Added tokens: `tokenizer.json` `added_tokens`; `tokenizer_config.json` `added_tokens_decoder`;
  the named special tokens (bos/eos/unk/sep/pad/cls/mask), other string `*_token` keys
  (model-specific special tokens), `extra_special_tokens` / `additional_special_tokens`. Without an
  `added_tokens_decoder` key (the legacy layout, also what v5 `save_pretrained` writes for fast
  tokenizers) `special_tokens_map.json` (overriding the config) and `added_tokens.json` count too;
  with the key, both files are ignored.
- Classes with their own `__init__` (BertTokenizer, LlamaTokenizer, Qwen2Tokenizer, ...) add their
  default special tokens when the config does not name them (BertTokenizer over a vocab.txt
  without `[PAD]` adds `[PAD]`) and rebuild the backend from the vocab alone, so `tokenizer.json`
  `added_tokens` count only in the legacy layout. T5Tokenizer adds `<extra_id_0..99>`.
  `PreTrainedTokenizerFast` / `TokenizersBackend` load `tokenizer.json` as is.
- Files: `tokenizer.json`, else `tokenizer.model` (SentencePiece, or tiktoken text), else the
  class's own (`vocab.txt`; `vocab.json` + `merges.txt`; `spiece.model`). `vocab.txt` is read like
  the Rust WordPiece reader: split on "\\n", trailing "\\r" and Unicode whitespace trimmed,
  duplicates and blank lines ("") counted once.
- Class: `tokenizer_config.json` `tokenizer_class`, else config.json's, else the one registered for
  config.json's `model_type`; `LlamaTokenizer` over a ByteLevel tokenizer.json (Llama-3) and
  model types such as `mistral` get the generic backend; `qwen2`, `phi3`, ... always their
  registered class.
- Not modelled (None or a best guess): XLM-R / Camembert `.model` vocabularies (None), remote-code
  tokenizers and classes outside the table (counted as generic), tekken.json.

What the usual calls do to `len(tokenizer)` (transformers 5.23, measured on a LlamaTokenizer):

(a) `add_special_tokens({"pad_token": "<pad>"})`: +1 when "<pad>" is new, +0 when it is already in
    the vocab or added. The return value counts tokens newly registered as added, which can be 1
    for a plain vocab token though len does not change.
(b) `add_tokens(["a", "new", "new"])` with "a" in the vocab: +1 (returns 2): new, distinct strings.
(c) `tokenizer.pad_token = "<new>"`: +0 (pad_token_id becomes the unk id, or None without unk);
    but `save_pretrained` writes it into tokenizer_config.json and the reloaded tokenizer is +1.
    `tokenizer.pad_token = tokenizer.eos_token`: +0, also after a reload.
(d) `from_pretrained(dir, pad_token="<pad>", additional_special_tokens=["<x>", "<y>", "</s>"])`:
    +3, one per new token (also `extra_special_tokens=[...]` and `image_token="<image>"` kwargs).

`added_count` gives the growth for (a), (b), (d) from a known token set.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from ..textio import ReadError

Finder = Callable[[str], "Path | None"]

MAX_BYTES = 200_000_000
MAX_TOKENS = 2_000_000  # above this, `tokens` is None (the count is still exact)

TOKENIZER_JSON = "tokenizer.json"
TOKENIZER_CONFIG = "tokenizer_config.json"
SPECIAL_TOKENS_MAP = "special_tokens_map.json"
ADDED_TOKENS = "added_tokens.json"
SPM_MODEL = "tokenizer.model"
TIKTOKEN_MODEL = "tiktoken.model"
MODEL_CONFIG = "config.json"

SPECIAL_ATTRIBUTES = ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token")
_LFS_POINTER = b"version https://git-lfs"
# Rust `char::is_whitespace` (Unicode White_Space); Python's str.isspace adds U+001C..U+001F.
_RUST_WS = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a" \
           "\u2028\u2029\u202f\u205f\u3000"


@dataclass
class TokenizerCount:
    length: int                     # what len(tokenizer) returns in transformers 5.23 for these files
    source: Path                    # the main file the count came from (for messages)
    detail: str                     # e.g. "tokenizer.json: 32000 vocab + 1 added"
    tokens: frozenset[str] | None   # every token string known (vocab + added); None if huge
    special: dict[str, str]         # special token attribute -> content, as the loaded tokenizer holds them:
                                    # tokenizer_config.json / special_tokens_map.json, else the class's
                                    # defaults (BertTokenizer: [PAD], ...) or the .model's bos/eos/unk


def added_count(existing: frozenset[str] | None, new_tokens: list[str]) -> int | None:
    """How much `len(tokenizer)` grows when `new_tokens` are added (add_tokens / add_special_tokens /
    from_pretrained special-token kwargs): distinct, non-empty, not already known. None if unknown."""
    if existing is None:
        return None
    return len({t for t in new_tokens if t and t not in existing})


# -- tokenizer classes ------------------------------------------------------------------------

@dataclass(frozen=True)
class _Profile:
    defaults: dict[str, str]        # named special tokens the class's __init__ defaults to
    files: tuple[str, ...] = ()     # its own vocab files, after tokenizer.json / tokenizer.model
    rebuild: bool = True            # own __init__: backend rebuilt from the vocab alone
    extra_ids: int = 0              # T5 sentinels <extra_id_N>
    spm_reordered: bool = False     # a .model vocab is rewritten by a converter: not counted


_GENERIC = _Profile({}, (), rebuild=False)
_BERT_DEFAULTS = {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]",
                  "mask_token": "[MASK]"}
_ROBERTA_DEFAULTS = {"bos_token": "<s>", "eos_token": "</s>", "sep_token": "</s>", "cls_token": "<s>",
                     "unk_token": "<unk>", "pad_token": "<pad>", "mask_token": "<mask>"}
_EOT = "<|endoftext|>"
_BPE_FILES = ("vocab.json", "merges.txt")
_PROFILES: dict[str, _Profile] = {
    "BertTokenizer": _Profile(_BERT_DEFAULTS, ("vocab.txt",)),
    "DistilBertTokenizer": _Profile(_BERT_DEFAULTS, ("vocab.txt",)),
    "GPT2Tokenizer": _Profile({"unk_token": _EOT, "bos_token": _EOT, "eos_token": _EOT}, _BPE_FILES),
    "CodeGenTokenizer": _Profile({"unk_token": _EOT, "bos_token": _EOT, "eos_token": _EOT}, _BPE_FILES),
    "RobertaTokenizer": _Profile(_ROBERTA_DEFAULTS, _BPE_FILES),
    "Qwen2Tokenizer": _Profile({"unk_token": _EOT, "eos_token": _EOT, "pad_token": _EOT}, _BPE_FILES),
    "GPTNeoXTokenizer": _Profile({"unk_token": _EOT, "bos_token": _EOT, "eos_token": _EOT,
                                  "pad_token": "<|padding|>"}, _BPE_FILES),
    "CLIPTokenizer": _Profile({"unk_token": _EOT, "bos_token": "<|startoftext|>", "eos_token": _EOT,
                               "pad_token": _EOT}, _BPE_FILES),
    "LlamaTokenizer": _Profile({"unk_token": "<unk>", "bos_token": "<s>", "eos_token": "</s>"}),
    "GemmaTokenizer": _Profile({"unk_token": "<unk>", "bos_token": "<bos>", "eos_token": "<eos>",
                                "pad_token": "<pad>", "mask_token": "<mask>"}),
    "T5Tokenizer": _Profile({"eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"},
                            ("spiece.model",), extra_ids=100),
    "XLMRobertaTokenizer": _Profile(_ROBERTA_DEFAULTS, ("sentencepiece.bpe.model",), spm_reordered=True),
    "CamembertTokenizer": _Profile(_ROBERTA_DEFAULTS, ("sentencepiece.bpe.model",), spm_reordered=True),
}
_ALIASES = {  # hub class names transformers 5.23 resolves to another class
    "ElectraTokenizer": "BertTokenizer", "LayoutLMTokenizer": "BertTokenizer",
    "SqueezeBertTokenizer": "BertTokenizer", "MobileBertTokenizer": "BertTokenizer",
    "BartTokenizer": "RobertaTokenizer", "BloomTokenizer": "TokenizersBackend",
    "PreTrainedTokenizerFast": "TokenizersBackend", "PreTrainedTokenizer": "TokenizersBackend",
    "PythonBackend": "TokenizersBackend",
}
_GENERIC_NAMES = {"TokenizersBackend", "MistralCommonBackend"}
# model_type -> class registered for it (transformers 5.23 TOKENIZER_MAPPING_NAMES, common types).
_MODEL_TYPES = {
    **dict.fromkeys(("bert", "electra", "distilbert", "layoutlm", "squeezebert", "chinese_clip", "ernie",
                     "megatron-bert", "nezha", "convbert"), "BertTokenizer"),
    **dict.fromkeys(("roberta", "bart", "longformer", "data2vec-text", "roberta-prelayernorm", "ibert"),
                    "RobertaTokenizer"),
    **dict.fromkeys(("gpt2", "opt", "gpt_neo", "gptj", "codegen", "starcoder2", "phi", "dbrx"), "GPT2Tokenizer"),
    **dict.fromkeys(("qwen2", "qwen2_moe", "qwen2_vl", "qwen2_5_vl", "qwen3", "qwen3_moe", "qwen3_next",
                     "qwen3_vl", "qwen3_vl_moe", "internvl"), "Qwen2Tokenizer"),
    **dict.fromkeys(("gemma", "gemma2", "gemma3", "gemma3_text", "gemma3n", "recurrent_gemma"), "GemmaTokenizer"),
    **dict.fromkeys(("gpt_neox", "olmo", "olmoe", "mpt", "mamba", "mamba2"), "GPTNeoXTokenizer"),
    **dict.fromkeys(("t5", "mt5", "switch_transformers"), "T5Tokenizer"),
    **dict.fromkeys(("xlm-roberta", "xmod"), "XLMRobertaTokenizer"),
    **dict.fromkeys(("clip", "clipseg", "owlvit", "owlv2", "groupvit", "xclip"), "CLIPTokenizer"),
    **dict.fromkeys(("mistral", "mixtral", "ministral", "mistral3", "phi3", "phimoe", "internlm2", "jamba",
                     "granite", "granitemoe", "glm", "glm4", "olmo2", "nemotron"), "TokenizersBackend"),
}
# transformers 5.23 MODELS_WITH_INCORRECT_HUB_TOKENIZER_CLASS: the registered class wins over the hub's.
_INCORRECT_HUB_CLASS = {
    "arctic", "chatlm", "ernie4_5", "ernie4_5_moe", "fuyu", "h2ovl_chat", "hyperclovax", "hyperclovax_vlm",
    "hyperclovax_vision_v2", "internlm2", "internlm3", "iquestcoder", "jamba", "llava", "llava_next", "minicpm3",
    "minicpmv", "minimax_m2", "modernbert", "modernbert-decoder", "molmo", "molmo2", "nemotron", "nvfp4",
    "opencua", "openvla", "paddleocr_vl", "phi3", "phi3_v", "phimoe", "qwen2", "qwen3_5", "qwen3_5_moe",
    "qwen3_5_moe_text", "qwen4_exp", "step3_vl", "vipllava", "cohere_asr", "camembertv2-base", "siglip2",
    "smolvlm",
}


def _canonical(name: str | None) -> str | None:
    if not isinstance(name, str) or not name:
        return None
    if name != "PreTrainedTokenizerFast" and name.endswith("Fast"):
        name = name[:-4]
    name = _ALIASES.get(name, name)
    return "TokenizersBackend" if name in _GENERIC_NAMES else name


def _choose_class(cfg: dict, model_cfg: dict, byte_level: bool) -> tuple[str | None, str]:
    """(class name, or None for the generic backend; note) as AutoTokenizer picks it."""
    model_type = model_cfg.get("model_type") if isinstance(model_cfg.get("model_type"), str) else None
    known_wrong = model_type in _INCORRECT_HUB_CLASS
    auto_map = cfg.get("auto_map")
    if not known_wrong and (isinstance(auto_map, list) or (isinstance(auto_map, dict) and "AutoTokenizer" in auto_map)):
        return None, "custom tokenizer class (remote code): counted as a generic fast tokenizer"
    hub = _canonical(cfg.get("tokenizer_class")) or _canonical(model_cfg.get("tokenizer_class"))
    registered = _MODEL_TYPES.get(model_type) if model_type else None
    if hub == "LlamaTokenizer" and byte_level and not known_wrong:
        return None, ""  # Llama-3 style repos that declare LlamaTokenizer
    if hub and registered and hub != registered:
        if registered == "TokenizersBackend":
            return None, ""
        hub = registered if known_wrong else hub
    name = hub or registered
    return (None if name in (None, "TokenizersBackend") else name), ""


# -- reading files ----------------------------------------------------------------------------

def _read_bytes(path: Path, name: str) -> bytes:
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            raise ReadError(f"{name}: not a regular file")
        if st.st_size > MAX_BYTES:
            raise ReadError(f"{name}: file is {st.st_size / 1e6:.1f} MB, over the {MAX_BYTES / 1e6:g} MB cap; skipped")
        with open(path, "rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ReadError(f"{name}: cannot read file: {(exc.strerror or type(exc).__name__).lower()}") from None
    if len(data) > MAX_BYTES:
        raise ReadError(f"{name}: file is over the {MAX_BYTES / 1e6:g} MB cap; skipped")
    if data.startswith(_LFS_POINTER):
        raise ReadError(f"{name}: git-lfs pointer file, not the real file (run `git lfs pull`)")
    return data


def _decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ReadError(f"{name}: not valid UTF-8 text (byte 0x{data[exc.start:exc.start + 1].hex()})",
                        line) from None


def _json(path: Path, name: str) -> tuple[Any, str]:
    data = _read_bytes(path, name)
    if b"\0" in data[:8192]:
        raise ReadError(f"{name}: binary file, not JSON")
    text = _decode(data, name)
    try:
        return json.loads(text), text
    except json.JSONDecodeError as exc:
        raise ReadError(f"{name}: invalid JSON: {exc.msg}", exc.lineno, exc.colno) from None
    except (RecursionError, ValueError) as exc:
        raise ReadError(f"{name}: invalid JSON: {exc}") from None


def _json_object(find: Finder, name: str) -> tuple[dict | None, Path | None]:
    path = find(name)
    if path is None:
        return None, None
    value, _ = _json(path, name)
    if not isinstance(value, dict):
        raise ReadError(f"{name}: expected a JSON object, found {type(value).__name__}")
    return value, path


def _content(value: Any) -> str | None:
    """The token string of a str / AddedToken dict value; None for anything else."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("content"), str):
        return value["content"]
    return None


# -- vocab sources ------------------------------------------------------------------------------

@dataclass
class _Vocab:
    tokens: dict[str, None]         # ordered set of base vocab strings
    path: Path
    kind: str                       # "tokenizer.json", "vocab.txt", ...
    max_id: int | None = None
    json_added: list[str] | None = None      # tokenizer.json added_tokens
    byte_level: bool = False
    spm_specials: dict[str, str] | None = None   # bos/eos/unk pieces from a SentencePiece trainer_spec
    spm_pieces: list[str] | None = None          # pieces in id order (for placeholder renames)
    spm_extras: list[str] | None = None          # CONTROL / USER_DEFINED pieces
    spm_unigram: bool = False                    # trainer_spec.model_type is UNIGRAM
    tiktoken: bool = False
    size: int | None = None         # the model's own size, when it is not len(tokens) (Unigram lists)


def _tokenizer_json(path: Path) -> _Vocab:
    name = TOKENIZER_JSON
    doc, text = _json(path, name)
    if not isinstance(doc, dict):
        raise ReadError(f"{name}: expected a JSON object, found {type(doc).__name__}")
    model = doc.get("model")
    if not isinstance(model, dict):
        raise ReadError(f"{name}: no \"model\" object")
    vocab = model.get("vocab")
    tokens: dict[str, None] = {}
    max_id: int | None = None
    size = None
    if isinstance(vocab, dict):
        for token, index in vocab.items():
            if not isinstance(index, int) or isinstance(index, bool) or index < 0:
                raise ReadError(f"{name}: model.vocab[{token!r}] is not a token id")
            tokens[token] = None
            max_id = index if max_id is None else max(max_id, index)
    elif isinstance(vocab, list):  # Unigram: [[piece, score], ...]
        for i, item in enumerate(vocab):
            if isinstance(item, list) and item and isinstance(item[0], str):
                tokens[item[0]] = None
            elif isinstance(item, str):
                tokens[item] = None
            else:
                raise ReadError(f"{name}: model.vocab[{i}] is not a [piece, score] pair")
        max_id = len(vocab) - 1 if vocab else None
        size = len(vocab)  # the Unigram model counts list entries, repeated pieces included
    else:
        raise ReadError(f"{name}: model.vocab is missing or not a dict/list")
    added = doc.get("added_tokens", [])
    if added is None:
        added = []
    if not isinstance(added, list):
        raise ReadError(f"{name}: added_tokens is not a list")
    json_added = []
    for i, entry in enumerate(added):
        content = entry.get("content") if isinstance(entry, dict) else None
        if not isinstance(content, str):
            raise ReadError(f"{name}: added_tokens[{i}] has no string \"content\"")
        json_added.append(content)
    return _Vocab(tokens, path, name, max_id, json_added, byte_level='"ByteLevel"' in text, size=size)


def _vocab_txt(path: Path, name: str) -> _Vocab:
    """Like tokenizers' WordPiece::read_file: lines split on \\n, trailing whitespace trimmed."""
    text = _decode(_read_bytes(path, name), name)
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    tokens = dict.fromkeys(line.rstrip(_RUST_WS) for line in lines)
    return _Vocab(tokens, path, name, len(lines) - 1 if lines else None)


def _vocab_json(path: Path, name: str) -> _Vocab:
    doc, _ = _json(path, name)
    if not isinstance(doc, dict):
        raise ReadError(f"{name}: expected a JSON object of token -> id, found {type(doc).__name__}")
    for token, index in doc.items():
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise ReadError(f"{name}: {token!r} has no integer id")
    return _Vocab(dict.fromkeys(doc), path, name, max(doc.values(), default=None))


# SentencePiece ModelProto, read from the protobuf wire format.

class _Truncated(Exception):
    pass


def _varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= end:
            raise _Truncated
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint longer than 10 bytes")


def _field(buf: bytes, pos: int, end: int) -> tuple[int, int, Any, int]:
    """One field at `pos`: (number, wire type, value, next pos); value is (start, end) for bytes."""
    key, pos = _varint(buf, pos, end)
    number, wire = key >> 3, key & 7
    if number == 0:
        raise ValueError("field number 0")
    if wire == 0:
        value, pos = _varint(buf, pos, end)
    elif wire == 1:
        value, pos = None, pos + 8
    elif wire == 2:
        length, pos = _varint(buf, pos, end)
        value, pos = (pos, pos + length), pos + length
    elif wire == 5:
        value, pos = None, pos + 4
    else:
        raise ValueError(f"unsupported wire type {wire}")
    if pos > end:
        raise _Truncated
    return number, wire, value, pos


def _fields(buf: bytes, pos: int, end: int) -> Iterable[tuple[int, int, Any]]:
    while pos < end:
        number, wire, value, pos = _field(buf, pos, end)
        yield number, wire, value


def _int32(value: int) -> int:
    value &= (1 << 64) - 1
    value = value - (1 << 64) if value >= 1 << 63 else value
    return value


def _piece(data: bytes, pos: int, end: int) -> tuple[str | None, int]:
    """(piece, type) of one SentencePiece message; the usual 0x0a/0x15/0x18 layout read inline."""
    piece, kind = None, 1  # type NORMAL unless set
    while pos < end:
        key = data[pos]
        if key == 0x0A and pos + 1 < end and data[pos + 1] < 0x80:
            start = pos + 2
            pos = start + data[pos + 1]
            if pos > end:
                raise _Truncated
            piece = data[start:pos].decode("utf-8")
        elif key == 0x15:
            pos += 5
        elif key == 0x18 and pos + 1 < end and data[pos + 1] < 0x80:
            kind = data[pos + 1]
            pos += 2
        else:  # anything else: the general reader, from here on
            for n, w, v in _fields(data, pos, end):
                if n == 1 and w == 2:
                    piece = data[v[0]:v[1]].decode("utf-8")
                elif n == 3 and w == 0:
                    kind = v
            return piece, kind
    if pos > end:
        raise _Truncated
    return piece, kind


def _parse_spm(data: bytes, name: str) -> tuple[list[str], list[int], dict[int, Any]]:
    """(pieces in id order, their types, trainer_spec fields by number) of a SentencePiece model."""
    pieces: list[str] = []
    types: list[int] = []
    spec: dict[int, Any] = {}
    pos, end = 0, len(data)
    try:
        while pos < end:
            if data[pos] == 0x0A and pos + 1 < end and data[pos + 1] < 0x80:  # a short piece: inline
                number, wire, value, pos = 1, 2, (pos + 2, pos + 2 + data[pos + 1]), pos + 2 + data[pos + 1]
                if pos > end:
                    raise _Truncated
            else:
                number, wire, value, pos = _field(data, pos, end)
            if number == 1 and wire == 2:
                piece, kind = _piece(data, *value)
                if piece is None:
                    raise ValueError(f"piece {len(pieces)} has no string")
                pieces.append(piece)
                types.append(kind)
            elif number == 2 and wire == 2:  # TrainerSpec
                for n, w, v in _fields(data, *value):
                    if w == 0 and n in (3, 40, 41, 42, 43):
                        spec[n] = _int32(v)
                    elif w == 2 and n in (45, 46, 47, 48):
                        spec[n] = data[v[0]:v[1]].decode("utf-8")
            elif wire == 2 and number not in (3, 4, 5):
                raise ValueError(f"unexpected field {number}")
    except _Truncated:
        raise ReadError(f"{name}: truncated SentencePiece model") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ReadError(f"{name}: not a valid SentencePiece model ({exc})") from None
    if not pieces:
        raise ReadError(f"{name}: SentencePiece model has no pieces")
    return pieces, types, spec


def _parse_tiktoken(data: bytes) -> list[bytes] | None:
    """Tokens of a tiktoken BPE file ("<base64> <rank>" lines), or None if it is not one."""
    tokens = []
    for line in data.split(b"\n"):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            return None
        try:
            tokens.append(base64.b64decode(parts[0], validate=True))
        except (binascii.Error, ValueError):
            return None
    return tokens or None


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> printable character table (what TikTokenConverter builds token strings with)."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table, extra = {b: chr(b) for b in keep}, 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def _model_file(path: Path, name: str) -> _Vocab:
    data = _read_bytes(path, name)
    if not data:
        raise ReadError(f"{name}: empty file")
    if data[:1] != b"\n":  # a SentencePiece ModelProto starts with field 1 (pieces)
        tiktoken = _parse_tiktoken(data)
        if tiktoken is not None:
            encoder = _bytes_to_unicode()
            tokens = dict.fromkeys("".join(encoder[b] for b in t) for t in tiktoken)
            return _Vocab(tokens, path, name, len(tiktoken) - 1, tiktoken=True)
    pieces, types, spec = _parse_spm(data, name)
    specials = {}
    for attr, id_field, piece_field, default_id, default_piece in (
            ("bos_token", 41, 46, 1, "<s>"), ("eos_token", 42, 47, 2, "</s>"), ("unk_token", 40, 45, 0, "<unk>")):
        if spec.get(id_field, default_id) >= 0:
            specials[attr] = spec.get(piece_field) or default_piece
    extras = [piece for piece, kind in zip(pieces, types) if kind in (3, 4)]  # CONTROL, USER_DEFINED
    return _Vocab(dict.fromkeys(pieces), path, name, len(pieces) - 1, spm_specials=specials, spm_pieces=pieces,
                  spm_extras=extras, spm_unigram=spec.get(3, 1) == 1)


def _primary_source(find: Finder) -> _Vocab | None:
    """tokenizer.json, else a tokenizer.model / tiktoken.model: what any tokenizer class reads first."""
    path = find(TOKENIZER_JSON)
    if path is not None:
        return _tokenizer_json(path)
    for name in (SPM_MODEL, TIKTOKEN_MODEL):
        path = find(name)
        if path is not None:
            return _model_file(path, name)
    return None


def _class_source(find: Finder, profile: _Profile, known: bool) -> _Vocab | None:
    """The class's own vocab files (vocab.txt, vocab.json, spiece.model, ...). For an unknown class
    (where transformers would fail) vocab.txt / vocab.json are still counted."""
    for name in profile.files if known else ("vocab.txt", "vocab.json"):
        path = find(name) if name != "merges.txt" else None
        if path is None:
            continue
        if name.endswith(".model"):
            return _model_file(path, name)
        return _vocab_txt(path, name) if name.endswith(".txt") else _vocab_json(path, name)
    return None


# -- the count ----------------------------------------------------------------------------------

def count_tokenizer(find: Finder) -> TokenizerCount | None:
    """`len(AutoTokenizer.from_pretrained(folder))` from the folder's files, or None if it has no
    tokenizer files this can count. Raises ReadError for a present but broken file."""
    cfg, _ = _json_object(find, TOKENIZER_CONFIG)
    cfg = cfg or {}
    vocab = _primary_source(find)
    try:
        model_cfg, _ = _json_object(find, MODEL_CONFIG)
    except ReadError:
        model_cfg = None  # config.json problems are reported by the model reader
    class_name, note = _choose_class(cfg, model_cfg or {}, byte_level=vocab is not None and vocab.byte_level)
    profile = _PROFILES.get(class_name, _GENERIC) if class_name else _GENERIC
    if vocab is None:
        vocab = _class_source(find, profile, known=class_name in _PROFILES)
        if vocab is None:
            return None
    if class_name is not None and class_name not in _PROFILES:
        note = note or f"{class_name} not modelled: counted as a generic fast tokenizer"
    rebuild = profile.rebuild and class_name in _PROFILES
    if vocab.spm_pieces is not None and profile.spm_reordered:
        return None  # XLM-R style converters reorder/extend a .model vocab: not modelled

    kwargs, added, decoder, added_files = _from_config(find, cfg, vocab, rebuild)
    special = _special_tokens(kwargs, profile.defaults if rebuild else {}, vocab, rebuild)
    added += special.values()
    if vocab.spm_extras is not None:  # the .model's control/user pieces replace additional_special_tokens
        kwargs["additional_special_tokens"] = vocab.spm_extras
    if "additional_special_tokens" in kwargs and "extra_special_tokens" not in kwargs:
        kwargs["extra_special_tokens"] = kwargs.pop("additional_special_tokens")  # else it is ignored
    extras = kwargs.get("extra_special_tokens")
    if isinstance(extras, dict):
        extras = list(extras.values())
    if isinstance(extras, list):
        added += [c for c in map(_content, extras) if c is not None]
    if profile.extra_ids and class_name is not None:
        n = kwargs.get("extra_ids", profile.extra_ids)
        if isinstance(n, int) and not isinstance(n, bool) and n > 0:
            added += [f"<extra_id_{i}>" for i in range(n)]

    base = vocab.tokens
    if vocab.spm_pieces is not None and decoder and not rebuild and not vocab.spm_unigram:
        base = _rename_placeholders(vocab.spm_pieces, decoder)
    elif vocab.tiktoken and decoder:
        top = max(decoder)
        if top >= len(base):  # ids past the tiktoken ranks are filled with placeholders
            added += [decoder.get(i, f"<|reserved_token_{i}|>") for i in range(len(base), top + 1)]

    new = [t for t in dict.fromkeys(added) if t and t not in base]
    size = len(base) if vocab.size is None else vocab.size
    length = size + len(new)
    detail = f"{vocab.kind}: {size} vocab + {len(new)} added"
    if vocab.max_id is not None and vocab.max_id + 1 > size and not vocab.spm_pieces:
        detail += f" (vocab ids have holes: highest id {vocab.max_id})"
    if added_files:
        detail += f" (with {', '.join(added_files)})"
    if note:
        detail += f"; {note}"
    tokens = None
    if length <= MAX_TOKENS:
        tokens = frozenset(base) | frozenset(new)
    return TokenizerCount(length, vocab.path, detail, tokens, special)


def _from_config(find: Finder, cfg: dict, vocab: _Vocab,
                 rebuild: bool) -> tuple[dict, list[str], dict[int, str], list[str]]:
    """(tokenizer kwargs, added token strings, added_tokens_decoder id -> content, files used)
    as transformers' `_from_pretrained` assembles them."""
    kwargs = dict(cfg)
    if "additional_special_tokens" in kwargs and not kwargs.get("extra_special_tokens"):
        kwargs["extra_special_tokens"] = kwargs.pop("additional_special_tokens")
    legacy = "added_tokens_decoder" not in cfg
    added: list[str] = []
    files: list[str] = []
    decoder: dict[int, str] = {}
    if not legacy:
        atd = cfg["added_tokens_decoder"]
        if not isinstance(atd, dict):
            raise ReadError(f"{TOKENIZER_CONFIG}: added_tokens_decoder is not an object")
        for key, value in atd.items():
            content = _content(value)
            if content is None or not isinstance(value, dict):
                raise ReadError(f"{TOKENIZER_CONFIG}: added_tokens_decoder[{key!r}] is not a token object")
            try:
                decoder[int(key)] = content
            except ValueError:
                raise ReadError(f"{TOKENIZER_CONFIG}: added_tokens_decoder key {key!r} is not an id") from None
        added += decoder.values()
    else:  # legacy layout: special_tokens_map.json overrides the config, added_tokens.json adds
        stm, _ = _json_object(find, SPECIAL_TOKENS_MAP)
        for key, value in (stm or {}).items():
            if key == "extra_special_tokens" and isinstance(value, list):
                merged = kwargs.get("extra_special_tokens")
                merged = list(merged) if isinstance(merged, list) else []
                value = merged + [t for t in value if t not in merged]
            kwargs[key] = value
        if stm:
            files.append(SPECIAL_TOKENS_MAP)
        extra, _ = _json_object(find, ADDED_TOKENS)
        if extra:
            added += extra
            decoder.update((i, t) for t, i in extra.items() if isinstance(i, int) and not isinstance(i, bool))
            files.append(ADDED_TOKENS)
    if vocab.json_added and (legacy or not rebuild):
        added += vocab.json_added
    return kwargs, added, decoder, files


def _special_tokens(kwargs: dict, defaults: dict[str, str], vocab: _Vocab, rebuild: bool) -> dict[str, str]:
    """Named and model-specific special tokens -> content, as the tokenizer will hold them."""
    special: dict[str, str] = {}
    for attr in SPECIAL_ATTRIBUTES:
        if attr in kwargs:
            content = _content(kwargs[attr])
        elif attr in defaults:
            content = defaults[attr]
        elif vocab.spm_specials and not rebuild:
            content = vocab.spm_specials.get(attr)
        else:
            content = None
        if content is not None:
            special[attr] = content
    for key, value in kwargs.items():
        if key in SPECIAL_ATTRIBUTES or not key.endswith("_token"):
            continue
        if isinstance(value, str) or (isinstance(value, dict) and value.get("__type") == "AddedToken"):
            content = _content(value)
            if content is not None:
                special[key] = content
    extras = kwargs.get("extra_special_tokens")
    if isinstance(extras, dict):
        for key, value in extras.items():
            content = _content(value)
            if content is not None and isinstance(key, str):
                special[key] = content
    return special


def _rename_placeholders(pieces: list[str], decoder: dict[int, str]) -> dict[str, None]:
    """SentencePiece vocab after transformers swaps placeholder pieces for added_tokens_decoder names."""
    vocab = dict.fromkeys(pieces)
    by_id = dict(enumerate(pieces))
    for index, new in decoder.items():
        current = by_id.get(index)
        if current and current != new and new not in vocab:
            del vocab[current]
            vocab[new] = None
            by_id[index] = new
    return vocab
