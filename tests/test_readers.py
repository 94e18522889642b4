"""Readers: text decoding, YAML, JSON and shell launch scripts, with exact positions."""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ckpt_lint.sources.json_reader import load_json
from ckpt_lint.sources.shell import parse_flags, read_shell
from ckpt_lint.sources.yaml_reader import load_yaml, yaml_comments
from ckpt_lint.textio import ReadError, read_text

DATA = Path(__file__).parent / "data" / "readers"
TRAIN_YAML = DATA / "deepke" / "conf" / "train.yaml"


def span(loc):
    return (loc.line, loc.column, loc.end_line, loc.end_column)


# -- textio ---------------------------------------------------------------------------------------
def test_utf8_bom_is_stripped_and_crlf_kept(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_bytes(b"\xef\xbb\xbfa: 1\r\nb: 2\r\n")
    assert read_text(path) == "a: 1\r\nb: 2\r\n"


def test_size_cap(tmp_path):
    path = tmp_path / "big.json"
    path.write_bytes(b" " * 3_000_001)
    with pytest.raises(ReadError, match=r"file is 3.0 MB, over the 2 MB cap; skipped"):
        read_text(path, max_bytes=2_000_000)


def test_binary_file(tmp_path):
    path = tmp_path / "weights.bin"
    path.write_bytes(b"PK\x03\x04\x00\x00" + b"x" * 100)
    with pytest.raises(ReadError, match="binary file, not text"):
        read_text(path)


@pytest.mark.parametrize("encoding", ["gbk", "big5"])
def test_pep263_coding_line(tmp_path, encoding):
    source = f"#!/usr/bin/env python\n# -*- coding: {encoding} -*-\nlabel = '中文標籤'\n"
    path = tmp_path / "legacy.py"
    path.write_bytes(source.encode(encoding))
    assert read_text(path, python=True) == source
    with pytest.raises(ReadError) as info:  # not a Python file: UTF-8 only
        read_text(path)
    assert (info.value.line, info.value.column) == (3, 10)


def test_invalid_utf8_position(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_bytes("a: 1\nname: 中".encode() + b"\xff\n")
    with pytest.raises(ReadError, match="not valid utf-8") as info:
        read_text(path)
    assert (info.value.line, info.value.column) == (2, 8)


def test_unknown_coding_line(tmp_path):
    path = tmp_path / "x.py"
    path.write_bytes(b"# coding: klingon\nx = 1\n")
    with pytest.raises(ReadError, match="unknown encoding") as info:
        read_text(path, python=True)
    assert info.value.line == 1


def test_utf16_with_bom(tmp_path):
    path = tmp_path / "win.yaml"
    path.write_bytes("labels: [a, b]\n".encode("utf-16"))
    assert read_text(path) == "labels: [a, b]\n"


def test_missing_directory_and_fifo(tmp_path):
    with pytest.raises(ReadError, match="cannot read file: no such file"):
        read_text(tmp_path / "nope.yaml")
    with pytest.raises(ReadError, match="not a regular file \\(a directory\\)"):
        read_text(tmp_path)
    if hasattr(os, "mkfifo"):
        fifo = tmp_path / "pipe.yaml"
        os.mkfifo(fifo)
        start = time.monotonic()
        with pytest.raises(ReadError, match="a FIFO"):
            read_text(fifo)
        assert time.monotonic() - start < 1


# -- YAML -----------------------------------------------------------------------------------------
def test_deepke_labels_positions():
    root = load_yaml(TRAIN_YAML)
    labels = root.get("labels")
    assert labels.plain() == ["LOC", "ORG", "PER"]
    assert labels.loc.path == TRAIN_YAML.absolute()
    assert span(labels.key_loc) == (23, 1, 23, 7)
    assert span(labels.loc) == (23, 9, 23, 28)
    assert [span(item.loc) for item in labels.value] == [(23, 10, 23, 15), (23, 16, 23, 21), (23, 22, 23, 27)]
    assert span(root.get("lr_step").key_loc) == (19, 1, 19, 8)  # `lr_step : 5`
    assert root.anchor == root.loc and labels.anchor == labels.key_loc


def test_yaml_1_1_scalars():
    root = load_yaml(TRAIN_YAML)
    assert root.get("adam_epsilon").value == "1e-8"  # YAML 1.1: no dot, not a float
    assert root.get("do_eval").value is True
    assert root.get("warmup_proportion").value == 0.1
    assert root.get("seed").value == 42
    text = "a: yes\nb: ~\nc: 0x1F\nd: .inf\ne: 2001-12-14\nf: '12'\n1: x\ntrue: y\nnull: z\n"
    node = load_yaml(Path("t.yaml"), text)
    assert node.plain() == {"a": True, "b": None, "c": 31, "d": math.inf, "e": "2001-12-14", "f": "12",
                            "1": "x", "true": "y", "null": "z"}
    assert node.get(1).value == "x"


@pytest.mark.parametrize("name", ["llamafactory_qwen3_lora_sft.yaml", "autotrain_qwen.yml",
                                  "deepke/conf/train.yaml", "deepke/conf/config.yaml"])
def test_yaml_agrees_with_safe_load(name):
    path = DATA / name
    assert load_yaml(path).plain() == yaml.safe_load(path.read_text(encoding="utf-8"))


def test_llamafactory_positions():
    root = load_yaml(DATA / "llamafactory_qwen3_lora_sft.yaml")
    assert root.get("lora_rank").value == 8
    assert span(root.get("lora_rank").key_loc) == (9, 1, 9, 10)
    assert span(root.get("model_name_or_path").loc) == (2, 21, 2, 48)
    assert root.get("learning_rate").value == 1.0e-4


def test_nested_positions_and_crlf():
    root = load_yaml(Path("t.yaml"), "params:\r\n  peft: true\r\n  lr: 1e-5\r\n")
    assert span(root.path("params", "peft").key_loc) == (2, 3, 2, 7)
    assert span(root.path("params", "lr").loc) == (3, 7, 3, 11)


@pytest.mark.parametrize("text, line, column", [
    ("a: [1, 2\nb: 3\n", 2, 2),
    ("a:\n  - b\n c: d\n", 3, 2),
    ("labels: 'LOC\n", 2, 1),
    ("a: 1\nb: \x07\n", 2, 4),
    ("a: 1\n中文: \x07\n", 2, 5),
])
def test_yaml_error_positions(text, line, column):
    with pytest.raises(ReadError, match="invalid YAML") as info:
        load_yaml(Path("bad.yaml"), text)
    assert (info.value.line, info.value.column) == (line, column)


def test_billion_laughs_is_capped_fast():
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        prev, cur = chr(96 + i), chr(97 + i)
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    start = time.monotonic()
    with pytest.raises(ReadError, match="more than 200000 values"):
        load_yaml(Path("lol.yaml"), "\n".join(lines))
    assert time.monotonic() - start < 1


@pytest.mark.parametrize("text", ["[" * 100_000, "- " * 100_000 + "x", "{a: " * 50_000])
def test_deep_nesting_is_capped_fast(text):
    start = time.monotonic()
    with pytest.raises(ReadError, match="nested deeper than 200"):
        load_yaml(Path("deep.yaml"), text)
    assert time.monotonic() - start < 1


def test_aliases_within_cap_share_values():
    node = load_yaml(Path("t.yaml"), "base: &b {x: 1}\nuse: *b\n")
    assert node.plain() == {"base": {"x": 1}, "use": {"x": 1}}
    assert span(node.get("use").key_loc) == (2, 1, 2, 4)
    assert node.get("base").key_loc.line == 1


def test_unknown_tags_are_inert(tmp_path):
    marker = tmp_path / "pwned"
    text = (f'run: !!python/object/apply:os.system ["touch {marker}"]\n'
            "fn: !!python/name:os.system\n"
            "n: !custom 12\n"
            "o: !!python/object:collections.OrderedDict {a: 1}\n")
    node = load_yaml(tmp_path / "evil.yaml", text)
    assert not marker.exists()
    assert node.get("run").plain() == [f"touch {marker}"]
    assert node.get("run").meta["yaml_tag"] == "tag:yaml.org,2002:python/object/apply:os.system"
    assert node.get("fn").value is None
    assert node.get("n").value == 12
    assert node.get("o").plain() == {"a": 1}


def test_merge_keys():
    text = "base: &b\n  x: 1\n  y: 2\nchild:\n  <<: *b\n  y: 3\nmulti:\n  <<: [*b, {z: 9, x: 7}]\n"
    node = load_yaml(Path("t.yaml"), text)
    assert node.get("child").plain() == {"x": 1, "y": 3}
    assert node.get("multi").plain() == {"x": 1, "y": 2, "z": 9}
    assert node.path("child", "x").key_loc.line == 2  # where the merged value was written
    assert node.plain() == yaml.safe_load(text)


def test_documents_and_duplicates():
    assert load_yaml(Path("e.yaml"), "") is None
    assert load_yaml(Path("e.yaml"), "# only a comment\n") is None
    assert load_yaml(Path("e.yaml"), "---\n...\n") is None
    assert load_yaml(Path("m.yaml"), "a: 1\n---\nb: [\n").plain() == {"a": 1}  # first document only
    assert load_yaml(Path("d.yaml"), "a: 1\na: 2\n").plain() == {"a": 2}
    assert load_yaml(Path("s.yaml"), "- 1\n- x\n").plain() == [1, "x"]


def test_yaml_comments():
    text = (
        "# @package _global_\n"
        "labels: ['a # b', \"c #d\"]  # ckpt-lint: ignore[CKL101]\n"
        "url: http://x/#frag\n"
        "doc: |  # header comment\n"
        "  # not a comment\n"
        "  text\n"
        "multi: 'line one\n"
        "  # still the string'\n"
        "  # indented comment\n"
    )
    assert yaml_comments(text) == {
        1: "@package _global_",
        2: "ckpt-lint: ignore[CKL101]",
        4: "header comment",
        9: "indented comment",
    }


def test_yaml_comments_on_broken_yaml():
    text = "a: 1  # one\nb: [1, 2\nc: 'x # y'  # two\n"
    assert yaml_comments(text) == {1: "one", 3: "two"}


# -- JSON -----------------------------------------------------------------------------------------
def test_json_positions():
    path = DATA / "bert-base-chinese-config.json"
    root = load_json(path)
    assert root.plain() == json.loads(path.read_text())
    vocab = root.get("vocab_size")
    assert vocab.value == 21128
    assert span(vocab.key_loc) == (24, 3, 24, 15)
    assert span(vocab.loc) == (24, 17, 24, 22)
    arch = root.get("architectures")
    assert span(arch.loc) == (2, 20, 4, 4)
    assert span(arch.value[0].loc) == (3, 5, 3, 22)
    assert span(root.loc) == (1, 1, 26, 2)
    assert root.loc.path == path.absolute()


def test_json_chinese_clip_config():
    root = load_json(DATA / "ViT-L-14-336.json")
    assert root.get("vision_width").value == 1024
    assert span(root.get("vision_width").key_loc) == (5, 5, 5, 19)


@pytest.mark.parametrize("text", [
    "", "  ", "[1,]", '{"a":1,}', '{"a" 1}', "[1 2]", '{"a":1}x', "[01]", '"abc', '{"a":\n  [1,\n   tru]}',
    '{"a": "x\ny"}', '["\\q"]', "{'a': 1}", "[1, 2", "-", "1.", '{"a": [}', "\ufeff[]",
])
def test_json_errors_match_json_loads(text):
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(text)
    with pytest.raises(ReadError, match="invalid JSON") as info:
        load_json(Path("bad.json"), text)
    assert (info.value.line, info.value.column) == (expected.value.lineno, expected.value.colno)


def test_json_specials_and_duplicates():
    node = load_json(Path("x.json"), '{"a": NaN, "b": -Infinity, "c": 1e400, "a": 2, "d": "\\ud83d\\ude00"}')
    assert list(node.value) == ["a", "b", "c", "d"]
    assert node.get("a").value == 2 and node.get("b").value == -math.inf and node.get("c").value == math.inf
    assert node.get("d").value == "\U0001F600"
    assert math.isnan(load_json(Path("x.json"), "NaN").value)


def test_json_depth_cap():
    assert load_json(Path("x.json"), "[" * 499 + "]" * 499).is_seq
    with pytest.raises(ReadError, match="nested deeper than 500"):
        load_json(Path("x.json"), "[" * 501 + "]" * 501)
    with pytest.raises(ReadError):
        load_json(Path("x.json"), "[" * 1_000_000)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(json_values, st.sampled_from([None, 0, 2, "\t"]), st.booleans())
def test_json_round_trip(value, indent, ensure_ascii):
    text = json.dumps(value, indent=indent, ensure_ascii=ensure_ascii)
    assert load_json(Path("h.json"), text).plain() == json.loads(text)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet='[]{}:,"\\ \n0123456789.-+eEtrufalsnNI' + "aIy", max_size=30))
