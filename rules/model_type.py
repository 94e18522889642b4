"""An explicit transformers class loaded from a checkpoint of another model_type (bert weights into RobertaModel)."""

from __future__ import annotations

import libcst as cst

from ckpt_lint.diagnostics import Location, Severity
from ckpt_lint.hf import (
    auto_class,
    canonical_tokenizer,
    class_config_type,
    matching_class,
    tokenizer_files,
    tokenizer_model_types,
    tokenizer_of_type,
    warned_model_type,
)
from ckpt_lint.rule import Rule
from ckpt_lint.sources.python import walk
from ckpt_lint.vocab import config_where

_V5_WARNING = ("You are using a model of type `{ckpt}` to instantiate a model of type `{cls}`. "
               "This may be expected if ...")
_V4_WARNING = ("You are using a model of type {ckpt} to instantiate a model of type {cls}. "
               "This is not supported for all configurations of models and can yield errors.")
_V4_TOKENIZER_WARNING = ("The tokenizer class you load from this checkpoint is not the same type as the class "
                         "this function is called from. It may result in unexpected tokenization.")


class ModelTypeMismatch(Rule):
    """A transformers class is loaded from a checkpoint whose config.json names another `model_type`.

    ## What it does
    For every `X.from_pretrained(ref)` (and `XConfig.from_pretrained(ref)`) where `X` is an explicit
    transformers class — `RobertaModel`, `RobertaForMaskedLM`, a project subclass of
    `BertPreTrainedModel` — compares the `model_type` of X's config class with the `model_type` in
    the checkpoint's config.json, the way transformers 5.23 does: a composite config that holds X's
    own sub-config (`CLIPTextModel` on a `clip` checkpoint) is fine. For a tokenizer class
    (`RobertaTokenizer`) the checkpoint's `model_type` must be one transformers registers that class
    for, or the checkpoint's `tokenizer_config.json` must name it. Auto classes, PEFT classes,
    remote-code checkpoints (`auto_map`, `trust_remote_code`), loads given a config object, classes
    transformers does not ship, and loads that may not run (in an `except` handler, or in one branch
    of an `if` the linter cannot decide whose other branch loads something else) are skipped. The
    class table (lint/data/model_types.json) is generated from transformers 5.23.

    ## Why is this bad?
    transformers does not refuse the load. For a model it only logs `You are using a model of type
    bert to instantiate a model of type roberta`, then loads the tensors whose names happen to
    match and initialises the rest at random: bert weights in `RobertaForMaskedLM` load the
    backbone but not `lm_head`; in `DistilBertModel` nothing loads at all. Even when every tensor
    loads (bert into `RobertaModel`), RoBERTa numbers positions from `pad_token_id + 1`, so the
    outputs differ from the checkpoint's. `hfl/chinese-roberta-wwm-ext` and its siblings are BERT
    checkpoints (`model_type: bert`), hence the many "RoBERTa" scripts that quietly train a
    half-random model. A tokenizer class is not checked at all in 5.x: `RobertaTokenizer` on a
    folder with only `vocab.txt` loads without a warning and encodes every text to just `<s> </s>`;
    4.x warns that the tokenizer class differs and raises `TypeError` for the missing
    `vocab.json`/`merges.txt`.

    ## Example
    ```python
    from transformers import RobertaModel, RobertaTokenizer

    tokenizer = RobertaTokenizer.from_pretrained("hfl/chinese-roberta-wwm-ext")  # model_type: bert
    model = RobertaModel.from_pretrained("hfl/chinese-roberta-wwm-ext")
    ```

    ## How to fix
    Load with the Auto class (`AutoModel`, `AutoTokenizer`: they build the class of the
    checkpoint's `model_type`) or the matching class (`BertModel`, `BertTokenizer`), or use a
    checkpoint of the class's own `model_type`.
    """

    code = "CKL502"
    name = "model-type-mismatch"
    severity = Severity.WARNING

    def check(self, project):
        _IMPORTS.clear()  # per-run memos (parsed files of an earlier run are not kept alive)
        _PARENTS.clear()
        sites = [(e.file, e.node, id(e.scenario)) for e in project.events]
        sites += [(c.file, c.node, None) for c in project.configs]
        uncertain = _uncertain_nodes(sites)
        for event in project.events:
            if event.method != "from_pretrained" or "**" in event.kwargs or id(event.node) in uncertain:
                continue
            if not getattr(event, "certain", True) or _remote(event.kwargs):
                continue
            if "Tokenizer" in event.cls_name or any("Tokenizer" in b for b in event.hf_bases):
                found = self._tokenizer(project, event)
            else:
                found = self._model(project, event)
            if found is not None:
                yield found
        for cfg in project.configs:
            if cfg.ref is None or "**" in cfg.kwargs or _remote(cfg.kwargs) or cfg.site is None:
                continue
            if id(cfg.node) in uncertain or not getattr(cfg, "certain", True):
                continue
            if not _from_transformers(cfg.file, cfg.node):
                continue
            found = self._config(project, cfg)
            if found is not None:
                yield found

    # -- models ------------------------------------------------------------------------------
    def _model(self, project, event):
        built = _model_class(event)
        if built is None:
            return None
        desc, model_type, base_key, written = built
        config_ref = event.ref
        if "config" in event.kwargs:
            given = event.kwargs["config"]
            if not (given.known and isinstance(given.v, str)):
                return None  # a config object: from_pretrained does not read config.json's model_type
            config_ref = given
        seen = _warned(project, config_ref, event.base_dirs, event.kwargs, model_type, base_key, event.site)
        if seen is None:
            return None
        facts, node, ckpt, major, note, quote = seen
        message = (f"{desc} is built for model_type `{model_type}` but {_where(project, facts, config_ref)} is "
                   f"model_type `{ckpt}`: transformers {major}.x only warns \"{quote}\", loads the weights whose "
                   f"names match and initialises the others at random [{note}]")
        related = [_type_note(node, ckpt, facts, project)]
        if event.project_class is not None:
            klass = event.project_class
            related.append(klass.file.loc(klass.node).with_note(f"{klass.name} derives from {written}"))
        return self.finding(event.site, message, fix=_model_fix(event, written, ckpt, model_type), related=related)

    def _config(self, project, cfg):
        found = class_config_type(cfg.cls_name)
        if found is None or cfg.cls_name.startswith("Auto"):
            return None
        model_type, base_key = found
        seen = _warned(project, cfg.ref, cfg.base_dirs, cfg.kwargs, model_type, base_key, cfg.site)
        if seen is None:
            return None
        facts, node, ckpt, major, note, quote = seen
        message = (f"{cfg.cls_name} is the config of model_type `{model_type}` but "
                   f"{_where(project, facts, cfg.ref)} is model_type `{ckpt}`: transformers {major}.x only warns "
                   f"\"{quote}\" and a model built from this config does not match the checkpoint [{note}]")
        other = matching_class(cfg.cls_name, ckpt)
        fix = f"use AutoConfig{f' or {other}' if other else ''}, or a `{model_type}` checkpoint"
        related = [_type_note(node, ckpt, facts, project)]
        return self.finding(cfg.site, message, fix=fix, related=related)

    # -- tokenizers --------------------------------------------------------------------------
    def _tokenizer(self, project, event):
        name = _tokenizer_class(event)
        if name is None:
            return None
        types = tokenizer_model_types(name)
        if not types:
            return None  # a generic or unknown tokenizer class
        facts = _facts(project, event.ref, event.base_dirs, event.kwargs)
        if facts is None:
            return None
        node = facts.config.get("model_type")
        if node is None or not isinstance(node.value, str) or node.value in types:
            return None
        ckpt = node.value
        registered = tokenizer_of_type(ckpt)
        if registered is None:
            return None  # the checkpoint's type has a generic tokenizer: its files decide the class
        named, named_node = _named_tokenizer(project, facts)
        if named is _REMOTE or (named and canonical_tokenizer(named) == canonical_tokenizer(name)):
            return None
        trained = f"its tokenizer_config.json names {named}" if named else f"its tokenizer is {registered}"
        files = tokenizer_files(name)
        missing = _missing(facts, files)
        major, note = project.library_major("transformers", near=event.site.path)
        shown = event.cls_name if event.project_class is None else f"{event.cls_name} (a {name})"
        if major >= 5:
            if missing:
                outcome = (f"transformers 5.x loads it without an error or warning, but {name} builds its vocabulary "
                           f"from {', '.join(files)}, which {project.display(facts.path)} does not have: every "
                           f"text encodes to special and unknown tokens only (some classes raise TypeError instead)")
            else:
                outcome = ("transformers 5.x does not check the tokenizer class and loads it without a warning: "
                           "the text is not tokenized the way the checkpoint was trained")
        else:
            tail = "and raises TypeError" if missing and not _fast_json(event.cls_name, facts) else "and loads it"
            outcome = f"transformers 4.x warns \"{_V4_TOKENIZER_WARNING}\" {tail}"
            if missing and tail.endswith("TypeError"):
                outcome += f" (no {', '.join(files)} in {project.display(facts.path)})"
        message = (f"{shown} is loaded from {_where(project, facts, event.ref)}, which is model_type `{ckpt}` "
                   f"({trained}; {name} is {_tokenizer_of(name)}): {outcome} [{note}]")
        related = [_type_note(node, ckpt, facts, project)]
        if named_node is not None:
            related.append(named_node.anchor.with_note(f"tokenizer_class {named}"))
        fits = canonical_tokenizer(named) if named else registered
        fix = f"use AutoTokenizer or {fits}, or a checkpoint whose tokenizer is {name}"
        return self.finding(event.site, message, fix=fix, related=related)


