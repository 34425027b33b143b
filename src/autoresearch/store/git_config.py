"""What keeps the repository's own programs out of the tool's git calls.

A repository can name programs that git runs inside ordinary commands: hooks (a checkout's
``post-checkout``), ``core.fsmonitor`` (every status), filter drivers (``clean`` on add,
``smudge`` on checkout), merge drivers, an external diff, credential helpers, commit signing.
An agent that can write ``.git/config`` could so decide what the tool reads (a textconv that
shrinks a diff's line count) or run code outside any time limit. Every git process the tool
starts carries ``-c`` overrides that switch each of them off; diffs are also asked for with
``--no-ext-diff --no-textconv``, so that line counts are taken on the bytes git stores.

A diff driver that declares files binary is overridden too. Drivers are named by the user
(``[filter "lfs"]``): their names are read from the repository's
configuration files, again whenever one of them changes.
"""

from __future__ import annotations

import os
import re
import subprocess
from typing import TYPE_CHECKING

from autoresearch.errors import UserError

if TYPE_CHECKING:
    from _typeshed import StrPath

_ALWAYS = (
    "core.hooksPath=/dev/null",
    "core.fsmonitor=false",
    "core.sshCommand=",
    "core.askPass=",
    "core.pager=cat",
    "core.editor=:",
    "sequence.editor=:",
    "credential.helper=",
    "commit.gpgSign=false",
    "tag.gpgSign=false",
    "gpg.program=false",
    "maintenance.auto=false",
    # `git replace` would make a commit read as another one: the tree a keep ref names is the
    # tree that was measured, and what `finalize` ships.
    "core.useReplaceRefs=false",
)
# Of the tool's own environment, the git variables that only name who commits, or which
# configuration files exist; any other (GIT_DIR, GIT_WORK_TREE, GIT_INDEX_FILE, GIT_NAMESPACE,
# GIT_CONFIG_PARAMETERS, GIT_EXTERNAL_DIFF, GIT_EXEC_PATH, ...) would change what git sees or
# runs, whoever set it.
_GIT_VARIABLES_KEPT = frozenset(
    f"GIT_{who}_{what}" for who in ("AUTHOR", "COMMITTER") for what in ("NAME", "EMAIL", "DATE")
) | {"GIT_CONFIG_NOSYSTEM", "GIT_CONFIG_GLOBAL", "GIT_CONFIG_SYSTEM"}
# A checkout elsewhere, or none: the tool's git calls would see another tree than the one it
# commits and runs.
_ELSEWHERE = re.compile(r"^core\.(worktree|bare)$", re.I)
# A section that names a driver: [filter "name"], or the older [filter.name].
_DRIVER_SECTION = re.compile(
    r'^\s*\[\s*(filter|merge|diff)\s*(?:"((?:[^"\\]|\\.)*)"|\.([^\]\s]+))\s*\]', re.I | re.M
)
_INCLUDE_SECTION = re.compile(r"^\s*\[\s*include(?:if)?\b", re.I | re.M)
_cache: dict[str, tuple[tuple[float, ...], tuple[str, ...]]] = {}


def environment() -> dict[str, str] | None:
    """The environment of a git process the tool starts: its own, without the git variables
    that would change what git sees or runs. None when there are none to drop: the process
    inherits the tool's as it is, which spares each of a `try`'s 15 git calls 0.2 ms of copying
    it (for subprocess, a given environment is one to encode and pass whole)."""
    if not any(name.startswith("GIT_") and name not in _GIT_VARIABLES_KEPT for name in os.environ):
        return None
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("GIT_") or name in _GIT_VARIABLES_KEPT
    }


