"""CKL502 model-type-mismatch: the class table, what the rule skips, and what transformers 5.23 does.

The fixture cases (tests/fixtures/CKL502/) pin the messages; here:
- the bundled table lint/data/model_types.json gives the right model_type for known classes;
- the rule's skips (undecidable branches, except handlers, other libraries, config objects,
  remote code, a project `config_class`) are what keeps those loads quiet;
- `runtime` tests (real transformers, skipped when it is missing): the table is the one
  tests/build_model_types.py builds from the installed transformers, the rule's "warns" predicate
  agrees with transformers' own model-type warning over many class/checkpoint pairs, and the
  measured outcome of `RobertaTokenizer.from_pretrained(<bert folder with only vocab.txt>)`.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import shutil
import warnings
from pathlib import Path

import pytest

from ckpt_lint.hf import (
    auto_class,
    canonical_tokenizer,
    class_config_type,
    matching_class,
    model_type_of_class,
    tokenizer_files,
    tokenizer_model_types,
    tokenizer_of_type,
    warned_model_type,
)
from ckpt_lint.sources.json_reader import load_json

FIXTURES = Path(__file__).parent / "fixtures" / "CKL502"
BERT_CONFIG = FIXTURES / "skipped_ok" / "models" / "bert-tiny" / "config.json"
ROBERTA_CONFIG = FIXTURES / "project_subclass" / "models" / "roberta-tiny" / "config.json"
HAS_TRANSFORMERS = importlib.util.find_spec("transformers") is not None


# -- the class table ---------------------------------------------------------------------------

@pytest.mark.parametrize("name, expected", [
    ("RobertaForMaskedLM", ("roberta", "")),
    ("RobertaModel", ("roberta", "")),
    ("XLMRobertaModel", ("xlm-roberta", "")),
    ("DistilBertModel", ("distilbert", "")),
    ("GPT2LMHeadModel", ("gpt2", "")),
    ("BertPreTrainedModel", ("bert", "")),
    ("BertConfig", ("bert", "")),
    ("DebertaV2ForSequenceClassification", ("deberta-v2", "")),
    ("LlamaForCausalLM", ("llama", "")),
    ("CLIPTextModel", ("clip_text_model", "text_config")),
    ("CLIPVisionModelWithProjection", ("clip_vision_model", "vision_config")),
])
def test_class_model_types(name, expected):
    assert class_config_type(name) == expected


@pytest.mark.parametrize("name", ["AutoModel", "AutoModelForMaskedLM", "AutoTokenizer", "PeftModel",
                                  "MyEncoder", "BertForFooBar", "RobertaTokenizer", "PreTrainedModel"])
def test_unknown_classes(name):
    assert class_config_type(name) is None


def test_model_type_of_class_keeps_its_contract():
    assert model_type_of_class("RobertaForSequenceClassification") == "roberta"
    assert model_type_of_class("XLMRobertaForTokenClassification") == "xlm-roberta"
    assert model_type_of_class("OPTForSequenceClassification") == "opt"
    assert model_type_of_class("NezhaForTokenClassification") == "nezha"  # v4-only family
    assert model_type_of_class("RobertaModel") is None  # no "For": not a task class
    assert model_type_of_class("AutoModelForTokenClassification") is None


def test_fix_hints():
    assert matching_class("RobertaForMaskedLM", "bert") == "BertForMaskedLM"
    assert matching_class("RobertaModel", "bert") == "BertModel"
    assert matching_class("BertPreTrainedModel", "roberta") == "RobertaPreTrainedModel"
    assert auto_class("RobertaForMaskedLM") == "AutoModelForMaskedLM"
    assert auto_class("RobertaModel") == "AutoModel"
    assert auto_class("GPT2LMHeadModel") == "AutoModelForCausalLM"


def test_tokenizer_table():
    assert canonical_tokenizer("RobertaTokenizerFast") == "RobertaTokenizer"
    assert canonical_tokenizer("BartTokenizer") == "RobertaTokenizer"
    assert canonical_tokenizer("BertTokenizerFast") == "BertTokenizer"
    assert "roberta" in tokenizer_model_types("RobertaTokenizerFast")
    assert "bert" not in tokenizer_model_types("RobertaTokenizer")
    assert {"bert", "distilbert", "electra"} <= set(tokenizer_model_types("BertTokenizer"))
    assert tokenizer_of_type("bert") == "BertTokenizer"
    assert tokenizer_of_type("xlm-roberta") == "XLMRobertaTokenizer"
    assert tokenizer_of_type("mistral") is None  # generic backend: the files decide
    assert tokenizer_files("RobertaTokenizer") == ["vocab.json", "merges.txt"]
    assert tokenizer_model_types("PreTrainedTokenizerFast") is None


def _config(tmp_path: Path, data: dict):
    path = tmp_path / "config.json"
    text = json.dumps(data, indent=2)
    path.write_text(text)
    return load_json(path, text)


def test_warned_model_type(tmp_path):
    bert = _config(tmp_path, {"model_type": "bert", "hidden_size": 32})
    assert warned_model_type(bert, "bert") is None
    assert warned_model_type(bert, "roberta").value == "bert"
    clip = _config(tmp_path, {"model_type": "clip", "text_config": {"model_type": "clip_text_model"},
                              "vision_config": {"model_type": "clip_vision_model"}})
    assert warned_model_type(clip, "clip_text_model", "text_config") is None
    assert warned_model_type(clip, "clip_vision_model", "vision_config") is None
    assert warned_model_type(clip, "bert").value == "clip"
    llava = _config(tmp_path, {"model_type": "llava", "text_config": {"model_type": "llama"}})
    assert warned_model_type(llava, "llama") is None  # a sub-config of the class's own type
    assert warned_model_type(_config(tmp_path, {"hidden_size": 32}), "roberta") is None


# -- what the rule reports and skips -----------------------------------------------------------

def _lint(tmp_path: Path, monkeypatch, capsys, code: str, *, config: Path = BERT_CONFIG) -> list[dict]:
    from ckpt_lint.cli import main

    (tmp_path / "models" / "ckpt").mkdir(parents=True, exist_ok=True)
    shutil.copy(config, tmp_path / "models" / "ckpt" / "config.json")
    (tmp_path / "load.py").write_text(code)
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    main([".", "--output-format", "json", "--isolated", "--select", "CKL502"])
    return json.loads(capsys.readouterr().out)


def test_plain_load_reported(tmp_path, monkeypatch, capsys):
    found = _lint(tmp_path, monkeypatch, capsys,
                  'from transformers import RobertaModel\nRobertaModel.from_pretrained("models/ckpt")\n')
    assert [f["code"] for f in found] == ["CKL502"]
    assert found[0]["severity"] == "warning"
    assert "`bert`" in found[0]["message"] and "`roberta`" in found[0]["message"]


def test_undecided_dispatch_is_skipped(tmp_path, monkeypatch, capsys):
    code = ('import os\nfrom transformers import BertModel, RobertaModel\n'
            'if os.environ.get("ARCH") == "roberta":\n    m = RobertaModel.from_pretrained("models/ckpt")\n'
            'else:\n    m = BertModel.from_pretrained("models/ckpt")\n')
    assert _lint(tmp_path, monkeypatch, capsys, code) == []
    decided = code.replace('os.environ.get("ARCH")', '"roberta"')
    assert len(_lint(tmp_path, monkeypatch, capsys, decided)) == 1


def test_lone_branch_on_unknown_test_is_skipped(tmp_path, monkeypatch, capsys):
    """LoadEvent.certain: a load under `if <unknown>:` may not run, so it is not reported."""
    code = ('import os\nfrom transformers import RobertaModel\n'
            'if os.environ.get("ARCH") == "roberta":\n    m = RobertaModel.from_pretrained("models/ckpt")\n')
    assert _lint(tmp_path, monkeypatch, capsys, code) == []
    assert len(_lint(tmp_path, monkeypatch, capsys, code.replace('os.environ.get("ARCH")', '"roberta"'))) == 1


def test_except_handler_is_skipped(tmp_path, monkeypatch, capsys):
    code = ('from transformers import BertModel, RobertaModel\ntry:\n    m = BertModel.from_pretrained("models/ckpt")\n'
            'except OSError:\n    m = RobertaModel.from_pretrained("models/ckpt")\n')
    assert _lint(tmp_path, monkeypatch, capsys, code) == []
    assert len(_lint(tmp_path, monkeypatch, capsys, code.replace("BertModel.from", "RobertaModel.from"))) == 1


def test_other_library_is_skipped(tmp_path, monkeypatch, capsys):
    code = 'from fairseq.models.roberta import RobertaModel\nRobertaModel.from_pretrained("models/ckpt")\n'
    assert _lint(tmp_path, monkeypatch, capsys, code) == []
    code = 'import transformers\ntransformers.RobertaModel.from_pretrained("models/ckpt")\n'
    assert len(_lint(tmp_path, monkeypatch, capsys, code)) == 1


def test_config_argument(tmp_path, monkeypatch, capsys):
    head = 'from transformers import BertConfig, RobertaModel\n'
    given = head + 'RobertaModel.from_pretrained("models/ckpt", config=BertConfig.from_pretrained("models/ckpt"))\n'
    assert _lint(tmp_path, monkeypatch, capsys, given) == []  # a config object: model_type is not compared
    path = head + 'RobertaModel.from_pretrained("x", config="models/ckpt")\n'
    assert len(_lint(tmp_path, monkeypatch, capsys, path)) == 1  # config.json read from that path


def test_remote_code_is_skipped(tmp_path, monkeypatch, capsys):
    code = ('from transformers import RobertaModel\n'
            'RobertaModel.from_pretrained("models/ckpt", trust_remote_code=True)\n')
    assert _lint(tmp_path, monkeypatch, capsys, code) == []
    remote = tmp_path / "remote.json"
    remote.write_text(json.dumps({**json.loads(BERT_CONFIG.read_text()), "auto_map": {"AutoModel": "m.M"}}))
    code = 'from transformers import RobertaModel\nRobertaModel.from_pretrained("models/ckpt")\n'
    assert _lint(tmp_path, monkeypatch, capsys, code, config=remote) == []


def test_project_config_class(tmp_path, monkeypatch, capsys):
    code = ('from transformers import BertPreTrainedModel, RobertaConfig\n'
            'class Encoder(BertPreTrainedModel):\n    config_class = RobertaConfig\n'
            'Encoder.from_pretrained("models/ckpt")\n')
    assert _lint(tmp_path, monkeypatch, capsys, code, config=ROBERTA_CONFIG) == []
    found = _lint(tmp_path, monkeypatch, capsys, code, config=BERT_CONFIG)
    assert len(found) == 1 and "config_class RobertaConfig" in found[0]["message"]


def test_auto_and_peft_are_skipped(tmp_path, monkeypatch, capsys):
    code = ('from transformers import AutoModel, AutoTokenizer\n'
            'AutoModel.from_pretrained("models/ckpt")\nAutoTokenizer.from_pretrained("models/ckpt")\n')
    assert _lint(tmp_path, monkeypatch, capsys, code) == []


# -- the real library --------------------------------------------------------------------------

needs_transformers = pytest.mark.skipif(not HAS_TRANSFORMERS, reason="transformers is not installed")


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def _capture():
    handler = _Records()
    logging.getLogger("transformers").addHandler(handler)
    return handler


def _release(handler):
    logging.getLogger("transformers").removeHandler(handler)


@pytest.mark.runtime
@needs_transformers
def test_runtime_table_is_current():
    """lint/data/model_types.json is what tests/build_model_types.py builds from this transformers."""
    import transformers

    from build_model_types import OUT, build, render

    stored = json.loads(OUT.read_text())
    if transformers.__version__ != stored["transformers"]:
        pytest.skip(f"table built from transformers {stored['transformers']}, {transformers.__version__} installed")
    assert render(build()) == OUT.read_text(), "run python tests/build_model_types.py"


# Checkpoint configs (config.json only: the model-type check happens before any weight is read).
_CHECKPOINTS = ["BertConfig", "RobertaConfig", "DistilBertConfig", "CLIPConfig", "CLIPTextConfig", "LlavaConfig",
                "T5Config", "GPT2Config", "LlamaConfig", "Blip2Config", "SiglipConfig"]
_CLASSES = ["BertModel", "BertForMaskedLM", "RobertaModel", "RobertaForMaskedLM", "DistilBertModel", "CLIPModel",
            "CLIPTextModel", "CLIPTextModelWithProjection", "CLIPVisionModel", "LlamaForCausalLM", "LlamaModel",
            "LlavaForConditionalGeneration", "T5EncoderModel", "T5ForConditionalGeneration", "GPT2LMHeadModel",
            "Blip2VisionModel", "Blip2QFormerModel", "SiglipTextModel", "SiglipVisionModel", "BertConfig",
            "CLIPTextConfig", "CLIPVisionConfig", "LlamaConfig", "RobertaPreTrainedModel"]


@pytest.mark.runtime
@needs_transformers
def test_runtime_predicate_matches_transformers(tmp_path):
    """For every class/checkpoint pair, the rule fires exactly when transformers logs the model-type warning."""
    import transformers

    table = json.loads((Path(__file__).parent.parent / "lint" / "data" / "model_types.json").read_text())
    sample = sorted(n for n in dir(transformers) if class_config_type(n) is not None)[::97]
    classes = list(dict.fromkeys([*_CLASSES, *sample]))
    if transformers.__version__ != table["transformers"]:
        pytest.skip(f"table built from transformers {table['transformers']}")
    transformers.utils.logging.set_verbosity_warning()
    disagree = []
    for ckpt_name in _CHECKPOINTS:
        folder = tmp_path / ckpt_name
        getattr(transformers, ckpt_name)().save_pretrained(folder)
        text = (folder / "config.json").read_text()
        node = load_json(folder / "config.json", text)
        for name in classes:
            cls = getattr(transformers, name)
            config_class = cls if issubclass(cls, transformers.PreTrainedConfig) else cls.config_class
            handler = _capture()
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    config_class.from_pretrained(folder)
            except Exception:  # the warning is logged before the dict is used
                pass
            finally:
                _release(handler)
            warned = any("You are using a model of type" in m for m in handler.messages)
            predicted = warned_model_type(node, *class_config_type(name)) is not None
            if warned != predicted:
                disagree.append(f"{name} on {ckpt_name}: transformers warns={warned}, CKL502 fires={predicted}")
    assert not disagree, "\n".join(disagree)


@pytest.mark.runtime
@needs_transformers
def test_runtime_roberta_tokenizer_on_bert_folder():
    """Measured (transformers 5.23): RobertaTokenizer on a BERT folder with only config.json + vocab.txt
    raises nothing and logs nothing, and every text encodes to just <s> </s>; BertTokenizer reads it."""
    import transformers

    folder = FIXTURES / "tokenizer_on_bert" / "models" / "bert-tiny"
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "vocab.txt"]
    transformers.utils.logging.set_verbosity_warning()
    handler = _capture()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            tokenizer = transformers.RobertaTokenizer.from_pretrained(folder)
    finally:
        _release(handler)
    assert [m for m in handler.messages if "tokenizer" in m.lower()] == []
    assert [str(w.message) for w in caught if "tokeniz" in str(w.message).lower()] == []
    assert tokenizer.tokenize("w001 w002 w003") == []
    ids = tokenizer("w001 w002 w003")["input_ids"]
    assert tokenizer.convert_ids_to_tokens(ids) == ["<s>", "</s>"]
    bert = transformers.BertTokenizer.from_pretrained(folder)
    assert bert.tokenize("w001 w002 w003") == ["w001", "w002", "w003"]
