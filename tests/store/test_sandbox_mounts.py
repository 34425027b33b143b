"""The sandbox's mounts: each folder a command needs is bound once, never again inside itself
(every mount is work for bubblewrap at the start of every run)."""

from __future__ import annotations

import os
import sys
from collections import Counter

from autoresearch.store import sandbox


def _read_only_targets(args: list[str]) -> list[str]:
    return [args[i + 2] for i, word in enumerate(args) if word == "--ro-bind-try"]


def test_an_installation_named_twice_and_inside_itself_is_mounted_once(tmp_path) -> None:
    project = str(tmp_path / "project")
    os.mkdir(project)
    interpreter_home = os.path.realpath(sys.prefix)
    policy = sandbox.Policy(
        project=project,
        checkout=project,
        shared=(interpreter_home, os.path.join(interpreter_home, "lib"), interpreter_home),
    )

    targets = _read_only_targets(sandbox.wrap(policy, ["true"]))

    assert Counter(targets)[interpreter_home] == 1
    inside = [t for t in targets if t.startswith(interpreter_home.rstrip("/") + "/")]
    assert inside == []
