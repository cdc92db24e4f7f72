"""A Hugging Face Hub-compatible HTTP server for tests (standard library only).

It speaks the part of the Hub protocol that ``huggingface_hub`` (>= 2.2, with ``HF_HUB_DISABLE_XET=1``)
and ``datasets`` really use (``../shared/reference/hub-protocol.md``): repo create/delete/settings,
repo info and revisions, tree listing, paths-info, refs, commits, branches and tags, preupload,
ndjson commits with regular and LFS files, the LFS batch/upload/verify API, ``resolve`` with HEAD/GET/
Range and the ``X-Repo-Commit``/``ETag``/``X-Error-Code`` headers, and ``validate-yaml``. Model,
dataset and space repos. Blobs are content-addressed files in a data folder; refs and commits are kept
in memory and mirrored to ``state.json`` there.

Fault injection for tests that prove the suite notices a broken server: set ``server.fault`` to
``"wrong_etag"`` (every file gets the same ETag), ``"truncate_body"`` (GET bodies cut in half) or
``"drop_commit"`` (the connection of a commit request is closed after its body arrived, with no answer and
nothing committed: a network that drops mid-upload) or ``"slow_commit"`` (a commit hangs 20 s and is then
dropped unapplied: time to kill the client mid-push).

Run by hand: ``python tests/hubserver.py --port 8765 --data /tmp/hub``, then ``HF_ENDPOINT=http://127.0.0.1:8765``.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import json
import os
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}
LFS_PATTERNS = ["*.safetensors", "*.bin", "*.pth", "*.pt", "*.ckpt", "*.pkl", "*.parquet", "*.arrow", "*.png",
                "*.jpg", "*.jpeg", "*.webp", "*.gif", "*.npz", "*.npy", "*.tar", "*.zip", "*.gz", "*.h5", "*.onnx"]
LFS_THRESHOLD = 10 * 1024 * 1024
USER = "testuser"


def git_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class HubError(Exception):
    def __init__(self, status: int, code: str | None, message: str, commit: str | None = None, extra=None):
        super().__init__(message)
        self.status, self.code, self.message, self.commit, self.extra = status, code, message, commit, extra or {}


@dataclass
class FileEntry:
    size: int
    sha256: str  # content address of the blob
    git_oid: str  # git sha1 (of the pointer for LFS files)
    lfs: bool

    def to_json(self, path: str) -> dict:
        d = {"type": "file", "oid": self.git_oid, "size": self.size, "path": path}
        if self.lfs:
            d["lfs"] = {"oid": self.sha256, "size": self.size, "pointerSize": len(self.pointer())}
        return d

    def pointer(self) -> bytes:
        return f"version https://git-lfs.github.com/spec/v1\noid sha256:{self.sha256}\nsize {self.size}\n".encode()


@dataclass
class Commit:
    sha: str
    parent: str | None
    files: dict[str, FileEntry]
    title: str
    message: str
    date: str


@dataclass
class Repo:
    type: str
    repo_id: str
    private: bool = False
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    prs: dict[int, str] = field(default_factory=dict)
    commits: dict[str, Commit] = field(default_factory=dict)


class HubStore:
    """Repos, commits and content-addressed blobs."""

    def __init__(self, data_dir: Path):
        self.data = Path(data_dir)
        (self.data / "blobs").mkdir(parents=True, exist_ok=True)
        self.repos: dict[tuple[str, str], Repo] = {}
        self.lock = threading.RLock()
        self._counter = 0

    # -- blobs
    def put_blob(self, content: bytes) -> str:
        sha = hashlib.sha256(content).hexdigest()
        p = self.data / "blobs" / sha
        if not p.exists():
            tmp = p.with_suffix(".tmp%d" % threading.get_ident())
            tmp.write_bytes(content)
            os.replace(tmp, p)
        return sha

    def has_blob(self, sha: str) -> bool:
        return (self.data / "blobs" / sha).is_file()

    def blob(self, sha: str) -> bytes:
        return (self.data / "blobs" / sha).read_bytes()

    # -- repos
    def repo(self, rtype: str, repo_id: str) -> Repo:
        r = self.repos.get((rtype, repo_id))
        if r is None:
            raise HubError(404, "RepoNotFound", f"Repository Not Found for url: {rtype} {repo_id}.")
        return r

    def new_commit(self, repo: Repo, parent: str | None, files: dict[str, FileEntry], title: str, message: str = "") -> str:
        with self.lock:
            self._counter += 1
            seed = json.dumps([repo.repo_id, parent, sorted(files), title, self._counter, time.time()])
            sha = hashlib.sha1(seed.encode()).hexdigest()
            repo.commits[sha] = Commit(sha, parent, files, title, message, time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()))
            return sha

    def create_repo(self, rtype: str, repo_id: str, private: bool) -> tuple[Repo, bool]:
        with self.lock:
            if (rtype, repo_id) in self.repos:
                return self.repos[(rtype, repo_id)], False
            repo = Repo(rtype, repo_id, private)
            gitattributes = "\n".join(f"{p} filter=lfs diff=lfs merge=lfs -text" for p in LFS_PATTERNS).encode() + b"\n"
            entry = FileEntry(len(gitattributes), self.put_blob(gitattributes), git_sha1(gitattributes), False)
            repo.branches["main"] = self.new_commit(repo, None, {".gitattributes": entry}, "initial commit")
            self.repos[(rtype, repo_id)] = repo
            self.save_state()
            return repo, True

    def resolve_rev(self, repo: Repo, rev: str | None) -> str:
        rev = rev or "main"
        if rev.startswith("refs/heads/"):
            rev = rev[len("refs/heads/"):]
        if rev in repo.branches:
            return repo.branches[rev]
        if rev.startswith("refs/tags/"):
            rev = rev[len("refs/tags/"):]
        if rev in repo.tags:
            return repo.tags[rev]
        m = re.fullmatch(r"refs/pr/(\d+)", rev)
        if m and int(m.group(1)) in repo.prs:
            return repo.prs[int(m.group(1))]
        if re.fullmatch(r"[0-9a-f]{40}", rev) and rev in repo.commits:
            return rev
        raise HubError(404, "RevisionNotFound", f"Invalid rev id: {rev}")

    def save_state(self) -> None:
        state = {f"{t}:{rid}": {"branches": r.branches, "tags": r.tags, "prs": r.prs,
                                "commits": {s: {"parent": c.parent, "title": c.title,
                                                "files": {p: vars(e) for p, e in c.files.items()}}
                                            for s, c in r.commits.items()}}
                 for (t, rid), r in self.repos.items()}
        tmp = self.data / "state.json.tmp"
        tmp.write_text(json.dumps(state))
        os.replace(tmp, self.data / "state.json")


class Handler(BaseHTTPRequestHandler):
    server: HubServer
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet
        if os.environ.get("HUBSERVER_VERBOSE"):
            super().log_message(fmt, *args)

    # -- plumbing
    def _body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            return self.rfile.read(n)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        return b""

    def _send(self, status: int, body: bytes = b"", headers: dict | None = None, content_type="application/json",
              length: int | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def _json(self, obj, status: int = 200, headers: dict | None = None) -> None:
        self._send(status, json.dumps(obj).encode(), headers)

    def _error(self, e: HubError) -> None:
        headers = {"X-Error-Code": e.code} if e.code else {}
        headers["X-Error-Message"] = e.message
        if e.commit:
            headers["X-Repo-Commit"] = e.commit
        body = b"" if self.command == "HEAD" else json.dumps({"error": e.message, **e.extra}).encode()
        self._send(e.status, body, headers)

    def _dispatch(self) -> None:
        self._raw_body = self._body()  # always drain the request body
        url = urlsplit(self.path)
        self._query = parse_qs(url.query)
        segs = [unquote(s) for s in url.path.split("/")[1:]]
        try:
            self.server.request_log.append((self.command, url.path))
            if self.server.fault == "slow_commit" and self.command == "POST" and "commit" in segs[-2:-1]:
                time.sleep(20)  # a client killed meanwhile: its commit is never applied (connection gone)
                self.close_connection = True
                return
            if self.server.fault == "drop_commit" and self.command == "POST" and "commit" in segs[-2:-1]:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self._route(segs)
        except HubError as e:
            self._error(e)
        except (BrokenPipeError, ConnectionResetError):
            pass

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = _dispatch

    @property
    def store(self) -> HubStore:
        return self.server.store

    def _endpoint(self) -> str:
        return f"http://{self.headers.get('Host') or '%s:%d' % self.server.server_address}"

    # -- routing
    def _route(self, segs: list[str]) -> None:
        m, n = self.command, len(segs)
        if segs[:1] == ["api"]:
            if segs[1:3] == ["repos", "create"] and m == "POST":
                return self._create_repo()
            if segs[1:3] == ["repos", "delete"] and m == "DELETE":
                return self._delete_repo()
            if segs[1:] == ["validate-yaml"] and m == "POST":
                return self._json({"errors": [], "warnings": []})
            if segs[1:] == ["whoami-v2"]:
                return self._json({"type": "user", "name": USER, "fullname": USER, "orgs": [], "auth": {}})
            if n >= 2 and segs[1] in TYPES:
                rtype = TYPES[segs[1]]
                if n == 2:
                    return self._json([])
                if n >= 4:
                    return self._repo_api(rtype, f"{segs[2]}/{segs[3]}", segs[4:])
            raise HubError(404, None, f"no route {m} /{'/'.join(segs)}")
        if segs[:1] == ["lfs-upload"] and m == "PUT":
            return self._lfs_upload(segs[1])
        if segs[:1] == ["lfs-verify"] and m == "POST":
            return self._lfs_verify(segs[1])
        rtype = "model"
        if segs[:1] in (["datasets"], ["spaces"]):
            rtype, segs = segs[0][:-1], segs[1:]
        if len(segs) >= 2 and segs[1].endswith(".git") and segs[2:] == ["info", "lfs", "objects", "batch"]:
            return self._lfs_batch(rtype, f"{segs[0]}/{segs[1][:-4]}")
        if len(segs) >= 5 and segs[2] == "resolve" and m in ("GET", "HEAD"):
            return self._resolve(rtype, f"{segs[0]}/{segs[1]}", segs[3], "/".join(segs[4:]))
        raise HubError(404, None, f"no route {m} /{'/'.join(segs)}")

    def _repo_api(self, rtype: str, repo_id: str, rest: list[str]) -> None:
        m = self.command
        repo = self.store.repo(rtype, repo_id)
        head = rest[0] if rest else ""
        if not rest and m == "GET":
            return self._json(self._info(repo, "main"))
        if head == "revision" and m == "GET":
            return self._json(self._info(repo, "/".join(rest[1:])))
        if head == "tree" and m == "GET":
            return self._tree(repo, rest[1], "/".join(rest[2:]))
        if head == "paths-info" and m == "POST":
            return self._paths_info(repo, "/".join(rest[1:]))
        if head == "refs" and m == "GET":
            return self._refs(repo)
        if head == "commits" and m == "GET":
            return self._commits(repo, "/".join(rest[1:]))
        if head == "preupload" and m == "POST":
            return self._preupload(repo, "/".join(rest[1:]))
        if head == "commit" and m == "POST":
            return self._commit(repo, "/".join(rest[1:]))
        if head == "branch" and m in ("POST", "DELETE"):
            return self._branch(repo, "/".join(rest[1:]))
        if head == "tag" and m in ("POST", "DELETE"):
            return self._tag(repo, "/".join(rest[1:]))
        if head == "settings" and m == "PUT":
            data = self._jbody()
            if "visibility" in data:
                repo.private = data["visibility"] == "private"
            if "private" in data:
                repo.private = bool(data["private"])
            return self._json({})
        raise HubError(404, None, f"no route {m} {rtype} {repo_id} {'/'.join(rest)}")

    def _jbody(self) -> dict:
        try:
            return json.loads(self._raw_body or b"{}")
        except json.JSONDecodeError:
            raise HubError(400, None, "body is not JSON")

    # -- repos
    def _repo_url(self, repo: Repo | None = None, rtype: str = "model", repo_id: str = "") -> str:
        if repo is not None:
            rtype, repo_id = repo.type, repo.repo_id
        return f"{self._endpoint()}/{PREFIX[rtype]}{repo_id}"

    def _create_repo(self) -> None:
        data = self._jbody()
        rtype = data.get("type") or "model"
        repo_id = f"{data.get('organization') or USER}/{data['name']}"
        private = data.get("private") or data.get("visibility") == "private"
        repo, created = self.store.create_repo(rtype, repo_id, bool(private))
        url = self._repo_url(repo)
        if not created:
            raise HubError(409, None, "You already created this repo", extra={"url": url})
        self._json({"url": url, "name": repo_id, "id": repo_id})

    def _delete_repo(self) -> None:
        data = self._jbody()
        key = (data.get("type") or "model", f"{data.get('organization') or USER}/{data['name']}")
        with self.store.lock:
            if key not in self.store.repos:
                raise HubError(404, "RepoNotFound", "Repository Not Found")
            del self.store.repos[key]
            self.store.save_state()
        self._send(200)

    def _info(self, repo: Repo, rev: str) -> dict:
        sha = self.store.resolve_rev(repo, rev)
        c = repo.commits[sha]
        info = {"id": repo.repo_id, "_id": hashlib.md5(repo.repo_id.encode()).hexdigest()[:24], "sha": sha,
                "private": repo.private, "gated": False, "disabled": False, "lastModified": c.date,
                "createdAt": c.date, "tags": [], "downloads": 0, "likes": 0, "author": repo.repo_id.split("/")[0],
                "siblings": [{"rfilename": p} for p in sorted(c.files)], "usedStorage": 0}
        if repo.type == "model":
            info.update(modelId=repo.repo_id, library_name=None)
        if repo.type == "dataset":
            info.update(description="", citation="", cardData={}, paperswithcode_id=None)
        if repo.type == "space":
            info.update(sdk="static", runtime={"stage": "RUNNING"})
        return info

    # -- reading trees
    def _entries_at(self, repo: Repo, sha: str) -> dict[str, FileEntry]:
        return repo.commits[sha].files

    def _dir_oid(self, path: str, sha: str) -> str:
        return hashlib.sha1(f"{sha}:{path}".encode()).hexdigest()

    def _tree(self, repo: Repo, rev: str, path: str) -> None:
        sha = self.store.resolve_rev(repo, rev)
        files = self._entries_at(repo, sha)
        recursive = self._query.get("recursive", ["false"])[0].lower() == "true"
        expand = self._query.get("expand", ["false"])[0].lower() == "true"
        base = path.strip("/")
        if base and base in files:
            raise HubError(404, "EntryNotFound", f"{base} is a file, not a folder", commit=sha)
        prefix = base + "/" if base else ""
        under = {p: e for p, e in files.items() if p.startswith(prefix)}
        if base and not under:
            raise HubError(404, "EntryNotFound", f"{base} does not exist at {rev}", commit=sha)
        out, dirs = [], set()
        for p in sorted(under):
            rel = p[len(prefix):]
            parts = rel.split("/")
            for i in range(1, len(parts)):
                d = prefix + "/".join(parts[:i])
                if (recursive or i == 1) and d not in dirs:
                    dirs.add(d)
                    out.append({"type": "directory", "oid": self._dir_oid(d, sha), "size": 0, "path": d})
            if recursive or len(parts) == 1:
                out.append(self._file_json(repo, sha, p, files[p], expand))
        self._json(out)

    def _file_json(self, repo: Repo, sha: str, path: str, entry: FileEntry, expand: bool) -> dict:
        d = entry.to_json(path)
        if expand:
            c = repo.commits[sha]
            d["lastCommit"] = {"id": sha, "title": c.title, "date": c.date}
            d["securityFileStatus"] = {"status": "safe"}
        return d

    def _paths_info(self, repo: Repo, rev: str) -> None:
        sha = self.store.resolve_rev(repo, rev)
        files = self._entries_at(repo, sha)
        form = parse_qs(self._raw_body.decode())
        if not form and self.headers.get("Content-Type", "").startswith("application/json"):
            form = {k: v if isinstance(v, list) else [v] for k, v in self._jbody().items()}
        expand = str(form.get("expand", ["false"])[0]).lower() == "true"
        out = []
        for p in form.get("paths", []):
            p = p.strip("/")
            if p in files:
                out.append(self._file_json(repo, sha, p, files[p], expand))
            elif any(f.startswith(p + "/") for f in files) or p == "":
                out.append({"type": "directory", "oid": self._dir_oid(p, sha), "size": 0, "path": p})
        self._json(out)

    def _refs(self, repo: Repo) -> None:
        self._json({"branches": [{"name": b, "ref": f"refs/heads/{b}", "targetCommit": s} for b, s in repo.branches.items()],
                    "tags": [{"name": t, "ref": f"refs/tags/{t}", "targetCommit": s} for t, s in repo.tags.items()],
                    "converts": [],
                    "pullRequests": [{"name": f"refs/pr/{n}", "ref": f"refs/pr/{n}", "targetCommit": s} for n, s in repo.prs.items()]})

    def _commits(self, repo: Repo, rev: str) -> None:
        sha, out = self.store.resolve_rev(repo, rev), []
        while sha:
            c = repo.commits[sha]
            out.append({"id": c.sha, "title": c.title, "message": c.message, "authors": [{"user": USER}], "date": c.date})
            sha = c.parent
        self._json(out)

    # -- branches and tags
    def _branch(self, repo: Repo, branch: str) -> None:
        with self.store.lock:
            if self.command == "DELETE":
                if branch not in repo.branches:
                    raise HubError(404, "RevisionNotFound", f"Invalid rev id: {branch}")
                del repo.branches[branch]
            else:
                if branch in repo.branches:
                    raise HubError(409, None, f"Reference already exists: refs/heads/{branch}")
                start = self._jbody().get("startingPoint")
                repo.branches[branch] = self.store.resolve_rev(repo, start)
            self.store.save_state()
        self._json({})

    def _tag(self, repo: Repo, name: str) -> None:
        with self.store.lock:
            if self.command == "DELETE":
                if name not in repo.tags:
                    raise HubError(404, "RevisionNotFound", f"Invalid rev id: {name}")
                del repo.tags[name]
            else:
                data = self._jbody()
                if data["tag"] in repo.tags:
                    raise HubError(409, None, f"Tag already exists: {data['tag']}")
                repo.tags[data["tag"]] = self.store.resolve_rev(repo, name)
            self.store.save_state()
        self._json({})

    # -- uploads
    def _preupload(self, repo: Repo, rev: str) -> None:
        try:
            files = self._entries_at(repo, self.store.resolve_rev(repo, rev))
        except HubError:
            files = {}  # a new branch / PR: nothing on the remote yet
        out = []
        for f in self._jbody().get("files", []):
            sample = base64.b64decode(f.get("sample", ""))
            lfs = (any(fnmatch.fnmatch(f["path"], p) for p in LFS_PATTERNS) or f.get("size", 0) > LFS_THRESHOLD
                   or b"\0" in sample)
            remote = files.get(f["path"])
            oid = None if remote is None else (remote.sha256 if remote.lfs else remote.git_oid)
            out.append({"path": f["path"], "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False, "oid": oid})
        self._json({"files": out, "commitOid": self.store.resolve_rev(repo, rev) if files else None})

    def _lfs_batch(self, rtype: str, repo_id: str) -> None:
        self.store.repo(rtype, repo_id)
        data = self._jbody()
        ep = self._endpoint()
        objs = []
        for o in data.get("objects", []):
            obj = {"oid": o["oid"], "size": o["size"], "authenticated": True}
            if data.get("operation", "upload") == "upload":
                if not self.store.has_blob(o["oid"]):
                    obj["actions"] = {"upload": {"href": f"{ep}/lfs-upload/{o['oid']}"},
                                      "verify": {"href": f"{ep}/lfs-verify/{o['oid']}"}}
            else:
                obj["actions"] = {"download": {"href": f"{ep}/lfs-download/{o['oid']}"}}
            objs.append(obj)
        self._send(200, json.dumps({"transfer": "basic", "objects": objs, "hash_algo": "sha256"}).encode(),
                   content_type="application/vnd.git-lfs+json")

    def _lfs_upload(self, oid: str) -> None:
        if hashlib.sha256(self._raw_body).hexdigest() != oid:
            raise HubError(400, None, "uploaded bytes do not match the announced sha256")
        self.store.put_blob(self._raw_body)
        self._send(200)

    def _lfs_verify(self, oid: str) -> None:
        data = self._jbody()
        if not self.store.has_blob(oid) or (self.store.data / "blobs" / oid).stat().st_size != data.get("size"):
            raise HubError(404, None, "object not uploaded")
        self._json({})

    def _commit(self, repo: Repo, rev: str) -> None:
        lines = [json.loads(line) for line in self._raw_body.decode().splitlines() if line.strip()]
        header = next((line["value"] for line in lines if line.get("key") == "header"), {})
        create_pr = self._query.get("create_pr", ["0"])[0] in ("1", "true")
        with self.store.lock:
            base = self.store.resolve_rev(repo, rev)
            parent = header.get("parentCommit")
            if parent and parent != base:
                raise HubError(412, None, f"A commit has happened since. Please refresh and try again. ({parent} != {base})")
            files = dict(repo.commits[base].files)
            for line in lines:
                key, v = line.get("key"), line.get("value", {})
                if key == "file":
                    content = base64.b64decode(v["content"]) if v.get("encoding") == "base64" else v["content"].encode()
                    files[v["path"]] = FileEntry(len(content), self.store.put_blob(content), git_sha1(content), False)
                elif key == "lfsFile":
                    if not self.store.has_blob(v["oid"]):
                        raise HubError(422, None, f"LFS object {v['oid']} for {v['path']} was not uploaded")
                    e = FileEntry(v["size"], v["oid"], "", True)
                    e.git_oid = git_sha1(e.pointer())
                    files[v["path"]] = e
                elif key == "deletedFile":
                    if files.pop(v["path"], None) is None:
                        raise HubError(404, "EntryNotFound", f"{v['path']} does not exist", commit=base)
                elif key == "deletedFolder":
                    for p in [p for p in files if p.startswith(v["path"].rstrip("/") + "/")]:
                        del files[p]
            sha = self.store.new_commit(repo, base, files, header.get("summary", "commit"), header.get("description", ""))
            pr_url = None
            if create_pr:
                num = max(repo.prs, default=0) + 1
                repo.prs[num] = sha
                pr_url = f"{self._repo_url(repo)}/discussions/{num}"
            else:
                name = rev[len("refs/heads/"):] if rev.startswith("refs/heads/") else rev
                if name in repo.branches:
                    repo.branches[name] = sha
                elif re.fullmatch(r"refs/pr/\d+", name):
                    repo.prs[int(name.rsplit("/", 1)[1])] = sha
                else:
                    raise HubError(400, None, f"cannot commit on {rev!r}: not a branch")
            self.store.save_state()
        self._json({"commitOid": sha, "commitUrl": f"{self._repo_url(repo)}/commit/{sha}", "pullRequestUrl": pr_url,
                    "success": True})

    # -- downloads
    def _resolve(self, rtype: str, repo_id: str, rev: str, path: str) -> None:
        repo = self.store.repo(rtype, repo_id)
        sha = self.store.resolve_rev(repo, rev)
        entry = repo.commits[sha].files.get(path)
        if entry is None:
            raise HubError(404, "EntryNotFound", f"{path} does not exist at {rev}", commit=sha)
        fault = self.server.fault
        etag = ("0" * 64) if fault == "wrong_etag" else (entry.sha256 if entry.lfs else entry.git_oid)
        headers = {"X-Repo-Commit": sha, "ETag": f'"{etag}"', "Accept-Ranges": "bytes"}
        if entry.lfs:
            headers.update({"X-Linked-Etag": f'"{etag}"', "X-Linked-Size": entry.size})
        data = self.store.blob(entry.sha256)
        if self.command == "HEAD":
            return self._send(200, b"", headers, "application/octet-stream", length=len(data))
        rng = self.headers.get("Range")
        status = 200
        if rng:
            m = re.fullmatch(r"bytes=(\d*)-(\d*)", rng.strip())
            if not m:
                raise HubError(416, None, "bad range")
            start = int(m.group(1)) if m.group(1) else max(0, len(data) - int(m.group(2)))
            end = int(m.group(2)) if m.group(1) and m.group(2) else len(data) - 1
            if start >= len(data) and len(data):
                raise HubError(416, None, "range not satisfiable")
            headers["Content-Range"] = f"bytes {start}-{min(end, len(data) - 1)}/{len(data)}"
            data, status = data[start:end + 1], 206
        if fault == "truncate_body":
            data = data[: len(data) // 2]
        self._send(status, data, headers, "application/octet-stream")


class HubServer(ThreadingHTTPServer):
    """``HubServer(("127.0.0.1", 0), data_dir)``; ``.endpoint`` is its base URL; ``.fault`` injects errors."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], data_dir: str | Path):
        super().__init__(address, Handler)
        self.store = HubStore(Path(data_dir))
        self.fault: str | None = None
        self.request_log: list[tuple[str, str]] = []
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> HubServer:
        self._thread = threading.Thread(target=self.serve_forever, name="hubserver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description="Hub-compatible test server")
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--data", default="hub-data")
    args = ap.parse_args()
    srv = HubServer(("127.0.0.1", args.port), args.data)
    print(f"serving on {srv.endpoint} (data in {args.data}); set HF_ENDPOINT={srv.endpoint} HF_HUB_DISABLE_XET=1")
    srv.serve_forever()
