"""Classification heads: the label count the code builds vs the one the checkpoint was trained with."""

from __future__ import annotations

import libcst as cst

from ckpt_lint.codemods import set_keyword
from ckpt_lint.diagnostics import Fix, Location, Severity
from ckpt_lint.hf import (
    Count,
    label_count_from_config,
    apply_label_kwargs,
    checkpoint_model_type,
    config_object_labels,
    head_key,
    head_kind,
    model_type_of_class,
    saved_head,
)
from ckpt_lint.rule import Rule
from ckpt_lint.sources.python import walk


def _kwarg_node(call, name: str):
    if isinstance(call, cst.Call):
        for arg in call.args:
            if arg.keyword is not None and arg.keyword.value == name:
                return arg
    return None


class HeadSizeMismatch(Rule):
    """The classification head the code builds has a different label count than the checkpoint's head.

    ## What it does
    For every `X.from_pretrained(ref, ...)` of a `*ForTokenClassification` or
    `*ForSequenceClassification` model (including project subclasses such as `TrainNer`), computes
    the label count the code builds — from `num_labels=`/`id2label=`, a `config=` object, or the
    checkpoint's own config — following the values back through YAML label lists, Hydra configs,
    argparse flags set in launch scripts, label files and helper functions. It compares that count
    with the rows of the head saved in the checkpoint (safetensors header, else config.json of a
    classification model, else project metadata such as DeepKE's `model_config.json`).

    ## Why is this bad?
    transformers refuses to load a head of another size:
    `size mismatch for classifier.weight: copying a param with shape [60, 768] from checkpoint, the
    shape in current model is [10, 768]` — after the job has been queued and the GPU paid for.
    A checkpoint without a head (e.g. `BertForMaskedLM`) is fine: the head is newly initialised.

    ## Example
    ```yaml
    # conf/train.yaml
    labels: ['LOC', 'ORG', 'PER']          # 3 types -> 2*3+4 = 10 tags
    ```
    ```python
    num_labels = len(processor.get_labels(cfg)) + 1
    config = BertConfig.from_pretrained(cfg.bert_model, num_labels=num_labels)
    model = TrainNer.from_pretrained(cfg.bert_model, config=config)   # checkpoint has 60 rows
    ```

    ## How to fix
    Use the label list the checkpoint was trained with, start from a checkpoint without a task head,
    or pass `ignore_mismatched_sizes=True` to re-initialise the head on purpose (its trained
    weights are then discarded).
    """

    code = "CKL101"
    name = "head-size-mismatch"
    severity = Severity.ERROR

    def check(self, project):
        for event in project.events:
            if event.method != "from_pretrained" or "**" in event.kwargs:
                continue
            ignore = event.kwargs.get("ignore_mismatched_sizes")
            if ignore is not None and (not ignore.known or ignore.v):
                continue  # re-initialising on purpose (or we cannot tell): the load does not raise
            trust = event.kwargs.get("trust_remote_code")
            if trust is not None and (not trust.known or trust.v):
                continue  # the model class comes from the checkpoint's own code
            if event.config is not None and any(k in event.kwargs for k in ("num_labels", "id2label")):
                continue  # transformers raises TypeError here; not a head-size question
            custom = custom_head(event.project_class)
            kind = head_kind((event.cls_name, *event.hf_bases))
            if kind is None and custom is None:
                continue
            major, version_note = project.library_major("transformers", near=event.site.path)
            facts = project.model(event.ref, event.base_dirs, revision=event.kwargs.get("revision"),
                                  subfolder=event.kwargs.get("subfolder"))
            if facts is None or _has_remote_code(facts):
                continue
            if custom is not None:
                key, literal = custom
            else:
                explicit = next((t for t in map(model_type_of_class, event.hf_bases) if t), None)
                key, literal = head_key(kind, explicit or checkpoint_model_type(facts)), None
            if key is None:
                continue
            saved = saved_head(facts, key, major, project.display)
            if saved is None or saved.rows is None:
                continue
            built = literal or self._built(event, facts, project, major, version_note)
            if built is None or built.n == saved.rows:
                continue
            yield self._finding(event, facts, saved, built, project)

    def _built(self, event, facts, project, major: int, version_note: str) -> Count | None:
        if event.config is not None:
            return config_object_labels(
                event.config, lambda ref, dirs: project.model(ref, dirs), major, version_note, project.display
            )
        if event.kwargs.get("config") is not None:
            return None  # a config object we could not follow
        n, why, _ = label_count_from_config(facts.config, major)
        if n is None:
            base = Count(2, "the default 2 labels (config.json has no id2label)")
        else:
            where = project.display(facts.config_path) if facts.config_path else facts.source_note
            base = Count(n, f"{why} in {where}")
        return apply_label_kwargs(base, event.kwargs, major, constructor=False, version_note=version_note)

    def _finding(self, event, facts, saved, built: Count, project):
        if facts.kind == "local" and facts.path is not None:
            where = f"checkpoint {project.display(facts.path)}"
        else:
            where = f"{event.ref.v} ({facts.source_note})"
        message = (
            f"{event.cls_name} head has {built.n} labels ({built.why}) but {where} was trained with "
            f"{saved.rows} ({saved.why}): from_pretrained raises a size mismatch for the classifier"
        )
        if built.version_note:
            message += f" [{built.version_note}]"
        related: list[Location] = [o for o in built.origins if (o.path, o.cell, o.line) != (event.site.path, event.site.cell, event.site.line)]
        if event.config is not None and event.config.site is not None:
            related.append(event.config.site.with_note(f"config built here ({event.config.cls_name})"))
        if saved.location is not None:
            related.append(saved.location.with_note(f"checkpoint head: {saved.why}"))
        hint = (f"use the label list the checkpoint was trained with ({saved.rows} labels), or pass "
                f"ignore_mismatched_sizes=True to re-initialise the head")
        # unsafe: the load then succeeds, but the head's trained weights are discarded
        edits = set_keyword(event.file, event.node, "ignore_mismatched_sizes", "True", replaceable=("False",)) \
            if event.file is not None and event.node is not None else None
        fix = Fix(hint, "unsafe", edits) if edits else hint
        return self.finding(event.site, message, fix=fix, related=related)


