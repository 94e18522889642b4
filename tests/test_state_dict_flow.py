"""Plain PyTorch flow around checkpoints: what `load_state_dict` receives and into what model, how the
model was built, and the path/JSON values on the way (no checkpoint is ever loaded)."""

from __future__ import annotations

import json

from test_evaluate import analyze

from ckpt_lint.checkpoints import evidence, is_vision_name, peft_names, unwrap
from ckpt_lint.models.facts import TensorInfo
from ckpt_lint.values import Checkpoint, Instance, StateDictOf, Wrapped


def test_checkpoint_container_filter_and_wrapper_are_followed(tmp_path):
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "small.json").write_text(json.dumps({"width": 8, "layers": "[2, 2]"}))
    project = analyze(tmp_path, {"main.py": """
        import json, torch
        from pathlib import Path
        from torch import nn

        class Net(nn.Module):
            def __init__(self, width, layers, extra=0):
                super().__init__()

        name = "small"
        path = Path(__file__).parent / f"cfg/{name}.json"
        with open(path) as f:
            info = json.load(f)
        if isinstance(info["layers"], str):
            info["layers"] = 4
        info["extra"] = 1
        model = Net(**info).cuda()
        model = torch.nn.parallel.DistributedDataParallel(model)
        ckpt = torch.load("weights.pt", map_location="cpu")
        sd = {k: v for k, v in ckpt["state_dict"].items() if "pooler" not in k}
        sd["module.pos"] = 0
        model.load_state_dict(sd, strict=False)
        """})
    (load,) = project.state_dict_loads
    assert load.certain and load.strict.v is False
    inner, wrappers = unwrap(load.target)
    assert [w.how for w in wrappers] == ["DistributedDataParallel"]
    assert isinstance(inner.v, Instance) and inner.v.cls.name == "Net"
    built = inner.v.built
    assert built.call_text == "Net(**info)"
    assert {k: v.v for k, v in built.kwargs.items()} == {"width": 8, "layers": 4, "extra": 1}
    assert built.kwargs["width"].origins[0].line == 1 and built.sources == ("cfg/small.json",)
    ck = load.source.v
    assert isinstance(ck, Checkpoint) and ck.ref.v == "weights.pt" and ck.keys == ("state_dict",)
    assert ck.filtered and not ck.rekeyed and ck.patched == ("module.pos",)


def test_renamed_keys_and_saved_state_dicts(tmp_path):
    project = analyze(tmp_path, {"main.py": """
        import torch
        from transformers import AutoModel
        from peft import get_peft_model, LoraConfig

        model = AutoModel.from_pretrained("base")
        peft_model = get_peft_model(model, LoraConfig(r=4))
        torch.save(peft_model.state_dict(), "out/sd.pt")
        state = torch.load("out/sd.pt")
        model.load_state_dict({k[7:]: v for k, v in state.items()})
        if unknown_flag:
            model.load_state_dict(torch.load("other.pt"))
        """})
    first, second = project.state_dict_loads
    assert first.source.v.rekeyed and first.certain
    assert not second.certain
    (save,) = project.state_dict_saves
    assert save.path.v == "out/sd.pt" and isinstance(save.obj.v, StateDictOf)
    assert save.obj.v.model.v.role == "peft"


def test_path_values(tmp_path):
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "a.yaml").write_text("x: 1\n")
    project = analyze(tmp_path, {"main.py": """
        import os
        from pathlib import Path
        import yaml

        root = Path(__file__).resolve().parent
        p = root / "conf" / "a.yaml"
        assert p.exists()
        cfg = yaml.safe_load(open(p)) if os.path.isfile(p) else None
        text = p.read_text()
        name, stem, parent = p.name, p.stem, str(p.parent)
        num_labels = 2  # (code the pre-filter keeps; a word in a comment does not count)
        """})
    scope = project.module_scopes(_PlainRun())[tmp_path / "main.py"]
    assert scope.vars["name"].v == "a.yaml" and scope.vars["stem"].v == "a"
    assert scope.vars["parent"].v == str(tmp_path / "conf")
    assert scope.vars["cfg"].v.node.get("x").value == 1  # os.path.isfile(p) is True: the file is in the project
    assert scope.vars["text"].v == "x: 1\n"


class _PlainRun:
    shell = None


