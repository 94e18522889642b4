"""CKL101 on head layouts beyond BERT: which tensor is the head depends on the model family, project
subclasses build their own heads, and the transformers version decides num_labels vs id2label."""

from __future__ import annotations

import json
import struct
import textwrap
from pathlib import Path

from ckpt_lint.config import Settings
from ckpt_lint.runner import run


def checkpoint(folder: Path, model_type: str, arch: str, tensors: dict[str, list[int]], labels: int | None = None):
    folder.mkdir(parents=True, exist_ok=True)
    config = {"model_type": model_type, "architectures": [arch], "hidden_size": 32}
    if labels is not None:
        config["id2label"] = {str(i): f"L{i}" for i in range(labels)}
    (folder / "config.json").write_text(json.dumps(config))
    header, offset = {}, 0
    for name, shape in tensors.items():
        size = 4
        for dim in shape:
            size *= dim
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    (folder / "model.safetensors").write_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * offset)


def lint(root: Path, script: str, files: dict[str, str] | None = None) -> list:
    (root / "train.py").write_text(textwrap.dedent(script))
    for name, text in (files or {}).items():
        (root / name).write_text(text)
    return [f for f in run([root], Settings(), cwd=root).findings if f.code.startswith("CKL1")]


def test_roberta_sequence_head_is_out_proj(tmp_path):
    checkpoint(tmp_path / "ck", "roberta", "RobertaForSequenceClassification",
               {"roberta.embeddings.word_embeddings.weight": [99, 32], "classifier.dense.weight": [32, 32],
                "classifier.out_proj.weight": [3, 32]}, labels=3)
    found = lint(tmp_path, """
        from transformers import AutoModelForSequenceClassification
        m = AutoModelForSequenceClassification.from_pretrained("ck", num_labels=5)
        """)
    assert [f.code for f in found] == ["CKL101"]
    assert "5 labels" in found[0].message and "classifier.out_proj.weight [3, 32]" in found[0].message


def test_token_checkpoint_into_roberta_sequence_model_only_warns_at_runtime(tmp_path):
    # RobertaForSequenceClassification has classifier.out_proj; the token checkpoint has classifier.weight:
    # nothing of the same name differs in shape, so transformers loads (head MISSING) and we stay silent.
    checkpoint(tmp_path / "ck", "roberta", "RobertaForTokenClassification",
               {"roberta.embeddings.word_embeddings.weight": [99, 32], "classifier.weight": [7, 32]}, labels=7)
    assert lint(tmp_path, """
        from transformers import RobertaForSequenceClassification
        m = RobertaForSequenceClassification.from_pretrained("ck", num_labels=3)
        """) == []


def test_llama_sequence_head_is_score(tmp_path):
    checkpoint(tmp_path / "ck", "llama", "LlamaForSequenceClassification",
               {"model.embed_tokens.weight": [99, 32], "score.weight": [2, 32]}, labels=2)
    found = lint(tmp_path, """
        from transformers import AutoModelForSequenceClassification
        labels = ["a", "b", "c", "d"]
        m = AutoModelForSequenceClassification.from_pretrained("ck", num_labels=len(labels))
        """)
    assert len(found) == 1 and "score.weight [2, 32]" in found[0].message and "4 labels" in found[0].message