def test_json_accepts_what_json_loads_accepts(text):
    try:
        expected = json.loads(text)
    except ValueError:
        with pytest.raises(ReadError):
            load_json(Path("f.json"), text)
        return
    got = load_json(Path("f.json"), text).plain()
    assert json.dumps(got) == json.dumps(expected)  # NaN-safe equality


# -- shell ----------------------------------------------------------------------------------------
CLIP_SCRIPT = (DATA / "muge_finetune_vit-b-16_rbt-base.sh").read_text(encoding="utf-8")


def shell(text: str, name: str = "run.sh"):
    return read_shell(Path(name), text)


def test_chinese_clip_script():
    facts = shell(CLIP_SCRIPT)
    [inv] = facts.invocations
    assert (inv.program, inv.script, inv.module) == ("python3", "cn_clip/training/main.py", None)
    assert span(inv.loc) == (23, 1, 30, 37)
    assert span(inv.script_arg.loc) == (24, 69, 24, 93)
    flags = parse_flags(inv.args)
    values = {k: [v for v, _ in vs] for k, vs in flags.items()}
    assert values == {
        "--resume": [None],
        "--reset-optimizer": [None],
        "--clip-weight-path": ["pretrained/clip_cn_vit-b-16.pt"],
        "--name": ["muge_finetune_vit-b-16_roberta-base_bs128_8gpu"],
        "--vision-model": ["ViT-B-16"],
        "--text-model": ["RoBERTa-wwm-ext-base-chinese"],
    }
    vision = next(a for a in inv.args if a.raw == "--vision-model=${vision_model}")
    assert vision.text == "--vision-model=ViT-B-16"
    assert span(vision.loc) == (29, 11, 29, 41)
    assert span(flags["--vision-model"][0][1]) == (29, 26, 29, 41)  # the value after `=`
    assert span(flags["--clip-weight-path"][0][1]) == (27, 30, 27, 37)  # the next word
    resume = inv.args[0]
    assert resume.text is None and resume.raw == "--resume=${resume}"
    assert resume.partial == "--resume=${1}/pretrained_weights/clip_cn_vit-l-14-336.pt"
    assert (resume.loc.line, resume.loc.column) == (25, 11)


