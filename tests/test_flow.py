"""Script flow: the order of resizes, added tokens, adapter loads and merges on each model, and
which of them certainly happen."""

from __future__ import annotations

import json
from pathlib import Path

from test_evaluate import analyze

from ckpt_lint.vocab import rows_after


def _tokenizer(folder: Path, n: int) -> None:
    """A WordLevel tokenizer.json with n tokens (no added tokens)."""
    folder.mkdir(parents=True, exist_ok=True)
    vocab = {f"t{i}": i for i in range(n)}
    (folder / "tokenizer.json").write_text(json.dumps({
        "version": "1.0", "added_tokens": [], "normalizer": None, "pre_tokenizer": None,
        "post_processor": None, "decoder": None,
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "t0"},
    }))
    (folder / "tokenizer_config.json").write_text('{"tokenizer_class": "PreTrainedTokenizerFast"}')


def _steps(project, kind="resize"):
    return [s for load in project.adapter_loads for s in load.base_steps if s.kind == kind]


def test_resize_before_adapter_load_is_recorded_in_order(tmp_path):
    _tokenizer(tmp_path / "tok", 120)
    project = analyze(tmp_path, {"merge.py": """
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from peft import PeftModel
        tok = AutoTokenizer.from_pretrained("tok")
        tok.add_special_tokens({"pad_token": "<pad>"})
        tok.add_tokens(["t1", "new", "new"])
        base = AutoModelForCausalLM.from_pretrained("base").to("cpu")
        base.resize_token_embeddings(len(tok), pad_to_multiple_of=8)
        model = PeftModel.from_pretrained(base, "lora")
        model = model.merge_and_unload()
        """})
    (load,) = project.adapter_loads
    assert load.how == "PeftModel.from_pretrained" and load.adapter_ref.v == "lora"
    (resize,) = load.base_steps
    assert resize.certain and resize.values["n"].v == 122  # 120 + <pad> + new ("t1" exists, "new" once)
    assert resize.values["pad"].v == 8 and resize.text == "base.resize_token_embeddings(len(tok), pad_to_multiple_of=8)"
    assert rows_after(99, load.base_steps).rows == 128
    assert [s.kind for s in load.result.steps] == ["resize", "merge"]
    assert load.base_load.ref.v == "base"


def test_conditional_resize_is_only_a_maybe(tmp_path):
    project = analyze(tmp_path, {"merge.py": """
        import sys
        from transformers import AutoModelForCausalLM
        from peft import PeftModel
        base = AutoModelForCausalLM.from_pretrained("base")
        if len(sys.argv) > 2:
            base.resize_token_embeddings(120)
        try:
            base.resize_token_embeddings(121)
        except RuntimeError:
            base.resize_token_embeddings(121, pad_to_multiple_of=8)
        model = PeftModel.from_pretrained(base, "lora")
        """})
    certain = [s.certain for s in _steps(project)]
    assert certain == [False, True, False]  # the if branch and the except handler may not run
    after = rows_after(99, project.adapter_loads[0].base_steps)
    assert after.rows is None and after.maybe is not None


def test_flag_decides_the_resize_branch(tmp_path):
    files = {"merge.py": """
        import argparse
        from transformers import AutoModelForCausalLM
        from peft import PeftModel
        p = argparse.ArgumentParser()
        p.add_argument("--resize_emb", action="store_true")
        args = p.parse_args()
        base = AutoModelForCausalLM.from_pretrained("base")
        if args.resize_emb:
            base.resize_token_embeddings(120)
        model = PeftModel.from_pretrained(base, "lora")
        """}
    assert _steps(analyze(tmp_path / "a", files)) == []  # store_true default False: never resized
    files["run.sh"] = "python merge.py --resize_emb\n"
    (step,) = _steps(analyze(tmp_path / "b", files))
    assert step.certain and step.values["n"].v == 120