# -- helpers -------------------------------------------------------------------------------------

_REMOTE = object()


def _remote(kwargs) -> bool:
    trust = kwargs.get("trust_remote_code")
    return trust is not None and (not trust.known or bool(trust.v))


def _warned(project, ref, base_dirs, kwargs, model_type: str, base_key: str, site):
    """(facts, model_type node, checkpoint type, major, version note, the warning transformers prints)
    when loading `ref` as `model_type` makes transformers warn; None otherwise."""
    facts = _facts(project, ref, base_dirs, kwargs)
    if facts is None:
        return None
    node = warned_model_type(facts.config, model_type, base_key)
    if node is None:
        return None
    ckpt = node.value
    major, note = project.library_major("transformers", near=site.path)
    quote = (_V5_WARNING if major >= 5 else _V4_WARNING).format(ckpt=ckpt, cls=model_type)
    return facts, node, ckpt, major, note, quote


def _facts(project, ref, base_dirs, kwargs):
    facts = project.model(ref, base_dirs, revision=kwargs.get("revision"), subfolder=kwargs.get("subfolder"))
    if facts is None or facts.config is None or not facts.config.is_map:
        return None
    if facts.config.get("auto_map") is not None:
        return None  # remote code: the checkpoint brings its own classes
    return facts


def _where(project, facts, ref) -> str:
    if facts.kind == "local" and facts.path is not None:
        return f"checkpoint {project.display(facts.path)}"
    origin = {"snapshot": "bundled snapshot", "hf-cache": "HF cache", "hub": "Hub"}.get(facts.kind, facts.kind)
    return f"{ref.v} ({origin})"


