"""Shared test set-up: every test is offline and uses a fresh ckpt-lint metadata cache.

The `hub` fixture is the exception: a local Hub (tests/hub_server.py) on 127.0.0.1, with
HF_ENDPOINT pointing at it, offline mode off, and a fresh HF cache and no token.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests/hub_server.py, tests/test_models.py helpers


@pytest.fixture(autouse=True)
def _hermetic_hub(monkeypatch, tmp_path_factory):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("CKPT_LINT_CACHE_DIR", str(tmp_path_factory.mktemp("ckpt-lint-cache")))
    for var in ("HF_ENDPOINT", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "CKPT_LINT_OFFLINE", "TRANSFORMERS_OFFLINE",
                "CKPT_LINT_HUB_TIMEOUT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_TOKEN_PATH", str(tmp_path_factory.getbasetemp() / "no-hf-token"))


def serve_hub(monkeypatch, root: Path, cache: Path, **options):
    """Start a HubServer on `root` and point the environment at it (offline off, fresh HF cache)."""
    from huggingface_hub import constants
    from huggingface_hub.utils import close_session

    from hub_server import HubServer

    server = HubServer(root, **options)
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # read at import; CI exports HF_HUB_OFFLINE=1
    # huggingface_hub's user-agent code fetches {ENDPOINT at import}/api/agent-harnesses once a day
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_TELEMETRY", True)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("CKPT_LINT_HUB_TIMEOUT", "5")
    close_session()  # the shared client reads proxy settings when it is created
    return server


@pytest.fixture
def hub(monkeypatch, tmp_path):
    """A running local Hub serving `tmp_path/hub-repos` (create repos with tests.test_hub helpers)."""
    root = tmp_path / "hub-repos"
    root.mkdir()
    with serve_hub(monkeypatch, root, tmp_path / "hf-cache") as server:
        yield server
