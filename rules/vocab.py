"""Vocabulary size rules: an adapter's saved embedding rows against the base it is loaded onto,
and resizes that shrink a padded vocabulary."""

from __future__ import annotations

import libcst as cst

from ckpt_lint.adapters import resolve
from ckpt_lint.codemods import assigned_once_before, insert_line_before
from ckpt_lint.diagnostics import Fix, Location, Severity
from ckpt_lint.evaluate_models import base_event
from ckpt_lint.rule import Rule
from ckpt_lint.values import HFObject
from ckpt_lint.vocab import Rows, adapter_embedding_rows, base_rows, rows_after, tokenizer_count, tokenizer_length

_MTS_EMBEDDINGS = ("embed_tokens", "lm_head", "wte", "word_embeddings", "output_layer", "embed_out")


def _file_loc(project, path) -> Location:
    return Location(path, 1, 1, note=f"{project.display(path)} (header)")


def _saved_evidence(project, resolved):
    """(rows, description, related location) of the adapter's vocabulary, or None."""
    adapter = resolved.adapter
    saved = adapter_embedding_rows(adapter)
    if saved:
        return [(s.n, f"`{s.key}` in {project.display(s.file)}", _file_loc(project, s.file)) for s in saved]
    if adapter.adapter_tensors is None and adapter.adapter_weights_note:
        # adapter_model.bin: no header yet; the adapter's tokenizer tells the rows when it saved embeddings
        mts = adapter.adapter_value("modules_to_save") or []
        targets = adapter.adapter_value("target_modules") or []
        names = set(mts if isinstance(mts, list) else []) | set(targets if isinstance(targets, list) else [])
        if names & set(_MTS_EMBEDDINGS):
            count = tokenizer_count(project, adapter)
            if count is not None:
                return [(count.length, f"len(tokenizer) of {project.display(count.source)}, as its weights "
                         f"are a pickle", Location(count.source, 1, 1))]
    return []


def _base_after(project, resolved) -> tuple[Rows | None, object]:
    """The base's rows when the adapter is loaded, and the resize history (vocab.AfterResize)."""
    initial = base_rows(resolved.base, resolved.base_kwargs, project.display)
    if initial is None:
        return None, None
    if resolved.auto:
        count = tokenizer_count(project, resolved.adapter)
        if count is not None and count.length > initial.n:  # AutoPeftModel resizes to len(tokenizer), unpadded
            return Rows(count.length, f"AutoPeftModel resizes to len(tokenizer) of "
                        f"{project.display(count.source)}"), None
        return initial, None
    after = rows_after(initial.n, resolved.load.base_steps)
    return initial, after


class VocabResizeMissing(Rule):
    """The adapter saved more embedding rows than the base has, and nothing resizes the base first.

    ## What it does
    For each `PeftModel.from_pretrained(base, adapter)`, `base.load_adapter(adapter)`,
    `AutoPeftModelFor*.from_pretrained(adapter)` or training YAML that names a base and an adapter,
    compares the rows of the vocabulary-sized tensors the adapter saved (`embed_tokens`/`lm_head`
    from `modules_to_save`, saved embedding layers, LoRA on embeddings — read from the
    `adapter_model.safetensors` header) with the base model's rows (its `vocab_size`, or the
    embedding tensor in its header), following the script: `resize_token_embeddings` calls on the
    base before the adapter load, with `len(tokenizer)` computed from the tokenizer files plus the
    tokens the script adds. Reports when the adapter has more rows and no resize happens.

    ## Why is this bad?
    The vocabulary grew during fine-tuning (a merged Chinese vocabulary, an added pad token, chat
    tokens), so the adapter stores full-size embeddings. Loading it onto the original base fails:
    `size mismatch for base_model.model.model.embed_tokens.modules_to_save.default.weight: copying a
    param with shape [120, 32] from checkpoint, the shape in current model is [99, 32]`.

    ## Example
    ```python
    base = AutoModelForCausalLM.from_pretrained("models/llama-base")      # 32000 rows
    model = PeftModel.from_pretrained(base, "output/lora-zh")              # saved 49954 rows
    ```

    ## How to fix
    Resize the base to the adapter's vocabulary first:
    `base.resize_token_embeddings(len(tokenizer))` with the adapter's tokenizer (plus the same
    `pad_to_multiple_of` used in training), then `PeftModel.from_pretrained`. A resize that only runs
    under a condition (a `--resize_emb` flag) counts only when the condition holds in the launch.
    """

    code = "CKL201"
    name = "vocab-resize-missing"
    severity = Severity.ERROR

    def check(self, project):
        yield from _check_rows(self, project, missing=True)