def test_tokenizer_length_unknown_after_uncertain_mutation(tmp_path):
    _tokenizer(tmp_path / "tok", 50)
    project = analyze(tmp_path, {"train.py": """
        import os
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from peft import PeftModel
        tok = AutoTokenizer.from_pretrained("tok", additional_special_tokens=["<a>", "<b>"])
        base = AutoModelForCausalLM.from_pretrained("base")
        base.resize_token_embeddings(len(tok))
        if os.environ.get("PAD"):
            tok.add_special_tokens({"pad_token": "<pad>"})
        base.resize_token_embeddings(len(tok))
        model = PeftModel.from_pretrained(base, "lora")
        """})
    first, second = _steps(project)
    assert first.values["n"].v == 52  # kwargs tokens count at load
    assert not second.values["n"].known


def test_pad_token_attribute_keeps_length(tmp_path):
    _tokenizer(tmp_path / "tok", 50)
    project = analyze(tmp_path, {"train.py": """
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from peft import PeftModel
        tok = AutoTokenizer.from_pretrained("tok")
        tok.pad_token = tok.eos_token
        tok.pad_token = "<new>"
        base = AutoModelForCausalLM.from_pretrained("base")
        base.resize_token_embeddings(len(tok))
        model = PeftModel.from_pretrained(base, "lora")
        """})
    (step,) = _steps(project)
    assert step.values["n"].v == 50


def test_auto_peft_load_adapter_and_get_peft_model(tmp_path):
    project = analyze(tmp_path, {"train.py": """
        from transformers import AutoModelForSequenceClassification, BitsAndBytesConfig
        from peft import AutoPeftModelForCausalLM, LoraConfig, TaskType, get_peft_model, prepare_model_for_kbit_training
        m = AutoPeftModelForCausalLM.from_pretrained("adapter-a")
        base = AutoModelForSequenceClassification.from_pretrained(
            "base", quantization_config=BitsAndBytesConfig(load_in_4bit=True))
        base = prepare_model_for_kbit_training(base)
        base.load_adapter("adapter-b")
        peft = get_peft_model(base, LoraConfig(task_type=TaskType.SEQ_CLS, modules_to_save=["score"]))
        """})
    auto, loaded = project.adapter_loads
    assert auto.how == "AutoPeftModelForCausalLM.from_pretrained" and auto.base is None
    assert loaded.how == "load_adapter" and loaded.adapter_ref.v == "adapter-b"
    qc = loaded.base_load.kwargs["quantization_config"].v
    assert qc.cls_name == "BitsAndBytesConfig" and qc.kwargs["load_in_4bit"].v is True
    (wrap,) = project.peft_wraps
    assert wrap.base is loaded.base and wrap.config.cls_name == "LoraConfig"
    assert wrap.config.kwargs["task_type"].v.leaf == "SEQ_CLS" and wrap.config.kwargs["modules_to_save"].v == ["score"]
    refs = {(r.what, r.ref.v) for r in project.references()}
    assert {("adapter", "adapter-a"), ("adapter", "adapter-b"), ("load", "base")} <= refs
    assert not [e for e in project.events if e.cls_name.startswith(("Peft", "AutoPeft"))]  # not head-checked loads


def test_peft_config_base_name_is_read_from_adapter_config(tmp_path):
    (tmp_path / "lora").mkdir()
    (tmp_path / "lora" / "adapter_config.json").write_text(
        '{"peft_type": "LORA", "r": 4, "base_model_name_or_path": "models/base", "task_type": "CAUSAL_LM"}')
    project = analyze(tmp_path, {"infer.py": """
        from peft import PeftConfig, PeftModel
        from transformers import AutoModelForCausalLM
        config = PeftConfig.from_pretrained("lora")
        if config.task_type == "SEQ_CLS":
            raise SystemExit("not a causal LM adapter")
        model = AutoModelForCausalLM.from_pretrained(config.base_model_name_or_path)
        model = PeftModel.from_pretrained(model, "lora")
        """})
    (load,) = project.adapter_loads
    assert load.certain and load.base_load.ref.v == "models/base"
    (origin,) = load.base_load.ref.origins
    assert origin.path == tmp_path / "lora" / "adapter_config.json" and origin.note == (
        "base_model_name_or_path in lora/adapter_config.json")
