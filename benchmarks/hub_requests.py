"""Requests and bytes per model for Hub lookups, cold and warm, against the local test Hub.

    python benchmarks/hub_requests.py

Builds repos shaped like real ones (full tensor lists and true sizes, as sparse files: BERT-base,
Llama-3-8B in 4 shards, a LoRA adapter), serves them with tests/hub_server.py, and resolves each
model with a fresh ckpt-lint resolver: cold (empty HF cache and metadata cache), warm (a new
resolver, as a second run), and offline. Prints a Markdown table from the server's request log.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

SIZES = {"F32": 4, "BF16": 2}


def write_safetensors(path: Path, tensors: dict[str, tuple[str, list[int]]]) -> int:
    """A header with true shapes, then sparse zeros as long as the real data; returns the file size."""
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, (dtype, shape) in tensors.items():
        n = SIZES[dtype]
        for d in shape:
            n *= d
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw)
        f.truncate(8 + len(raw) + offset)
    return 8 + len(raw) + offset


def header_size(path: Path) -> int:
    with open(path, "rb") as f:
        return 8 + struct.unpack("<Q", f.read(8))[0]


def bert(root: Path) -> None:
    repo = root / "google-bert" / "bert-base-uncased"
    h, t = 768, {}
    t["bert.embeddings.word_embeddings.weight"] = ("F32", [30522, h])
    t["bert.embeddings.position_embeddings.weight"] = ("F32", [512, h])
    t["bert.embeddings.token_type_embeddings.weight"] = ("F32", [2, h])
    t["bert.embeddings.LayerNorm.weight"] = t["bert.embeddings.LayerNorm.bias"] = ("F32", [h])
    for i in range(12):
        p = f"bert.encoder.layer.{i}."
        for m, (o, n) in {"attention.self.query": (h, h), "attention.self.key": (h, h),
                          "attention.self.value": (h, h), "attention.output.dense": (h, h),
                          "intermediate.dense": (3072, h), "output.dense": (h, 3072)}.items():
            t[p + m + ".weight"], t[p + m + ".bias"] = ("F32", [o, n]), ("F32", [o])
        for m in ("attention.output.LayerNorm", "output.LayerNorm"):
            t[p + m + ".weight"] = t[p + m + ".bias"] = ("F32", [h])
    t["bert.pooler.dense.weight"], t["bert.pooler.dense.bias"] = ("F32", [h, h]), ("F32", [h])
    write_safetensors(repo / "model.safetensors", t)
    (repo / "config.json").write_text(json.dumps({
        "architectures": ["BertForMaskedLM"], "attention_probs_dropout_prob": 0.1, "gradient_checkpointing": False,
        "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "hidden_size": 768, "initializer_range": 0.02,
        "intermediate_size": 3072, "layer_norm_eps": 1e-12, "max_position_embeddings": 512, "model_type": "bert",
        "num_attention_heads": 12, "num_hidden_layers": 12, "pad_token_id": 0, "position_embedding_type": "absolute",
        "transformers_version": "4.6.0.dev0", "type_vocab_size": 2, "use_cache": True, "vocab_size": 30522}, indent=2))
    (repo / "tokenizer.json").write_text(json.dumps({"model": {"vocab": {f"t{i}": i for i in range(30522)}}}))


def llama(root: Path) -> None:
    repo = root / "meta-llama" / "Meta-Llama-3-8B"
    h, f, kv, t = 4096, 14336, 1024, {}
    t["model.embed_tokens.weight"] = ("BF16", [128256, h])
    for i in range(32):
        p = f"model.layers.{i}."
        for m, shape in {"self_attn.q_proj": [h, h], "self_attn.k_proj": [kv, h], "self_attn.v_proj": [kv, h],
                         "self_attn.o_proj": [h, h], "mlp.gate_proj": [f, h], "mlp.up_proj": [f, h],
                         "mlp.down_proj": [h, f]}.items():
            t[p + m + ".weight"] = ("BF16", shape)
        t[p + "input_layernorm.weight"] = t[p + "post_attention_layernorm.weight"] = ("BF16", [h])
    t["model.norm.weight"], t["lm_head.weight"] = ("BF16", [h]), ("BF16", [128256, h])
    names = list(t)
    shards = [names[i * len(names) // 4:(i + 1) * len(names) // 4] for i in range(4)]
    weight_map, total = {}, 0
    for i, part in enumerate(shards):
        name = f"model-{i + 1:05d}-of-00004.safetensors"
        total += write_safetensors(repo / name, {k: t[k] for k in part})
        weight_map.update({k: name for k in part})
    (repo / "model.safetensors.index.json").write_text(json.dumps(
        {"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2))
    (repo / "config.json").write_text(json.dumps({
        "architectures": ["LlamaForCausalLM"], "bos_token_id": 128000, "eos_token_id": 128001, "hidden_act": "silu",
        "hidden_size": h, "intermediate_size": f, "max_position_embeddings": 8192, "model_type": "llama",
        "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8, "rms_norm_eps": 1e-05,
        "rope_theta": 500000.0, "tie_word_embeddings": False, "torch_dtype": "bfloat16", "vocab_size": 128256},
        indent=2))


def lora(root: Path) -> None:
    repo = root / "acme" / "llama3-8b-sst3-lora"
    t = {}
    for i in range(32):
        for m, (a, b) in {"q_proj": (4096, 4096), "v_proj": (4096, 1024)}.items():
            p = f"base_model.model.model.layers.{i}.self_attn.{m}."
            t[p + "lora_A.weight"], t[p + "lora_B.weight"] = ("F32", [16, a]), ("F32", [b, 16])
    t["base_model.model.score.weight"] = ("F32", [3, 4096])
    write_safetensors(repo / "adapter_model.safetensors", t)
    (repo / "adapter_config.json").write_text(json.dumps({
        "base_model_name_or_path": "meta-llama/Meta-Llama-3-8B", "peft_type": "LORA", "task_type": "SEQ_CLS",
        "r": 16, "lora_alpha": 32, "target_modules": ["q_proj", "v_proj"], "modules_to_save": ["score"]}, indent=2))


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="ckpt-lint-bench-"))
    try:
        run(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(work: Path) -> None:
    root = work / "repos"
    for build in (bert, llama, lora):
        build(root)
    os.environ.update(HF_HUB_CACHE=str(work / "hf-cache"), CKPT_LINT_CACHE_DIR=str(work / "ckpt-lint-cache"),
                      NO_PROXY="127.0.0.1,localhost", HF_HUB_DISABLE_TELEMETRY="1")
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "CKPT_LINT_OFFLINE", "HF_TOKEN"):
        os.environ.pop(var, None)
    from hub_server import HubServer

    from ckpt_lint.models import ModelResolver

    models = ["google-bert/bert-base-uncased", "meta-llama/Meta-Llama-3-8B", "acme/llama3-8b-sst3-lora"]
    rows = []
    with HubServer(root) as server:
        os.environ["HF_ENDPOINT"] = server.url
        for model in models:
            server.clear()
            started = time.monotonic()
            facts = ModelResolver().resolve(model, base_dirs=[])
            elapsed = time.monotonic() - started
            log = server.requests(model)
            repo = root.joinpath(*model.split("/"))
            weights = sum(p.stat().st_size for p in repo.glob("*.safetensors"))
            header = sum(header_size(p) for p in repo.glob("*.safetensors"))
            sent = sum(r.sent for r in log)
            on_weights = sum(r.sent for r in log if r.path.endswith(".safetensors"))
            tensors = len(facts.tensors or facts.adapter_tensors or {})
            rows.append((model, tensors, len(log), sent, on_weights, header, weights, elapsed))
        server.clear()
        for model in models:
            ModelResolver().resolve(model, base_dirs=[])
        warm = len(server.log)
        os.environ["HF_HUB_OFFLINE"] = "1"
        for model in models:
            ModelResolver().resolve(model, base_dirs=[])
        offline = len(server.log) - warm

    print("| model | tensors | requests (cold) | bytes received (cold) | of which from weights files "
          "| their headers | weights size | time (cold) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for model, tensors, count, sent, on_weights, header, weights, elapsed in rows:
        print(f"| {model} | {tensors} | {count} | {sent:,} | {on_weights:,} | {header:,} | {weights / 1e9:.2f} GB "
              f"| {elapsed * 1000:.0f} ms |")
    print(f"\nwarm run (new resolver, caches filled): {warm} requests for {len(models)} models; "
          f"offline run: {offline} requests")


if __name__ == "__main__":
    main()
