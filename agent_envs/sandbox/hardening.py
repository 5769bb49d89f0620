"""Who a local sandbox runs as, the minimal `/etc` it sees, and owner tags for reaping what a crashed run left.

Identities: inside, every command runs as `sandbox` (uid/gid 1000) in its own user namespace, without capabilities.
Outside, that id is mapped to an unprivileged host id: `AEMGYM_SANDBOX_UID` / `AEMGYM_SANDBOX_GID` (default 1776000)
when the harness is root, the harness's own ids otherwise; never host root. Files the sandbox must write (templates,
instance venvs, per-episode `/tmp`) are owned by that host id (`own_for_sandbox`).

`/etc` is made for the sandbox: passwd/group with the sandbox user, hosts, hostname, nsswitch, resolv.conf (only for
networked template builds), and an allowlist of public host files the tools need (ld.so cache, ssl certificates,
alternatives, services, ...). Nothing the host keeps secret (shadow, ssh keys, sudoers, pip credentials) is there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

SANDBOX_UID = SANDBOX_GID = 1000
SANDBOX_USER = "sandbox"
DEFAULT_HOST_ID = 1776000
#: Public host `/etc` entries copied into the sandbox's `/etc` (files, symlinks or directories of them).
ETC_ALLOWLIST = (
    "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "ssl/certs", "ssl/openssl.cnf", "ca-certificates.conf",
    "localtime", "timezone", "os-release", "debian_version", "lsb-release", "services", "protocols", "rpc",
    "ethertypes", "mime.types", "magic", "magic.mime", "shells", "inputrc", "bash.bashrc", "profile", "gitconfig",
    "locale.alias", "locale.gen", "terminfo", "fonts", "perl", "python3", "python3.11", "gai.conf", "host.conf",
    "papersize", "matplotlibrc", "mailcap",
)
PASSWD = ("root:x:0:0:root:/root:/usr/sbin/nologin\n"
          f"{SANDBOX_USER}:x:{SANDBOX_UID}:{SANDBOX_GID}:sandbox:/tmp:/bin/bash\n"
          "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n")
GROUP = f"root:x:0:\n{SANDBOX_USER}:x:{SANDBOX_GID}:\nnogroup:x:65534:\n"
HOSTS = "127.0.0.1\tlocalhost\n127.0.1.1\tsandbox\n::1\tlocalhost ip6-localhost ip6-loopback\n"
NSSWITCH = ("passwd: files\ngroup: files\nshadow: files\nhosts: files dns\nnetworks: files\nprotocols: files\n"
            "services: files\nethers: files\nrpc: files\n")


def privileged() -> bool:
    """Whether the harness runs as root (then sandboxes drop to an unprivileged host id and cgroups are used)."""
    return os.geteuid() == 0


def host_ids() -> tuple[int, int]:
    """The host (uid, gid) the sandbox user is mapped to: never 0 when the harness is root."""
    if not privileged():
        return os.getuid(), os.getgid()
    uid = int(os.environ.get("AEMGYM_SANDBOX_UID", DEFAULT_HOST_ID))
    gid = int(os.environ.get("AEMGYM_SANDBOX_GID", uid))
    if uid == 0 or gid == 0:
        raise ValueError("AEMGYM_SANDBOX_UID/GID must not be 0: sandboxes never run as host root")
    return uid, gid


def own_for_sandbox(*paths: str | Path) -> None:
    """Give `paths` (recursively) to the sandbox's host id, so the sandbox user can write them (a no-op unless root).

    Templates call this for their repository and venv once they are built; a tree whose top is already owned by that
    id is not walked again.
    """
    if not privileged():
        return
    uid, gid = host_ids()
    for path in paths:
        path = Path(path)
        if not path.exists():
            continue
        st = path.lstat()
        if (st.st_uid, st.st_gid) != (uid, gid):
            subprocess.run(["chown", "-R", "--no-dereference", f"{uid}:{gid}", str(path)], check=True,
                           capture_output=True, timeout=1800)


def write_minimal_etc(dest: Path, *, network: bool) -> None:
    """Create the sandbox's `/etc` in `dest` (see the module docstring)."""
    dest.mkdir(mode=0o755)
    for name, text in (("passwd", PASSWD), ("group", GROUP), ("hosts", HOSTS), ("hostname", "sandbox\n"),
                       ("nsswitch.conf", NSSWITCH)):
        (dest / name).write_text(text)
    os.symlink("/proc/self/mounts", dest / "mtab")
    entries = ETC_ALLOWLIST + (("resolv.conf",) if network else ())
    for rel in entries:
        src = Path("/etc") / rel
        if not (src.exists() or src.is_symlink()):
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir() and not src.is_symlink():
            shutil.copytree(src, target, symlinks=True, ignore_dangling_symlinks=True)
        elif src.is_symlink():
            os.symlink(os.readlink(src), target)
        else:
            shutil.copy2(src, target)


# ----- owner tags: which process made a cgroup, a sandbox directory or a container ------------------------------------
def _start_time(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22: start time in clock ticks since boot


def owner_tag(pid: int | None = None) -> str:
    """`<pid>.<start time>` of this (or `pid`'s) process: unique on this host even when pids are reused."""
    pid = pid or os.getpid()
    return f"{pid}.{_start_time(pid)}"


def owner_alive(tag: str) -> bool:
    """Whether the process named by an `owner_tag` still runs (a malformed tag counts as alive: never reaped)."""
    pid, _, start = tag.partition(".")
    if not pid.isdigit() or not start:
        return True
    return _start_time(int(pid)) == start
