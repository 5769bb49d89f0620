"""Template environments follow swebench's logic: a requirements file read at the environment commit (absent at the
base commit), `pre_install` split into repository edits and system commands, a submodule taken from a local clone,
and period-correct resolution against a real local package index (PEP 691 JSON with upload times) that holds an old
and a new release of a tiny package."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import subprocess
import sys
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from agent_envs.errors import EnvUnavailable
from agent_envs.swebench.environment import (
    conda_to_pip,
    environment_date,
    exact_pins,
    plan_environment,
    split_pre_install,
    uv_install_command,
)
from agent_envs.swebench.spec import register_repo
from agent_envs.swebench.template import build_template, pyenv_python

REPO = "aemgym/envtest"
#: (version, upload time): the environment commit lies between the two releases.
RELEASES = {"1.0": "2020-01-01T00:00:00Z", "2.0": "2024-06-01T00:00:00Z"}
SPEC = {
    "python": f"{sys.version_info.major}.{sys.version_info.minor}",
    "packages": "requirements.txt",
    "pre_install": ["sed -i 's/STATE = \"raw\"/STATE = \"edited\"/' envpkg/__init__.py",
                    "echo 'en_US UTF-8' > /etc/locale.gen", "locale-gen en_US.UTF-8"],
    "install": "python -m pip install -e .",
    "test_cmd": "tox --current-env -epy3 -v --",
}


def _wheel(name: str, version: str) -> bytes:
    """A minimal pure-Python wheel whose module knows its version."""
    dist = f"{name}-{version}.dist-info"
    files = {f"{name}.py": f"VERSION = {version!r}\n",
             f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
             f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = ""
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record += f"{path},sha256={digest},{len(text.encode())}\n"
    files[f"{dist}/RECORD"] = record + f"{dist}/RECORD,,\n"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for path, text in files.items():
            zf.writestr(path, text)
    return buf.getvalue()


#: The synthetic project builds with an in-tree PEP 517 backend, so its isolated build needs nothing from an index.
PYPROJECT = '[build-system]\nrequires = []\nbuild-backend = "_backend"\nbackend-path = ["."]\n'
BACKEND = """import base64, hashlib, os, zipfile

def _build(wheel_directory, files):
    dist = "envpkg-0.1.dist-info"
    files = {**files, dist + "/METADATA": "Metadata-Version: 2.1\\nName: envpkg\\nVersion: 0.1\\n",
             dist + "/WHEEL": "Wheel-Version: 1.0\\nGenerator: t\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"}
    record = "".join("%s,sha256=%s,%d\\n" % (p, base64.urlsafe_b64encode(hashlib.sha256(t.encode()).digest())
                                               .rstrip(b"=").decode(), len(t.encode())) for p, t in files.items())
    files[dist + "/RECORD"] = record + dist + "/RECORD,,\\n"
    name = "envpkg-0.1-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as zf:
        for path, text in files.items():
            zf.writestr(path, text)
    return name

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    return _build(wheel_directory, {"envpkg/__init__.py": open("envpkg/__init__.py").read()})

def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    return _build(wheel_directory, {"envpkg.pth": os.getcwd() + "\\n"})
"""


@pytest.fixture(scope="module")
def local_index() -> Any:
    """A package index on loopback serving PEP 691 JSON (with PEP 700 upload times) for `tinydep` 1.0 and 2.0."""
    wheels = {f"tinydep-{v}-py3-none-any.whl": _wheel("tinydep", v) for v in RELEASES}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            base = f"http://127.0.0.1:{self.server.server_port}"
            if self.path.rstrip("/") == "/simple/tinydep":
                files = [{"filename": name, "url": f"{base}/files/{name}", "upload-time": RELEASES[name.split("-")[1]],
                          "hashes": {"sha256": hashlib.sha256(data).hexdigest()}} for name, data in wheels.items()]
                body = json.dumps({"meta": {"api-version": "1.1"}, "name": "tinydep", "files": files,
                                   "versions": list(RELEASES)}).encode()
                self._send(200, body, "application/vnd.pypi.simple.v1+json")
            elif self.path.startswith("/files/") and self.path[7:] in wheels:
                self._send(200, wheels[self.path[7:]], "application/octet-stream")
            else:
                self._send(404, b"not here", "text/plain")

        def do_HEAD(self) -> None:  # noqa: N802
            self.head_only = True
            self.do_GET()

        def _send(self, code: int, body: bytes, kind: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not getattr(self, "head_only", False):
                self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/simple"
    server.shutdown()
    server.server_close()


def _git(repo: Path, *args: str, date: str = "2021-03-01T00:00:00+00:00") -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.org", "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date,
           "GIT_CONFIG_GLOBAL": "/dev/null"}
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True,
                          env=env).stdout.strip()


def _commit(repo: Path, files: dict[str, str], date: str) -> str:
    for rel, text in files.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    _git(repo, "add", *files, date=date)
    _git(repo, "commit", "-q", "-m", f"at {date}", date=date)
    return _git(repo, "rev-parse", "HEAD")


@pytest.fixture(scope="module")
def envtest(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The synthetic repository: requirements only at the environment commit, a submodule at the base commit."""
    root = tmp_path_factory.mktemp("envtest")
    helpers = root / "repos" / "aemgym__helpers"
    helpers.mkdir(parents=True)
    _git(helpers, "init", "-q", "-b", "main")
    helper_commit = _commit(helpers, {"helper.py": "HELP = 1\n"}, "2020-06-01T00:00:00+00:00")
    src = root / "src"
    src.mkdir()
    _git(src, "init", "-q", "-b", "main")
    env_commit = _commit(src, {
        "requirements.txt": "# the environment of 2021\n-r requirements-extra.txt\n-e .\n",
        "requirements-extra.txt": "tinydep\n",
        "pyproject.toml": PYPROJECT,
        "_backend.py": BACKEND,
        "envpkg/__init__.py": 'STATE = "raw"\n',
    }, "2021-03-01T00:00:00+00:00")
    _git(src, "rm", "-q", "requirements.txt", "requirements-extra.txt")
    _git(src, "update-index", "--add", "--cacheinfo", f"160000,{helper_commit},helpers")
    gitmodules = '[submodule "helpers"]\n\tpath = helpers\n\turl = https://example.org/aemgym/helpers.git\n'
    base = _commit(src, {".gitmodules": gitmodules}, "2022-01-01T00:00:00+00:00")
    register_repo(REPO, {"1.0": SPEC}, requirements_paths=["requirements.txt"])
    instance = {"instance_id": "aemgym__envtest-1", "repo": REPO, "version": "1.0", "base_commit": base,
                "environment_setup_commit": env_commit, "source_repo": str(src), "patch": "", "test_patch": "",
                "problem_statement": "", "FAIL_TO_PASS": "[]", "PASS_TO_PASS": "[]"}
    return {"instance": instance, "src": src, "repos": root / "repos", "env_commit": env_commit}


