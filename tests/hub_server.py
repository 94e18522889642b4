"""A local Hugging Face Hub for tests: stdlib `http.server` on 127.0.0.1 (port 0), real client.

It serves the folder `root` as repos: `root/<org>/<name>/...` (or `root/<name>/...` for a
single-segment legacy id such as `bert-base-chinese`; a folder is a repo when it holds a file).
It honours the part of the Hub's HTTP contract that huggingface_hub relies on:

- HEAD/GET `/{repo}/resolve/{revision}/{path}`: `X-Repo-Commit`, `ETag` (git blob sha1), for LFS
  files (weights, by extension) `X-Linked-Etag` (sha256) and `X-Linked-Size`; `Range` -> 206
  with `Content-Range`; errors carry `X-Error-Code` (RepoNotFound, GatedRepo, RevisionNotFound,
  EntryNotFound, with `X-Repo-Commit` on a missing file).
- GET `/api/models/{repo}[/revision/{revision}]` (`?blobs=true` adds sizes and LFS info).

As the real Hub: an anonymous request for a missing or private repo gets 401 RepoNotFound, an
authenticated one 404; a gated repo answers model_info but refuses files (401 anonymous, 403 with a
token that has no access). A repo may carry `.hub.json`: `{"private": true, "gated": true,
"revisions": {"v1.0": "main"}}`. Revisions: `main`, the commit sha, and those aliases.

Every request is logged (`server.log`: method, path, range, status, body bytes sent, token).
`server.delay` (seconds) stalls every answer, to test timeouts; `ranges=False` makes it ignore
Range like a naive mirror; `server.max_inflight` is the most requests it served at once.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

LFS_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".gguf", ".h5", ".onnx", ".msgpack")
GOOD_TOKEN = "hf_test_good_token"  # sees private repos and gated ones
NO_ACCESS_TOKEN = "hf_test_no_access"  # a valid token that has not accepted the gated repos' terms
_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


@dataclass
class Request:
    method: str
    path: str
    range: str | None
    status: int
    sent: int  # body bytes written
    token: str | None


@dataclass
class Repo:
    repo_id: str
    folder: Path
    sha: str
    files: dict[str, Path]  # path in repo -> file
    private: bool = False
    gated: bool = False
    revisions: dict[str, str] | None = None  # alias -> "main"

    def commit(self, revision: str) -> str | None:
        if revision in ("main", self.sha) or revision in (self.revisions or {}):
            return self.sha
        return None


def _blob_sha1(path: Path) -> str:
    data = path.read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _sha256(path: Path) -> str:
    """The LFS oid. Above 64 MB (benchmark files, sparse), a stand-in: the first MB and the size."""
    digest = hashlib.sha256()
    size = path.stat().st_size
    with open(path, "rb") as f:
        if size > 64 << 20:
            digest.update(f.read(1 << 20) + str(size).encode())
        else:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def is_lfs(name: str) -> bool:
    return name.lower().endswith(LFS_SUFFIXES)


class HubServer:
    def __init__(self, root: Path, *, delay: float = 0.0, ranges: bool = True):
        self.root = Path(root)
        self.delay = delay
        self.ranges = ranges
        self.inflight = self.max_inflight = 0
        self._log: list[Request] = []
        self._etags: dict[tuple[Path, float, int], str] = {}
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    def __enter__(self) -> "HubServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    # -- what tests look at ---------------------------------------------------------------------
    @property
    def log(self) -> list[Request]:
        """The requests answered so far. A handler logs after its last byte is written, so a client
        can be done before the entry is: wait (briefly) until no request is in flight."""
        deadline = time.monotonic() + 2.0
        while self.inflight and time.monotonic() < deadline:
            time.sleep(0.005)
        return self._log

    def requests(self, repo: str | None = None) -> list[Request]:
        log = list(self.log)
        if repo is None:
            return log
        return [r for r in log if r.path.startswith((f"/{repo}/resolve/", f"/api/models/{repo}/", f"/api/models/{repo}?"))
                or r.path == f"/api/models/{repo}"]

    def clear(self) -> None:
        _ = self.log  # settle first: a late entry must not land after the clear
        with self._lock:
            self._log.clear()

    # -- repos ----------------------------------------------------------------------------------
    def repo(self, repo_id: str) -> Repo | None:
        parts = repo_id.split("/")
        if not 1 <= len(parts) <= 2 or any(p in ("", ".", "..") for p in parts):
            return None
        folder = self.root.joinpath(*parts)
        if not folder.is_dir() or (len(parts) == 2 and _holds_files(self.root / parts[0])):
            return None
        if len(parts) == 1 and not _holds_files(folder):
            return None  # an org folder, not a repo
        options = json.loads((folder / ".hub.json").read_text()) if (folder / ".hub.json").is_file() else {}
        files = {p.relative_to(folder).as_posix(): p for p in sorted(folder.rglob("*"))
                 if p.is_file() and p.name != ".hub.json"}
        digest = hashlib.sha1(repo_id.encode())
        for name, path in files.items():
            digest.update(f"{name}:{self.etag(path)}".encode())
        return Repo(repo_id, folder, options.get("sha", digest.hexdigest()), files, options.get("private", False),
                    options.get("gated", False), options.get("revisions"))

    def etag(self, path: Path) -> str:
        stat = path.stat()
        key = (path, stat.st_mtime, stat.st_size)
        if key not in self._etags:
            self._etags[key] = _sha256(path) if is_lfs(path.name) else _blob_sha1(path)
        return self._etags[key]


def _holds_files(folder: Path) -> bool:
    return any(p.is_file() for p in folder.iterdir())


def _handler(server: HubServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # quiet
            pass

        def do_HEAD(self) -> None:
            self._serve(body=False)

        def do_GET(self) -> None:
            self._serve(body=True)

        # -- routing --------------------------------------------------------------------------
        def _serve(self, body: bool) -> None:
            self._sent, self._status = 0, 0
            with server._lock:
                server.inflight += 1
                server.max_inflight = max(server.max_inflight, server.inflight)
            try:
                if server.delay:
                    time.sleep(server.delay)
                url = urlsplit(self.path)
                path = unquote(url.path)
                if path.startswith("/api/models/"):
                    self._api(path[len("/api/models/"):], parse_qs(url.query), body)
                elif "/resolve/" in path:
                    repo_id, _, rest = path.lstrip("/").partition("/resolve/")
                    revision, _, filename = url.path.split("/resolve/", 1)[1].partition("/")
                    self._resolve(repo_id, unquote(revision), unquote(filename), body)
                else:
                    self._error(404, None, "Not Found", body)
            except (BrokenPipeError, ConnectionResetError):
                pass
            finally:
                with server._lock:
                    server.inflight -= 1
                    server._log.append(Request(self.command, self.path, self.headers.get("Range"), self._status,
                                              self._sent, self._token()))

        def _token(self) -> str | None:
            auth = self.headers.get("Authorization") or ""
            return auth[len("Bearer "):] if auth.startswith("Bearer ") else None

        def _find(self, repo_id: str, body: bool) -> Repo | None:
            """The repo, or None after answering as the Hub does for a missing/private one."""
            repo = server.repo(repo_id)
            token = self._token()
            if repo is not None and (not repo.private or token == GOOD_TOKEN):
                return repo
            status = 404 if token else 401
            self._error(status, "RepoNotFound", "Repository not found", body)
            return None

        def _api(self, rest: str, query: dict, body: bool) -> None:
            repo_id, _, revision = rest.partition("/revision/")
            repo = self._find(repo_id, body)
            if repo is None:
                return
            if revision and repo.commit(revision) is None:
                return self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}", body)
            blobs = query.get("blobs") == ["true"]
            siblings = []
            for name, file in repo.files.items():
                entry: dict = {"rfilename": name}
                if blobs:
                    size = file.stat().st_size
                    entry.update(size=size, blobId=_blob_sha1(file) if not is_lfs(name) else "0" * 40)
                    if is_lfs(name):
                        entry["lfs"] = {"sha256": server.etag(file), "size": size, "pointerSize": 134}
                siblings.append(entry)
            info = {"_id": repo.sha[:24], "id": repo.repo_id, "modelId": repo.repo_id, "sha": repo.sha,
                    "private": repo.private, "gated": "manual" if repo.gated else False, "disabled": False,
                    "downloads": 0, "likes": 0, "tags": [], "lastModified": "2024-01-01T00:00:00.000Z",
                    "siblings": siblings}
            self._json(200, info, body)

        def _resolve(self, repo_id: str, revision: str, filename: str, body: bool) -> None:
            repo = self._find(repo_id, body)
            if repo is None:
                return
            token = self._token()
            if repo.gated and token != GOOD_TOKEN:
                status = 403 if token else 401
                return self._error(status, "GatedRepo", f"Access to model {repo_id} is restricted.", body)
            sha = repo.commit(revision)
            if sha is None:
                return self._error(404, "RevisionNotFound", f"Invalid rev id: {revision}", body)
            file = repo.files.get(filename)
            if file is None:
                return self._error(404, "EntryNotFound", "Entry not found", body, {"X-Repo-Commit": sha})
            size = file.stat().st_size
            etag = server.etag(file)
            headers = {"X-Repo-Commit": sha, "ETag": f'"{etag}"', "Accept-Ranges": "bytes",
                       "Content-Type": "application/octet-stream"}
            if is_lfs(filename):
                headers.update({"X-Linked-Etag": f'"{etag}"', "X-Linked-Size": str(size)})
            start, end, status = 0, size - 1, 200
            wanted = self.headers.get("Range")
            if wanted and body and server.ranges:
                m = _RANGE.match(wanted.strip())
                if m is None or not (m.group(1) or m.group(2)):
                    return self._error(416, None, "Bad range", body)
                if m.group(1):
                    start, end = int(m.group(1)), min(int(m.group(2) or size - 1), size - 1)
                else:  # suffix range: the last N bytes
                    start = max(size - int(m.group(2)), 0)
                if start >= size or start > end:
                    return self._error(416, None, "Range not satisfiable", body, {"Content-Range": f"bytes */{size}"})
                status = 206
                headers["Content-Range"] = f"bytes {start}-{end}/{size}"
            self._head(status, headers, end - start + 1)
            if body:
                with open(file, "rb") as f:
                    f.seek(start)
                    left = end - start + 1
                    while left > 0:
                        chunk = f.read(min(left, 1 << 16))
                        if not chunk:
                            break
                        self.wfile.write(chunk)
                        self._sent += len(chunk)
                        left -= len(chunk)

        # -- responses ------------------------------------------------------------------------
        def _head(self, status: int, headers: dict, length: int) -> None:
            self._status = status
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(length))
            self.end_headers()

        def _json(self, status: int, data: dict, body: bool, extra: dict | None = None) -> None:
            raw = json.dumps(data).encode()
            self._head(status, {"Content-Type": "application/json", **(extra or {})}, len(raw))
            if body:
                self.wfile.write(raw)
                self._sent += len(raw)

        def _error(self, status: int, code: str | None, message: str, body: bool, extra: dict | None = None) -> None:
            headers = {**(extra or {}), "X-Error-Message": message}
            if code:
                headers["X-Error-Code"] = code
            self._json(status, {"error": message}, body, headers)

    return Handler
