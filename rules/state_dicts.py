"""Raw `load_state_dict` of a checkpoint whose key names do not fit the model: PEFT-wrapped and
DDP-wrapped state dicts, and buffers that changed between transformers versions."""

from __future__ import annotations

from ckpt_lint.checkpoints import (
    WRAPPER_PREFIX,
    common_wrapper_prefix,
    load_checkpoint,
    peft_names,
    target_model,
    unwrap,
)
from ckpt_lint.diagnostics import Location, Severity
from ckpt_lint.rule import Rule
from ckpt_lint.values import Checkpoint, HFObject, Instance, StateDictOf, Wrapped


def _loads(project):
    """(load, model object, wrappers, LoadedCheckpoint) for every certain load of a known checkpoint."""
    for load in project.state_dict_loads:
        if not load.certain or not isinstance(load.source.v, Checkpoint):
            continue
        model = target_model(load.target)
        if model is None:
            continue
        loaded = load_checkpoint(project, load.source.v)
        if loaded is None or loaded.checkpoint.rekeyed:
            continue
        yield load, model, unwrap(load.target)[1], loaded


def _strict(load) -> bool | None:
    return load.strict.v if load.strict.known and isinstance(load.strict.v, bool) else None


def _has_peft_inside(model) -> bool:
    """A project module holding a PEFT-wrapped model: its own names carry the PEFT infixes."""
    if not isinstance(model, Instance):
        return False
    return any(isinstance(v.v, HFObject) and v.v.role == "peft" for v in model.attrs.values())


def _what(model) -> str:
    if isinstance(model, HFObject):
        return f"a plain {model.cls_name}"
    return f"the plain `{model.cls.name}`"


def _saved_from(loaded):
    """(model object the saved state dict came from, its wrappers, the save) if the project wrote the file."""
    save = loaded.saved_by
    if save is None or not isinstance(save.obj.v, StateDictOf):
        return None
    inner, wrappers = unwrap(save.obj.v.model)
    return inner.v, wrappers, save


