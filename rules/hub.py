"""Model ids the Hub does not know, and Hub lookups that could not be made."""

from __future__ import annotations

from ckpt_lint.diagnostics import Severity
from ckpt_lint.rule import Rule


def _unresolved(project, kinds: tuple[str, ...]):
    """(reference, failure) for every reference that resolved nowhere because the Hub failed so."""
    resolver = project.resolver
    failures = getattr(resolver, "failures", None) or {}
    if not failures:
        return
    for ref in project.references():
        failure = failures.get((ref.ref.v, ref.revision, ref.subfolder))
        if failure is None or failure.kind not in kinds:
            continue
        if resolver.resolve(ref.ref.v, base_dirs=list(ref.base_dirs), revision=ref.revision,
                            subfolder=ref.subfolder) is None:
            yield ref, failure


# First path components that are far more often a folder a training run writes than a Hub org.
LOCAL_FOLDER_NAMES = {"output", "outputs", "checkpoint", "checkpoints", "ckpt", "ckpts", "saves", "save",
                      "saved_models", "models", "model", "results", "runs", "exp", "experiments", "merged",
                      "lora", "adapters", "out", "tmp", "data", "pretrained", "weights"}


def _origins(ref) -> list:
    return [loc.with_note("model id written here") for loc in ref.ref.origins[:3] if loc != ref.site]


class UnknownModel(Rule):
    """A model id that is neither a local folder nor a model on the Hub (or a revision it lacks).

    ## What it does
    For every model reference that looks like a Hub id (`Qwen/Qwen2.5-7B`, `bert-base-chinese`) and
    is not a local folder, asks the Hub for it (one metadata request, cached) and reports an id or
    `revision=` the Hub says does not exist. Only a definite answer from the Hub counts: offline,
    timeouts and network errors are CKL003, never this rule.

    ## Why is this bad?
    `from_pretrained` fails at load time with `... is not a local folder and is not a valid model
    identifier listed on 'https://huggingface.co/models'` — after the job was queued. Typos in an
    org name, a version or a size suffix are the usual cause.

    ## Example
    ```python
    model = AutoModelForCausalLM.from_pretrained("Qwen/Qwen2.5-7B-Instrcut")
    ```

    ## How to fix
    Correct the id (or the revision). A private repo answers like a missing one without a token: set
    `HF_TOKEN` to a token that can read it. A single-name id may also be a folder an earlier step of
    the run creates (`output`): then this is a warning, and `# ckpt-lint: ignore[CKL002]` documents it.
    """

    code = "CKL002"
    name = "unknown-model"
    severity = Severity.ERROR

    def check(self, project):
        for ref, failure in _unresolved(project, ("not-found", "revision-not-found")):
            message, severity = failure.message, None
            if failure.kind == "not-found":
                if failure.anonymous:
                    message += " (a private repo looks the same without a token: set HF_TOKEN if it is yours)"
                first = ref.ref.v.split("/", 1)[0].lower()
                if "/" not in ref.ref.v or first in LOCAL_FOLDER_NAMES:
                    # no org, or an org named like an output folder: as likely a folder an earlier
                    # step of the run creates as a typo
                    message += "; if an earlier step creates this folder, ignore this"
                    severity = Severity.WARNING
            yield self.finding(ref.site, f"{message}: from_pretrained fails to load it", severity=severity,
                               related=_origins(ref), fix="correct the model id" if failure.kind == "not-found"
                               else "use a branch, tag or commit that exists on the Hub")


class HubUnavailable(Rule):
    """The Hub could not be asked about a model id, and no cache had it: checks that needed it were skipped.

    ## What it does
    Reports a Hub model id whose config and headers ckpt-lint could not get: the repo is gated (or
    disabled) and the token cannot read it — a warning; or ckpt-lint is offline (`--offline`,
    `HF_HUB_OFFLINE=1`), the Hub timed out (`CKPT_LINT_HUB_TIMEOUT`, default 10 s per request) or
    could not be reached, and neither the HF cache, ckpt-lint's metadata cache nor the bundled
    snapshot knows the model — an info. A model the bundled snapshot knows is not reported.

    ## Why is this bad?
    The rules that needed the model's config (head sizes, vocabularies, adapters) stay silent for
    this reference rather than guess, so a mismatch there would go unnoticed.

    ## Example
    ```python
    model = AutoModelForSequenceClassification.from_pretrained("meta-llama/Llama-3.1-8B", num_labels=3)
    # gated, and HF_TOKEN is not set
    ```

    ## How to fix
    Set `HF_TOKEN` to a token with access (accept the model's conditions on its Hub page), or run
    once online so the caches hold the model's metadata (config files and headers only, kilobytes).
    """

    code = "CKL003"
    name = "hub-unavailable"
    severity = Severity.WARNING

    def check(self, project):
        kinds = ("gated", "disabled", "offline", "timeout", "network", "error")
        for ref, failure in _unresolved(project, kinds):
            if failure.kind in ("gated", "disabled"):
                fix = ("set HF_TOKEN to a token that can read it (and accept its conditions on the model page)"
                       if failure.kind == "gated" else None)
                yield self.finding(ref.site, f"{failure.message}: checks that need its config were skipped",
                                   fix=fix, related=_origins(ref))
            else:
                fix = "run once online (config files and headers are cached), or raise CKPT_LINT_HUB_TIMEOUT"
                yield self.finding(ref.site, f"{failure.message}: checks that need its config were skipped",
                                   severity=Severity.INFO, fix=fix if failure.kind != "offline" else
                                   "run once online: config files and headers are then cached")
