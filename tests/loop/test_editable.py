"""`doctor` and `loop` refuse, before anything starts, an agent that may edit none of its files."""

from __future__ import annotations

from pathlib import Path

from support import Cli, git, repo_state, session_flags

KNOB = '[[knob]]\nfile = "{file}"\nname = "LR"\nlow = 0.001\nhigh = 1.0\nlog = true\n'


def declare_knob(repo: Path, file: str) -> None:
    """The tuner's knob LR in ``file``, declared in the settings file, all committed."""
    (repo / file).write_text("LR = 0.1\n")
    (repo / "autoresearch.toml").write_text(KNOB.format(file=file))
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "a knob")


def scoped(*globs: str) -> list[str]:
    """The test project's session flags with these scope globs instead of train.py."""
    flags = session_flags()
    at = flags.index("--scope")
    return flags[:at] + flags[at + 2 :] + [word for glob in globs for word in ("--scope", glob)]


def scope_line(output: str) -> str:
    return next(row for row in output.splitlines() if row[6:].startswith("scope "))


def test_a_knob_file_outside_scope_fails_doctor_and_loop_starts_nothing(
    repo: Path, cli: Cli
) -> None:
    declare_knob(repo, "knobs.py")
    doctor = cli("doctor", *session_flags(), "--agent", "tune", "--no-run")
    assert doctor.returncode == 1, doctor.stdout
    assert scope_line(doctor.stdout).startswith("FAIL ")
    assert "knobs.py (outside scope)" in scope_line(doctor.stdout)
    assert "ready for the night" not in doctor.stdout
    before = repo_state(repo)
    loop = cli("loop", *session_flags(), "--agent", "tune", "--max-experiments", "2")
    assert loop.returncode == 2
    assert loop.stderr.count("\n") == 1 and "knobs.py (outside scope)" in loop.stderr
    assert repo_state(repo) == before  # no branch, no baseline, no state folder


def test_a_protected_knob_file_is_named_as_protected(repo: Path, cli: Cli) -> None:
    declare_knob(repo, "knobs.py")
    flags = [*scoped("knobs.py"), "--protect", "knobs.py"]
    doctor = cli("doctor", *flags, "--agent", "tune", "--no-run")
    assert doctor.returncode == 1
    assert "knobs.py (protected)" in scope_line(doctor.stdout)
    loop = cli("loop", *flags, "--agent", "tune")
    assert loop.returncode == 2 and "knobs.py (protected)" in loop.stderr
    assert not (repo / ".autoresearch").exists()


def test_the_tuner_with_its_knob_file_in_scope_is_ready(repo: Path, cli: Cli) -> None:
    declare_knob(repo, "knobs.py")
    doctor = cli("doctor", *scoped("knobs.py"), "--agent", "tune", "--no-run")
    assert (
        scope_line(doctor.stdout) == "ok    scope     the tuner's knob files are in scope: knobs.py"
    )


def test_another_agent_needs_one_file_it_may_edit_or_create(repo: Path, cli: Cli) -> None:
    agent = ["--agent", "command", "--agent-cmd", "true", "--no-run"]
    only_protected = scoped("prepare.py")
    doctor = cli("doctor", *only_protected, *agent)
    assert doctor.returncode == 1
    assert scope_line(doctor.stdout).startswith("FAIL  scope     the agent may edit no file")
    before = repo_state(repo)
    loop = cli("loop", *only_protected, "--agent", "command", "--agent-cmd", "true")
    assert loop.returncode == 2 and "the agent may edit no file" in loop.stderr
    assert repo_state(repo) == before
    # A glob no file matches yet is fine: the agent can create one.
    doctor = cli("doctor", *scoped("models/*.py"), *agent)
    assert scope_line(doctor.stdout).startswith("ok    scope     the agent may edit models/new.py")


def test_a_session_whose_scope_leaves_the_tuner_nothing_is_not_looped(repo: Path, cli: Cli) -> None:
    assert cli.init().returncode == 0  # scope train.py
    ledger = (repo / "results.tsv").read_text()
    # Untracked, outside the session's scope: the knob's file and the settings declaring it.
    (repo / "knobs.py").write_text("LR = 0.1\n")
    (repo / "autoresearch.toml").write_text(KNOB.format(file="knobs.py"))
    loop = cli("loop", "--agent", "tune", "--max-experiments", "1")
    assert loop.returncode == 2 and "knobs.py (outside scope)" in loop.stderr
    assert (repo / "results.tsv").read_text() == ledger


def test_a_refused_loop_on_a_session_of_another_branch_leaves_the_branch_checked_out(
    repo: Path, cli: Cli
) -> None:
    assert cli.init().returncode == 0  # session t, scope train.py, on autoresearch/t
    git(repo, "checkout", "-q", "main")
    (repo / "knobs.py").write_text("LR = 0.1\n")
    (repo / "autoresearch.toml").write_text(KNOB.format(file="knobs.py"))
    loop = cli("loop", "--tag", "t", "--agent", "tune", "--max-experiments", "1")
    assert loop.returncode == 2 and "knobs.py (outside scope)" in loop.stderr
    assert git(repo, "branch", "--show-current") == "main"