def _type_note(node, ckpt: str, facts, project) -> Location:
    """The config.json `model_type` line (for a bundled snapshot, the line of models.json) as a related location."""
    if facts.kind == "local":
        return node.anchor.with_note(f"model_type `{ckpt}`")
    return node.anchor.with_note(f"model_type `{ckpt}` in {config_where(facts, project.display)}")


def _model_class(event):
    """(description, model_type, base_config_key, transformers class) of the class a load builds."""
    if event.cls_name.startswith(("Auto", "Peft", "AutoPeft")):
        return None
    klass = event.project_class
    if klass is None:
        if not _from_transformers(event.file, event.node):
            return None
        found = class_config_type(event.cls_name)
        return None if found is None else (event.cls_name, found[0], found[1], event.cls_name)
    from ckpt_lint.values import ClassRef, ExternalRef

    for item in klass.mro():  # an explicit `config_class = ...` in the project wins
        if isinstance(item, ClassRef) and "config_class" in item.attrs:
            val = item.attrs["config_class"]
            if not val.known or not isinstance(val.v, ExternalRef) or not _transformers_name(val.v.qualname):
                return None
            found = class_config_type(val.v.leaf)
            if found is None:
                return None
            return f"{klass.name} (config_class {val.v.leaf})", found[0], found[1], val.v.leaf
    for base in klass.external_bases():
        if base.leaf.startswith(("Auto", "Peft")):
            return None
        if not _transformers_name(base.qualname):
            continue
        found = class_config_type(base.leaf)
        if found is not None:
            return f"{klass.name} (a {base.leaf})", found[0], found[1], base.leaf
    return None


