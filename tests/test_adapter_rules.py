"""Adapter and vocabulary rules on synthetic projects: the paths the real fixtures do not cover
(version pins, YAML frameworks, pickle adapters, config-only bases, ignore_mismatched_sizes)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from test_models import write_safetensors

from ckpt_lint.cli import main


def lint(root: Path, capsys, monkeypatch) -> list[str]:
    monkeypatch.chdir(root)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    capsys.readouterr()
    main([".", "--output-format", "concise", "--isolated"])
    out = capsys.readouterr().out
    return [line for line in out.splitlines() if line and not line.startswith(("Found ", "All checks"))]


def base(folder: Path, *, vocab=99, hidden=32, tie=None, tensors=True, **extra) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    cfg = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": vocab,
           "hidden_size": hidden, "intermediate_size": 37, **extra}
    if tie is not None:
        cfg["tie_word_embeddings"] = tie
    (folder / "config.json").write_text(json.dumps(cfg, indent=2))
    if tensors:
        write_safetensors(folder / "model.safetensors", {
            "model.embed_tokens.weight": ("F32", [vocab, hidden]),
            "model.layers.0.self_attn.q_proj.weight": ("F32", [hidden, hidden]),
            "lm_head.weight": ("F32", [vocab, hidden]),
        })


def adapter(folder: Path, *, rows=None, hidden=32, r=4, mts=None, task=None, bin_only=False, **extra) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    cfg = {"peft_type": "LORA", "r": r, "target_modules": ["q_proj", "v_proj"], "modules_to_save": mts,
           "task_type": task, "base_model_name_or_path": "models/base", **extra}
    (folder / "adapter_config.json").write_text(json.dumps(cfg, indent=2))
    tensors = {"base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight": ("F32", [r, hidden]),
               "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight": ("F32", [hidden, r])}
    if rows:
        tensors["base_model.model.model.embed_tokens.weight"] = ("F32", [rows, hidden])
        tensors["base_model.model.lm_head.weight"] = ("F32", [rows, hidden])
    if bin_only:
        (folder / "adapter_model.bin").write_bytes(b"PK\x03\x04 a torch zip, not read")
    else:
        write_safetensors(folder / "adapter_model.safetensors", tensors)


def tokenizer(folder: Path, n: int) -> None:
    vocab = {f"t{i}": i for i in range(n)}
    (folder / "tokenizer.json").write_text(json.dumps({
        "version": "1.0", "added_tokens": [], "normalizer": None, "pre_tokenizer": None, "post_processor": None,
        "decoder": None, "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "t0"}}))
    (folder / "tokenizer_config.json").write_text('{"tokenizer_class": "PreTrainedTokenizerFast"}')


def script(root: Path, name: str, text: str) -> None:
    (root / name).write_text(textwrap.dedent(text))


MERGE = """
    from transformers import AutoModelForCausalLM
    from peft import PeftModel
    base = AutoModelForCausalLM.from_pretrained("models/base"{kw})
    model = PeftModel.from_pretrained(base, "models/lora"{akw})
    model = model.merge_and_unload()
