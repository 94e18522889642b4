"""An adapter loaded onto a base of another size (hidden/intermediate width)."""

from __future__ import annotations

from ckpt_lint.adapters import lora_tensors, module_of, resolve
from ckpt_lint.diagnostics import Location, Severity
from ckpt_lint.rule import Rule
from ckpt_lint.vocab import config_where

# LoRA targets whose input is the model's hidden size / intermediate size, and whose output is the
# hidden size (names across Llama/Qwen/Mistral, BERT, GPT-2, ChatGLM, Baichuan, Falcon).
IN_HIDDEN = {"q_proj", "k_proj", "v_proj", "gate_proj", "up_proj", "query", "key", "value", "query_key_value",
             "W_pack", "c_attn", "dense_h_to_4h", "fc1", "c_fc", "wq", "wk", "wv", "w1", "w3", "qkv_proj",
             "gate_up_proj"}
IN_INTERMEDIATE = {"down_proj", "dense_4h_to_h", "fc2", "w2"}
OUT_HIDDEN = {"o_proj", "down_proj", "dense_4h_to_h", "fc2", "w2", "wo"}
HIDDEN_KEYS = (("hidden_size",), ("d_model",), ("n_embd",), ("text_config", "hidden_size"))
INTERMEDIATE_KEYS = (("intermediate_size",), ("ffn_hidden_size",), ("n_inner",), ("text_config", "intermediate_size"))


def _config_size(facts, keys_list, display):
    for keys in keys_list:
        node = facts.config.path(*keys) if facts.config is not None else None
        if node is not None and isinstance(node.value, int) and not isinstance(node.value, bool):
            where = config_where(facts, display)
            return node.value, f"{'.'.join(keys)} in {where}", node.loc
    return None


def _base_weight(tensors, module: str):
    """The base tensor a LoRA module wraps, allowing for one missing/extra leading prefix."""
    candidates = [module, module.split(".", 1)[1] if "." in module else module, f"model.{module}"]
    for name in candidates:
        info = tensors.get(f"{name}.weight")
        if info is not None and len(info.shape) == 2:
            return info
    return None


class AdapterBaseMismatch(Rule):
    """An adapter's LoRA shapes do not fit the base model it is loaded onto.

    ## What it does
    For each adapter load (`PeftModel.from_pretrained`, `load_adapter`, `AutoPeftModelFor*`, a
    training YAML), compares every `lora_A` (`[r, in_features]`) and `lora_B` (`[out_features, r]`)
    in the adapter's safetensors header with the module it wraps in the base actually loaded: the
    base's own header when it has one, else its config (`hidden_size`, `intermediate_size`).

    ## Why is this bad?
    A LoRA adapter is bound to its base's widths. One trained on a 13B base (hidden 5120) loaded onto
    a 7B (4096) fails with `size mismatch for ...q_proj.lora_A.default.weight: copying a param with
    shape [8, 5120] from checkpoint, the shape in current model is [8, 4096]`. PeftModel never checks
    `base_model_name_or_path`, so the wrong base is only found at load time.

    ## Example
    ```python
    base = AutoModelForCausalLM.from_pretrained("meta-llama/Llama-2-7b-hf")
    model = PeftModel.from_pretrained(base, "lora-llama2-13b")
    ```

    ## How to fix
    Load the base the adapter was trained on (its `adapter_config.json` `base_model_name_or_path`).
    """

    code = "CKL301"
    name = "adapter-base-mismatch"
    severity = Severity.ERROR

    def check(self, project):
        for load in project.adapter_loads:
            resolved = resolve(project, load)
            if resolved is None or resolved.base is None or resolved.ignore_mismatched:
                continue
            found = self._mismatch(project, resolved)
            if found is None:
                continue
            key, info, stored, expected, what, loc = found
            adapter = resolved.adapter
            name = project.display(adapter.path) if adapter.path else adapter.ref
            base_name = resolved.base_ref.v if resolved.base_ref is not None and resolved.base_ref.known else "the base"
            trained_on = adapter.adapter_value("base_model_name_or_path")
            extra = f"; its adapter_config.json names {trained_on}" if isinstance(trained_on, str) and trained_on != base_name else ""
            related = [Location(info.file, 1, 1, note=f"`{key}` is {list(info.shape)}")]
            if loc is not None:
                related.append(loc.with_note(what))
            if resolved.base_site is not None and resolved.base_site != load.site:
                related.append(resolved.base_site.with_note("base loaded here"))
            yield self.finding(
                load.site,
                f"adapter {name} was trained on a base of width {stored} (`{key}` is {list(info.shape)}{extra}) "
                f"but {base_name} has {expected} ({what}): {load.how.split(' ')[0]} fails with a size mismatch",
                fix="load the base the adapter was trained on" + (f" ({trained_on})" if isinstance(trained_on, str) else ""),
                related=related,
            )

    @staticmethod
    def _mismatch(project, resolved):
        base = resolved.base
        lora = lora_tensors(resolved.adapter)
        if not lora:
            return None
        if base.tensors:
            for key, kind, info in lora:
                if kind not in ("A", "B") or len(info.shape) != 2:
                    continue
                weight = _base_weight(base.tensors, module_of(key))
                if weight is None:
                    continue
                out_f, in_f = weight.shape
                stored, expected = (info.shape[1], in_f) if kind == "A" else (info.shape[0], out_f)
                if stored and stored != expected:
                    return key, info, stored, expected, f"`{weight.name}` is {list(weight.shape)} in {project.display(weight.file)}", None
            return None
        hidden = _config_size(base, HIDDEN_KEYS, project.display)
        inter = _config_size(base, INTERMEDIATE_KEYS, project.display)
        for key, kind, info in lora:
            if kind not in ("A", "B") or len(info.shape) != 2:
                continue
            leaf = module_of(key).rsplit(".", 1)[-1]
            want = None
            if kind == "A" and leaf in IN_HIDDEN:
                want, stored = hidden, info.shape[1]
            elif kind == "A" and leaf in IN_INTERMEDIATE:
                want, stored = inter, info.shape[1]
            elif kind == "B" and leaf in OUT_HIDDEN:
                want, stored = hidden, info.shape[0]
            if want is not None and stored and stored != want[0]:
                return key, info, stored, want[0], want[1], want[2]
        return None
