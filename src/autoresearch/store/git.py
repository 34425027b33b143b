"""Every git call the project makes, one small function each, through the git CLI (started by
``git_process``)."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from typing import TYPE_CHECKING, NamedTuple

from autoresearch.errors import UserError
from autoresearch.store.git_process import (
    GitError,
    Pending,
    argv,
    completed,
    environment,
    git,
    start,
)

if TYPE_CHECKING:
    from _typeshed import StrPath

# Commits are made by the tool even where the user has no identity configured; hooks and
# signing are off in every git call (``git_config``).
# Paths handed to git are file names, never patterns: `cfg*.py` must not also stage an untracked
# `cfg2.py` that is outside scope (and that a discard's reset would then delete).
_LITERAL = ("--literal-pathspecs",)
_FALLBACK_IDENTITY = ("-c", "user.name=autoresearch", "-c", "user.email=autoresearch@localhost")


def _rev_parse(path: StrPath, *args: str) -> subprocess.CompletedProcess[str]:
    """Unchecked, for the calls that find the repository: failing there is the user's news."""
    return completed(path, "rev-parse", *args)


def toplevel(path: StrPath) -> str:
    """The repository's top folder. Paths are text, not ``pathlib.Path``: importing pathlib
    costs every command several milliseconds of its start (see ``records``)."""
    result = _rev_parse(path, "--show-toplevel")
    if result.returncode != 0:
        raise UserError(f"not in a git repository: {path}")
    return result.stdout.strip()


def locate(path: StrPath) -> tuple[str, str | None]:
    """The repository's top folder and the checked-out branch (None when HEAD is detached).

    One git call where ``toplevel`` and ``current_branch`` take two: every command starts here.
    """
    result = _rev_parse(path, "--show-toplevel", "--symbolic-full-name", "HEAD")
    lines = result.stdout.splitlines()
    if result.returncode != 0 or len(lines) != 2:  # HEAD unborn, or not a repository
        repo = toplevel(path)
        return repo, current_branch(repo)
    repo, ref = lines
    return repo, ref.removeprefix("refs/heads/") if ref.startswith("refs/heads/") else None


def head(repo: StrPath) -> str | None:
    """The commit HEAD points to, or None while the branch is unborn."""
    out = git(repo, "rev-parse", "--verify", "-q", "HEAD^{commit}", check=False).strip()
    return out or None


def head_commit(repo: StrPath) -> str:
    """The commit HEAD points to, where there must be one (just after a commit)."""
    return git(repo, "rev-parse", "HEAD").strip()


def current_branch(repo: StrPath) -> str | None:
    out = git(repo, "symbolic-ref", "-q", "--short", "HEAD", check=False).strip()
    return out or None


def resolve(repo: StrPath, revision: str) -> str | None:
    out = git(repo, "rev-parse", "--verify", "-q", f"{revision}^{{commit}}", check=False)
    return out.strip() or None


def is_ref_format(repo: StrPath, ref: str) -> bool:
    """Whether git accepts ``ref`` as the name of a ref, by its own rules."""
    return completed(repo, "check-ref-format", ref).returncode == 0


def branch_exists(repo: StrPath, branch: str) -> bool:
    return resolve(repo, f"refs/heads/{branch}") is not None


def create_branch(repo: StrPath, branch: str) -> None:
    """Create the branch at HEAD and check it out; the working tree is not touched."""
    git(repo, "checkout", "-q", "-b", branch)


def checkout(repo: StrPath, branch: str) -> None:
    git(repo, "checkout", "-q", branch)


def checkout_detached(repo: StrPath, commit: str) -> None:
    git(repo, "checkout", "-q", "--detach", commit)


def start_create_ref(repo: StrPath, ref: str, commit: str) -> Pending:
    """A new ref; git refuses if it exists, so a pin is never moved off its commit."""
    return start(repo, "update-ref", ref, commit, "")


def create_ref(repo: StrPath, ref: str, commit: str) -> None:
    start_create_ref(repo, ref, commit).output()


def update_ref(repo: StrPath, ref: str, commit: str) -> None:
    git(repo, "update-ref", ref, commit)


def delete_ref(repo: StrPath, ref: str, expected: str) -> None:
    """Delete ``ref`` if it still holds ``expected``; git refuses otherwise."""
    git(repo, "update-ref", "-d", ref, expected)


def list_refs(repo: StrPath, prefix: str) -> dict[str, str]:
    out = git(repo, "for-each-ref", "--format=%(refname) %(objectname)", prefix)
    return dict(line.split(" ", 1) for line in out.splitlines() if line)


class TreeStatus(NamedTuple):
    """Paths that differ from HEAD: tracked changes (staged or not) and untracked files."""

    changed: tuple[str, ...]
    untracked: tuple[str, ...]

    @property
    def clean(self) -> bool:
        return not self.changed


