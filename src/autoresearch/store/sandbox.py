"""The sandbox a run (or an agent's turn) runs in, on Linux: bubblewrap.

Inside it the command has a PID namespace of its own, so that when its main process exits
every process it started dies with it (the namespace's first process, bubblewrap's own, exits
then, and the kernel kills the rest), whatever it did with ``setsid``, its environment or its
signals. Its checkout is the only writable part of the project; the repository's ``.git``, the
books and the protected files are read-only, the tool's state is absent, the rest of the
system is read-only, the home folder and ``/tmp`` are empty private folders but for what the
user shares.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from typing import NamedTuple

# The device nodes an accelerator needs, bound from the host when they exist.
ACCELERATOR_DEVICES = (
    "/dev/dri",
    "/dev/kfd",
    "/dev/nvidia-caps",
    "/dev/nvidia-modeset",
    "/dev/nvidia-uvm",
    "/dev/nvidia-uvm-tools",
    "/dev/nvidiactl",
)
_PROBE_SECONDS = 10.0


class Policy(NamedTuple):
    """What one sandboxed command may see and change.

    ``project`` (the repository, read-only) and ``checkout`` (where the command runs, writable)
    are absolute; ``hidden`` are folders of the project replaced by empty ones; ``read_only``
    are paths relative to the checkout that stay read-only inside it (``.git``, the books, the
    protected files). ``writable`` and ``shared`` are absolute folders the user named.
    """

    project: str = ""
    checkout: str = ""
    hidden: tuple[str, ...] = ()
    read_only: tuple[str, ...] = ()
    writable: tuple[str, ...] = ()
    shared: tuple[str, ...] = ()
    network: bool = True
    hide_project: bool = False  # the project is an empty folder (the trusted evaluation)
    user_folders: bool = False  # the home and /tmp stay writable (an agent's configuration)
    # What a run in place may not read as the tree has it: (a file of the tool's, the absolute
    # path it stands in for), and folders (absolute) that are empty ones of its own.
    stand_ins: tuple[tuple[str, str], ...] = ()
    emptied: tuple[str, ...] = ()


def unavailable(remembered: str | None = None) -> str | None:
    """Why the sandbox cannot be used on this machine, or None when it works here (tried, not
    looked for: an installed bubblewrap may still be refused user namespaces).

    ``remembered``: a file that keeps the answer, so that each command of a session need not
    try again; it is tried again whenever bubblewrap, the kernel, the user or the boot differs.
    """
    bwrap = _bwrap()
    if remembered is None:
        return _probe(bwrap)
    key = _machine_key(bwrap)
    try:
        with open(remembered, encoding="utf-8") as file:
            kept = json.load(file)
        if isinstance(kept, dict) and kept.get("key") == key:
            return kept.get("reason")
    except (OSError, ValueError):
        pass
    reason = _probe(bwrap)
    with contextlib.suppress(OSError):
        partial = f"{remembered}.{os.getpid()}"
        with open(partial, "w", encoding="utf-8") as file:
            json.dump({"key": key, "reason": reason}, file)
        os.replace(partial, remembered)
    return reason


def _bwrap() -> str | None:
    """Where bubblewrap is on PATH, looked for as ``shutil.which`` does: every command asks,
    and importing shutil (with the compression modules it brings) cost each 1.4 ms."""
    for folder in os.environ.get("PATH", os.defpath).split(os.pathsep):
        path = os.path.join(folder, "bwrap")
        if os.access(path, os.X_OK) and not os.path.isdir(path):
            return path
    return None


def _machine_key(bwrap: str | None) -> str:
    if bwrap is None:
        return "no bubblewrap"
    try:
        found = os.stat(bwrap)
        with open("/proc/sys/kernel/random/boot_id", encoding="utf-8") as file:
            boot = file.read().strip()
    except OSError:
        return f"{bwrap}: unknown"  # never equal to a kept key: tried each time
    identity = f"{found.st_size}:{found.st_mtime_ns}:{os.uname().release}:{os.getuid()}"
    return f"{bwrap}:{identity}:{boot}"


@functools.lru_cache(maxsize=4)
def _probe(bwrap: str | None) -> str | None:
    if not sys.platform.startswith("linux"):
        return f"no sandbox on {sys.platform} (bubblewrap is Linux only)"
    if bwrap is None:
        return "bubblewrap is not installed (Debian and Ubuntu: apt install bubblewrap)"
    trial = [bwrap, *_namespaces(True), "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    try:
        tried = subprocess.run(
            [*trial, "--", "true"],
            capture_output=True,
            text=True,
            timeout=_PROBE_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bubblewrap does not start here: {error}"
    if tried.returncode != 0:
        said = (tried.stderr.strip().splitlines() or [f"exit {tried.returncode}"])[-1]
        return f"bubblewrap cannot make its namespaces here ({said})"
    return None


def wrap(policy: Policy, argv: Sequence[str]) -> list[str]:
    """The command line that runs ``argv`` in the sandbox ``policy`` describes."""
    bwrap = _bwrap() or "bwrap"
    return [bwrap, *_namespaces(policy.network), *_file_system(policy), "--", *argv]


def _namespaces(network: bool) -> list[str]:
    # Not --new-session: the sandbox stays in the process group the runner signals.
    flags = ["--die-with-parent", "--unshare-pid", "--unshare-ipc", "--unshare-uts"]
    return flags if network else [*flags, "--unshare-net"]


def _file_system(policy: Policy) -> list[str]:
    """Mounts in order: a later one covers an earlier one at the same place."""
    args = ["--ro-bind", "/", "/", "--dev", "/dev"]
    for device in (*ACCELERATOR_DEVICES, *_numbered_gpus()):
        args += ["--dev-bind-try", device, device]
    # Shared memory of its own: data loaders pass batches through /dev/shm.
    args += ["--perms", "1777", "--tmpfs", "/dev/shm", "--proc", "/proc"]
    home = os.path.expanduser("~")
    if policy.user_folders:
        for folder in ("/tmp", "/var/tmp", home):
            args += ["--bind-try", folder, folder]
    else:
        args += ["--perms", "1777", "--tmpfs", "/tmp", "--perms", "1777", "--tmpfs", "/var/tmp"]
        if home not in ("/", "") and os.path.isdir(home):
            args += ["--tmpfs", home]
    checkout = policy.checkout
    # A writable folder around the project must not make its books writable: bound first.
    around = [p for p in policy.writable if _contains(p, policy.project or checkout)]
    for path in around:
        args += ["--bind", path, path]
    # In place, the checkout is the project: it is bound once, below.
    if policy.project and policy.project != checkout:
        args += ["--tmpfs" if policy.hide_project else "--ro-bind", policy.project]
        args += [] if policy.hide_project else [policy.project]
        args += _hide(policy.hidden, policy.project)
    if checkout:
        args += ["--bind", checkout, checkout]
        args += _hide([h for h in policy.hidden if _within(h, checkout)], policy.project)
        for relative in policy.read_only:
            # Through a linked folder (``--link data``), the file itself is made read-only.
            path = os.path.realpath(os.path.join(checkout, relative))
            if os.path.exists(path):
                args += ["--ro-bind", path, path]
        for stand_in, path in policy.stand_ins:
            args += ["--bind", stand_in, path]
        for path in policy.emptied:
            args += ["--tmpfs", path]
    # The interpreter stays read-only even where it lies in a writable checkout (a .venv).
    installed = software_roots([home, "/tmp", "/var/tmp", policy.project])
    for path in outermost([*installed, *policy.shared]):
        if not _contains(path, checkout):
            args += ["--ro-bind-try", path, path]
    for path in policy.writable:
        if path not in around:
            args += ["--bind", path, path]
    return [*args, "--chdir", checkout or "/"]


def _hide(hidden: Sequence[str], project: str) -> list[str]:
    args: list[str] = []
    for folder in hidden:
        path = os.path.join(project, folder)
        if os.path.isdir(path):
            args += ["--tmpfs", path]
    return args


def _within(relative: str, checkout: str) -> bool:
    """Whether the project folder ``relative`` lies inside the checkout (a run in place)."""
    return os.path.isdir(os.path.join(checkout, relative))


def software_roots(emptied: Sequence[str]) -> list[str]:
    """The installations in the folders the sandbox empties or makes writable that a command
    needs, read-only: this Python's own, and the prefixes of PATH's folders there (a pyenv, a
    conda, a venv in the home or in the project)."""
    emptied = [folder for folder in emptied if folder]
    home = os.path.expanduser("~")
    found: list[str] = []
    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix}
    for entry in os.environ.get("PATH", "").split(os.pathsep):
        if entry and os.path.isabs(entry):
            prefixes.add(os.path.dirname(entry) if entry.endswith("/bin") else entry)
    local = os.path.join(home, ".local")
    if local in prefixes:  # its programs and libraries, not the rest of what apps keep there
        prefixes.discard(local)
        prefixes.update({os.path.join(local, "bin"), os.path.join(local, "lib")})
    for prefix in sorted(prefixes):
        real = os.path.realpath(prefix)
        for path in {prefix, real}:
            if any(_is_below(path, root) for root in emptied) and path not in emptied:
                found.append(path)
    return outermost(found)


def outermost(paths: Sequence[str]) -> list[str]:
    """One mount each, not one more for a folder inside another."""
    return [path for path in sorted(set(paths)) if not any(_is_below(path, p) for p in paths)]


def _contains(folder: str, path: str) -> bool:
    return bool(path) and (path == folder or _is_below(path, folder))


def _is_below(path: str, root: str) -> bool:
    return path.startswith(root.rstrip("/") + "/")


def _numbered_gpus() -> list[str]:
    try:
        names = os.listdir("/dev")
    except OSError:
        return []
    return [f"/dev/{n}" for n in sorted(names) if n.startswith("nvidia") and n[6:].isdigit()]