def test_chinese_clip_assignments_and_comments():
    facts = shell(CLIP_SCRIPT)
    assigned = {k: v[0] for k, v in facts.assignments.items()}
    assert assigned["vision_model"] == "ViT-B-16"
    assert assigned["MASTER_PORT"] == "8514"
    assert assigned["DATAPATH"] is None and assigned["resume"] is None and assigned["PYTHONPATH"] is None
    assert span(facts.assignments["vision_model"][1]) == (20, 1, 20, 22)
    assert span(facts.assignments["MASTER_ADDR"][1]) == (6, 8, 6, 29)
    assert facts.comments[15] == "or specify your customed ckpt path to resume"
    assert facts.comments[18] == 'reset_optimizer=""'
    assert 23 not in facts.comments


def test_positional_arguments_are_unknown():
    text = ("vision_model=${4}\ntext_model=${5}\nresume=${6}\n"
            "python cn_clip/eval/zeroshot_evaluation.py --vision-model=${vision_model} --resume ${resume}\n")
    facts = shell(text)
    assert facts.assignments["vision_model"][0] is None
    [inv] = facts.invocations
    assert inv.script == "cn_clip/eval/zeroshot_evaluation.py"
    flags = parse_flags(inv.args)
    assert flags["--vision-model"][0][0] is None
    assert flags["--resume"][0][0] is None and span(flags["--resume"][0][1]) == (4, 84, 4, 93)
    assert inv.args[0].partial == "--vision-model=${4}"


