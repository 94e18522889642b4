"""How the evaluator follows what happens to loaded models and tokenizers: resizes, added tokens,
PEFT adapter loads and merges (recorded as `flow.Step`s and `flow.AdapterLoad`s)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .diagnostics import Location
from .flow import SAME_MODEL, AdapterLoad, PeftWrap, Step
from .values import UNKNOWN, UNKNOWN_DATA, HFConfig, HFObject, Val, known, merge_origins

if TYPE_CHECKING:  # pragma: no cover
    from .evaluate import Frame

# PEFT classes whose from_pretrained puts an adapter on a model the script passes in.
PEFT_WRAPPERS = ("PeftModel", "PeftMixedModel")
# Quantization configs: `quantization_config=BitsAndBytesConfig(load_in_4bit=True)`.
QUANT_CONFIGS = ("BitsAndBytesConfig", "GPTQConfig", "AwqConfig", "HqqConfig", "QuantoConfig", "EetqConfig",
                 "FbgemmFp8Config", "TorchAoConfig", "CompressedTensorsConfig", "BitNetConfig")


PEFT_CONFIGS = ("PeftConfig", "LoraConfig", "PromptTuningConfig", "PrefixTuningConfig", "IA3Config", "AdaLoraConfig",
                "LoHaConfig", "LoKrConfig", "OFTConfig", "BOFTConfig", "VeraConfig", "TrainableTokensConfig")


class ModelFlow:
    """Mixed into the Evaluator."""

    def _site(self, frame: "Frame", node):
        return frame.file.lazy_loc(node) if node is not None else Location(frame.file.path)

    def _step(self, obj: HFObject, kind: str, frame: "Frame", node, **values: Val) -> Step:
        step = Step(kind, self._site(frame, node), self.uncertain == 0, values,
                    frame.file.code(node, 100) if node is not None else kind)
        obj.steps.append(step)
        return step

    # -- calls on loaded objects ---------------------------------------------------------------
    def hf_method(self, target: Val, name: str, args, kwargs, frame: "Frame", *, node) -> Val:
        obj: HFObject = target.v
        if obj.role in ("model", "peft"):
            if name == "resize_token_embeddings":
                n = args[0] if args else kwargs.get("new_num_tokens", known(None))
                pad = args[1] if len(args) > 1 else kwargs.get("pad_to_multiple_of", known(None))
                step = self._step(obj, "resize", frame, node, n=self.plain(n), pad=self.plain(pad))
                self.project.resizes.append((obj, step))
                return UNKNOWN
            if name in ("merge_and_unload", "merge_adapter"):
                self._step(obj, "merge", frame, node)
                return target
            if name == "load_adapter":
                return self.adapter_load("load_adapter", target, args[0] if args else kwargs.get(
                    "peft_model_id", kwargs.get("model_id", UNKNOWN)), kwargs, frame, node=node, same=True)
            if name in SAME_MODEL:
                return target
            if name == "get_base_model" and obj.role == "peft" and isinstance(obj.event, AdapterLoad):
                base = obj.event.base
                return known(base) if base is not None else UNKNOWN
            return UNKNOWN
        if obj.role == "tokenizer":
            if name == "add_tokens" and (args or "new_tokens" in kwargs):
                tokens = self._token_list(args[0] if args else kwargs["new_tokens"])
                self._step(obj, "tokens", frame, node, tokens=tokens)
            elif name == "add_special_tokens" and (args or "special_tokens_dict" in kwargs):
                tokens = self._special_tokens(args[0] if args else kwargs["special_tokens_dict"])
                self._step(obj, "tokens", frame, node, tokens=tokens)
            return UNKNOWN
        return UNKNOWN

    def _token_list(self, val: Val) -> Val:
        val = self.plain(val)
        if val.known and isinstance(val.v, str):
            return known([val.v], val.origins)
        if val.known and isinstance(val.v, (list, tuple)) and all(isinstance(t, str) for t in val.v):
            return known(list(val.v), val.origins)
        return Val(UNKNOWN_DATA, val.origins)

    def _special_tokens(self, val: Val) -> Val:
        val = self.plain(val)
        if not (val.known and isinstance(val.v, dict)):
            return Val(UNKNOWN_DATA, val.origins)
        tokens: list[str] = []
        for item in val.v.values():
            if isinstance(item, str):
                tokens.append(item)
            elif isinstance(item, (list, tuple)) and all(isinstance(t, str) for t in item):
                tokens.extend(item)
            else:
                return Val(UNKNOWN_DATA, val.origins)
        return known(tokens, val.origins)

    # -- len(tokenizer) ---------------------------------------------------------------------------
    def hf_len(self, val: Val) -> Val:
        obj: HFObject = val.v
        if obj.role != "tokenizer":
            return UNKNOWN
        from .vocab import tokenizer_length

        return tokenizer_length(self.project, obj)

    # -- config objects read from their files --------------------------------------------------------
    # transformers config attributes read from config.json (others keep their call-site meaning)
    _CONFIG_FILE_KEYS = ("vocab_size", "hidden_size", "model_type", "tie_word_embeddings", "intermediate_size")

    def config_file_value(self, cfg: HFConfig, name: str) -> Val | None:
        """`PeftConfig.from_pretrained(p).base_model_name_or_path`, `AutoConfig.from_pretrained(p).vocab_size`:
        the value in adapter_config.json / config.json, or None when the file does not say."""
        peft = cfg.cls_name in PEFT_CONFIGS
        if cfg.ref is None or not cfg.ref.known or (not peft and name not in self._CONFIG_FILE_KEYS):
            return None
        facts = self.project.model(cfg.ref, cfg.base_dirs)
        data = None if facts is None else (facts.adapter_config if peft else facts.config)
        node = data.get(name) if data is not None else None
        if node is None:
            return UNKNOWN if peft else None
        path = facts.adapter_config_path if peft else facts.config_path
        where = self.project.display(path) if path is not None and facts.kind == "local" else f"{facts.ref}"
        return known(node.plain(), (node.anchor.with_note(f"{name} in {where}"),))

    # -- PEFT --------------------------------------------------------------------------------------
    def peft_call(self, leaf: str, args, kwargs, frame: "Frame", *, node) -> Val | None:
        """`get_peft_model`, `prepare_model_for_kbit_training`, `LoraConfig(...)`; None if not PEFT."""
        if leaf in ("get_peft_model", "PeftModel", "PeftModelForCausalLM") and args:
            base = self.plain(args[0])
            cfg = args[1] if len(args) > 1 else kwargs.get("peft_config", UNKNOWN)
            wrap = PeftWrap(base.v if isinstance(base.v, HFObject) else None,
                            cfg.v if isinstance(cfg.v, HFConfig) else None, self._site(frame, node),
                            self.base_dirs(frame))
            self.project.peft_wraps.append(wrap)
            obj = HFObject("PeftModel", wrap, "peft")
            if wrap.base is not None:
                obj.steps = wrap.base.steps  # the same model underneath
            return known(obj)
        if leaf == "prepare_model_for_kbit_training" and args:
            return args[0]
        if leaf in PEFT_CONFIGS or leaf in QUANT_CONFIGS:
            kwargs = {k: self.plain(v) for k, v in kwargs.items()}
            return known(HFConfig(leaf, None, dict(kwargs), {}, self._site(frame, node), frame.file,
                                  self.base_dirs(frame), node))
        return None

    def peft_from_pretrained(self, cls_name: str, args, kwargs, frame: "Frame", *, node) -> Val:
        """`PeftModel.from_pretrained(base, adapter)`, `AutoPeftModelFor*.from_pretrained(adapter)`,
        `PeftConfig.from_pretrained(adapter)`."""
        if cls_name in PEFT_CONFIGS:
            ref = args[0] if args else kwargs.get("pretrained_model_name_or_path", UNKNOWN)
            return known(HFConfig(cls_name, self.plain(ref), {k: self.plain(v) for k, v in kwargs.items()}, {},
                                  self._site(frame, node), frame.file, self.base_dirs(frame), node))
        if cls_name.startswith("AutoPeftModel"):
            ref = args[0] if args else kwargs.get("pretrained_model_name_or_path", UNKNOWN)
            return self.adapter_load(f"{cls_name}.from_pretrained", None, ref, kwargs, frame, node=node)
        base = args[0] if args else kwargs.get("model", UNKNOWN)
        ref = args[1] if len(args) > 1 else kwargs.get("model_id", UNKNOWN)
        return self.adapter_load(f"{cls_name}.from_pretrained", base, ref, kwargs, frame, node=node)

    def adapter_load(self, how: str, base: Val, ref: Val, kwargs, frame: "Frame", *, node, same: bool = False) -> Val:
        base_obj = base.v if base is not None and isinstance(base.v, HFObject) else None
        if base is not None and base_obj is None:
            base_obj = False  # a base we could not follow: rules stay silent
        load = AdapterLoad(how, base_obj if base_obj is not False else None, list(base_obj.steps) if base_obj else [],
                           self.plain(ref), {k: self.plain(v) for k, v in kwargs.items()}, self._site(frame, node),
                           self.base_dirs(frame), self.uncertain == 0, scenario=self.scenario,
                           file=frame.file, node=node, tokenizers=self._tokenizers_in_scope())
        load.base_load = base_event(base_obj) if base_obj else None
        if base_obj is False:
            load.how = how + " (base not followed)"
        self.project.adapter_loads.append(load)
        if load.adapter_ref.known and isinstance(load.adapter_ref.v, str):
            self.project.extra_references.append((load.adapter_ref, load.base_dirs, load.site,
                                                  kwargs.get("revision"), kwargs.get("subfolder"), "adapter"))
        if same and base_obj:
            return base  # model.load_adapter(...) changes the model in place
        obj = HFObject(how.split(".")[0], load, "peft")
        if base_obj:
            obj.steps = base_obj.steps  # the base model lives on inside the PEFT model
        load.result = obj
        return known(obj, merge_origins(ref))


    def _tokenizers_in_scope(self) -> list:
        """Tokenizers the innermost scope of the call being evaluated binds to names, with how many of
        their steps (added tokens) had happened: fixes may write `len(name)` there."""
        scope = getattr(self, "_call_scope", None)
        if scope is None:
            return []
        return [(name, val.v, len(val.v.steps)) for name, val in scope.vars.items()
                if isinstance(val.v, HFObject) and val.v.role == "tokenizer"]


def base_event(obj: HFObject):
    """The LoadEvent that loaded a model (through PEFT wrappers)."""
    seen = 0
    while obj is not None and seen < 10:
        seen += 1
        event = obj.event
        if isinstance(event, AdapterLoad):
            if event.base_load is not None:
                return event.base_load
            obj = event.base
        elif isinstance(event, PeftWrap):
            obj = event.base
        else:
            return event
    return None

