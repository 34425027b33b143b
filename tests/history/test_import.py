"""import: an existing ledger, Karpathy's format, becomes a new session's history."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from support import Cli, git, ledger_lines, write_train

HEADER = "commit\tval_bpb\tmemory_gb\tstatus\tdescription\n"
ROWS = (
    "baseline\t0.997900\t44.0\tkeep\tbaseline\n"
    "bea057b\t0.986041\t43.9\tkeep\thalve batch\n"
    "187e419\t0.982603\t60.2\tdiscard\tadd 5% warmup\n"
    "e05a87d\t0.000000\t0.0\tcrash\tbatch 131K (assert fail)\n"
)


def karpathy_ledger(path: Path, last_keep: str) -> Path:
    """Karpathy's format; ``last_keep`` is the commit of the last kept row."""
    path.write_text(HEADER + ROWS + f"{last_keep}\t0.981773\t60.2\tkeep\tdepth 9\n")
    return path


def adopt(cli: Cli, path: str, *extra: str) -> str:
    result = cli(
        "import", path, "--tag", "k", "--run", f"{sys.executable} train.py",
        "--scope", "train.py", "--noise", "off", *extra,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_import_adopts_the_ledger_left_where_karpathys_loop_ran(repo: Path, cli: Cli) -> None:
    head = git(repo, "rev-parse", "HEAD")
    karpathy_ledger(repo / "results.tsv", head[:7])
    text = adopt(cli, "results.tsv")
    assert "val_bpb (minimize, guessed from the kept rows) · imported 5 rows" in text
    assert "columns not imported: memory_gb" in text
    assert "compared against val_bpb 0.981773" in text
    assert git(repo, "branch", "--show-current") == "autoresearch/k"
    assert git(repo, "rev-parse", "refs/autoresearch/k/keep") == head
    rows = ledger_lines(repo)
    assert rows[0][:2] == ["commit", "val_bpb"] and "memory_gb" not in rows[0]
    assert [row[0] for row in rows[1:3]] == ["baseline", "bea057b"]
    assert rows[4][1] == "0.000000" and rows[4][-2:] == ["crash", "batch 131K (assert fail)"]
    assert (repo / ".autoresearch/k/imported-results.tsv").read_text().startswith(HEADER)
    status = json.loads(cli("status", "--json").stdout)
    assert (status["experiments"], status["baseline"], status["best"]) == (5, 0.9979, 0.981773)
    write_train(repo, 0.95)
    tried = cli("try", "-m", "better than the imported best")
    assert tried.stdout.startswith("keep") and "(best was 0.981773, -3.24%)" in tried.stdout
    write_train(repo, 0.96)
    assert cli("try", "-m", "worse than the new best").stdout.startswith("discard")


def test_import_from_elsewhere_leaves_the_original_and_shows_the_history(
    repo: Path, cli: Cli, tmp_path: Path
) -> None:
    source = karpathy_ledger(tmp_path / "elsewhere.tsv", "7f2a65c")
    adopt(cli, str(source))
    assert source.read_text() == (repo / ".autoresearch/k/imported-elsewhere.tsv").read_text()
    assert json.loads(cli("status", "--json").stdout)["experiments"] == 5
    for command in (("plot",), ("report",), ("report", "--format", "md")):
        assert cli(*command).returncode == 0
    assert "depth 9" in (repo / "report.html").read_text()


def test_import_without_a_keep_asks_to_measure_head_first(
    repo: Path, cli: Cli, tmp_path: Path
) -> None:
    source = tmp_path / "no-keep.tsv"
    source.write_text(HEADER + ROWS.replace("\tkeep\t", "\tdiscard\t"))
    text = adopt(cli, str(source), "--direction", "min")
    assert "the imported ledger has no keep" in text
    assert 'measure HEAD first with `autoresearch try -m "baseline"`' in text
    assert "first measurement" in cli("try", "-m", "baseline").stdout
    write_train(repo, 0.9)
    assert "(best was 1.000000, -10.00%)" in cli("try", "-m", "lower").stdout


def test_a_try_after_importing_foreign_commits_compares_with_the_last_keep(
    repo: Path, cli: Cli, tmp_path: Path
) -> None:
    adopt(cli, str(karpathy_ledger(tmp_path / "elsewhere.tsv", "7f2a65c")))
    write_train(repo, 0.95)
    assert "(best was 0.981773" in cli("try", "-m", "better").stdout


def test_import_refuses_what_is_not_a_ledger_and_changes_nothing(repo: Path, cli: Cli) -> None:
    run = ("--run", "python train.py", "--tag", "k")
    not_ledger = cli("import", "README.md", *run)
    assert not_ledger.returncode == 2
    assert not_ledger.stderr.strip() == (
        "autoresearch: README.md: not a ledger (header must start with 'commit' and name 'status')"
    )
    missing = cli("import", "nothing.tsv", *run)
    assert missing.returncode == 2 and "no ledger at nothing.tsv" in missing.stderr
    (repo / "empty.tsv").write_text(HEADER)
    assert "no readable experiment rows" in cli("import", "empty.tsv", *run).stderr
    karpathy_ledger(repo / "results.tsv", "7f2a65c")
    wrong_metric = cli("import", "results.tsv", *run, "--metric", "val_loss")
    assert wrong_metric.returncode == 2 and "no column 'val_loss'" in wrong_metric.stderr
    git(repo, "branch", "autoresearch/k")
    taken = cli("import", "results.tsv", *run)
    assert taken.returncode == 2 and "already exists" in taken.stderr
    assert (repo / "results.tsv").read_text().startswith(HEADER)
    assert not (repo / ".autoresearch").exists()
    assert git(repo, "branch", "--show-current") == "main"
