"""Escape probes: what an attacker inside a sandbox tries, run as one Python script inside it.

Each probe reports `BLOCKED` or `ESCAPED` with a detail. Probes never change host state even when one succeeds: they
test writability with `access(W_OK)` or on the sandbox's own mounts, create device nodes and mounts only under the
sandbox's scratch `/tmp`, signal the host canary process with SIGCONT (a no-op for `sleep`) or attach to it with
ptrace and detach at once, connect to sockets without sending anything, and write nothing.

`python tests/swebench/escape_probes.py` prints the table for the local and the Docker sandbox of the code on
`PYTHONPATH` (how the closing note's "before" column was made from the previous version).
"""

from __future__ import annotations

PROBE_SCRIPT = r'''
import ctypes, os, re, socket, subprocess, sys
import hashlib
canary_file, tag, template, host_shadow = sys.argv[1], *sys.argv[4:7]
port, host_pid = int(sys.argv[2]), int(sys.argv[3])
results = {}

def run(*cmd):
    try:
        return subprocess.run(list(cmd), capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False

def probe(name):
    def wrap(fn):
        try:
            escaped, detail = fn()
        except Exception as exc:
            escaped, detail = False, f"{type(exc).__name__}: {exc}"
        results[name] = ("ESCAPED" if escaped else "BLOCKED", str(detail)[:160])
    return wrap

def status(field):
    return re.search(rf"^{field}:\s*(\S+)", open("/proc/self/status").read(), re.M).group(1)

@probe("capabilities")
def _():
    eff, prm = status("CapEff"), status("CapPrm")
    return int(eff, 16) != 0 or int(prm, 16) != 0, f"CapEff {eff} CapPrm {prm}"

def ro_mounts():
    out = []
    for line in open("/proc/self/mountinfo"):
        fields = line.split()
        if "ro" in fields[5].split(","):
            out.append(fields[4].replace("\\040", " "))
    return out

@probe("remount_readonly_writable")
def _():
    before = ro_mounts()
    for mp in before:
        run("mount", "-o", "remount,rw,bind", mp)
        run("mount", "-o", "remount,rw", mp)
    opened = sorted(set(before) - set(ro_mounts()))
    return bool(opened), f"now writable: {opened}" if opened else f"{len(before)} read-only mounts stay read-only"

@probe("mknod_devices")
def _():
    made = []
    for kind, major, minor in (("b", "7", "0"), ("c", "1", "3")):
        path = f"/tmp/.probe-node-{kind}"
        if run("mknod", path, kind, major, minor) or os.path.exists(path):
            made.append(kind)
            os.unlink(path)
    return bool(made), f"created: {made}" if made else "mknod b/c: EPERM"

@probe("mount_filesystems")
def _():
    base = "/tmp/.probe-mnt"
    for sub in ("m", "l", "u", "w"):
        os.makedirs(f"{base}/{sub}", exist_ok=True)
    mounted = []
    for fstype, opts in (("tmpfs", "size=1m"), ("proc", ""), ("cgroup", "pids"), ("cgroup2", ""),
                         ("overlay", f"lowerdir={base}/l,upperdir={base}/u,workdir={base}/w")):
        cmd = ["mount", "-t", fstype] + (["-o", opts] if opts else []) + ["none", f"{base}/m"]
        if run(*cmd):
            mounted.append(fstype)
            run("umount", f"{base}/m")
    return bool(mounted), f"mounted: {mounted}" if mounted else "tmpfs/proc/cgroup/cgroup2/overlay: refused"

@probe("cgroup_release_agent")
def _():
    writable = []
    for root, dirs, files in os.walk("/sys/fs/cgroup") if os.path.isdir("/sys/fs/cgroup") else []:
        if "release_agent" in files and os.access(os.path.join(root, "release_agent"), os.W_OK):
            writable.append(os.path.join(root, "release_agent"))
        dirs[:] = [] if root.count("/") > 4 else dirs
    mnt = "/tmp/.probe-cgroup"
    os.makedirs(mnt, exist_ok=True)
    for controller in ("pids", "memory", "rdma"):
        if run("mount", "-t", "cgroup", "-o", controller, "none", mnt):
            if os.access(f"{mnt}/release_agent", os.W_OK):
                writable.append(f"{controller} hierarchy mounted in the sandbox")
            run("umount", mnt)
    return bool(writable), f"writable: {writable}" if writable else "no writable release_agent (none mountable)"

@probe("raw_packet_sockets")
def _():
    opened = []
    for name, args in (("AF_PACKET", (socket.AF_PACKET, socket.SOCK_RAW, 0)),
                       ("SOCK_RAW", (socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP))):
        try:
            socket.socket(*args).close()
            opened.append(name)
        except OSError:
            pass
    return bool(opened), f"opened: {opened}" if opened else "AF_PACKET/SOCK_RAW: EPERM"

@probe("read_host_secrets")
def _():
    read, own = [], []
    for path in ("/etc/shadow", "/root/.ssh/id_rsa", "/root/.bash_history", canary_file):
        try:
            data = open(path, "rb").read()
        except OSError:
            continue
        if path == "/etc/shadow" and hashlib.sha256(data).hexdigest() != host_shadow:
            own.append(path)  # the image's own shadow file (Docker), not the host's
        else:
            read.append(path)
    detail = f"read: {read}" if read else "the host's shadow, root's files and the host canary: unreadable"
    return bool(read), detail + (f" (the image's own {own} is readable)" if own else "")

@probe("host_loopback_port")
def _():
    try:
        socket.create_connection(("127.0.0.1", port), timeout=3).close()
        return True, f"connected to 127.0.0.1:{port}"
    except OSError as exc:
        return False, f"127.0.0.1:{port}: {exc.strerror or exc}"

@probe("see_or_signal_host_process")
def _():
    def is_canary(pid):
        try:
            return open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")[0] == tag.encode()
        except OSError:
            return False
    seen = [p for p in os.listdir("/proc") if p.isdigit() and is_canary(p)]
    signalled = traced = False
    try:
        os.kill(host_pid, 18)  # SIGCONT: harmless to a sleeping canary
        signalled = is_canary(host_pid)
    except OSError:
        pass
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.ptrace(16, host_pid, 0, 0) == 0:  # PTRACE_ATTACH; detached at once (PTRACE_DETACH)
        traced = is_canary(host_pid)
        os.waitpid(host_pid, 0)
        libc.ptrace(17, host_pid, 0, 0)
    return bool(seen) or signalled or traced, f"seen {seen}, signalled {signalled}, traced {traced}"

@probe("write_template")
def _():
    if template == "-" or not os.path.exists(template):
        return False, "the template is not visible"
    return os.access(template, os.W_OK), f"{template} visible, writable: {os.access(template, os.W_OK)}"

@probe("regain_privileges")
def _():
    won = [name for name, cmd in (("unshare -Ur", ["unshare", "-Ur", "true"]),
                                  ("unshare -m", ["unshare", "-m", "true"]),
                                  ("nsenter -t 1 -m", ["nsenter", "-t", "1", "-m", "true"]),
                                  ("chroot /", ["chroot", "/", "true"]),
                                  ("su root", ["su", "root", "-c", "true"])) if run(*cmd)]
    nnp = status("NoNewPrivs")
    return bool(won) or nnp != "1", f"succeeded: {won}, NoNewPrivs {nnp} (setuid binaries " + (
        "ignored)" if nnp == "1" else "honoured)")

@probe("host_environment")
def _():
    found = []
    for pid in [p for p in os.listdir("/proc") if p.isdigit()]:
        try:
            if f"{tag}-secret".encode() in open(f"/proc/{pid}/environ", "rb").read():
                found.append(pid)
        except OSError:
            pass
    return bool(found), f"the harness's secret in the environment of pids {found}" if found else (
        "no process sees the harness's environment")

#: sysctls of the sandbox's own ipc, pid, uts, net and user namespaces (writable there, never the host's)
OWN_SYSCTLS = re.compile(r"^/proc/sys/(fs/mqueue/|net/|user/|kernel/(msg|sem|shm|auto_msgmni|ns_last_pid|pid_max|"
                         r"hostname|domainname))")

@probe("host_sysctls")
def _():
    writable = [p for p in ("/proc/sysrq-trigger", "/proc/sys/kernel/core_pattern") if os.access(p, os.W_OK)]
    for root, dirs, files in os.walk("/proc/sys"):
        writable += [os.path.join(root, f) for f in files
                     if not OWN_SYSCTLS.match(os.path.join(root, f)) and os.access(os.path.join(root, f), os.W_OK)]
    return bool(writable), f"writable: {writable[:6]}" if writable else "/proc/sys: only the sandbox's own namespaces"

@probe("host_unix_sockets")
def _():
    reached = []
    for path in ("/var/run/docker.sock", "/run/docker.sock", "/run/containerd/containerd.sock", "\0" + tag):
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(path)
            reached.append(path.replace("\0", "@"))
        except OSError:
            pass
        finally:
            s.close()
    return bool(reached), f"connected: {reached}" if reached else "the engine's and the host's sockets: unreachable"

for name, (verdict, detail) in results.items():
    print(f"PROBE {name} {verdict} {detail}")
'''