class NumLabelsConflict(Rule):
    """`num_labels` and `id2label` disagree; transformers silently keeps one of them.

    ## What it does
    Flags a call (`from_pretrained`, or a config constructor such as `BertConfig(...)`) that passes
    `num_labels=N` together with an `id2label` mapping of another length, and a `config.json` that
    states both with different counts.

    ## Why is this bad?
    The outcome depends on the transformers version: 5.x keeps the keyword given last in a
    `from_pretrained` call (and `num_labels` in a constructor or config.json) with only a warning;
    4.x raises `ValueError: You passed along num_labels=N with an incompatible id to label map` in
    `from_pretrained` and keeps `id2label` in a constructor or config.json. Either way, one of the
    two numbers you wrote is ignored and the head may not have the size you meant.

    ## Example
    ```python
    AutoConfig.from_pretrained("bert-base-cased", num_labels=5, id2label={0: "neg", 1: "pos"})
    ```

    ## How to fix
    Pass only `id2label` (with `label2id`), or make `num_labels` equal to `len(id2label)`.
    """

    code = "CKL102"
    name = "num-labels-conflict"
    severity = Severity.WARNING

    def check(self, project):
        seen: set = set()
        calls = [(c.file, c.node, c.kwargs, c.ref is None, c.cls_name) for c in project.configs]
        calls += [(e.file, e.node, e.kwargs, False, e.cls_name) for e in project.events if e.config is None]
        for file, node, kwargs, constructor, cls_name in calls:
            if node is None or id(node) in seen:
                continue
            num, id2label = kwargs.get("num_labels"), kwargs.get("id2label")
            if num is None or id2label is None or not num.known or not id2label.known:
                continue
            if not isinstance(num.v, int) or not isinstance(id2label.v, dict) or num.v == len(id2label.v):
                continue
            seen.add(id(node))
            major, version_note = project.library_major("transformers", near=file.path)
            n, m = num.v, len(id2label.v)
            order = [k for k in kwargs if k in ("num_labels", "id2label")]
            if major >= 5:
                kept = "num_labels" if constructor else order[-1]
                outcome = f"keeps {kept} ({n if kept == 'num_labels' else m} labels) and only warns"
            else:
                outcome = ("keeps id2label (%d labels)" % m) if constructor else "raises ValueError"
            arg = _kwarg_node(node, "num_labels")
            loc = file.loc(arg) if arg is not None else file.loc(node)
            message = (f"num_labels={n} conflicts with id2label of {m} entries in {cls_name}"
                       f"{'' if constructor else '.from_pretrained'}: transformers {major}.x {outcome} "
                       f"[{version_note}]")
            related = [o for o in (*num.origins, *id2label.origins) if (o.path, o.cell, o.line) != (loc.path, loc.cell, loc.line)]
            yield self.finding(loc, message, fix=f"pass only id2label, or num_labels={m}", related=related)
        yield from self._config_files(project)

    def _config_files(self, project):
        for source in project.files:
            if source.path.name != "config.json":
                continue
            node = project.data(source.path, "json")
            if node is None or not node.is_map:
                continue
            num, id2label = node.get("num_labels"), node.get("id2label")
            if num is None or id2label is None or not id2label.is_map or not isinstance(num.value, int):
                continue
            if num.value == len(id2label.value):
                continue
            major, version_note = project.library_major("transformers", near=source.path)
            kept = f"num_labels ({num.value})" if major >= 5 else f"id2label ({len(id2label.value)} labels)"
            yield self.finding(
                num.anchor,
                f"config.json states num_labels={num.value} but id2label has {len(id2label.value)} entries: "
                f"transformers {major}.x keeps {kept} [{version_note}]",
                fix="remove num_labels from config.json or make it equal to len(id2label)",
                related=[id2label.anchor.with_note("id2label")],
            )


