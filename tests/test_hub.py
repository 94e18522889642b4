"""Hub lookups against a local Hub (tests/hub_server.py) with the real huggingface_hub client.

Each test gets a fresh server, HF cache and ckpt-lint metadata cache (tests/conftest.py). The
server's request log is the evidence: which requests, which Range headers, how many bytes.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import pytest

from ckpt_lint.cli import main
from ckpt_lint.models import ModelResolver
from hub_server import GOOD_TOKEN, NO_ACCESS_TOKEN
from test_models import write_safetensors

WEIGHTS_SIZE = 3_000_000  # every weights file is padded to this (sparse): a body would show in the log


def make_repo(root: Path, repo_id: str, *, labels: int = 7, files: dict | None = None, options: dict | None = None,
              weights: bool = True, extra_tensors: int = 0) -> Path:
    folder = root.joinpath(*repo_id.split("/"))
    folder.mkdir(parents=True, exist_ok=True)
    config = {"architectures": ["BertForTokenClassification"], "model_type": "bert", "hidden_size": 32,
              "vocab_size": 99, "id2label": {str(i): f"T{i}" for i in range(labels)}}
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    if weights:
        tensors = {"bert.embeddings.word_embeddings.weight": ("F32", [99, 32]),
                   "classifier.weight": ("F32", [labels, 32]), "classifier.bias": ("F32", [labels])}
        tensors.update({f"extra.layer.{i}.a_rather_long_tensor_name_to_grow_the_header.weight": ("F32", [1])
                        for i in range(extra_tensors)})
        pad(write_safetensors(folder / "model.safetensors", tensors))
    for name, content in (files or {}).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(content if isinstance(content, str) else json.dumps(content))
    if options:
        (folder / ".hub.json").write_text(json.dumps(options))
    return folder


def pad(path: Path) -> Path:
    with open(path, "r+b") as f:
        f.truncate(max(WEIGHTS_SIZE, f.seek(0, 2)))
    return path


def sharded_repo(root: Path, repo_id: str) -> Path:
    folder = root.joinpath(*repo_id.split("/"))
    shards = {"model-00001-of-00002.safetensors": {"embed.weight": ("BF16", [32000, 64])},
              "model-00002-of-00002.safetensors": {"lm_head.weight": ("BF16", [32000, 64])}}
    for name, tensors in shards.items():
        pad(write_safetensors(folder / name, tensors))  # sparse: 4 MB of zeros after the header
    (folder / "model.safetensors.index.json").write_text(json.dumps(
        {"metadata": {}, "weight_map": {t: name for name, ts in shards.items() for t in ts}}))
    (folder / "config.json").write_text(json.dumps({"model_type": "llama", "vocab_size": 32000, "hidden_size": 64}))
    return folder


def resolve(ref: str, **kwargs):
    return ModelResolver().resolve(ref, base_dirs=[], **kwargs)


def header_bytes(path: Path) -> int:
    return 8 + int.from_bytes(path.read_bytes()[:8], "little")


# --- a cold lookup: config files and headers only ------------------------------------------------

def test_cold_lookup_transfers_config_and_header_only(hub):
    folder = make_repo(hub.root, "org/ner-7")
    facts = resolve("org/ner-7")
    assert facts.kind == "hub" and facts.revision and facts.source_note == f"Hub org/ner-7@{facts.revision[:8]}"
    assert facts.config_value("id2label")["6"] == "T6" and facts.config_path.name == "config.json"
    assert facts.tensors["classifier.weight"].shape == (7, 32)
    assert facts.tensors["classifier.weight"].file == Path("org/ner-7/model.safetensors")
    assert Path(os.environ["HF_HUB_CACHE"]) in facts.config_path.parents  # downloaded into the HF cache
    sha, header = facts.revision, header_bytes(folder / "model.safetensors")
    assert [(r.method, r.path, r.range, r.status) for r in hub.log] == [
        ("GET", "/api/models/org/ner-7?blobs=true", None, 200),
        ("HEAD", f"/org/ner-7/resolve/{sha}/config.json", None, 200),
        ("GET", f"/org/ner-7/resolve/{sha}/config.json", None, 200),
        ("GET", f"/org/ner-7/resolve/{sha}/model.safetensors", "bytes=0-7", 206),
        ("GET", f"/org/ner-7/resolve/{sha}/model.safetensors", f"bytes=8-{header - 1}", 206),
    ]
    weights = sum(r.sent for r in hub.log if r.path.endswith(".safetensors"))
    files = sum(r.sent for r in hub.log if "/resolve/" in r.path and not r.path.endswith(".safetensors"))
    assert weights == header < WEIGHTS_SIZE  # exactly the header: not one byte of tensor data
    assert files == (folder / "config.json").stat().st_size


def test_second_run_and_offline_run_make_no_request(hub, monkeypatch):
    first = resolve("org/ner-7") if make_repo(hub.root, "org/ner-7") else None
    hub.clear()
    again = resolve("org/ner-7")  # a new resolver, as in a new process: HF cache + metadata cache
    assert hub.log == []
    assert again.kind == "hub" and again.revision == first.revision and again.source_note == first.source_note
    assert again.tensors == first.tensors and again.config.plain() == first.config.plain()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    offline = resolve("org/ner-7")
    assert offline.tensors == first.tensors and hub.log == []


def test_offline_with_nothing_cached_makes_no_request(hub, monkeypatch):
    make_repo(hub.root, "org/ner-7")
    monkeypatch.setenv("CKPT_LINT_OFFLINE", "1")
    resolver = ModelResolver()
    assert resolver.resolve("org/ner-7", base_dirs=[]) is None
    failure = resolver.failures[("org/ner-7", None, None)]
    assert failure.kind == "offline" and "CKPT_LINT_OFFLINE=1" in failure.message
    assert hub.log == []


def test_sharded_repo_reads_the_index_and_each_shard_header(hub):
    sharded_repo(hub.root, "meta/llama-tiny")
    facts = resolve("meta/llama-tiny")
    assert facts.tensors["lm_head.weight"].shape == (32000, 64) and facts.tensors["embed.weight"].dtype == "BF16"
    gets = sorted((r.path.rsplit("/", 1)[1], r.range) for r in hub.log if "/resolve/" in r.path and r.method == "GET")
    shard = "model-0000{}-of-00002.safetensors"
    n = header_bytes(hub.root / "meta/llama-tiny" / shard.format(1))
    assert gets == [("config.json", None), (shard.format(1), "bytes=0-7"), (shard.format(1), f"bytes=8-{n - 1}"),
                    (shard.format(2), "bytes=0-7"), (shard.format(2), f"bytes=8-{n - 1}"),
                    ("model.safetensors.index.json", None)]
    assert not any(r.path.endswith("/model.safetensors") for r in hub.log)  # the listing says there is none


def test_a_large_header_is_read_exactly(hub):
    folder = make_repo(hub.root, "org/wide", extra_tensors=1200)
    n = header_bytes(folder / "model.safetensors")
    assert n > 100_000
    facts = resolve("org/wide")
    assert len(facts.tensors) == 1203
    ranges = [r.range for r in hub.log if r.path.endswith(".safetensors")]
    assert ranges == ["bytes=0-7", f"bytes=8-{n - 1}"]
    assert sum(r.sent for r in hub.log if r.path.endswith(".safetensors")) == n


def test_adapter_repo(hub):
    folder = make_repo(hub.root, "org/lora", weights=False,
                       files={"adapter_config.json": {"peft_type": "LORA", "r": 4,
                                                      "base_model_name_or_path": "org/ner-7"}})
    (folder / "config.json").unlink()
    write_safetensors(folder / "adapter_model.safetensors",
                      {"base_model.model.bert.encoder.layer.0.attention.self.query.lora_A.weight": ("F32", [4, 32])})
    facts = resolve("org/lora")
    assert facts.adapter_value("r") == 4 and facts.config is None and facts.tensors is None
    [(name, info)] = facts.adapter_tensors.items()
    assert name.endswith("lora_A.weight") and info.shape == (4, 32)


def test_subfolder_and_revision(hub):
    make_repo(hub.root, "org/pipeline", weights=False, options={"revisions": {"v1.0": "main"}},
              files={"text_encoder/config.json": {"model_type": "clip_text_model", "hidden_size": 768}})
    pad(write_safetensors(hub.root / "org/pipeline/text_encoder/model.safetensors", {"w": ("F32", [768, 8])}))
    resolver = ModelResolver()
    facts = resolver.resolve("org/pipeline", base_dirs=[], revision="v1.0", subfolder="text_encoder")
    assert facts.config_value("model_type") == "clip_text_model" and facts.tensors["w"].shape == (768, 8)
    assert facts.source_note.endswith("subfolder text_encoder")
    assert all("/v1.0" in r.path or facts.revision in r.path for r in hub.log)
    top = resolver.resolve("org/pipeline", base_dirs=[], revision="v1.0")
    assert top.config_value("model_type") == "bert" and top.tensors is None
    hub.clear()
    warm = ModelResolver().resolve("org/pipeline", base_dirs=[], revision="v1.0", subfolder="text_encoder")
    assert warm.tensors == facts.tensors and hub.log == []


def test_the_finder_downloads_small_files_on_demand_never_weights(hub, monkeypatch):
    make_repo(hub.root, "org/ner-7", files={"tokenizer.json": {"model": {"vocab": {"a": 0}}}})
    facts = resolve("org/ner-7")
    hub.clear()
    assert facts.file("model.safetensors") is None and hub.log == []  # a weights file, listed or not
    assert facts.file("vocab.txt") is None and hub.log == []  # not in the listing: no request
    path = facts.file("tokenizer.json")
    assert json.loads(path.read_text())["model"]["vocab"] == {"a": 0}
    assert [r.method for r in hub.log] == ["HEAD", "GET"]
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    offline = resolve("org/ner-7")
    assert offline.file("tokenizer.json") == path and offline.file("special_tokens_map.json") is None


def test_hf_cache_first_then_no_network(hub, monkeypatch, tmp_path):
    make_repo(hub.root, "org/ner-7")
    from huggingface_hub import hf_hub_download

    hf_hub_download("org/ner-7", "config.json", endpoint=hub.url, token=False,
                    cache_dir=os.environ["HF_HUB_CACHE"])  # as transformers would
    hub.clear()
    facts = resolve("org/ner-7")
    assert facts.kind == "hf-cache" and facts.config_value("hidden_size") == 32 and hub.log == []


# --- failures ------------------------------------------------------------------------------------

@pytest.mark.parametrize("token, status, anonymous", [(None, 401, True), (GOOD_TOKEN, 404, False)])
def test_missing_repo(hub, monkeypatch, token, status, anonymous):
    if token:
        monkeypatch.setenv("HF_TOKEN", token)
    resolver = ModelResolver()
    assert resolver.resolve("bert-base-chinese", base_dirs=[]) is None  # the Hub says no: not the snapshot
    failure = resolver.failures[("bert-base-chinese", None, None)]
    assert (failure.kind, failure.status, failure.anonymous, failure.final) == ("not-found", status, anonymous, True)
    assert [r.token for r in hub.log] == [token]


def test_private_repo_needs_a_token(hub, monkeypatch):
    make_repo(hub.root, "org/private", options={"private": True})
    resolver = ModelResolver()
    assert resolver.resolve("org/private", base_dirs=[]) is None
    assert resolver.failures[("org/private", None, None)].anonymous
    monkeypatch.setenv("HF_TOKEN", GOOD_TOKEN)
    assert resolve("org/private").tensors["classifier.weight"].shape == (7, 32)
    assert hub.log[-1].token == GOOD_TOKEN


def test_token_from_the_login_file(hub, monkeypatch, tmp_path):
    make_repo(hub.root, "org/private", options={"private": True})
    (tmp_path / "token").write_text(GOOD_TOKEN + "\n")
    monkeypatch.setenv("HF_TOKEN_PATH", str(tmp_path / "token"))
    assert resolve("org/private").config_value("hidden_size") == 32
    assert {r.token for r in hub.log} == {GOOD_TOKEN}


@pytest.mark.parametrize("token, status, words", [
    (None, 401, "no token is set"), (NO_ACCESS_TOKEN, 403, "the token has no access"), (GOOD_TOKEN, 200, None)])
def test_gated_repo(hub, monkeypatch, token, status, words):
    make_repo(hub.root, "org/gated", options={"gated": True})
    if token:
        monkeypatch.setenv("HF_TOKEN", token)
    resolver = ModelResolver()
    facts = resolver.resolve("org/gated", base_dirs=[])
    if words is None:
        assert facts.tensors["classifier.weight"].shape == (7, 32)
    else:
        failure = resolver.failures[("org/gated", None, None)]
        assert facts is None and failure.kind == "gated" and words in failure.message and failure.status == status
        assert not any(r.path.endswith(".safetensors") for r in hub.log)


def test_missing_revision_is_final(hub):
    make_repo(hub.root, "org/ner-7")
    resolver = ModelResolver()
    assert resolver.resolve("org/ner-7", base_dirs=[], revision="v9") is None
    failure = resolver.failures[("org/ner-7", "v9", None)]
    assert failure.kind == "revision-not-found" and "`v9`" in failure.message


def test_a_server_that_ignores_range_is_left_at_once(tmp_path, monkeypatch):
    from conftest import serve_hub

    make_repo(tmp_path / "repos", "org/ner-7")
    with serve_hub(monkeypatch, tmp_path / "repos", tmp_path / "hf", ranges=False):
        facts = resolve("org/ner-7")
    assert facts.config_value("hidden_size") == 32 and facts.tensors is None
    assert "ignored the Range request" in facts.weights_note


def test_a_truncated_header_on_the_hub_is_a_note_not_a_crash(hub):
    folder = make_repo(hub.root, "org/broken", weights=False)
    (folder / "model.safetensors").write_bytes((500).to_bytes(8, "little") + b'{"a": 1')
    facts = resolve("org/broken")
    assert facts.tensors is None and "truncated safetensors header" in facts.weights_note


def test_slow_server_times_out_and_the_run_completes(hub, monkeypatch):
    make_repo(hub.root, "org/ner-7")
    monkeypatch.setenv("CKPT_LINT_HUB_TIMEOUT", "0.3")
    hub.delay = 2.0
    started = time.monotonic()
    resolver = ModelResolver()
    assert resolver.resolve("org/ner-7", base_dirs=[]) is None
    assert time.monotonic() - started < 1.5
    failure = resolver.failures[("org/ner-7", None, None)]
    assert failure.kind == "timeout" and "did not answer" in failure.message


def test_stalled_jobs_are_abandoned_quietly(monkeypatch, capsys):
    from ckpt_lint.models import hub

    monkeypatch.setenv("CI", "true")  # no progress bar in CI (nor in a pipe)
    started = time.monotonic()
    done = hub.run_all({"fast": lambda: 1, "stuck": lambda: time.sleep(5), "boom": lambda: 1 / 0},
                       budget=0.3, limit=2)
    assert time.monotonic() - started < 1.5
    assert done["fast"] == 1 and done["stuck"] is hub.TIMED_OUT and isinstance(done["boom"], ZeroDivisionError)
    assert capsys.readouterr() == ("", "")


def test_cache_dir_defaults(monkeypatch, tmp_path):
    from ckpt_lint.models.metacache import default_dir

    assert default_dir() == Path(os.environ["CKPT_LINT_CACHE_DIR"])
    monkeypatch.delenv("CKPT_LINT_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    if os.name != "nt" and not os.uname().sysname == "Darwin":
        assert default_dir() == tmp_path / "ckpt-lint"


def test_network_down(monkeypatch, tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    from conftest import serve_hub

    with serve_hub(monkeypatch, tmp_path, tmp_path / "hf"):
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
        resolver = ModelResolver()
        assert resolver.resolve("org/anything", base_dirs=[]) is None
        assert resolver.failures[("org/anything", None, None)].kind == "network"
        snap = resolver.resolve("bert-base-chinese", base_dirs=[])  # network failures let the snapshot answer
        assert snap.kind == "snapshot" and resolver.failures[("bert-base-chinese", None, None)].kind == "network"


def test_local_looking_paths_never_reach_the_hub(hub, tmp_path):
    (tmp_path / "outputs").mkdir()
    resolver = ModelResolver()
    assert resolver.resolve("outputs/best", base_dirs=[tmp_path]) is None
    assert hub.log == [] and resolver.failures == {}


# --- the command line ----------------------------------------------------------------------------

def script(folder: Path, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.py").write_text(
        "from transformers import AutoModel, AutoModelForTokenClassification\n\n" + body)
    return folder


def lint(cwd: Path, monkeypatch, capsys, *args: str) -> tuple[int, list[str]]:
    monkeypatch.chdir(cwd)
    code = main([".", "--output-format", "concise", "--isolated", *args])
    out = capsys.readouterr().out
    return code, [line for line in out.splitlines() if line and not line.startswith(("Found ", "All checks"))]


def test_hub_id_is_checked_like_a_local_folder(hub, tmp_path, monkeypatch, capsys):
    make_repo(hub.root, "org/ner-7")
    make_repo(tmp_path / "local" / "ckpt", "org/ner-7")
    load = 'AutoModelForTokenClassification.from_pretrained("{}", num_labels=3)\n'
    code, [hub_line] = lint(script(tmp_path / "a", "m = " + load.format("org/ner-7")), monkeypatch, capsys)
    local = str(tmp_path / "local" / "ckpt" / "org" / "ner-7")
    code2, [local_line] = lint(script(tmp_path / "b", "m = " + load.format(local)), monkeypatch, capsys)
    assert code == code2 == 1
    assert "head has 3 labels (num_labels=3)" in hub_line and "was trained with 7 (classifier.weight [7, 32] in org/ner-7/model.safetensors)" in hub_line
    assert hub_line.split(" but ")[0] == local_line.split(" but ")[0]
    hub.clear()
    assert lint(tmp_path / "a", monkeypatch, capsys) == (1, [hub_line]) and hub.log == []  # warm: no request


def test_cli_prefetches_in_parallel(hub, tmp_path, monkeypatch, capsys):
    ids = [f"org/m{i}" for i in range(6)]
    for repo_id in ids:
        make_repo(hub.root, repo_id)
    hub.delay = 0.15
    body = "".join(f'm{i} = AutoModel.from_pretrained("{r}")\n' for i, r in enumerate(ids))
    started = time.monotonic()
    assert lint(script(tmp_path / "p", body), monkeypatch, capsys) == (0, [])
    assert hub.max_inflight >= 4
    assert time.monotonic() - started < 6 * 4 * 0.15  # one model's requests one after the other


def test_cli_reports_each_failure_class(hub, tmp_path, monkeypatch, capsys):
    make_repo(hub.root, "org/gated", options={"gated": True})
    make_repo(hub.root, "org/ner-7")
    body = ('a = AutoModel.from_pretrained("org/nr-7")\n'
            'b = AutoModel.from_pretrained("org/gated")\n'
            'c = AutoModel.from_pretrained("org/ner-7", revision="nope")\n'
            'd = AutoModel.from_pretrained("checkpoint-best")\n'
            'e = AutoModel.from_pretrained("outputs/lora-sft")\n')
    code, lines = lint(script(tmp_path / "p", body), monkeypatch, capsys)
    assert code == 1
    assert [line.split(" ")[:2] for line in lines] == [
        ["train.py:3:5:", "CKL002"], ["train.py:4:5:", "CKL003"], ["train.py:5:5:", "CKL002"], ["train.py:6:5:", "CKL002"],
        ["train.py:7:5:", "CKL002"]]
    assert "set HF_TOKEN if it is yours" in lines[0] and "gated" in lines[1] and "revision `nope`" in lines[2]
    assert "if an earlier step creates this folder" in lines[3] and "if an earlier step" in lines[4]
    code, lines = lint(tmp_path / "p", monkeypatch, capsys, "--output-format", "json")
    severities = [item["severity"] for item in json.loads("\n".join(lines))]
    assert severities == ["error", "warning", "error", "warning", "warning"]  # outputs/...: likely a run's folder


def test_cli_timeout_is_an_info_and_the_run_completes(hub, tmp_path, monkeypatch, capsys):
    make_repo(hub.root, "org/ner-7")
    monkeypatch.setenv("CKPT_LINT_HUB_TIMEOUT", "0.2")
    hub.delay = 1.5
    started = time.monotonic()
    code, lines = lint(script(tmp_path / "p", 'a = AutoModel.from_pretrained("org/ner-7")\n'), monkeypatch, capsys)
    assert time.monotonic() - started < 1.5
    assert code == 0 and len(lines) == 1 and "CKL003 the Hub did not answer for `org/ner-7`" in lines[0]


def test_cli_offline_flag(hub, tmp_path, monkeypatch, capsys):
    make_repo(hub.root, "org/ner-7")
    code, lines = lint(script(tmp_path / "p", 'a = AutoModel.from_pretrained("org/ner-7")\n'), monkeypatch, capsys,
                       "--offline")
    assert code == 0 and hub.log == []
    assert lines == ["train.py:3:5: CKL003 `org/ner-7` is not in the HF cache, ckpt-lint's cache or the bundled "
                     "snapshot, and Hub lookups are off (--offline): checks that need its config were skipped"]
    assert lint(tmp_path / "p", monkeypatch, capsys) == (0, []) and hub.log  # online again after the run


def test_cache_info_and_clear(hub, tmp_path, monkeypatch, capsys):
    make_repo(hub.root, "org/ner-7")
    resolve("org/ner-7")
    assert main(["cache", "info"]) == 0
    out = capsys.readouterr().out
    assert "(1 repos, 1 commits," in out and "  org/ner-7" in out and f"Hub endpoint: {hub.url}" in out
    assert main(["cache", "clear"]) == 0
    assert "(1 repos)" in capsys.readouterr().out
    main(["cache", "info"])
    assert "(0 repos, 0 commits," in capsys.readouterr().out


def test_a_folder_named_cache_is_still_linted(tmp_path, monkeypatch, capsys):
    script(tmp_path / "cache", 'a = AutoModel.from_pretrained("bert-base-chinese")\n')
    monkeypatch.chdir(tmp_path)
    assert main(["cache", "--output-format", "concise"]) == 0
    assert main(["snapshot"]) == 2  # no such folder: a usage error, not the subcommand
    assert "no such file or folder: snapshot" in capsys.readouterr().err


def test_snapshot_update(hub, tmp_path, capsys):
    make_repo(hub.root, "org/ner-7")
    make_repo(hub.root, "bert-base-chinese", labels=2)
    out = tmp_path / "models.json"
    assert main(["snapshot", "--update", "org/ner-7", "bert-base-chinese", "org/missing", "--output", str(out)]) == 1
    captured = capsys.readouterr()
    assert "cannot update org/missing: not found on the Hub" in captured.err
    data = json.loads(out.read_text())
    entry = data["models"]["org/ner-7"]
    assert entry["aliases"] == [] and entry["config"] == {
        "model_type": "bert", "architectures": ["BertForTokenClassification"], "hidden_size": 32, "vocab_size": 99}
    assert entry["source"].startswith("hub config.json of org/ner-7@")
    bert = data["models"]["bert-base-chinese"]  # an existing entry: refreshed (keys the Hub no longer states go)
    assert bert["aliases"] == ["google-bert/bert-base-chinese"] and bert["config"]["vocab_size"] == 99
    assert "pooler_type" not in bert["config"] and bert["config"]["architectures"] == ["BertForTokenClassification"]
    assert len(data["models"]) >= 16 and "about" in data


def test_snapshot_update_needs_the_hub(tmp_path, capsys):
    assert main(["snapshot", "--update", "org/x", "--output", str(tmp_path / "m.json")]) == 2
    assert "needs the Hub" in capsys.readouterr().err and not (tmp_path / "m.json").exists()