PROBES = ("capabilities", "remount_readonly_writable", "mknod_devices", "mount_filesystems", "cgroup_release_agent",
          "raw_packet_sockets", "read_host_secrets", "host_loopback_port", "see_or_signal_host_process",
          "write_template", "regain_privileges", "host_environment", "host_sysctls", "host_unix_sockets")


def run_probes(box, *, canary_file: str, port: int, host_pid: int, tag: str, template: str = "") -> dict:
    """Run every probe in the started sandbox `box`. Returns {probe: (verdict, detail)}."""
    import shlex

    box.write_file("/tmp/aemgym_probe.py", PROBE_SCRIPT)
    import hashlib

    try:
        with open("/etc/shadow", "rb") as fh:
            host_shadow = hashlib.sha256(fh.read()).hexdigest()
    except OSError:
        host_shadow = "unreadable"
    args = " ".join(shlex.quote(str(a)) for a in (canary_file, port, host_pid, tag, template or "-", host_shadow))
    out = box.exec(f"python /tmp/aemgym_probe.py {args} 2>&1", timeout=120).output
    found = {}
    for line in out.splitlines():
        if line.startswith("PROBE "):
            _, name, verdict, detail = (line.split(" ", 3) + [""])[:4]
            found[name] = (verdict, detail)
    return {name: found.get(name, ("NOT RUN", out[-300:])) for name in PROBES}