def _has_remote_code(facts) -> bool:
    config = facts.config
    return config is not None and config.is_map and config.get("auto_map") is not None


def custom_head(cls) -> tuple[str, Count | None] | None:
    """A project model class that builds its own head: `self.classifier = nn.Linear(h, config.num_labels)`.

    Returns (state-dict key, fixed count or None when the rows follow config.num_labels).
    """
    if cls is None:
        return None
    from ckpt_lint.values import ClassRef

    for klass in cls.mro():
        if not isinstance(klass, ClassRef):
            continue
        init = klass.attrs.get("__init__")
        if init is None or not hasattr(init.v, "node"):
            continue
        for node in walk(init.v.node):
            if not (isinstance(node, cst.Assign) and len(node.targets) == 1):
                continue
            target, value = node.targets[0].target, node.value
            if not (isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name)
                    and target.value.value == "self" and isinstance(value, cst.Call)):
                continue
            func = klass.file.code(value.func)
            if func.split(".")[-1] != "Linear" or len(value.args) < 2:
                continue
            rows = value.args[1].value
            code = klass.file.code(rows)
            key = f"{target.attr.value}.weight"
            if code in ("config.num_labels", "self.num_labels", "self.config.num_labels"):
                return key, None
            n = _constant_rows(rows, init.v.env)
            if n is None:
                return None  # a head sized by something we do not follow
            loc = klass.file.loc(value)
            return key, Count(n, f"nn.Linear(..., {code}) = {n} rows in {cls.name}.__init__",
                              (loc.with_note(f"head built here: {klass.file.code(value)}"),))
    return None


def _constant_rows(rows, env) -> int | None:
    """Rows given as a literal, a module constant, or len() of a module-level list."""
    if isinstance(rows, cst.Integer):
        return int(rows.value)
    target, use_len = rows, False
    if (isinstance(rows, cst.Call) and isinstance(rows.func, cst.Name) and rows.func.value == "len"
            and len(rows.args) == 1):
        target, use_len = rows.args[0].value, True
    if not isinstance(target, cst.Name) or env is None:
        return None
    val = env.lookup(target.value)
    if val is None or not val.known:
        return None
    if use_len:
        return len(val.v) if isinstance(val.v, (list, tuple, dict)) else None
    return val.v if isinstance(val.v, int) and not isinstance(val.v, bool) else None
