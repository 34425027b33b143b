"""A session's files under ``.autoresearch/<tag>/``: frozen settings, the lock, the experiment
in flight, archived run logs and prompts, and which session's ledger sits in ``results.tsv``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import stat
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, NamedTuple

from autoresearch.errors import UserError

if TYPE_CHECKING:
    from typing import Any

    from _typeshed import StrPath

STATE_DIR = ".autoresearch"
LEDGER_FILE = "results.tsv"
INFLIGHT_FILE = "inflight.json"  # in the session folder: the experiment under way
RUN_LOG = "run.log"
AUDIT_FILE = "audit.md"
EXCLUDED = [f"/{LEDGER_FILE}", f"/{RUN_LOG}", f"/{STATE_DIR}/"]
# The tool's own files, never part of an experiment whatever the scope says.
RESERVED = (LEDGER_FILE, RUN_LOG, f"{STATE_DIR}/*")


class SessionFiles(NamedTuple):
    """Where a session keeps each of its files: every path of a session is named here."""

    repo: str
    tag: str

    @property
    def root(self) -> str:
        return os.path.join(self.repo, STATE_DIR)

    @property
    def dir(self) -> str:
        return os.path.join(self.root, self.tag)

    @property
    def active(self) -> str:
        """Names the session whose ledger sits in ``results.tsv`` (one per repository)."""
        return os.path.join(self.root, "active")

    @property
    def ledger(self) -> str:
        return os.path.join(self.repo, LEDGER_FILE)

    @property
    def parked_ledger(self) -> str:
        """Where this session's ledger waits while another session is checked out."""
        return os.path.join(self.dir, LEDGER_FILE)

    @property
    def run_log(self) -> str:
        return os.path.join(self.repo, RUN_LOG)

    @property
    def session_json(self) -> str:
        return os.path.join(self.dir, "session.json")

    @property
    def lock(self) -> str:
        return os.path.join(self.dir, "lock")

    @property
    def inflight_json(self) -> str:
        """The experiment in flight, for the command that comes after a kill."""
        return os.path.join(self.dir, INFLIGHT_FILE)

    @property
    def runs_jsonl(self) -> str:
        return os.path.join(self.dir, "runs.jsonl")

    @property
    def protected_backup(self) -> str:
        return os.path.join(self.dir, "protected")

    @property
    def protected_intact(self) -> str:
        """When each large protected file was last hashed and found intact: a cache only."""
        return os.path.join(self.dir, "protected-intact.json")

    @property
    def logs(self) -> str:
        return os.path.join(self.dir, "logs")

    @property
    def prompts(self) -> str:
        return os.path.join(self.dir, "prompts")

    @property
    def last_prompt(self) -> str:
        return os.path.join(self.dir, "prompt.md")

    @property
    def description(self) -> str:
        """Where an agent writes the one-line description of its idea."""
        return os.path.join(self.dir, "description.txt")

    @property
    def audit_marker(self) -> str:
        """An audit in progress, for the command that comes after a kill."""
        return os.path.join(self.dir, "audit.json")

    @property
    def audit_logs(self) -> str:
        return os.path.join(self.dir, "audit")

    @property
    def audits(self) -> str:
        return os.path.join(self.dir, "audits")

    @property
    def untracked_seen(self) -> str:
        """When the last run in place ended, and the untracked files hidden from runs since."""
        return os.path.join(self.dir, "untracked.json")

    @property
    def stand_ins(self) -> str:
        """The empty files a run in place finds in place of the untracked ones hidden from it."""
        return os.path.join(self.dir, "stand-ins")

    @property
    def audit_markdown(self) -> str:
        return os.path.join(self.repo, AUDIT_FILE)

    @property
    def final_summary(self) -> str:
        return os.path.join(self.dir, "final-summary.md")

    @property
    def tracking_outbox(self) -> str:
        """Experiments waiting for the trackers (``--track``), append-only."""
        return os.path.join(self.dir, "tracking.jsonl")

    @property
    def tracking_lock(self) -> str:
        return os.path.join(self.dir, "tracking.lock")

    @property
    def tracking_log(self) -> str:
        """What the background senders `try` starts have to say."""
        return os.path.join(self.dir, "tracking.log")

    @property
    def sandbox_probe(self) -> str:
        """Whether the sandbox works on this machine, as last tried."""
        return os.path.join(self.dir, "sandbox.json")

    @property
    def inflight_dir(self) -> str:
        """A parallel loop's in-flight files, one per experiment it runs."""
        return os.path.join(self.dir, "inflight")

    def inflight_file(self, number: int) -> str:
        """The in-flight file of experiment ``number`` of a parallel loop."""
        return os.path.join(self.inflight_dir, f"{number}.json")

    @property
    def workers_json(self) -> str:
        """A parallel loop's workers, busy or idle, for `status`."""
        return os.path.join(self.dir, "workers.json")

    @property
    def worktrees(self) -> str:
        """The clean checkouts runs happen in, and the agent's own in a parallel loop."""
        return os.path.join(self.dir, "worktrees")

    @property
    def repaired(self) -> str:
        """Where `repair` keeps the files it replaced, one folder per repair."""
        return os.path.join(self.dir, "repaired")

    def imported_copy(self, name: str) -> str:
        """An imported ledger's copy (or the ledger it replaced), kept with the session."""
        return os.path.join(self.dir, f"imported-{name}")

    def archived_log(self, experiment: int, commit: str, suffix: str = "") -> str:
        return os.path.join(self.logs, f"{experiment:04d}-{commit[:7]}{suffix}.log")

    def exists(self) -> bool:
        return os.path.isfile(self.session_json)


