"""The SEARCH/REPLACE edit format: what a model is asked to answer, and applying its answer.

An answer is one line describing the idea, then blocks naming a file and quoting the exact
lines to replace. Models wrap blocks in Markdown fences, add prose and sometimes think aloud
first; all of that is tolerated. What is not tolerated is an edit that cannot be applied
exactly: every block is checked against the files before any file is written, so an answer
is applied whole or not at all.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import NamedTuple

from autoresearch.loop.agents.base import AgentError, asked_retry
from autoresearch.rules.scope import matches
from autoresearch.store import git

# Aider accepts five to nine marker characters; models trained on its prompts use them all.
_SEARCH = re.compile(r"^\s*<{5,9} ?SEARCH>?\s*$")
_DIVIDER = re.compile(r"^\s*={5,9}\s*$")
_REPLACE = re.compile(r"^\s*>{5,9} ?REPLACE\s*$")
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})[\w+.-]*\s*$")
_THINKING = re.compile(r"^\s*<think>.*?</think>", re.DOTALL)
# Markdown a model puts around its first line: headings, bold, quotes, a list dash, a label.
_DECORATION = re.compile(r"^(?:[#>*`]|-(?=\s)|\s)+")
_LABEL = re.compile(r"^(?:description|idea|summary)\s*:[*`\s]*", re.IGNORECASE)

FILES_CHAR_LIMIT = 60_000
# Below this, a truncated file shows too little to quote from; leaving it out is clearer.
_SMALLEST_USEFUL_EXCERPT = 2_000

ANSWER_FORMAT = """\
Answer in exactly this shape and nothing else:

1. The first line: one short sentence describing the single idea you are trying. It is
   recorded as the experiment's description.
2. Then one or more edit blocks, each naming a file relative to the repository root:

path/to/file.py
<<<<<<< SEARCH
the exact lines to replace, copied character for character from the file above
=======
the lines to put in their place
>>>>>>> REPLACE

Rules:
- The SEARCH part must match the current file exactly, including indentation, and match only
  one place; quote enough surrounding lines to make it unique, but no more than needed.
