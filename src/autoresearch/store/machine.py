"""What this machine offers a night of experiments: disk, GPUs, programs, a reachable server.

Each question is answered by asking the system once, with a short time limit, and never fails:
an answer it cannot get is None or a reason.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess

PROBE_SECONDS = 10.0


def free_bytes(path: str) -> int:
    return shutil.disk_usage(path).free


def find_program(name: str, path: str | None = None) -> str | None:
    """Where ``name`` is on PATH (or ``path``), or the name itself when it is a runnable file."""
    if os.sep in name:
        return name if os.access(name, os.X_OK) and os.path.isfile(name) else None
    return shutil.which(name, path=path if path is not None else os.environ.get("PATH"))


def probe(argv: list[str]) -> subprocess.CompletedProcess[str]:
    """Run a short query program, standard input closed, for at most ``PROBE_SECONDS``; raises
    OSError or TimeoutExpired as subprocess does."""
    return subprocess.run(
        argv,
        capture_output=True,
        text=True,
        errors="replace",
        stdin=subprocess.DEVNULL,
        timeout=PROBE_SECONDS,
    )


def program_version(program: str) -> str | None:
    """The first line ``PROGRAM --version`` prints, or None when it gives none in time."""
    try:
        result = probe([program, "--version"])
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = [line.strip() for line in (result.stdout + result.stderr).splitlines()]
    first = next((line for line in lines if line), None)
    return first[:80] if first and result.returncode == 0 else None


def gpu_names() -> tuple[list[str] | None, str]:
    """The GPUs ``nvidia-smi -L`` lists (None when it is absent or fails), and why not."""
    program = shutil.which("nvidia-smi")
    if program is None:
        return None, "nvidia-smi not found"
    try:
        result = probe([program, "-L"])
    except (OSError, subprocess.TimeoutExpired) as error:
        return None, f"nvidia-smi failed: {error}"
    if result.returncode != 0:
        last = (result.stderr or result.stdout).strip().splitlines()
        return None, f"nvidia-smi failed: {last[-1] if last else f'exit {result.returncode}'}"
    return [line.strip() for line in result.stdout.splitlines() if line.startswith("GPU")], ""


def unreachable(host: str, port: int, seconds: float = 3.0) -> str | None:
    """Why a TCP connection to host:port cannot be made, or None when it can."""
    try:
        with socket.create_connection((host, port), timeout=seconds):
            return None
    except OSError as error:
        return error.strerror or str(error)
