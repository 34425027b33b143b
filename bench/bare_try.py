"""The git calls, run and flushes of one discarded `try`, from the barest Python script.

What any Python tool that keeps its experiments in git this way would pay: the same git commands,
side by side where `try` runs them so, the same run, the same two fsynced appends, and nothing
else (no argument parsing, settings, lock, ledger reading, verdict or output). `overhead.py` runs
it next to `autoresearch try`; the difference is the tool's own bookkeeping and imports.

Usage, in a repository with the ref refs/bare/keep and an edited tracked file:
    python bench/bare_try.py RUN_COMMAND [ANYTHING...]
It prints the run's own seconds as JSON, as `autoresearch try --json` does; what follows the run
command is ignored, so that the benchmark can time it exactly as it times `try`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

KEEP = "refs/bare/keep"
PIPE = subprocess.PIPE
COMMIT_CONFIG = ("-c", "commit.gpgsign=false", "-c", "core.hooksPath=/dev/null")
COMMIT_CONFIG += ("-c", "maintenance.auto=false")


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(["git", *args], stdin=PIPE, stdout=PIPE, stderr=PIPE, text=True)


def git(*args: str, stdin: str | None = None) -> str:
    out, err = (process := start(*args)).communicate(stdin)
    if process.returncode:
        sys.exit(f"git {args[0]} failed: {err.strip()}")
    return out


def append_durably(path: str, line: str) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def main() -> None:
    top = git("rev-parse", "--show-toplevel", "--symbolic-full-name", "HEAD").split("\n")[0]
    os.chdir(top)
    status = start("status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames")
    keep = git("cat-file", "--batch-check", stdin=f"{KEEP}\nHEAD\n").split()[0]
    changed = [entry[3:] for entry in status.communicate()[0].split("\0") if len(entry) > 3]
    git(
        *COMMIT_CONFIG,
        "commit",
        "-q",
        "--no-verify",
        "-m",
        "bare try",
        "--only",
        "--pathspec-from-file=-",
        "--pathspec-file-nul",
        stdin="\0".join(changed),
    )
    pinning = start("update-ref", f"refs/bare/exp/{time.time_ns()}", "HEAD", "")
    counting = start("diff", "-U0", "--no-color", "--no-renames", "--no-ext-diff", keep, "HEAD")
    commit = git("rev-parse", "HEAD").strip()
    pinning.communicate()
    started = time.perf_counter()
    with open(".git/bare-run.log", "wb") as log:
        subprocess.run(sys.argv[1], shell=True, stdout=log, stderr=subprocess.STDOUT, check=True)
    seconds = time.perf_counter() - started
    counting.communicate()
    snapshot = start("stash", "create", "abandoned edits")
    append_durably(".git/bare-runs.jsonl", json.dumps({"commit": commit, "value": 1.0}))
    append_durably(".git/bare-results.tsv", f"{commit[:7]}\t1.0\tdiscard\tbare try")
    snapshot.communicate()
    git("reset", "-q", "--hard", keep)
    print(json.dumps({"seconds": seconds}))


if __name__ == "__main__":
    main()