- Use several small blocks rather than one block repeating a whole file.
- To create a new file, leave the SEARCH part empty.
- To delete lines, leave the REPLACE part empty.
- Try one idea per answer, so its effect can be measured on its own.
"""


def files_section(
    workdir: Path,
    scope_files: Sequence[str],
    protected: Sequence[str] = (),
    max_chars: int = FILES_CHAR_LIMIT,
) -> str:
    """The prompt part showing the files in scope as they are now, then the answer format.

    File contents are bounded by ``max_chars`` in total; what was cut or left out is said, so
    the model does not quote lines it never saw.
    """
    parts = ["## Files you may edit", ""]
    budget = max_chars
    not_in_full: list[str] = []
    paths = _scope_paths(workdir, scope_files, protected)
    if not paths:
        parts += ["(no files are in scope)", ""]
    for path in paths:
        target = workdir / path
        if not target.exists():
            parts += [f"{path} (does not exist yet; an empty SEARCH creates it)", ""]
            continue
        try:
            text = target.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            parts += [f"{path} (not shown: not UTF-8 text)", ""]
            continue
        shown, note = _excerpt(text, budget)
        if shown is None:
            parts += [f"{path} (not shown: the prompt's size limit was reached)", ""]
            not_in_full.append(f"{path} (left out)")
            continue
        budget -= len(shown)
        fence = "`" * max(3, _longest_backtick_run(shown) + 1)
        parts += [path, fence + "text", shown.rstrip("\n"), fence]
        if note:
            parts.append(note)
            not_in_full.append(f"{path} (truncated)")
        parts.append("")
    if not_in_full:
        parts += ["Not shown in full, to keep this prompt short: " + ", ".join(not_in_full), ""]
    if protected:
        parts += ["Never edit: " + ", ".join(protected), ""]
    return "\n".join(parts) + "\n## How to answer\n\n" + ANSWER_FORMAT


def _scope_paths(workdir: Path, scope_files: Sequence[str], protected: Sequence[str]) -> list[str]:
    """Scope entries as file paths: globs and folders matched against the tracked files the way
    the engine matches them, plain names kept even when the file does not exist yet."""
    tracked: list[str] | None = None
    found: list[str] = []
    for entry in scope_files:
        is_pattern = any(character in entry for character in "*?[")
        if not is_pattern and not (workdir / entry).is_dir():
            paths = [entry]
        else:
            if tracked is None:
                try:
                    tracked = git.tracked_files(workdir)
                except git.GitError:
                    tracked = []
            paths = [path for path in tracked if matches(path, [entry])]
        found += [path for path in paths if path not in found and not matches(path, protected)]
    return found


def _excerpt(text: str, budget: int) -> tuple[str | None, str]:
    """The text as shown within ``budget`` characters, cut at a line end, and a note if cut."""
    if len(text) <= budget:
        return text, ""
    if budget < _SMALLEST_USEFUL_EXCERPT:
        return None, ""
    lines = text.splitlines(keepends=True)
    shown: list[str] = []
    used = 0
    for line in lines:
        if used + len(line) > budget:
            break
        shown.append(line)
        used += len(line)
    return "".join(shown), (
        f"(truncated: the first {len(shown)} of {len(lines)} lines are shown; "
        "quote SEARCH text only from these)"
    )


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


class EditBlock(NamedTuple):
    """One SEARCH/REPLACE block: lines without their line endings."""

    path: str
    search: tuple[str, ...]
    replace: tuple[str, ...]
    line: int


class ModelAnswer(NamedTuple):
    """A parsed answer: the description line and the blocks, in order."""

    description: str
    blocks: tuple[EditBlock, ...]


def parse_answer(answer: str) -> ModelAnswer:
    """Read a model's answer; raise AgentError saying what is wrong with it."""
    # Blank out a leading reasoning section but keep its newlines, so line numbers still match.
    answer = _THINKING.sub(lambda match: "\n" * match.group(0).count("\n"), answer, count=1)
    # Split on newlines only: str.splitlines would also break lines at form feeds and the like.
    lines = answer.replace("\r\n", "\n").split("\n")
    if not any(line.strip() for line in lines):
        raise AgentError("the model returned an empty answer")
    heads = [index for index, line in enumerate(lines) if _SEARCH.match(line)]
    if not heads:
        _refuse_stray_markers(lines, 0, len(lines))
        first = _first_text_line(lines, 0, len(lines))
        if first is not None and asked_retry(lines[first]) is not None:
            return ModelAnswer(lines[first].strip(), ())  # no edits: an earlier change again
        raise AgentError("no edit blocks in the answer (expected '<<<<<<< SEARCH' blocks)")
    first_path_line = _path_line_before(lines, heads[0], 0)
    description_end = first_path_line if first_path_line is not None else heads[0]
    description_line = _first_text_line(lines, 0, description_end)
    description = "" if description_line is None else _clean_description(lines[description_line])
    if not description or description_line is None:
        raise AgentError(
            "the answer must start with a description line, then a file path, before its "
            "first edit block"
        )

    blocks: list[EditBlock] = []
    region_start = description_line + 1
    index = 0
    while index < len(lines):
        if not _SEARCH.match(lines[index]):
            index += 1
            continue
        _refuse_stray_markers(lines, region_start, index)
        path = _block_path(lines, index, region_start, blocks)
        block, index = _read_block(lines, index, path)
        blocks.append(block)
        region_start = index
    _refuse_stray_markers(lines, region_start, len(lines))
    return ModelAnswer(description, tuple(blocks))


def apply_answer(answer: ModelAnswer, workdir: Path) -> list[str]:
    """Apply every block under ``workdir``, or none; return the paths written, in order."""
    root = workdir.resolve()
    edited: dict[str, _FileText] = {}
    for block in answer.blocks:
        target = _safe_target(root, block.path)
        # Keyed by the resolved path, so "./a.py" and "a.py" see each other's edits.
        key = target.relative_to(root).as_posix()
        current = edited[key] if key in edited else _read_text(target, block.path)
        edited[key] = _apply_block(current, block)
    for relative, text in edited.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(text.encoded())
    return list(edited)


class _FileText(NamedTuple):
    """A file's lines, and what is needed to write it back byte for byte."""

    lines: list[str]
    final_newline: bool
    newline: str

    def encoded(self) -> bytes:
        body = self.newline.join(self.lines)
        if self.lines and self.final_newline:
            body += self.newline
        return body.encode("utf-8")


def _first_text_line(lines: list[str], start: int, stop: int) -> int | None:
    for index in range(start, stop):
        if lines[index].strip() and not _FENCE.match(lines[index]):
            return index
    return None


def _path_line_before(lines: list[str], head: int, region_start: int) -> int | None:
    """The nearest line above a SEARCH marker that is not blank and not a fence."""
    for index in range(head - 1, region_start - 1, -1):
        if lines[index].strip() and not _FENCE.match(lines[index]):
            return index
    return None


