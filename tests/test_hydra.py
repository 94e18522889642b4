"""Static Hydra composition: the DeepKE layout under Hydra 1.0 and 1.1+, defaults-list rules, overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from ckpt_lint.diagnostics import Location
from ckpt_lint.sources.hydra import compose

CONF = (Path(__file__).parent / "data" / "readers" / "deepke" / "conf").absolute()


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def where(node):
    return (node.loc.path.name, node.loc.line, node.loc.column)


# -- the DeepKE layout ----------------------------------------------------------------------------
@pytest.mark.parametrize("version", [(1, 0), (1, 3), None])
def test_deepke_labels(version):
    composed = compose(CONF, "config", hydra_version=version)
    assert composed.problems == []
    labels = composed.lookup("labels")
    assert labels.plain() == ["LOC", "ORG", "PER"]
    assert where(labels) == ("train.yaml", 23, 9)
    assert (labels.key_loc.line, labels.key_loc.column) == (23, 1)
    assert composed.lookup(["labels"]) is labels
    assert composed.lookup("cwd") is None  # `???`: mandatory, set at runtime
    assert sorted(p.relative_to(CONF).as_posix() for p in composed.files) == [
        "config.yaml", "hydra/model/bert.yaml", "hydra/output/custom.yaml", "predict.yaml", "train.yaml"]


def test_deepke_hydra_1_0_puts_bert_model_at_the_root():
    composed = compose(CONF, "config", hydra_version=(1, 0))
    bert = composed.root.get("bert_model")
    assert bert is not None and composed.lookup("bert_model") is bert
    assert bert.value == "bert-base-chinese"
    assert where(bert) == ("bert.yaml", 2, 13)
    assert "fallback" not in bert.meta
    assert composed.lookup("hydra.run.dir").value == "logs/${now:%Y-%m-%d_%H-%M-%S}"
    assert where(composed.lookup("lan")) == ("predict.yaml", 2, 6)  # 1.0: defaults override the primary


@pytest.mark.parametrize("version", [(1, 1), (1, 3), None])
def test_deepke_hydra_1_1_finds_bert_model_by_fallback(version):
    composed = compose(CONF, "config", hydra_version=version)
    assert composed.root.get("bert_model") is None
    assert composed.root.path("hydra", "model", "bert_model").value == "bert-base-chinese"
    bert = composed.lookup("bert_model")
    assert bert.value == "bert-base-chinese"
    assert where(bert) == ("bert.yaml", 2, 13)
    assert bert.meta["fallback"] == "hydra/model"
    assert where(composed.lookup("lan")) == ("config.yaml", 7, 6)  # 1.1: the primary's own keys win
    assert [(g, n.meta["package"]) for g, n in composed.group_nodes] == [
        ("hydra/output", "hydra.output"), ("hydra/model", "hydra.model")]


def test_group_override_from_the_command_line():
    composed = compose(CONF, "config", hydra_version=(1, 0), overrides=["hydra/model=lstmcrf"])
    assert composed.problems == []
    assert composed.lookup("model_name").value == "lstmcrf"
    assert where(composed.lookup("hidden_dim")) == ("lstmcrf.yaml", 5, 13)
    assert composed.lookup("bert_model") is None


def test_key_overrides_are_blamed_on_their_location():
    script = Location(Path("/proj/run.sh"), 7, 20, 7, 32)
    overrides = ["labels=[A,B]", "+extra.lr=1e-3", "~use_wandb", "++seed=7"]
    composed = compose(CONF, "config", hydra_version=(1, 0), overrides=overrides,
                       override_locs={"labels=[A,B]": script})
    labels = composed.lookup("labels")
    assert labels.plain() == ["A", "B"]
    assert labels.loc == script and labels.value[0].loc == script
    assert composed.lookup("extra.lr").value == 0.001
    assert composed.lookup("use_wandb") is None
    assert composed.lookup("seed").value == 7
    assert "command-line override" in composed.lookup("seed").loc.note


def test_missing_group_file_is_a_problem(tmp_path):
    conf = write(tmp_path, {
        "config.yaml": "defaults:\n  - model: missing\n  - optional extra: none\n  - train\n",
        "train.yaml": "labels: [a]\n",
    })
    composed = compose(conf, "config")
    [problem] = composed.problems
    assert "model/missing" in problem.reason
    assert (problem.path, problem.line, problem.column) == (conf / "config.yaml", 2, 5)
    assert composed.lookup("labels").plain() == ["a"]


def test_broken_group_file_is_a_problem_and_the_rest_composes(tmp_path):
    conf = write(tmp_path, {
        "config.yaml": "defaults:\n  - model: bad\n  - train\n",
        "model/bad.yaml": "hidden: [1, 2\nlayers: 3\n",
        "train.yaml": "labels: [a, b]\n",
    })
    composed = compose(conf, "config")
    [problem] = composed.problems
    assert problem.path == conf / "model" / "bad.yaml"
    assert (problem.line, problem.column) == (2, 7)
    assert composed.lookup("labels").plain() == ["a", "b"]
    assert conf / "model" / "bad.yaml" in composed.files


def test_missing_primary(tmp_path):
    composed = compose(tmp_path, "config.yaml")
    assert composed.root is None and composed.lookup("x") is None
    assert "primary Hydra config not found" in composed.problems[0].reason


# -- defaults-list rules --------------------------------------------------------------------------
SELF_ORDER = {
    "config.yaml": "defaults:\n  - foo: bar\n\nfoo:\n  x: 10\n",
    "foo/bar.yaml": "# @package _group_\nx: 20\n",
}


def test_self_order_differs_between_1_0_and_1_1(tmp_path):
    conf = write(tmp_path, SELF_ORDER)
    assert compose(conf, "config", hydra_version=(1, 0)).lookup("foo.x").value == 20
    assert compose(conf, "config", hydra_version=(1, 1)).lookup("foo.x").value == 10
    assert compose(conf, "config").lookup("foo.x").value == 10
    first = write(tmp_path, {"config.yaml": "defaults:\n  - _self_\n  - foo: bar\n\nfoo:\n  x: 10\n"})
    x = compose(first, "config", hydra_version=(1, 3)).lookup("foo.x")
    assert x.value == 20 and where(x) == ("bar.yaml", 2, 4)


def test_package_headers(tmp_path):
    conf = write(tmp_path, {
        "config.yaml": "defaults:\n  - model: bert\n  - data: cn\n  - opt: adam\n  - plain: p\n",
        "model/bert.yaml": "# @package _global_\nbert_model: bert-base-chinese\n",
        "data/cn.yaml": "# a comment first: not a header\n# @package _global_\nlabels: [a]\n",
        "opt/adam.yaml": "# @package train.optim\nlr: 0.1\n",
        "plain/p.yaml": "k: 1\n",
    })
    for version in [(1, 0), (1, 3)]:
        composed = compose(conf, "config", hydra_version=version)
        assert composed.root.get("bert_model").value == "bert-base-chinese"
        assert composed.lookup("train.optim.lr").value == 0.1
    new, old = compose(conf, "config", hydra_version=(1, 3)), compose(conf, "config", hydra_version=(1, 0))
    assert new.root.path("data", "labels") is not None and old.root.get("labels") is not None
    assert new.root.path("plain", "k").value == 1 and old.root.get("k").value == 1


def test_group_packages_null_and_mandatory(tmp_path):
    conf = write(tmp_path, {
        "config.yaml": ("defaults:\n  - db@backup: mysql\n  - db: ???\n  - cache: null\n"
                        "  - server/apache\n  - db@_global_: mysql\n"),
        "db/mysql.yaml": "driver: mysql\n",
        "server/apache.yaml": "defaults:\n  - db: nginx_db\n  - /db@main: mysql\nport: 80\n",
        "server/db/nginx_db.yaml": "driver: sqlite\n",
    })
    composed = compose(conf, "config")
    assert composed.problems == []
    root = composed.root.plain()
    assert root["backup"] == {"driver": "mysql"}
    assert root["server"] == {"port": 80, "db": {"driver": "sqlite"}, "main": {"driver": "mysql"}}
    assert root["driver"] == "mysql"
    assert "cache" not in root and "db" not in root


def test_nested_defaults_and_override_entries(tmp_path):
    conf = write(tmp_path, {
        "config.yaml": "defaults:\n  - model: base\n  - experiment: big\n",
        "model/base.yaml": "defaults:\n  - head: small\nhidden: 768\n",
        "model/head/small.yaml": "num_labels: 2\n",
        "model/head/large.yaml": "num_labels: 60\n",
        "experiment/big.yaml": ("# @package _global_\ndefaults:\n  - override /model/head: large\n"
                                "model:\n  hidden: 1024\n"),
    })
    composed = compose(conf, "config")
    assert composed.problems == []
    assert composed.lookup("model.head.num_labels").value == 60
    assert where(composed.lookup("model.hidden")) == ("big.yaml", 5, 11)
    head = compose(conf, "config", overrides=["model/head=small"]).lookup("model.head.num_labels")
    assert head.value == 2  # the command line beats the defaults-list override


def test_option_lists_appends_and_deletions(tmp_path):
    conf = write(tmp_path, {
        "config.yaml": "defaults:\n  - cb: [a, b]\n  - model: m\n",
        "cb/a.yaml": "a: 1\n", "cb/b.yaml": "b: 2\n", "model/m.yaml": "size: 3\n", "extra/e.yaml": "e: 5\n",
    })
    composed = compose(conf, "config", overrides=["+extra=e", "~model"])
    assert composed.root.plain() == {"cb": {"a": 1, "b": 2}, "extra": {"e": 5}}


def test_recursion_is_a_problem(tmp_path):
    conf = write(tmp_path, {
        "config.yaml": "defaults:\n  - loop: a\n",
        "loop/a.yaml": "defaults:\n  - /loop: a\nx: 1\n",
    })
    composed = compose(conf, "config")
    assert any("recursion" in p.reason for p in composed.problems)


def test_hydra_groups_from_plugins_are_not_problems(tmp_path):
    conf = write(tmp_path, {"config.yaml": "defaults:\n  - override hydra/job_logging: colorlog\n  - _self_\nx: 1\n"})
    composed = compose(conf, "config")
    assert composed.problems == [] and composed.lookup("x").value == 1


# -- interpolation --------------------------------------------------------------------------------
def test_interpolation(tmp_path):
    conf = write(tmp_path, {"config.yaml": (
        "model:\n  name: bert-base-chinese\n  dir: /ckpt\n  path: ${model.dir}/${model.name}\n"
        "  same: ${model.name}\n  rel: ${.name}\n  layers: 12\n"
        "alias: ${model}\nn: ${model.layers}\nwhen: ${now:%H}\nloop_a: ${loop_b}\nloop_b: ${loop_a}\n"
        "miss: ???\nmiss_ref: ${miss}\n"
    )})
    composed = compose(conf, "config")
    assert composed.lookup("model.path").value == "/ckpt/bert-base-chinese"
    assert composed.lookup("model.path").loc.line == 4
    same = composed.lookup("model.same")
    assert same.value == "bert-base-chinese" and same.loc.line == 2
    assert composed.lookup("model.rel").value == "bert-base-chinese"
    assert composed.lookup("alias.layers").value == 12
    assert composed.lookup("n").value == 12
    assert composed.lookup("when").value == "${now:%H}"
    assert composed.lookup("loop_a").value in ("${loop_a}", "${loop_b}")
    assert composed.lookup("miss") is None and composed.lookup("miss_ref") is None
