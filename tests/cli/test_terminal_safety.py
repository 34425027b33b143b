"""What an agent writes (a description, a run's output, a forged ledger row) never acts on
the terminal that shows it, and never becomes HTML in a Markdown report."""

from __future__ import annotations

from pathlib import Path

from support import Cli, write_train

# Clear the screen, move the cursor up over earlier rows, set the clipboard (OSC 52), and
# reverse the text's direction.
ATTACK = "\x1b[2J\x1b[1A\x1b]52;c;aGFja2Vk\x07\u202eworse\x9b31m <script>alert(1)</script>"


def assert_harmless(text: str) -> None:
    for acting in ("\x1b", "\x07", "\x9b", "\u202e"):
        assert acting not in text


def test_a_description_never_reaches_the_terminal_as_control_characters(
    repo: Path, cli: Cli
) -> None:
    assert cli.init().returncode == 0
    write_train(repo, 0.8)
    tried = cli("try", "-m", ATTACK)
    assert tried.returncode == 0, tried.stderr
    assert_harmless(tried.stdout + tried.stderr)
    assert "\\x1b[2J" in (repo / "results.tsv").read_text()  # kept, shown as its escape
    shown = cli("status")
    assert_harmless(shown.stdout)
    assert "\\x1b]52" in shown.stdout
    markdown = cli("report", "--format", "md")
    assert_harmless(markdown.stdout)
    assert "<script>" not in markdown.stdout and "&lt;script&gt;" in markdown.stdout


def test_a_forged_ledger_row_and_a_run_log_tail_are_shown_escaped(repo: Path, cli: Cli) -> None:
    assert cli.init().returncode == 0
    genuine = (repo / "results.tsv").read_text()
    with open(repo / "results.tsv", "a") as ledger:
        columns = (repo / "results.tsv").read_text().splitlines()[0].split("\t")
        cells = {"commit": "abcdef1", "val_bpb": "0.5", "status": "discard", "description": ATTACK}
        ledger.write("\t".join(cells.get(name, "") for name in columns) + "\n")
    assert_harmless(cli("status").stdout)
    (repo / "results.tsv").write_text(genuine)  # the record refuses a try over a forged row
    write_train(repo, 0.8, EXIT=3)
    (repo / "train.py").write_text(
        (repo / "train.py").read_text().replace('print("training...")', f"print({ATTACK!r})")
    )
    crashed = cli("try", "-m", "crash with a loud log")
    assert "crash" in crashed.stdout
    assert_harmless(crashed.stdout + crashed.stderr)
