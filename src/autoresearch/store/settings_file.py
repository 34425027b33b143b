"""Reading the settings file: `autoresearch.toml`, or `[tool.autoresearch]` in `pyproject.toml`."""

from __future__ import annotations

import os
import sys
from typing import Any

from autoresearch.errors import UserError

SETTINGS_FILE = "autoresearch.toml"


def read_settings_file(repo: str) -> tuple[dict[str, Any], str | None]:
    """The settings declared in the repository and the file they came from (relative path)."""
    toml_path = os.path.join(repo, SETTINGS_FILE)
    if os.path.isfile(toml_path):
        return _parse_toml(toml_path), SETTINGS_FILE
    pyproject = os.path.join(repo, "pyproject.toml")
    if os.path.isfile(pyproject):
        section = _parse_toml(pyproject).get("tool", {}).get("autoresearch")
        if isinstance(section, dict):
            return section, "pyproject.toml"
    return {}, None


def _parse_toml(path: str) -> dict[str, Any]:
    # Imported here, not at the top: the parser costs CLI start-up time on every command.
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib
    try:
        with open(path, encoding="utf-8") as handle:
            return tomllib.loads(handle.read())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise UserError(f"{os.path.basename(path)}: not valid TOML ({error})") from None


def write_settings_file(repo: str, values: dict[str, str | float]) -> str:
    """A new `autoresearch.toml` holding these settings; refuses to replace an existing one."""
    import json

    path = os.path.join(repo, SETTINGS_FILE)
    lines = [
        f"{key} = {json.dumps(value, ensure_ascii=False) if isinstance(value, str) else value}"
        for key, value in values.items()
    ]
    try:
        with open(path, "x", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
    except FileExistsError:
        raise UserError(f"{SETTINGS_FILE} exists already; it was left as it is") from None
    return SETTINGS_FILE
