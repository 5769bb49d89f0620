"""A fake `docker` CLI for contract tests: each "container" is a bubblewrap sandbox over a copy of a template.

Implements `info`, `image inspect`, `pull`, `run -d`, `exec [-i] -w -e`, `rm -f`; every call is appended to
`$FAKE_DOCKER_STATE/calls.jsonl`. Images come from `$FAKE_DOCKER_IMAGES` (JSON: image -> {"template", "ro_paths",
"path"}). A fake `/opt/miniconda3` (no-op `activate` and `conda`) and `/root/.bashrc` make the official eval script
run unmodified. This checks our argv construction and flow, not Docker itself.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

from agent_envs.sandbox.local import LocalSandbox

STATE = Path(os.environ["FAKE_DOCKER_STATE"])
IMAGES = json.loads(os.environ.get("FAKE_DOCKER_IMAGES", "{}"))


def fake_conda() -> Path:
    root = STATE / "miniconda3"
    if not root.exists():
        (root / "bin").mkdir(parents=True)
        (root / "bin" / "activate").write_text("# fake conda activate\n")
        conda = root / "bin" / "conda"
        conda.write_text("#!/bin/sh\nexit 0\n")
        conda.chmod(0o755)
        (STATE / "bashrc").write_text("conda() { :; }\n")
    return root


def main(argv: list[str]) -> int:
    STATE.mkdir(parents=True, exist_ok=True)
    with (STATE / "calls.jsonl").open("a") as fh:
        fh.write(json.dumps(argv) + "\n")
    cmd, args = argv[0], argv[1:]
    if cmd == "info":
        return 0
    if cmd == "image" and args[0] == "inspect":
        return 0 if args[1] in IMAGES else 1
    if cmd == "pull":
        print(f"Error: pull access denied for {args[0]} (fake docker has no registry)", file=sys.stderr)
        return 1
    if cmd == "run":
        opts = {}
        i = 0
        while args[i].startswith("-"):
            if args[i] in ("-d",):
                i += 1
                continue
            if "=" in args[i]:
                key, value = args[i].split("=", 1)
                opts[key] = value
                i += 1
            else:
                opts[args[i]] = args[i + 1]
                i += 2
        image = args[i]
        if image not in IMAGES:
            print(f"Unable to find image '{image}'", file=sys.stderr)
            return 125
        cid = uuid.uuid4().hex
        box = STATE / "containers" / cid
        box.mkdir(parents=True)
        (box / "tmp").mkdir()
        subprocess.run(["cp", "-a", IMAGES[image]["template"], str(box / "merged")], check=True)
        (box / "meta.json").write_text(json.dumps({"image": image, "opts": opts, "cmd": args[i + 1:]}))
        print(cid)
        return 0
    if cmd == "exec":
        env, i = {}, 0
        while args[i].startswith("-"):
            if args[i] == "-i":
                i += 1
            elif args[i] == "-e":
                key, value = args[i + 1].split("=", 1)
                env[key] = value
                i += 2
            else:  # -w DIR
                i += 2
        cid, command = args[i], args[i + 1:]
        box = STATE / "containers" / cid
        if not box.exists():
            print(f"Error: No such container: {cid}", file=sys.stderr)
            return 1
        meta = json.loads((box / "meta.json").read_text())
        image = IMAGES[meta["image"]]
        sandbox = LocalSandbox(image["template"], ro_paths=image["ro_paths"], path_prepend=image["path"], cow="copy",
                               network=meta["opts"].get("--network") != "none", env=env)
        sandbox.dir, sandbox._bwrap = box, shutil.which("bwrap")  # type: ignore[assignment]
        bwrap = sandbox.bwrap_argv("")[:-3]  # drop "bash -c ''"
        extra = ["--ro-bind", str(fake_conda()), "/opt/miniconda3", "--ro-bind", str(STATE / "bashrc"), "/root/.bashrc"]
        return subprocess.run([bwrap[0], *extra, *bwrap[1:], *command], stdin=sys.stdin).returncode
    if cmd == "rm":
        for cid in args:
            if not cid.startswith("-"):
                shutil.rmtree(STATE / "containers" / cid, ignore_errors=True)
        return 0
    print(f"fake docker: unsupported command {cmd}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