def _model_fix(event, written: str, ckpt: str, model_type: str) -> str:
    other = matching_class(written, ckpt)
    if event.project_class is not None:
        if other:
            return (f"derive {event.project_class.name} from {other} (model_type `{ckpt}`), "
                    f"or load a `{model_type}` checkpoint")
        return f"load a `{model_type}` checkpoint, or derive {event.project_class.name} from the `{ckpt}` classes"
    auto = auto_class(written)
    options = " or ".join(x for x in (auto, other) if x)
    if options:
        return f"use {options} for this `{ckpt}` checkpoint, or load a `{model_type}` checkpoint"
    return f"use the Auto class or the `{ckpt}` class, or load a `{model_type}` checkpoint"


def _tokenizer_class(event) -> str | None:
    if event.cls_name.startswith("Auto"):
        return None
    if event.project_class is None:
        return event.cls_name if _from_transformers(event.file, event.node) else None
    for base in event.project_class.external_bases():
        if _transformers_name(base.qualname) and tokenizer_model_types(base.leaf):
            return base.leaf
    return None


def _named_tokenizer(project, facts):
    """(class name, Node) that tokenizer_config.json (else config.json) names; _REMOTE for remote code."""
    path = facts.file("tokenizer_config.json")
    cfg = project.data(path, "json") if path is not None else None
    if cfg is not None and cfg.is_map:
        if cfg.get("auto_map") is not None:
            return _REMOTE, None
        stated = cfg.get("tokenizer_class")
        if stated is not None and isinstance(stated.value, str) and stated.value:
            return stated.value, stated
    stated = facts.config.get("tokenizer_class")
    if stated is not None and isinstance(stated.value, str) and stated.value:
        return stated.value, stated
    return None, None


def _tokenizer_of(name: str) -> str:
    """"the tokenizer of model_type `roberta`" (its own family), else the first types it is registered for."""
    types = tokenizer_model_types(name) or []
    own = class_config_type(canonical_tokenizer(name).removesuffix("Tokenizer") + "Config")
    if own is not None and own[0] in types:
        return f"the tokenizer of model_type `{own[0]}`"
    shown = ", ".join(f"`{t}`" for t in types[:3]) + (", ..." if len(types) > 3 else "")
    return f"the tokenizer of model_types {shown}"


def _missing(facts, files: list[str]) -> bool:
    """A local checkpoint folder that has none of the tokenizer class's own vocabulary files."""
    if facts.kind != "local" or facts.path is None or not facts.path.is_dir() or not files:
        return False
    return not any((facts.path / name).is_file() for name in files)


def _fast_json(cls_name: str, facts) -> bool:
    """4.x: a *Fast class reads the folder's tokenizer.json as it is."""
    return cls_name.endswith("Fast") and facts.path is not None and (facts.path / "tokenizer.json").is_file()


def _transformers_name(qualname: str) -> bool:
    return qualname.split(".", 1)[0] == "transformers"


