"""Adapter rules: what an adapter folder says about itself (rank, empty tensors), and what the
script does with it (merging onto a quantized base, tied embeddings, a classification head that
is never saved)."""

from __future__ import annotations

import re

from ckpt_lint.adapters import adapter_sites, lora_tensors, module_of, resolve
from ckpt_lint.diagnostics import Location, Severity
from ckpt_lint.evaluate_models import QUANT_CONFIGS, base_event
from ckpt_lint.rule import Rule
from ckpt_lint.values import ExternalRef, HFConfig
from ckpt_lint.vocab import INPUT_EMBEDDINGS, OUTPUT_EMBEDDINGS, config_where

HEAD_NAMES = ("classifier", "score", "classification_head", "out_proj", "qa_outputs")
_CLS_TASKS = ("SEQ_CLS", "TOKEN_CLS")  # peft adds classifier/score to modules_to_save for these


def _key_loc(project, facts, key: str, fallback: Location) -> Location:
    node = facts.adapter_config.get(key) if facts.adapter_config is not None else None
    if node is not None and facts.adapter_config_path is not None and _inside(project, facts.adapter_config_path):
        return node.key_loc or node.loc
    return fallback


def _inside(project, path) -> bool:
    return path == project.root or project.root in path.parents


class LoraRankMismatch(Rule):
    """adapter_config.json's `r` (or `rank_pattern`) disagrees with the LoRA weights it sits beside.

    ## What it does
    Reads `r` and `rank_pattern` from `adapter_config.json` and the shapes of `lora_A`
    (`[r, in_features]`), `lora_B` (`[out_features, r]`) and `lora_embedding_A` from the
    `adapter_model.safetensors` header, and reports modules whose stored rank differs from the rank
    the config gives them (`rank_pattern` keys match module names the way peft does).

    ## Why is this bad?
    peft builds the LoRA layers from the config, then copies the weights in: a config copied from
    another adapter (`r: 16` beside `r = 8` weights) fails with `size mismatch for ...lora_A.default.weight:
    copying a param with shape [8, 4096] from checkpoint, the shape in current model is [16, 4096]`.

    ## Example
    ```json
    {"peft_type": "LORA", "r": 16, "target_modules": ["q_proj", "v_proj"]}
    ```
    beside weights saved with `r=8`.

    ## How to fix
    Use the `adapter_config.json` saved with these weights (or set `r` / `rank_pattern` to the stored
    ranks).
    """

    code = "CKL206"
    name = "lora-rank-mismatch"
    severity = Severity.ERROR

    def check(self, project):
        for site in adapter_sites(project):
            facts = site.facts
            peft_type = facts.adapter_value("peft_type")
            r = facts.adapter_value("r")
            if peft_type not in (None, "LORA") or not isinstance(r, int) or isinstance(r, bool):
                continue
            pattern = facts.adapter_value("rank_pattern") or {}
            pattern = pattern if isinstance(pattern, dict) else {}
            for key, kind, info in lora_tensors(facts):
                if kind in ("A", "EA"):
                    stored = info.shape[0] if info.shape else None
                elif kind in ("B", "EB") and len(info.shape) == 2:
                    stored = info.shape[1]
                else:
                    continue
                if stored is None or stored == 0:
                    continue  # empty tensors are CKL207's
                module = module_of(key)
                matched = next((p for p in pattern if re.match(rf"(.*\.)?({p})$", module)), None)
                expected = pattern[matched] if matched is not None else r
                if not isinstance(expected, int) or stored == expected:
                    continue
                said = f"rank_pattern[{matched!r}] = {expected}" if matched is not None else f"r = {expected}"
                cfg = project.display(facts.adapter_config_path) if facts.adapter_config_path else "adapter_config.json"
                loc = _key_loc(project, facts, "rank_pattern" if matched is not None else "r", site.site)
                related = [Location(info.file, 1, 1, note=f"`{key}` is {list(info.shape)}")]
                if site.load is not None and site.load.site != loc:
                    related.append(site.load.site.with_note("adapter loaded here"))
                yield self.finding(
                    loc,
                    f"{cfg} says {said} for `{module}` but its stored LoRA rank is {stored} "
                    f"(`{key}` is {list(info.shape)} in {project.display(info.file)}): loading the adapter fails "
                    f"with a size mismatch",
                    fix=f"use the adapter_config.json saved with these weights (r = {stored} for this module)",
                    related=related,
                )
                break  # one finding per adapter: the rest follow from the same config