def _block_path(lines: list[str], head: int, region_start: int, blocks: list[EditBlock]) -> str:
    index = _path_line_before(lines, head, region_start)
    if index is None:
        if blocks:  # a block right after another one edits the same file
            return blocks[-1].path
        raise AgentError(f"malformed edit block near line {head + 1}: no file path before SEARCH")
    path = lines[index].strip().strip("`*#:").strip()
    if not path or any(character.isspace() for character in path):
        raise AgentError(
            f"malformed edit block near line {head + 1}: expected a file path on the line "
            f"before SEARCH, found {lines[index].strip()[:80]!r}"
        )
    return path


def _read_block(lines: list[str], head: int, path: str) -> tuple[EditBlock, int]:
    """Read from a SEARCH marker to its REPLACE marker; return the block and the next line."""
    parts: list[list[str]] = [[]]
    for index in range(head + 1, len(lines)):
        line = lines[index]
        if _SEARCH.match(line):
            break
        if _DIVIDER.match(line) and len(parts) == 1:
            parts.append([])
        elif _REPLACE.match(line):
            if len(parts) == 1:
                raise AgentError(
                    f"malformed edit block near line {head + 1}: REPLACE marker before '======='"
                )
            block = EditBlock(path, _trimmed(parts[0]), tuple(parts[1]), head + 1)
            return block, index + 1
        else:
            parts[-1].append(line)
    missing = "'======='" if len(parts) == 1 else "'>>>>>>> REPLACE'"
    raise AgentError(f"malformed edit block near line {head + 1}: missing {missing}")


def _trimmed(search: list[str]) -> tuple[str, ...]:
    # A SEARCH part of only blank lines means "new file", as an empty one does.
    return tuple(search) if any(line.strip() for line in search) else ()


def _refuse_stray_markers(lines: list[str], start: int, stop: int) -> None:
    for index in range(start, stop):
        if _REPLACE.match(lines[index]):
            raise AgentError(
                f"malformed edit block near line {index + 1}: REPLACE marker without a SEARCH"
            )


def _clean_description(line: str) -> str:
    text = _LABEL.sub("", _DECORATION.sub("", line.strip()))
    return " ".join(text.rstrip("*` ").split())


def _safe_target(root: Path, path: str) -> Path:
    if PurePosixPath(path).is_absolute() or PureWindowsPath(path).is_absolute():
        raise AgentError(f"path escapes the working tree: {path} (paths must be relative)")
    target = (root / path).resolve()
    if target != root and root not in target.parents:
        raise AgentError(f"path escapes the working tree: {path}")
    if ".git" in target.relative_to(root).parts:
        raise AgentError(f"refusing to edit git's own files: {path}")
    if target.is_dir():
        raise AgentError(f"cannot edit {path}: it is a directory")
    return target


def _read_text(target: Path, path: str) -> _FileText | None:
    if not target.exists():
        return None
    try:
        text = target.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise AgentError(f"cannot edit {path}: it is not UTF-8 text") from None
    # Convert back to CRLF on write only when every line used it, so mixed files stay as they are.
    newline = "\r\n" if "\n" in text and text.count("\r\n") == text.count("\n") else "\n"
    body = text.replace("\r\n", "\n") if newline == "\r\n" else text
    final_newline = body.endswith("\n")
    lines = body.split("\n")
    if final_newline or not body:
        lines.pop()
    return _FileText(lines, final_newline, newline)


def _apply_block(current: _FileText | None, block: EditBlock) -> _FileText:
    if not block.search:
        if current is not None and current.lines:
            raise AgentError(
                f"an empty SEARCH creates a new file, but {block.path} already exists; "
                "quote the lines to change instead"
            )
        return _FileText(list(block.replace), True, current.newline if current else "\n")
    if current is None:
        raise AgentError(f"cannot edit {block.path}: no such file (an empty SEARCH creates one)")
    places = _find(current.lines, block.search)
    if not places:
        first = next(line for line in block.search if line.strip()).strip()
        raise AgentError(f"SEARCH text not found in {block.path} (first line: {first[:80]!r})")
    if len(places) > 1:
        raise AgentError(
            f"SEARCH text matches {len(places)} places in {block.path}; quote more lines"
        )
    start = places[0]
    lines = current.lines[:start] + list(block.replace) + current.lines[start + len(block.search) :]
    return _FileText(lines, current.final_newline, current.newline)


def _find(lines: list[str], search: tuple[str, ...]) -> list[int]:
    """Start lines of ``search``: exact matches, else matches ignoring trailing whitespace."""
    span = len(search)
    starts = range(len(lines) - span + 1)
    exact = [start for start in starts if tuple(lines[start : start + span]) == search]
    if exact:
        return exact
    wanted = [line.rstrip() for line in search]
    return [
        start
        for start in starts
        if [line.rstrip() for line in lines[start : start + span]] == wanted
    ]