def overrides(repo: StrPath) -> tuple[str, ...]:
    """The ``-c`` arguments for a git call in ``repo`` that let no program it names run.
    Raises ``UserError`` when the repository's configuration points git at another checkout
    (``core.worktree``) or at none (``core.bare``)."""
    files = _config_files(str(repo))
    stamps = tuple(_mtime(path) for path in files)
    cached = _cache.get(files[0] if files else "")
    if cached is not None and cached[0] == stamps:
        return cached[1]
    texts = [_read(path) for path in files]
    names = {
        (kind.lower(), quoted or dotted)
        for text in texts
        for kind, quoted, dotted in _DRIVER_SECTION.findall(text)
    }
    elsewhere = [key for text in texts for key in _core_keys_elsewhere(text)]
    includes = any(_INCLUDE_SECTION.search(text) for text in texts)
    if includes:  # an included file may change unseen: ask git each time, never cache
        found, keys = _names_from_git(str(repo))
        names |= found
        elsewhere += keys
    if elsewhere:
        raise UserError(
            f"the repository's git configuration sets {elsewhere[0]}: autoresearch works on "
            "the checkout it is run in only; remove it (git config --unset "
            f"{elsewhere[0]})"
        )
    args: list[str] = []
    for setting in _ALWAYS:
        args += ["-c", setting]
    for kind, name in sorted(names):
        if kind == "filter":
            for key in ("clean=", "smudge=", "process=", "required=false"):
                args += ["-c", f"filter.{name}.{key}"]
        elif kind == "diff":  # a driver that calls a text file binary would hide its lines
            args += ["-c", f"diff.{name}.binary=false"]
        else:  # an empty merge driver runs nothing: the merge fails, which reads as a conflict
            args += ["-c", f"merge.{name}.driver="]
    result = tuple(args)
    if files and not includes:
        _cache[files[0]] = (stamps, result)
    return result


def _names_from_git(repo: str) -> tuple[set[tuple[str, str]], list[str]]:
    """The drivers the configuration names, included files too, and the keys of it that put
    the checkout elsewhere."""
    pattern = r"^(filter|merge|diff)\.|^core\.(worktree|bare)$"
    listed = subprocess.run(
        ["git", "config", "--includes", "--get-regexp", pattern],
        cwd=repo,
        capture_output=True,
        text=True,
        start_new_session=True,
        env=environment(),
    ).stdout
    names, elsewhere = set(), []
    for line in listed.splitlines():
        key, _, value = line.partition(" ")
        if _ELSEWHERE.match(key):
            if key.lower() == "core.worktree" or _true(value):
                elsewhere.append(key.lower())
            continue
        kind, _, rest = key.partition(".")
        name = rest.rpartition(".")[0]
        if name:
            names.add((kind.lower(), name))
    return names, elsewhere


_SECTION = re.compile(r"^\s*\[\s*([A-Za-z0-9.-]+)")
_KEY = re.compile(r"^\s*([A-Za-z][A-Za-z0-9-]*)\s*(?:=\s*(.*?))?\s*$")


def _core_keys_elsewhere(text: str) -> list[str]:
    """``core.worktree`` when the text sets it, ``core.bare`` when it sets it true."""
    found, section = [], ""
    for line in text.splitlines():
        header = _SECTION.match(line)
        if header:
            section = header.group(1).lower()
            continue
        key = _KEY.match(line)
        if section != "core" or key is None:
            continue
        name, value = key.group(1).lower(), key.group(2)
        if name == "worktree" or (name == "bare" and (value is None or _true(value))):
            found.append(f"core.{name}")
    return found


def _true(value: str) -> bool:
    return value.strip().strip('"').lower() in ("true", "yes", "on", "1", "")


def _config_files(repo: str) -> tuple[str, ...]:
    """The repository's own configuration files (those of its main repository too, for a
    linked worktree)."""
    gitdir = _gitdir(repo)
    if gitdir is None:
        return ()
    common = gitdir
    commondir = os.path.join(gitdir, "commondir")
    if os.path.exists(commondir):
        common = os.path.normpath(os.path.join(gitdir, _read(commondir).strip()))
    found = [os.path.join(common, "config"), os.path.join(gitdir, "config.worktree")]
    if common != gitdir:
        found.append(os.path.join(common, "config.worktree"))
    return tuple(found)


def _gitdir(path: str) -> str | None:
    folder = os.path.abspath(path)
    while True:
        dotgit = os.path.join(folder, ".git")
        if os.path.isdir(dotgit):
            return dotgit
        if os.path.isfile(dotgit):
            pointer = _read(dotgit).strip().removeprefix("gitdir:").strip()
            return os.path.normpath(os.path.join(folder, pointer))
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


def _mtime(path: str) -> float:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return -1.0


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return ""
