"""What `cluster-down` sweeps after the real node's processes stopped: only what is ours.

Shims are ours when their command line names our containerd's socket; mounts when they lie
under our state folder; cgroups under our cgroup parent; /var/log/containers links when they
point into our pod logs. Never anything found by name alone. Standard library only.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

CONTAINER_LOGS = Path("/var/log/containers")  # fixed in the kubelet


def kill_shims(sock: Path) -> None:
    ours = str(sock).encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"containerd-shim-runc-v2") and ours in argv:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(proc.name), signal.SIGKILL)


def sweep(state: Path, cgroups: list[Path]) -> None:
    """Mounts under `state` (volumes, rootfs, shm, pod netns), deepest first; the cgroups
    (killing what is left in them); the kubelet's log links into `state`."""
    prefix = str(state) + "/"
    for _ in range(3):
        info = Path("/proc/self/mountinfo").read_text().splitlines()
        mounts = [line.split()[4] for line in info]
        ours = sorted({m for m in mounts if m.startswith(prefix)}, key=len, reverse=True)
        if not ours:
            break
        for m in ours:
            subprocess.run(["umount", "-l", m.encode().decode("unicode_escape")],
                           capture_output=True, check=False)
    for cg in cgroups:
        remove_cgroup(cg)
    if CONTAINER_LOGS.is_dir():
        for link in CONTAINER_LOGS.iterdir():
            with contextlib.suppress(OSError):
                if link.is_symlink() and os.readlink(link).startswith(prefix):
                    link.unlink()


def remove_cgroup(cg: Path) -> None:
    """Kill what is left in our cgroup tree (every process there is ours), then rmdir it."""
    if not cg.exists():
        return
    dirs = sorted((p for p in cg.rglob("*") if p.is_dir()), key=lambda p: len(p.parts),
                  reverse=True) + [cg]
    for _ in range(20):
        left = False
        for d in dirs:
            with contextlib.suppress(OSError):
                for pid in (d / "cgroup.procs").read_text().split():
                    left = True
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(int(pid), signal.SIGKILL)
        if not left:
            break
        time.sleep(0.1)
    for d in dirs:
        with contextlib.suppress(OSError):
            d.rmdir()


def netns_in_use(path: Path) -> bool:
    """Whether any process lives in the network namespace bound at `path`."""
    try:
        ino = path.stat().st_ino
    except OSError:
        return False
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):
                if (proc / "ns" / "net").stat().st_ino == ino:
                    return True
    return False


def cgroup_in_use(cg: Path) -> bool:
    for procs in cg.rglob("cgroup.procs"):
        with contextlib.suppress(OSError):
            if procs.read_text().strip():
                return True
    return False