class EmptyTensors(Rule):
    """An adapter or checkpoint stores `[0]`-shaped tensors (saved under DeepSpeed ZeRO-3 without gathering).

    ## What it does
    Reads the safetensors headers of every adapter the project contains or loads and of every
    checkpoint a `from_pretrained` loads, and reports tensors with zero elements.

    ## Why is this bad?
    Under ZeRO-3 each rank holds a shard; saving without gathering writes empty placeholders.
    Loading fails with `size mismatch ... copying a param with shape torch.Size([0]) from checkpoint`
    (or "the vocab size of the LoRA weight is 0").

    ## Example
    `adapter_model.safetensors` with `base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight: [0]`.

    ## How to fix
    Save again with the weights gathered: DeepSpeed `stage3_gather_16bit_weights_on_model_save: true`,
    or `accelerator.get_state_dict(model)` / `zero_to_fp32.py` before `save_pretrained`.
    """

    code = "CKL207"
    name = "empty-tensors"
    severity = Severity.ERROR

    def check(self, project):
        for site in adapter_sites(project):
            yield from self._report(project, site.facts.adapter_tensors, "adapter", site.facts.path or site.facts.ref,
                                    site.load.site if site.load is not None else site.site)
        seen = set()
        for event in project.events:
            facts = project.model(event.ref, event.base_dirs, revision=event.kwargs.get("revision"),
                                  subfolder=event.kwargs.get("subfolder"))
            if facts is None or not facts.tensors or (facts.path, event.site) in seen:
                continue
            seen.add((facts.path, event.site))
            yield from self._report(project, facts.tensors, "checkpoint", facts.path or facts.ref, event.site)

    def _report(self, project, tensors, what, where, loc):
        empty = [info for info in (tensors or {}).values() if any(d == 0 for d in info.shape)]
        if not empty:
            return
        first = empty[0]
        shown = project.display(where) if not isinstance(where, str) else where
        yield self.finding(
            loc,
            f"{what} {shown} stores {len(empty)} empty tensor{'s' if len(empty) != 1 else ''} "
            f"(`{first.name}` is {list(first.shape)} in {project.display(first.file)}), as DeepSpeed ZeRO-3 saves "
            f"without gathering: loading it fails with a size mismatch",
            fix="save again with gathered weights (stage3_gather_16bit_weights_on_model_save: true, or "
                "zero_to_fp32.py)",
            related=[Location(first.file, 1, 1, note=f"{len(empty)} of {len(tensors)} tensors are empty")],
        )


def _truthy_known(val) -> bool:
    return val is not None and val.known and bool(val.v) is True and not isinstance(val.v, (dict, list))


def quantized(kwargs, facts) -> str | None:
    """How a base is quantized at load (kwargs or its config.json), or None."""
    for key in ("load_in_8bit", "load_in_4bit"):
        if _truthy_known(kwargs.get(key)):
            return f"{key}=True"
    qbit = kwargs.get("quantization_bit")  # LLaMA-Factory YAML
    if qbit is not None and qbit.known and isinstance(qbit.v, int):
        return f"quantization_bit: {qbit.v}"
    qc = kwargs.get("quantization_config")
    if qc is not None and qc.known and isinstance(qc.v, HFConfig) and qc.v.cls_name in QUANT_CONFIGS:
        cfg = qc.v
        if cfg.cls_name == "BitsAndBytesConfig":
            for key in ("load_in_8bit", "load_in_4bit"):
                if _truthy_known(cfg.kwargs.get(key)):
                    return f"BitsAndBytesConfig({key}=True)"
            return None
        return f"{cfg.cls_name}(...)"
    if facts is not None and facts.config is not None:
        method = facts.config_value("quantization_config", "quant_method")
        if isinstance(method, str):
            return f"quantization_config.quant_method {method!r} in its config.json"
    return None


def _peft_version(project, near):
    pin = project.pins(near).get("peft")
    if pin is None or not pin.version:
        return None, "no peft pin found, 0.21 assumed" if pin is None else f"peft{pin.spec} allows 0.6+"
    try:
        parts = tuple(int(x) for x in re.findall(r"\d+", pin.version)[:2])
    except ValueError:
        return None, ""
    return parts, f"peft {pin.version} pinned"