def append_run(files: SessionFiles, record: dict[str, Any]) -> None:
    """One run's measurement, one JSON line, flushed: the raw data behind the noise estimate."""
    os.makedirs(files.dir, exist_ok=True)
    append_lines(files.runs_jsonl, [json.dumps(record)])


def append_lines(path: StrPath, lines: Iterable[str]) -> None:
    """Append lines in one write and flush them to disk. A last line left unfinished (a full
    disk, a power cut, a hand edit) is ended first: nothing new is glued to it and lost with it.
    """
    text = "".join(f"{line}\n" for line in lines)
    if not text:
        return
    with open(path, "a+b") as handle:  # every write goes to the end; reads go anywhere
        end = handle.seek(0, os.SEEK_END)
        if end:
            handle.seek(end - 1)
            if handle.read(1) != b"\n":
                text = "\n" + text
        handle.write(text.encode())
        handle.flush()
        os.fsync(handle.fileno())


def read_runs(files: SessionFiles) -> list[dict[str, Any]]:
    """Every recorded run; a line cut short by a kill is skipped.

    Every ``try`` reads them all, so the lines are decoded as one JSON array, which takes a
    quarter of the time line by line does; only a file with a bad line is read line by line.
    """
    try:
        with open(files.runs_jsonl, encoding="utf-8", errors="replace") as handle:
            lines = [line for line in handle.read().split("\n") if line.strip()]
    except FileNotFoundError:
        return []
    with contextlib.suppress(json.JSONDecodeError):
        runs = json.loads(f"[{','.join(lines)}]")
        if len(runs) == len(lines) and all(isinstance(run, dict) for run in runs):
            return runs
    return [run for run in map(_json_or_none, lines) if isinstance(run, dict)]


def _json_or_none(line: str) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError:
        return None


def write_json(path: StrPath, data: dict[str, Any], durable: bool = True) -> None:
    write_text(path, json.dumps(data, indent=2), durable)


def read_json(path: StrPath) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.loads(handle.read())
    except FileNotFoundError:
        return None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UserError(f"{path}: unreadable ({error}); move it away to continue") from None