def start_status(repo: StrPath) -> Pending:
    return start(repo, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames")


def status(repo: StrPath, started: Pending | None = None) -> TreeStatus:
    """The tree's status; ``started`` is the same command begun earlier by ``start_status``."""
    out = (started or start_status(repo)).output()
    changed: list[str] = []
    untracked: list[str] = []
    for entry in out.split("\0"):
        if len(entry) < 4:
            continue
        code, path = entry[:2], entry[3:]
        (untracked if code == "??" else changed).append(path)
    return TreeStatus(tuple(changed), tuple(untracked))


def tracked_files(repo: StrPath) -> list[str]:
    return [p for p in git(repo, "ls-files", "-z").split("\0") if p]


def is_ancestor(repo: StrPath, ancestor: str, descendant: str) -> bool:
    return completed(repo, "merge-base", "--is-ancestor", ancestor, descendant).returncode == 0


def apply_reversed(repo: StrPath, patch: str) -> bool:
    """Take ``patch`` back out of the index and the tree; False (nothing changed) if it does not
    apply."""
    return completed(repo, "apply", "-R", "--index", stdin=patch).returncode == 0


def archive(repo: StrPath, commit: str) -> bytes:
    """The commit's files as a tar archive (bytes: it holds binary files as they are)."""
    tar = subprocess.run(
        argv(repo, "archive", "--format=tar", commit),
        cwd=repo,
        env=environment(),
        capture_output=True,
        start_new_session=True,
    )
    if tar.returncode:
        raise GitError(tar.stderr.decode(errors="replace").strip())
    return tar.stdout


def change(repo: StrPath, base: str, tip: str) -> str:
    """What ``tip`` changes from ``base``, as a patch that applies to binary files too."""
    return git(repo, "diff", "--binary", "--no-renames", "--no-color", "--no-ext-diff", base, tip)


def changed_paths(repo: StrPath, base: str, tip: str) -> list[str]:
    names = git(repo, "diff", "--name-only", "-z", "--no-renames", base, tip)
    return [path for path in names.split("\0") if path]


def apply_to_tree(repo: StrPath, patch: str) -> str | None:
    """Apply ``patch`` to the working tree only (the index stays); None when it applied, else
    git's reason, with nothing changed (git applies all of a patch or none of it)."""
    result = completed(repo, "apply", "--whitespace=nowarn", stdin=patch)
    if result.returncode == 0:
        return None
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    return lines[0].removeprefix("error: ") if lines else f"git apply exited {result.returncode}"


def commit_worktree(
    repo: StrPath, paths: list[str], message: str, identity: bool, new_files: bool
) -> None:
    """Commit exactly these paths as the working tree has them (additions, edits, deletions),
    and move HEAD there; the caller reads the commit when it needs it.

    Paths git already knows are committed in one call (``commit --only``, which also leaves
    anything else staged out of it). ``new_files``: some are untracked, and git commits those
    only once they are added.
    """
    if not paths:
        raise GitError("a commit needs at least one path")
    pathspec = ("--pathspec-from-file=-", "--pathspec-file-nul")
    listed = "\0".join(paths)
    if new_files:
        git(repo, *_LITERAL, "add", "-A", *pathspec, stdin=listed)
        _commit(repo, message, identity)
    else:
        _commit(repo, message, identity, "--only", *pathspec, stdin=listed)


def commit_paths(repo: StrPath, paths: list[str], message: str, identity: bool) -> str:
    """Stage exactly these paths (additions, edits, deletions), commit, return the commit."""
    commit_worktree(repo, paths, message, identity, new_files=True)
    return head_commit(repo)


def commit_staged(repo: StrPath, message: str, identity: bool) -> str:
    """Commit what is staged, without the user's hooks or signing; return the commit."""
    _commit(repo, message, identity)
    return head_commit(repo)


def _commit(
    repo: StrPath, message: str, identity: bool, *args: str, stdin: str | None = None
) -> None:
    config = () if identity else _FALLBACK_IDENTITY
    git(repo, *config, *_LITERAL, "commit", "-q", "--no-verify", "-m", message, *args, stdin=stdin)


def has_identity(repo: StrPath) -> bool:
    return bool(git(repo, "config", "user.email", check=False).strip())


_COMMENT_STARTS = ("#", "//", "/*", "*", "--", ";")


class Pinned(NamedTuple):
    """A commit just pinned under its ref, with its lines being counted meanwhile."""

    commit: str
    counting: Pending

    def line_counts(self) -> tuple[int, int]:
        return line_counts(self.counting)


@contextlib.contextmanager
def pinning(repo: StrPath, ref: str, base: str, commit: str | None) -> Iterator[Pinned]:
    """Pin ``commit`` (None: HEAD, a commit just made, whose name is read meanwhile) under a new
    ``ref``, and start counting its lines against ``base``; both git calls run side by side.

    Yields once the pin is made. The count may be read later, inside the block: it overlaps the
    run. Leaving the block waits for it, so no git process outlives the code that started it.
    """
    tip = commit or "HEAD"
    with start_create_ref(repo, ref, tip) as pin, start_line_counts(repo, base, tip) as counting:
        commit = commit or head_commit(repo)
        pin.output()
        yield Pinned(commit, counting)


@contextlib.contextmanager
def stray_edits_snapshot(repo: StrPath, wanted: bool = True) -> Iterator[Pending | None]:
    """``start_snapshot`` begun now, when ``wanted`` (a reset is coming): stray edits are pinned
    while the caller does other work, such as flushing a ledger row."""
    if not wanted:
        yield None
        return
    with start_snapshot(repo) as snapshot:
        yield snapshot


def start_line_counts(repo: StrPath, base: str, tip: str) -> Pending:
    return start(
        repo,
        "diff",
        "-U0",
        "--no-color",
        "--no-renames",
        "--no-ext-diff",
        "--no-textconv",
        # Every file as text: an attribute (`binary`, `-diff`, a driver's `binary = true`) in a
        # file an agent can write would otherwise hide a text file's lines.
        "--text",
        base,
        tip,
    )


def line_counts(started: Pending) -> tuple[int, int]:
    """Lines of code added and removed from base to tip, from ``start_line_counts``: blank
    and comment lines do not count, nor do binary files (by their bytes, as git tells them: a
    changed line holds a NUL), whatever the attributes say."""
    added = removed = 0
    for file_diff in ("\n" + started.output()).split("\ndiff --git ")[1:]:
        if "\0" in file_diff:
            continue
        for line in file_diff.splitlines():
            if not line or line[0] not in "+-" or line.startswith(("+++ ", "--- ")):
                continue
            code = line[1:].strip()
            if not code or code.startswith(_COMMENT_STARTS):
                continue
            if line[0] == "+":
                added += 1
            else:
                removed += 1
    return added, removed


def diff(repo: StrPath, base: str, tip: str) -> str:
    return git(repo, "diff", "--no-color", "--no-ext-diff", "--no-textconv", base, tip)


def reset_hard(repo: StrPath, commit: str) -> None:
    git(repo, "reset", "-q", "--hard", commit)


def reset_keeping_tree(repo: StrPath, commit: str) -> None:
    """Move HEAD (and the index) to ``commit``; the files stay as they are, now uncommitted."""
    git(repo, "reset", "-q", "--mixed", commit)


def start_snapshot(repo: StrPath) -> Pending:
    return start(repo, "stash", "create", "autoresearch: abandoned edits")


def snapshot_uncommitted(repo: StrPath, started: Pending | None = None) -> str | None:
    """A commit holding the tracked files' uncommitted changes, leaving the tree as it is.

    None when there is nothing uncommitted. Used to keep stray edits reachable before a reset.
    ``started`` is the same command begun earlier by ``start_snapshot``.
    """
    pending = started or start_snapshot(repo)
    commit = pending.output(check=False).strip()
    # git (2.39 at least) exits 1 in silence when files were touched but nothing changed.
    if pending.returncode != 0 and (pending.returncode != 1 or pending.stderr.strip()):
        raise pending.error()
    return commit or None


def exclude(repo: StrPath, patterns: list[str]) -> None:
    """Add patterns to .git/info/exclude (once each), so they are never committed."""
    path = os.path.join(repo, git(repo, "rev-parse", "--git-path", "info/exclude").strip())
    try:
        with open(path, encoding="utf-8") as handle:
            existing = handle.read().splitlines()
    except FileNotFoundError:
        existing = []
    missing = [p for p in patterns if p not in existing]
    if missing:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "a", encoding="utf-8") as handle:
            if existing and existing[-1] != "":
                handle.write("\n")
            handle.write("\n".join(missing) + "\n")