class HostCanary:
    """A host file, a loopback TCP server, an abstract unix socket, a sleeping process and a secret in the harness's
    environment that no sandbox may reach. Context manager."""

    def __enter__(self) -> HostCanary:
        import os
        import socket
        import subprocess
        import tempfile
        import uuid

        self.tag = f"aemgym-canary-{uuid.uuid4().hex[:8]}"
        fd, self.file = tempfile.mkstemp(prefix="aemgym-canary-")
        with open(fd, "w") as fh:
            fh.write("host secret\n")
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(4)
        self.port = self.server.getsockname()[1]
        self.abstract = socket.socket(socket.AF_UNIX)
        self.abstract.bind("\0" + self.tag)
        self.abstract.listen(4)
        os.environ["AEMGYM_HOST_SECRET"] = f"{self.tag}-secret"  # what an API key in the harness's env stands for
        self.proc = subprocess.Popen(["bash", "-c", f"exec -a {self.tag} sleep 600"])
        return self

    def kwargs(self) -> dict:
        return {"canary_file": self.file, "port": self.port, "host_pid": self.proc.pid, "tag": self.tag}

    def untouched(self) -> bool:
        """The canary file is intact and the canary process still runs."""
        import os

        return open(self.file).read() == "host secret\n" and self.proc.poll() is None and os.path.exists(self.file)

    def __exit__(self, *exc: object) -> None:
        import os

        self.proc.kill()
        self.proc.wait()
        self.server.close()
        self.abstract.close()
        os.environ.pop("AEMGYM_HOST_SECRET", None)
        os.unlink(self.file)


def _main() -> None:
    """Print the probe table for the local sandbox (synthetic template) and the Docker sandbox (synthetic image)."""
    import tempfile
    from pathlib import Path

    from agent_envs.swebench import synthetic
    from agent_envs.swebench.spec import image_name
    from agent_envs.swebench.template import build_template

    cache = Path(tempfile.mkdtemp(prefix="probe-cache-"))
    source = synthetic.build_source_repo(cache / "sources" / "tiny")
    synthetic.register_spec()
    instance = synthetic.tinycalc_instance(source)
    template = build_template(instance, cache_dir=cache)
    boxes = {"local": lambda: template.sandbox(work_root=cache / "episodes")}
    try:
        from agent_envs.sandbox.docker import DockerSandbox, docker_available

        if docker_available():
            boxes["docker"] = lambda: DockerSandbox(image_name(instance["instance_id"]))
    except ImportError:
        pass
    with HostCanary() as canary:
        for name, factory in boxes.items():
            with factory() as box:
                results = run_probes(box, template=template.repo_dir, **canary.kwargs())
            for probe, (verdict, detail) in results.items():
                print(f"| {name} | {probe} | {verdict} | {detail} |")
        print("host untouched:", canary.untouched())


if __name__ == "__main__":
    _main()
