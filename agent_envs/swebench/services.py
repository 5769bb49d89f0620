"""Local stand-ins for the internet servers some repositories' tests call, so they grade offline.

requests' tests read `HTTPBIN_URL` (default `http://httpbin.org/`). The official harness's containers reach the real
httpbin.org; local grading is offline, so for these repositories the template gets a small tool venv with httpbin
(`<cache>/tools/httpbin-<version>`, built once with uv, bound read-only into the sandboxes) and the eval script
starts it on loopback inside the grading sandbox and exports `HTTPBIN_URL` before the tests run. Plain HTTP only:
a test that switches the same URL to https (`test_mixed_case_scheme_acceptable`) would need a certificate in the
CA bundle old requests vendor, so it still fails locally.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_envs.errors import EnvUnavailable

HTTPBIN = "httpbin==0.10.4"
SERVICES_VERSION = "4"  # bump when the tool or the prelude changes: templates record it in their recipe
HTTPBIN_DATE = "2026-11-01T00:00:00Z"  # the tool's own resolution date (reproducible)
HTTPBIN_PORT = 8765
#: Repositories whose tests call httpbin.org through `HTTPBIN_URL`.
HTTPBIN_REPOS = ("psf/requests",)


@dataclass
class Services:
    """What a template needs for its tests' servers: read-only paths and the eval-script prelude that starts them."""

    ro_paths: list[str]
    prelude: str


def services_for(instance: Mapping[str, Any], cache: Path, uv: Path) -> Services | None:
    """The test services of `instance`'s repository (None when its tests need none)."""
    if instance["repo"] not in HTTPBIN_REPOS:
        return None
    tool = cache / "tools" / f"httpbin-{HTTPBIN.split('==')[1]}-{SERVICES_VERSION}"
    python = tool / "bin" / "python"
    if not (tool / ".complete").exists():
        env = {**os.environ, "UV_EXCLUDE_NEWER": HTTPBIN_DATE, "UV_SYSTEM_CERTS": "1", "UV_NO_CONFIG": "1",
               "UV_PYTHON_DOWNLOADS": "never"}
        for cmd in ([str(uv), "venv", "-q", "--allow-existing", "--python", sys.base_prefix + "/bin/python3",
                     str(tool)], [str(uv), "pip", "install", "-q", "--python", str(python), HTTPBIN]):
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
            if out.returncode != 0:
                raise EnvUnavailable(f"cannot build the local httpbin for {instance['repo']}'s tests: "
                                     f"{out.stderr.strip()[-300:]}")
        (tool / ".complete").write_text("")
    url = f"http://127.0.0.1:{HTTPBIN_PORT}/"
    probe = f"import urllib.request; urllib.request.urlopen({url + 'get'!r}, timeout=1)"
    prelude = (f"{shlex.quote(str(python))} -m httpbin.core --port {HTTPBIN_PORT} > /tmp/httpbin.log 2>&1 &\n"
               f"for _ in $(seq 100); do {shlex.quote(str(python))} -c {shlex.quote(probe)} 2>/dev/null && break; "
               "sleep 0.1; done\n"
               f"export HTTPBIN_URL={url}\n")
    return Services(ro_paths=[str(tool), os.path.realpath(sys.base_prefix)], prelude=prelude)


def with_prelude(script: str, prelude: str) -> str:
    """`script` with `prelude` inserted after its first `cd /testbed` (before the reinstall and the tests)."""
    if not prelude:
        return script
    lines = script.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.strip() == "cd /testbed":
            return "".join(lines[: i + 1]) + prelude + "".join(lines[i + 1:])
    return prelude + script