def tree_of(repo: StrPath, commit: str) -> str:
    return git(repo, "rev-parse", "--verify", f"{commit}^{{tree}}").strip()


def commit_tree(repo: StrPath, tree: str, parent: str, message: str, identity: bool) -> str:
    """A new commit holding ``tree`` on top of ``parent``, made without any checkout."""
    config = () if identity else _FALLBACK_IDENTITY
    return git(repo, *config, "commit-tree", tree, "-p", parent, "-F", "-", stdin=message).strip()


def create_branch_at(repo: StrPath, branch: str, commit: str) -> None:
    """Create the branch at ``commit`` without checking it out; fails if it exists."""
    git(repo, "branch", "--no-track", branch, commit)


def is_tracked(repo: StrPath, path: str) -> bool:
    return bool(git(repo, *_LITERAL, "ls-files", "-z", "--", path).strip("\0"))


def resolve_commits(repo: StrPath, names: list[str]) -> dict[str, str]:
    """The commits the names stand for, in one git call; missing or ambiguous names left out."""
    if not names:
        return {}
    out = git(repo, "cat-file", "--batch-check=%(objectname) %(objecttype)", stdin="\n".join(names))
    resolved = {}
    for name, line in zip(names, out.splitlines(), strict=False):
        sha, _, kind = line.partition(" ")
        if kind == "commit":
            resolved[name] = sha
    return resolved
