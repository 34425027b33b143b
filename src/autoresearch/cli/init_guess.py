"""`init --run CMD` without a metric: offer what the first run printed, with a guessed direction
and a budget from its time, and write `autoresearch.toml` on a yes. Never a silent guess: without
a terminal, only ``--yes`` takes the guesses, and only when there is nothing to choose between.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from autoresearch.engine.preflight import FirstRun
from autoresearch.errors import UserError
from autoresearch.rules.discovery import Printed, guess_direction, printed_list, suggest_budget
from autoresearch.rules.setting_parsers import parse_direction
from autoresearch.rules.settings import Given, Settings, build_settings
from autoresearch.store.settings_file import SETTINGS_FILE, write_settings_file


def choose_settings(
    repo: str, first: FirstRun, checked: Settings, given: Given, yes: bool
) -> tuple[Settings, str | None]:
    """The settings with the metric, direction and budget chosen, and the file they are in.
    ``checked``: the settings given, validated already, with a stand-in for the metric."""
    flags, file_values, settings_file = given.flags, given.file_values, given.settings_file
    asking = not yes and sys.stdin.isatty() and sys.stdout.isatty()
    printed = [item for item in first.printed if item.name not in checked.also]
    if not printed:
        raise UserError(
            "no metric: the run printed no `name: number` or `METRIC name=value` line; "
            "print one, or give --metric NAME (and --pattern)"
        )
    if not asking and (not yes or len(printed) > 1):
        which = "one of them" if len(printed) > 1 else "it"
        add_yes = "" if len(printed) > 1 or yes else " (or --yes to take it)"
        raise UserError(
            f"no metric: the run printed {printed_list(printed)}; "
            f"give --metric with {which}{add_yes}"
        )
    metric = printed[0] if len(printed) == 1 else pick(printed)
    direction, why = choose_direction(metric.name, flags, file_values, asking)
    budget: float = suggest_budget(first.result.seconds)
    budget_note = f"  (the run took {first.result.seconds:.1f} s)"
    if checked.budget is not None:
        budget, budget_note = checked.budget, ""
    if budget == int(budget):
        budget = int(budget)
    run = checked.run
    chosen = {"run": run, "metric": metric.name, "direction": direction, "budget": budget}
    print(f"run       = {run}")
    print(f"metric    = {metric.name}  (printed `{metric.line}`)")
    print(f"direction = {direction}  ({why})")
    print(f"budget    = {budget}{budget_note}")
    writing = settings_file is None
    if asking:
        where = f"write {SETTINGS_FILE} and start" if writing else "start"
        if not confirm(f"{where} the session? [Y/n] "):
            raise UserError("nothing was created")
    if writing:
        settings_file = write_settings_file(repo, chosen)
        print(f"wrote {SETTINGS_FILE} (untracked: the session froze these settings)")
    else:
        print(f"{settings_file} left as it is: add metric = {metric.name!r} to keep the choice")
    settings = build_settings(file_values, {**flags, **chosen})
    return settings, settings_file


def pick(printed: list[Printed]) -> Printed:
    for number, item in enumerate(printed, start=1):
        print(f"  {number}. {item.line}")
    while True:
        answer = ask(f"which is the metric? [1-{len(printed)}] ").strip()
        if answer.isdigit() and 1 <= int(answer) <= len(printed):
            return printed[int(answer) - 1]
        named = [item for item in printed if item.name == answer]
        if named:
            return named[0]


def choose_direction(
    name: str, flags: Mapping[str, Any], file_values: Mapping[str, Any], asking: bool
) -> tuple[str, str]:
    """The direction and why: given, guessed from the name, or asked."""
    given = flags.get("direction") or file_values.get("direction")
    if given:
        return parse_direction(given), "given"
    guessed = guess_direction(name)
    if guessed is not None:
        return guessed, "guessed from the name"
    if not asking:
        raise UserError(
            f"the name {name!r} does not say whether lower or higher is better: "
            "give --direction min or max"
        )
    while True:
        answer = ask(f"is a lower or a higher {name} better? [lower/higher] ")
        try:
            return parse_direction(answer), "as answered"
        except UserError:
            continue


def confirm(question: str) -> bool:
    return ask(question).strip().lower() in ("", "y", "yes")


def ask(question: str) -> str:
    try:
        return input(question)
    except EOFError:
        raise UserError("no answer: nothing was created") from None
