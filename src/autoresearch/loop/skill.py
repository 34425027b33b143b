"""The instructions a coding agent needs to run the loop with this tool, and their installation.

The command reference is generated from the real command-line parser, so the instructions name
only commands and flags that exist. The workflow around it is fixed text; a test checks that
every command it names is in the parser too.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from autoresearch.errors import UserError

TARGETS = ("claude", "codex", "agents-md")
CLAUDE_SKILL = Path(".claude/skills/autoresearch/SKILL.md")
AGENTS_FILE = Path("AGENTS.md")
START_MARKER = "<!-- autoresearch:start -->"
END_MARKER = "<!-- autoresearch:end -->"
# The commands of the loop itself get their full flags; the others are listed for the human.
LOOP_COMMANDS = ("init", "try", "status", "reset", "rewind", "retry")

SKILL_NAME = "autoresearch"
SKILL_DESCRIPTION = (
    "Runs an autonomous experiment loop against one metric (val_loss, accuracy, latency, "
    "throughput) with the tool autoresearch. Agrees on the run command, metric, budget and "
    "scope with the human, starts a session, then edits code and calls `autoresearch try` "
    "again and again, reading one-line verdicts. Use when asked to improve a metric through "
    "many experiments, to run experiments overnight, or to use autoresearch."
)

WORKFLOW = """\
# Run an experiment loop with autoresearch

You improve one number, the metric, by trying one idea at a time, for as long as the human lets
you. The `autoresearch` tool keeps the books: it commits your change, runs the experiment with a
time limit, reads the metric, decides keep, discard or crash by a fixed rule, writes the ledger
and resets the code. You only edit code and call it. It is built for many quick autonomous
iterations, not for one carefully planned experiment.

## 1. Agree on the parameters with the human

Before anything runs, settle these with the human (they may also live in `autoresearch.toml`):

- the run command: one whole experiment, such as `python train.py`. It must print the metric
  as `NAME: <number>` on a line of its own, or you agree on a `--pattern` regex;
- the metric NAME and its direction: minimize or maximize;
- the budget: the seconds one run is meant to take (a run is killed at twice that);
- the scope: the files you may change;
- the protected files: what no experiment may change (the evaluation, the data);
- optionally, secondary metrics to record (`--also`) and guardrails (`--constraint`).

Then start the session from a clean working tree. It creates the branch `autoresearch/TAG`,
runs the baseline and prints its verdict:

    autoresearch init --tag TAG --run "python train.py" --metric val_loss \\
        --direction minimize --budget 300 --scope train.py --protect prepare.py

## 2. The loop: repeat until you are interrupted

1. `autoresearch status` shows the best result, the keep ref and the last ten experiments. Read
   it at the start and whenever you lose track; it is short.
2. Pick one idea and change the code in scope, nothing else. Simpler is better: an equal result
   with less code is kept.
3. `autoresearch try -m "what this tries, in a few words"`. Do not commit: the tool does.
4. Read the verdict line:
   - `keep`: the change is the new best; build on it.
   - `discard`: the code is back at the best version; try another idea.
   - `crash`: the crashed change stays checked out and the end of its log is printed. Fix it
     and call `autoresearch try -m "fix: ..."` again, or abandon it with `autoresearch reset`.
   - a refusal (exit status 2) changed nothing; its one line says why, for example a change
     outside the scope, which you undo.
5. Go back to 1. Never stop to ask whether to continue, and do not stop when ideas run thin:
   think harder, combine near misses, try something bolder. The human may be asleep; only an
   interruption ends the loop.

## Rules

- Never run the experiment yourself: `autoresearch try` runs it with its time limit and reads
  the metric.
- Keep run output out of your context. It is in `run.log` (archived under
  `.autoresearch/TAG/logs/`); when you need it, read only its end: `tail -n 50 run.log`.
- Never use git on the session branch (commit, reset, checkout, stash) and never edit the
  ledger `results.tsv`, the `.autoresearch/` folder or a protected file: the tool keeps the
  books, and it refuses to measure a change outside the scope.
- One idea per experiment, named in the `-m` message, so the ledger reads as a history.
- If the evaluation or another protected file is wrong, do not work around it: tell the human.
  It is fixed between sessions (`autoresearch end`, the fix committed on top of the keep ref,
  `autoresearch init --continue TAG`), and the numbers before and after are not comparable.
- When a line of ideas has led nowhere, `autoresearch rewind REF` moves the keep ref back to an
  earlier kept commit, and later experiments compare against it.
- To measure an earlier idea again (a discard that noise may have hidden, a near miss worth
  a second look on the new best), `autoresearch retry N` puts experiment N's change back in
  the tree, uncommitted, on top of the keep ref; then `autoresearch try -m "again: ..."`
  measures it as a new experiment. N is the experiment's number in `status`; never apply an
  old change with git yourself.