class PeftStateDictReload(Rule):
    """A state dict saved from a PEFT-wrapped (or DDP-wrapped) model is loaded into a plain model.

    ## What it does
    Follows `model.load_state_dict(torch.load(path))` to the checkpoint's key names (read from the
    file's header) or to the project's own `torch.save(peft_model.state_dict(), path)`. Reports
    names only a PEFT-wrapped model has (`base_model.model.…`, `….lora_A.default.weight`,
    `….base_layer.weight`, `modules_to_save`) loaded into a model that is not wrapped — an error.
    Names that all start with `module.` (saved from `DistributedDataParallel`/`DataParallel`) loaded
    into an unwrapped model, or plain names into a DDP-wrapped one, are a warning: code often strips or
    adds the prefix in ways a static reader cannot see.

    ## Why is this bad?
    `load_state_dict` raises `Missing key(s) in state_dict: "model.embed_tokens.weight", …
    Unexpected key(s) in state_dict: "base_model.model.model.embed_tokens.weight", …` (Flair #3623).
    With `strict=False` it returns the lists and leaves the model random, silently. Stripping only the
    `base_model.model.` prefix is not enough: the wrapped weights sit under `.base_layer`.

    ## Example
    ```python
    peft_model = get_peft_model(model, LoraConfig(...))
    torch.save(peft_model.state_dict(), "out/model.pt")
    ...
    model = AutoModel.from_pretrained(base)
    model.load_state_dict(torch.load("out/model.pt"))
    ```

    ## How to fix
    Save adapters with `peft_model.save_pretrained(dir)` and reload them with
    `PeftModel.from_pretrained(model, dir)`, or save `peft_model.merge_and_unload().state_dict()`.
    For DDP checkpoints, save `model.module.state_dict()` or strip the `module.` prefix on load.
    """

    code = "CKL302"
    name = "peft-state-dict-reload"
    severity = Severity.ERROR

    def check(self, project):
        for load, model, wrappers, loaded in _loads(project):
            strict = _strict(load)
            if strict is None:
                continue
            finding = self._peft(project, load, model, loaded, strict)
            if finding is None:
                finding = self._ddp(project, load, model, wrappers, loaded, strict)
            if finding is not None:
                yield finding

    def _peft(self, project, load, model, loaded, strict: bool):
        if isinstance(model, HFObject) and model.role == "peft" or _has_peft_inside(model):
            return None
        related: list[Location] = []
        if loaded.tensors:
            names = peft_names(loaded.tensors)
            if not names:
                return None
            example = next((n for n in names if ".lora_A." in n), names[0])
            count = f"all {len(names)}" if len(names) == len(loaded.tensors) else f"{len(names)} of its {len(loaded.tensors)}"
            evidence = f"{count} keys are PEFT names (e.g. `{example}`)"
        else:
            saved = _saved_from(loaded)
            if saved is None or not (isinstance(saved[0], HFObject) and saved[0].role == "peft"):
                return None
            site = saved[2].site
            evidence = f"`torch.save` of its `state_dict()` at {project.display(site.path)}:{site.line_ref} writes this path"
            related.append(site.with_note("saved from the PEFT-wrapped model here"))
        if strict:
            outcome = "load_state_dict raises Missing/Unexpected key(s)"
            severity = Severity.ERROR
        else:
            outcome = "with strict=False nothing matches and the model silently stays untrained"
            severity = Severity.WARNING
        where = _where(project, loaded)
        message = f"{where} was saved from a PEFT-wrapped model: {evidence}, but it is loaded into {_what(model)}: {outcome}"
        related.extend(_checkpoint_related(loaded))
        fix = ("save with `peft_model.save_pretrained(dir)` and load with `PeftModel.from_pretrained(model, dir)`, "
               "or save `peft_model.merge_and_unload().state_dict()`")
        return self.finding(load.site, message, fix=fix, related=related, severity=severity)

    def _ddp(self, project, load, model, wrappers: list[Wrapped], loaded, strict: bool):
        related: list[Location] = []
        if loaded.tensors:
            prefixed = bool(common_wrapper_prefix(loaded.tensors))
            if not prefixed and any(n.startswith(WRAPPER_PREFIX) for n in loaded.tensors):
                return None  # mixed: not a wrapper's doing
            example = next(iter(loaded.tensors))
        else:
            saved = _saved_from(loaded)
            if saved is None:
                return None
            prefixed = bool(saved[1])
            example = None
            related.append(saved[2].site.with_note("saved here"))
        wrapped = bool(wrappers)
        if prefixed == wrapped:
            return None
        where = _where(project, loaded)
        shown = f" (e.g. `{example}`)" if example else ""
        outcome = "load_state_dict raises Missing/Unexpected key(s)" if strict else \
            "with strict=False nothing matches and the model silently stays untrained"
        if prefixed:
            message = (f"every key of {where} starts with `module.`{shown}: it was saved from a "
                       f"DistributedDataParallel/DataParallel model, but {_what(model)} is loaded unwrapped: {outcome}")
            fix = "strip the prefix: `{k.removeprefix('module.'): v for k, v in sd.items()}`, or save `model.module.state_dict()`"
        else:
            message = (f"the model is wrapped in {wrappers[0].how} (its keys start with `module.`) but {where} "
                       f"has plain keys{shown}: {outcome}")
            fix = "load into the unwrapped model: `model.module.load_state_dict(sd)`"
            if wrappers[0].site is not None:
                related.append(wrappers[0].site.with_note(f"wrapped in {wrappers[0].how} here"))
        related.extend(_checkpoint_related(loaded))
        return self.finding(load.site, message, fix=fix, related=related, severity=Severity.WARNING)


# transformers 4.31.0 made these embedding buffers non-persistent (no longer saved or expected).
POSITION_IDS_TYPES = {"bert", "roberta", "xlm-roberta", "camembert", "electra", "ernie", "roc_bert",
                      "xlm-roberta-xl", "data2vec-text", "nezha", "layoutlm", "mpnet", "albert", "luke",
                      "markuplm", "rembert", "roformer", "splinter", "mobilebert", "megatron-bert", "qdqbert"}
NON_PERSISTENT_SINCE = (4, 31, 0)