def test_evidence_dominant_width_and_blocks(tmp_path):
    f = tmp_path / "x.pt"
    t = {n: TensorInfo(n, "F32", s, f) for n, s in {
        "visual.conv1.weight": (48, 3, 14, 14),
        "visual.transformer.resblocks.0.attn.in_proj_weight": (144, 48),
        "visual.transformer.resblocks.0.attn.out_proj.weight": (48, 48),
        "visual.transformer.resblocks.1.attn.in_proj_weight": (144, 48),
        "visual.transformer.resblocks.2.ln_1.weight": (48,),
        "visual.proj": (48, 32),
        "bert.embeddings.word_embeddings.weight": (99, 32),
    }.items()}
    vision = [n for n in t if is_vision_name(n)]
    ev = evidence(t, vision)
    assert ev.dominant == 48 and ev.share == 1.0 and ev.share_of(32) == 1 / 6
    assert ev.stacks == {"visual.transformer.resblocks": 3}
    assert ev.example == "visual.transformer.resblocks.0.attn.in_proj_weight"
    assert not is_vision_name("bert.embeddings.word_embeddings.weight")
    assert is_vision_name("module.vision_model.encoder.layers.0.mlp.fc1.weight".removeprefix("module."))


def test_peft_names():
    names = ["base_model.model.encoder.layer.0.attention.self.query.base_layer.weight",
             "module.base_model.model.x.lora_A.default.weight", "encoder.layer.0.output.dense.weight",
             "lm_head.modules_to_save.default.weight"]
    assert peft_names(names) == [names[0], names[1], names[3]]


def test_wrapped_unwrap_depth():
    from ckpt_lint.values import known

    inner = known("model")
    w = known(Wrapped(known(Wrapped(inner, "DataParallel", None)), "DistributedDataParallel", None))
    got, wrappers = unwrap(w)
    assert got is inner and [x.how for x in wrappers] == ["DistributedDataParallel", "DataParallel"]


def _lint_json(path, monkeypatch, capsys) -> list[dict]:
    from ckpt_lint.cli import main

    monkeypatch.chdir(path)
    capsys.readouterr()
    main([".", "--output-format", "json", "--isolated", "--offline"])
    return json.loads(capsys.readouterr().out)


def test_open_clip_style_nested_tower_configs(tmp_path, monkeypatch, capsys):
    """CLIP(**cfg) with vision_cfg/text_cfg dicts: each tower is compared with its own tensors, and the
    configs beside the chosen one that fit are named."""
    torch = __import__("pytest").importorskip("torch")
    (tmp_path / "cfg").mkdir()
    tower = {"context_length": 8, "vocab_size": 99, "width": 32, "heads": 2, "layers": 2}
    for name, width, layers in (("ViT-B-16", 32, 2), ("ViT-L-14", 48, 3)):
        (tmp_path / "cfg" / f"{name}.json").write_text(json.dumps(
            {"embed_dim": 24, "vision_cfg": {"image_size": 32, "layers": layers, "width": width}, "text_cfg": tower}))
    (tmp_path / "model.py").write_text("from torch import nn\n\nclass CLIP(nn.Module):\n"
                                       "    def __init__(self, embed_dim, vision_cfg, text_cfg):\n        super().__init__()\n")
    (tmp_path / "train.py").write_text(
        "import json\nimport torch\nfrom model import CLIP\n\nwith open('cfg/ViT-B-16.json') as f:\n"
        "    model_cfg = json.load(f)\nmodel = CLIP(**model_cfg)\nmodel.load_state_dict(torch.load('ViT-L-14.pt'))\n")
    sd = {}
    for i in range(3):
        sd[f"visual.transformer.resblocks.{i}.attn.in_proj_weight"] = torch.zeros(144, 48)
        sd[f"visual.transformer.resblocks.{i}.ln_1.weight"] = torch.zeros(48)
    sd["visual.proj"] = torch.zeros(48, 24)
    for i in range(2):  # the text tower fits: width 32, 2 layers
        sd[f"transformer.resblocks.{i}.attn.in_proj_weight"] = torch.zeros(96, 32)
        sd[f"transformer.resblocks.{i}.ln_1.weight"] = torch.zeros(32)
    torch.save(sd, tmp_path / "ViT-L-14.pt")
    (finding,) = _lint_json(tmp_path, monkeypatch, capsys)
    assert finding["code"] == "CKL501" and finding["severity"] == "error"
    assert (finding["path"], finding["line"], finding["column"]) == ("train.py", 8, 1)
    assert "vision_cfg.width=32 but the checkpoint is 48 wide there" in finding["message"]
    assert "vision_cfg.layers=2 but the checkpoint has 3 blocks in `visual.transformer.resblocks`" in finding["message"]
    assert "text_cfg" not in finding["message"]
    assert "(ViT-L-14.json matches it)" in finding["fix"]["message"]
    assert {"path": "cfg/ViT-B-16.json", "line": 1, "note": "vision_cfg.width = 32"}.items() <= finding["related"][0].items()
