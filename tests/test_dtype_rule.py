"""CKL401 dtype-mismatch: a bfloat16/float16 backbone whose outputs reach a float32 module.

The fixture cases (tests/fixtures/CKL401/*) carry the runtime grounding; these tests cover the
variants around them: where the dtype comes from, what counts as a cast or as autocast, and the
shapes of data flow followed (or deliberately not followed).

`v4_pinned_ok` has no runtime.json: its point is that transformers 4.x loads a bf16 checkpoint in
float32 when no dtype is given, and the runtime harness runs the installed 5.x, where the same
script raises (that is `v5_default_auto`). Its 4.x outcome was measured once by hand, with
transformers 4.46.0 installed beside torch 2.13: the script prints `loaded` (float32 logits).
"""

from __future__ import annotations

import json
import struct
import textwrap
from pathlib import Path

import pytest

from ckpt_lint.config import Settings
from ckpt_lint.runner import run


def checkpoint(folder: Path, tensors_dtype: str = "BF16", config_key: str | None = "dtype",
               config_value: str | None = "bfloat16", **config) -> Path:
    """A headless BERT checkpoint: config.json + a safetensors header with `tensors_dtype` tensors."""
    folder.mkdir(parents=True, exist_ok=True)
    cfg = {"model_type": "bert", "architectures": ["BertModel"], "hidden_size": 32, **config}
    if config_key is not None:
        cfg[config_key] = config_value
    (folder / "config.json").write_text(json.dumps(cfg))
    dtypes = tensors_dtype.split(",")
    header, offset = {}, 0
    names = ["embeddings.word_embeddings.weight", "encoder.layer.0.attention.self.query.weight"]
    for i, name in enumerate(names):
        dtype = dtypes[min(i, len(dtypes) - 1)]
        size = 32 * 32 * (4 if dtype == "F32" else 2)
        header[name] = {"dtype": dtype, "shape": [32, 32], "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    (folder / "model.safetensors").write_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * offset)
    return folder


def lint(root: Path, script: str, files: dict[str, str] | None = None, name: str = "train.py") -> list:
    (root / name).write_text(textwrap.dedent(script))
    for fname, text in (files or {}).items():
        (root / fname).parent.mkdir(parents=True, exist_ok=True)
        (root / fname).write_text(textwrap.dedent(text))
    return [f for f in run([root], Settings(), cwd=root).findings if f.code == "CKL401"]


CLASS = """
    import torch
    import torch.nn as nn
    from transformers import AutoModel


    class Classifier(nn.Module):
        def __init__(self, name):
            super().__init__()
            self.encoder = AutoModel.from_pretrained(name{load})
            self.head = {head}

        def forward(self, input_ids):
            outputs = self.encoder(input_ids=input_ids)
            {body}
            return self.head({feed})


    model = Classifier("ck")
    """


def klass(load: str = ", torch_dtype=torch.bfloat16", head: str = "nn.Linear(32, 5)",
          body: str = "pooled = outputs.last_hidden_state[:, 0]", feed: str = "pooled") -> str:
    return CLASS.format(load=load, head=head, body=body, feed=feed)


# -- where the dtype comes from -------------------------------------------------------------------

def test_explicit_kwarg_is_reported_at_the_head_call(tmp_path):
    checkpoint(tmp_path / "ck", "F32", config_value="float32")
    found = lint(tmp_path, klass())
    assert len(found) == 1
    f = found[0]
    assert f.severity.value == "warning" and f.location.line == 16
    assert "`self.head(pooled)`" in f.message and "torch_dtype=torch.bfloat16" in f.message
    assert "nn.Linear created in float32 at train.py:11" in f.message and "loaded in bfloat16 at train.py:10" in f.message
    assert "BFloat16 and Float" in f.message and "assumed" not in f.message  # the version does not matter here
    notes = [r.note for r in f.related]
    assert any("loaded in bfloat16" in n for n in notes) and any("created in float32" in n for n in notes)


@pytest.mark.parametrize("load, expected", [
    (", dtype=torch.float16", "Half and Float"),
    (", torch_dtype=torch.half", "Half and Float"),
    (", dtype='bfloat16'", "BFloat16 and Float"),
    (", dtype=torch.float32", None),
    (", torch_dtype=torch.float32", None),
    (", dtype=torch.float32, torch_dtype=torch.bfloat16", None),  # dtype wins over torch_dtype
])
def test_explicit_dtype_values(tmp_path, load, expected):
    checkpoint(tmp_path / "ck", "F32", config_value="float32")
    found = lint(tmp_path, klass(load=load))
    assert [expected in f.message for f in found] == ([True] if expected else [])


def test_v5_default_reads_config_dtype_and_says_which_version(tmp_path):
    checkpoint(tmp_path / "ck")
    (f,) = lint(tmp_path, klass(load=""))
    assert "no dtype argument: transformers 5.x loads with dtype='auto'" in f.message
    assert 'ck/config.json says "dtype": "bfloat16"' in f.message
    assert f.message.endswith("[transformers 5.x assumed: no pin found]")
    assert any(r.path.name == "config.json" for r in f.related)


def test_older_torch_dtype_field(tmp_path):
    checkpoint(tmp_path / "ck", config_key="torch_dtype", config_value="float16", tensors_dtype="F16")
    (f,) = lint(tmp_path, klass(load=", torch_dtype='auto'"))
    assert '"torch_dtype": "float16"' in f.message and "Half and Float" in f.message


@pytest.mark.parametrize("tensors, warns", [("BF16", True), ("F32", False), ("BF16,F32", False)])
def test_auto_without_config_dtype_uses_the_stored_tensors(tmp_path, tensors, warns):
    checkpoint(tmp_path / "ck", tensors, config_key=None)
    found = lint(tmp_path, klass(load=""))
    assert bool(found) == warns
    if warns:
        assert "the tensors stored as BF16 in ck/model.safetensors decide" in found[0].message


@pytest.mark.parametrize("load", [", torch_dtype=None", ", dtype=None", ", dtype=None, torch_dtype=None"])
def test_none_means_the_default(tmp_path, load):
    checkpoint(tmp_path / "ck")
    (f,) = lint(tmp_path, klass(load=load))
    assert "transformers 5.x loads with dtype='auto'" in f.message


def test_unknown_dtype_value_is_silent(tmp_path):
    checkpoint(tmp_path / "ck")
    script = klass(load=", torch_dtype=pick_dtype()").replace("import torch\n", "import torch\n    from util import pick_dtype\n", 1)
    assert lint(tmp_path, script) == []


def test_config_object(tmp_path):
    checkpoint(tmp_path / "ck")
    script = klass(load=", config=AutoConfig.from_pretrained(name)").replace(
        "from transformers import AutoModel", "from transformers import AutoConfig, AutoModel")
    (f,) = lint(tmp_path, script)
    assert 'ck/config.json says "dtype": "bfloat16"' in f.message
    script = klass(load=", config=BertConfig(hidden_size=32)").replace(
        "from transformers import AutoModel", "from transformers import AutoModel, BertConfig")
    (f,) = lint(tmp_path, script)
    assert "the config= object has no dtype, so the tensors stored as BF16" in f.message


def test_float32_config_is_silent(tmp_path):
    checkpoint(tmp_path / "ck", "F32", config_value="float32")
    assert lint(tmp_path, klass(load="")) == []


def test_v4_pin_keeps_float32_default(tmp_path):
    checkpoint(tmp_path / "ck")
    assert lint(tmp_path, klass(load=""), {"requirements.txt": "transformers==4.46.0\n"}) == []


def test_v4_pin_still_honours_torch_dtype(tmp_path):
    checkpoint(tmp_path / "ck", "F32", config_value="float32")
    (f,) = lint(tmp_path, klass(), {"requirements.txt": "transformers==4.46.0\n"})
    assert "torch_dtype=torch.bfloat16" in f.message


@pytest.mark.parametrize("pin, warns", [("4.46.0", False), ("4.57.1", True)])
def test_dtype_keyword_needs_transformers_4_56(tmp_path, pin, warns):
    checkpoint(tmp_path / "ck", "F32", config_value="float32")
    found = lint(tmp_path, klass(load=", dtype=torch.bfloat16"), {"requirements.txt": f"transformers=={pin}\n"})
    assert bool(found) == warns


def test_kwargs_dict_is_followed(tmp_path):
    checkpoint(tmp_path / "ck", "F32", config_value="float32")
    script = klass(load=", **kw").replace('model = Classifier("ck")',
                                          'model = Classifier("ck", kw={"torch_dtype": torch.bfloat16})')
    script = script.replace("def __init__(self, name):", "def __init__(self, name, kw=None):")
    (f,) = lint(tmp_path, script)
    assert "torch_dtype=torch.bfloat16 via kw['torch_dtype']" in f.message


def test_unknown_kwargs_dict_is_silent(tmp_path):
    checkpoint(tmp_path / "ck")
    script = klass(load=", **kw").replace("def __init__(self, name):", "def __init__(self, name, kw):")
    script = script.replace('model = Classifier("ck")', 'from options import load_options\n    model = Classifier("ck", load_options())')
    assert lint(tmp_path, script) == []


@pytest.mark.parametrize("extra", [", trust_remote_code=True", ", load_in_8bit=True",
                                   ", quantization_config=q"])
def test_remote_code_and_quantized_loads_are_skipped(tmp_path, extra):
    checkpoint(tmp_path / "ck")
    script = klass(load=", torch_dtype=torch.bfloat16" + extra).replace("import torch\n", "import torch\nq = None\n", 1)
    assert lint(tmp_path, script) == []


# -- casts and autocast ---------------------------------------------------------------------------

@pytest.mark.parametrize("head", [
    "nn.Linear(32, 5).to(self.encoder.dtype)",
    "nn.Linear(32, 5, dtype=torch.bfloat16)",
    "nn.Linear(32, 5).to(torch.bfloat16)",
    "nn.Linear(32, 5).bfloat16()",
    "nn.Linear(32, 5, dtype=some_dtype)",
])
def test_head_created_in_the_backbone_dtype(tmp_path, head):
    checkpoint(tmp_path / "ck")
    assert lint(tmp_path, klass(head=head)) == []


@pytest.mark.parametrize("head", ["nn.Linear(32, 5, dtype=torch.float32)", "nn.Linear(32, 5).to('cuda')",
                                  "nn.Linear(32, 5).to(self.device)", "nn.Linear(32, 5).cuda()"])
def test_head_still_float32(tmp_path, head):
    checkpoint(tmp_path / "ck")
    assert len(lint(tmp_path, klass(head=head))) == 1


@pytest.mark.parametrize("body", [
    "self.head.to(self.encoder.dtype)",
    "self.head = self.head.half()",
    "self.to(torch.bfloat16)",
    "self.encoder.float()",
    "self.encoder = self.encoder.to(torch.float32)",
])
def test_later_casts_of_head_backbone_or_whole_module(tmp_path, body):
    checkpoint(tmp_path / "ck")
    assert lint(tmp_path, klass(body=body + "\n        pooled = outputs[0][:, 0]")) == []


@pytest.mark.parametrize("feed", [
    "pooled.float()", "pooled.to(torch.float32)", "pooled.to(self.head.weight.dtype)",
    "pooled.type_as(self.head.weight)", "pooled.to(dtype=torch.float32)",
])
def test_features_cast_before_the_head(tmp_path, feed):
    checkpoint(tmp_path / "ck")
    assert lint(tmp_path, klass(feed=feed)) == []


def test_backbone_cast_at_load(tmp_path):
    checkpoint(tmp_path / "ck")
    assert lint(tmp_path, klass(load=", torch_dtype=torch.bfloat16).float(")) == []
    assert len(lint(tmp_path, klass(load=", torch_dtype=torch.bfloat16).to('cuda'"))) == 1


def test_autocast_around_the_head_call(tmp_path):
    checkpoint(tmp_path / "ck")
    script = klass(feed="pooled").replace(
        "            return self.head(pooled)",
        "            with torch.autocast('cuda', dtype=torch.bfloat16):\n                return self.head(pooled)")
    assert lint(tmp_path, script) == []


def test_autocast_decorator(tmp_path):
    checkpoint(tmp_path / "ck")
    script = klass().replace("        def forward(", "        @torch.autocast('cuda')\n        def forward(")
    assert lint(tmp_path, script) == []


@pytest.mark.parametrize("marker", [
    "args = TrainingArguments('out', bf16=True)",
    "trainer = pl.Trainer(precision='bf16-mixed')",
    "scaler = torch.cuda.amp.GradScaler()",
    "accelerator = Accelerator(mixed_precision='bf16')",
    "model = model.half()",
    "model.to(device, dtype=torch.bfloat16)",
    "mixed_precision: bf16",
])
def test_mixed_precision_elsewhere_in_the_project_silences_class_heads(tmp_path, marker):
    checkpoint(tmp_path / "ck")
    found = lint(tmp_path, klass().replace('model = Classifier("ck")', ""), {
        "train.py": f"""
            from model import Classifier
            model = Classifier("ck")
            {marker}
            """}, name="model.py")
    assert found == []


def test_class_head_without_any_mixed_precision(tmp_path):
    checkpoint(tmp_path / "ck")
    found = lint(tmp_path, klass().replace('model = Classifier("ck")', ""), {
        "train.py": """
            from model import Classifier
            model = Classifier("ck")
            loss = model(batch).sum()
            """}, name="model.py")
    assert [f.location.path.name for f in found] == ["model.py"]


def test_default_dtype_changed(tmp_path):
    checkpoint(tmp_path / "ck")
    script = klass().replace('model = Classifier("ck")', 'torch.set_default_dtype(torch.bfloat16)')
    assert lint(tmp_path, script) == []


# -- the data flow --------------------------------------------------------------------------------

FUNCTION = """
    import torch
    from torch import nn
    from transformers import AutoModel


    def predict(ids):
        model = AutoModel.from_pretrained("ck", torch_dtype=torch.float16)
        head = {head}
        out = model(ids)
        {body}
        return head({feed})
    """


def function(head="nn.Linear(32, 3)", body="x = out.last_hidden_state", feed="x"):
    return FUNCTION.format(head=head, body=body, feed=feed)


def test_function_level(tmp_path):
    checkpoint(tmp_path / "ck")
    (f,) = lint(tmp_path, function())
    assert "`head(x)` feeds the output of `model`" in f.message and "Half and Float" in f.message


def test_function_called_under_autocast(tmp_path):
    checkpoint(tmp_path / "ck")
    script = function() + "\n    with torch.autocast('cuda'):\n        predict(None)\n"
    assert lint(tmp_path, script) == []


def test_module_level_script(tmp_path):
    checkpoint(tmp_path / "ck")
    (f,) = lint(tmp_path, """
        import torch
        import torch.nn as nn
        from transformers import AutoModel
        model = AutoModel.from_pretrained("ck", torch_dtype=torch.bfloat16).to("cuda").eval()
        head = nn.Linear(32, 2).cuda()
        with torch.no_grad():
            out = model(**batch)
            logits = head(out.hidden_states[-1][:, 0])
        """)
    assert f.location.line == 9


@pytest.mark.parametrize("body, feed, warns", [
    ("x = out[0]", "x", True),
    ("x = torch.mean(out.last_hidden_state, dim=1)", "x", True),
    ("x = out.last_hidden_state.mean(1).squeeze()", "x", True),
    ("x = nn.functional.dropout(out[0], 0.1)", "x", True),
    ("x = torch.cat([out[0][:, 0], out[0][:, -1]], dim=-1)", "x", True),
    ("x = out[0] * 2", "x", True),
    ("x = out[0] * mask.float()", "x", False),  # type promotion: float32 result
    ("x = torch.cat([out[0], extra], -1)", "x", False),
    ("x = pool(out[0])", "x", False),  # project code we do not follow
    ("x = out[0]; x = x.float()", "x", False),
    ("x = out.last_hidden_state.shape", "x", False),
    ("x, y = out", "x", False),  # a ModelOutput unpacks to its keys
    ("x = out[0]", "ids", False),
])
def test_what_carries_the_backbone_output(tmp_path, body, feed, warns):
    checkpoint(tmp_path / "ck")
    assert bool(lint(tmp_path, function(body=body.replace("; ", "\n        "), feed=feed))) == warns


def test_tuple_unpacking_with_return_dict_false(tmp_path):
    checkpoint(tmp_path / "ck")
    script = function(body="x, pooled = model(ids, return_dict=False)", feed="pooled")
    assert len(lint(tmp_path, script)) == 1


@pytest.mark.parametrize("head, warns", [
    ("nn.Sequential(nn.Dropout(0.1), nn.Linear(32, 3))", True),
    ("nn.Sequential(nn.LayerNorm(32), nn.GELU(), nn.Linear(32, 3))", True),
    ("nn.Sequential(Pool(), nn.Linear(32, 3))", False),
    ("nn.LSTM(32, 8, batch_first=True)", True),
    ("nn.Conv1d(32, 8, 3)", True),
    ("nn.LayerNorm(32)", False),  # keeps the input dtype
    ("nn.Embedding(99, 32)", False),
    ("MyHead(32)", False),
])
def test_module_kinds(tmp_path, head, warns):
    checkpoint(tmp_path / "ck")
    script = function(head=head).replace("from torch import nn", "from torch import nn\n    from heads import Pool, MyHead")
    assert bool(lint(tmp_path, script)) == warns


def test_imported_linear(tmp_path):
    checkpoint(tmp_path / "ck")
    script = function(head="Dense(32, 3)").replace("from torch import nn", "from torch.nn import Linear as Dense")
    (f,) = lint(tmp_path, script)
    assert "nn.Linear created in float32" in f.message


def test_helper_method_returning_the_output(tmp_path):
    checkpoint(tmp_path / "ck")
    script = klass(body="pooled = self.encode(input_ids)").replace(
        "        def forward(",
        "        def encode(self, ids):\n            return self.encoder(ids).last_hidden_state[:, 0]\n\n"
        "        def forward(")
    assert len(lint(tmp_path, script)) == 1


def test_dropout_module_of_the_class(tmp_path):
    checkpoint(tmp_path / "ck")
    script = klass(feed="self.drop(pooled)").replace(
        "            self.head = nn.Linear(32, 5)",
        "            self.head = nn.Linear(32, 5)\n            self.drop = nn.Dropout(0.1)")
    assert len(lint(tmp_path, script)) == 1


def test_local_then_attribute(tmp_path):
    checkpoint(tmp_path / "ck")
    script = klass().replace(
        "            self.encoder = AutoModel.from_pretrained(name, torch_dtype=torch.bfloat16)",
        "            encoder = AutoModel.from_pretrained(name, torch_dtype=torch.bfloat16)\n"
        "            self.encoder = encoder")
    assert len(lint(tmp_path, script)) == 1


def test_peft_wrapped_backbone_keeps_its_dtype(tmp_path):
    checkpoint(tmp_path / "ck")
    script = klass(body="pooled = outputs[0][:, 0]").replace(
        "            self.head = nn.Linear(32, 5)",
        "            self.encoder = get_peft_model(self.encoder, cfg)\n            self.head = nn.Linear(32, 5)")
    assert len(lint(tmp_path, script)) == 1


def test_backbone_replaced_by_something_else(tmp_path):
    checkpoint(tmp_path / "ck")
    script = klass().replace(
        "            self.head = nn.Linear(32, 5)",
        "            self.head = nn.Linear(32, 5)\n            self.encoder = build(self.encoder)")
    assert lint(tmp_path, script) == []


def test_head_inside_a_pretrained_model_subclass(tmp_path):
    checkpoint(tmp_path / "ck")
    script = klass().replace("class Classifier(nn.Module):", "class Classifier(BertPreTrainedModel):")
    assert lint(tmp_path, script) == []


def test_head_fed_something_else(tmp_path):
    checkpoint(tmp_path / "ck")
    assert lint(tmp_path, klass(feed="input_ids")) == []


def test_reported_once_per_load(tmp_path):
    checkpoint(tmp_path / "ck")
    script = klass().replace('model = Classifier("ck")', 'model = Classifier("ck")\n    model2 = Classifier("ck")')
    assert len(lint(tmp_path, script)) == 1


def test_explain(capsys):
    from ckpt_lint.cli import main

    assert main(["--explain", "CKL401"]) == 0
    out = capsys.readouterr().out
    assert "dtype-mismatch" in out and "How to fix" in out