def test_plan_pieces() -> None:
    assert conda_to_pip("numpy=1.19 scipy 'pandas<2' cython==3.0") == ["numpy==1.19", "scipy", "pandas<2",
                                                                        "cython==3.0"]
    repo_cmds, system, apt = split_pre_install(["sed -i 's/a/b/' setup.py", "apt-get update && apt-get install -y "
                                                "graphviz libx11-dev", "locale-gen en_US.UTF-8", "X=1"])
    assert repo_cmds == ["sed -i 's/a/b/' setup.py", "X=1"] and len(system) == 2
    assert apt == ["graphviz", "libx11-dev"]
    assert uv_install_command("python -m pip install -v --no-use-pep517 --no-build-isolation -e .") == \
        "uv pip install -v --no-build-isolation -e ."
    assert uv_install_command("python setup.py install") == ""
    assert exact_pins(["a==1.0", "b>=2", "c[x] == 3.1 ; python_version<'4'", "d==2.0  # pinned"]) == \
        [("a", "1.0"), ("c", "3.1"), ("d", "2.0")]


def test_conda_and_missing_python_are_clear_errors(envtest: dict[str, Any]) -> None:
    with pytest.raises(EnvUnavailable, match="conda environment.yml.*--backend docker"):
        plan_environment(envtest["instance"], {**SPEC, "packages": "environment.yml"}, envtest["src"])
    with pytest.raises(EnvUnavailable, match="Python 2.5 is needed.*pyenv install 2.5"):
        pyenv_python("2.5")


def test_environment_date_is_the_newest_source(envtest: dict[str, Any], local_index: str, monkeypatch) -> None:
    monkeypatch.setenv("AEMGYM_SWEBENCH_INDEX_URL", local_index)
    date, sources = environment_date(envtest["src"], envtest["env_commit"], "3.9", [])
    assert date == "2021-03-02T00:00:00Z" and sources["environment_setup_commit " + envtest["env_commit"][:12]]
    date, _ = environment_date(envtest["src"], envtest["env_commit"], "3.9", [("tinydep", "2.0")])
    assert date == "2024-06-02T00:00:00Z"  # a pin cannot be older than the environment that pins it


@pytest.mark.slow
def test_template_reads_requirements_at_env_commit_and_edits_repo(envtest: dict[str, Any], local_index: str,
                                                                  tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("AEMGYM_SWEBENCH_INDEX_URL", local_index)
    instance, cache = envtest["instance"], tmp_path / "cache"
    with pytest.raises(EnvUnavailable, match="submodule helpers .*aemgym__helpers"):
        build_template(instance, cache_dir=cache, repos_dir=tmp_path / "no-repos", python=sys.executable)
    tpl = build_template(instance, cache_dir=cache, repos_dir=envtest["repos"], python=sys.executable)
    root = Path(tpl.repo_dir).parent
    assert not (Path(tpl.repo_dir) / "requirements.txt").exists()  # read from the environment commit, not the base
    freeze = (root / "freeze.txt").read_text()
    python_floor = "python" in tpl.notes[0]  # the env date comes from this Python's release (after 2021-03)
    assert "tinydep==1.0" in freeze and python_floor, (freeze, tpl.notes)  # 2.0 was uploaded after the env date
    [installed] = (root / "venv").glob("lib/python*/site-packages/tinydep.py")
    assert installed.stat().st_nlink >= 2  # hard-linked from uv's cache: templates share package files
    assert any("locale-gen" in n and "not run" in n for n in tpl.notes)
    log = (root / "build.log").read_text()
    assert "requirements (environment_setup_commit)" in log and "uv pip install" in log
    with tpl.sandbox() as box:
        out = box.exec("python -c 'import envpkg, tinydep; print(envpkg.STATE, tinydep.VERSION, envpkg.__file__)';"
                       " git submodule status; cat helpers/helper.py; git log -1 --format=%s; git status --short "
                       "--untracked-files=no; cat .tox/py3/pyvenv.cfg")
    assert out.exit_code == 0, out.output
    assert "edited 1.0 /testbed/envpkg/__init__.py" in out.output  # pre_install edit, editable install at /testbed
    assert "helpers" in out.output and "HELP = 1" in out.output and not out.output.lstrip().startswith("-")
    assert " M envpkg/__init__.py" in out.output  # the setup edit stays uncommitted (the eval script's checkout)
    assert "home = " in out.output  # tox --current-env's env dir finds the venv
    assert build_template(instance, cache_dir=cache, repos_dir=envtest["repos"], python=sys.executable).build_s == \
        tpl.build_s  # cached: same plan, no rebuild