class EmbeddingRowsMismatch(Rule):
    """After the script's resizes, the base's embedding rows differ from the adapter's saved rows.

    ## What it does
    Like CKL201, follows `resize_token_embeddings(n, pad_to_multiple_of=m)` calls on the base
    before the adapter is loaded (the size becomes `ceil(n / m) * m`), and compares the result with
    the rows the adapter saved. Reports any difference: a resize without the `pad_to_multiple_of`
    used in training (121 vs 128), a resize to the wrong tokenizer, or an adapter saved with fewer
    rows than the base (a vocabulary shrunk during training).

    ## Why is this bad?
    PEFT copies the saved embedding rows into the base; any difference is a load-time crash:
    `size mismatch ... copying a param with shape [128, 32] from checkpoint, the shape in current
    model is [121, 32]`. With `ignore_mismatched_sizes=True` the fine-tuned rows are dropped instead.

    ## Example
    ```python
    model.resize_token_embeddings(len(tokenizer))          # 121 rows
    model = PeftModel.from_pretrained(model, "lora-pad8")  # trained with pad_to_multiple_of=8: 128
    ```

    ## How to fix
    Resize exactly as in training: `model.resize_token_embeddings(len(tokenizer), pad_to_multiple_of=8)`,
    or to the adapter's row count.
    """

    code = "CKL202"
    name = "embedding-rows-mismatch"
    severity = Severity.ERROR

    def check(self, project):
        yield from _check_rows(self, project, missing=False)


def _check_rows(rule, project, *, missing: bool):
    for load in project.adapter_loads:
        resolved = resolve(project, load)
        if resolved is None or resolved.base is None and "vocab_size" not in resolved.base_kwargs:
            continue
        if resolved.ignore_mismatched:
            continue
        evidence = _saved_evidence(project, resolved)
        if not evidence:
            continue
        initial, after = _base_after(project, resolved)
        if initial is None:
            continue
        if after is None:  # AutoPeftModel: no script resizes
            rows, resized, last = initial.n, False, None
        else:
            if after.maybe is not None or after.rows is None:
                continue  # the base may be resized to a size we cannot tell: stay silent
            rows, resized, last = after.rows, after.resized, after.last
        bad = next(((n, desc, loc) for n, desc, loc in evidence if n != rows), None)
        if bad is None:
            continue
        n, desc, loc = bad
        is_missing = not resized and n > rows
        if is_missing != missing:
            continue
        adapter = project.display(resolved.adapter.path) if resolved.adapter.path else resolved.adapter.ref
        base_name = resolved.base_ref.v if resolved.base_ref is not None and resolved.base_ref.known else "the base"
        related = [loc.with_note(desc)]
        if initial.loc is not None:
            related.append(initial.loc.with_note(initial.what))
        if resolved.base_site is not None and resolved.base_site != load.site:
            related.append(resolved.base_site.with_note("base model loaded here"))
        scenario = load.scenario
        if scenario is not None and scenario.origin is not None:
            related.append(scenario.origin.with_note(f"launched by {project.display(scenario.shell)}"))
        how = load.how.split(" ")[0] if load.how != "LLaMA-Factory" else "LLaMA-Factory loads the adapter"
        if missing:
            related.extend(_skipped_resizes(project, load))
            message = (f"adapter {adapter} saved {n} embedding rows ({desc}) but the base {base_name} has "
                       f"{rows} ({initial.what}) and is not resized before {how}: the load fails with a size mismatch")
            fix = (_resize_fix(project, load, n, how) if load.how != "LLaMA-Factory" else
                   "set `resize_vocab: true` and the same new_special_tokens as in training")
        elif resized and last is not None:
            related.append(last.site.with_note(f"resized to {rows} here"))
            pad = last.values.get("pad")
            multiple = _multiple(n, rows) if pad is None or not pad.known or pad.v is None else None
            message = (f"adapter {adapter} saved {n} embedding rows ({desc}) but `{last.text}` gives the base "
                       f"{rows}: {how} fails with a size mismatch")
            fix = f"resize to {n} rows" + (f" (pad_to_multiple_of={multiple}, as in training)" if multiple else "")
        else:
            message = (f"adapter {adapter} saved {n} embedding rows ({desc}) but the base {base_name} has "
                       f"{rows} ({initial.what}): {how} fails with a size mismatch")
            fix = f"resize the base to {n} rows before {how}, or use the base the adapter was trained on"
        yield rule.finding(load.site, message, fix=fix, related=related)


