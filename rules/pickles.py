"""Checkpoints whose pickle needs code to load: ckpt-lint refuses to read them (and so should you)."""

from __future__ import annotations

from ckpt_lint.diagnostics import Location, Severity
from ckpt_lint.rule import Rule


class UnsafePickle(Rule):
    """A `.bin`/`.pt`/`.pth` checkpoint whose pickle refers to a global outside the tensor allow-list.

    ## What it does
    ckpt-lint reads PyTorch checkpoints (`torch.save` zip or legacy files) with its own pickle
    reader: only the names a state dict needs (`torch._utils._rebuild_tensor_v2`, storage classes,
    `OrderedDict`, ...) map to inert stand-ins; it never imports torch, never reads tensor data and
    never runs anything. A checkpoint that names any other global (`os.system`, `builtins.exec`,
    `subprocess.Popen`, a model class pickled whole with `torch.save(model)`, `argparse.Namespace`)
    is refused, and the global is named.

    ## Why is this bad?
    Loading such a file with `torch.load(weights_only=False)` executes whatever the pickle says: a
    downloaded checkpoint can run code on your machine. torch ≥ 2.6 loads with `weights_only=True`
    by default and raises `UnpicklingError: Weights only load failed ... Unsupported global` for the
    same file, so the script fails anyway unless it opts out of the protection.

    ## Example
    `torch.load("model.pt")` on a file written by `torch.save(model)` (the whole `nn.Module`), or a
    file crafted with a `__reduce__` returning `os.system`.

    ## How to fix
    Save state dicts (`torch.save(model.state_dict(), path)`) or safetensors (`save_pretrained`), and
    never load an untrusted pickle; if the global is benign and the file trusted, allow it explicitly
    with `torch.serialization.add_safe_globals([...])`.
    """

    code = "CKL004"
    name = "unsafe-pickle"
    severity = Severity.ERROR

    def check(self, project):
        seen: set = set()
        for ref in project.references():
            facts = project.resolver.resolve(ref.ref.v, base_dirs=list(ref.base_dirs), revision=ref.revision,
                                             subfolder=ref.subfolder)
            for path, err in getattr(facts, "unsafe", None) or []:
                key = (path, ref.site)
                if key in seen:
                    continue
                seen.add(key)
                yield self.finding(
                    ref.site,
                    f"{project.display(path)} was not read: its pickle names `{err.global_name}`, which is not "
                    f"a tensor or container type" + (" and can run arbitrary code" if err.dangerous else "")
                    + "; torch.load(weights_only=True) refuses it too, and weights_only=False would execute it",
                    fix="save a state dict or safetensors instead; never load an untrusted pickle",
                    related=[Location(path, 1, 1, note=err.reason)],
                )