def test_command_substitution_and_defaults():
    text = ('MODEL=$(cat model.txt)\nOUT=`date +%F`\nBASE=${BASE_MODEL:-bert-base-chinese}\n'
            'N=${1:-8}\nSET=x\nALT=${SET:+yes}\nKEEP=${SET:-no}\n'
            'python train.py --model "$MODEL" --out=$OUT/run --base ${BASE} --n $N --alt $ALT --keep $KEEP\n')
    facts = shell(text)
    flags = {k: v[0][0] for k, v in parse_flags(facts.invocations[0].args).items()}
    assert flags == {"--model": None, "--out": None, "--base": "bert-base-chinese", "--n": "8",
                     "--alt": "yes", "--keep": "x"}
    assert facts.invocations[0].args[0].partial == "--model"
    assert facts.invocations[0].args[1].partial == "$(cat model.txt)"


def test_env_prefix_nohup_and_redirects():
    text = "LR=1e-5\nCUDA_VISIBLE_DEVICES=0,1 nohup python -u train.py --lr $LR > logs/train.log 2>&1 &\necho done\n"
    facts = shell(text)
    assert "CUDA_VISIBLE_DEVICES" not in facts.assignments  # a prefix applies to that command only
    [inv] = facts.invocations
    assert (inv.program, inv.script) == ("python", "train.py")
    assert [a.text for a in inv.args] == ["--lr", "1e-5"]
    assert (inv.loc.line, inv.loc.column) == (2, 1)