def _resize_fix(project, load, n: int, how: str) -> Fix | str:
    """CKL201's safe fix: `base.resize_token_embeddings(len(tokenizer))` (or `(n)`) on its own line just
    before the statement that loads the adapter; a hint only when the base is not a plain name or
    attribute, or that statement is not a line of its own."""
    hint = (f"call `resize_token_embeddings({n})` on the base (len(tokenizer) of the adapter's tokenizer) "
            f"before {how}")
    base = _base_expression(load)
    if base is None:
        return hint
    tokenizer = _tokenizer_of_length(project, load, n)
    code = f"{base}.resize_token_embeddings({f'len({tokenizer})' if tokenizer else n})"
    reads = (base.split(".")[0], *([tokenizer] if tokenizer else []))
    edits = insert_line_before(load.file, load.node, code, reads=reads)
    if edits is None:
        return hint
    rows = f"len({tokenizer}) = {n}" if tokenizer else str(n)
    return Fix(f"call `{code}` before {how} ({rows}, the rows the adapter saved)", "safe", edits)


def _base_expression(load) -> str | None:
    """The base as written in the load (`model`, `self.base`), when it is a plain name or attribute."""
    call = load.node
    if load.file is None or load.base is None or not isinstance(call, cst.Call):
        return None
    if load.how.startswith("load_adapter"):
        expr = call.func.value if isinstance(call.func, cst.Attribute) else None
    else:  # PeftModel.from_pretrained(base, adapter) or (model=base, ...)
        first = call.args[0] if call.args and call.args[0].keyword is None else None
        if first is not None:
            expr = first.value if first.star == "" else None
        else:
            expr = next((a.value for a in call.args if a.keyword is not None and a.keyword.value == "model"), None)
    return _dotted(expr)


def _dotted(expr) -> str | None:
    if isinstance(expr, cst.Name):
        return expr.value
    if isinstance(expr, cst.Attribute):
        head = _dotted(expr.value)
        return f"{head}.{expr.attr.value}" if head else None
    return None


def _tokenizer_of_length(project, load, n: int) -> str | None:
    """A tokenizer name of the loading scope whose len() is certainly `n` where the adapter is loaded
    (loaded for sure, tokens added for sure, bound once before that line), preferring `tokenizer`."""
    for name, obj, steps in sorted(load.tokenizers, key=lambda t: (t[0] != "tokenizer", t[0])):
        if not getattr(obj.event, "certain", False):
            continue
        length = tokenizer_length(project, HFObject(obj.cls_name, obj.event, obj.role, obj.steps[:steps]))
        if length.known and length.v == n and assigned_once_before(load.file, load.node, name):
            return name
    return None


