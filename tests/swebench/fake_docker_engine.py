"""A fake Docker Engine API server for contract tests: the real docker SDK talks to it over a real unix socket.

It implements just the endpoints `DockerSandbox` uses: `/_ping`, `/version`, `/info`, image inspect and pull (no
registry: pull fails like an unknown image), container create / inspect / start / delete, exec create / start (a
hijacked, multiplexed stdout/stderr stream, as the engine sends it) / inspect, and archive PUT / GET.

A "container" is a temp directory: `merged/` (a copy of the image's template, the container's `/testbed`) and `tmp/`
(its `/tmp`). Each exec runs as a host subprocess under bubblewrap, used only to map those directories, a no-op conda
(`/opt/miniconda3`) and `/root/.bashrc` at their container paths, so the official eval script runs unmodified. There
is no pid namespace: like execs in one container, all execs see each other's processes. Every request is recorded in
`engine.calls` (method, path without the API version, query, JSON body) for assertions.
"""

from __future__ import annotations

import base64
import http.server
import io
import json
import os
import posixpath
import re
import shutil
import socketserver
import struct
import subprocess
import tarfile
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from agent_envs.sandbox.local import LocalSandbox

API_VERSION = "1.45"
#: After the 101 response the SDK reads frames from the raw socket; a real engine starts the process only then.
HIJACK_DELAY_S = 0.05


@dataclass
class FakeImage:
    """An image: the directory copied to `/testbed`, and the host paths its Python needs (read-only binds)."""

    template: str
    ro_paths: list[str] = field(default_factory=list)
    path_prepend: list[str] = field(default_factory=list)


@dataclass
class FakeContainer:
    id: str
    name: str
    image: str
    dir: Path
    config: dict[str, Any]
    running: bool = False


@dataclass
class FakeExec:
    id: str
    container: FakeContainer
    config: dict[str, Any]
    proc: subprocess.Popen | None = None
    exit_code: int | None = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.exit_code is None


class FakeDockerEngine:
    """Serve the fake Engine API on `<root>/docker.sock` (`url` is the SDK's `base_url`). Use as a context manager."""

    def __init__(self, root: Path, images: dict[str, FakeImage]):
        self.root = Path(root)
        self.images = images
        # unix socket paths are limited to ~107 bytes: keep it short
        self.socket_dir = Path(tempfile.mkdtemp(prefix="fde-"))
        self.socket_path = self.socket_dir / "docker.sock"
        self.calls: list[tuple[str, str, dict[str, list[str]], Any]] = []
        self.containers: dict[str, FakeContainer] = {}
        self.execs: dict[str, FakeExec] = {}
        self.lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    def start(self) -> FakeDockerEngine:
        self._server = _Server(str(self.socket_path), _Handler)
        self._server.engine = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        for ex in list(self.execs.values()):
            if ex.running and ex.proc is not None:
                ex.proc.kill()
        shutil.rmtree(self.socket_dir, ignore_errors=True)

    def __enter__(self) -> FakeDockerEngine:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def paths(self, method: str) -> list[str]:
        """The request paths recorded for one HTTP method."""
        return [path for m, path, _, _ in self.calls if m == method]

    # ----- the "container runtime" -----------------------------------------------------------------------------------
    def find_container(self, ref: str) -> FakeContainer | None:
        with self.lock:
            for c in self.containers.values():
                if c.id == ref or c.name == ref or (len(ref) >= 12 and c.id.startswith(ref)):
                    return c
        return None

    def host_path(self, container: FakeContainer, path: str) -> Path | None:
        """The host path behind a container path (only `/testbed` and `/tmp` exist in the fake)."""
        path = posixpath.normpath(path)
        for prefix, sub in (("/testbed", "merged"), ("/tmp", "tmp")):
            if path == prefix or path.startswith(prefix + "/"):
                return container.dir / sub / path[len(prefix):].lstrip("/")
        return None

    def exec_argv(self, ex: FakeExec) -> list[str]:
        """The bubblewrap command line that runs an exec inside its container directory."""
        c = ex.container
        image = self.images[c.image]
        env = dict(item.split("=", 1) for item in ex.config.get("Env") or [])
        network = (c.config.get("HostConfig") or {}).get("NetworkMode") != "none"
        box = LocalSandbox(image.template, ro_paths=image.ro_paths, path_prepend=image.path_prepend, cow="copy",
                           network=network, env=env)
        box.dir, box._bwrap = c.dir, shutil.which("bwrap") or "bwrap"
        argv = box.bwrap_argv("")[:-3]  # drop "bash -c ''"
        argv.remove("--unshare-pid")  # execs of one container share its processes
        argv[argv.index("--chdir") + 1] = ex.config.get("WorkingDir") or c.config.get("WorkingDir") or "/"
        conda = self._fake_conda()
        extra = ["--ro-bind", str(conda), "/opt/miniconda3", "--ro-bind", str(conda.parent / "bashrc"), "/root/.bashrc"]
        return [argv[0], *extra, *argv[1:], *ex.config["Cmd"]]

    def _fake_conda(self) -> Path:
        root = self.root / "miniconda3"
        with self.lock:
            if not root.exists():
                (root / "bin").mkdir(parents=True)
                (root / "bin" / "activate").write_text("# fake conda activate\n")
                (self.root / "bashrc").write_text("conda() { :; }\n")
        return root


