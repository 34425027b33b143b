"""The settings' values that take more than a type to read: a direction's synonyms, a noise,
the trackers, the GPUs. Each bad value is a one-line UserError."""

from __future__ import annotations

import math

from autoresearch.errors import UserError

# Experiment trackers each experiment can be sent to (``--track``), as the registry names them.
TRACKERS = ("mlflow", "wandb")
_DIRECTION_WORDS = {
    "minimize": "minimize",
    "minimise": "minimize",
    "min": "minimize",
    "lower": "minimize",
    "maximize": "maximize",
    "maximise": "maximize",
    "max": "maximize",
    "higher": "maximize",
}


def parse_direction(word: object) -> str:
    found = _DIRECTION_WORDS.get(str(word).strip().lower())
    if found is None:
        raise UserError(f"direction {word!r}: use minimize or maximize (min/max, lower/higher)")
    return found


def parse_noise(value: object) -> str:
    """``auto``, ``off``, or a fixed sigma (a non-negative number), kept as text."""
    text = str(value).strip().lower()
    if text in ("auto", "off"):
        return text
    sigma = non_negative(text)
    if sigma is None:
        raise UserError(f"noise {value!r}: use auto, off, or a sigma (a number >= 0)")
    return repr(sigma)


def parse_trackers(value: object) -> tuple[str, ...]:
    """The trackers named, each once, in the order given; an unknown name is refused."""
    names: list[str] = []
    for name in string_list(value, "track"):
        word = name.strip().lower()
        if word not in TRACKERS:
            raise UserError(f"unknown tracker {name!r}: use {' or '.join(TRACKERS)}")
        if word not in names:
            names.append(word)
    return tuple(names)


def parse_gpus(text: str) -> tuple[str, ...]:
    gpus = tuple(part.strip() for part in text.split(","))
    if not all(gpus):
        raise UserError(f"--gpus {text!r}: list device numbers separated by commas, as 0,1,2")
    for gpu in gpus:
        if gpus.count(gpu) > 1:
            raise UserError(f"--gpus lists GPU {gpu} twice: two runs must never share a device")
    return gpus


def non_negative(text: str) -> float | None:
    """The finite number of 0 or more that ``text`` spells, or None."""
    try:
        found = float(text)
    except ValueError:
        return None
    return found if math.isfinite(found) and found >= 0 else None


def string_list(value: object, name: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        return list(value)
    raise UserError(f"{name} must be a string or a list of strings")