class MergeQuantizedBase(Rule):
    """`merge_and_unload()` on an adapter loaded onto a 4-bit/8-bit (or GPTQ) base.

    ## What it does
    Follows the base model into `PeftModel.from_pretrained` and the result into `merge_and_unload()`
    / `merge_adapter()`, and reports a merge when the base was loaded quantized (`load_in_4bit`,
    `load_in_8bit`, `quantization_config=BitsAndBytesConfig(...)`/`GPTQConfig`/..., or a base whose
    config.json has a `quantization_config`), and LLaMA-Factory exports with `quantization_bit`.

    ## Why is this bad?
    peft before 0.6 refuses: `ValueError: Cannot merge LORA layers when the model is loaded in 8-bit
    mode` (also for 4-bit). peft 0.6 and later merge into bitsandbytes layers only approximately
    (dequantize, add, re-quantize: "may get different generations due to rounding errors"), and the
    merged model keeps quantized weights. GPTQ bases are refused by every version (`Cannot merge LORA
    layers when the model is gptq quantized`).

    ## Example
    ```python
    base = AutoModelForCausalLM.from_pretrained(path, load_in_8bit=True)
    model = PeftModel.from_pretrained(base, adapter).merge_and_unload()
    ```

    ## How to fix
    Load the base in float16/bfloat16 for the merge (`torch_dtype=torch.float16`, no quantization),
    merge, save, then quantize the merged model if needed.
    """

    code = "CKL204"
    name = "merge-quantized-base"
    severity = Severity.WARNING

    def check(self, project):
        for load in project.adapter_loads:
            merges = self._merges(load)
            if not merges:
                continue
            resolved = resolve(project, load)
            kwargs = resolved.base_kwargs if resolved is not None else (load.base_load.kwargs if load.base_load else {})
            facts = resolved.base if resolved is not None else None
            how = quantized(kwargs, facts)
            if how is None:
                continue
            version, why = _peft_version(project, merges[0].site.path)
            gptq = "gptq" in how.lower()
            if gptq:
                outcome = "peft refuses it (`Cannot merge LORA layers when the model is gptq quantized`)"
            elif version is not None and version < (0, 6):
                outcome = f"{why}: it raises `ValueError: Cannot merge LORA layers when the model is loaded in 8-bit mode`"
            else:
                outcome = (f"peft 0.6+ ({why}) merges into the quantized layers only approximately and keeps "
                           f"quantized weights; peft < 0.6 raises `Cannot merge LORA layers when the model is "
                           f"loaded in 8-bit mode`")
            if how.startswith("load_in_"):
                major, tf_why = project.library_major("transformers", near=merges[0].site.path)
                if major >= 5:
                    outcome += (f"; transformers {major} ({tf_why}) also rejects the `{how.split('=')[0]}` keyword (TypeError): "
                                f"use quantization_config=BitsAndBytesConfig(...)")
            related = []
            if resolved is not None and resolved.base_site is not None:
                related.append(resolved.base_site.with_note(f"base loaded with {how}"))
            related.append(load.site.with_note("adapter loaded here"))
            yield self.finding(
                merges[0].site,
                f"merging an adapter into a base loaded with {how}: {outcome}",
                fix="load the base unquantized (torch_dtype=torch.float16) for the merge, then quantize the merged model",
                related=related,
            )

    @staticmethod
    def _merges(load):
        result = load.result
        if load.how == "LLaMA-Factory":
            return [s for s in load.base_steps if s.kind == "merge"]
        if result is None:
            return []
        start = len(load.base_steps)
        return [s for s in result.steps[start:] if s.kind == "merge"]


def _names(value) -> set[str]:
    if isinstance(value, str):
        return {value}
    if isinstance(value, (list, tuple)):
        return {v for v in value if isinstance(v, str)}
    return set()


def _last(name: str) -> str:
    return name.rsplit(".", 1)[-1]


