"""Runs on a Ray cluster (``pip install "autoresearch[ray]"``): each run is a Ray task asking
for its GPUs. The code travels as the commit (``git archive`` of it), never as the local working
tree; on the worker the runner runs it as it does here, so at the limit the run's whole process
tree dies. A watchdog beside each run kills its tree when the Ray worker holding it dies (the
task was cancelled, the tool was killed), which a task cancel alone would leak.

``--link`` paths are linked to the same absolute path on the worker: they must exist on every
node. A node lost mid-run makes the run ``lost`` (a crash "worker lost"), never a hang.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from typing import Any, NamedTuple

from autoresearch.errors import UserError
from autoresearch.store import git
from autoresearch.store.executors.base import UNWATCHED, Ran, RunRequest, Watch
from autoresearch.store.sandbox import Policy

_POLL_SECONDS = 0.5
_RUN_LOG = ".autoresearch-run.log"
_SAID_LENGTH = 200  # of Ray's own words in a crash's reason
# The worker's own environment stays, scrubbed as a run's always is (Ray sets
# CUDA_VISIBLE_DEVICES there); the run gets the session's variables on top of it, not the
# environment of the machine the tool runs on.
_SENT_PREFIXES = ("AUTORESEARCH_",)

# Started through a parent that exits at once, so that it is no child of the Ray worker: Ray
# kills a dying worker's children, which would take the watchdog with it (and only it, since
# the run is a grandchild).
_DETACH = "import subprocess, sys; subprocess.Popen(sys.argv[1:], start_new_session=True)"
_WATCHDOG = """
import os, sys, time
from autoresearch.store import runner
holder, group, run_id = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
def holder_alive():
    # A worker killed outright stays a zombie until Ray reaps it: that is gone too.
    try:
        os.kill(holder, 0)
        stat = open(f"/proc/{holder}/stat").read()
    except ProcessLookupError:
        return False
    except OSError:  # no /proc here: a zombie cannot be told apart
        return True
    return stat[stat.rfind(")") + 2] not in "ZX"
while True:
    if not holder_alive():
        break
    if not runner.run_alive(group, run_id):
        sys.exit(0)
    time.sleep(0.5)
runner.kill_run(group, run_id)
"""


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise UserError('--executor ray needs Ray: pip install "autoresearch[ray]"') from None
    return ray


def _check_reachable(address: str) -> None:
    """An unreachable address is refused at once, not after Ray's long retries."""
    if address in ("auto", "local"):
        return
    target = address.removeprefix("ray://")
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        raise UserError(f"--ray-address {address}: expected HOST:PORT (or ray://HOST:PORT)")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as error:
        raise UserError(f"cannot reach the Ray cluster at {address}: {error}") from None


def check(address: str | None) -> None:
    """Refuse at once, before anything starts, when Ray is missing or the address unreachable."""
    _import_ray()
    if address:
        _check_reachable(address)


def connect(
    repo: str, address: str | None, workers: int, gpus_per_run: int, links: tuple[str, ...]
) -> list[RayExecutor]:
    """One executor per worker slot, on the cluster at ``address`` (None: a local runtime)."""
    ray = _import_ray()
    if address:
        _check_reachable(address)
    if not ray.is_initialized():
        try:
            ray.init(
                address=address or None,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
            )
        except (ConnectionError, RuntimeError, ValueError) as error:
            first = (str(error).strip().splitlines() or [type(error).__name__])[0]
            where = address or "a local runtime"
            raise UserError(f"cannot start or reach Ray at {where}: {first}") from None
    cluster = RayCluster(ray, ray.remote(max_retries=0)(_run_on_worker), {})
    return [RayExecutor(repo, cluster, gpus_per_run, links, index) for index in range(workers)]


class RayCluster(NamedTuple):
    """What every worker slot of a session shares: the connected Ray module, the remote task
    that runs one experiment, and the commit's archive once it is in Ray's object store."""

    ray: Any
    task: Any
    archives: dict[str, Any]  # commit -> its archive in the object store