def _skipped_resizes(project, load) -> list[Location]:
    """Resize calls in the loading file that did not run on the way to this load (a flag not given)."""
    path = load.site.path
    if path.suffix != ".py":
        return []
    text = project.text(path) or ""
    ran = {(s.site.path, s.site.line) for _, s in project.resizes}
    out = []
    for lineno, line in enumerate(text.splitlines(), 1):
        col = line.find(".resize_token_embeddings(")
        if col >= 0 and (path, lineno) not in ran and not line.lstrip().startswith("#"):
            start = len(line) - len(line.lstrip()) + 1
            out.append(Location(path, lineno, start, note="this resize does not run on this path (its condition is false)"))
    return out


def _multiple(target: int, current: int) -> int | None:
    """A pad_to_multiple_of that turns `current` into `target` (8, 16, 32, 64, 128), if any."""
    for m in (8, 16, 32, 64, 128):
        if target % m == 0 and ((current + m - 1) // m) * m == target:
            return m
    return None


class VocabShrink(Rule):
    """A resize makes the embeddings smaller than the model's (padded) vocabulary.

    ## What it does
    Follows `model.resize_token_embeddings(n)` calls where `n` is known — typically `len(tokenizer)`,
    computed from the tokenizer files plus the tokens the script adds — and reports a resize that
    certainly runs and leaves fewer rows than the model already has (its config `vocab_size`, or an
    earlier resize).

    ## Why is this bad?
    Many models pad their embedding matrix beyond the tokenizer (Qwen2.5-7B: `vocab_size` 152064,
    `len(tokenizer)` 151665). Resizing to `len(tokenizer)` drops rows: an adapter or checkpoint
    saved afterwards no longer fits the base (`[151665, 3584]` vs `[152064, 3584]` when merging), and
    rows other tools expect are gone.

    ## Example
    ```python
    model = AutoModelForCausalLM.from_pretrained("Qwen/Qwen2.5-7B")   # 152064 rows
    model.resize_token_embeddings(len(tokenizer))                     # 151665
    ```

    ## How to fix
    Only grow: `if len(tokenizer) > model.get_input_embeddings().weight.shape[0]:
    model.resize_token_embeddings(len(tokenizer))`, or pass `pad_to_multiple_of` so the size stays
    at the padded value.
    """

    code = "CKL203"
    name = "vocab-shrink"
    severity = Severity.WARNING

    def check(self, project):
        for obj, step in project.resizes:
            if not step.certain:
                continue
            event = base_event(obj)
            if event is None or getattr(event, "ref", None) is None:
                continue
            facts = project.model(event.ref, event.base_dirs, revision=event.kwargs.get("revision"),
                                  subfolder=event.kwargs.get("subfolder"))
            initial = base_rows(facts, event.kwargs, project.display)
            if initial is None:
                continue
            before = rows_after(initial.n, obj.steps[: obj.steps.index(step)])
            if before.rows is None or before.maybe is not None:
                continue
            after = rows_after(before.rows, [step])
            if after.rows is None or after.rows >= before.rows:
                continue
            n = step.values["n"]
            what = initial.what if not before.resized else f"{before.rows} after `{before.last.text}`"
            related = [o for o in n.origins if (o.path, o.cell, o.line) != (step.site.path, step.site.cell, step.site.line)]
            if initial.loc is not None:
                related.append(initial.loc.with_note(initial.what))
            yield self.finding(
                step.site,
                f"`{step.text}` shrinks the embeddings from {before.rows} ({what}) to {after.rows}"
                + (f" ({n.expr} = {n.v})" if n.expr and n.expr != str(n.v) else "")
                + ": rows the model was trained with are dropped, and adapters saved now will not fit the base",
                fix="resize only when the tokenizer is larger than the embeddings, or keep the padded size "
                    "with pad_to_multiple_of",
                related=related,
            )