def test_project_subclass_with_its_own_linear_head(tmp_path):
    checkpoint(tmp_path / "ck", "bert", "BertNer",
               {"bert.embeddings.word_embeddings.weight": [99, 32], "classifier.weight": [60, 32]})
    found = lint(tmp_path, """
        import torch.nn as nn
        from transformers import BertModel, BertPreTrainedModel

        class BertNer(BertPreTrainedModel):
            def __init__(self, config):
                super().__init__(config)
                self.bert = BertModel(config)
                self.classifier = nn.Linear(config.hidden_size, config.num_labels)

        class FixedHead(BertPreTrainedModel):
            def __init__(self, config):
                super().__init__(config)
                self.bert = BertModel(config)
                self.classifier = nn.Linear(config.hidden_size, 5)

        TAGS = ["O", "B-PER", "I-PER"]

        class ConstantHead(BertPreTrainedModel):
            def __init__(self, config):
                super().__init__(config)
                self.bert = BertModel(config)
                self.classifier = nn.Linear(config.hidden_size, len(TAGS))

        a = BertNer.from_pretrained("ck", num_labels=10)
        b = BertNer.from_pretrained("ck", num_labels=60)
        c = FixedHead.from_pretrained("ck")
        d = ConstantHead.from_pretrained("ck", num_labels=60)
        """)
    lines = sorted((f.location.line, f.message.split(" (")[0]) for f in found)
    assert lines == [(25, "BertNer head has 10 labels"), (27, "FixedHead head has 5 labels"),
                     (28, "ConstantHead head has 3 labels")]
    assert "nn.Linear(..., len(TAGS)) = 3 rows" in found[-1].message


def test_remote_code_models_are_not_guessed(tmp_path):
    checkpoint(tmp_path / "ck", "custom", "CustomForSequenceClassification",
               {"classifier.weight": [3, 32]}, labels=3)
    config = json.loads((tmp_path / "ck/config.json").read_text())
    config["auto_map"] = {"AutoModelForSequenceClassification": "modeling.CustomForSequenceClassification"}
    (tmp_path / "ck/config.json").write_text(json.dumps(config))
    assert lint(tmp_path, """
        from transformers import AutoModelForSequenceClassification
        m = AutoModelForSequenceClassification.from_pretrained("ck", num_labels=5, trust_remote_code=True)
        n = AutoModelForSequenceClassification.from_pretrained("ck", num_labels=5)
        """) == []


SIXTY = "{i: f'T{i}' for i in range(60)}"


def test_last_keyword_wins_under_v5_and_v4_raises_valueerror(tmp_path):
    checkpoint(tmp_path / "ck", "bert", "BertForTokenClassification",
               {"bert.embeddings.word_embeddings.weight": [99, 32], "classifier.weight": [60, 32]}, labels=60)
    script = f"""
        from transformers import AutoModelForTokenClassification
        a = AutoModelForTokenClassification.from_pretrained("ck", num_labels=10, id2label={SIXTY})
        b = AutoModelForTokenClassification.from_pretrained("ck", id2label={SIXTY}, num_labels=10)
        """
    v5 = [f for f in lint(tmp_path, script, {"requirements.txt": "transformers>=5.0\n"}) if f.code == "CKL101"]
    assert [f.location.line for f in v5] == [4]
    assert "transformers 5.x assumed" in v5[0].message
    v4 = lint(tmp_path, script, {"requirements.txt": "transformers==4.46.3\n"})
    assert [f.code for f in v4] == ["CKL102", "CKL102"]  # 4.x raises ValueError before building the head: that is CKL102's finding
    assert all("raises ValueError" in f.message and "transformers==4.46.3" in f.message for f in v4)


def test_each_subproject_of_a_monorepo_follows_its_own_pin(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    script = """from transformers import AutoConfig
cfg = AutoConfig.from_pretrained("m", num_labels=5, id2label={0: "a", 1: "b"})
"""
    for name, pin in (("old", "transformers==4.46.3\n"), ("new", "transformers==5.23.0\n"), ("loose", None)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "train.py").write_text(script)
        if pin:
            (tmp_path / name / "requirements.txt").write_text(pin)
    found = {f.location.path.parent.name: f.message for f in run([tmp_path], Settings(), cwd=tmp_path).findings}
    assert "4.x raises ValueError [transformers==4.46.3 pinned in old/requirements.txt:1]" in found["old"]
    assert "5.x keeps id2label" in found["new"] and "new/requirements.txt" in found["new"]
    assert "5.x keeps id2label" in found["loose"] and "assumed" in found["loose"]