class RayExecutor:
    name = "ray"

    def __init__(
        self,
        repo: str,
        cluster: RayCluster,
        gpus_per_run: int,
        links: tuple[str, ...],
        index: int,
    ) -> None:
        self.repo = repo
        self.ray = cluster.ray
        self.task = cluster.task
        self.archives = cluster.archives  # shared between the slots
        self.gpus_per_run = gpus_per_run
        self.links = tuple((link, os.path.join(repo, link)) for link in links)
        self.index = index

    @property
    def workdir(self) -> str:
        return ""  # on another machine: the commit is what was checked, not a checkout here

    def archive(self, commit: str) -> Any:
        if commit not in self.archives:
            tar = git.archive(self.repo, commit)
            self.archives.clear()  # one commit at a time per session is enough to share
            self.archives[commit] = self.ray.put(tar)
        return self.archives[commit]

    def run(self, request: RunRequest, watch: Watch = UNWATCHED) -> Ran:
        ray = self.ray
        sent = {k: v for k, v in request.env.items() if k.startswith(_SENT_PREFIXES)}
        started = time.monotonic()
        on_the_node = request._replace(
            env=sent,
            run_id=request.run_id or f"ray-{os.getpid()}-{time.time_ns()}",
            confine=_on_a_node(request.confine),
        )
        ref = self.task.options(num_gpus=self.gpus_per_run, num_cpus=0).remote(
            self.archive(request.commit), on_the_node, self.links
        )
        try:
            while not ray.wait([ref], timeout=_POLL_SECONDS)[0]:
                if watch.on_tick is not None:
                    watch.on_tick(time.monotonic() - started)
        except KeyboardInterrupt:
            ray.cancel(ref, force=True)  # the watchdog kills what the run started
            return Ran(None, time.monotonic() - started, interrupted=True)
        try:
            code, seconds, timed_out, late, log, failure = ray.get(ref)
        except ray.exceptions.RayTaskError as error:
            said = _first_line(getattr(error, "cause", None) or error)
            _tell_the_log(request.log_path, f"the Ray task failed: {error}")
            return Ran(1, time.monotonic() - started, failure=f"the Ray task failed: {said}")
        except ray.exceptions.RayError as error:
            # The node, its worker or the task's objects went away: Ray says which.
            said = _first_line(error)
            _tell_the_log(request.log_path, f"the Ray worker running this was lost: {said}")
            return Ran(None, time.monotonic() - started, lost=True, failure=said)
        with open(request.log_path, "wb") as handle:
            handle.write(log)
        return Ran(code, seconds, timed_out, late=late, failure=failure)

    def close(self) -> None:
        self.archives.clear()


def _first_line(error: BaseException) -> str:
    """An error in a few words: its kind and its message's first line."""
    lines = str(error).strip().splitlines()
    said = f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
    return said if len(said) <= _SAID_LENGTH else said[: _SAID_LENGTH - 3] + "..."


def _tell_the_log(path: str, text: str) -> None:
    """What went wrong with the run's place, at the end of its log (the archived one too)."""
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(f"\n{text}\n")


def _run_on_worker(
    archive: bytes, request: RunRequest, links: tuple[tuple[str, str], ...]
) -> tuple[int | None, float, bool, bool, bytes, str]:
    """On the Ray worker: unpack the commit, run ``request`` with the runner (its ``env``: what
    the session sends; in the sandbox, when the session has one: a node without a working one
    crashes the run, saying why), return how it went (and why the node could not run it)."""
    command, sent, kill_after = request.command, dict(request.env), request.kill_after
    run_id, confine = request.run_id or "", request.confine
    import io
    import sys
    import tarfile
    import tempfile

    from autoresearch.rules.environment import passed_names, run_environment
    from autoresearch.store import runner, sandbox

    with tempfile.TemporaryDirectory(prefix="autoresearch-run-") as place:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(place)  # our own archive of one commit
        for relative, absolute in links:  # the same path on every node
            target = os.path.join(place, relative)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            os.symlink(absolute, target)
        log = os.path.join(place, _RUN_LOG)

        def guard(group: int) -> None:
            # It leaves by itself once the run is over.
            watchdog = [sys.executable, "-c", _WATCHDOG, str(os.getpid()), str(group), run_id]
            subprocess.run([sys.executable, "-c", _DETACH, *watchdog], check=False)

        unavailable = sandbox.unavailable() if confine is not None else None
        if unavailable:
            said = f"the sandbox does not work on Ray node {socket.gethostname()}: {unavailable}"
            return 1, 0.0, False, False, f"{said}\n".encode(), said
        # The worker's environment is scrubbed as the tool's is here; the names the user
        # passed came with the request, their values are the worker's own.
        env = {**run_environment(os.environ, passed_names(sent)), **sent}
        spec = runner.Command(command, place, log, env, kill_after, run_id, confine=confine)
        result = runner.run_command(spec, guard)
        with open(log, "rb") as handle:
            output = handle.read()
    return result.exit_code, result.seconds, result.timed_out, result.late, output, ""


def _on_a_node(confine: Policy | None) -> Policy | None:
    """The sandbox as a node can make it: the project is not there, only the commit's files."""
    return None if confine is None else confine._replace(project="", hidden=())