def _from_transformers(file, node) -> bool:
    """False when the class in `Name.from_pretrained(...)` is imported from another library
    (fairseq's RobertaModel); True when it is transformers' or we cannot tell."""
    if file is None or not isinstance(node, cst.Call) or not isinstance(node.func, cst.Attribute):
        return True
    root = node.func.value
    while isinstance(root, cst.Attribute):
        root = root.value
    if not isinstance(root, cst.Name):
        return True
    origin = _imports(file).get(root.value)
    return origin is None or origin == "transformers"


_IMPORTS: dict[int, tuple[object, dict[str, str]]] = {}


def _imports(file) -> dict[str, str]:
    """Name bound by an import -> the top-level package it comes from ("" for relative imports)."""
    cached = _IMPORTS.get(id(file))
    if cached is not None and cached[0] is file:
        return cached[1]
    names: dict[str, str] = {}
    for node in walk(file.module):
        if isinstance(node, cst.ImportFrom) and not isinstance(node.names, cst.ImportStar):
            module = file.module.code_for_node(node.module) if node.module is not None else ""
            root = "" if node.relative else module.split(".", 1)[0]
            for alias in node.names:
                bound = alias.asname.name if alias.asname is not None else alias.name
                if isinstance(bound, cst.Name):
                    names[bound.value] = root
        elif isinstance(node, cst.Import):
            for alias in node.names:
                dotted = file.module.code_for_node(alias.name)
                if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                    names[alias.asname.name.value] = dotted.split(".", 1)[0]
                else:
                    names[dotted.split(".", 1)[0]] = dotted.split(".", 1)[0]
    _IMPORTS[id(file)] = (file, names)
    return names


def _uncertain_nodes(sites) -> set[int]:
    """Calls that may not run: inside an `except` handler or a conditional expression, or in one
    branch of an if/elif chain whose other branches also made such calls (the evaluator could not
    decide the test, so it ran them all). `sites` are the (file, call node, launch) of every load;
    branches taken in different launches (a run.sh per configuration) do not make each other uncertain."""
    out: set[int] = set()
    branches: dict[tuple, dict[int, set[int]]] = {}  # (file, If chain, launch) -> branch -> call nodes
    for file, call, launch in sites:
        if file is None or call is None:
            continue
        parents = _parents(file)
        child, node = call, parents.get(id(call))
        while node is not None:
            if isinstance(node, cst.ExceptHandler):
                out.add(id(call))
            elif isinstance(node, cst.IfExp) and child is not node.test:
                out.add(id(call))
            elif isinstance(node, cst.If) and child is not node.test and child is not node.orelse:
                head, index = _chain(node, child, parents)
                branches.setdefault((id(file), id(head), launch), {}).setdefault(index, set()).add(id(call))
            elif isinstance(node, cst.Else):
                owner = parents.get(id(node))
                if isinstance(owner, cst.If):
                    head, index = _chain(owner, node, parents)
                    branches.setdefault((id(file), id(head), launch), {}).setdefault(index, set()).add(id(call))
            child, node = node, parents.get(id(node))
    for chain in branches.values():
        if len(chain) > 1:
            for nodes in chain.values():
                out.update(nodes)
    return out


def _chain(node, child, parents):
    """(first If of an if/elif chain, branch number) for `child` (body or Else) directly under If `node`."""
    index = 0 if child is node.body else 1
    while True:
        parent = parents.get(id(node))
        if isinstance(parent, cst.If) and parent.orelse is node:
            node, index = parent, index + 1
            continue
        return node, index


_PARENTS: dict[int, tuple[object, dict[int, object]]] = {}


def _parents(file) -> dict[int, object]:
    cached = _PARENTS.get(id(file))
    if cached is not None and cached[0] is file:
        return cached[1]
    table: dict[int, object] = {}
    stack = [file.module]
    while stack:
        current = stack.pop()
        for sub in current.children:
            table[id(sub)] = current
            stack.append(sub)
    _PARENTS[id(file)] = (file, table)
    return table