@contextlib.contextmanager
def session_lock(files: SessionFiles) -> Iterator[None]:
    """One command at a time per session. The OS drops the lock when its holder dies."""
    os.makedirs(files.dir, exist_ok=True)
    handle = open(files.lock, "a+", encoding="utf-8")  # noqa: SIM115 - held for the whole block
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise UserError(
                f"another autoresearch command (pid {holder}) is running for session {files.tag}"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield
    finally:
        handle.close()


def lock_holder(files: SessionFiles) -> int | None:
    """The pid holding the session's lock, or None when no command is running."""
    if not os.path.exists(files.lock):
        return None
    with open(files.lock, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            text = handle.read().strip()
            return int(text) if text.isdigit() else -1
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None


def active_tag(repo: StrPath) -> str | None:
    try:
        with open(SessionFiles(str(repo), "").active, encoding="utf-8") as handle:
            return handle.read().strip() or None
    except FileNotFoundError:
        return None


def parking_place(files: SessionFiles) -> str | None:
    """Where ``results.tsv`` goes when this session becomes the active one (None: nowhere, it
    stays or there is none). Refuses, changing nothing, when it cannot be moved aside."""
    current = active_tag(files.repo)
    if current == files.tag or not os.path.exists(files.ledger):
        return None
    if current is None:
        raise UserError(
            f"{LEDGER_FILE} exists and belongs to no session; move it away "
            "(or adopt it with `autoresearch import`)"
        )
    parked = SessionFiles(files.repo, current).parked_ledger
    if os.path.exists(parked):
        raise UserError(f"cannot park {LEDGER_FILE}: {parked} already exists")
    return parked


def activate(files: SessionFiles) -> None:
    """Put this session's ledger in ``results.tsv``, parking the previously active one.

    Several sessions can live in one repository; ``results.tsv`` is always the active one's, and
    every other session's ledger waits in its own folder. Nothing is ever overwritten.
    """
    if active_tag(files.repo) == files.tag:
        return
    parked = parking_place(files)
    if parked is not None:
        os.makedirs(os.path.dirname(parked), exist_ok=True)
        os.replace(files.ledger, parked)
    if os.path.exists(files.parked_ledger):
        os.replace(files.parked_ledger, files.ledger)
    write_text(files.active, files.tag + "\n")


def first_run_log(repo: str, tag: str) -> str:
    """Where ``init``'s first run writes its log, outside the repository (a refused init
    creates nothing there): one empty file per repository and tag in the user's own folder of
    the temporary directory, replaced by the next init, so refusals do not pile logs up."""
    # Only init gets here: imported at the top, these two (with the random and weakref tempfile
    # brings) cost every command about 3 ms.
    import hashlib
    import tempfile

    folder = os.path.join(tempfile.gettempdir(), f"autoresearch-{os.getuid()}")
    os.makedirs(folder, mode=0o700, exist_ok=True)
    found = os.lstat(folder)
    if not stat.S_ISDIR(found.st_mode) or found.st_uid != os.getuid():
        folder = tempfile.mkdtemp(prefix="autoresearch-")  # another user's name in a shared /tmp
    repository = hashlib.sha256(os.path.realpath(repo).encode()).hexdigest()[:8]
    path = os.path.join(folder, f"init-{tag}-{repository}.log")
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600))
    return path


def write_text(path: StrPath, text: str, durable: bool = True) -> None:
    """Write atomically (temp file, rename) so a kill never leaves half a file.

    ``durable`` also fsyncs it, so that it survives the machine going down; without it the
    file still survives any kill of the tool.
    """
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    temporary = f"{os.fspath(path)}.tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(text)
        if durable:
            handle.flush()
            os.fsync(handle.fileno())
    os.replace(temporary, path)


def link_run_log(files: SessionFiles, archived: StrPath) -> None:
    """Make ``run.log`` show the archived log of the current run (one file, two names)."""
    temporary = f"{files.run_log}.tmp"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temporary)
    try:
        os.link(archived, temporary)
    except OSError:
        os.symlink(archived, temporary)
    os.replace(temporary, files.run_log)


def now() -> float:
    return time.time()