@pytest.mark.parametrize("command, program, script, module, args", [
    ("torchrun --nproc_per_node 8 --master_port=29500 train.py --cfg a.yaml", "torchrun", "train.py", None,
     ["--cfg", "a.yaml"]),
    ("torchrun --standalone --nnodes=1 -m pkg.train --x 1", "torchrun", None, "pkg.train", ["--x", "1"]),
    ("accelerate launch --config_file accel.yaml --multi_gpu scripts/sft.py --model m", "accelerate",
     "scripts/sft.py", None, ["--model", "m"]),
    ("accelerate launch --num_processes=2 -m my.module", "accelerate", None, "my.module", []),
    ("deepspeed --num_gpus 8 --master_port 29501 train.py --deepspeed ds.json", "deepspeed", "train.py", None,
     ["--deepspeed", "ds.json"]),
    ("python -m torch.distributed.run --nproc_per_node=2 run.py --a", "python", "run.py", None, ["--a"]),
    ("python3 -m cn_clip.training.main --resume x.pt", "python3", None, "cn_clip.training.main",
     ["--resume", "x.pt"]),
    ("/usr/bin/python3.10 -u -W ignore train.py", "python3.10", "train.py", None, []),
    ("python -c 'import torch'", "python", None, None, []),
    ("srun --ntasks=8 python train.py --a 1", "python", "train.py", None, ["--a", "1"]),
    ("env HF_HOME=/x python train.py", "python", "train.py", None, []),
    ("llamafactory-cli train examples/x.yaml", "llamafactory-cli", None, None, ["train", "examples/x.yaml"]),
])
def test_launchers(command, program, script, module, args):
    [inv] = shell(command + "\n").invocations
    assert (inv.program, inv.script, inv.module) == (program, script, module)
    assert [a.text for a in inv.args] == args


def test_hidden_launcher_options_and_word_splitting():
    text = ('DIST="--nproc_per_node $GPUS --nnodes 1"\nARGS="--model bert --labels \'a b\'"\n'
            "torchrun $DIST train.py $ARGS \"$ARGS\"\ntorchrun $UNSET_OPTS train.py --x\n")
    first, second = shell(text).invocations
    assert first.script == "train.py"
    assert [a.text for a in first.args] == ["--model", "bert", "--labels", "'a", "b'",
                                            "--model bert --labels 'a b'"]
    assert second.script == "train.py" and [a.text for a in second.args] == ["--x"]


def test_quotes_continuations_and_separators():
    text = ("A='single $x' ; B=\"double ${A}\" && python a.py \"$B\" 'lit $B' \\\n"
            "   --flag=\"x y\" || python3 b.py\nif [ -f x ]; then python c.py; fi\n")
    facts = shell(text)
    assert facts.assignments["B"][0] == "double single $x"
    scripts = [i.script for i in facts.invocations]
    assert scripts == ["a.py", "b.py", "c.py"]
    args = facts.invocations[0].args
    assert [a.text for a in args] == ["double single $x", "lit $B", "--flag=x y"]
    assert (args[2].loc.line, args[2].loc.column) == (2, 4)


def test_heredoc_functions_and_loops():
    text = ("python - <<'EOF'\nimport os\npython fake.py\nEOF\n"
            "train() {\n  python train.py --seed $1\n}\nfor lr in 1e-5 2e-5; do\n  python sweep.py --lr $lr\ndone\n")
    facts = shell(text)
    assert [(i.program, i.script) for i in facts.invocations] == [
        ("python", None), ("python", "train.py"), ("python", "sweep.py")]
    assert facts.invocations[2].args[1].text is None


def test_later_assignments_override():
    facts = shell("M=a\nM=b\nM+=c\npython x.py --m $M\nunset M\npython y.py --m $M\n")
    assert facts.assignments["M"][0] == "bc"
    assert facts.invocations[0].args[1].text == "bc"
    assert facts.invocations[1].args[1].text is None


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab =$'\"`\\(){}[]#;&|<>\n\t-:+?.py12@*!%/", max_size=60))
def test_shell_never_raises(text):
    facts = shell(text)
    for inv in facts.invocations:
        parse_flags(inv.args)