class PositionIdsVersion(Rule):
    """A raw `load_state_dict` crosses the transformers version that stopped saving `position_ids`.

    ## What it does
    For `model.load_state_dict(torch.load(path))` into a BERT-family transformers model (BERT,
    RoBERTa, ELECTRA, ALBERT…), compares the checkpoint's `…embeddings.position_ids` buffer (read from
    the file's header) with the transformers version the project pins: from 4.31.0 the buffer is
    non-persistent, so a checkpoint saved by an older version carries a key the model does not expect,
    and one saved by a newer version lacks a key older versions expect.

    ## Why is this bad?
    `Unexpected key(s) in state_dict: "bert.embeddings.position_ids"` (transformers #24921, #25330)
    after upgrading, or `Missing key(s)` after downgrading. `from_pretrained` tolerates both; a raw
    strict `load_state_dict` does not.

    ## Example
    ```python
    model = BertForTokenClassification.from_pretrained("bert-base-chinese", num_labels=7)
    model.load_state_dict(torch.load("ckpt/model_2022.bin"))   # saved by transformers 4.20
    ```

    ## How to fix
    Drop the buffer before loading (`sd.pop("bert.embeddings.position_ids", None)`), load with
    `strict=False` and check the returned keys, or save/load with `save_pretrained`/`from_pretrained`.
    """

    code = "CKL303"
    name = "position-ids-version"
    severity = Severity.WARNING

    def check(self, project):
        for load, model, _wrappers, loaded in _loads(project):
            if _strict(load) is not True or not loaded.tensors or not self._bert_family(project, model):
                continue
            side, version_note = self._side(project, load.site.path)
            if side is None:
                continue
            buffers = [n for n in loaded.tensors if n.endswith("embeddings.position_ids")]
            words = [n for n in loaded.tensors if n.endswith("embeddings.word_embeddings.weight")]
            saved_by = _saved_version(loaded)
            where = _where(project, loaded)
            if side == "new" and buffers:
                message = (f"{where} has `{buffers[0]}`{saved_by}, a buffer transformers stopped saving in 4.31; "
                           f"this project's transformers does not expect it ({version_note}): load_state_dict raises "
                           f"Unexpected key(s)")
                fix = f"drop it before loading: `sd.pop({buffers[0]!r}, None)`"
            elif side == "old" and words and not buffers:
                key = words[0].replace("word_embeddings.weight", "position_ids")
                message = (f"{where} has no `{key}`{saved_by} (transformers >= 4.31 does not save it) but this "
                           f"project's transformers expects it ({version_note}): load_state_dict raises Missing key(s)")
                fix = "load with `strict=False` and check the returned keys, or use the transformers version that saved it"
            else:
                continue
            yield self.finding(load.site, message, fix=fix, related=_checkpoint_related(loaded))

    @staticmethod
    def _bert_family(project, model) -> bool:
        from ckpt_lint.hf import checkpoint_model_type, model_type_of_class

        objs = [model] if isinstance(model, HFObject) else [
            v.v for v in model.attrs.values() if isinstance(v.v, HFObject)] if isinstance(model, Instance) else []
        for obj in objs:
            if obj.role != "model":
                continue
            event = obj.event
            types = [model_type_of_class(n) for n in (obj.cls_name, *getattr(event, "hf_bases", ()))]
            mt = next((t for t in types if t), None)
            if mt is None and getattr(event, "ref", None) is not None:
                facts = project.model(event.ref, event.base_dirs)
                mt = checkpoint_model_type(facts) if facts is not None else None
            if mt in POSITION_IDS_TYPES:
                return True
        return False

    @staticmethod
    def _side(project, path) -> tuple[str | None, str]:
        pin = project.pins(path).get("transformers")
        major, note = project.library_major("transformers", near=path)
        if pin is None or pin.version is None:
            if major >= 5:
                return "new", note
            return None, note
        try:
            version = tuple(int(x) for x in pin.version.split(".")[:3] if x.isdigit())
        except ValueError:
            return None, note
        return ("new" if version >= NON_PERSISTENT_SINCE else "old"), note


def _saved_version(loaded) -> str:
    facts = loaded.facts
    value = facts.config_value("transformers_version") if facts is not None and facts.config is not None else None
    return f" (saved by transformers {value}, per its config.json)" if isinstance(value, str) else ""


def _where(project, loaded) -> str:
    if loaded.path is not None:
        return project.display(loaded.path) + (f'["{loaded.container}"]' if loaded.container else "")
    return str(loaded.checkpoint.ref.v)


def _checkpoint_related(loaded) -> list[Location]:
    ck = loaded.checkpoint
    out = []
    if ck.site is not None:
        out.append(ck.site.with_note(f"checkpoint read here ({ck.how})"))
    out.extend(o.with_note(f"checkpoint path: {o.note}" if o.note else "checkpoint path") for o in ck.ref.origins)
    return out
