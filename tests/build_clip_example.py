"""Build the tiny Chinese-CLIP checkpoint of examples/chinese-clip-resume{,-fixed}.

    python tests/build_clip_example.py

Builds the examples' own `CLIP` from their ViT-L-14 + RoBERTa-wwm-ext-base-chinese configs (scaled
down: vision width 48, 3 layers) and saves it the way Chinese-CLIP's trainer does: `torch.save` of
`{"epoch", "step", "name", "state_dict"}` with DDP's `module.` prefix on every key. Needs torch and
transformers (the dev venv); deterministic.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TARGETS = ["chinese-clip-resume", "chinese-clip-resume-fixed"]


def build(example: Path) -> Path:
    import torch

    sys.path.insert(0, str(example))
    try:
        from cn_clip.clip.model import CLIP
    finally:
        sys.path.pop(0)
    configs = example / "cn_clip" / "clip" / "model_configs"
    info = json.loads((configs / "ViT-L-14.json").read_text())
    info.update(json.loads((configs / "RoBERTa-wwm-ext-base-chinese.json").read_text()))
    torch.manual_seed(0)
    model = CLIP(**info)
    sd = {f"module.{k}": v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    out = example / "pretrained_weights" / "clip_cn_vit-l-14.pt"
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"epoch": 0, "step": 0, "name": "clip_cn_vit-l-14", "state_dict": sd}, out)
    for mod in [m for m in sys.modules if m == "cn_clip" or m.startswith("cn_clip.")]:
        del sys.modules[mod]  # the next example has its own copy of the package
    return out


def main() -> int:
    for name in TARGETS:
        example = EXAMPLES / name
        if example.is_dir():
            out = build(example)
            print(f"{out.relative_to(EXAMPLES.parent)}: {out.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
