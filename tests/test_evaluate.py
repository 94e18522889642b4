"""The static evaluator: what values reach `from_pretrained`, and where they came from."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

from ckpt_lint.discover import discover
from ckpt_lint.project import Project


def analyze(root: Path, files: dict[str, str]) -> Project:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    project = Project(root, discover([root], root=root, excludes=[]), display_base=root)
    project.analyze()
    return project


def values(project: Project, key: str) -> list:
    """The known values of one keyword across every load event (one per launch scenario)."""
    out = []
    for event in project.events:
        val = event.kwargs.get(key)
        out.append(val.v if val is not None and val.known else "UNKNOWN")
    return out


def test_label_list_built_in_a_helper_module_from_yaml(tmp_path):
    project = analyze(tmp_path, {
        "conf/train.yaml": "lr: 0.1\nlabels: [LOC, ORG, PER]\n",
        "utils/__init__.py": "",
        "utils/tags.py": """
            def bio_tags(types):
                tags = ["O"]
                for t in types:
                    tags.extend([f"B-{t}", f"I-{t}"])
                return tags + ["[CLS]", "[SEP]"]
            """,
        "train.py": """
            import yaml
            from transformers import AutoModelForTokenClassification
            from utils.tags import bio_tags

            cfg = yaml.safe_load(open("conf/train.yaml"))
            tags = bio_tags(cfg["labels"])
            model = AutoModelForTokenClassification.from_pretrained("ckpt", num_labels=len(tags) + 1)
            """,
    })
    assert values(project, "num_labels") == [10]
    val = project.events[0].kwargs["num_labels"]
    assert val.expr == "len(tags) + 1"
    origin = val.origins[0]
    assert origin.path == tmp_path / "conf/train.yaml" and origin.line == 2
    assert "3 items" in origin.note


def test_comprehensions_sets_and_dicts(tmp_path):
    project = analyze(tmp_path, {"train.py": """
        from transformers import AutoConfig
        raw = ["O", "B-X", "I-X", "B-X", "O"]
        uniq = sorted(set(raw))
        id2label = {i: l for i, l in enumerate(uniq)}
        kept = [l for l in raw if l != "O"]
        cfg = AutoConfig.from_pretrained("m", num_labels=len(kept), id2label=id2label)
        """})
    cfg = project.configs[0]
    assert cfg.kwargs["num_labels"].v == 3
    assert cfg.kwargs["id2label"].v == {0: "B-X", 1: "I-X", 2: "O"}


def test_fstring_and_os_path_join_build_the_reference(tmp_path):
    project = analyze(tmp_path, {"train.py": """
        import os
        from transformers import AutoModel
        ROOT = "models"
        size = "base"
        model = AutoModel.from_pretrained(os.path.join(ROOT, f"bert-{size}-ner"))
        """})
    assert project.events[0].ref.v == "models/bert-base-ner"


def test_method_of_a_project_class_and_instance_state(tmp_path):
    project = analyze(tmp_path, {"train.py": """
        from transformers import AutoModelForSequenceClassification

        class Labels:
            def __init__(self, names):
                self.names = list(names)
            def count(self):
                return len(self.names)

        labels = Labels(["a", "b", "c", "d"])
        model = AutoModelForSequenceClassification.from_pretrained("m", num_labels=labels.count())
        """})
    assert values(project, "num_labels") == [4]


def test_each_launch_script_is_a_scenario_and_defaults_apply_only_without_one(tmp_path):
    project = analyze(tmp_path, {
        "train.py": """
            import argparse
            from transformers import AutoModelForSequenceClassification
            p = argparse.ArgumentParser()
            p.add_argument("--num-labels", type=int, default=2)
            p.add_argument("--model", default="bert-base-uncased")
            p.add_argument("--fp16", action="store_true")
            args = p.parse_args()
            m = AutoModelForSequenceClassification.from_pretrained(args.model, num_labels=args.num_labels)
            """,
        "scripts/a.sh": "N=7\ncd ..\npython train.py --num-labels=$N --fp16 --model ckpt/a\n",
        "scripts/b.sh": "python3 ../train.py --model ckpt/b \\\n  --num-labels 4\n",
    })
    seen = sorted((e.ref.v, e.kwargs["num_labels"].v) for e in project.events)
    assert seen == [("ckpt/a", 7), ("ckpt/b", 4)]
    from_b = next(e for e in project.events if e.ref.v == "ckpt/b")
    origin = from_b.kwargs["num_labels"].origins[0]
    assert origin.path == tmp_path / "scripts/b.sh" and origin.line == 2 and origin.column == 16


def test_hf_argument_parser_dataclass_defaults_and_flags(tmp_path):
    project = analyze(tmp_path, {
        "train.py": """
            from dataclasses import dataclass, field
            from transformers import AutoModelForTokenClassification, HfArgumentParser

            @dataclass
            class ModelArguments:
                model_name_or_path: str = field(default="ckpt/ner", metadata={"help": "path"})
                num_labels: int = 9

            parser = HfArgumentParser((ModelArguments,))
            (model_args,) = parser.parse_args_into_dataclasses()
            model = AutoModelForTokenClassification.from_pretrained(
                model_args.model_name_or_path, num_labels=model_args.num_labels)
            """,
        "run.sh": "python train.py --num_labels 13\n",
    })
    assert values(project, "num_labels") == [13]
    (tmp_path / "run.sh").unlink()
    project = analyze(tmp_path, {})
    assert values(project, "num_labels") == [9]


def test_unknown_stays_unknown(tmp_path):
    project = analyze(tmp_path, {"train.py": """
        import os, sys
        from transformers import AutoModelForSequenceClassification
        n = int(os.environ["NUM_LABELS"])
        labels = sys.argv[1:]
        m1 = AutoModelForSequenceClassification.from_pretrained("m", num_labels=n)
        m2 = AutoModelForSequenceClassification.from_pretrained("m", num_labels=len(labels))
        """})
    assert values(project, "num_labels") == ["UNKNOWN", "UNKNOWN"]


def test_branches_known_and_unknown(tmp_path):
    project = analyze(tmp_path, {"train.py": """
        import argparse, random
        from transformers import AutoModelForSequenceClassification
        p = argparse.ArgumentParser()
        p.add_argument("--binary", action="store_true")
        args = p.parse_args()
        n = 2 if args.binary else 5
        if random.random() > 0.5:
            k = 3
        else:
            k = 4
        if random.random() > 0.5:
            same = 6
        else:
            same = 6
        AutoModelForSequenceClassification.from_pretrained("m", num_labels=n)
        AutoModelForSequenceClassification.from_pretrained("m", num_labels=k)
        AutoModelForSequenceClassification.from_pretrained("m", num_labels=same)
        """})
    assert values(project, "num_labels") == [5, "UNKNOWN", 6]


def test_label_files_json_and_lines(tmp_path):
    project = analyze(tmp_path, {
        "data/labels.txt": "A\nB\nC\n",
        "data/map.json": '{"id2label": {"0": "x", "1": "y"}}',
        "train.py": """
            import json
            from transformers import AutoModelForSequenceClassification
            with open("data/labels.txt") as f:
                lines = [l.strip() for l in f.readlines() if l.strip()]
            meta = json.load(open("data/map.json"))
            AutoModelForSequenceClassification.from_pretrained("m", num_labels=len(lines))
            AutoModelForSequenceClassification.from_pretrained("m", id2label=meta["id2label"])
            """,
    })
    assert values(project, "num_labels")[0] == 3
    id2label = project.events[1].kwargs["id2label"]
    assert id2label.v == {"0": "x", "1": "y"} and id2label.origins[0].line == 1


def test_hydra_group_override_from_the_launch_script(tmp_path):
    project = analyze(tmp_path, {
        "conf/config.yaml": "defaults:\n  - model: small\n  - _self_\nlabels: [a, b]\n",
        "conf/model/small.yaml": "name: ckpt/small\n",
        "conf/model/large.yaml": "name: ckpt/large\n",
        "run.py": """
            import hydra
            from transformers import AutoModelForSequenceClassification

            @hydra.main(version_base=None, config_path="conf", config_name="config")
            def main(cfg):
                AutoModelForSequenceClassification.from_pretrained(cfg.model.name, num_labels=len(cfg.labels))

            if __name__ == "__main__":
                main()
            """,
        "run.sh": "python run.py model=large 'labels=[a,b,c]'\n",
    })
    seen = sorted((e.ref.v, e.kwargs["num_labels"].v) for e in project.events)
    assert seen == [("ckpt/large", 3)]
    (tmp_path / "run.sh").unlink()
    seen = sorted((e.ref.v, e.kwargs["num_labels"].v) for e in analyze(tmp_path, {}).events)
    assert seen == [("ckpt/small", 2)]


def test_functions_nobody_calls_are_still_checked_with_unknown_arguments(tmp_path):
    project = analyze(tmp_path, {"lib.py": """
        from transformers import AutoModelForSequenceClassification
        LABELS = ["neg", "pos", "neutral"]

        def load(path):
            return AutoModelForSequenceClassification.from_pretrained(path, num_labels=len(LABELS))
        """})
    assert values(project, "num_labels") == [3]
    assert not project.events[0].ref.known


def test_pathological_code_is_bounded(tmp_path):
    start = time.monotonic()
    project = analyze(tmp_path, {"train.py": """
        from transformers import AutoModel
        def f(n):
            return f(n + 1)
        x = f(0)
        total = []
        for i in range(10 ** 9):
            total.append(i)
        while True:
            total.append(1)
        AutoModel.from_pretrained("m", num_labels=len(total))
        """})
    assert time.monotonic() - start < 10
    assert values(project, "num_labels") == ["UNKNOWN"]


def test_scanned_code_is_never_executed(tmp_path):
    marker = tmp_path / "executed.txt"
    analyze(tmp_path, {"train.py": f"""
        import os
        from transformers import AutoModel
        open({str(marker)!r}, "w").write("pwned")
        os.system("touch {marker}")
        __import__("os").system("touch {marker}")
        AutoModel.from_pretrained("m")
        """})
    assert not marker.exists()


def test_a_break_or_continue_on_an_unknown_condition_makes_the_loop_unknown(tmp_path):
    project = analyze(tmp_path, {"train.py": """
        import os
        from transformers import AutoModelForSequenceClassification
        names = ["a", "b", "STOP", "c"]
        stop = os.environ.get("STOP")
        kept, skipped, always = [], [], []
        for n in names:
            if n == stop:
                break
            kept.append(n)
        for n in names:
            if n == stop:
                continue
            skipped.append(n)
        for n in names:
            if n == "STOP":
                break
            always.append(n)
        AutoModelForSequenceClassification.from_pretrained("m", num_labels=len(kept))
        AutoModelForSequenceClassification.from_pretrained("m", num_labels=len(skipped))
        AutoModelForSequenceClassification.from_pretrained("m", num_labels=len(always))
        """})
    assert values(project, "num_labels") == ["UNKNOWN", "UNKNOWN", 2]


def test_configs_built_differently_on_undecidable_branches_are_unknown(tmp_path):
    project = analyze(tmp_path, {"train.py": """
        import os
        from transformers import AutoConfig, AutoModelForSequenceClassification
        if os.environ.get("TASK") == "sst5":
            config = AutoConfig.from_pretrained("ck", num_labels=5)
        else:
            config = AutoConfig.from_pretrained("ck", num_labels=2)
        if os.environ.get("FAST"):
            same = AutoConfig.from_pretrained("ck", num_labels=3)
        else:
            same = AutoConfig.from_pretrained("ck", num_labels=3)
        a = AutoModelForSequenceClassification.from_pretrained("ck", config=config)
        b = AutoModelForSequenceClassification.from_pretrained("ck", config=same)
        """})
    assert [e.config is None for e in project.events] == [True, False]
    assert project.events[1].config.kwargs["num_labels"].v == 3


def test_global_statement_binds_in_the_module_scope(tmp_path):
    project = analyze(tmp_path, {"train.py": """
        from transformers import AutoModelForSequenceClassification
        LABELS = []

        def setup():
            global LABELS
            LABELS = ["a", "b", "c"]

        setup()
        AutoModelForSequenceClassification.from_pretrained("m", num_labels=len(LABELS))
        """})
    assert values(project, "num_labels") == [3]