"""


def test_ignore_mismatched_sizes_silences_rows_and_width(tmp_path, capsys, monkeypatch):
    base(tmp_path / "models/base")
    adapter(tmp_path / "models/lora", rows=120, hidden=48, mts=["embed_tokens", "lm_head"])
    script(tmp_path, "merge.py", MERGE.format(kw="", akw=", ignore_mismatched_sizes=True"))
    assert lint(tmp_path, capsys, monkeypatch) == []
    script(tmp_path, "merge.py", MERGE.format(kw="", akw=""))
    got = lint(tmp_path, capsys, monkeypatch)
    assert [line.split(" ")[1] for line in got] == ["CKL201", "CKL301"]
    assert "trained on a base of width 48" in got[1] and "models/base has 32" in got[1]


def test_pickle_adapter_uses_its_tokenizer_when_it_saved_embeddings(tmp_path, capsys, monkeypatch):
    base(tmp_path / "models/base")
    adapter(tmp_path / "models/lora", mts=["embed_tokens", "lm_head"], bin_only=True)
    tokenizer(tmp_path / "models/lora", 120)
    script(tmp_path, "merge.py", MERGE.format(kw="", akw=""))
    line, unreadable = lint(tmp_path, capsys, monkeypatch)
    assert unreadable.startswith("models/lora/adapter_model.bin:1:1: CKL001 cannot read models/lora/adapter_model.bin")
    assert line.startswith("merge.py:5:9: CKL201 adapter models/lora saved 120 embedding rows (len(tokenizer) of "
                           "models/lora/tokenizer.json, as its weights are a pickle)")
    # without modules_to_save the pickle may hold no vocabulary tensors: the load passes, stay silent
    adapter(tmp_path / "models/lora", mts=None, bin_only=True)
    assert [x.split(" ")[1] for x in lint(tmp_path, capsys, monkeypatch)] == ["CKL001"]


def test_config_only_base_checks_lora_width(tmp_path, capsys, monkeypatch):
    base(tmp_path / "models/base", hidden=4096, tensors=False, intermediate_size=11008)
    adapter(tmp_path / "models/lora", hidden=5120)
    script(tmp_path, "merge.py", MERGE.format(kw="", akw=""))
    (line,) = lint(tmp_path, capsys, monkeypatch)
    assert "CKL301" in line and "width 5120" in line and "has 4096 (hidden_size in models/base/config.json)" in line


@pytest.mark.parametrize("pin, expect", [
    ("peft==0.4.0\n", "peft 0.4.0 pinned: it raises `ValueError: Cannot merge LORA layers"),
    ("peft==0.21.2\n", "peft 0.6+ (peft 0.21.2 pinned) merges into the quantized layers only approximately"),
])
def test_merge_quantized_follows_peft_pin(tmp_path, capsys, monkeypatch, pin, expect):
    base(tmp_path / "models/base")
    adapter(tmp_path / "models/lora")
    (tmp_path / "requirements.txt").write_text(pin + "transformers==4.36.2\n")
    script(tmp_path, "merge.py", MERGE.format(kw=", load_in_8bit=True", akw=""))
    (line,) = lint(tmp_path, capsys, monkeypatch)
    assert line.startswith("merge.py:6:9: CKL204 merging an adapter into a base loaded with load_in_8bit=True: ")
    assert expect in line and "TypeError" not in line  # transformers 4 still takes load_in_8bit


def test_gptq_base_config(tmp_path, capsys, monkeypatch):
    base(tmp_path / "models/base", quantization_config={"quant_method": "gptq", "bits": 4})
    adapter(tmp_path / "models/lora")
    script(tmp_path, "merge.py", MERGE.format(kw="", akw=""))
    (line,) = lint(tmp_path, capsys, monkeypatch)
    assert "CKL204" in line and "quant_method 'gptq'" in line and "gptq quantized" in line


def test_llama_factory_quantized_export_and_rank(tmp_path, capsys, monkeypatch):
    base(tmp_path / "models/base")
    adapter(tmp_path / "saves/lora", r=8)  # stored rank 8 ...
    cfg = json.loads((tmp_path / "saves/lora/adapter_config.json").read_text())
    cfg["r"] = 16  # ... config says 16
    (tmp_path / "saves/lora/adapter_config.json").write_text(json.dumps(cfg, indent=2))
    (tmp_path / "merge.yaml").write_text(textwrap.dedent("""\
        model_name_or_path: models/base
        adapter_name_or_path: saves/lora
        finetuning_type: lora
        quantization_bit: 4
        export_dir: output/merged
        """))
    got = lint(tmp_path, capsys, monkeypatch)
    assert got[0].startswith("merge.yaml:5:1: CKL204 merging an adapter into a base loaded with quantization_bit: 4")
    assert got[1].startswith("saves/lora/adapter_config.json:3:3: CKL206 saves/lora/adapter_config.json says r = 16")


def test_autotrain_yaml_shrinks_padded_vocab(tmp_path, capsys, monkeypatch):
    base(tmp_path / "models/qwen", vocab=128, tensors=False)
    tokenizer(tmp_path / "models/qwen", 120)
    (tmp_path / "config.yml").write_text(textwrap.dedent("""\
        task: llm-sft
        base_model: models/qwen
        project_name: out
        data:
          chat_template: tokenizer
        params:
          peft: true
          merge_adapter: true
        """))
    (line,) = lint(tmp_path, capsys, monkeypatch)
    assert line.startswith("config.yml:2:1: CKL203 `AutoTrain's model.resize_token_embeddings(len(tokenizer))` "
                           "shrinks the embeddings from 128 (vocab_size in models/qwen/config.json) to 120")
    (tmp_path / "config.yml").write_text((tmp_path / "config.yml").read_text().replace("tokenizer\n", "chatml\n"))
    assert lint(tmp_path, capsys, monkeypatch) == []  # chatml adds tokens AutoTrain chooses: length unknown


def test_seq_cls_head_saved_by_task_type_or_modules(tmp_path, capsys, monkeypatch):
    base(tmp_path / "models/base")
    train = """
        from transformers import AutoModelForSequenceClassification
        from peft import LoraConfig, TaskType, get_peft_model
        model = AutoModelForSequenceClassification.from_pretrained("models/base", num_labels=3)
        model = get_peft_model(model, LoraConfig({args}))
    """
    script(tmp_path, "train.py", train.format(args='r=4, target_modules=["q_proj"]'))
    (line,) = lint(tmp_path, capsys, monkeypatch)
    assert line.startswith("train.py:5:31: CKL208 LoRA on AutoModelForSequenceClassification with no task_type")
    for ok in ("task_type=TaskType.SEQ_CLS", 'task_type="SEQ_CLS"', 'modules_to_save=["score"]'):
        script(tmp_path, "train.py", train.format(args=ok))
        assert lint(tmp_path, capsys, monkeypatch) == [], ok


def test_tied_base_with_ensure_weight_tying_is_fine(tmp_path, capsys, monkeypatch):
    base(tmp_path / "models/base", tie=True)
    train = """
        from transformers import AutoModelForCausalLM
        from peft import LoraConfig, get_peft_model
        model = AutoModelForCausalLM.from_pretrained("models/base")
        model = get_peft_model(model, LoraConfig(modules_to_save=["embed_tokens", "lm_head"]{extra}))
    """
    script(tmp_path, "train.py", train.format(extra=""))
    (line,) = lint(tmp_path, capsys, monkeypatch)
    assert "CKL205" in line and line.startswith("train.py:5:")
    script(tmp_path, "train.py", train.format(extra=", ensure_weight_tying=True"))
    assert lint(tmp_path, capsys, monkeypatch) == []