"""


def subcommands(parser: argparse.ArgumentParser) -> dict[str, tuple[str, argparse.ArgumentParser]]:
    """Each command's name, one-line help and parser, in the order the parser lists them."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
            return {name: (helps.get(name, ""), sub) for name, sub in action.choices.items()}
    raise ValueError("the parser has no commands")


def _help_text(action: argparse.Action, prog: str) -> str:
    # The same expansion argparse applies: %(default)s and friends, and %% for a percent sign.
    return (action.help or "") % {**vars(action), "prog": prog}


def _value_name(action: argparse.Action) -> str:
    metavar = action.metavar if isinstance(action.metavar, str) else None
    return metavar or action.dest.upper()


def _invocation(action: argparse.Action) -> str:
    flags = ", ".join(action.option_strings)
    return flags if action.nargs == 0 else f"{flags} {_value_name(action)}"


def _visible(sub: argparse.ArgumentParser) -> list[argparse.Action]:
    return [
        action
        for action in sub._actions
        if action.help != argparse.SUPPRESS and not isinstance(action, argparse._HelpAction)
    ]


def command_usage(name: str, sub: argparse.ArgumentParser) -> str:
    """``autoresearch NAME`` with its positional arguments and required options."""
    words = ["autoresearch", name]
    for action in _visible(sub):
        if not action.option_strings:
            value = _value_name(action)
            words.append(f"[{value}]" if action.nargs == "?" else value)
        elif action.required:
            words.append(f"{action.option_strings[0]} {_value_name(action)}")
    return " ".join(words)


def command_reference(parser: argparse.ArgumentParser) -> str:
    commands = subcommands(parser)
    lines = [
        "## Command reference",
        "",
        "Every command accepts `-C DIR` (run as if started in DIR). A refusal prints one line "
        "and exits with status 2, having changed nothing.",
    ]
    for name in LOOP_COMMANDS:
        summary, sub = commands[name]
        lines += ["", f"### `{command_usage(name, sub)}`", "", summary[:1].upper() + summary[1:]]
        options = [a for a in _visible(sub) if a.option_strings]
        if options:
            lines.append("")
            lines += [f"- `{_invocation(a)}`: {_help_text(a, sub.prog)}" for a in options]
    lines += ["", "## Commands for the human", "", "Not part of the loop:", ""]
    lines += [
        f"- `{command_usage(name, sub)}`: {summary}"
        for name, (summary, sub) in commands.items()
        if name not in LOOP_COMMANDS
    ]
    return "\n".join(lines) + "\n"


def skill_text(parser: argparse.ArgumentParser) -> str:
    """The workflow, and the reference of the command line ``parser`` describes."""
    return WORKFLOW + "\n" + command_reference(parser)


def claude_skill(text: str) -> str:
    # A JSON string is also a valid YAML double-quoted scalar: no quoting rules to get wrong.
    front = f"---\nname: {SKILL_NAME}\ndescription: {json.dumps(SKILL_DESCRIPTION)}\n---\n\n"
    return front + text


def demote_headings(text: str) -> str:
    """One level deeper, so the section sits under the headings of the file it joins."""
    return "\n".join("#" + line if line.startswith("#") else line for line in text.split("\n"))


def merge_section(existing: str, text: str, path: Path) -> str:
    """The file with the section between the markers replaced, or appended; nothing else moves."""
    section = f"{START_MARKER}\n{demote_headings(text).rstrip()}\n{END_MARKER}"
    start, end = existing.find(START_MARKER), existing.find(END_MARKER)
    if start != -1 and end > start:
        return existing[:start] + section + existing[end + len(END_MARKER) :]
    if start != -1 or end != -1:
        raise UserError(
            f"{path}: the markers {START_MARKER} and {END_MARKER} are not a pair; fix them by hand"
        )
    if not existing.strip():
        return section + "\n"
    gap = "\n" if existing.endswith("\n") else "\n\n"
    return existing + gap + section + "\n"


def _read_keeping_line_ends(path: Path) -> str:
    if not path.exists():
        return ""
    with open(path, encoding="utf-8", newline="") as handle:
        return handle.read()


def install(target: str, root: Path, text: str) -> tuple[Path, str]:
    """Write the instructions for ``target`` under ``root``; returns the path and what was done."""
    from autoresearch.store.files import write_text

    if target == "claude":
        path = root / CLAUDE_SKILL
        done = "updated" if path.exists() else "written"
        write_text(path, claude_skill(text))
        return path, done
    if target not in TARGETS:
        raise UserError(f"unknown install target {target!r}: use {', '.join(TARGETS)}")
    path = root / AGENTS_FILE
    try:
        existing = _read_keeping_line_ends(path)
    except UnicodeDecodeError:
        raise UserError(f"{path} is not UTF-8 text; add the section by hand") from None
    merged = merge_section(existing, text, path)
    if not existing:
        done = "written"
    elif START_MARKER in existing:
        done = "section replaced"
    else:
        done = "section appended"
    write_text(path, merged)
    return path, done
