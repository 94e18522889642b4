"""The Hub step: a model id's config files and safetensors headers over HTTP, never its weights.

One lookup (`fetch`) is: `model_info` (commit sha + file listing, one GET); `hf_hub_download` of the
small files the facts need (config.json, model_config.json, adapter_config.json and the shard index,
into the HF cache); and two ranged GETs per safetensors file, for the header's length and then the
header itself (a server that ignores Range is left at once: weights are never downloaded). Headers
and the listing go to ckpt-lint's metadata cache (metacache.py): the next run needs no request.

Settings are read from the environment at call time (huggingface_hub reads its own at import):
HF_ENDPOINT, HF_TOKEN / HUGGING_FACE_HUB_TOKEN / the token file, HF_HUB_OFFLINE /
TRANSFORMERS_OFFLINE / CKPT_LINT_OFFLINE, CKPT_LINT_HUB_TIMEOUT (seconds per request, default 10).
Every failure becomes a `HubFailure`; nothing raised by huggingface_hub or httpx leaves this module.
"""

from __future__ import annotations

import json
import os
import struct
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Hashable

from .. import __version__
from ..diagnostics import ReadProblem
from ..textio import ReadError
from .facts import ModelFacts, TensorInfo
from .local import ADAPTER, ADAPTER_BIN, ADAPTER_CONFIG, CONFIG, INDEX, META, PICKLES, SINGLE, _beside
from .metacache import MetaCache
from .safetensors import _entry, read_index

DEFAULT_ENDPOINT = "https://huggingface.co"
MAX_HEADER = 100_000_000
MAX_SMALL_FILE = 50_000_000  # the finder never downloads more than this (nor any weights file)
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".gguf", ".h5", ".onnx", ".msgpack", ".pkl")
_TRUE = {"1", "ON", "YES", "TRUE"}


# -- settings -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class HubConfig:
    endpoint: str
    token: str | None
    timeout: float
    hf_cache: Path

    @property
    def token_arg(self) -> str | bool:
        return self.token or False  # False: send no token (never the OIDC exchange of get_token)

    @property
    def budget(self) -> float:
        """Wall-clock limit for one model's whole lookup (several requests, and the client's retries)."""
        return 3 * self.timeout