class TiedEmbeddingsTrained(Rule):
    """An adapter trains both the input embeddings and lm_head of a base that ties them.

    ## What it does
    Reports adapters (a `LoraConfig(modules_to_save=[...])` passed to `get_peft_model`, or an
    adapter_config.json loaded onto a base) whose `modules_to_save` holds both the input embedding
    (`embed_tokens`, `wte`, ...) and the output head (`lm_head`, ...) when the base's config has
    `tie_word_embeddings: true`.

    ## Why is this bad?
    Tied models share one matrix. Training separate copies unties them: peft 0.21 warns ("a tied
    layer is part of the adapter, but `ensure_weight_tying` is not set") and unties the merged model;
    older peft merges silently, and a merged model saved with the tied config reloads with `lm_head`
    replaced by the embeddings — no error, a collapsed model.

    ## Example
    ```python
    LoraConfig(target_modules=["q_proj", "v_proj"], modules_to_save=["embed_tokens", "lm_head"])
    ```
    on Qwen2.5-0.5B (`tie_word_embeddings: true`).

    ## How to fix
    Train one of them (`modules_to_save=["embed_tokens"]`), or pass `ensure_weight_tying=True`
    (peft 0.21+), or set `tie_word_embeddings=False` in the base config before training and keep it
    untied everywhere.
    """

    code = "CKL205"
    name = "tied-embeddings-trained"
    severity = Severity.WARNING

    def check(self, project):
        for wrap in project.peft_wraps:
            cfg = wrap.config
            if cfg is None or wrap.base is None:
                continue
            mts = cfg.kwargs.get("modules_to_save")
            if mts is None or not mts.known or _truthy_known(cfg.kwargs.get("ensure_weight_tying")):
                continue
            facts = _facts_of(project, wrap.base)
            tie = _tied(project, facts)
            if tie is None or not self._both(mts.v):
                continue
            yield self._finding(project, mts.site or wrap.site, mts.v, tie, [wrap.site.with_note("get_peft_model")])
        for load in project.adapter_loads:
            resolved = resolve(project, load)
            if resolved is None or resolved.base is None:
                continue
            mts = resolved.adapter.adapter_value("modules_to_save")
            tie = _tied(project, resolved.base)
            if tie is None or not self._both(mts) or resolved.adapter.adapter_value("ensure_weight_tying") is True:
                continue
            related = []
            node = resolved.adapter.adapter_config.get("modules_to_save")
            if node is not None:
                related.append(node.loc.with_note("modules_to_save"))
            yield self._finding(project, load.site, mts, tie, related)

    @staticmethod
    def _both(modules) -> bool:
        names = {_last(n) for n in _names(modules)}
        return bool(names & set(INPUT_EMBEDDINGS)) and bool(names & set(OUTPUT_EMBEDDINGS))

    def _finding(self, project, loc, modules, tie, related):
        shown = ", ".join(sorted(_names(modules)))
        version, why = _peft_version(project, loc.path)
        if version is not None and version < (0, 21):
            outcome = (f"with {why} the merge keeps the tied config, so the saved merged model reloads with "
                       f"lm_head overwritten by the embeddings")
        else:
            outcome = (f"peft 0.21 ({why}) warns and unties them on merge; older peft keeps the tied config and "
                       f"the saved merged model reloads with lm_head overwritten by the embeddings")
        return self.finding(
            loc,
            f"the adapter trains {shown} separately but the base ties them ({tie[0]}): {outcome}",
            fix="train only embed_tokens, or pass ensure_weight_tying=True (peft 0.21+), or untie the base config "
                "before training",
            related=[*related, tie[1]],
        )


def _tied(project, facts) -> tuple[str, Location] | None:
    """(description, location) of `tie_word_embeddings: true` in a base's config, or None."""
    if facts is None or facts.config is None:
        return None
    node = facts.config.get("tie_word_embeddings")
    if node is None or node.value is not True:
        return None
    return (f"tie_word_embeddings: true in {config_where(facts, project.display)}",
            node.loc.with_note("tie_word_embeddings"))


def _facts_of(project, obj):
    event = base_event(obj)
    if event is None or getattr(event, "ref", None) is None:
        return None
    return project.model(event.ref, event.base_dirs, revision=event.kwargs.get("revision"),
                         subfolder=event.kwargs.get("subfolder"))


def _task(val) -> str | None:
    """'SEQ_CLS' for "SEQ_CLS", TaskType.SEQ_CLS; None when unknown; '' when not given."""
    if val is None:
        return ""
    if not val.known:
        return None
    if isinstance(val.v, str):
        return val.v
    if isinstance(val.v, ExternalRef):
        return val.v.leaf
    return "" if val.v is None else None


