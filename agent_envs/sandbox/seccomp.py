"""A seccomp filter for the local sandbox, assembled as classic BPF (no libseccomp or Python bindings needed).

bubblewrap loads it with `--seccomp FD` right before it runs the command. It denies what an agent never needs and
what sandbox escapes are made of, the way Docker's default profile does: mounting and the new mount API, namespaces
(`unshare`, `setns`, `clone` with namespace flags; `clone3` answers ENOSYS so libc falls back to `clone`), module
loading, kexec, bpf, perf, keyrings, userfaultfd, io_uring, file handles (`open_by_handle_at`, the classic container
escape), clock/host settings, swap, reboot, `chroot`, raw and packet sockets and terminal injection (`TIOCSTI`).
Other architectures' system calls (i386 via `int 0x80`, x32) kill the process, so the table cannot be bypassed.
x86_64 only: on another machine `program()` returns None and the sandbox runs without the filter (reported).
"""

from __future__ import annotations

import errno
import platform
import struct

AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000
RET_ALLOW, RET_KILL_PROCESS, RET_ERRNO = 0x7FFF0000, 0x80000000, 0x00050000
LD_ABS_W, JEQ_K, JSET_K, AND_K, RET_K = 0x20, 0x15, 0x45, 0x54, 0x06
OFF_NR, OFF_ARCH, OFF_ARG0, OFF_ARG1 = 0, 4, 16, 24  # struct seccomp_data (little endian: low words of the args)

#: x86_64 numbers of the denied system calls (answered EPERM).
DENIED = {
    "mount": 165, "umount2": 166, "pivot_root": 155, "chroot": 161, "swapon": 167, "swapoff": 168, "reboot": 169,
    "sethostname": 170, "setdomainname": 171, "iopl": 172, "ioperm": 173, "create_module": 174, "init_module": 175,
    "delete_module": 176, "get_kernel_syms": 177, "query_module": 178, "quotactl": 179, "nfsservctl": 180,
    "acct": 163, "settimeofday": 164, "adjtimex": 159, "_sysctl": 156, "uselib": 134, "syslog": 103,
    "vhangup": 153, "lookup_dcookie": 212, "clock_settime": 227, "kexec_load": 246, "add_key": 248,
    "request_key": 249, "keyctl": 250, "unshare": 272, "perf_event_open": 298, "fanotify_init": 300,
    "name_to_handle_at": 303, "open_by_handle_at": 304, "clock_adjtime": 305, "setns": 308, "finit_module": 313,
    "kexec_file_load": 320, "bpf": 321, "userfaultfd": 323, "io_uring_setup": 425, "io_uring_enter": 426,
    "io_uring_register": 427, "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
    "fspick": 433, "mount_setattr": 442, "quotactl_fd": 443, "open_tree_attr": 467,
}
NR_CLONE, NR_CLONE3, NR_SOCKET, NR_IOCTL = 56, 435, 41, 16
CLONE_NAMESPACES = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000
AF_PACKET, SOCK_RAW, SOCK_TYPE_MASK = 17, 3, 0xF
TIOCSTI = 0x5412


def _assemble(lines: list[tuple]) -> bytes:
    """Resolve labels: each line is a label string or (code, k, true_label|None, false_label|None)."""
    labels: dict[str, int] = {}
    index = 0
    for line in lines:
        if isinstance(line, str):
            labels[line] = index
        else:
            index += 1
    out, pos = [], 0
    for line in lines:
        if isinstance(line, str):
            continue
        code, k, true_to, false_to = line
        jt = labels[true_to] - pos - 1 if true_to else 0
        jf = labels[false_to] - pos - 1 if false_to else 0
        if not (0 <= jt < 256 and 0 <= jf < 256):
            raise ValueError("BPF jump out of range")
        out.append(struct.pack("<HBBI", code, jt, jf, k))
        pos += 1
    return b"".join(out)


def program() -> bytes | None:
    """The filter as bytes of `struct sock_filter[]` (what `bwrap --seccomp` reads), or None off x86_64."""
    if platform.machine() != "x86_64":
        return None
    lines: list = [
        (LD_ABS_W, OFF_ARCH, None, None), (JEQ_K, AUDIT_ARCH_X86_64, None, "kill"),
        (LD_ABS_W, OFF_NR, None, None), (JSET_K, X32_SYSCALL_BIT, "kill", None),
    ]
    lines += [(JEQ_K, nr, "eperm", None) for nr in sorted(DENIED.values())]
    lines += [(JEQ_K, NR_CLONE3, "enosys", None), (JEQ_K, NR_CLONE, "clone", None),
              (JEQ_K, NR_SOCKET, "socket", None), (JEQ_K, NR_IOCTL, "ioctl", None), (RET_K, RET_ALLOW, None, None),
              "clone", (LD_ABS_W, OFF_ARG0, None, None), (JSET_K, CLONE_NAMESPACES, "eperm", None),
              (RET_K, RET_ALLOW, None, None),
              "socket", (LD_ABS_W, OFF_ARG0, None, None), (JEQ_K, AF_PACKET, "eperm", None),
              (LD_ABS_W, OFF_ARG1, None, None), (AND_K, SOCK_TYPE_MASK, None, None), (JEQ_K, SOCK_RAW, "eperm", None),
              (RET_K, RET_ALLOW, None, None),
              "ioctl", (LD_ABS_W, OFF_ARG1, None, None), (JEQ_K, TIOCSTI, "eperm", None),
              (RET_K, RET_ALLOW, None, None),
              "eperm", (RET_K, RET_ERRNO | errno.EPERM, None, None),
              "enosys", (RET_K, RET_ERRNO | errno.ENOSYS, None, None),
              "kill", (RET_K, RET_KILL_PROCESS, None, None)]
    return _assemble(lines)