def hub_config(hf_cache: Path) -> HubConfig:
    env = os.environ
    try:
        timeout = float(env.get("CKPT_LINT_HUB_TIMEOUT") or 10)
    except ValueError:
        timeout = 10.0
    return HubConfig((env.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/"), _token(), max(timeout, 0.05), hf_cache)


def _token() -> str | None:
    env = os.environ
    for var in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        if env.get(var, "").strip():
            return env[var].strip()
    home = env.get("HF_HOME") or os.path.join(env.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "huggingface")
    try:
        return Path(env.get("HF_TOKEN_PATH") or os.path.join(home, "token")).read_text().strip() or None
    except (OSError, UnicodeDecodeError):
        return None


def offline_reason(flag: bool = False) -> str | None:
    """Why Hub lookups are off (`--offline`, `HF_HUB_OFFLINE=1`, ...), or None."""
    if flag or os.environ.get("CKPT_LINT_OFFLINE") == "--offline":  # the CLI flag sets it so
        return "--offline"
    for var in ("CKPT_LINT_OFFLINE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(var, "").strip().upper() in _TRUE:
            return f"{var}={os.environ[var].strip()}"
    return None


# -- failures -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class HubFailure:
    """Why the Hub could not answer. `kind`: not-found | revision-not-found | gated | disabled |
    offline | timeout | network | error. `anonymous`: no token was sent (a private repo then looks
    missing)."""

    kind: str
    message: str
    status: int | None = None
    anonymous: bool = False

    @property
    def final(self) -> bool:
        """The Hub said no: the id (or revision) does not exist; no other source may answer."""
        return self.kind in ("not-found", "revision-not-found")


def failure_from(exc: BaseException, ref: str, revision: str | None, cfg: HubConfig) -> HubFailure:
    import httpx2
    from huggingface_hub import errors

    chain, seen = [], set()
    while exc is not None and id(exc) not in seen and len(chain) < 8:
        seen.add(id(exc))
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    anonymous = cfg.token is None
    for e in chain:
        status = getattr(getattr(e, "response", None), "status_code", None)
        if isinstance(e, errors.GatedRepoError):
            why = "no token is set" if anonymous else "the token has no access to it"
            return HubFailure("gated", f"`{ref}` is gated on the Hub and {why}", status, anonymous)
        if isinstance(e, errors.DisabledRepoError):
            return HubFailure("disabled", f"`{ref}` is disabled on the Hub", status, anonymous)
        if isinstance(e, errors.RepositoryNotFoundError):
            return HubFailure("not-found", f"`{ref}` is neither a local folder nor a model on the Hub",
                              status, anonymous and status == 401)
        if isinstance(e, errors.RevisionNotFoundError):
            return HubFailure("revision-not-found", f"revision `{revision}` of `{ref}` does not exist on the Hub",
                              status, anonymous)
        if isinstance(e, errors.OfflineModeIsEnabled):
            return HubFailure("offline", f"`{ref}` is not cached and huggingface_hub is in offline mode")
        if isinstance(e, httpx2.TimeoutException):
            return HubFailure("timeout", f"the Hub did not answer for `{ref}` within {cfg.timeout:g} s")
        if isinstance(e, errors.HfHubHTTPError) and status is not None:
            return HubFailure("network", f"the Hub answered HTTP {status} for `{ref}`", status, anonymous)
        if isinstance(e, (httpx2.TransportError, ConnectionError)):
            return HubFailure("network", f"cannot reach the Hub at {cfg.endpoint} for `{ref}` ({_short(e)})")
    first = chain[0]
    return HubFailure("error", f"the Hub lookup of `{ref}` failed ({type(first).__name__}: {_short(first)})")


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


# -- what a model's facts need ------------------------------------------------------------------

def small_files(files: dict, prefix: str) -> list[str]:
    """Names (relative to the subfolder) of the small files the facts read, present in the listing."""
    names = [CONFIG, META, ADAPTER_CONFIG] + ([] if prefix + SINGLE in files else [INDEX])
    return [n for n in names if prefix + n in files]


def header_files(files: dict, prefix: str, find: Callable[[str], Path | None]) -> list[str]:
    """Repo paths whose safetensors header the facts need (shards come from the cached index)."""
    out = []
    if prefix + SINGLE in files:
        out.append(prefix + SINGLE)
    elif prefix + INDEX in files and (index := find(INDEX)) is not None:
        try:
            out += [prefix + s for s in sorted(set(read_index(index).values())) if prefix + s in files]
        except ReadError:
            pass
    if prefix + ADAPTER in files:
        out.append(prefix + ADAPTER)
    return out


def cache_finder(repo: str, sha: str, cfg: HubConfig, files: dict, prefix: str) -> Callable[[str], Path | None]:
    """name -> the file of this commit in the HF cache (no network), if the listing has it."""
    from huggingface_hub import try_to_load_from_cache

    def find(name: str) -> Path | None:
        if prefix + name not in files:
            return None
        try:
            hit = try_to_load_from_cache(repo, prefix + name, cache_dir=cfg.hf_cache, revision=sha)
        except (ValueError, OSError):
            return None
        return Path(hit) if isinstance(hit, str) else None

    return find


def lazy_finder(repo: str, sha: str, cfg: HubConfig, files: dict, prefix: str,
                online: Callable[[], bool]) -> Callable[[str], Path | None]:
    """Like cache_finder, but downloads a small listed file on demand (never a weights file)."""
    cached = cache_finder(repo, sha, cfg, files, prefix)
    memo: dict[str, Path | None] = {}

    def find(name: str) -> Path | None:
        if name not in memo:
            path = cached(name)
            size = files.get(prefix + name) or 0
            if (path is None and prefix + name in files and online() and size <= MAX_SMALL_FILE
                    and not name.lower().endswith(WEIGHT_SUFFIXES)):
                got = run_all({name: lambda: download(repo, prefix + name, sha, cfg)}, budget=cfg.budget)
                path = got.get(name) if isinstance(got.get(name), Path) else None
            memo[name] = path
        return memo[name]

    return find


# -- facts from a listing + headers -------------------------------------------------------------

def build_facts(ref: str, record: dict, prefix: str, find: Callable[[str], Path | None], cfg: HubConfig) -> ModelFacts:
    """ModelFacts of `ref` at the record's commit: small files through `find`, headers from the record."""
    files, headers, sha = record["files"], record["headers"], record["sha"]
    where = f"{ref}@{sha[:8]}" + (f" subfolder {prefix.rstrip('/')}" if prefix else "")
    folder = cfg.hf_cache / f"models--{ref.replace('/', '--')}" / "snapshots" / sha / prefix
    facts = ModelFacts(ref, "hub", folder if folder.is_dir() else None, source_note=f"Hub {where}", revision=sha)
    _beside(facts, find)

    def tensors(path: str, adapter: bool = False) -> dict[str, TensorInfo] | None:
        entry, file = headers.get(path), Path(ref) / path  # shown as org/name/model.safetensors
        note = None if isinstance(entry, dict) and "tensors" in entry else (
            f"{path}: {entry['error']}" if isinstance(entry, dict) and "error" in entry
            else f"{path}: header not fetched from the Hub")
        if note is not None:
            if adapter:
                facts.adapter_weights_note = note
            else:
                facts.weights_note = note
            return None
        if not adapter:
            facts.weight_files.append(file)
        return {name: TensorInfo(name, dtype, tuple(shape), file) for name, (dtype, shape) in entry["tensors"].items()}

    if prefix + SINGLE in files:
        facts.tensors = tensors(prefix + SINGLE)
    elif prefix + INDEX in files:
        facts.tensors = _sharded(facts, ref, prefix, files, find, tensors)
    if prefix + ADAPTER in files:
        facts.adapter_tensors = tensors(prefix + ADAPTER, adapter=True)
    elif prefix + ADAPTER_BIN in files:
        facts.adapter_weights_note = f"{ADAPTER_BIN} is a pickle; its shapes are not read yet"
    if facts.tensors is None and facts.weights_note is None and facts.adapter_config is None:
        pickle = next((n for n in PICKLES if prefix + n in files), None)
        if pickle is not None:
            facts.weight_files.append(Path(ref) / (prefix + pickle))
            facts.weights_note = f"{pickle} is a pickle; its shapes are not read yet"
    return facts


def _sharded(facts, ref, prefix, files, find, tensors) -> dict[str, TensorInfo] | None:
    index = find(INDEX)
    if index is None:
        facts.weights_note = f"{prefix}{INDEX} is not in the HF cache"
        return None
    facts.weight_files.append(index)
    try:
        shards = sorted(set(read_index(index).values()))
    except ReadError as e:
        facts.problems.append(ReadProblem(index, e.reason, e.line, e.column))
        return None
    out: dict[str, TensorInfo] = {}
    for shard in shards:
        if prefix + shard not in files:
            facts.weights_note = f"shard {shard} listed in {INDEX} is not in the repo"
            return None
        part = tensors(prefix + shard)
        if part is None:
            return None
        out.update(part)
    return out


def missing(record: dict, prefix: str, find: Callable[[str], Path | None]) -> list[str]:
    """What a cached record still lacks for this subfolder: small files not cached, headers not read."""
    files, headers = record["files"], record["headers"]
    lacking = [prefix + n for n in small_files(files, prefix) if find(n) is None]
    return lacking + [p for p in header_files(files, prefix, find) if p not in headers]


# -- the network --------------------------------------------------------------------------------

def fetch(ref: str, revision: str | None, subfolder: str | None, cfg: HubConfig, meta: MetaCache,
          online: Callable[[], bool]) -> ModelFacts | HubFailure:
    """Look `ref` up on the Hub. Never raises."""
    try:
        return _fetch(ref, revision, subfolder, cfg, meta, online)
    except Exception as exc:
        return failure_from(exc, ref, revision, cfg)


def _fetch(ref, revision, subfolder, cfg, meta, online) -> ModelFacts:
    from huggingface_hub import HfApi

    api = HfApi(endpoint=cfg.endpoint, token=cfg.token_arg, library_name="ckpt-lint", library_version=__version__)
    info = api.model_info(ref, revision=revision, files_metadata=True, timeout=cfg.timeout)
    sha = info.sha
    if not sha:
        raise ValueError("the Hub's answer has no commit sha")
    files = {s.rfilename: s.size for s in info.siblings or []}
    prefix = f"{subfolder.strip('/')}/" if subfolder and subfolder.strip("/") else ""
    find = cache_finder(ref, sha, cfg, files, prefix)
    for name in small_files(files, prefix):
        if find(name) is None:
            download(ref, prefix + name, sha, cfg)
    known = (meta.record(ref, sha) or {}).get("headers", {})
    wanted = [p for p in header_files(files, prefix, find) if p not in known]
    got = _parallel_map(lambda path: remote_header(ref, path, sha, cfg), wanted)
    record = meta.update(ref, sha, files, dict(zip(wanted, got)))
    meta.set_ref(ref, revision, sha)
    facts = build_facts(ref, record, prefix, find, cfg)
    facts.finder = lazy_finder(ref, sha, cfg, files, prefix, online)
    return facts


def fetch_config(ref: str, cfg: HubConfig) -> tuple[str, str, dict]:
    """(the Hub's id for `ref`, commit sha, config.json) of the main branch; raises on failure."""
    from huggingface_hub import HfApi

    api = HfApi(endpoint=cfg.endpoint, token=cfg.token_arg, library_name="ckpt-lint", library_version=__version__)
    info = api.model_info(ref, timeout=cfg.timeout)
    if not info.sha:
        raise ValueError("the Hub's answer has no commit sha")
    if CONFIG not in {s.rfilename for s in info.siblings or []}:
        raise ValueError(f"{ref} has no {CONFIG}")
    config = json.loads(download(ref, CONFIG, info.sha, cfg).read_text(encoding="utf-8"))
    if not isinstance(config, dict):
        raise ValueError(f"{CONFIG} of {ref} is not a JSON object")
    return info.id or ref, info.sha, config


def download(repo: str, path: str, sha: str, cfg: HubConfig) -> Path:
    from huggingface_hub import hf_hub_download

    return Path(hf_hub_download(repo, path, revision=sha, cache_dir=cfg.hf_cache, endpoint=cfg.endpoint,
                                token=cfg.token_arg, etag_timeout=cfg.timeout, library_name="ckpt-lint",
                                library_version=__version__, tqdm_class=_silent_tqdm()))


_SILENT = None


def _silent_tqdm():
    """A tqdm that never draws (the Hub step is quiet; rich shows one bar for the whole run)."""
    global _SILENT
    if _SILENT is None:
        from tqdm import tqdm

        class Silent(tqdm):
            monitor_interval = 0  # no monitor thread

            def __init__(self, *args, **kwargs):
                kwargs.pop("name", None)
                super().__init__(*args, **{**kwargs, "disable": True})

        _SILENT = Silent
    return _SILENT


def _parallel_map(fn, items: list, workers: int = 4) -> list:
    if len(items) <= 1:
        return [fn(i) for i in items]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(min(workers, len(items))) as pool:
        return list(pool.map(fn, items))


class _NoRange(Exception):
    pass


def remote_header(repo: str, path: str, sha: str, cfg: HubConfig) -> dict:
    """`{"tensors": {name: [dtype, shape]}}` from the header of a safetensors file on the Hub, or
    `{"error": reason}`. Two ranged GETs, for the length and then exactly the header: not one byte
    of tensor data. HTTP errors (gated, timeout, ...) propagate."""
    from huggingface_hub import hf_hub_url
    from huggingface_hub.utils import build_hf_headers

    url = hf_hub_url(repo, path, revision=sha, endpoint=cfg.endpoint)
    headers = build_hf_headers(token=cfg.token_arg, library_name="ckpt-lint", library_version=__version__)
    try:
        raw, total = _ranged(url, headers, 0, 7, cfg.timeout)
        if len(raw) < 8:
            return {"error": f"truncated safetensors header: file has only {len(raw)} bytes"}
        (n,) = struct.unpack("<Q", raw)
        if n > MAX_HEADER:
            return {"error": f"safetensors header length {n} exceeds the limit of {MAX_HEADER} bytes"}
        if total is not None and n > total - 8:
            return {"error": f"truncated safetensors header: declares {n} bytes, file has {total}"}
        raw, _ = _ranged(url, headers, 8, 8 + n - 1, cfg.timeout) if n else (b"", total)
    except _NoRange as e:
        return {"error": str(e)}
    return _parse_header(raw, total, n)


def _ranged(url: str, headers: dict, start: int, end: int, timeout: float) -> tuple[bytes, int | None]:
    from huggingface_hub.utils import get_session, hf_raise_for_status

    with get_session().stream("GET", url, headers={**headers, "Range": f"bytes={start}-{end}"},
                              timeout=timeout) as response:
        if response.status_code >= 400:
            response.read()
        hf_raise_for_status(response)
        if response.status_code != 206:  # a mirror that ignores Range would send the whole weights file
            raise _NoRange(f"the server ignored the Range request (HTTP {response.status_code}); "
                           "ckpt-lint does not download weights")
        want, buf = end - start + 1, bytearray()
        for chunk in response.iter_bytes():
            buf += chunk
            if len(buf) >= want:
                break
    content_range = response.headers.get("Content-Range", "")
    total = content_range.rpartition("/")[2]
    return bytes(buf[:want]), int(total) if total.isdigit() else None


def _parse_header(raw: bytes, total: int | None, n: int) -> dict:
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        return {"error": f"invalid safetensors header JSON: {type(e).__name__}"}
    if not isinstance(header, dict):
        return {"error": f"safetensors header is a JSON {type(header).__name__}, not an object"}
    tensors, data_end = {}, 0
    try:
        for name, entry in header.items():
            if name != "__metadata__":
                dtype, shape, _, end = _entry(name, entry)
                data_end = max(data_end, end)
                tensors[name] = [dtype, list(shape)]
    except ReadError as e:
        return {"error": e.reason}
    if total is not None and 8 + n + data_end > total:
        return {"error": f"truncated: tensor data ends at {8 + n + data_end}, file has {total} bytes"}
    return {"tensors": tensors}


# -- running lookups in parallel ----------------------------------------------------------------

TIMED_OUT = object()


def run_all(jobs: dict[Hashable, Callable[[], object]], *, budget: float, limit: int = 8,
            label: Callable[[Hashable], str] = str) -> dict[Hashable, object]:
    """Run the jobs on at most `limit` daemon threads; a job still running after `budget` seconds is
    abandoned (its result is TIMED_OUT), so a stalled server cannot hold the run (or its exit)."""
    pending, running, done = list(jobs), {}, {}
    wake = threading.Event()
    started = time.monotonic()
    progress = None
    try:
        while pending or running:
            while pending and len(running) < limit:
                key = pending.pop(0)
                box: list = []
                thread = threading.Thread(target=_job, args=(jobs[key], box, wake), daemon=True,
                                          name="ckpt-lint-hub")
                running[key] = (time.monotonic(), box)
                thread.start()
            wake.wait(0.05)
            wake.clear()
            now = time.monotonic()
            for key, (start, box) in list(running.items()):
                if box or now - start > budget:
                    done[key] = box[0] if box else TIMED_OUT
                    del running[key]
            if progress is None and now - started > 1.0 and (pending or running) and _show_progress():
                progress = _Progress(len(jobs))
            if progress is not None:
                progress.update(len(done), [label(k) for k in running])
    finally:
        if progress is not None:
            progress.close()
    return done


def _job(fn, box: list, wake: threading.Event) -> None:
    try:
        box.append(fn())
    except BaseException as exc:  # the job functions catch everything already; belt and braces
        box.append(exc)
    wake.set()


def _show_progress() -> bool:
    env = os.environ
    if env.get("CI") or env.get("CKPT_LINT_NO_PROGRESS") or env.get("TERM") == "dumb":
        return False
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


class _Progress:
    """A transient rich progress bar on stderr, only once lookups take more than a second."""

    def __init__(self, total: int):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._bar = Progress(TextColumn("Hub lookups"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                             TextColumn("{task.description}"), console=Console(stderr=True), transient=True)
        self._task = self._bar.add_task("", total=total)
        self._bar.start()

    def update(self, done: int, names: list[str]) -> None:
        self._bar.update(self._task, completed=done, description=", ".join(names[:2]))

    def close(self) -> None:
        self._bar.stop()