def _classifier(cls_names) -> str | None:
    for name in cls_names:
        if "ForSequenceClassification" in name or "ForTokenClassification" in name:
            return name
    return None


def _has_head(facts) -> bool | None:
    """Whether a base checkpoint already carries a classification head (None: unknown)."""
    if facts is None:
        return None
    if facts.tensors is not None:
        return any(_last(k.rsplit(".", 1)[0]) in HEAD_NAMES for k in facts.tensors)
    archs = facts.config_value("architectures")
    if isinstance(archs, list):
        return _classifier(archs) is not None
    return None


class HeadNotSaved(Rule):
    """A LoRA on a classification model that neither trains nor saves the classification head.

    ## What it does
    Reports `get_peft_model(model, LoraConfig(...))` on a `*ForSequenceClassification` /
    `*ForTokenClassification` model whose base checkpoint has no head, when the config's `task_type`
    is not `SEQ_CLS`/`TOKEN_CLS` (for those peft adds `classifier`/`score` itself) and
    `modules_to_save` does not name the head; and `PeftModel.from_pretrained` of such an adapter onto a
    classification model.

    ## Why is this bad?
    The head is created randomly when the model is built. Without `modules_to_save` it is neither
    trained nor written to the adapter, so every reload gets a new random head: no error, random
    predictions (peft #577, #876, #1070).

    ## Example
    ```python
    model = AutoModelForSequenceClassification.from_pretrained("meta-llama/Llama-2-7b-hf", num_labels=3)
    model = get_peft_model(model, LoraConfig(task_type="CAUSAL_LM", target_modules=["q_proj", "v_proj"]))
    ```

    ## How to fix
    `LoraConfig(task_type="SEQ_CLS", ...)` (peft then saves `score`/`classifier`), or add the head
    to `modules_to_save`.
    """

    code = "CKL208"
    name = "head-not-saved"
    severity = Severity.WARNING

    def check(self, project):
        for wrap in project.peft_wraps:
            cfg = wrap.config
            if cfg is None or wrap.base is None:
                continue
            event = base_event(wrap.base)
            cls = _classifier([getattr(event, "cls_name", ""), *getattr(event, "hf_bases", ())])
            if cls is None:
                continue
            task = _task(cfg.kwargs.get("task_type"))
            mts = cfg.kwargs.get("modules_to_save")
            if task is None or task in _CLS_TASKS or (mts is not None and not mts.known):
                continue
            if {_last(n) for n in _names(mts.v if mts is not None else None)} & set(HEAD_NAMES):
                continue
            if _has_head(_facts_of(project, wrap.base)) is not False:
                continue
            why = f"task_type={task!r}" if task else "no task_type"
            yield self.finding(
                cfg.site or wrap.site,
                f"LoRA on {cls} with {why} and no head in modules_to_save: the classification head stays "
                f"random, is not trained and is not saved with the adapter",
                fix='use LoraConfig(task_type="SEQ_CLS", ...) or add the head ("score"/"classifier") to modules_to_save',
                related=[event.site.with_note(f"{cls} loaded here")] if event is not None else [],
            )
        for load in project.adapter_loads:
            resolved = resolve(project, load)
            if resolved is None or resolved.base is None or load.base is None:
                continue
            event = load.base_load
            cls = _classifier([getattr(event, "cls_name", ""), *getattr(event, "hf_bases", ())])
            if cls is None or _has_head(resolved.base) is not False:
                continue
            adapter = resolved.adapter
            task = adapter.adapter_value("task_type") or ""
            names = {_last(n) for n in _names(adapter.adapter_value("modules_to_save"))}
            saved = any(_last(module_of(k)) in HEAD_NAMES for k in (adapter.adapter_tensors or {}))
            if task in _CLS_TASKS or names & set(HEAD_NAMES) or saved or adapter.adapter_tensors is None:
                continue
            yield self.finding(
                load.site,
                f"adapter {project.display(adapter.path) if adapter.path else adapter.ref} has no classification head "
                f"(task_type {task or 'not set'}, no head in modules_to_save) but is loaded onto {cls}: the head "
                f"is random on every load",
                fix='retrain with LoraConfig(task_type="SEQ_CLS") so the head is saved with the adapter',
                related=[event.site.with_note(f"{cls} loaded here")] if event is not None else [],
            )
