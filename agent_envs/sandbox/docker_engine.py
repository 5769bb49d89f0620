"""The Docker engine side of the Docker backend: the SDK client, and the hardened options every container gets.

`container_options` is the security policy, in one place:
- `cap_drop=["ALL"]`: the official eval scripts run as the image's root over files root owns (git apply, pip, the
  test runner), which needs no capability (checked on the synthetic instance; `cap_add` exists for an image that
  provably needs one), `security_opt=["no-new-privileges"]` (setuid binaries cannot raise privileges), the engine's
  default seccomp profile, `network_mode="none"`;
- memory (`mem_limit` = `memswap_limit`: no swap), `pids_limit`, `nano_cpus`, RLIMIT_FSIZE/CORE (`ulimits`), and a disk
  quota (`storage_opt={"size": ...}`) where the storage driver supports one: overlay2 only on xfs mounted with
  `pquota`, btrfs, zfs, devicemapper. Elsewhere (overlay2 on ext4, the CI engine) RLIMIT_FSIZE bounds each file and
  `features["disk_limit"]` says so;
- `init=True` (docker-init reaps the orphans that exec'd commands leave; a bare `sleep` as pid 1 would let zombies
  fill the pids limit) and a keep-alive `sleep` with a maximum lifetime, so a container whose owner crashed stops by
  itself; labels (`gc.container_labels`: run, owner, host, expiry) let `aemgym sandbox gc` remove leftovers.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any

from agent_envs.errors import DependencyNotInstalled, EnvUnavailable
from agent_envs.sandbox.base import WORKDIR, SandboxLimits
from agent_envs.sandbox.gc import container_labels

if TYPE_CHECKING:
    from docker import DockerClient

QUOTA_DRIVERS = ("btrfs", "zfs", "devicemapper", "windowsfilter")


def sdk() -> ModuleType:
    """The docker SDK module (a clear error when it is not installed)."""
    try:
        import docker
    except ImportError as exc:
        raise DependencyNotInstalled("the Docker backend needs the docker SDK: pip install 'aem-gym[swebench]' "
                                     "(docker==7.2.0)") from exc
    return docker


def api_errors() -> tuple[type[BaseException], ...]:
    """What an Engine API call may raise: docker's errors, transport errors (requests) and socket errors."""
    import requests

    return (sdk().errors.DockerException, requests.exceptions.RequestException, OSError)


def docker_client(base_url: str | None = None, timeout: float = 120) -> DockerClient:
    """A client for `base_url` (e.g. `unix:///var/run/docker.sock`), by default the environment's (`DOCKER_HOST`)."""
    docker = sdk()
    try:
        if base_url:
            return docker.DockerClient(base_url=base_url, timeout=timeout)
        return docker.from_env(timeout=timeout)
    except docker.errors.DockerException as exc:
        where = base_url or "$DOCKER_HOST / the default socket"
        raise EnvUnavailable(f"no Docker engine reachable at {where} ({exc}); start Docker or use backend='local'") \
            from exc


def docker_available(base_url: str | None = None) -> bool:
    """Whether a Docker engine answers `info` (what `docker info` checks)."""
    try:
        client = docker_client(base_url, timeout=20)
    except (EnvUnavailable, DependencyNotInstalled):
        return False
    try:
        client.info()
        return True
    except api_errors():
        return False
    finally:
        client.close()


def engine_facts(client: Any) -> dict[str, str]:
    """Storage driver, whether it can enforce a disk quota, and the engine's user-namespace / seccomp setting."""
    info = client.info()
    driver = info.get("Driver", "")
    backing = dict(info.get("DriverStatus") or []).get("Backing Filesystem", "")
    security = " ".join(info.get("SecurityOptions") or [])
    quota = driver in QUOTA_DRIVERS or (driver == "overlay2" and backing == "xfs")
    return {"driver": f"{driver} on {backing or '?'}", "quota": "yes" if quota else "",
            "userns": "yes" if "name=userns" in security else "",
            "seccomp": "yes" if "name=seccomp" in security else ""}


def container_options(limits: SandboxLimits, *, network: bool, run_id: str, max_lifetime_s: float, quota: bool,
                      cap_add: tuple[str, ...] = ()) -> dict[str, Any]:
    """`containers.create` keyword arguments for a sandbox container (see the module docstring)."""
    docker = sdk()
    fsize = limits.max_file_mb << 20
    options: dict[str, Any] = {
        "command": ["sleep", str(int(max_lifetime_s))], "working_dir": WORKDIR, "detach": True, "init": True,
        "network_mode": None if network else "none", "cap_drop": ["ALL"], "cap_add": list(cap_add) or None,
        "security_opt": ["no-new-privileges"], "mem_limit": f"{limits.memory_mb}m",
        "memswap_limit": f"{limits.memory_mb}m", "pids_limit": limits.max_pids,
        "ulimits": [docker.types.Ulimit(name="fsize", soft=fsize, hard=fsize),
                    docker.types.Ulimit(name="core", soft=0, hard=0)],
        "labels": container_labels(run_id, max_lifetime_s),
    }
    if limits.cpus:
        options["nano_cpus"] = int(limits.cpus * 1e9)
    if quota:
        options["storage_opt"] = {"size": f"{limits.disk_mb}M"}
    return options