class _Server(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True
    engine: FakeDockerEngine


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    # ----- plumbing --------------------------------------------------------------------------------------------------
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's signature
        pass

    def address_string(self) -> str:
        return "unix"

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return bytes(data)
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, payload: Any = None, *, raw: bytes | None = None,
              headers: dict[str, str] | None = None) -> None:
        body = raw if raw is not None else (b"" if payload is None else json.dumps(payload).encode())
        self.send_response(status)
        ctype = "application/x-tar" if raw is not None else "application/json"
        for key, value in {"Content-Type": ctype, "Content-Length": str(len(body)), **(headers or {})}.items():
            self.send_header(key, value)
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, status: int, message: str) -> None:
        self._send(status, {"message": message})

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._route("GET")

    def do_HEAD(self) -> None:  # noqa: N802
        self._route("HEAD")

    def do_POST(self) -> None:  # noqa: N802
        self._route("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._route("PUT")

    def do_DELETE(self) -> None:  # noqa: N802
        self._route("DELETE")

    def _route(self, method: str) -> None:
        engine = self.server.engine
        url = urlsplit(self.path)
        path = re.sub(r"^/v[0-9.]+(?=/)", "", unquote(url.path))
        query = parse_qs(url.query)
        raw = self._body()
        is_json = bool(raw) and self.headers.get("Content-Type", "").startswith("application/json")
        body = json.loads(raw) if is_json else raw
        with engine.lock:
            engine.calls.append((method, path, query, body if is_json else None))
        for verb, pattern, handler in ROUTES:
            match = re.fullmatch(pattern, path)
            if verb == method and match:
                handler(self, engine, query, body, **match.groupdict())
                return
        self._error(404, f"fake engine: no route for {method} {path}")

    # ----- system and images -----------------------------------------------------------------------------------------
    def ping(self, engine: FakeDockerEngine, query: dict, body: Any) -> None:
        self._send(200, raw=b"OK", headers={"Content-Type": "text/plain", "Api-Version": API_VERSION})

    def version(self, engine: FakeDockerEngine, query: dict, body: Any) -> None:
        self._send(200, {"ApiVersion": API_VERSION, "MinAPIVersion": "1.24", "Version": "27.0.0-fake", "Os": "linux",
                         "Arch": "amd64"})

    def info(self, engine: FakeDockerEngine, query: dict, body: Any) -> None:
        self._send(200, {"ID": "fake", "Containers": len(engine.containers), "Images": len(engine.images),
                         "ServerVersion": "27.0.0-fake"})

    def image_inspect(self, engine: FakeDockerEngine, query: dict, body: Any, name: str) -> None:
        if name not in engine.images:
            self._error(404, f"No such image: {name}")
            return
        self._send(200, {"Id": "sha256:" + uuid.uuid5(uuid.NAMESPACE_URL, name).hex * 2, "RepoTags": [name]})

    def image_pull(self, engine: FakeDockerEngine, query: dict, body: Any) -> None:
        image = query.get("fromImage", [""])[0]
        self._error(404, f"pull access denied for {image}, repository does not exist (fake engine has no registry)")

    # ----- containers ------------------------------------------------------------------------------------------------
    def container_create(self, engine: FakeDockerEngine, query: dict, body: Any) -> None:
        image = body.get("Image", "")
        if image not in engine.images:
            self._error(404, f"No such image: {image}")
            return
        cid = uuid.uuid4().hex + uuid.uuid4().hex
        root = engine.root / "containers" / cid[:12]
        (root / "tmp").mkdir(parents=True)
        subprocess.run(["cp", "-a", engine.images[image].template, str(root / "merged")], check=True)
        name = query.get("name", [cid[:12]])[0]
        with engine.lock:
            engine.containers[cid] = FakeContainer(cid, name, image, root, body)
        self._send(201, {"Id": cid, "Warnings": []})

    def container_inspect(self, engine: FakeDockerEngine, query: dict, body: Any, ref: str) -> None:
        c = engine.find_container(ref)
        if c is None:
            self._error(404, f"No such container: {ref}")
            return
        state = {"Status": "running" if c.running else "created", "Running": c.running}
        self._send(200, {"Id": c.id, "Name": "/" + c.name, "Image": c.image, "State": state, "Config": c.config,
                         "HostConfig": c.config.get("HostConfig") or {}})

    def container_start(self, engine: FakeDockerEngine, query: dict, body: Any, ref: str) -> None:
        c = engine.find_container(ref)
        if c is None:
            self._error(404, f"No such container: {ref}")
            return
        c.running = True
        self._send(204)

    def container_delete(self, engine: FakeDockerEngine, query: dict, body: Any, ref: str) -> None:
        c = engine.find_container(ref)
        if c is None:
            self._error(404, f"No such container: {ref}")
            return
        if c.running and query.get("force", ["False"])[0].lower() not in ("true", "1"):
            self._error(409, f"cannot remove a running container {c.id[:12]}: stop it or use force")
            return
        with engine.lock:
            execs = [e for e in engine.execs.values() if e.container is c]
            del engine.containers[c.id]
        for ex in execs:
            if ex.running and ex.proc is not None:
                ex.proc.kill()
        shutil.rmtree(c.dir, ignore_errors=True)
        self._send(204)

    # ----- archives --------------------------------------------------------------------------------------------------
    def archive_put(self, engine: FakeDockerEngine, query: dict, body: Any, ref: str) -> None:
        c = engine.find_container(ref)
        target = engine.host_path(c, query.get("path", [""])[0]) if c else None
        if c is None or target is None or not target.is_dir():
            self._error(404, f"Could not find the file {query.get('path')} in container {ref}")
            return
        with tarfile.open(fileobj=io.BytesIO(body)) as tar:
            tar.extractall(target, filter="data")
        self._send(200)

    def archive_get(self, engine: FakeDockerEngine, query: dict, body: Any, ref: str) -> None:
        c = engine.find_container(ref)
        path = query.get("path", [""])[0]
        source = engine.host_path(c, path) if c else None
        if c is None or source is None or not (source.exists() or source.is_symlink()):
            self._error(404, f"Could not find the file {path} in container {ref}")
            return
        payload = io.BytesIO()
        with tarfile.open(fileobj=payload, mode="w") as tar:
            tar.add(source, arcname=posixpath.basename(path.rstrip("/")) or ".", recursive=True)
        st = source.lstat()
        stat = {"name": source.name, "size": st.st_size, "mode": st.st_mode, "mtime": "2024-01-01T00:00:00Z",
                "linkTarget": os.readlink(source) if source.is_symlink() else ""}
        header = base64.b64encode(json.dumps(stat).encode()).decode()
        self._send(200, raw=payload.getvalue(), headers={"X-Docker-Container-Path-Stat": header})

    # ----- execs -----------------------------------------------------------------------------------------------------
    def exec_create(self, engine: FakeDockerEngine, query: dict, body: Any, ref: str) -> None:
        c = engine.find_container(ref)
        if c is None or not c.running:
            self._error(404 if c is None else 409, f"container {ref} is not running")
            return
        eid = uuid.uuid4().hex
        with engine.lock:
            engine.execs[eid] = FakeExec(eid, c, body)
        self._send(201, {"Id": eid})

    def exec_inspect(self, engine: FakeDockerEngine, query: dict, body: Any, eid: str) -> None:
        ex = engine.execs.get(eid)
        if ex is None:
            self._error(404, f"No such exec instance: {eid}")
            return
        self._send(200, {"ID": ex.id, "ContainerID": ex.container.id, "Running": ex.running,
                         "ExitCode": ex.exit_code, "ProcessConfig": {"entrypoint": ex.config["Cmd"][0],
                                                                      "arguments": ex.config["Cmd"][1:]}})

    def exec_start(self, engine: FakeDockerEngine, query: dict, body: Any, eid: str) -> None:
        ex = engine.execs.get(eid)
        if ex is None:
            self._error(404, f"No such exec instance: {eid}")
            return
        if body.get("Tty") or body.get("Detach"):
            self._error(400, "fake engine: only attached, non-tty execs are implemented")
            return
        upgrade = self.headers.get("Upgrade")
        self.send_response_only(101 if upgrade else 200, "UPGRADED" if upgrade else None)
        self.send_header("Content-Type", "application/vnd.docker.multiplexed-stream")
        if upgrade:
            self.send_header("Connection", "Upgrade")
            self.send_header("Upgrade", upgrade)
        self.end_headers()
        self.close_connection = True  # the connection is the stream now
        time.sleep(HIJACK_DELAY_S)
        ex.proc = subprocess.Popen(engine.exec_argv(ex), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE)
        send_lock, connected = threading.Lock(), [True]

        def pump(pipe: Any, stream_id: int) -> None:
            while chunk := os.read(pipe.fileno(), 1 << 16):
                if not connected[0]:
                    continue  # the client went away: keep draining so the process is never blocked
                try:
                    with send_lock:
                        self.connection.sendall(struct.pack(">BxxxL", stream_id, len(chunk)) + chunk)
                except OSError:
                    connected[0] = False

        pumps = [threading.Thread(target=pump, args=(ex.proc.stdout, 1), daemon=True),
                 threading.Thread(target=pump, args=(ex.proc.stderr, 2), daemon=True)]
        for t in pumps:
            t.start()
        code = ex.proc.wait()
        ex.exit_code = 128 - code if code < 0 else code  # killed by signal N -> 128 + N, as the engine reports it
        for t in pumps:
            t.join()  # a background job may hold the pipes open after the command ended
        ex.proc.stdout.close()  # type: ignore[union-attr]
        ex.proc.stderr.close()  # type: ignore[union-attr]


ROUTES = [
    ("GET", r"/_ping", _Handler.ping),
    ("HEAD", r"/_ping", _Handler.ping),
    ("GET", r"/version", _Handler.version),
    ("GET", r"/info", _Handler.info),
    ("GET", r"/images/(?P<name>.+)/json", _Handler.image_inspect),
    ("POST", r"/images/create", _Handler.image_pull),
    ("POST", r"/containers/create", _Handler.container_create),
    ("GET", r"/containers/(?P<ref>[^/]+)/json", _Handler.container_inspect),
    ("POST", r"/containers/(?P<ref>[^/]+)/start", _Handler.container_start),
    ("DELETE", r"/containers/(?P<ref>[^/]+)", _Handler.container_delete),
    ("PUT", r"/containers/(?P<ref>[^/]+)/archive", _Handler.archive_put),
    ("GET", r"/containers/(?P<ref>[^/]+)/archive", _Handler.archive_get),
    ("POST", r"/containers/(?P<ref>[^/]+)/exec", _Handler.exec_create),
    ("GET", r"/exec/(?P<eid>[^/]+)/json", _Handler.exec_inspect),
    ("POST", r"/exec/(?P<eid>[^/]+)/start", _Handler.exec_start),
]
