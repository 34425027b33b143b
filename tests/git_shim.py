"""A `git` in front of the real one on PATH that signals the tool at a chosen moment of its
bookkeeping: the moment a ref moves (the tool runs none of the repository's hooks)."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pytest

SHIM = """\
#!/bin/sh
"{git}" "$@"
status=$?
case " $* " in
*" update-ref {ref} "* | *" update-ref "*" {ref} "*)
    moves=$(( $(cat "{marker}.moves" 2>/dev/null || echo 0) + 1 ))
    echo $moves > "{marker}.moves"
    if [ $status -eq 0 ] && [ ! -e "{marker}" ] && [ $moves -ge {moves} ]; then
        touch "{marker}"
        tool=$PPID
        {target}
        kill -s {signal} -- "$tool"
        sleep 0.3
    fi;;
esac
exit $status
"""


def signal_when_ref_moves(
    repo: Path,
    monkeypatch: pytest.MonkeyPatch,
    ref: str,
    signum: signal.Signals,
    whole_group: bool = False,
    moves: int = 1,
) -> Path:
    """Once: when ``ref`` moves (the ``moves``-th time), send ``signum`` to the autoresearch
    process moving it (with ``whole_group``, to its process group, as a terminal's Ctrl-C
    does)."""
    marker = repo.parent / f"fired-{ref.replace('/', '-')}"
    shim = repo.parent / "shim" / "git"
    shim.parent.mkdir(exist_ok=True)
    target = 'tool="-$(ps -o pgid= -p "$tool" | tr -d " ")"' if whole_group else ""
    name = signum.name.removeprefix("SIG")
    real = shutil.which("git")
    shim.write_text(
        SHIM.format(git=real, ref=ref, marker=marker, signal=name, target=target, moves=moves)
    )
    shim.chmod(0o755)
    monkeypatch.setenv("PATH", f"{shim.parent}{os.pathsep}{os.environ['PATH']}")
    return marker
